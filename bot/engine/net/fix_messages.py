"""FIX 4.2 messages for the Logon probe: building them, framing them out of a byte stream, showing them.

`simplefix` is the codec (encoding with BodyLength and CheckSum, and decoding); this
module only frames the byte stream well enough to tell FIX from anything else, checks
BodyLength and CheckSum of what arrives, and shows messages with their secrets masked.
The session that uses them (what to send when) is `fix.py`.
"""

from __future__ import annotations

import datetime as dt

import simplefix

BEGIN_STRING = "FIX.4.2"
# Tags whose values are never shown: Password, NewPassword (FIX 4.3+), RawData (some venues
# put credentials there in FIX 4.2 Logons).
SECRET_TAGS = frozenset({554, 925, 96})
MAX_BUFFERED = 64 * 1024  # bytes without a complete message before the answer is called garbled
MAX_SHOWN_MESSAGES = 12  # per direction, in the evidence
MAX_SHOWN_CHARS = 600  # per message, in the evidence
MAX_FIELD_CHARS = 300  # per field value shown

MSG_NAMES = {
    "0": "Heartbeat",
    "1": "TestRequest",
    "2": "ResendRequest",
    "3": "Reject",
    "4": "SequenceReset",
    "5": "Logout",
    "A": "Logon",
    "j": "BusinessMessageReject",
}
SESSION_REJECT_REASONS = {
    "0": "invalid tag number",
    "1": "required tag missing",
    "2": "tag not defined for this message type",
    "3": "undefined tag",
    "4": "tag specified without a value",
    "5": "value is incorrect (out of range) for this tag",
    "6": "incorrect data format for value",
    "7": "decryption problem",
    "8": "signature problem",
    "9": "CompID problem",
    "10": "SendingTime accuracy problem",
    "11": "invalid MsgType",
}
# The fields of a Reject (35=3) or BusinessMessageReject (35=j) kept in `FixResult.reject`.
REJECT_FIELDS = ((45, "ref_seq_num"), (371, "ref_tag_id"), (372, "ref_msg_type"), (380, "reason"))
SESSION_REJECT_REASON_TAG = 373


class Garbled(Exception):
    """What arrived is not FIX (or not well-formed FIX); the message says why."""


def preview(data: bytes, limit: int = 60) -> str:
    """Bytes as printable text (SOH shown as |)."""
    out = []
    for b in data[:limit]:
        if b == 1:
            out.append("|")
        elif 32 <= b < 127:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out) + ("…" if len(data) > limit else "")


def shown(value: bytes | str) -> str:
    """A field value as printable text, cut at MAX_FIELD_CHARS."""
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "replace")
    text = "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in raw[:MAX_FIELD_CHARS])
    return text + ("…" if len(raw) > MAX_FIELD_CHARS else "")


def readable(message: simplefix.FixMessage) -> str:
    """`8=FIX.4.2|9=..|35=A|...`, with Password/NewPassword/RawData masked."""
    parts: list[str] = []
    for tag, value in message.pairs:
        number = int(tag)
        value_shown = "***" if number in SECRET_TAGS else shown(value)
        parts.append(f"{number}={value_shown}")
    line = "|".join(parts)
    return line if len(line) <= MAX_SHOWN_CHARS else line[:MAX_SHOWN_CHARS] + "…"


def value_of(message: simplefix.FixMessage, tag: int) -> str | None:
    """The value of `tag`, shown (None when absent)."""
    value = message.get(tag)
    if value is None:
        return None
    return shown(value)


def new_message(msg_type: str, sender: str, target: str, seq: int) -> simplefix.FixMessage:
    """A message with the standard header: 8, 35, 49, 56, 34 and 52 (SendingTime, now, in ms)."""
    m = simplefix.FixMessage()
    m.append_pair(8, BEGIN_STRING, header=True)
    m.append_pair(35, msg_type, header=True)
    m.append_pair(49, sender, header=True)
    m.append_pair(56, target, header=True)
    m.append_pair(34, seq, header=True)
    m.append_utc_timestamp(52, dt.datetime.now(dt.UTC), precision=3, header=True)
    return m


def on_the_wire(data: bytes) -> simplefix.FixMessage | None:
    """`data` (an encoded message) decoded again, to show it with BodyLength and CheckSum."""
    parser = simplefix.FixParser()
    parser.append_buffer(data)
    return parser.get_message()


def next_message(raw: bytearray) -> simplefix.FixMessage | None:
    """Take one complete message from the front of `raw`, or None (wait for more); Garbled if not FIX."""
    if not raw:
        return None
    if not b"8=FIX".startswith(bytes(raw[:5])):
        raise Garbled("the answer does not start with 8=FIX (BeginString)")
    # 8=...<SOH>9=<len><SOH> ... 10=nnn<SOH>
    first_soh = raw.find(b"\x01")
    if first_soh < 0:
        _check_size(raw)
        return None
    if not raw.startswith(b"9=", first_soh + 1):
        if len(raw) > first_soh + 2:
            raise Garbled("BodyLength (9) does not follow BeginString (8)")
        return None
    second_soh = raw.find(b"\x01", first_soh + 1)
    if second_soh < 0:
        _check_size(raw)
        return None
    length_text = bytes(raw[first_soh + 3 : second_soh])
    if not length_text.isdigit() or len(length_text) > 7:
        raise Garbled(f"BodyLength (9) is not a number: {preview(length_text, 20)!r}")
    body_end = second_soh + 1 + int(length_text)
    if len(raw) < body_end + 7:  # 10=nnn<SOH>
        _check_size(raw)
        return None
    frame = _checked_frame(raw, body_end)
    del raw[: body_end + 7]
    return _decoded(frame)


def _check_size(raw: bytearray) -> None:
    """An incomplete message is waited for, unless too many bytes came without a complete one."""
    if len(raw) > MAX_BUFFERED:
        raise Garbled(f"no complete FIX message in the first {MAX_BUFFERED} bytes")


def _checked_frame(raw: bytearray, body_end: int) -> bytes:
    """The message ending at `body_end` plus its trailer, once the trailer and its CheckSum are right."""
    trailer = bytes(raw[body_end : body_end + 7])
    if not (trailer.startswith(b"10=") and trailer[3:6].isdigit() and trailer[6:7] == b"\x01"):
        raise Garbled("the message does not end where its BodyLength (9) says (no 10=CheckSum there)")
    frame = bytes(raw[: body_end + 7])
    if sum(frame[:body_end]) % 256 != int(trailer[3:6]):
        raise Garbled(f"CheckSum (10) is wrong: {trailer[3:6].decode()} for {sum(frame[:body_end]) % 256:03d}")
    return frame


def _decoded(frame: bytes) -> simplefix.FixMessage:
    parser = simplefix.FixParser()
    parser.append_buffer(frame)
    try:
        message = parser.get_message()
    except Exception as exc:  # noqa: BLE001 - simplefix's errors have no common base
        raise Garbled(f"not a FIX message ({type(exc).__name__})") from None
    if message is None or message.get(35) is None:
        raise Garbled("a FIX message without MsgType (35)")
    return message

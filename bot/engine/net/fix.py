"""The FIX Logon probe, without I/O: what to send, and what the answer means.

Beyond the guide: once the mTLS handshake works, the last question is whether the FIX
session comes up. `FixSession` is the client side of one FIX 4.2 session reduced to
what the probe needs: it sends one Logon (35=A), answers TestRequests with Heartbeats,
and ends with a Logout (35=5). It sends nothing else, ever. The caller moves the bytes
(the TLS probe of step 4 over its own connection, or the front end through stunnel) and
tells the session when the peer closed or the time ran out.

`simplefix` is the codec (encoding with BodyLength and CheckSum, and decoding); this
module only frames the byte stream well enough to tell FIX from anything else and checks
BodyLength and CheckSum of what arrives.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import simplefix

BEGIN_STRING = "FIX.4.2"
# Tags whose values are never shown: Password, NewPassword (FIX 4.3+), RawData (some venues
# put credentials there in FIX 4.2 Logons).
SECRET_TAGS = frozenset({554, 925, 96})
MAX_BUFFERED = 64 * 1024  # bytes without a complete message before the answer is called garbled
MAX_SHOWN_MESSAGES = 12  # per direction, in the evidence
MAX_SHOWN_CHARS = 600  # per message, in the evidence
MAX_FIELD_CHARS = 300  # per field value shown
_COMPID = re.compile(r"^[\x21-\x7e]{1,64}$")
_COMPID_FORBIDDEN = set("=|")

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


class LogonError(ValueError):
    """`SENDER:TARGET` or the heartbeat interval is unusable; the message says why."""


@dataclass(frozen=True)
class FixLogon:
    """The Logon to send: SenderCompID (49), TargetCompID (56), HeartBtInt (108), ResetSeqNumFlag (141=Y)."""

    sender: str
    target: str
    heartbeat: int = 30
    reset_seq: bool = False

    def __post_init__(self) -> None:
        for label, value in (("SenderCompID", self.sender), ("TargetCompID", self.target)):
            if not _COMPID.match(value) or _COMPID_FORBIDDEN & set(value):
                raise LogonError(
                    f"{label} {value[:70]!r} is not a CompID: use 1-64 visible ASCII characters without '=' or '|' "
                    "(e.g. --logon MYFIRM:ITBIT_SANDBOX)"
                )
        if not 1 <= int(self.heartbeat) <= 3600:
            raise LogonError(f"heartbeat interval {self.heartbeat} is out of range: give seconds between 1 and 3600")

    @classmethod
    def parse(cls, text: str, *, heartbeat: int = 30, reset_seq: bool = False) -> FixLogon:
        """`SENDER:TARGET` (split at the first colon)."""
        sender, sep, target = text.strip().partition(":")
        if not sep or not sender or not target:
            raise LogonError(
                f"{text.strip()[:70]!r} is not SENDER:TARGET: give your SenderCompID and the exchange's "
                "TargetCompID from onboarding, e.g. MYFIRM:ITBIT_SANDBOX"
            )
        return cls(sender, target, heartbeat, reset_seq)


@dataclass
class FixResult:
    """How one Logon attempt went. Holds only what was on the wire, secrets masked."""

    sender: str
    target: str
    heartbeat: int
    reset_seq: bool
    via: str = "direct"  # direct | stunnel
    # logon_ok | logout | reject | closed | timeout | garbled | not_sent
    outcome: str = "not_sent"
    sent: list[str] = field(default_factory=list)  # readable: 8=FIX.4.2|9=..|35=A|...
    received: list[str] = field(default_factory=list)
    text: str | None = None  # 58=Text of the Logout or Reject
    reject: dict[str, str] = field(default_factory=dict)  # RefSeqNum, RefTagID, RefMsgType, reason
    answer_type: str | None = None  # MsgType of the answer that decided the outcome
    answer_begin_string: str | None = None
    answer_heartbeat: str | None = None
    answer_sender: str | None = None  # the server's 49 (should be our target)
    answer_target: str | None = None  # the server's 56 (should be our sender)
    logout_sent: bool = False
    logout_answered: bool = False  # the server answered our Logout with its own
    closed_by_server: bool = False
    reset: bool = False  # the server reset the connection (rather than closing it)
    tls_alert: int | None = None  # a TLS alert ended the connection during the session
    problem: str | None = None  # why the answer is not FIX (garbled), or a checksum/length error
    first_bytes: bytes = b""  # the first bytes received, for a garbled answer
    bytes_sent: int = 0
    bytes_received: int = 0
    answer_ms: float | None = None
    timeout: float = 0.0
    error: str | None = None  # the connection failed before the Logon could be sent

    def to_evidence(self) -> dict[str, Any]:
        ev: dict[str, Any] = {
            "via": self.via,
            "sender_comp_id": self.sender,
            "target_comp_id": self.target,
            "heartbeat_s": self.heartbeat,
            "reset_seq_num": self.reset_seq,
            "outcome": self.outcome,
            "sent": self.sent[:MAX_SHOWN_MESSAGES],
            "received": self.received[:MAX_SHOWN_MESSAGES],
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
        }
        if self.text is not None:
            ev["text"] = self.text
        if self.reject:
            ev["reject"] = dict(self.reject)
        if self.answer_type is not None:
            ev["answer"] = MSG_NAMES.get(self.answer_type, self.answer_type)
        if self.answer_ms is not None:
            ev["answer_ms"] = round(self.answer_ms, 1)
        if self.logout_sent:
            ev["logout_answered"] = self.logout_answered
        if self.problem:
            ev["problem"] = self.problem
        if self.first_bytes and self.outcome == "garbled":
            ev["first_bytes"] = preview(self.first_bytes)
        if self.tls_alert is not None:
            ev["tls_alert"] = self.tls_alert
        if self.error:
            ev["error"] = self.error
        ev["timeout_s"] = self.timeout
        return ev


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


def _text(value: bytes | str) -> str:
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "replace")
    shown = "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in raw[:MAX_FIELD_CHARS])
    return shown + ("…" if len(raw) > MAX_FIELD_CHARS else "")


def readable(message: simplefix.FixMessage) -> str:
    """`8=FIX.4.2|9=..|35=A|...`, with Password/NewPassword/RawData masked."""
    parts: list[str] = []
    for tag, value in message.pairs:
        number = int(tag)
        shown = "***" if number in SECRET_TAGS else _text(value)
        parts.append(f"{number}={shown}")
    line = "|".join(parts)
    return line if len(line) <= MAX_SHOWN_CHARS else line[:MAX_SHOWN_CHARS] + "…"


def _get(message: simplefix.FixMessage, tag: int) -> str | None:
    value = message.get(tag)
    if value is None:
        return None
    return _text(value)


class _Garbled(Exception):
    pass


class FixSession:
    """The client side of one probe session. Feed it bytes; send what it returns.

        session = FixSession(logon, timeout)
        send(session.start())
        while not session.done:
            send(session.feed(recv()))        # or session.closed(...) / session.timed_out()
    """

    def __init__(self, logon: FixLogon, timeout: float = 10.0, *, via: str = "direct") -> None:
        self.logon = logon
        self.result = FixResult(logon.sender, logon.target, logon.heartbeat, logon.reset_seq, via=via, timeout=timeout)
        # await_answer -> await_logout -> done
        self.phase = "idle"
        self._seq = 0
        self._raw = bytearray()  # received bytes not yet framed
        self._started_at: float | None = None

    @property
    def done(self) -> bool:
        return self.phase == "done"

    def deadlines(self, timeout: float, logout_wait: float) -> Callable[[], float]:
        """A clock for this session: the answer is due within `timeout` from now; once the
        Logout is sent, its answer within `logout_wait` of that (never past the first)."""
        answer_deadline = time.monotonic() + timeout
        logout_deadline: float | None = None

        def until() -> float:
            nonlocal logout_deadline
            if self.phase != "await_logout":
                return answer_deadline
            if logout_deadline is None:
                logout_deadline = min(answer_deadline, time.monotonic() + logout_wait)
            return logout_deadline

        return until

    # -- sending ----------------------------------------------------------------------------

    def _message(self, msg_type: str) -> simplefix.FixMessage:
        self._seq += 1
        m = simplefix.FixMessage()
        m.append_pair(8, BEGIN_STRING, header=True)
        m.append_pair(35, msg_type, header=True)
        m.append_pair(49, self.logon.sender, header=True)
        m.append_pair(56, self.logon.target, header=True)
        m.append_pair(34, self._seq, header=True)
        m.append_utc_timestamp(52, dt.datetime.now(dt.UTC), precision=3, header=True)
        return m

    def _encode(self, m: simplefix.FixMessage) -> bytes:
        data = bytes(m.encode())
        # Show what went on the wire, BodyLength and CheckSum included.
        parser = simplefix.FixParser()
        parser.append_buffer(data)
        wire = parser.get_message()
        self.result.sent.append(readable(wire if wire is not None else m))
        self.result.bytes_sent += len(data)
        return data

    def start(self) -> bytes:
        """The Logon: 35=A, 49, 56, 34=1, 52, 98=0, 108, and 141=Y when resetting."""
        m = self._message("A")
        m.append_pair(98, 0)
        m.append_pair(108, self.logon.heartbeat)
        if self.logon.reset_seq:
            m.append_pair(141, "Y")
        self.phase = "await_answer"
        self._started_at = time.monotonic()
        return self._encode(m)

    def _logout(self) -> bytes:
        self.result.logout_sent = True
        return self._encode(self._message("5"))

    def _heartbeat(self, test_req_id: bytes | None) -> bytes:
        m = self._message("0")
        if test_req_id is not None:
            m.append_pair(112, test_req_id)
        return self._encode(m)

    # -- receiving --------------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """Bytes from the server; returns the bytes to send back (possibly none)."""
        if self.done or not data:
            return b""
        r = self.result
        if len(r.first_bytes) < 64:
            r.first_bytes = (r.first_bytes + data)[:64]
        r.bytes_received += len(data)
        self._raw.extend(data)
        out = bytearray()
        try:
            while not self.done:
                message = self._next_message()
                if message is None:
                    break
                out.extend(self._on_message(message))
        except _Garbled as exc:
            self._decide("garbled")
            r.problem = str(exc)
            self.phase = "done"
        return bytes(out)

    def _next_message(self) -> simplefix.FixMessage | None:
        """One complete message from the front of the stream, or None (wait for more)."""
        raw = self._raw
        if not raw:
            return None
        if not b"8=FIX".startswith(bytes(raw[:5])):
            raise _Garbled("the answer does not start with 8=FIX (BeginString)")
        # 8=...<SOH>9=<len><SOH> ... 10=nnn<SOH>
        first_soh = raw.find(b"\x01")
        if first_soh < 0:
            self._check_size()
            return None
        if not raw.startswith(b"9=", first_soh + 1):
            if len(raw) > first_soh + 2:
                raise _Garbled("BodyLength (9) does not follow BeginString (8)")
            return None
        second_soh = raw.find(b"\x01", first_soh + 1)
        if second_soh < 0:
            self._check_size()
            return None
        length_text = bytes(raw[first_soh + 3 : second_soh])
        if not length_text.isdigit() or len(length_text) > 7:
            raise _Garbled(f"BodyLength (9) is not a number: {preview(length_text, 20)!r}")
        body_end = second_soh + 1 + int(length_text)
        if len(raw) < body_end + 7:  # 10=nnn<SOH>
            self._check_size()
            return None
        trailer = bytes(raw[body_end : body_end + 7])
        if not (trailer.startswith(b"10=") and trailer[3:6].isdigit() and trailer[6:7] == b"\x01"):
            raise _Garbled("the message does not end where its BodyLength (9) says (no 10=CheckSum there)")
        frame = bytes(raw[: body_end + 7])
        if sum(frame[:body_end]) % 256 != int(trailer[3:6]):
            raise _Garbled(f"CheckSum (10) is wrong: {trailer[3:6].decode()} for {sum(frame[:body_end]) % 256:03d}")
        del raw[: body_end + 7]
        parser = simplefix.FixParser()
        parser.append_buffer(frame)
        try:
            message = parser.get_message()
        except Exception as exc:  # noqa: BLE001 - simplefix's errors have no common base
            raise _Garbled(f"not a FIX message ({type(exc).__name__})") from None
        if message is None or message.get(35) is None:
            raise _Garbled("a FIX message without MsgType (35)")
        return message

    def _check_size(self) -> None:
        if len(self._raw) > MAX_BUFFERED:
            raise _Garbled(f"no complete FIX message in the first {MAX_BUFFERED} bytes")

    def _decide(self, outcome: str, message: simplefix.FixMessage | None = None) -> None:
        r = self.result
        r.outcome = outcome
        if self._started_at is not None:
            r.answer_ms = (time.monotonic() - self._started_at) * 1000
        if message is not None:
            r.answer_type = _get(message, 35)
            r.answer_begin_string = _get(message, 8)
            r.answer_heartbeat = _get(message, 108)
            r.answer_sender = _get(message, 49)
            r.answer_target = _get(message, 56)
            r.text = _get(message, 58)

    def _on_message(self, m: simplefix.FixMessage) -> bytes:
        r = self.result
        r.received.append(readable(m))
        msg_type = (m.get(35) or b"").decode("ascii", "replace")
        if msg_type == "1":  # TestRequest: the one thing a session must answer
            return self._heartbeat(m.get(112))
        if self.phase == "await_answer":
            if msg_type == "A":
                self._decide("logon_ok", m)
                self.phase = "await_logout"
                return self._logout()
            if msg_type == "5":
                self._decide("logout", m)
                self.phase = "done"
                return self._logout()  # acknowledge, as the protocol asks
            if msg_type in ("3", "j"):
                self._decide("reject", m)
                for tag, name in ((45, "ref_seq_num"), (371, "ref_tag_id"), (372, "ref_msg_type"), (380, "reason")):
                    value = _get(m, tag)
                    if value is not None:
                        r.reject[name] = value
                reason = _get(m, 373)
                if reason is not None:
                    r.reject["reason"] = reason
                    r.reject["reason_text"] = SESSION_REJECT_REASONS.get(reason, "other")
                self.phase = "await_logout"
                return self._logout()
            return b""  # Heartbeat, ResendRequest, SequenceReset...: wait for the answer
        if self.phase == "await_logout" and msg_type == "5":
            r.logout_answered = True
            self.phase = "done"
        return b""

    def closed(self, *, reset: bool = False) -> None:
        """The server closed (or reset) the connection."""
        if self.done:
            return
        r = self.result
        r.closed_by_server = True
        r.reset = reset
        if self.phase == "await_answer":
            if self._raw:
                self._decide("garbled")
                r.problem = f"the connection closed in the middle of a message ({preview(bytes(self._raw), 30)!r})"
            else:
                self._decide("closed")
        self.phase = "done"

    def timed_out(self) -> None:
        """The time for the answer (or for the Logout's answer) ran out."""
        if self.done:
            return
        if self.phase == "await_answer":
            if self._raw:
                self._decide("garbled")
                self.result.problem = f"an incomplete message and nothing more ({preview(bytes(self._raw), 30)!r})"
            else:
                self._decide("timeout")
        self.phase = "done"

    def failed(self, error: str, *, tls_alert: int | None = None) -> None:
        """The connection broke in another way (a TLS alert, an OS error)."""
        if self.done:
            return
        r = self.result
        r.tls_alert = tls_alert
        r.error = error
        r.closed_by_server = True
        if self.phase == "await_answer":
            self._decide("closed")
        self.phase = "done"

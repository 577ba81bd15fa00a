"""FIX message framing (`bot.engine.net.fix_messages`): one message at a time out of a byte stream,
and every way the stream can fail to be FIX."""

from __future__ import annotations

import re

import pytest

from bot.engine.net import fix_messages as fm


def encoded(msg_type: str = "A", seq: int = 1) -> bytes:
    m = fm.new_message(msg_type, "ME", "THEM", seq)
    m.append_pair(554, "s3cret")
    return bytes(m.encode())


def test_messages_are_taken_one_at_a_time_and_partial_ones_wait() -> None:
    first, second = encoded("A", 1), encoded("0", 2)
    raw = bytearray(first + second[:10])
    message = fm.next_message(raw)
    assert message is not None and message.get(35) == b"A" and message.get(34) == b"1"
    assert raw == bytearray(second[:10])
    assert fm.next_message(raw) is None and raw == bytearray(second[:10])  # incomplete: wait, keep it
    raw.extend(second[10:])
    message = fm.next_message(raw)
    assert message is not None and message.get(35) == b"0" and not raw


def test_readable_masks_the_password_and_shows_the_header() -> None:
    raw = bytearray(encoded())
    message = fm.next_message(raw)
    assert message is not None
    shown = fm.readable(message)
    assert shown.startswith("8=FIX.4.2|9=") and "|35=A|49=ME|56=THEM|34=1|52=" in shown
    assert "554=***" in shown and "s3cret" not in shown


def _with_checksum(body: bytes) -> bytes:
    return body + b"10=%03d\x01" % (sum(body) % 256)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n", "does not start with 8=FIX"),
        (b"8=FIX.4.2\x0135=A\x01", "BodyLength (9) does not follow BeginString (8)"),
        (b"8=FIX.4.2\x019=x5\x01", "BodyLength (9) is not a number"),
        (b"8=FIX.4.2\x019=5\x0135=A\x0199=12345\x01", "does not end where its BodyLength (9) says"),
        (b"8=FIX.4.2\x019=5\x0135=A\x0110=000\x01", "CheckSum (10) is wrong"),
        (_with_checksum(b"8=FIX.4.2\x019=5\x0134=1\x01"), "without MsgType (35)"),
        (b"8=FIX.4.2\x019=99999\x01" + b"x" * (fm.MAX_BUFFERED + 1), "no complete FIX message in the first"),
    ],
)
def test_what_is_not_fix_is_garbled(data: bytes, problem: str) -> None:
    with pytest.raises(fm.Garbled, match=re.escape(problem)):
        fm.next_message(bytearray(data))


def test_preview_shows_soh_as_a_bar_and_cuts() -> None:
    assert fm.preview(b"8=FIX\x01\xff", 60) == "8=FIX|\\xff"
    assert fm.preview(b"x" * 70) == "x" * 60 + "…"

"""The TLS probe's socket layer (`bot.engine.net.wire`): bounded receives and TLS record counting."""

from __future__ import annotations

import socket
import time

import pytest

from bot.engine.net import wire


def test_a_silent_peer_ends_in_the_deadline_not_later() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        start = time.monotonic()
        with pytest.raises(wire.Deadline):
            wire.recv(ours, time.monotonic() + 0.05)
        assert time.monotonic() - start < 1.0


def test_a_closing_peer_is_closed_not_reset_and_data_comes_first() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        wire.send_all(theirs, b"hello", time.monotonic() + 1)
        theirs.shutdown(socket.SHUT_WR)
        assert wire.recv(ours, time.monotonic() + 1) == b"hello"
        with pytest.raises(wire.Closed) as closed:
            wire.recv(ours, time.monotonic() + 1)
        assert closed.value.reset is False


def test_records_count_only_when_complete() -> None:
    counter = wire.RecordCounter()
    ticket = bytes([22, 3, 3, 0, 4]) + b"abcd"
    counter.feed(ticket[:3])
    assert (counter.complete, counter.idle) == (0, False)
    counter.feed(ticket[3:] + ticket)
    assert (counter.complete, counter.idle) == (2, True)
    counter.feed(ticket[:6])
    assert (counter.complete, counter.idle) == (2, False)

"""The non-blocking socket under the TLS probe: every send and receive is bounded by a deadline.

The TLS probe (`tls.py`) runs OpenSSL on memory BIOs and moves the bytes itself, with
these helpers: they wait with `poll` (no FD_SETSIZE limit), turn "the time ran out" into
`Deadline` and "the server closed or reset" into `Closed`, and acknowledge what arrives
at once (`quick_ack`). `RecordCounter` follows the TLS record framing of what the server
sent, so the probe can tell when a burst of records (TLS 1.3 session tickets) is complete.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time

BUF = 65536  # bytes read or written at a time


class Deadline(Exception):
    """The deadline passed before the socket was ready."""


class Closed(Exception):
    """The server closed (FIN) or reset (RST) the connection."""

    def __init__(self, reset: bool) -> None:
        super().__init__("reset" if reset else "closed")
        self.reset = reset


def wait(sock: socket.socket, event: int, seconds: float) -> bool:
    """Wait until `sock` is ready for `event` (poll: no FD_SETSIZE limit)."""
    poller = select.poll()
    poller.register(sock, event | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(max(0, int(seconds * 1000) + 1)))


def send_all(sock: socket.socket, data: bytes, deadline: float) -> None:
    """Send all of `data` by `deadline` (Deadline), unless the server closed or reset (Closed)."""
    view = memoryview(data)
    while view:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Deadline
        if not wait(sock, select.POLLOUT, remaining):
            raise Deadline
        try:
            n = sock.send(view)
        except (BlockingIOError, InterruptedError):
            continue
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise Closed(reset=isinstance(exc, ConnectionResetError)) from exc
        view = view[n:]


def recv(sock: socket.socket, deadline: float) -> bytes:
    """The next bytes from the server by `deadline` (Deadline); Closed when it closed or reset."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Deadline
        if not wait(sock, select.POLLIN, remaining):
            raise Deadline
        try:
            data = sock.recv(BUF)
        except (BlockingIOError, InterruptedError):
            continue
        except ConnectionResetError as exc:
            raise Closed(reset=True) from exc
        if not data:
            raise Closed(reset=False)
        quick_ack(sock)
        return data


def quick_ack(sock: socket.socket) -> None:
    """Acknowledge at once what the server sent (Linux turns quick-ack off again after a while).

    A server that writes twice in a row (its session tickets, then close_notify) has the second
    write held by Nagle until our ACK, which delayed ACK postpones ~40 ms: past the short read
    window after the tickets, so an orderly close would go unseen.
    """
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


class RecordCounter:
    """Counts complete TLS records in the server's byte stream."""

    def __init__(self) -> None:
        self.complete = 0
        self._buf = bytearray()

    @property
    def idle(self) -> bool:
        return not self._buf

    def feed(self, data: bytes) -> None:
        self._buf.extend(data)
        while len(self._buf) >= 5:
            length = (self._buf[3] << 8) | self._buf[4]
            if len(self._buf) < 5 + length:
                return
            del self._buf[: 5 + length]
            self.complete += 1

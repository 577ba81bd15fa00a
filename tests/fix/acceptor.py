"""A small FIX 4.2 acceptor written with simplefix, behind mTLS (Python ssl, client certificate required).

It stands in for the exchange's FIX server on 127.0.0.1 in the Logon tests. `mode` says
how it answers a Logon:

- ``accept``: a Logon back when 56 is `target` (and 49 one of `senders`, when given); a
  silent close otherwise, as an acceptor does for an unknown session. With
  `test_request`, it first sends a TestRequest and answers only after the Heartbeat.
  A Logout is answered with a Logout.
- ``logout``: a Logout with 58=`reason`, then close.
- ``reject``: a Reject (35=3) with 58=`reason`, 371=108, 373=5; then waits for the Logout.
- ``garbage``: an HTTP answer.
- ``silent``: reads and never answers.

Everything a connection received is kept in `received` (decoded messages) for assertions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import simplefix

from tests.network.servers import tcp_server

IDLE = 5.0  # seconds a connection may stay quiet before the acceptor drops it


@dataclass
class Acceptor:
    host: str
    port: int
    received: list[simplefix.FixMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def types(self) -> list[str]:
        with self.lock:
            return [(m.get(35) or b"").decode() for m in self.received]


def _reply(msg_type: str, to: simplefix.FixMessage, seq: int, **fields: object) -> bytes:
    m = simplefix.FixMessage()
    m.append_pair(8, "FIX.4.2", header=True)
    m.append_pair(35, msg_type, header=True)
    m.append_pair(49, to.get(56), header=True)
    m.append_pair(56, to.get(49), header=True)
    m.append_pair(34, seq, header=True)
    m.append_utc_timestamp(52, dt.datetime.now(dt.UTC), header=True)
    for tag, value in fields.items():
        m.append_pair(int(tag.lstrip("t")), value)
    return bytes(m.encode())


def server_context(cert: Path, key: Path, client_ca: Path, tls_version: str = "1.3") -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    v = ssl.TLSVersion.TLSv1_3 if tls_version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    ctx.load_cert_chain(str(cert), str(key))
    ctx.load_verify_locations(str(client_ca))
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _drain(tls: ssl.SSLSocket, seconds: float = 1.0) -> None:
    """Let the client hang up first (closing with unread data would reset the connection)."""
    tls.settimeout(seconds)
    with contextlib.suppress(OSError, ssl.SSLError):
        while tls.recv(4096):
            pass


@contextlib.contextmanager
def fix_acceptor(
    context: ssl.SSLContext,
    mode: str = "accept",
    *,
    target: str = "ITBIT_TEST",
    senders: tuple[str, ...] = (),
    reason: str = "",
    test_request: bool = False,
) -> Iterator[Acceptor]:
    box: dict[str, Acceptor] = {}

    def handle(conn: socket.socket) -> None:
        acc = box["acc"]
        conn.settimeout(IDLE)
        with contextlib.suppress(OSError, ssl.SSLError), conn, context.wrap_socket(conn, server_side=True) as tls:
            parser = simplefix.FixParser()
            seq = 0
            logged_on = False
            while True:
                data = tls.recv(4096)
                if not data:
                    return
                with acc.lock:
                    acc.raw.append(data)
                if mode == "garbage":
                    tls.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    return
                parser.append_buffer(data)
                while (m := parser.get_message()) is not None:
                    with acc.lock:
                        acc.received.append(m)
                    kind = m.get(35)
                    if mode == "silent":
                        continue
                    if kind == b"A":
                        if mode == "logout":
                            seq += 1
                            tls.sendall(_reply("5", m, seq, t58=reason))
                            return
                        if mode == "reject":
                            seq += 1
                            tls.sendall(_reply("3", m, seq, t45=m.get(34), t371=108, t373=5, t58=reason))
                            continue
                        if m.get(56) != target.encode() or (senders and m.get(49).decode() not in senders):
                            return  # unknown session: hang up without a word
                        if test_request:
                            seq += 1
                            tls.sendall(_reply("1", m, seq, t112="PROBE-1"))
                            continue
                        seq += 1
                        tls.sendall(_reply("A", m, seq, t98=0, t108=m.get(108)))
                        logged_on = True
                    elif kind == b"0" and test_request and not logged_on and m.get(112) == b"PROBE-1":
                        seq += 1
                        tls.sendall(_reply("A", m, seq, t98=0, t108=30))
                        logged_on = True
                    elif kind == b"5":
                        seq += 1
                        tls.sendall(_reply("5", m, seq))
                        _drain(tls)
                        return

    with tcp_server(handle) as (host, port):
        acc = Acceptor(host, port)
        box["acc"] = acc
        yield acc

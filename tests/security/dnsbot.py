"""The real bot behind a scripted DNS and a connection guard (`python -m tests.security.dnsbot`).

For the DNS-rebinding tests only. The DNS is the one thing replaced: `socket.getaddrinfo`
answers names under `.rebind.test` from FAKE_DNS (a JSON map name -> list of answers, one per
lookup, the last repeated) and refuses every other name that is not an IP literal, so no
real DNS query leaves the machine. Every connection attempt is appended to CONNECT_LOG
(`address port` lines) and any to a non-loopback address is refused here, before a packet
is sent: the bot can *try* 8.8.8.8 but never reach it.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import socket
import threading
from typing import Any

ANSWERS: dict[str, list[list[str]]] = json.loads(os.environ.get("FAKE_DNS", "{}"))
CONNECT_LOG = os.environ["CONNECT_LOG"]
LOOKUP_LOG = os.environ["LOOKUP_LOG"]
_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_lock = threading.Lock()
_lookups: dict[str, int] = {}


def _append(path: str, line: str) -> None:
    with _lock, open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")


def fake_getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name in ANSWERS:
        with _lock:
            n = _lookups.get(name, 0)
            _lookups[name] = n + 1
        _append(LOOKUP_LOG, name)
        answer = ANSWERS[name][min(n, len(ANSWERS[name]) - 1)]
        out = []
        for ip in answer:
            fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
            addr: tuple[Any, ...] = (ip, int(port or 0), 0, 0) if fam == socket.AF_INET6 else (ip, int(port or 0))
            out.append((fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", addr))
        return out
    try:
        ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (test DNS)") from None
    return _real_getaddrinfo(host, port, family, type, proto, flags)


def _loopback(address: Any) -> bool:
    try:
        return ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback
    except (ValueError, TypeError, IndexError):
        return False


def guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _append(CONNECT_LOG, f"{address[0]} {address[1]}")
        if not _loopback(address):
            return errno.ECONNREFUSED
    return int(_real_connect_ex(self, address))


def guarded_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _append(CONNECT_LOG, f"{address[0]} {address[1]}")
        if not _loopback(address):
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused by the test's connection guard")
    _real_connect(self, address)


socket.getaddrinfo = fake_getaddrinfo
socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
socket.socket.connect = guarded_connect  # type: ignore[method-assign]

if __name__ == "__main__":
    from bot.slack.server import main

    raise SystemExit(main())

"""Resolve a host to every address and connect to them, each bounded by the timeout.

This is the guide's `telnet HOST PORT`, done to every address the name resolves to
(IPv4 and IPv6) at once, so one firewalled address cannot hide behind another and the
whole check still takes at most the timeout.
"""

from __future__ import annotations

import errno
import ipaddress
import selectors
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# After one address connected, the others get this much longer to answer.
GRACE_AFTER_FIRST = 0.25

Resolver = Any  # socket.getaddrinfo's signature; replaced in tests


@dataclass(frozen=True)
class Attempt:
    """One address tried: how it ended and how long it took."""

    family: str  # "IPv4" / "IPv6"
    address: str
    outcome: str  # connected | refused | reset | timeout | unreachable | error | pending
    ms: float
    error: str | None = None

    def to_evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "address": self.address,
            "family": self.family,
            "outcome": self.outcome,
            "ms": round(self.ms, 1),
        }
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class TcpResult:
    host: str
    port: int
    timeout: float
    dns_ms: float = 0.0
    dns_error: str | None = None
    dns_error_code: int | None = None  # socket.EAI_*
    dns_timed_out: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    sock: socket.socket | None = field(default=None, repr=False)  # the connected socket, caller closes
    sockaddr: tuple[Any, ...] | None = None

    @property
    def connected(self) -> Attempt | None:
        for a in self.attempts:
            if a.outcome == "connected" and self.sockaddr is not None and a.address == _fmt(self.sockaddr):
                return a
        return None


def _fmt(sockaddr: tuple[Any, ...]) -> str:
    host = str(sockaddr[0])
    return f"[{host}]:{sockaddr[1]}" if ":" in host else f"{host}:{sockaddr[1]}"


def resolve(
    host: str, port: int, timeout: float, resolver: Resolver = None
) -> tuple[list[tuple[int, tuple[Any, ...]]], str | None, int | None, bool]:
    """Every (family, sockaddr) `host` resolves to, in the resolver's order.

    Returns (addresses, error text, EAI code, timed out). getaddrinfo cannot be
    interrupted, so it runs in a daemon thread and is abandoned after `timeout`.
    """
    lookup = resolver or socket.getaddrinfo
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = lookup(host, port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            box["gaierror"] = exc
        except (OSError, UnicodeError, ValueError) as exc:
            box["error"] = exc

    thread = threading.Thread(target=work, name="fixcheck-dns", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return [], f"no answer from DNS within {timeout:g} s", None, True
    if "gaierror" in box:
        exc = box["gaierror"]
        return [], str(exc.strerror or exc), int(exc.errno) if exc.errno is not None else None, False
    if "error" in box:
        return [], str(box["error"]), None, False
    seen: set[tuple[Any, ...]] = set()
    out: list[tuple[int, tuple[Any, ...]]] = []
    for family, _type, _proto, _canon, sockaddr in box["result"]:
        key = (family, sockaddr[:2])
        if family in (socket.AF_INET, socket.AF_INET6) and key not in seen:
            seen.add(key)
            out.append((family, tuple(sockaddr)))
    return out, None, None, False


def connect(
    host: str, port: int, timeout: float, resolver: Resolver = None, *, addresses: Sequence[str] | None = None
) -> TcpResult:
    """Resolve `host` and connect to all its addresses in parallel within `timeout`.

    With `addresses` (IP literals the caller already resolved and vetted), `host` is not
    looked up again: exactly those addresses are tried, so DNS cannot answer differently
    between the caller's check and the connection (DNS rebinding).
    The returned `sock` is connected to the first address (in resolver order) that
    accepted; the caller owns it. Other sockets are closed here.
    """
    result = TcpResult(host, port, timeout)
    t0 = time.monotonic()
    if addresses is None:
        sockaddrs, error, code, timed_out = resolve(host, port, timeout, resolver)
    else:
        sockaddrs, error, code, timed_out = _pinned(addresses, port), None, None, False
    return _connect_all(result, sockaddrs, error, code, timed_out, t0)


def _pinned(addresses: Sequence[str], port: int) -> list[tuple[int, tuple[Any, ...]]]:
    """(family, sockaddr) for IP literals; anything that is not one is dropped, never looked up."""
    out: list[tuple[int, tuple[Any, ...]]] = []
    for text in dict.fromkeys(addresses):
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            continue
        if ip.version == 6:
            out.append((socket.AF_INET6, (str(ip), port, 0, 0)))
        else:
            out.append((socket.AF_INET, (str(ip), port)))
    return out


def _connect_all(
    result: TcpResult,
    addresses: list[tuple[int, tuple[Any, ...]]],
    error: str | None,
    code: int | None,
    timed_out: bool,
    t0: float,
) -> TcpResult:
    """Connect to every address at once (see `connect`)."""
    result.dns_ms = (time.monotonic() - t0) * 1000
    if error is not None or not addresses:
        result.dns_error = error or "the name resolved to no IPv4 or IPv6 address"
        result.dns_error_code = code
        result.dns_timed_out = timed_out
        return result

    dialer = _Dialer()
    try:
        for i, (family, sockaddr) in enumerate(addresses):
            dialer.start(i, family, sockaddr)
        dialer.wait(t0 + result.timeout)
        dialer.give_up(result.timeout)
    finally:
        dialer.close()
    result.attempts = [dialer.outcomes[i] for i in sorted(dialer.outcomes)]
    connected = dialer.connected
    if connected:
        first = min(connected)
        result.sock = connected.pop(first)
        result.sockaddr = addresses[first][1]
    for s in connected.values():
        s.close()
    return result


class _Dialer:
    """Non-blocking connects to several addresses at once, each address known by its index."""

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.pending: dict[int, tuple[int, socket.socket, tuple[Any, ...], float]] = {}
        self.outcomes: dict[int, Attempt] = {}
        self.connected: dict[int, socket.socket] = {}

    def start(self, i: int, family: int, sockaddr: tuple[Any, ...]) -> None:
        """Start connecting to address `i`; a connect that ends at once is recorded at once."""
        label = _family(family)
        start = time.monotonic()
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            self.outcomes[i] = Attempt(label, _fmt(sockaddr), "error", 0.0, exc.strerror or str(exc))
            return
        s.setblocking(False)
        rc = s.connect_ex(sockaddr)
        if rc == 0:
            self.outcomes[i] = Attempt(label, _fmt(sockaddr), "connected", (time.monotonic() - start) * 1000)
            self.connected[i] = s
        elif rc in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            self.pending[i] = (family, s, sockaddr, start)
            self.sel.register(s, selectors.EVENT_WRITE, i)
        else:
            self.outcomes[i] = _failed(label, sockaddr, rc, start)
            s.close()

    def wait(self, deadline: float) -> None:
        """Collect the connects' ends until `deadline`, or `GRACE_AFTER_FIRST` after the first success."""
        first_at: float | None = time.monotonic() if self.connected else None
        while self.pending:
            now = time.monotonic()
            if first_at is not None:
                deadline = min(deadline, first_at + GRACE_AFTER_FIRST)
            if now >= deadline:
                break
            for key, _mask in self.sel.select(deadline - now):
                i = int(key.data)
                family, s, sockaddr, start = self.pending.pop(i)
                self.sel.unregister(s)
                label = _family(family)
                rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if rc == 0:
                    self.outcomes[i] = Attempt(label, _fmt(sockaddr), "connected", (time.monotonic() - start) * 1000)
                    self.connected[i] = s
                    first_at = first_at or time.monotonic()
                else:
                    self.outcomes[i] = _failed(label, sockaddr, rc, start)
                    s.close()

    def give_up(self, timeout: float) -> None:
        """The connects still under way: `pending` when another address connected, else `timeout`."""
        for i, (family, s, sockaddr, start) in self.pending.items():
            outcome = "pending" if self.connected else "timeout"
            note = (
                "not answered yet when another address had connected"
                if self.connected
                else f"no answer within {timeout:g} s"
            )
            self.outcomes[i] = Attempt(
                _family(family), _fmt(sockaddr), outcome, (time.monotonic() - start) * 1000, note
            )
            s.close()
        self.pending.clear()

    def close(self) -> None:
        """Release the selector and any socket still connecting (after an error)."""
        self.sel.close()
        for _f, s, _a, _st in self.pending.values():
            s.close()


def _family(family: int) -> str:
    return "IPv6" if family == socket.AF_INET6 else "IPv4"


def _failed(label: str, sockaddr: tuple[Any, ...], rc: int, start: float) -> Attempt:
    if rc == errno.ECONNREFUSED:
        outcome = "refused"
    elif rc in (errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE):
        outcome = "reset"  # accepted, then reset before connect() returned
    elif rc == errno.ETIMEDOUT:
        outcome = "timeout"
    elif rc in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
        outcome = "unreachable"
    else:
        outcome = "error"
    return Attempt(label, _fmt(sockaddr), outcome, (time.monotonic() - start) * 1000, errno.errorcode.get(rc, str(rc)))

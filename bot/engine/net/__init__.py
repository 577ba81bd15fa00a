"""Network probing for steps 3 and 4: one TCP connection, one mTLS handshake, per diagnosis.

With `ctx.logon`, the FIX Logon follows the handshake on the same connection (step 4
reports it).

Step 3 runs the probe (connect to every address, then the handshake on the first
address that accepted) and step 4 reads the same result, so the exchange sees one
connection per diagnosis and a reset right after connecting is step 3's finding.
Steps 3 and 4 are the probe's users. Front ends use `resolve`/`resolver` (the Slack bot's
allow-list resolves a name once) and `FixSession` (the CLI's Logon through stunnel).

The modules: `tcp` (resolve, connect to every address), `tls` (the handshake probe, in
phases) with `tls_result` (what it gives back), `tls_setup` (pyOpenSSL context and
connection) and `wire` (the socket's bounded sends and receives); `fix` (the FIX Logon
session) with `fix_messages` (building, framing, showing messages); `tables` (TLS alert
and verify-error numbers); `hostname` (does a certificate name the host).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.engine.net.fix import FixSession
from bot.engine.net.tcp import Resolver, TcpResult, connect, resolve
from bot.engine.net.tls import ClientCredentials, TlsResult, handshake

if TYPE_CHECKING:  # the context imports the FIX codec from this package
    from bot.engine.context import Context

__all__ = [
    "ClientCredentials",
    "FixSession",
    "Probe",
    "TcpResult",
    "TlsResult",
    "credentials",
    "probe",
    "resolve",
    "resolver",
    "set_resolver",
]


@dataclass
class Probe:
    tcp: TcpResult
    tls: TlsResult | None  # None when no address accepted the connection

    @property
    def reset_before_any_byte(self) -> bool:
        """Connected, then closed or reset before the server sent a single byte."""
        t = self.tls
        return t is not None and t.outcome in ("closed", "reset") and t.bytes_received == 0


_lock = threading.Lock()
_cache: dict[int, Probe] = {}
_resolver: Resolver = None


def set_resolver(resolver: Resolver) -> None:
    """Replace `socket.getaddrinfo` (tests); None restores it."""
    global _resolver
    _resolver = resolver


def resolver() -> Resolver:
    """The resolver probes use (None: `socket.getaddrinfo`), for front ends that resolve a name
    once themselves (the Slack bot's allow-list) and then pass the addresses to `diagnose`."""
    return _resolver


def credentials(ctx: Context) -> ClientCredentials | None:
    """The client certificate and key from the files, when both are usable."""
    ob = ctx.onboarding
    cert = ob.client_cert.cert if ob.client_cert is not None else None
    key = ob.client_private_key
    if cert is None or key is None:
        return None
    return ClientCredentials(cert, key, tuple(ob.client_extra_certs))


def probe(ctx: Context) -> Probe | None:
    """The probe of `ctx.endpoint`, run once per context (step 3 runs it, step 4 reuses it)."""
    if ctx.endpoint is None:
        return None
    key = id(ctx)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    tcp = connect(ctx.endpoint.host, ctx.endpoint.port, ctx.timeout, _resolver, addresses=ctx.addresses)
    tls: TlsResult | None = None
    if tcp.sock is not None:
        connected = tcp.connected
        rtt = connected.ms / 1000 if connected is not None else None
        session = FixSession(ctx.logon, ctx.timeout) if ctx.logon is not None else None
        tls = handshake(
            tcp.sock,
            ctx.endpoint.host,
            credentials(ctx),
            list(ctx.onboarding.server_ca),
            ctx.timeout,
            rtt,
            session=session,
        )
        tcp.sock = None  # closed by the handshake
    result = Probe(tcp, tls)
    with _lock:
        _cache[key] = result
    weakref.finalize(ctx, _forget, key)
    return result


def _forget(key: int) -> None:
    with _lock:
        _cache.pop(key, None)

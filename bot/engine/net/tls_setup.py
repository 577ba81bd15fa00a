"""The client's side of the TLS probe in pyOpenSSL: its context, its connection, its error texts.

The context trusts the server CA file and carries the client certificate and key, loaded
from memory (nothing is written to disk). A certificate or key OpenSSL refuses is noted
in the result and the handshake goes on without one, to see the server's side. Server
verification errors are recorded, not fatal, like `openssl s_client`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from OpenSSL import SSL, crypto

from bot.engine.net.tables import verify_error_text
from bot.engine.net.tls_result import ClientCredentials, TlsResult

# The key types that can sign a TLS handshake (OpenSSL would fail later, less clearly).
_USABLE_KEYS = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    dsa.DSAPrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)


def error_text(exc: BaseException) -> str:
    """OpenSSL's error reasons (library texts), for evidence."""
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if args and isinstance(args[0], list):
        parts = [str(t[-1]) for t in args[0] if isinstance(t, tuple) and t]
        if parts:
            return "; ".join(parts)
    if isinstance(exc, SSL.SysCallError) and len(args) >= 2:
        return str(args[1])
    return str(exc) or type(exc).__name__


def client_context(
    creds: ClientCredentials | None, server_ca: list[x509.Certificate], result: TlsResult
) -> SSL.Context:
    """The client's context; without the credentials when OpenSSL refuses them (`result.setup_error`)."""
    result.server_ca_given = bool(server_ca)
    if creds is None:
        return _context(None, server_ca, result)
    try:
        ctx = _context(creds, server_ca, result)
    except (SSL.Error, crypto.Error, TypeError, ValueError) as exc:
        result.setup_error = error_text(exc)
        return _context(None, server_ca, result)
    result.client_cert_loaded = True
    return ctx


def _context(creds: ClientCredentials | None, server_ca: list[x509.Certificate], result: TlsResult) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    if server_ca:
        store = ctx.get_cert_store()
        if store is not None:
            for ca in server_ca:
                try:
                    store.add_cert(crypto.X509.from_cryptography(ca))
                except crypto.Error:
                    continue  # the same certificate twice
    ctx.set_verify(SSL.VERIFY_PEER if server_ca else SSL.VERIFY_NONE, _record_verify(result))
    if creds is not None:
        ctx.use_certificate(creds.cert)
        for extra in creds.chain:
            ctx.add_extra_chain_cert(extra)
        key = creds.key
        if not isinstance(key, _USABLE_KEYS):
            raise TypeError(f"{type(key).__name__} cannot sign a TLS handshake")
        ctx.use_privatekey(key)
        ctx.check_privatekey()
    return ctx


def _record_verify(result: TlsResult) -> Any:
    def callback(_conn: SSL.Connection, _cert: Any, errnum: int, depth: int, ok: int) -> bool:
        if not ok:
            entry = (int(errnum), int(depth), verify_error_text(int(errnum)))
            if entry not in result.verify_errors:
                result.verify_errors.append(entry)
        return True  # carry on like s_client: the server's verdict on our certificate matters too

    return callback


def client_connection(ctx: SSL.Context, host: str, result: TlsResult) -> SSL.Connection:
    """A client connection on memory BIOs, naming `host` in SNI unless it is an IP address."""
    conn = SSL.Connection(ctx, None)
    conn.set_connect_state()
    name = host.rstrip(".")
    if name and not _is_ip(name):
        try:
            conn.set_tlsext_host_name(name.encode("idna"))
            result.sni = name
        except (UnicodeError, SSL.Error, ValueError):
            pass
    return conn


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True

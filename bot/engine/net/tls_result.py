"""What the TLS probe takes in (the client's credentials) and what it gives back (`TlsResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from bot.engine.net.fix import FixResult


@dataclass(frozen=True)
class ClientCredentials:
    """The client certificate (with any chain after it) and its private key, in memory."""

    cert: x509.Certificate
    key: PrivateKeyTypes = field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()


@dataclass
class TlsResult:
    """Everything one handshake showed. Holds no key material."""

    outcome: str = "error"  # ok | alert | closed | reset | not_tls | timeout | error
    phase: str = "hello"  # hello (server sent nothing yet) | handshake | after-handshake
    handshake_done: bool = False
    tls_version: str | None = None
    cipher: str | None = None
    server_chain: list[x509.Certificate] = field(default_factory=list)
    cert_requested: bool = False
    client_ca_names: list[x509.Name] = field(default_factory=list)
    client_cert_loaded: bool = False
    client_cert_sent: bool = False
    setup_error: str | None = None  # the client certificate/key could not be used
    server_ca_given: bool = False
    verify_errors: list[tuple[int, int, str]] = field(default_factory=list)  # (number, depth, text)
    alert_received: int | None = None
    alert_level: int | None = None
    alert_sent: int | None = None
    # The server's close_notify: an orderly end of the TLS session, not a rejection (those are alerts).
    close_notify: bool = False
    tickets: bool = False  # TLS 1.3 session tickets arrived: the server had accepted the client certificate
    bytes_received: int = 0
    bytes_sent: int = 0
    first_bytes: bytes = b""
    echo: bool = False
    post_handshake: str | None = None  # ticket | quiet | data | close_notify | closed | reset | alert | error
    error: str | None = None  # OpenSSL's error, for evidence only (never classified by)
    handshake_ms: float | None = None
    total_ms: float = 0.0
    timeout: float = 0.0
    sni: str | None = None
    rtt: float | None = None
    fix: FixResult | None = None  # the FIX Logon made on this connection, when one was asked for

    @property
    def server_speaks_tls(self) -> bool:
        return self.bytes_received == 0 or looks_like_tls(self.first_bytes)


def looks_like_tls(data: bytes) -> bool:
    """The start of a TLS record: content type 20-24, protocol major version 3."""
    if not data:
        return False
    if data[0] not in (20, 21, 22, 23, 24):
        return False
    return len(data) < 2 or data[1] == 3

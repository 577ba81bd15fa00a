"""Issue 11 QA, item 3: close_notify seen after the tickets, and no "--logon" advice when --logon was given.

Before: a Python ssl server that unwraps right after the handshake sends its close_notify ~40 ms
after the TLS 1.3 tickets (its second write waits for our delayed ACK), past the probe's read
window: `tls.ok` alone said the server had confirmed the session. And `tls.closed_cleanly` advised
"log on ... (--logon SENDER:TARGET)" to a user who had given --logon.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator

from bot.engine import FixLogon, diagnose
from tests.network.pkis import Pki
from tests.network.servers import tcp_server, tls_then_close_server


@contextlib.contextmanager
def unwrap_server(netpki: Pki) -> Iterator[tuple[str, int]]:
    """Python ssl, client certificate required (TLS 1.3), then `unwrap()` (close_notify) at once."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(str(netpki.server.crt), str(netpki.server.key))
    context.load_verify_locations(str(netpki.client.ca_crt))
    context.verify_mode = ssl.CERT_REQUIRED

    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True) as tls:
            tls.unwrap()

    with tcp_server(handle) as address:
        yield address


def test_close_notify_right_after_python_ssl_handshake_is_seen(netpki: Pki) -> None:
    with unwrap_server(netpki) as (host, port):
        for _ in range(5):
            report = diagnose(netpki.files(), endpoint=f"{host}:{port}", timeout=3.0)
            assert [f.code for f in report.step(4).findings] == ["tls.ok", "tls.closed_cleanly"]


def test_closed_cleanly_with_logon_does_not_advise_logon(netpki: Pki) -> None:
    with tls_then_close_server(
        netpki.server.crt, netpki.server.key, netpki.client.ca_crt, tls_version="1.3", how="close_notify"
    ) as (host, port):
        report = diagnose(netpki.files(), endpoint=f"{host}:{port}", timeout=3.0, logon=FixLogon("CLIENT1", "ITBIT"))
        plain = diagnose(netpki.files(), endpoint=f"{host}:{port}", timeout=3.0)
    f = next(x for x in report.step(4).findings if x.code == "tls.closed_cleanly")
    assert "--logon" not in (f.remediation or "")
    assert "CLIENT1:ITBIT" in (f.remediation or "")
    g = next(x for x in plain.step(4).findings if x.code == "tls.closed_cleanly")
    assert "--logon SENDER:TARGET" in (g.remediation or "")

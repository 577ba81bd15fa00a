"""A ca.crt regenerated with the same name: the exchange still holds the old one.

The server finds a CA of the right name whose key does not verify the client certificate;
OpenSSL servers then answer decrypt_error (51) or unknown_ca (48). Either way step 4 must
say the client certificate was rejected, and point at sending the current ca.crt.
"""

from __future__ import annotations

from pathlib import Path

from bot.engine import Status, diagnose
from bot.lab.onboarding import make_client, make_server
from bot.lab.server import local_mtls_server


def test_regenerated_ca_with_the_same_name_is_a_rejection(tmp_path: Path) -> None:
    server = make_server(tmp_path / "exchange")
    registered = make_client(tmp_path / "old", ca_cn="acme-client-ca")  # what the exchange installed
    current = make_client(tmp_path / "new", ca_cn="acme-client-ca")  # regenerated since: same name, new key
    files = [
        ("fix.itbit.pem", current.bundle.read_bytes()),
        ("ca.crt", current.ca_crt.read_bytes()),
        ("itbit-ca.pem", server.ca_pem.read_bytes()),
    ]
    with local_mtls_server(server, registered.ca_crt.read_bytes()) as (host, port):
        report = diagnose(files, endpoint=f"{host}:{port}", timeout=3.0)
    step4 = report.step(4)
    assert step4.status is Status.FAIL
    finding = next(f for f in step4.findings if f.code == "tls.client_cert_rejected")
    assert finding.evidence["alert"]["number"] in (48, 51), finding.evidence
    assert finding.remediation is not None and "ca.crt" in finding.remediation

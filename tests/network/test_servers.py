"""Steps 3 and 4 against real mTLS servers on 127.0.0.1: Python ssl, openssl s_server, stunnel; TLS 1.2 and 1.3."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.engine import Report, diagnose
from bot.lab.server import local_mtls_server
from tests.network.pkis import Pki
from tests.network.servers import openssl_s_server, stunnel_server

KINDS = [
    pytest.param(("python", "1.2"), id="python-tls1.2"),
    pytest.param(("python", "1.3"), id="python-tls1.3"),
    pytest.param(("openssl", "1.2"), id="s_server-tls1.2"),
    pytest.param(("openssl", "1.3"), id="s_server-tls1.3"),
    pytest.param(("stunnel", "1.2"), id="stunnel-tls1.2"),
    pytest.param(("stunnel", "1.3"), id="stunnel-tls1.3"),
]

CLIENT_CA_NAME = "C = US, ST = NY, O = Example Trading, CN = fix-client-ca"


@pytest.fixture(scope="module", params=KINDS)
def server(request: pytest.FixtureRequest, netpki: Pki) -> Iterator[tuple[str, str, int]]:
    """One server of each kind and version, trusting the registered client's CA only."""
    kind, version = request.param
    s = netpki.server
    manager: contextlib.AbstractContextManager[tuple[str, int]]
    if kind == "python":
        manager = local_mtls_server(s, netpki.client.ca_crt.read_bytes(), tls_version=version)
    elif kind == "openssl":
        manager = openssl_s_server(s.crt, s.key, netpki.client.ca_crt, version)
    else:
        manager = stunnel_server(netpki.folder / "stunnel", s.crt, s.key, netpki.client.ca_crt, version)
    with manager as (host, port):
        yield f"{kind}-{version}", host, port


def run(files: list[tuple[str, bytes]], host: str, port: int, timeout: float = 5.0) -> Report:
    return diagnose(files, endpoint=f"{host}:{port}", timeout=timeout)


def step(report: Report, number: int) -> dict[str, Any]:
    return report.step(number).to_dict()


def codes(report: Report, number: int) -> list[str]:
    return [f.code for f in report.step(number).findings]


def evidence(report: Report, number: int, code: str) -> dict[str, Any]:
    for f in report.step(number).to_dict()["findings"]:
        if f["code"] == code:
            return dict(f["evidence"])
    raise AssertionError(f"no {code} in step {number}: {codes(report, number)}")


def sends_ca_names(name: str) -> bool:
    # Python's ssl module cannot send acceptable CA names; s_server and stunnel do.
    return not name.startswith("python")


def test_good(server: tuple[str, str, int], netpki: Pki) -> None:
    name, host, port = server
    report = run(netpki.files(), host, port)
    assert step(report, 3)["status"] == "pass"
    assert codes(report, 3) == ["tcp.ok"]
    assert step(report, 4)["status"] == "pass", report.step(4).findings
    assert codes(report, 4) == ["tls.ok"]
    ev = evidence(report, 4, "tls.ok")
    assert ev["tls_version"] == ("TLSv1.3" if name.endswith("1.3") else "TLSv1.2")
    assert ev["cipher"]
    assert ev["server_chain"][0]["subject"] == "O = Exchange, CN = localhost"
    assert ev["server_chain"][0]["issuer"] == "O = Exchange, CN = Exchange FIX Server CA"
    assert ev["server_certificate_verified"] is True
    assert ev["client_certificate"]["issuer"] == CLIENT_CA_NAME
    assert ev["client_certificate_requested"] is True
    assert ev["after_handshake"] in ("ticket", "quiet")
    if sends_ca_names(name):
        assert ev["acceptable_client_ca_names"] == [CLIENT_CA_NAME]
        assert ev["client_ca_listed"] is True
    ev3 = evidence(report, 3, "tcp.ok")
    assert ev3["addresses"][0]["address"] == f"{host}:{port}"
    assert ev3["addresses"][0]["outcome"] == "connected"
    assert "ms" in ev3["addresses"][0]


def test_client_ca_not_registered(server: tuple[str, str, int], netpki: Pki) -> None:
    name, host, port = server
    report = run(netpki.files(netpki.stranger), host, port)
    assert step(report, 3)["status"] == "pass"
    assert step(report, 4)["status"] == "fail"
    assert "tls.client_cert_rejected" in codes(report, 4)
    ev = evidence(report, 4, "tls.client_cert_rejected")
    assert ev["alert"]["number"] in (40, 42, 48, 116)
    if name.endswith("1.3"):
        assert ev["alert"]["when"] == "after the handshake"
    if sends_ca_names(name):
        assert ev["acceptable_client_ca_names"] == [CLIENT_CA_NAME]
        assert ev["client_ca_listed"] is False
        finding = report.step(4).findings[0]
        assert "has not registered your ca.crt" in finding.message
        assert "unregistered-client-ca" in finding.message
    assert report.to_dict()["first_failure"] == {"step": 4, "code": "tls.client_cert_rejected"}


def test_expired_client_certificate(server: tuple[str, str, int], netpki: Pki) -> None:
    _name, host, port = server
    files = [("fix.itbit.pem", netpki.expired_bundle), ("ca.crt", netpki.client.ca_crt.read_bytes()),
             ("itbit-ca.pem", netpki.server.ca_pem.read_bytes())]
    report = run(files, host, port)
    assert step(report, 4)["status"] == "fail"
    assert codes(report, 4)[0] == "tls.client_cert_rejected"
    ev = evidence(report, 4, "tls.client_cert_rejected")
    assert ev["alert"]["number"] in (42, 45, 46)
    assert "expired" in report.step(4).findings[0].message


def test_wrong_server_ca_file(server: tuple[str, str, int], netpki: Pki) -> None:
    _name, host, port = server
    report = run(netpki.files(server_ca=netpki.other_server.ca_pem), host, port)
    assert step(report, 4)["status"] == "fail"
    assert "tls.server_cert_untrusted" in codes(report, 4)
    # The server still accepted the client certificate: the probe says so separately.
    assert "tls.client_cert_accepted" in codes(report, 4)
    ev = evidence(report, 4, "tls.server_cert_untrusted")
    assert ev["verify_errors"][0]["number"] in (20, 21)
    assert ev["server_certificate_verified"] is False


def test_no_client_files(server: tuple[str, str, int], netpki: Pki) -> None:
    name, host, port = server
    report = run([("itbit-ca.pem", netpki.server.ca_pem.read_bytes())], host, port)
    assert step(report, 3)["status"] == "pass"
    # Without a client certificate the handshake cannot complete: never a pass (issue 11 item 5).
    assert step(report, 4)["status"] == "warn", report.step(4).findings
    assert report.verdict.value == "warn"
    assert codes(report, 4) == ["tls.no_client_cert", "tls.client_cert_required"]
    ev = evidence(report, 4, "tls.client_cert_required")
    assert ev["client_certificate_required"] is True
    assert "handshake cannot complete" in report.step(4).findings[1].message
    assert ev["server_chain"][0]["subject"] == "O = Exchange, CN = localhost"
    assert ev["server_certificate_verified"] is True
    if sends_ca_names(name):
        assert ev["acceptable_client_ca_names"] == [CLIENT_CA_NAME]
        assert CLIENT_CA_NAME in report.step(4).findings[1].message


def test_no_key_material_in_output(server: tuple[str, str, int], netpki: Pki) -> None:
    _name, host, port = server
    report = run(netpki.files(netpki.stranger), host, port)
    text = json.dumps(report.to_dict())
    key_body = netpki.stranger.host_key.read_text().splitlines()[1]
    assert "PRIVATE KEY" not in text
    assert key_body not in text

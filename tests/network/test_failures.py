"""Steps 3 and 4 against servers that fail in every way the guide's steps 3 and 4 describe (127.0.0.1 only)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bot.engine import Report, diagnose, net
from bot.lab.server import local_mtls_server, network_cases
from tests.network.pkis import Pki
from tests.network.servers import (
    FAULT_MARGIN,
    HOST,
    banner_server,
    black_hole,
    closed_port,
    echo_server,
    python_tls_server,
    reset_server,
    silent_server,
    trickle_server,
)


def codes(report: Report, number: int) -> list[str]:
    return [f.code for f in report.step(number).findings]


def finding(report: Report, number: int, code: str) -> dict[str, Any]:
    for f in report.step(number).to_dict()["findings"]:
        if f["code"] == code:
            return dict(f)
    raise AssertionError(f"no {code} in step {number}: {codes(report, number)}")


def timed(files: list[tuple[str, bytes]], endpoint: str, timeout: float) -> tuple[Report, float]:
    start = time.monotonic()
    report = diagnose(files, endpoint=endpoint, timeout=timeout)
    return report, time.monotonic() - start


def within(elapsed: float, timeout: float) -> None:
    """A fault ends within the timeout, plus a small margin for the offline steps."""
    assert elapsed <= timeout + FAULT_MARGIN, f"took {elapsed:.3f} s with a {timeout} s timeout"


def test_closed_port(netpki: Pki) -> None:
    with closed_port() as (host, port):
        report = diagnose(netpki.files(), endpoint=f"{host}:{port}", timeout=2)
    assert report.step(3).status.value == "fail"
    f = finding(report, 3, "tcp.refused")
    assert f["evidence"]["addresses"] == [
        {"address": f"{host}:{port}", "family": "IPv4", "outcome": "refused", "ms": f["evidence"]["addresses"][0]["ms"],
         "error": "ECONNREFUSED"}
    ]
    assert f"telnet {host} {port}" in f["commands"]
    assert report.step(4).status.value == "skip"
    assert codes(report, 4) == ["tls.skipped"]
    assert "step 3" in report.step(4).findings[0].message
    assert report.to_dict()["first_failure"] == {"step": 3, "code": "tcp.refused"}


def test_connect_timeout_is_bounded(netpki: Pki) -> None:
    with black_hole() as (host, port):
        report, elapsed = timed(netpki.files(), f"{host}:{port}", 1.0)
    assert codes(report, 3) == ["tcp.timeout"]
    assert "firewall" in report.step(3).findings[0].message
    assert report.step(4).status.value == "skip"
    assert elapsed >= 0.95  # it did wait for the timeout
    within(elapsed, 1.0)


def test_dns_failure() -> None:
    def fail(*_args: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    net.set_resolver(fail)
    report = diagnose([], endpoint="sandbox-fix.example.invalid:4490", timeout=1)
    f = finding(report, 3, "tcp.dns")
    assert f["status"] == "fail"
    assert f["evidence"]["dns_error_code"] == socket.EAI_NONAME
    assert "getent hosts sandbox-fix.example.invalid" in f["commands"]
    assert codes(report, 4) == ["tls.skipped"]


def test_dns_that_never_answers_is_bounded() -> None:
    """getaddrinfo cannot be interrupted: the probe abandons it at the timeout (the stub is released afterwards)."""
    release = threading.Event()

    def never(*_args: Any) -> Any:
        release.wait(10)  # bounded, so that no thread outlives the test for long
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    net.set_resolver(never)
    try:
        report, elapsed = timed([], "fix.example.invalid:4490", 0.5)
    finally:
        release.set()
    assert codes(report, 3) == ["tcp.dns"]
    f = finding(report, 3, "tcp.dns")
    assert f["message"].startswith("DNS did not answer for fix.example.invalid within 0.5 s")
    assert "dns_error_code" not in f["evidence"]
    assert codes(report, 4) == ["tls.skipped"]
    assert elapsed >= 0.45
    within(elapsed, 0.5)


def test_every_address_is_tried_and_timed(netpki: Pki) -> None:
    """A name with an IPv6 and two IPv4 addresses: each is tried, with its outcome and time."""
    with local_mtls_server(netpki.server, netpki.client.ca_crt.read_bytes()) as (host, port), \
            closed_port() as (_h, dead):

        def resolver(*_args: Any) -> Any:
            return [
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", dead, 0, 0)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, dead)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port)),
            ]

        net.set_resolver(resolver)
        report = diagnose(netpki.files(), endpoint=f"localhost:{port}", timeout=3)
    ok = finding(report, 3, "tcp.ok")
    addresses = ok["evidence"]["addresses"]
    assert [a["family"] for a in addresses] == ["IPv6", "IPv4", "IPv4"]
    assert addresses[0]["outcome"] in ("refused", "unreachable", "error")
    assert addresses[1]["outcome"] == "refused"
    assert addresses[2]["outcome"] == "connected"
    assert all(isinstance(a["ms"], float) for a in addresses)
    assert ok["evidence"]["connected_to"] == f"{host}:{port}"
    assert "tcp.some_addresses_failed" in codes(report, 3)
    assert report.step(3).status.value == "warn"
    assert codes(report, 4) == ["tls.ok"]


def test_reset_after_accept_points_to_the_ip_allow_list(netpki: Pki) -> None:
    with reset_server() as (host, port):
        report, elapsed = timed(netpki.files(), f"{host}:{port}", 2.0)
    within(elapsed, 2.0)
    f = finding(report, 3, "tcp.reset")
    assert f["status"] == "fail"
    # On loopback no exchange allow-list is involved (off loopback it leads: test_hang_up_order.py).
    assert "allow-list is not the explanation" in f["message"]
    assert f["evidence"]["closed_by_server"] in ("reset", "closed")
    assert codes(report, 4) == ["tls.skipped"]


def test_plain_tcp_echo_is_not_tls(netpki: Pki) -> None:
    with echo_server() as (host, port):
        report = diagnose(netpki.files(), endpoint=f"{host}:{port}", timeout=2)
    assert codes(report, 3) == ["tcp.ok"]
    f = finding(report, 4, "tls.not_tls")
    assert f["status"] == "fail"
    assert "hello straight back" in f["message"]


def test_plain_fix_port_is_not_tls(netpki: Pki) -> None:
    with banner_server(b"8=FIX.4.4\x019=5\x0135=5\x0110=000\x01") as (host, port):
        report = diagnose(netpki.files(), endpoint=f"{host}:{port}", timeout=2)
    f = finding(report, 4, "tls.not_tls")
    assert "plain FIX" in f["message"]
    assert f["evidence"]["first_bytes"].startswith("8=FIX.4.4|")


def test_silent_server_times_out(netpki: Pki) -> None:
    with silent_server() as (host, port):
        report, elapsed = timed(netpki.files(), f"{host}:{port}", 1.0)
    assert codes(report, 3) == ["tcp.ok"]
    f = finding(report, 4, "tls.timeout")
    assert f["evidence"]["bytes_received"] == 0
    assert "nothing answered the TLS hello" in f["message"]
    assert elapsed >= 0.95
    within(elapsed, 1.0)


def test_trickling_server_times_out(netpki: Pki) -> None:
    with trickle_server() as (host, port):
        report, elapsed = timed(netpki.files(), f"{host}:{port}", 1.0)
    f = finding(report, 4, "tls.timeout")
    assert f["evidence"]["bytes_received"] > 5
    assert "stalled, or trickles" in f["message"]
    assert elapsed >= 0.95
    within(elapsed, 1.0)


def test_server_certificate_from_another_ca(netpki: Pki) -> None:
    """The server presents a certificate the client's itbit-ca.pem did not issue (only the leaf is sent)."""
    other = netpki.other_server
    with python_tls_server(other.crt, other.key) as (host, port):
        report = diagnose(netpki.files(), endpoint=f"{host}:{port}", timeout=3)
    f = finding(report, 4, "tls.server_cert_untrusted")
    assert f["status"] == "fail"
    assert f["evidence"]["verify_errors"][0]["number"] == 20
    assert f["evidence"]["verify_errors"][0]["text"] == "unable to get local issuer certificate"
    assert "Some Other CA" in f["message"]
    assert "onboarding page into itbit-ca.pem" in f["remediation"]
    assert "openssl x509 -noout -subject -enddate -in itbit-ca.pem" in f["commands"]


def test_guide_verify_error_19(netpki: Pki) -> None:
    """The guide's `verify error:num=19:self-signed certificate in certificate chain`."""
    with python_tls_server(netpki.server_fullchain, netpki.server.key) as (host, port):
        report = diagnose(netpki.files(server_ca=netpki.other_server.ca_pem), endpoint=f"{host}:{port}", timeout=3)
    f = finding(report, 4, "tls.server_cert_untrusted")
    assert f["evidence"]["verify_errors"][0]["number"] == 19
    assert "verify error:num=19:self-signed certificate in certificate chain" in f["message"]


def test_server_without_client_certificate_request(netpki: Pki) -> None:
    with python_tls_server(netpki.server.crt, netpki.server.key, tls_version="1.2") as (host, port):
        report = diagnose(netpki.files(), endpoint=f"{host}:{port}", timeout=3)
    assert "tls.client_cert_not_requested" in codes(report, 4)
    assert report.step(4).status.value == "warn"


def test_hostname_mismatch_is_a_warning(netpki: Pki) -> None:
    with local_mtls_server(netpki.server, netpki.client.ca_crt.read_bytes()) as (host, port):

        def resolver(*_args: Any) -> Any:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))]

        net.set_resolver(resolver)
        report = diagnose(netpki.files(), endpoint=f"fix.example.invalid:{port}", timeout=3)
    assert codes(report, 4) == ["tls.ok", "tls.hostname_mismatch"]
    f = finding(report, 4, "tls.hostname_mismatch")
    assert f["status"] == "warn"
    assert "localhost" in f["message"]
    # The warning says first that the mTLS handshake itself worked (issue 11 item 8).
    assert f["message"].startswith("The mTLS handshake itself succeeded (the server accepted your client certificate")
    assert report.step(4).status.value == "warn"
    assert finding(report, 4, "tls.ok")["evidence"]["sni"] == "fix.example.invalid"


def test_no_files_at_all(netpki: Pki) -> None:
    with local_mtls_server(netpki.server, netpki.client.ca_crt.read_bytes(), tls_version="1.2") as (host, port):
        report = diagnose([], endpoint=f"{host}:{port}", timeout=3)
    assert codes(report, 4) == ["tls.no_client_cert", "tls.client_cert_required", "tls.no_server_ca"]
    assert report.step(4).status.value == "warn"
    ev = finding(report, 4, "tls.client_cert_required")["evidence"]
    assert ev["client_certificate_required"] is True
    assert ev["server_chain"][0]["subject"] == "O = Exchange, CN = localhost"


def test_no_endpoint_skips() -> None:
    report = diagnose([])
    assert codes(report, 3) == ["tcp.no_endpoint"]
    assert codes(report, 4) == ["tls.no_endpoint"]


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_key_not_matching_certificate(netpki: Pki, version: str) -> None:
    """fix.itbit.pem with another key: the probe cannot present it and says step 6 explains; the server side still shows."""
    bundle = netpki.client.host_crt.read_bytes() + netpki.stranger.host_key.read_bytes()
    files = [("fix.itbit.pem", bundle), ("ca.crt", netpki.client.ca_crt.read_bytes()),
             ("itbit-ca.pem", netpki.server.ca_pem.read_bytes())]
    with local_mtls_server(netpki.server, netpki.client.ca_crt.read_bytes(), tls_version=version) as (host, port):
        report = diagnose(files, endpoint=f"{host}:{port}", timeout=3)
    assert codes(report, 4)[:2] == ["tls.client_key_unusable", "tls.client_cert_required"]
    assert report.step(4).status.value == "warn"
    assert report.step(6).status.value == "fail"


def test_demo_server_refuses_unknown_client_ca(netpki: Pki) -> None:
    with local_mtls_server(netpki.server, netpki.client.ca_crt.read_bytes()) as (host, port):
        good = diagnose(netpki.files(), endpoint=f"{host}:{port}", timeout=3)
        bad = diagnose(netpki.files(netpki.stranger), endpoint=f"{host}:{port}", timeout=3)
    assert host == HOST
    assert codes(good, 4) == ["tls.ok"]
    assert codes(bad, 4) == ["tls.client_cert_rejected"]


def test_demo_network_cases(tmp_path: Path, netpki: Pki) -> None:
    with network_cases(netpki.client, netpki.server, tmp_path) as cases:
        assert [c.title for c in cases] == [
            "Working setup, live", "Client CA not registered", "Wrong itbit-ca.pem", "Closed port"
        ]
        for case in cases:
            assert case.endpoint.startswith("127.0.0.1:")
            report = diagnose(case.files, endpoint=case.endpoint, timeout=3)
            assert report.step(case.step).findings[0].code == case.expected, case.title

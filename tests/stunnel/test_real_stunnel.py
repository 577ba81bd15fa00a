"""Proof against the real program: stunnel agrees with the engine, and its logs map to findings.

stunnel runs as the client in front of a local mTLS echo server on 127.0.0.1. A
configuration the engine passes must carry a plain TCP client's bytes there and back;
the ones it fails must be refused by stunnel or carry nothing. The logs of these real
runs are the reference for the log reader.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine import Status, diagnose
from bot.engine.context import Endpoint
from bot.engine.steps.stunnel.checks_log import check_log
from bot.engine.steps.stunnel.generate import choose_files, client_config, config_for_files
from tests.stunnel.conftest import StunnelPki, read
from tests.stunnel.helpers import LOCAL, EchoServer, StunnelRun, free_port, run_stunnel, stunnel_exe


@pytest.fixture(autouse=True)
def _need_stunnel() -> None:
    stunnel_exe()


def config(
    pki: StunnelPki,
    server_port: int,
    accept_port: int,
    *,
    client: str | None = "yes",
    cert: str | None = None,
    cafile: str | None = None,
    verify: str = "verifyChain = yes\ncheckHost = localhost",
    extra: str = "",
) -> str:
    lines = ["foreground = yes", "pid =", "debug = info", "[fix]"]
    if client is not None:
        lines.append(f"client = {client}")
    lines += [f"accept = {LOCAL}:{accept_port}", f"connect = {LOCAL}:{server_port}"]
    lines.append(f"cert = {cert if cert is not None else pki.client.bundle}")
    lines.append(f"CAfile = {cafile if cafile is not None else pki.server.ca_pem}")
    lines += [verify, extra]
    return "\n".join(lines) + "\n"


def judge(conf: str, pki: StunnelPki, server_port: int) -> tuple[Status, set[str]]:
    """The engine's step 7 verdict, given the referenced files as the CLI gives them."""
    from bot.cli.stunnel_config import read_referenced_files

    folder = Path("/nonexistent-config-dir/x.conf")
    extra, unreadable = read_referenced_files(folder, conf.encode())
    report = diagnose(
        [read(pki.client.ca_crt), *extra],
        stunnel=("stunnel.conf", conf.encode()),
        endpoint=f"{LOCAL}:{server_port}",
        stunnel_unreadable=unreadable,
        timeout=2,
    )
    step = report.step(7)
    return step.status, {f.code for f in step.findings if f.status in (Status.FAIL, Status.WARN)}


def log_codes(run: StunnelRun) -> dict[str, Status]:
    return {f.code: f.status for f in check_log(run.log, "stunnel.log")}


def test_good_config_carries_traffic(stunnel_pki: StunnelPki, mtls_server: EchoServer, tmp_path: Path) -> None:
    port = free_port()
    conf = config(stunnel_pki, mtls_server.port, port)
    status, problems = judge(conf, stunnel_pki, mtls_server.port)
    assert status is Status.PASS, problems
    run = run_stunnel(conf, tmp_path, port)
    assert run.started and run.echoed, run.log
    codes = log_codes(run)
    assert codes["stunnel.log_config_ok"] is Status.PASS
    assert codes["stunnel.log_traffic"] is Status.PASS
    assert not any(s is Status.FAIL for s in codes.values()), codes
    # The real log is recognised by content among ordinary inputs.
    report = diagnose([("stunnel-output.txt", run.log.encode())])
    assert "stunnel.log_traffic" in {f.code for f in report.step(7).findings}


def test_guide_style_verify_off_works_but_warns(
    stunnel_pki: StunnelPki, mtls_server: EchoServer, tmp_path: Path
) -> None:
    port = free_port()
    conf = config(stunnel_pki, mtls_server.port, port, verify="verifyChain = no")
    status, problems = judge(conf, stunnel_pki, mtls_server.port)
    assert status is Status.WARN and "stunnel.verify_off" in problems
    run = run_stunnel(conf, tmp_path, port)
    assert run.echoed, run.log
    assert log_codes(run)["stunnel.log_verify_off"] is Status.WARN


def test_generated_config_works(stunnel_pki: StunnelPki, mtls_server: EchoServer, tmp_path: Path) -> None:
    port = free_port()
    c, s = stunnel_pki.client, stunnel_pki.server
    paths = [c.ca_key, c.ca_crt, c.host_key, c.host_csr, c.host_crt, c.bundle, s.ca_pem]
    generated = config_for_files(
        choose_files([(str(p.resolve()), p.read_bytes()) for p in paths]),
        Endpoint(LOCAL, mtls_server.port),
        accept_port=port,
    )
    assert generated.cafile == str(s.ca_pem.resolve())
    status, problems = judge(generated.text, stunnel_pki, mtls_server.port)
    assert status is Status.PASS, problems
    run = run_stunnel(generated.text, tmp_path, port)
    assert run.started and run.echoed, run.log
    # The DNS-name form uses checkHost; it also works against the local server's name.
    by_name = client_config(cert=str(c.bundle), cafile=str(s.ca_pem), endpoint=Endpoint("localhost", 4490))
    assert "checkHost = localhost" in by_name and "verifyChain = yes" in by_name and "client = yes" in by_name


@pytest.mark.parametrize(
    ("case", "expected_code", "log_code"),
    [
        ("not a client", "stunnel.not_client", "stunnel.log_not_client"),
        ("missing cert file", "stunnel.file_missing", "stunnel.log_file_not_found"),
        ("placeholders", "stunnel.placeholder", "stunnel.log_file_not_found"),
        ("own CA as CAfile", "stunnel.cafile_is_client_ca", "stunnel.log_server_cert_untrusted"),
        ("cert without key", "stunnel.cert_without_key", "stunnel.log_key_unreadable"),
        ("key mismatch", "stunnel.key_mismatch", "stunnel.log_key_mismatch"),
        ("misspelled option", "stunnel.unknown_option", "stunnel.log_illegal_option"),
        ("global option in section", "stunnel.wrong_section", "stunnel.log_illegal_option"),
        ("bad socket option", "stunnel.bad_socket", "stunnel.log_config_line"),
        # connect is an IP here: only the server's certificate (step 4) shows the names, so the
        # engine cannot predict this one from the configuration; stunnel's log names it.
        ("checkHost mismatch", None, "stunnel.log_checkhost_failed"),
        ("checkHost without verify", "stunnel.checkhost_without_verify", "stunnel.log_checkhost_without_verify"),
        ("no client certificate", "stunnel.no_cert", "stunnel.log_client_cert_rejected"),
    ],
)
def test_engine_fails_and_stunnel_carries_nothing(
    case: str,
    expected_code: str | None,
    log_code: str,
    stunnel_pki: StunnelPki,
    mtls_server: EchoServer,
    tmp_path: Path,
) -> None:
    c = stunnel_pki.client
    port = free_port()
    sp = mtls_server.port
    conf = {
        "not a client": config(stunnel_pki, sp, port, client=None),
        "missing cert file": config(stunnel_pki, sp, port, cert=str(tmp_path / "no-such" / "fix.itbit.pem")),
        "placeholders": config(stunnel_pki, sp, port, cert="/{PATH-TO-CERT}/fix.itbit.pem"),
        "own CA as CAfile": config(stunnel_pki, sp, port, cafile=str(c.ca_crt)),
        "cert without key": config(stunnel_pki, sp, port, cert=str(c.host_crt)),
        "key mismatch": config(stunnel_pki, sp, port, cert=f"{c.host_crt}\nkey = {stunnel_pki.other.host_key}"),
        "misspelled option": config(stunnel_pki, sp, port, verify="verfyChain = yes\ncheckHost = localhost"),
        "global option in section": config(stunnel_pki, sp, port, extra=f"pid = {tmp_path}/x.pid"),
        "bad socket option": config(stunnel_pki, sp, port, extra="socket = l:TCP_NODLAY=1"),
        "checkHost mismatch": config(
            stunnel_pki, sp, port, verify="verifyChain = yes\ncheckHost = sandbox-fix.itbit.com"
        ),
        "checkHost without verify": config(stunnel_pki, sp, port, verify="checkHost = localhost"),
        "no client certificate": config(stunnel_pki, sp, port).replace(f"cert = {c.bundle}\n", ""),
    }[case]
    status, problems = judge(conf, stunnel_pki, sp)
    if expected_code is not None:
        assert expected_code in problems, problems
        assert status is Status.FAIL, problems
    run = run_stunnel(conf, tmp_path, port)
    assert not run.echoed, run.log
    codes = log_codes(run)
    if log_code == "stunnel.log_client_cert_rejected":
        # Under TLS 1.3 the server's reset can overtake its alert: stunnel then logs a reset
        # right after the handshake, which maps to its own failing finding.
        codes.setdefault(log_code, codes.get("stunnel.log_closed_after_handshake", Status.PASS))
    assert codes.get(log_code) is Status.FAIL, (codes, run.log[-2000:])
    if not run.started:
        assert "Configuration failed" in run.log


def test_logs_of_network_failures(stunnel_pki: StunnelPki, tmp_path: Path) -> None:
    """Refused connection, unknown CA, TLS 1.2 handshake failure, address in use: real log lines."""
    c, s = stunnel_pki.client, stunnel_pki.server
    # Connection refused: a port nothing listens on.
    closed = free_port()
    port = free_port()
    run = run_stunnel(config(stunnel_pki, closed, port), tmp_path / "refused", port)
    assert not run.echoed and log_codes(run)["stunnel.log_connect_refused"] is Status.FAIL
    # A server that does not trust the client's CA: alert unknown ca (48), on SSL_read under TLS 1.3.
    strict = EchoServer(s.crt, s.key, stunnel_pki.other.ca_crt)
    strict12 = EchoServer(s.crt, s.key, c.ca_crt, max_tls12=True)
    try:
        port = free_port()
        run = run_stunnel(config(stunnel_pki, strict.port, port), tmp_path / "unknown-ca", port)
        assert not run.echoed
        findings = {f.code: f for f in check_log(run.log, "log")}
        if "stunnel.log_closed_after_handshake" in findings:  # the reset overtook the alert (TLS 1.3)
            assert findings["stunnel.log_closed_after_handshake"].status is Status.FAIL
        else:
            assert "stunnel.log_client_cert_rejected" in findings, (sorted(findings), run.log[-3000:])
            # unknown_ca (48), or decrypt_error (51) when the server holds a CA of the same name
            # but another key (both test CAs are named alike): either way our certificate is refused.
            assert findings["stunnel.log_client_cert_rejected"].evidence["number"] in (48, 51)
        # TLS 1.2 server, no client certificate: handshake failure (40) on SSL_connect.
        port = free_port()
        no_cert = config(stunnel_pki, strict12.port, port).replace(f"cert = {c.bundle}\n", "")
        run = run_stunnel(no_cert, tmp_path / "hs", port)
        assert not run.echoed
        findings = {f.code: f for f in check_log(run.log, "log")}
        assert findings["stunnel.log_client_cert_rejected"].evidence["number"] == 40
    finally:
        strict.close()
        strict12.close()
    # Address already in use on accept.
    import socket

    with socket.socket() as holder:
        holder.bind((LOCAL, 0))
        holder.listen(1)
        busy = holder.getsockname()[1]
        run = run_stunnel(config(stunnel_pki, closed, busy), tmp_path / "busy", busy)
    assert log_codes(run)["stunnel.log_address_in_use"] is Status.FAIL

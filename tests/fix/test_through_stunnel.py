"""`--through-stunnel`: the real stunnel binary, run with a copy of the user's configuration, on 127.0.0.1.

stunnel (client mode) sits between the probe and the simplefix acceptor behind mTLS, as it
sits between a FIX client and the exchange. The findings come from stunnel's own log.
"""

from __future__ import annotations

import io
import json
import subprocess
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from bot import cli
from bot.cli import through_stunnel
from bot.engine import FixLogon, Status, diagnose
from bot.engine.report import Report
from tests.fix.acceptor import Acceptor, fix_acceptor
from tests.fix.conftest import FixPki
from tests.network.servers import need_tool

# Fake key markers, built at run time so that no key marker stands in the repository.
BEGIN_KEY = "-----BEGIN " + "PRIVATE KEY-----"
END_KEY = "-----END " + "PRIVATE KEY-----"

TARGET = "ITBIT_TEST"


@pytest.fixture(autouse=True)
def _stunnel() -> None:
    need_tool("stunnel", "stunnel4")


def write_config(
    folder: Path, pki: FixPki, acc: Acceptor, *, cert: str | None = None, cafile: str | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "stunnel.conf"
    conf.write_text(
        "; the user's own configuration\n"
        f"pid = {folder / 'fixcheck-test.pid'}\n"
        "output = /nonexistent/fixcheck-test.log\n"
        "[itbit]\n"
        "client = yes\n"
        "accept = 127.0.0.1:1234\n"
        f"connect = {acc.endpoint}\n"
        f"cert = {cert if cert is not None else pki.client.bundle}\n"
        f"CAfile = {cafile if cafile is not None else pki.server.ca_pem}\n"
        "verifyChain = yes\n"
        "checkHost = localhost\n"
        "[other]\n"
        "client = yes\n"
        "accept = 127.0.0.1:1\n"
        "connect = 127.0.0.1:2\n"
        f"cert = {pki.client.bundle}\n"
        f"CAfile = {pki.server.ca_pem}\n"
        "verifyChain = yes\n"
        "checkHost = localhost\n"
    )
    return conf


def run(conf: Path, logon: FixLogon | None, *, timeout: float = 3.0, endpoint: str | None = None) -> Report:
    tunnel = through_stunnel.run(conf, conf.read_bytes(), timeout=timeout, logon=logon, endpoint=endpoint)
    return diagnose([], stunnel=(conf.name, conf.read_bytes()), tunnel_run=tunnel, timeout=timeout)


def codes(report: Report, step: int) -> dict[str, Status]:
    return {f.code: f.status for f in report.step(step).findings}


def test_good_config_carries_a_logon_end_to_end(fixpki: FixPki, tmp_path: Path) -> None:
    with fix_acceptor(fixpki.context(), target=TARGET) as acc:
        conf = write_config(tmp_path, fixpki, acc)
        report = run(conf, FixLogon("CLIENT1", TARGET))
        types = acc.types()
    assert types == ["A", "5"]
    s4, s7 = codes(report, 4), codes(report, 7)
    assert s4["fix.logon_ok"] is Status.PASS and report.step(4).status is Status.PASS
    assert s7["stunnel.run_started"] is Status.PASS
    assert s7["stunnel.log_config_ok"] is Status.PASS
    assert s7["stunnel.run_bytes_crossed"] is Status.PASS
    assert s7["stunnel.log_traffic"] is Status.PASS  # stunnel's own count of the bytes
    fix = next(f for f in report.step(4).findings if f.code == "fix.logon_ok")
    assert fix.evidence["via"] == "stunnel" and "through stunnel ([itbit]" in fix.message
    started = next(f for f in report.step(7).findings if f.code == "stunnel.run_started")
    changes = " ".join(started.evidence["changes"])
    assert "accept 127.0.0.1:1234 -> 127.0.0.1:" in changes and "[other]" in changes and "output" in changes


def test_good_config_without_logon_reports_the_handshake(fixpki: FixPki, tmp_path: Path) -> None:
    with fix_acceptor(fixpki.context(), target=TARGET) as acc:
        conf = write_config(tmp_path, fixpki, acc)
        report = run(conf, None)
        types = acc.types()
    assert types == []  # nothing but the TLS handshake crossed
    s7 = codes(report, 7)
    assert s7["stunnel.run_tls_ok"] is Status.PASS
    # The engine alone (as in Slack) cannot look at the pid file's folder: it says the folder must exist.
    assert {c for c, st in s7.items() if st is not Status.PASS and st is not Status.SKIP} == {"stunnel.pid_folder"}
    # Step 4 reports the handshake stunnel made (no --connect was given).
    assert codes(report, 4) == {"tls.through_stunnel_ok": Status.PASS}


def test_wrong_compid_through_the_tunnel(fixpki: FixPki, tmp_path: Path) -> None:
    with fix_acceptor(fixpki.context(), target=TARGET) as acc:
        conf = write_config(tmp_path, fixpki, acc)
        report = run(conf, FixLogon("CLIENT1", "ITBIT"))
    assert codes(report, 4)["fix.closed"] is Status.FAIL
    assert codes(report, 7)["stunnel.run_bytes_sent"] is Status.PASS  # the tunnel did its part


def test_missing_cert_file(fixpki: FixPki, tmp_path: Path) -> None:
    with fix_acceptor(fixpki.context(), target=TARGET) as acc:
        conf = write_config(tmp_path, fixpki, acc, cert=str(tmp_path / "missing" / "fix.itbit.pem"))
        report = run(conf, FixLogon("CLIENT1", TARGET))
        types = acc.types()
    assert types == []
    s7 = codes(report, 7)
    assert s7["stunnel.run_refused"] is Status.FAIL
    assert s7["stunnel.log_file_not_found"] is Status.FAIL  # from stunnel's own log
    finding = next(f for f in report.step(7).findings if f.code == "stunnel.log_file_not_found")
    assert "missing/fix.itbit.pem" in finding.message
    assert codes(report, 4)["fix.not_sent"] is Status.SKIP


def test_wrong_cafile_with_verify_chain(fixpki: FixPki, tmp_path: Path) -> None:
    with fix_acceptor(fixpki.context(), target=TARGET) as acc:
        # The client's own CA instead of the exchange's: the classic mix-up.
        conf = write_config(tmp_path, fixpki, acc, cafile=str(fixpki.client.ca_crt))
        report = run(conf, FixLogon("CLIENT1", TARGET))
        types = acc.types()
    assert types == []
    s4, s7 = codes(report, 4), codes(report, 7)
    assert s7["stunnel.run_started"] is Status.PASS
    assert s7["stunnel.log_server_cert_untrusted"] is Status.FAIL  # from stunnel's own log
    assert s7["stunnel.run_no_reply"] is Status.FAIL
    assert s4["fix.not_sent"] is Status.SKIP  # the root cause is step 7's
    assert report.to_dict()["first_failure"]["step"] == 7
    note = next(f for f in report.step(4).findings if f.code == "fix.not_sent")
    assert "connection to the exchange failed" in note.message


def test_relative_paths_absolute_and_no_key_copied(
    fixpki: FixPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "output = stunnel.log\nsetuid = stunnel4\n[fix]\nclient = yes\naccept = 1234\nconnect = host:443\n"
        "cert = certs/fix.itbit.pem\nCAfile = /abs/itbit-ca.pem\n"
    )
    prepared = through_stunnel.prepare_config(text, tmp_path, 5555)
    assert f"cert = {tmp_path / 'certs/fix.itbit.pem'}" in prepared.text
    assert "CAfile = /abs/itbit-ca.pem" in prepared.text
    assert "accept = 127.0.0.1:5555" in prepared.text and "accept = 1234" not in prepared.text
    assert "setuid" not in prepared.text and "output" not in prepared.text
    assert prepared.text.startswith("foreground = yes\npid =\n")
    # With --connect, the service that connects there is the one run; otherwise the first.
    two = "[a]\nclient = yes\naccept = 1\nconnect = h1:1\n[b]\nclient = yes\naccept = 2\nconnect = h2:2\n"
    assert through_stunnel.prepare_config(two, tmp_path, 5555).service == "a"
    chosen = through_stunnel.prepare_config(two, tmp_path, 5555, "h2:2")
    assert chosen.service == "b" and "connect = h1:1" not in chosen.text
    # Pasted key material is never written anywhere.
    pasted = text + BEGIN_KEY + "\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n" + END_KEY + "\n"
    assert through_stunnel.prepare_config(pasted, tmp_path, 5555).error is not None

    # The temporary folder is private while it exists, holds only the configuration and the log, and goes away.
    made: list[Path] = []
    seen: dict[str, object] = {}
    real_mkdtemp = tempfile.mkdtemp
    real_popen = through_stunnel.subprocess.Popen

    def mkdtemp(*args: object, **kwargs: object) -> str:
        path = real_mkdtemp(*args, **kwargs)  # type: ignore[call-overload]
        made.append(Path(path))
        return str(path)

    def popen(*args: object, **kwargs: object) -> object:
        folder = made[-1]
        seen["mode"] = folder.stat().st_mode & 0o777
        seen["files"] = sorted(p.name for p in folder.iterdir())
        seen["config"] = (folder / "stunnel.conf").read_text()
        return real_popen(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(through_stunnel.tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(through_stunnel.subprocess, "Popen", popen)
    with fix_acceptor(fixpki.context(), target=TARGET) as acc:
        conf = write_config(tmp_path / "conf", fixpki, acc)
        run(conf, FixLogon("CLIENT1", TARGET))
    assert seen["mode"] == 0o700 and seen["files"] == ["stunnel.conf", "stunnel.log"]
    assert "PRIVATE KEY" not in str(seen["config"]) and str(fixpki.client.bundle) in str(seen["config"])
    assert made and not made[-1].exists()


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_cli_through_stunnel_with_logon(fixpki: FixPki, tmp_path: Path) -> None:
    with fix_acceptor(fixpki.context(), target=TARGET) as acc:
        conf = write_config(tmp_path, fixpki, acc)
        code, out, _ = _cli(
            "diagnose",
            str(fixpki.client.ca_crt),
            "--stunnel",
            str(conf),
            "--through-stunnel",
            "--logon",
            f"CLIENT1:{TARGET}",
            "--timeout",
            "3",
            "--format",
            "json",
        )
    data = json.loads(out)
    step4 = data["steps"][3]
    assert code == 0, data["first_failure"]
    assert [f["code"] for f in step4["findings"] if f["code"].startswith("fix.")] == ["fix.logon_ok"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--through-stunnel"], "--stunnel FILE"),
        (["--logon", "A:B"], "--connect HOST:PORT"),
        (["--connect", "127.0.0.1:1", "--logon", "AB"], "SENDER:TARGET"),
        (["--connect", "127.0.0.1:1", "--reset-seq"], "--logon"),
        (["--connect", "127.0.0.1:1", "--logon", "A:B", "--heartbeat", "0"], "heartbeat"),
    ],
)
def test_cli_usage_errors(argv: list[str], needle: str, tmp_path: Path) -> None:
    pem = tmp_path / "ca.crt"
    pem.write_text("x")
    code, out, err = _cli("diagnose", str(pem), *argv)
    assert code == 2 and needle in err and out == ""


def test_cli_refuses_without_stunnel_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "stunnel.conf"
    conf.write_text("[fix]\nclient = yes\naccept = 1234\nconnect = h:1\n")
    monkeypatch.setattr(through_stunnel, "find_stunnel", lambda: None)
    code, _out, err = _cli("diagnose", "--stunnel", str(conf), "--through-stunnel")
    assert code == 2 and "not installed" in err and "apt-get install stunnel4" in err


def test_no_stunnel_process_left(fixpki: FixPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[subprocess.Popen[bytes]] = []
    real_popen = through_stunnel.subprocess.Popen

    def popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        proc = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        started.append(proc)
        return proc  # type: ignore[no-any-return]

    monkeypatch.setattr(through_stunnel.subprocess, "Popen", popen)
    with fix_acceptor(fixpki.context(), target=TARGET) as acc:
        run(write_config(tmp_path, fixpki, acc), FixLogon("CLIENT1", TARGET))
    assert len(started) == 1 and started[0].poll() is not None  # stopped and reaped

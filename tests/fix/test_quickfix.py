"""The Logon probe against QuickFIX's real acceptor, behind a real stunnel in server mode (mTLS), on 127.0.0.1.

QuickFIX comes from the `quickfix-ssl` wheel (a test dependency: the same `quickfix` module;
`pip install quickfix` would build it from source for ~9 minutes). Its own SSLSocketAcceptor
fails every handshake ("Spurious SSL handshake interrupt"), so the plain acceptor runs behind
stunnel. Outside CI the tests skip where the module is missing; with CI set they fail.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import through_stunnel
from bot.engine import FixLogon, Status, diagnose
from tests.fix.conftest import FixPki
from tests.network.servers import HOST, free_port, need_tool, stop, wait_listening

if importlib.util.find_spec("quickfix") is None:
    if os.environ.get("CI"):
        # .ci/run installs the quickfix-ssl wheel: in CI a missing acceptor is a failure.
        pytest.fail("quickfix is not installed: .ci/run should have installed it", pytrace=False)
    pytest.skip("quickfix is not installed (pip install quickfix-ssl)", allow_module_level=True)

TARGET = "ITBIT_TEST"  # the acceptor's SenderCompID: the TargetCompID the client logs on to
SENDER = "CLIENT1"
ACCEPTOR = Path(__file__).with_name("quickfix_acceptor.py")


@contextlib.contextmanager
def quickfix_acceptor(folder: Path) -> Iterator[int]:
    port = free_port()
    settings = folder / "acceptor.cfg"
    settings.write_text(
        "[DEFAULT]\nConnectionType=acceptor\n"
        f"SocketAcceptHost={HOST}\nSocketAcceptPort={port}\n"
        "StartTime=00:00:00\nEndTime=00:00:00\nUseDataDictionary=N\n"
        f"FileLogPath={folder / 'log'}\n"
        f"[SESSION]\nBeginString=FIX.4.2\nSenderCompID={TARGET}\nTargetCompID={SENDER}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, str(ACCEPTOR), str(settings)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == b"READY":
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not ready.wait(20):
            raise RuntimeError("QuickFIX's acceptor did not start")
        yield port
    finally:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            stop(proc)


@contextlib.contextmanager
def stunnel_in_front(folder: Path, pki: FixPki, backend: int) -> Iterator[int]:
    """stunnel in server mode: mTLS on the outside (client certificate required), plain FIX to QuickFIX."""
    exe = need_tool("stunnel", "stunnel4")
    port = free_port()
    conf = folder / "server-stunnel.conf"
    conf.write_text(
        "foreground = yes\npid =\ndebug = info\nsyslog = no\n[fix]\n"
        f"accept = {HOST}:{port}\nconnect = {HOST}:{backend}\n"
        f"cert = {pki.server.crt}\nkey = {pki.server.key}\nCAfile = {pki.client.ca_crt}\n"
        "verifyChain = yes\nrequireCert = yes\n"
    )
    with (folder / "server-stunnel.log").open("wb") as log:
        proc = subprocess.Popen([exe, str(conf)], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, 10, proc)
        yield port
    finally:
        stop(proc)


@pytest.fixture
def exchange(fixpki: FixPki, tmp_path: Path) -> Iterator[str]:
    with quickfix_acceptor(tmp_path) as backend, stunnel_in_front(tmp_path, fixpki, backend) as port:
        yield f"{HOST}:{port}"


def fix_code(report: object) -> str:
    codes = [f.code for f in report.step(4).findings if f.code.startswith("fix.")]  # type: ignore[attr-defined]
    assert len(codes) == 1, codes
    return codes[0]


def test_quickfix_logon_logout_and_sequence_numbers(fixpki: FixPki, exchange: str) -> None:
    start = time.monotonic()
    first = diagnose(fixpki.files(), endpoint=exchange, logon=FixLogon(SENDER, TARGET), timeout=5)
    assert fix_code(first) == "fix.logon_ok", first.step(4).findings
    ok = next(f for f in first.step(4).findings if f.code == "fix.logon_ok")
    assert ok.evidence["logout_answered"] is True  # QuickFIX confirmed the Logout
    assert first.step(4).status is Status.PASS

    # QuickFIX now expects MsgSeqNum 3: a second Logon with 34=1 is logged out with its reason.
    again = diagnose(fixpki.files(), endpoint=exchange, logon=FixLogon(SENDER, TARGET), timeout=5)
    assert fix_code(again) == "fix.logout"
    logout = next(f for f in again.step(4).findings if f.code == "fix.logout")
    assert "MsgSeqNum too low" in logout.message and "--reset-seq" in (logout.remediation or "")

    # ResetSeqNumFlag=Y brings the session back.
    reset = diagnose(fixpki.files(), endpoint=exchange, logon=FixLogon(SENDER, TARGET, reset_seq=True), timeout=5)
    assert fix_code(reset) == "fix.logon_ok"
    assert time.monotonic() - start < 30


def test_quickfix_unknown_target_closes_silently(fixpki: FixPki, exchange: str) -> None:
    report = diagnose(fixpki.files(), endpoint=exchange, logon=FixLogon(SENDER, "ITBIT_PROD"), timeout=5)
    assert fix_code(report) == "fix.closed"
    assert any(f.code == "tls.ok" for f in report.step(4).findings)


def test_quickfix_through_the_users_stunnel(fixpki: FixPki, exchange: str, tmp_path: Path) -> None:
    conf = tmp_path / "client-stunnel.conf"
    conf.write_text(
        f"[itbit]\nclient = yes\naccept = 127.0.0.1:1234\nconnect = {exchange}\ncert = {fixpki.client.bundle}\n"
        f"CAfile = {fixpki.server.ca_pem}\nverifyChain = yes\ncheckHost = localhost\n"
    )
    tunnel = through_stunnel.run(conf, conf.read_bytes(), timeout=5, logon=FixLogon(SENDER, TARGET, reset_seq=True))
    report = diagnose([], stunnel=(conf.name, conf.read_bytes()), tunnel_run=tunnel, timeout=5)
    assert fix_code(report) == "fix.logon_ok"
    assert {f.code for f in report.step(7).findings} >= {"stunnel.run_started", "stunnel.run_bytes_crossed"}

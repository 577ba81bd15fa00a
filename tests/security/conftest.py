"""Fixtures for the security tests: canary keys, a leak guard, a fake Slack, an mTLS server.

Everything listens on 127.0.0.1. The canary keys are made per session with the openssl CLI
in pytest's temporary folder and never committed.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.leakguard import Canaries, LeakGuard, make_canaries
from tests.slack.fakeslack import FakeSlack
from tests.slack.localservers import LOOPBACK, Bot, bot_env, free_port, start_bot, stop_bot

JOBS_PER_MINUTE = 8


@pytest.fixture(scope="session")
def canaries(tmp_path_factory: pytest.TempPathFactory) -> Canaries:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make the canary keys")
    return make_canaries(tmp_path_factory.mktemp("canaries"))


@pytest.fixture(scope="session")
def guard(canaries: Canaries) -> LeakGuard:
    return LeakGuard(canaries)


@pytest.fixture(scope="session")
def security_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@dataclass(frozen=True)
class MtlsServer:
    port: int

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.port}"


@pytest.fixture(scope="session")
def canary_mtls_server(canaries: Canaries) -> Iterator[MtlsServer]:
    """`openssl s_server` with a canary certificate, demanding a client certificate from the canary CA."""
    port = free_port()
    proc = subprocess.Popen(
        [
            "openssl", "s_server", "-accept", f"{LOOPBACK}:{port}",
            "-cert", str(canaries.host.cert_path), "-key", str(canaries.host.key_path),
            "-CAfile", str(canaries.ca.cert_path), "-Verify", "2", "-quiet", "-naccept", "50",
        ],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    yield MtlsServer(port)
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def bot_tmpdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bot's TMPDIR: empty at start, and it must hold no key material at any point we look."""
    return tmp_path_factory.mktemp("bot-tmpdir")


@pytest.fixture(scope="session")
def security_bot(
    security_slack: FakeSlack,
    canary_mtls_server: MtlsServer,
    bot_tmpdir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Bot]:
    """The real bot (HTTP mode, uvicorn) at DEBUG, with small limits so that abuse reaches them quickly."""
    env = bot_env(
        security_slack,
        free_port(),
        f"*.itbit.com:*,{canary_mtls_server.endpoint}",
        FIXCHECK_MAX_FILE_BYTES="65536",
        FIXCHECK_PROBE_TIMEOUT="3",
        FIXCHECK_PROBES_PER_MINUTE="5",
        FIXCHECK_JOBS_PER_MINUTE=str(JOBS_PER_MINUTE),
        FIXCHECK_WORKERS="4",
        LOG_LEVEL="DEBUG",
        TMPDIR=str(bot_tmpdir),
    )
    bot = start_bot(env, tmp_path_factory.mktemp("security-bot") / "bot.log")
    yield bot
    stop_bot(bot)

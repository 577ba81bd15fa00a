"""Fixtures: a fake Slack, real test PKI, local TLS/stalling servers, and the bot itself.

The bot runs as a real subprocess (`python -m bot`, HTTP mode, uvicorn) bound to
127.0.0.1, with SLACK_API_URL pointing at the fake Slack. Everything listens on
127.0.0.1 only. One bot serves the whole session; tests keep apart by channel, user,
event id and response_url.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.lab.onboarding import ClientFiles, ServerFiles, make_client, make_server
from tests.slack.fakeslack import FakeSlack
from tests.slack.localservers import LOOPBACK, Bot, StallServer, bot_env, free_port, start_bot, stop_bot

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SlackPki:
    client: ClientFiles
    server: ServerFiles

    def guide_files(self) -> dict[str, bytes]:
        """The guide's three files the client uses: fix.itbit.pem, ca.crt, itbit-ca.pem."""
        return {
            "fix.itbit.pem": self.client.bundle.read_bytes(),
            "ca.crt": self.client.ca_crt.read_bytes(),
            "itbit-ca.pem": self.server.ca_pem.read_bytes(),
        }

    def key_lines(self) -> list[str]:
        """Every base64 line of every private key made for the tests (to prove none leaks)."""
        lines: list[str] = []
        for path in (self.client.ca_key, self.client.host_key, self.server.key, self.server.ca_key):
            for line in path.read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("-----") and len(line) >= 16:
                    lines.append(line)
        return lines


@pytest.fixture(scope="session")
def slack_pki(tmp_path_factory: pytest.TempPathFactory) -> SlackPki:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make test certificates")
    base = tmp_path_factory.mktemp("slack-pki")
    return SlackPki(make_client(base / "client"), make_server(base / "server"))


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@dataclass(frozen=True)
class TlsServer:
    port: int

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.port}"


@pytest.fixture(scope="session")
def tls_server(slack_pki: SlackPki) -> Iterator[TlsServer]:
    """`openssl s_server` demanding a client certificate from the client CA (whose name it announces)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            "openssl", "s_server", "-accept", f"{LOOPBACK}:{port}",
            "-cert", str(slack_pki.server.crt), "-key", str(slack_pki.server.key),
            "-CAfile", str(slack_pki.client.ca_crt), "-Verify", "2", "-quiet",
        ],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait_port(port)
    yield TlsServer(port)
    proc.terminate()
    proc.wait(5)


@pytest.fixture(scope="session")
def stall_server() -> Iterator[StallServer]:
    server = StallServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def bot(
    fake_slack: FakeSlack, tls_server: TlsServer, stall_server: StallServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Bot]:
    allowed = f"*.itbit.com:*,{tls_server.endpoint},{LOOPBACK}:{stall_server.port},localhost:*"
    env = bot_env(
        fake_slack,
        free_port(),
        allowed,
        FIXCHECK_MAX_FILE_BYTES="65536",
        FIXCHECK_PROBE_TIMEOUT="3",
        FIXCHECK_PROBES_PER_MINUTE="5",
        LOG_LEVEL="DEBUG",
    )
    bot = start_bot(env, tmp_path_factory.mktemp("bot") / "bot.log")
    yield bot
    stop_bot(bot)


@pytest.fixture()
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def _wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {LOOPBACK}:{port}")

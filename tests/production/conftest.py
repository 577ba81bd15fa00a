"""Fixtures for the production tests: a real redis-server, the WebSocket fake of Slack, bots in Socket Mode.

Everything listens on 127.0.0.1. redis-server runs with no persistence, on a free port,
in a temporary folder; it is stopped (or killed, when a test wants it gone) by the test.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.redisserver import RedisServer, start_redis
from tests.slack.conftest import fake_slack, slack_pki  # noqa: F401 - fixtures shared with the HTTP tests
from tests.slack.fakeslack import APP_TOKEN, FakeSlack
from tests.slack.fakesocket import FakeSocketMode
from tests.slack.localservers import LOOPBACK, Bot, StallServer, bot_env, free_port, start_bot, stop_bot


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_redis(tmp_path)
    yield server
    server.stop()


BotFactory = Callable[..., Bot]


@pytest.fixture()
def bots(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[BotFactory]:  # noqa: F811
    """`bots(**env)` starts a bot subprocess against the fake Slack; all are stopped at the end."""
    started: list[Bot] = []

    def start(allowed: str = "localhost:*", **extra: str) -> Bot:
        env = bot_env(fake_slack, free_port(), allowed, **extra)
        bot = start_bot(env, tmp_path / f"bot{len(started)}.log")
        started.append(bot)
        return bot

    yield start
    for bot in started:
        if bot.proc.poll() is None:
            stop_bot(bot)


@pytest.fixture()
def stall() -> Iterator[StallServer]:
    server = StallServer()
    yield server
    server.close()


@dataclass
class SocketBot:
    bot: Bot
    socket: FakeSocketMode
    slack: FakeSlack


@pytest.fixture(scope="module")
def socket_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SocketBot]:
    """One bot in Socket Mode against its own fake Slack (Web API + WebSocket)."""
    with FakeSlack() as slack, FakeSocketMode() as socket:
        slack.socket_urls = socket.new_url
        env = bot_env(
            slack, free_port(), f"localhost:*,{LOOPBACK}:*",
            SLACK_APP_TOKEN=APP_TOKEN, FIXCHECK_SOCKET_GRACE="3", FIXCHECK_PROBE_TIMEOUT="3", LOG_LEVEL="DEBUG",
        )  # fmt: skip
        bot = start_bot(env, tmp_path_factory.mktemp("socket-bot") / "bot.log")
        socket.wait_connected(1, 20)
        yield SocketBot(bot, socket, slack)
        stop_bot(bot)


def metric(bot: Bot, name: str) -> float | None:
    """The value of an unlabelled sample in the bot's /metrics, or None when absent."""
    for line in httpx.get(f"{bot.url}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def wait_until(pred: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not pred():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - start

"""Replay protection across replicas: with FIXCHECK_REDIS_URL, a signed request replayed to another replica is ignored.

Two real bots (subprocesses) share one real redis-server on 127.0.0.1; the replay is the
captured request's exact bytes and headers, within Slack's 5-minute window.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.redisserver import start_redis
from tests.slack.fakeslack import FakeSlack, command_body, signed_headers
from tests.slack.localservers import Bot, bot_env, free_port, start_bot, stop_bot


@pytest.fixture()
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = start_redis(tmp_path)
    yield server.url
    server.stop()


@pytest.fixture()
def two_bots(security_slack: FakeSlack, redis_url: str, tmp_path: Path) -> Iterator[tuple[Bot, Bot]]:
    started = [
        start_bot(bot_env(security_slack, free_port(), "*.itbit.com:*", FIXCHECK_REDIS_URL=redis_url), tmp_path / f"{n}.log")
        for n in ("a", "b")
    ]
    yield started[0], started[1]
    for bot in started:
        stop_bot(bot)


def test_a_replay_sent_to_another_replica_is_ignored(two_bots: tuple[Bot, Bot], security_slack: FakeSlack) -> None:
    first, second = two_bots
    key = f"replay{uuid.uuid4().hex[:8]}"
    body = command_body("help", user=f"U{uuid.uuid4().hex[:6].upper()}", response_url=security_slack.response_url(key))
    headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
    with httpx.Client(timeout=10) as http:
        original = http.post(first.events_url, content=body, headers=headers)
        replayed = http.post(second.events_url, content=body, headers=headers)
        again = http.post(first.events_url, content=body, headers=headers)
    assert original.status_code == 200 and "fixcheck" in original.text.lower(), original.text[:200]
    assert replayed.status_code == 200 and replayed.text == "", "the other replica ran the replayed command"
    assert again.status_code == 200 and again.text == ""
    assert "ignored a replayed request" in second.logs()

"""Two replicas on one real redis-server (127.0.0.1, free port): shared de-duplication, limits and jobs.

The same scenarios run without FIXCHECK_REDIS_URL too, where two replicas answer a
retried event twice and each counts its own limit: the check is sensitive to the store.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.production.conftest import BotFactory, RedisServer, metric, wait_until
from tests.slack.conftest import SlackPki
from tests.slack.fakeslack import APP_TOKEN, FakeSlack, event_body, send_command, send_event
from tests.slack.fakesocket import FakeSocketMode
from tests.slack.localservers import LOOPBACK, StallServer, bot_env, free_port, start_bot, stop_bot

RETRY_WORDS = "Please send it again"


def _id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8].upper()}"


def _paste(slack_pki: SlackPki, user: str) -> dict[str, object]:
    text = f"```{slack_pki.client.ca_crt.read_text()}```"
    return {"type": "message", "channel": _id("D"), "channel_type": "im", "user": user, "text": text, "ts": "7.1"}


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "memory"])
def test_a_retry_on_another_replica_is_answered_once_only_with_redis(
    shared: bool, bots: BotFactory, redis_server: RedisServer, fake_slack: FakeSlack, slack_pki: SlackPki
) -> None:
    extra = {"FIXCHECK_REDIS_URL": redis_server.url} if shared else {}
    a, b = bots(**extra), bots(**extra)
    event, event_id = _paste(slack_pki, _id("U")), _id("Ev")
    with httpx.Client(timeout=10) as http:
        assert send_event(http, a.events_url, event, event_id).status_code == 200
        assert send_event(http, b.events_url, event, event_id, retry=1).status_code == 200
    channel = str(event["channel"])
    fake_slack.wait_for(lambda c: c.api == "chat.postMessage" and c.params.get("channel") == channel)
    time.sleep(1.5)
    assert len(fake_slack.posts_to(channel)) == (1 if shared else 2)


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "memory"])
def test_the_per_user_limit_is_shared_only_with_redis(
    shared: bool, bots: BotFactory, redis_server: RedisServer, fake_slack: FakeSlack, slack_pki: SlackPki
) -> None:
    extra = {"FIXCHECK_REDIS_URL": redis_server.url} if shared else {}
    a, b = bots(FIXCHECK_JOBS_PER_MINUTE="2", **extra), bots(FIXCHECK_JOBS_PER_MINUTE="2", **extra)
    user = _id("U")
    events = [_paste(slack_pki, user) for _ in range(3)]
    with httpx.Client(timeout=10) as http:
        for bot, event in zip((a, a, b), events, strict=True):
            assert send_event(http, bot.events_url, event, _id("Ev")).status_code == 200
    channels = {str(e["channel"]) for e in events}
    posts = fake_slack.wait_for(lambda c: c.api == "chat.postMessage" and c.params.get("channel") in channels, 3)
    refused = [p for p in posts if "FIXCHECK_JOBS_PER_MINUTE" in p.all_text()]
    assert len(refused) == (1 if shared else 0)
    if shared:
        assert refused[0].params["channel"] == events[2]["channel"], "the third request, on the other replica"
        assert metric(b, "fixcheck_jobs_refused_total") == 1 and metric(a, "fixcheck_jobs_refused_total") == 0


def test_redis_going_away_degrades_to_memory_with_one_log_line(
    bots: BotFactory, redis_server: RedisServer, fake_slack: FakeSlack, slack_pki: SlackPki
) -> None:
    bot = bots(FIXCHECK_REDIS_URL=redis_server.url)
    assert metric(bot, "fixcheck_shared_store_up") == 1
    redis_server.kill()
    channels = []
    with httpx.Client(timeout=10) as http:
        for _ in range(3):
            event = _paste(slack_pki, _id("U"))
            channels.append(str(event["channel"]))
            assert send_event(http, bot.events_url, event, _id("Ev")).status_code == 200
    for channel in channels:  # still answered, from memory
        fake_slack.wait_for(lambda c, ch=channel: c.api == "chat.postMessage" and c.params.get("channel") == ch)
    assert metric(bot, "fixcheck_shared_store_up") == 0
    ready = httpx.get(f"{bot.url}/readyz")
    assert ready.status_code == 200 and ready.json()["shared_store"].startswith("down")
    logs = bot.logs()
    assert logs.count("shared store (Redis) unavailable") == 1
    assert "Traceback" not in logs and bot.proc.poll() is None


def test_a_replica_dying_mid_job_leaves_its_user_a_please_retry(
    bots: BotFactory, redis_server: RedisServer, fake_slack: FakeSlack, stall: StallServer
) -> None:
    endpoint = f"{LOOPBACK}:{stall.port}"
    env = {"FIXCHECK_REDIS_URL": redis_server.url, "FIXCHECK_PROBE_TIMEOUT": "30"}
    doomed, survivor = bots(allowed=endpoint, **env), bots(allowed=endpoint, **env)
    key = _id("dying")
    with httpx.Client(timeout=10) as http:
        response = send_command(http, doomed.events_url, endpoint, user=_id("U"), response_url=fake_slack.response_url(key))
        assert response.status_code == 200
    wait_until(lambda: stall.accepted > 0, 10, "the probe reached the stalled server")
    doomed.proc.kill()  # no SIGTERM: the replica just dies
    doomed.proc.wait(5)
    posted = fake_slack.wait_for(lambda c: c.path == f"/response/{key}", 1, 30)
    assert RETRY_WORDS in posted[0].all_text()
    assert survivor.proc.poll() is None


def test_socket_mode_replicas_answer_an_envelope_resent_on_the_other_connection_once(
    redis_server: RedisServer, slack_pki: SlackPki, tmp_path: Path
) -> None:
    with FakeSlack() as slack, FakeSocketMode() as sm:
        slack.socket_urls = sm.new_url
        bots = []
        try:
            for n in range(2):
                env = bot_env(slack, free_port(), "localhost:*", SLACK_APP_TOKEN=APP_TOKEN,
                              FIXCHECK_REDIS_URL=redis_server.url)  # fmt: skip
                bots.append(start_bot(env, tmp_path / f"sm{n}.log"))
            wait_until(lambda: len(sm.live()) == 2, 20, "both replicas connected")
            first, second = sm.live()
            event = _paste(slack_pki, _id("U"))
            payload = json.loads(event_body(event, _id("Ev")))
            sm.wait_ack(sm.send("events_api", payload, conn=first))
            sm.wait_ack(sm.send("events_api", payload, conn=second, retry_attempt=1))
            channel = str(event["channel"])
            slack.wait_for(lambda c: c.api == "chat.postMessage" and c.params.get("channel") == channel)
            time.sleep(1.5)
            assert len(slack.posts_to(channel)) == 1
        finally:
            for bot in bots:
                stop_bot(bot)


def test_a_replica_stopped_by_sigterm_is_not_answered_for_twice(
    bots: BotFactory, redis_server: RedisServer, fake_slack: FakeSlack, stall: StallServer
) -> None:
    endpoint = f"{LOOPBACK}:{stall.port}"
    env = {"FIXCHECK_REDIS_URL": redis_server.url, "FIXCHECK_PROBE_TIMEOUT": "30", "FIXCHECK_SHUTDOWN_GRACE": "1"}
    stopping, survivor = bots(allowed=endpoint, **env), bots(allowed=endpoint, **env)
    key = _id("stopped")
    with httpx.Client(timeout=10) as http:
        send_command(http, stopping.events_url, endpoint, user=_id("U"), response_url=fake_slack.response_url(key))
    wait_until(lambda: stall.accepted > 0, 10, "the probe is in flight")
    stopping.proc.send_signal(signal.SIGTERM)
    assert stopping.proc.wait(10) == 0
    fake_slack.wait_for(lambda c: c.path == f"/response/{key}", 1, 5)
    assert not redis_server.client().hgetall("fixcheck:jobs"), "no job left for another replica to answer"
    time.sleep(3)
    assert len(fake_slack.find(lambda c: c.path == f"/response/{key}")) == 1
    assert survivor.proc.poll() is None


def test_a_redis_blip_does_not_ask_for_a_retry_after_the_real_answer(
    bots: BotFactory, redis_server: RedisServer, fake_slack: FakeSlack, stall: StallServer
) -> None:
    endpoint = f"{LOOPBACK}:{stall.port}"
    env = {"FIXCHECK_REDIS_URL": redis_server.url, "FIXCHECK_PROBE_TIMEOUT": "3"}
    answering, sweeping = bots(allowed=endpoint, **env), bots(allowed=endpoint, **env)
    key = _id("blip")
    with httpx.Client(timeout=10) as http:
        send_command(http, answering.events_url, endpoint, user=_id("U"), response_url=fake_slack.response_url(key))
    wait_until(lambda: stall.accepted > 0, 10, "the slow probe is in flight")
    paused = time.monotonic()
    # Redis stops answering every client for 9 s: the probe's answer goes out, its record cannot be deleted.
    redis_server.client().execute_command("CLIENT", "PAUSE", "9000", "ALL")
    posted = fake_slack.wait_for(lambda c: c.path == f"/response/{key}", 1, 15)
    assert RETRY_WORDS not in posted[0].all_text(), "the real answer first"
    # Long enough for the other replica's sweeper to see the lease gone (9 s pause + 15 s lease + a tick).
    while time.monotonic() - paused < 9 + 15 + 6:
        time.sleep(0.5)
    posted = fake_slack.find(lambda c: c.path == f"/response/{key}")
    assert len(posted) == 1, [p.all_text()[:80] for p in posted]
    assert not redis_server.client().hgetall("fixcheck:jobs"), "the answered job's record was deleted"
    assert answering.proc.poll() is None and sweeping.proc.poll() is None

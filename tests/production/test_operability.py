"""SIGTERM with a job in flight, /metrics, and JSON logs, on real bot processes."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path

import httpx

from tests.production.conftest import BotFactory, wait_until
from tests.slack.conftest import SlackPki
from tests.slack.fakeslack import APP_TOKEN, FakeSlack, send_command, send_event
from tests.slack.fakesocket import FakeSocketMode
from tests.slack.localservers import LOOPBACK, StallServer, bot_env, free_port, start_bot, stop_bot

RETRY_WORDS = "Please send it again"
METRIC_NAMES = (
    "fixcheck_diagnoses_total", "fixcheck_ack_seconds", "fixcheck_reply_seconds", "fixcheck_probe_seconds",
    "fixcheck_jobs_queued", "fixcheck_jobs_refused_total", "fixcheck_slack_api_errors_total",
    "fixcheck_socket_connected", "fixcheck_socket_reconnects_total", "fixcheck_shared_store_up",
)  # fmt: skip


def _id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8].upper()}"


def test_sigterm_with_a_job_in_flight_posts_please_retry_and_exits_0(
    bots: BotFactory, fake_slack: FakeSlack, stall: StallServer
) -> None:
    endpoint = f"{LOOPBACK}:{stall.port}"
    bot = bots(allowed=endpoint, FIXCHECK_PROBE_TIMEOUT="30", FIXCHECK_SHUTDOWN_GRACE="2")
    key = _id("term")
    with httpx.Client(timeout=10) as http:
        send_command(http, bot.events_url, endpoint, user=_id("U"), response_url=fake_slack.response_url(key))
    wait_until(lambda: stall.accepted > 0, 10, "the probe is in flight")
    sent = time.monotonic()
    bot.proc.send_signal(signal.SIGTERM)
    assert bot.proc.wait(2 + 5 + 1) == 0
    assert time.monotonic() - sent <= 2 + 5
    posted = fake_slack.wait_for(lambda c: c.path == f"/response/{key}", 1, 5)
    assert RETRY_WORDS in posted[0].all_text()
    assert "Traceback" not in bot.logs()


def test_sigterm_lets_a_job_that_finishes_within_the_grace_answer(
    bots: BotFactory, fake_slack: FakeSlack, stall: StallServer
) -> None:
    endpoint = f"{LOOPBACK}:{stall.port}"
    bot = bots(allowed=endpoint, FIXCHECK_PROBE_TIMEOUT="2", FIXCHECK_SHUTDOWN_GRACE="8")
    key = _id("term")
    with httpx.Client(timeout=10) as http:
        send_command(http, bot.events_url, endpoint, user=_id("U"), response_url=fake_slack.response_url(key))
    wait_until(lambda: stall.accepted > 0, 10, "the probe is in flight")
    bot.proc.send_signal(signal.SIGTERM)
    assert bot.proc.wait(15) == 0
    posted = fake_slack.find(lambda c: c.path == f"/response/{key}")
    assert len(posted) == 1 and RETRY_WORDS not in posted[0].all_text(), "the real answer, not a retry"


def test_during_the_drain_the_port_stays_open_health_200_ready_and_events_503(
    bots: BotFactory, fake_slack: FakeSlack, stall: StallServer
) -> None:
    endpoint = f"{LOOPBACK}:{stall.port}"
    grace = 4
    bot = bots(allowed=endpoint, FIXCHECK_PROBE_TIMEOUT="30", FIXCHECK_SHUTDOWN_GRACE=str(grace))
    key = _id("term")
    with httpx.Client(timeout=10) as http:
        send_command(http, bot.events_url, endpoint, user=_id("U"), response_url=fake_slack.response_url(key))
    wait_until(lambda: stall.accepted > 0, 10, "the probe is in flight")
    sent = time.monotonic()
    bot.proc.send_signal(signal.SIGTERM)
    seen: set[tuple[str, int]] = set()
    with httpx.Client(timeout=1) as http:
        # Poll through most of the grace (bounded: at most ~grace/0.1 rounds of three requests).
        while time.monotonic() - sent < grace - 1 and bot.proc.poll() is None:
            seen.add(("healthz", http.get(bot.url + "/healthz").status_code))
            seen.add(("readyz", http.get(bot.url + "/readyz").status_code))
            late = send_command(
                http, bot.events_url, endpoint, user=_id("U"), response_url=fake_slack.response_url("x")
            )
            seen.add(("events", late.status_code))
            time.sleep(0.1)
    assert seen == {("healthz", 200), ("readyz", 503), ("events", 503)}, seen
    assert bot.proc.wait(grace + 5 + 1) == 0
    assert time.monotonic() - sent <= grace + 5
    posted = fake_slack.wait_for(lambda c: c.path == f"/response/{key}", 1, 5)
    assert len(posted) == 1 and RETRY_WORDS in posted[0].all_text()


def test_metrics_are_named_as_specified_and_labels_hold_no_ids(
    bots: BotFactory, fake_slack: FakeSlack, slack_pki: SlackPki
) -> None:
    bot = bots()
    channel, user, event_id = _id("CMET"), _id("UMET"), _id("EvMET")
    files = [fake_slack.add_file(_id("F"), name, data).obj(fake_slack.base) for name, data in slack_pki.guide_files().items()]
    event = {
        "type": "message", "subtype": "file_share", "channel": channel, "channel_type": "channel", "user": user,
        "text": "", "ts": f"{time.time():.6f}", "files": files,
    }  # fmt: skip
    with httpx.Client(timeout=10) as http:
        send_event(http, bot.events_url, event, event_id)
    fake_slack.wait_for(lambda c: c.api == "chat.postMessage" and c.params.get("channel") == channel)
    wait_until(lambda: "fixcheck_reply_seconds_count" in httpx.get(f"{bot.url}/metrics").text, 5, "reply observed")
    page = httpx.get(f"{bot.url}/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    text = page.text
    for name in METRIC_NAMES:
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert 'fixcheck_ack_seconds_count{kind="event"}' in text
    assert 'fixcheck_diagnoses_total{first_failure="' in text
    for secret in (channel, user, event_id, "fix.itbit.pem", "ca.crt", LOOPBACK, str(fake_slack.port), "T0FIXTEST"):
        assert secret not in text, secret


def test_json_logs_are_one_object_a_line_with_the_error_id_and_no_payloads(
    bots: BotFactory, fake_slack: FakeSlack, slack_pki: SlackPki
) -> None:
    bot = bots(FIXCHECK_LOG_FORMAT="json", FIXCHECK_LOG_LEVEL="DEBUG")
    channel = _id("DJSON")
    text = f"```{slack_pki.client.bundle.read_text()}```"  # a private key, pasted
    event = {"type": "message", "channel": channel, "channel_type": "im", "user": _id("U"), "text": text, "ts": "9.1"}
    fake_slack.revoked_bot_token = True  # the reply fails: an error id is logged
    try:
        with httpx.Client(timeout=10) as http:
            send_event(http, bot.events_url, event, _id("Ev"))
        wait_until(lambda: "could not report error_id=" in bot.logs(), 20, "the failed reply is logged")
    finally:
        fake_slack.revoked_bot_token = False
    lines = [line for line in bot.logs().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    # A failing Slack call is one line with Slack's error code and the error id, no traceback.
    failed = [e for e in entries if e["message"].startswith("a call to Slack failed")]
    assert failed and failed[0]["error_id"] and "token_revoked" in failed[0]["message"]
    assert "exc_type" not in failed[0]
    logs = bot.logs()
    assert "BEGIN" not in logs and "```" not in logs
    for line in slack_pki.key_lines():
        assert line not in logs


def test_sigterm_in_socket_mode_closes_the_socket_and_asks_to_retry(
    stall: StallServer, tmp_path: Path
) -> None:
    endpoint = f"{LOOPBACK}:{stall.port}"
    with FakeSlack() as slack, FakeSocketMode() as sm:
        slack.socket_urls = sm.new_url
        env = bot_env(slack, free_port(), endpoint, SLACK_APP_TOKEN=APP_TOKEN, FIXCHECK_PROBE_TIMEOUT="30",
                      FIXCHECK_SHUTDOWN_GRACE="1")  # fmt: skip
        bot = start_bot(env, tmp_path / "bot.log")
        try:
            conn = sm.wait_connected(1, 20)
            key = _id("smterm")
            payload = {"team_id": "T0FIXTEST", "user_id": _id("U"), "command": "/fixcheck", "text": endpoint,
                       "channel_id": "C1", "response_url": slack.response_url(key), "trigger_id": "t"}  # fmt: skip
            sm.wait_ack(sm.send("slash_commands", payload))
            wait_until(lambda: stall.accepted > 0, 10, "the probe is in flight")
            bot.proc.send_signal(signal.SIGTERM)
            assert bot.proc.wait(1 + 5 + 1) == 0
            wait_until(lambda: conn.ws.close_code is not None or conn.ws.socket.fileno() == -1, 5, "socket closed")
            assert RETRY_WORDS in slack.wait_for(lambda c: c.path == f"/response/{key}", 1, 5)[0].all_text()
        finally:
            if bot.proc.poll() is None:
                stop_bot(bot)

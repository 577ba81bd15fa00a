"""Socket Mode end to end: the bot as a subprocess, Slack as a real WebSocket server on 127.0.0.1.

The same journeys as the HTTP tests (command, upload, paste, modal, retries, 429, revoked
token), then the network failures of issue 13: a TCP drop without a close frame, a
`refresh_requested` disconnect, a connection that goes silent, and apps.connections.open
failing (health must see it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.production.conftest import SocketBot, metric, wait_until
from tests.slack.conftest import SlackPki
from tests.slack.fakeslack import APP_TOKEN, BOT_TOKEN, TEAM_ID, Call, FakeSlack, event_body
from tests.slack.fakesocket import FakeSocketMode
from tests.slack.localservers import LOOPBACK, REPO, bot_env, free_port, start_bot, stop_bot

ACK_LIMIT = 3.0  # Slack's


def _id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8].upper()}"


def _command(slack: FakeSlack, text: str, key: str, trigger: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy", "team_id": TEAM_ID, "team_domain": "fixcheck-test", "channel_id": "C0CMD",
        "channel_name": "support", "user_id": _id("U"), "user_name": "someone", "command": "/fixcheck",
        "text": text, "api_app_id": "AFIXCHECK", "response_url": slack.response_url(key),
        "trigger_id": trigger or _id("trig"),
    }  # fmt: skip


def _upload(slack: FakeSlack, channel: str, files: dict[str, bytes]) -> dict[str, Any]:
    objs = [slack.add_file(_id("F"), name, data).obj(slack.base) for name, data in files.items()]
    return {
        "type": "message", "subtype": "file_share", "channel": channel, "channel_type": "channel",
        "user": _id("U"), "text": "files attached", "ts": f"{time.time():.6f}", "files": objs,
    }  # fmt: skip


def _event(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return dict(json.loads(event_body(event, event_id)))


def _thread_posts(slack: FakeSlack, channel: str, count: int = 1, timeout: float = 20) -> list[Call]:
    return slack.wait_for(
        lambda c: c.api == "chat.postMessage" and c.params.get("channel") == channel and c.params.get("thread_ts"),
        count,
        timeout,
    )


def test_slash_command_is_acknowledged_with_usage(socket_bot: SocketBot) -> None:
    envelope = socket_bot.socket.send("slash_commands", _command(socket_bot.slack, "help", _id("k")))
    ack = socket_bot.socket.wait_ack(envelope)
    assert ack.acked_at - ack.sent_at < ACK_LIMIT
    assert ack.payload is not None and "/fixcheck HOST:PORT" in ack.payload["text"]


def test_upload_gets_one_threaded_reply(socket_bot: SocketBot, slack_pki: SlackPki) -> None:
    channel = _id("CSMUP")
    event = _upload(socket_bot.slack, channel, slack_pki.guide_files())
    envelope = socket_bot.socket.send("events_api", _event(event, _id("Ev")))
    ack = socket_bot.socket.wait_ack(envelope)
    assert ack.acked_at - ack.sent_at < ACK_LIMIT
    reply = _thread_posts(socket_bot.slack, channel)[0]
    assert reply.params["thread_ts"] == event["ts"]
    assert reply.blocks()[0]["block_id"] == "key_warning"


def test_retried_event_is_answered_once(socket_bot: SocketBot, slack_pki: SlackPki) -> None:
    channel = _id("CSMRETRY")
    event = _event(_upload(socket_bot.slack, channel, {"ca.crt": slack_pki.client.ca_crt.read_bytes()}), _id("Ev"))
    for attempt in (0, 1, 2):
        socket_bot.socket.wait_ack(socket_bot.socket.send("events_api", event, retry_attempt=attempt))
    _thread_posts(socket_bot.slack, channel)
    time.sleep(1.0)
    assert len(socket_bot.slack.posts_to(channel)) == 1


def test_paste_in_a_dm_is_diagnosed(socket_bot: SocketBot, slack_pki: SlackPki) -> None:
    dm = _id("DSMPASTE")
    text = f"my file:\n```{slack_pki.client.bundle.read_text()}```"
    event = {"type": "message", "channel": dm, "channel_type": "im", "user": _id("U"), "text": text, "ts": "5.1"}
    socket_bot.socket.wait_ack(socket_bot.socket.send("events_api", _event(event, _id("Ev"))))
    blocks = _thread_posts(socket_bot.slack, dm)[0].blocks()
    assert blocks[0]["block_id"] == "key_warning" and "pasted-1.pem" in blocks[0]["text"]["text"]


def test_stunnel_modal_opens_and_its_submission_is_diagnosed(socket_bot: SocketBot) -> None:
    slack, key, trigger = socket_bot.slack, _id("smstun"), _id("trig")
    socket_bot.socket.wait_ack(socket_bot.socket.send("slash_commands", _command(slack, "stunnel", key, trigger)))
    opened = slack.wait_for(lambda c: c.api == "views.open" and c.params.get("trigger_id") == trigger)[0]
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    config = "client = yes\n[itbit]\naccept = 127.0.0.1:1234\ncert = /x/fix.itbit.pem\nconnect = sandbox-fix.itbit.com:1234\nCAfile = /x/itbit-ca.pem\nverifyChain = no\n"
    values = {
        "config": {"value": {"type": "plain_text_input", "value": config}},
        "endpoint": {"value": {"type": "plain_text_input", "value": None}},
    }
    payload = {
        "type": "view_submission", "team": {"id": TEAM_ID}, "user": {"id": _id("U")}, "api_app_id": "AFIXCHECK",
        "trigger_id": _id("trig"), "view": {**view, "id": "V123", "state": {"values": values}},
    }  # fmt: skip
    ack = socket_bot.socket.wait_ack(socket_bot.socket.send("interactive", payload))
    assert ack.acked_at - ack.sent_at < ACK_LIMIT
    posted = slack.wait_for(lambda c: c.path == f"/response/{key}", 1, 20)[0]
    assert "step_7" in posted.all_text()


def test_rate_limited_post_is_retried(socket_bot: SocketBot, slack_pki: SlackPki) -> None:
    slack, channel = socket_bot.slack, _id("CSM429")
    slack.rate_limit("chat.postMessage", 1, retry_after=1)
    event = _upload(slack, channel, {"ca.crt": slack_pki.client.ca_crt.read_bytes()})
    socket_bot.socket.wait_ack(socket_bot.socket.send("events_api", _event(event, _id("Ev"))))
    first, second = slack.wait_for(lambda c: c.api == "chat.postMessage" and c.params.get("channel") == channel, 2)
    assert second.at - first.at >= 0.9


def test_revoked_bot_token_ends_in_a_logged_error_id_not_a_crash(socket_bot: SocketBot, slack_pki: SlackPki) -> None:
    slack, channel = socket_bot.slack, _id("CSMREVOKED")
    slack.revoked_bot_token = True
    try:
        event = _upload(slack, channel, {"ca.crt": slack_pki.client.ca_crt.read_bytes()})
        socket_bot.socket.wait_ack(socket_bot.socket.send("events_api", _event(event, _id("Ev"))))
        wait_until(lambda: "could not report error_id=" in socket_bot.bot.logs(), 20, "the failure was logged")
    finally:
        slack.revoked_bot_token = False
    assert socket_bot.bot.proc.poll() is None
    page = httpx.get(f"{socket_bot.bot.url}/metrics").text
    assert 'fixcheck_slack_api_errors_total{error="token_revoked",method="chat.postMessage"}' in page
    assert httpx.get(f"{socket_bot.bot.url}/readyz").status_code == 200


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks (USER_HZ = 100)


def test_dropped_tcp_is_detected_and_reconnected_without_a_busy_loop(socket_bot: SocketBot) -> None:
    sm, pid = socket_bot.socket, socket_bot.bot.proc.pid
    before = len(sm.connections)
    cpu = _cpu_seconds(pid)
    sm.drop()
    took = wait_until(lambda: len(sm.connections) > before and sm.connected() is not None, 15, "reconnect")
    time.sleep(max(0.0, 5 - took))  # a busy loop would burn ~5 CPU seconds here
    assert _cpu_seconds(pid) - cpu < 1.5
    envelope = sm.send("slash_commands", _command(socket_bot.slack, "help", _id("k")))
    assert sm.wait_ack(envelope).payload is not None


def test_first_envelope_after_refresh_requested_is_acked_quickly(socket_bot: SocketBot) -> None:
    sm = socket_bot.socket
    count = len(sm.connections)
    sm.disconnect("refresh_requested")
    sm.wait_connected(count + 1, 15)
    ack = sm.wait_ack(sm.send("slash_commands", _command(socket_bot.slack, "help", _id("k"))))
    assert ack.acked_at - ack.sent_at < 1.0, "the built-in client took 3.05 s here"


def test_a_silent_connection_is_replaced_within_15_s(socket_bot: SocketBot) -> None:
    sm = socket_bot.socket
    count = len(sm.connections)
    sm.freeze()
    wait_until(lambda: len(sm.connections) > count, 15, "a new connection after the old one went silent")
    assert sm.wait_ack(sm.send("slash_commands", _command(socket_bot.slack, "help", _id("k")))).payload


def test_health_sees_a_dead_socket_and_recovers(socket_bot: SocketBot) -> None:
    bot, sm, slack = socket_bot.bot, socket_bot.socket, socket_bot.slack
    reconnects = metric(bot, "fixcheck_socket_reconnects_total") or 0.0
    slack.connections_open_failures = 10_000
    count = len(sm.connections)
    sm.drop()
    try:
        wait_until(lambda: httpx.get(f"{bot.url}/readyz").status_code == 503, 5, "/readyz says not connected")
        assert metric(bot, "fixcheck_socket_connected") == 0
        # FIXCHECK_SOCKET_GRACE=3: healthy for a while, then 503 (a restart is the remedy)
        wait_until(lambda: httpx.get(f"{bot.url}/healthz").status_code == 503, 10, "/healthz 503 after the grace")
        assert "down for" in httpx.get(f"{bot.url}/healthz").json()["error"]
    finally:
        slack.connections_open_failures = 0
    wait_until(lambda: len(sm.connections) > count, 40, "reconnect once apps.connections.open works again")
    wait_until(lambda: httpx.get(f"{bot.url}/healthz").status_code == 200, 5, "/healthz back to 200")
    assert httpx.get(f"{bot.url}/readyz").status_code == 200
    assert (metric(bot, "fixcheck_socket_reconnects_total") or 0) > reconnects
    assert bot.proc.poll() is None


def test_a_rejected_app_token_exits_2_with_a_clear_message(fake_slack: FakeSlack) -> None:
    env = bot_env(fake_slack, free_port(), f"{LOOPBACK}:*", SLACK_APP_TOKEN="xapp-1-wrong-token")
    assert env["SLACK_BOT_TOKEN"] == BOT_TOKEN
    done = subprocess.run([sys.executable, "-m", "bot"], cwd=REPO, env=env, capture_output=True, timeout=30)
    assert done.returncode == 2
    assert b"SLACK_APP_TOKEN" in done.stderr and b"Traceback" not in done.stderr


def test_apps_connections_open_failing_at_start_up_is_retried(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeSocketMode() as sm:
        slack.socket_urls = sm.new_url
        slack.connections_open_failures = 3
        env = bot_env(slack, free_port(), f"{LOOPBACK}:*", SLACK_APP_TOKEN=APP_TOKEN)
        bot = start_bot(env, tmp_path / "bot.log")
        try:
            assert httpx.get(f"{bot.url}/readyz").status_code in (200, 503)
            sm.wait_connected(1, 20)
            wait_until(lambda: httpx.get(f"{bot.url}/readyz").status_code == 200, 5, "ready once connected")
            logs = bot.logs()
            assert "apps.connections.open failed (internal_error)" in logs and "Traceback" not in logs
        finally:
            stop_bot(bot)


def test_no_key_material_in_the_socket_mode_bot_log_at_debug(socket_bot: SocketBot, slack_pki: SlackPki) -> None:
    """Runs after the journeys above (upload and paste of a private key, LOG_LEVEL=DEBUG)."""
    logs = socket_bot.bot.logs()
    assert "envelope_id" not in logs and "BEGIN" not in logs
    for line in slack_pki.key_lines():
        assert line not in logs

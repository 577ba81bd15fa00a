"""Slow downloads and Slack's rate limits: every wait is bounded, and the user is told why.

The real bot against the fake Slack, whose file server can trickle (1 byte every 2 s) or
go silent after the headers; Retry-After handling is also checked on a WebClient of the
bot's own configuration against the same fake Slack.
"""

from __future__ import annotations

import logging
import time
import uuid

import httpx
import pytest
from slack_sdk import WebClient

from bot.slack.services import MAX_RETRY_AFTER, CappedRateLimitRetryHandler, retry_handlers
from tests.slack.conftest import SlackPki
from tests.slack.fakeslack import BOT_TOKEN, Call, FakeSlack, send_event
from tests.slack.localservers import Bot


def _id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8].upper()}"


def _upload_reply(bot: Bot, fake: FakeSlack, files: list[tuple[str, bytes, str]], timeout: float) -> Call:
    channel = _id("CDL")
    objs = [fake.add_file(_id("F"), name, data, mode).obj(fake.base) for name, data, mode in files]
    event = {
        "type": "message", "subtype": "file_share", "channel": channel, "channel_type": "channel",
        "user": _id("U"), "text": "", "ts": f"{time.time():.6f}", "files": objs,
    }  # fmt: skip
    with httpx.Client(timeout=10) as http:
        assert send_event(http, bot.events_url, event, _id("Ev")).status_code == 200
    return fake.wait_for(lambda c: c.api == "chat.postMessage" and c.params.get("channel") == channel, 1, timeout)[0]


@pytest.mark.parametrize("mode", ["trickle", "silent"])
def test_a_slow_download_is_cut_off_and_the_user_told(
    mode: str, bot: Bot, fake_slack: FakeSlack, slack_pki: SlackPki
) -> None:
    """httpx's timeout is per read: 1 byte every 2 s held a worker for minutes with no reply."""
    started = time.monotonic()
    files = [("slow.pem", b"x" * 60, mode), ("ca.crt", slack_pki.client.ca_crt.read_bytes(), "ok")]
    reply = _upload_reply(bot, fake_slack, files, timeout=15)
    took = time.monotonic() - started
    text = reply.all_text()
    assert "slow.pem" in text and "too slow" in text, text[:400]
    assert "step_1" in text, "the other file was still diagnosed"
    assert took < 12, f"the reply took {took:.1f} s"


def test_an_endless_download_stops_at_the_size_cap(bot: Bot, fake_slack: FakeSlack) -> None:
    started = time.monotonic()
    reply = _upload_reply(bot, fake_slack, [("endless.pem", b"A" * 16384, "endless")], timeout=15)
    text = reply.all_text()
    assert "endless.pem is too large" in text and "FIXCHECK_MAX_FILE_BYTES" in text, text[:400]
    assert time.monotonic() - started < 10


def test_retry_after_is_capped_and_logged(fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    assert any(isinstance(h, CappedRateLimitRetryHandler) and h.max_wait == MAX_RETRY_AFTER for h in retry_handlers())
    client = WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url, timeout=5, retry_handlers=retry_handlers(0.5))
    channel = _id("CRL")
    fake_slack.rate_limit("chat.postMessage", 1, retry_after=86400)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="bot.slack.services"):
        assert client.chat_postMessage(channel=channel, text="hi")["ok"]
    assert time.monotonic() - started < 5
    assert "capped at 0.5 s" in caplog.text and "86400" in caplog.text
    assert len(fake_slack.find(lambda c: c.params.get("channel") == channel)) == 2


def test_unreadable_retry_after_is_one_second(bot: Bot, fake_slack: FakeSlack) -> None:
    """A non-numeric Retry-After raised ValueError inside the SDK: the reply was lost."""
    channel = _id("DRL")
    fake_slack.rate_limit("chat.postMessage", 1, retry_after="soon")
    event = {
        "type": "message", "channel": channel, "channel_type": "im", "user": _id("U"),
        "text": "help", "ts": f"{time.time():.6f}",
    }  # fmt: skip
    with httpx.Client(timeout=10) as http:
        assert send_event(http, bot.events_url, event, _id("Ev")).status_code == 200
    calls = fake_slack.wait_for(lambda c: c.params.get("channel") == channel, 2, 15)
    assert len(calls) == 2 and calls[1].at - calls[0].at < 3
    assert "Something went wrong" not in calls[1].all_text(), "the retry failed and the user got an error instead"


FAILURES = [
    (500, b"upstream trouble", "text/plain"),
    (200, b"not json", "application/json"),
    (200, b'{"ok": false, "error": "channel_not_found"}', "application/json"),
    (200, b"<html><body>Sign in</body></html>", "text/html"),
    (200, b"[1, 2]", "application/json"),
    (0, b"", ""),  # connection closed without an answer
]


def test_slack_api_failures_end_in_a_log_line_not_a_traceback(bot: Bot, fake_slack: FakeSlack) -> None:
    start = len(bot.logs())
    channels = []
    with httpx.Client(timeout=10) as http:
        for status, body, ctype in FAILURES:
            channel = _id("DFAIL")
            channels.append(channel)
            fake_slack.fail_posts(channel, status, body, ctype)
            event = {
                "type": "message", "channel": channel, "channel_type": "im", "user": _id("U"),
                "text": "help", "ts": f"{time.time():.6f}",
            }  # fmt: skip
            assert send_event(http, bot.events_url, event, _id("Ev")).status_code == 200
    for channel in channels:  # the reply was tried, and the error notice after it
        fake_slack.wait_for(lambda c, ch=channel: c.params.get("channel") == ch, 2, 20)  # type: ignore[misc]
    deadline = time.monotonic() + 20  # the 500s are retried (ServerErrorRetryHandler) before they fail
    while bot.logs()[start:].count("a call to Slack failed error_id=") < len(FAILURES) and time.monotonic() < deadline:
        time.sleep(0.2)
    log = bot.logs()[start:]
    assert log.count("a call to Slack failed error_id=") >= len(FAILURES), log[-2000:]
    assert "Traceback" not in log
    assert "error=channel_not_found" in log

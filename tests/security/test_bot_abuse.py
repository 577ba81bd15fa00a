"""Abuse of the shared bot: it keeps serving everyone, answers each request within its limits.

Against the real bot (subprocess, uvicorn) and the fake Slack, with FIXCHECK_WORKERS=4 and
FIXCHECK_JOBS_PER_MINUTE=8 so that the limits are reached quickly. Every wait is bounded.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.leakguard import Canaries
from tests.security.conftest import JOBS_PER_MINUTE
from tests.slack.fakeslack import Call, FakeSlack, send_command, send_event, signed_headers
from tests.slack.localservers import Bot

ACK_LIMIT = 3.0  # Slack's limit for any acknowledgement


def _id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8].upper()}"


def _upload(fake: FakeSlack, channel: str, files: dict[str, bytes], *, user: str, text: str = "") -> dict[str, Any]:
    objs = [fake.add_file(_id("F"), name, data).obj(fake.base) for name, data in files.items()]
    return {
        "type": "message", "subtype": "file_share", "channel": channel, "channel_type": "channel",
        "user": user, "text": text, "ts": f"{time.time():.6f}", "files": objs,
    }  # fmt: skip


def _posts(fake: FakeSlack, channel: str) -> list[Call]:
    return fake.find(lambda c: c.api == "chat.postMessage" and c.params.get("channel") == channel)


def _wait_posts(fake: FakeSlack, channel: str, count: int = 1, timeout: float = 30) -> list[Call]:
    return fake.wait_for(lambda c: c.api == "chat.postMessage" and c.params.get("channel") == channel, count, timeout)


def _timed_event(bot: Bot, event: dict[str, Any]) -> tuple[int, float]:
    with httpx.Client(timeout=10) as http:
        started = time.monotonic()
        response = send_event(http, bot.events_url, event, _id("Ev"))
        return response.status_code, time.monotonic() - started


def _still_serving(bot: Bot, fake: FakeSlack, canaries: Canaries) -> None:
    """A fresh user's upload gets its report: the bot is not wedged."""
    channel = _id("CALIVE")
    event = _upload(fake, channel, {"ca.crt": canaries.ca.cert_pem}, user=_id("U"))
    status, took = _timed_event(bot, event)
    assert status == 200 and took < ACK_LIMIT
    assert "step_1" in _wait_posts(fake, channel, 1, 20)[0].all_text()


def test_oversized_slash_command_text_is_answered_at_once(
    security_bot: Bot, security_slack: FakeSlack, canaries: Canaries
) -> None:
    texts = {
        "100 KB of x": "x" * 100_000,
        "100 KB dotted name (exponential regex before the fix)": "a." * 50_000 + ":4490",
        "100 KB of BEGIN lines (quadratic regex before the fix)": "-----BEGIN A-----\n" * 5_500,
        "100 KB of link markup": "<http://a|b>" * 8_000,
        "100 KB endpoint-ish": "check " + "fix-" * 25_000 + ".itbit.com:4490",
    }
    with httpx.Client(timeout=10) as http:
        for what, text in texts.items():
            started = time.monotonic()
            response = send_command(
                http, security_bot.events_url, text, user=_id("U"), response_url=security_slack.response_url(_id("big"))
            )
            took = time.monotonic() - started
            assert response.status_code == 200, (what, response.status_code)
            assert took < ACK_LIMIT, (what, took)
            assert len(response.text) < 4_000, f"{what}: the answer repeats the input"
    _still_serving(security_bot, security_slack, canaries)


def test_huge_message_text_is_acknowledged_at_once(
    security_bot: Bot, security_slack: FakeSlack, canaries: Canaries
) -> None:
    for text in ("-----BEGIN A-----" * 12_000, "a." * 100_000 + ":1", "<@UFIXBOT> " + "x" * 300_000):
        channel = _id("DHUGE")
        event = {"type": "message", "channel": channel, "channel_type": "im", "user": _id("U"), "text": text,
                 "ts": f"{time.time():.6f}"}  # fmt: skip
        status, took = _timed_event(security_bot, event)
        assert status == 200 and took < ACK_LIMIT, (text[:20], status, took)
    _still_serving(security_bot, security_slack, canaries)


def test_a_message_with_50_files_reads_the_first_20_and_says_so(
    security_bot: Bot, security_slack: FakeSlack, canaries: Canaries
) -> None:
    channel = _id("C50")
    files = {f"cert-{n:02d}.crt": canaries.ca.cert_pem for n in range(50)}
    event = _upload(security_slack, channel, files, user=_id("U"))
    status, took = _timed_event(security_bot, event)
    assert status == 200 and took < ACK_LIMIT
    reply = _wait_posts(security_slack, channel, 1, 30)[0]
    assert "Only the first 20 files were read" in reply.all_text()
    ids = {f["id"] for f in event["files"]}
    downloads = security_slack.find(lambda c: c.path.startswith("/files/") and c.path.split("/")[2] in ids)
    assert len(downloads) == 20
    blocks = reply.blocks()
    assert len(blocks) <= 50 and all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)
    time.sleep(0.3)
    assert len(_posts(security_slack, channel)) == 1


def test_concurrent_uploads_from_many_users_each_get_one_reply(
    security_bot: Bot, security_slack: FakeSlack, canaries: Canaries
) -> None:
    users = 16
    channels = [_id("CMANY") for _ in range(users)]
    files = {"fix.itbit.pem": canaries.host.cert_pem, "ca.crt": canaries.ca.cert_pem}
    events = [_upload(security_slack, ch, files, user=_id("U")) for ch in channels]
    with ThreadPoolExecutor(users) as pool:
        results = list(pool.map(lambda e: _timed_event(security_bot, e), events))
    assert all(status == 200 for status, _ in results), results
    assert max(took for _, took in results) < ACK_LIMIT, sorted(took for _, took in results)[-3:]
    for channel in channels:
        assert "step_1" in _wait_posts(security_slack, channel, 1, 40)[0].all_text()
    time.sleep(0.3)
    assert all(len(_posts(security_slack, ch)) == 1 for ch in channels), "exactly one reply each"


def test_a_flood_from_one_user_is_limited_politely_while_others_are_served(
    security_bot: Bot, security_slack: FakeSlack, canaries: Canaries
) -> None:
    flooder = _id("UFLOOD")
    channel = _id("CFLOOD")
    flood = 40
    events = [_upload(security_slack, channel, {"ca.crt": canaries.ca.cert_pem}, user=flooder) for _ in range(flood)]
    for n, event in enumerate(events):
        event["ts"] = f"1700000000.{n:06d}"
    other_channel = _id("COTHER")
    other = _upload(security_slack, other_channel, {"ca.crt": canaries.ca.cert_pem}, user=_id("U"))
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda e: _timed_event(security_bot, e), [*events[:20], other, *events[20:]]))
    assert all(status == 200 for status, _ in results), results
    assert max(took for _, took in results) < ACK_LIMIT
    assert "step_1" in _wait_posts(security_slack, other_channel, 1, 30)[0].all_text(), "others are still served"
    _wait_posts(security_slack, channel, JOBS_PER_MINUTE + 1, 40)
    time.sleep(1.0)
    posts = _posts(security_slack, channel)
    notices = [p for p in posts if "FIXCHECK_JOBS_PER_MINUTE" in p.all_text()]
    reports = [p for p in posts if "step_1" in p.all_text()]
    assert len(notices) == 1, "one polite notice, not one per flooded message"
    assert "skipping" in notices[0].all_text() and "wait" in notices[0].all_text()
    assert len(reports) == JOBS_PER_MINUTE, f"{len(reports)} reports for a flood of {flood}"
    _still_serving(security_bot, security_slack, canaries)


def _post_raw(bot: Bot, body: str | bytes, content_type: str = "application/json") -> tuple[int, float]:
    raw = body.encode() if isinstance(body, str) else body
    with httpx.Client(timeout=10) as http:
        started = time.monotonic()
        headers = signed_headers(raw.decode("utf-8", "replace"), content_type=content_type)
        response = http.post(bot.events_url, content=raw, headers=headers)
        return response.status_code, time.monotonic() - started


def _callback(event: Any, **extra: Any) -> str:
    return json.dumps(
        {"type": "event_callback", "team_id": "T0FIXTEST", "event_id": _id("Ev"), "event": event, **extra}
    )


def test_malformed_payloads_get_a_prompt_4xx_or_200_and_nobody_else_notices(
    security_bot: Bot, security_slack: FakeSlack, canaries: Canaries
) -> None:
    log_start = len(security_bot.logs())
    channel = _id("CBAD")
    message = {"type": "message", "channel": channel, "user": _id("U"), "ts": "1.1"}
    bodies: dict[str, tuple[str | bytes, str]] = {
        "invalid JSON": ("{not json", "application/json"),
        "JSON array": ("[1, 2, 3]", "application/json"),
        "JSON string": ('"event_callback"', "application/json"),
        "empty body": ("", "application/json"),
        "not UTF-8": (b"\xff\xfe{\x00", "application/json"),
        "no event": (json.dumps({"type": "event_callback", "event_id": _id("Ev")}), "application/json"),
        "event is a string": (_callback("hello"), "application/json"),
        "event is a list": (_callback([1]), "application/json"),
        "event type is a number": (_callback({"type": 5}), "application/json"),
        "body type is a list": (
            json.dumps({"type": ["event_callback"], "event": {"type": "message"}}),
            "application/json",
        ),
        "unknown event type": (_callback({"type": "reaction_added", "user": "U1"}), "application/json"),
        "event without type": (_callback({"channel": channel}), "application/json"),
        "files is a string": (_callback({**message, "subtype": "file_share", "files": "abc"}), "application/json"),
        "files holds non-objects": (
            _callback({**message, "subtype": "file_share", "files": ["a", 1, None]}),
            "application/json",
        ),
        "files objects without urls": (
            _callback({**message, "subtype": "file_share", "files": [{"name": "x.pem"}]}),
            "application/json",
        ),
        "user is a list": (
            _callback(
                {**message, "user": ["U1"], "text": "-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----"}
            ),
            "application/json",
        ),
        "text is an object": (_callback({**message, "text": {"a": 1}}), "application/json"),
        "ts is a number": (_callback({**message, "ts": 1.5, "text": "hi <@UFIXBOT>"}), "application/json"),
        "event_id is a number": (
            json.dumps({"type": "event_callback", "event_id": 7, "event": {**message, "ts": "1.2"}}),
            "application/json",
        ),
        "form payload not JSON": ("payload=%7Bnot", "application/x-www-form-urlencoded"),
        "form payload a list": ("payload=%5B1%5D", "application/x-www-form-urlencoded"),
        "form payload unknown type": (
            "payload=" + json.dumps({"type": "nonsense"}),
            "application/x-www-form-urlencoded",
        ),
        "command without fields": ("command=%2Ffixcheck", "application/x-www-form-urlencoded"),
        "deeply nested JSON": ("[" * 50_000 + "]" * 50_000, "application/json"),
        "900 KB JSON": (_callback({**message, "text": "x" * 900_000}), "application/json"),
    }
    results = {what: _post_raw(security_bot, body, ctype) for what, (body, ctype) in bodies.items()}
    for what, (status, took) in results.items():
        assert status < 500, f"{what}: HTTP {status}"
        assert took < ACK_LIMIT, f"{what}: {took:.2f} s"
    assert results["invalid JSON"][0] == 400 and results["event is a string"][0] == 400
    assert results["unknown event type"][0] == 200, "an unknown event is acknowledged, not retried by Slack"

    # Too large: refused from the declared length, and while streaming when none is declared.
    status, took = _post_raw(security_bot, b"{" + b" " * 3_000_000 + b"}")
    assert status == 413 and took < ACK_LIMIT

    def chunks() -> Any:
        for _ in range(64):
            yield b" " * 65_536

    with httpx.Client(timeout=10) as http:
        started = time.monotonic()
        try:
            response = http.post(
                security_bot.events_url, content=chunks(), headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 413
        except httpx.TransportError:
            pass  # the server may close the connection mid-upload: also a refusal
        assert time.monotonic() - started < ACK_LIMIT

    time.sleep(0.5)
    logs = security_bot.logs()[log_start:]
    assert "Exception in ASGI application" not in logs and "listener failed" not in logs, logs[-3000:]
    replies = [c.all_text() for c in _posts(security_slack, channel)]
    assert not [r for r in replies if "Something went wrong" in r], "malformed events produce no error replies"
    # The one event that is well-formed but useless (a file without a link) gets a clear notice.
    assert len(replies) == 1 and "could not be looked up" in replies[0], replies
    _still_serving(security_bot, security_slack, canaries)

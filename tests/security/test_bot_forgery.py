"""Forged, stale, replayed and malformed requests: nothing happens without Slack's signature.

Against the real bot (subprocess, uvicorn, LOG_LEVEL=DEBUG) and the fake Slack, with real
HTTP requests signed (or not) as Slack does. An unverified request is answered 401 and
nothing else: no post to its channel or response_url (error handler included), no traceback,
no body in the log. Canary keys are sent in every encoding through every path and the log
is scanned for any trace of them.
"""

from __future__ import annotations

import html
import json
import time
import urllib.parse
import uuid
from collections.abc import Callable

import httpx
import pytest

from tests.leakguard import Canaries, LeakGuard
from tests.security.conftest import MtlsServer
from tests.slack.fakeslack import (
    SIGNING_SECRET,
    FakeSlack,
    command_body,
    event_body,
    interaction_body,
    send_event,
    signature,
    signed_headers,
)
from tests.slack.localservers import Bot

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def _id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8].upper()}"


def _headers(body: str, ctype: str, how: str) -> dict[str, str | bytes]:
    """Headers for `body` signed as `how` says: valid, or one of the ways a forgery looks."""
    now = int(time.time())
    good = signature(SIGNING_SECRET, str(now), body)
    forms: dict[str, dict[str, str | bytes]] = {
        "signed": signed_headers(body, content_type=ctype),
        "unsigned": {},
        "stale": signed_headers(body, content_type=ctype, timestamp=now - 600),
        "future": signed_headers(body, content_type=ctype, timestamp=now + 600),
        "wrong-secret": signed_headers(body, content_type=ctype, secret="rotated-secret-0000000000000000"),
        "ts-not-digits": {"X-Slack-Request-Timestamp": "now", "X-Slack-Signature": "v0=00"},
        "ts-empty": {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": good},
        "ts-signed-number": {"X-Slack-Request-Timestamp": f"+{now}", "X-Slack-Signature": good},
        "ts-float": {"X-Slack-Request-Timestamp": f"{now}.5", "X-Slack-Signature": good},
        "ts-unicode-digits": {"X-Slack-Request-Timestamp": "١٢٣٤٥٦٧٨٩٠".encode(), "X-Slack-Signature": good},
        "ts-huge": {"X-Slack-Request-Timestamp": "9" * 400, "X-Slack-Signature": good},
        "sig-missing": {"X-Slack-Request-Timestamp": str(now)},
        "sig-short": {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": "v0=00"},
        "sig-v1": {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": "v1=" + good[3:]},
        "sig-upper": {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": good.upper()},
        "sig-garbage": {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": "v0=" + "zz" * 32},
    }
    return {"Content-Type": ctype, **forms[how]}


FORGERIES = [
    "unsigned", "stale", "future", "wrong-secret", "ts-not-digits", "ts-empty", "ts-signed-number", "ts-float",
    "ts-unicode-digits", "ts-huge", "sig-missing", "sig-short", "sig-v1", "sig-upper", "sig-garbage",
]  # fmt: skip


def _new_log(bot: Bot, since: int) -> str:
    return bot.logs()[since:]


@pytest.mark.parametrize("how", FORGERIES)
def test_unverified_requests_get_401_and_nothing_else(how: str, security_bot: Bot, security_slack: FakeSlack) -> None:
    """The error handler used to post ':warning: Something went wrong' into the forged channel."""
    fake = security_slack
    start = len(security_bot.logs())
    channel, key = _id("CFORGE"), _id("forge")
    event = {"type": "message", "channel": channel, "user": _id("U"), "text": "fix.itbit.com:4490", "ts": "1.1"}
    bodies = [
        (event_body(event, _id("Ev")), JSON),
        (json.dumps({"type": "event_callback", "event": {"channel": channel, "ts": "1.1"}}), JSON),
        (command_body("help", user=_id("U"), response_url=fake.response_url(key), channel=channel), FORM),
        (interaction_body({"type": "block_actions", "response_url": fake.response_url(key), "actions": "x"}), FORM),
        ("response_url=" + urllib.parse.quote(fake.response_url(key), safe="") + "&ssl_check=1", FORM),
    ]
    with httpx.Client(timeout=10) as http:
        for body, ctype in bodies:
            response = http.post(security_bot.events_url, content=body, headers=_headers(body, ctype, how))
            assert response.status_code == 401, (how, response.status_code, response.text[:200])
            assert "Traceback" not in response.text
    time.sleep(1.0)
    touched = fake.find(lambda c: c.params.get("channel") == channel or c.path.endswith(f"/{key}"))
    assert touched == [], f"{how}: an unverified request made the bot call Slack: {[c.path for c in touched]}"
    log = _new_log(security_bot, start)
    assert "Traceback" not in log and "ValueError" not in log
    assert channel not in log and key not in log, "the log holds the body of an unverified request"


def test_signed_request_is_served_and_a_replay_is_answered_once(security_bot: Bot, security_slack: FakeSlack) -> None:
    channel = _id("CREPLAY")
    event = {
        "type": "message", "channel": channel, "channel_type": "im", "user": _id("U"),
        "text": "help", "ts": f"{time.time():.6f}",
    }  # fmt: skip
    body = event_body(event, _id("Ev"))
    headers = signed_headers(body, content_type=JSON)
    with httpx.Client(timeout=10) as http:
        for _ in range(3):
            assert http.post(security_bot.events_url, content=body, headers=headers).status_code == 200
    security_slack.wait_for(lambda c: c.params.get("channel") == channel, 1, 15)
    time.sleep(1.0)
    assert len(security_slack.posts_to(channel)) == 1


def _encodings(pem: str) -> dict[str, Callable[[str], tuple[str, str]]]:
    """How a key can reach the bot: (body, content type) per encoding, built around `pem`."""

    def event(text: str) -> str:
        msg = {"type": "message", "channel": _id("CENC"), "user": _id("U"), "text": text, "ts": f"{time.time():.6f}"}
        return event_body(msg, _id("Ev"))

    return {
        "json-escaped": lambda _: (event(pem), JSON),
        "json-slashes": lambda _: (event(pem).replace("/", "\\/").replace("+", "\\u002b"), JSON),
        "slack-html": lambda _: (event(html.escape(f"<{pem}> & more", quote=False)), JSON),
        "form-plus": lambda key: (command_body(pem, user=_id("U"), response_url=key), FORM),
        "form-percent": lambda key: (
            "text=" + urllib.parse.quote(pem, safe="") + "&response_url=" + urllib.parse.quote(key, safe=""),
            FORM,
        ),
        "form-raw": lambda key: ("text=" + pem + "&response_url=" + key, FORM),
        "interaction": lambda _: (
            interaction_body({"type": "view_submission", "view": {"type": "modal", "callback_id": "x", "k": pem}}),
            FORM,
        ),
    }


@pytest.mark.parametrize("how", ["signed", "unsigned", "stale", "wrong-secret", "ts-not-digits", "sig-short"])
def test_canary_keys_in_every_encoding_never_reach_the_log(
    how: str, security_bot: Bot, security_slack: FakeSlack, canaries: Canaries, guard: LeakGuard
) -> None:
    start = len(security_bot.logs())
    answers: list[str] = []
    with httpx.Client(timeout=10) as http:
        for canary in canaries.all:
            for build in _encodings(canary.key_pem.decode()).values():
                body, ctype = build(security_slack.response_url(_id("enc")))
                response = http.post(security_bot.events_url, content=body, headers=_headers(body, ctype, how))
                assert response.status_code < 500
                answers.append(response.text)
            # In the URL too, which uvicorn's access log writes out.
            query = security_bot.events_url + "?text=" + urllib.parse.quote(canary.key_pem.decode(), safe="")
            answers.append(http.post(query, content="{}", headers=_headers("{}", JSON, how)).text)
    time.sleep(1.5)  # let queued work (signed requests) log what it logs
    log = _new_log(security_bot, start)
    assert log.strip(), "the bot logged nothing at DEBUG"
    guard.check(f"the bot's DEBUG log ({how} requests)", log)
    for answer in answers:
        guard.check(f"an acknowledgement ({how})", answer)
    assert "Traceback" not in log


MALFORMED_PAYLOADS: list[object] = [
    {"type": "view_submission", "view": "x"},
    {"type": "view_submission", "view": {"callback_id": 5}},
    {"type": "view_submission", "user": "x", "view": {"type": "modal", "callback_id": "fixcheck_stunnel"}},
    {"type": "view_submission", "view": {"type": "modal", "callback_id": "fixcheck_stunnel", "state": "x"}},
    {"type": "view_submission", "view": {"type": "modal", "callback_id": "fixcheck_stunnel", "state": {"values": [1]}}},
    {"type": "view_submission", "user": {"id": ["U"]}, "view": {"type": "modal", "callback_id": "fixcheck_stunnel",
     "private_metadata": "[" * 5000, "state": {"values": {"config": {"value": {"value": 7}}}}}},
    {"type": "block_actions", "actions": "x"},
    {"type": "block_actions", "actions": []},
    {"type": "block_actions", "actions": ["x"]},
    {"type": "block_actions", "actions": [{"action_id": 1}]},
    {"type": "view_closed"},
    {"type": "view_closed", "view": "s"},
    {"type": "block_suggestion", "action_id": []},
    {"type": "shortcut", "callback_id": [1]},
    {"type": "message_action", "callback_id": {}},
    {"type": 5},
    {"type": "event_callback", "event": None},
    {"team": "x", "user": 5},
    [1, 2],
    "just a string",
    None,
]  # fmt: skip


def test_malformed_interactivity_gets_an_answer_and_no_traceback(security_bot: Bot) -> None:
    start = len(security_bot.logs())
    raw = ["payload=%7Bnot+json", "payload=", "payload=null", "payload=1e999999", "payload=" + "%5B" * 100000]
    bodies = raw + [
        interaction_body(p) if isinstance(p, dict) else "payload=" + json.dumps(p) for p in MALFORMED_PAYLOADS
    ]
    events = [
        json.dumps({"type": "event_callback", "event": None, "event_id": _id("Ev")}),
        json.dumps({"type": "event_callback", "event": [1], "event_id": _id("Ev")}),
        json.dumps({"type": "event_callback", "event": {"type": ["message"]}, "event_id": _id("Ev")}),
        json.dumps({"type": "url_verification", "challenge": {"x": 1}}),
        "[" * 100000,
        '{"type": "event_callback", "event": {"type": "message", "text": "\\ud800"}}',
    ]
    with httpx.Client(timeout=10) as http:
        for body in bodies:
            response = http.post(security_bot.events_url, content=body, headers=signed_headers(body, content_type=FORM))
            assert 200 <= response.status_code < 500, (body[:120], response.status_code)
        for body in events:
            response = http.post(security_bot.events_url, content=body, headers=signed_headers(body, content_type=JSON))
            assert 200 <= response.status_code < 500, (body[:120], response.status_code)
    time.sleep(0.5)
    log = _new_log(security_bot, start)
    assert "Traceback" not in log and "Internal Server Error" not in log


def test_block_actions_and_view_closed_are_acknowledged(security_bot: Bot) -> None:
    user = {"id": _id("U"), "team_id": "T0FIXTEST"}
    payloads = [
        {"type": "block_actions", "user": user, "team": {"id": "T0FIXTEST"}, "trigger_id": "1.2.3",
         "actions": [{"type": "button", "action_id": "anything", "block_id": "b", "value": "v", "action_ts": "1.2"}]},
        {"type": "view_closed", "user": user, "team": {"id": "T0FIXTEST"}, "is_cleared": False,
         "view": {"id": "V1", "type": "modal", "callback_id": "fixcheck_stunnel"}},
        {"type": "view_submission", "user": user, "team": {"id": "T0FIXTEST"},
         "view": {"id": "V2", "type": "modal", "callback_id": "someone_elses_modal", "state": {"values": {}}}},
    ]  # fmt: skip
    with httpx.Client(timeout=10) as http:
        for payload in payloads:
            body = interaction_body(payload)
            response = http.post(security_bot.events_url, content=body, headers=signed_headers(body, content_type=FORM))
            assert response.status_code == 200, (payload["type"], response.status_code, response.text)


def test_an_event_from_slack_still_works(security_bot: Bot, security_slack: FakeSlack) -> None:
    """The gate lets Slack's own requests through: a signed DM gets its answer."""
    channel = _id("DOK")
    event = {
        "type": "message", "channel": channel, "channel_type": "im", "user": _id("U"),
        "text": "help", "ts": f"{time.time():.6f}",
    }  # fmt: skip
    with httpx.Client(timeout=10) as http:
        assert send_event(http, security_bot.events_url, event, _id("Ev")).status_code == 200
    assert security_slack.wait_for(lambda c: c.params.get("channel") == channel, 1, 15)


def test_slack_clients_do_not_follow_redirects(
    security_bot: Bot, security_slack: FakeSlack, canary_mtls_server: MtlsServer
) -> None:
    """A response_url answering 302 must not send the bot's reply (or token) where Location says."""
    key = _id("redir")
    response_url = f"{security_slack.base}redirect/{key}"
    with httpx.Client(timeout=10) as http:
        body = command_body(canary_mtls_server.endpoint, user=_id("U"), response_url=response_url)
        assert (
            http.post(
                security_bot.events_url, content=body, headers=signed_headers(body, content_type=FORM)
            ).status_code
            == 200
        )
    security_slack.wait_for(lambda c: c.path == f"/redirect/{key}", 1, 20)
    time.sleep(1.0)
    assert security_slack.find(lambda c: c.path == f"/response/followed-{key}") == []


def test_a_replayed_slash_command_runs_once(security_bot: Bot, security_slack: FakeSlack) -> None:
    """The same signed request re-sent within Slack's 5 minutes is acknowledged, not run again."""
    trigger = _id("trig")
    body = command_body(
        "stunnel", user=_id("U"), response_url=security_slack.response_url(_id("rp")), trigger_id=trigger
    )
    headers = signed_headers(body, content_type=FORM)
    with httpx.Client(timeout=10) as http:
        for _ in range(3):
            assert http.post(security_bot.events_url, content=body, headers=headers).status_code == 200
    security_slack.wait_for(lambda c: c.api == "views.open" and c.params.get("trigger_id") == trigger, 1, 15)
    time.sleep(1.0)
    assert len(security_slack.find(lambda c: c.api == "views.open" and c.params.get("trigger_id") == trigger)) == 1

"""Pure checks behind the bot's security guarantees: allow-list syntax, redaction, shapes."""

from __future__ import annotations

import html
import io
import json
import logging
import socket
import time
import urllib.parse

import pytest

from bot.slack import endpoints, logs, shapes
from tests.leakguard import Canaries, LeakGuard
from tests.slack.fakeslack import FakeSlack

T = endpoints.Target


@pytest.mark.parametrize(
    ("pattern", "target", "ok"),
    [
        ("[::1]:4490", T("::1", 4490), True),
        ("[::1]:4490", T("0:0::1", 4490), True),  # the same address, written differently
        ("[::1]:4490", T("::1", 4491), False),
        ("[2001:db8::d]:4490", T("d", 4490), False),  # was a character class matching `d`
        ("[2001:db8::d]:4490", T(":", 4490), False),
        ("[2001:db8::d]:*", T("2001:db8::d", 1), True),
        ("127.0.0.1:4490", T("127.0.0.1", 4490), True),
        ("127.0.0.*:4490", T("127.0.0.9", 4490), False),  # no wildcards in addresses
        ("*.itbit.com:*", T("sandbox-fix.itbit.com", 4490), True),
        ("*.itbit.com:*", T("SANDBOX-FIX.ITBIT.COM", 4490), True),
        ("*.itbit.com:*", T("itbit.com", 4490), False),
        ("*.itbit.com:*", T("a.b.itbit.com", 4490), False),  # one label per `*`
        ("*.itbit.com:*", T("evil.com.itbit.co", 1), False),
        ("*.itbit.com:*", T("127.0.0.1", 1), False),
        ("fix-*.itbit.com:4490", T("fix-1.itbit.com", 4490), True),
        ("fix-*.itbit.com:4490", T("fix.itbit.com", 4490), False),
        ("[fix.itbit.com]:1", T("fix.itbit.com", 1), False),  # brackets hold addresses only
        ("*:*", T("anything.example", 9), True),
        ("fix.itbit.com:99999", T("fix.itbit.com", 99999), False),
    ],
)
def test_allow_list_entries_are_parsed_as_host_and_port(pattern: str, target: endpoints.Target, ok: bool) -> None:
    if ok:
        endpoints.allowed(target, (pattern,))
    else:
        with pytest.raises(endpoints.Refused):
            endpoints.allowed(target, (pattern,))


def test_resolve_check_returns_what_it_checked() -> None:
    answers = iter([[("8.8.8.8",)], [("127.0.0.1",)]])

    def resolver(host: str, port: int, *_: object) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers)[0][0], port))]

    assert endpoints.resolve_check(T("flip.example", 1), ("*.example:*",), resolver) == ("8.8.8.8",)
    assert endpoints.resolve_check(T("::1", 5), ("[::1]:5",)) == ("::1",)  # listed exactly: loopback allowed
    with pytest.raises(endpoints.Refused, match="loopback"):
        endpoints.resolve_check(T("::1", 5), ("*:*",))
    # IPv6 addresses that carry a non-public IPv4 address (mapped, NAT64, 6to4, Teredo) are refused.
    for address in (
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
    ):
        with pytest.raises(endpoints.Refused):
            endpoints.resolve_check(T(address, 1), ("*:*",))
    assert endpoints.resolve_check(T("::ffff:8.8.8.8", 1), ("*:*",)) == ("::ffff:808:808",)


def _encodings(pem: str) -> dict[str, str]:
    return {
        "raw": pem,
        "json": json.dumps({"text": pem}),
        "json-slashes": json.dumps({"text": pem}).replace("/", "\\/"),
        "json-unicode": json.dumps({"text": pem}).replace("+", "\\u002b").replace("/", "\\u002f"),
        "form-plus": urllib.parse.urlencode({"text": pem}),
        "form-percent": "text=" + urllib.parse.quote(pem, safe=""),
        "url-no-armour": urllib.parse.quote_plus("".join(pem.splitlines()[1:-1])),
        "html": html.escape(f"<{pem}>"),
        "html-numeric": pem.replace("+", "&#43;").replace("/", "&#47;"),
        "body-only": "\n".join(pem.splitlines()[1:-1]),
    }


def test_redaction_covers_every_encoding(canaries: Canaries, guard: LeakGuard) -> None:
    """Every record, at DEBUG, through the filter the bot installs on its handlers."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RedactingFilter())
    handler.setFormatter(logs.RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("fixcheck.test.redaction")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    try:
        for canary in canaries.all:
            for name, text in _encodings(canary.key_pem.decode()).items():
                log.debug("%s: body=%s", name, text)
                log.info("Invalid request signature detected (signature: v0=1, timestamp: 1, body: %s)", text)
                try:
                    raise ValueError(text)
                except ValueError:
                    log.exception("failed")
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    guard.check("redacted log", out)
    assert "request body not logged" in out


def test_redaction_leaves_ordinary_lines_alone() -> None:
    line = "diagnosed inputs=3 endpoint=yes verdict=fail first_failure=4 error_id=0123456789 POST /slack/events"
    assert logs.redact(line) == line


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"type": "view_submission", "view": {"type": "modal", "callback_id": "x"}}, True),
        ({"type": "view_submission", "view": "x"}, False),
        ({"type": "view_closed", "view": {"type": "modal", "callback_id": 1}}, False),
        ({"type": "block_actions", "actions": [{"action_id": "a"}]}, True),
        ({"type": "block_actions", "actions": [{"action_id": "a"}, "b"]}, False),
        ({"type": "block_actions", "actions": []}, False),
        ({"type": "block_actions", "user": "U1", "actions": [{"action_id": "a"}]}, False),
        ({"type": "event_callback", "event": {"type": "message"}}, True),
        ({"type": "event_callback", "event": None}, False),
        ({"command": "/fixcheck", "text": "help"}, True),
    ],
)
def test_payload_shapes(body: dict[str, object], ok: bool) -> None:
    assert (shapes.problem(body) is None) is ok


def test_engine_connects_to_the_given_addresses_without_resolving() -> None:
    """`diagnose(addresses=...)`: the vetted addresses are used as they are; DNS is not asked again."""
    from bot.engine import diagnose, net

    lookups: list[str] = []

    def resolver(host: str, *_: object) -> list[object]:
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "test resolver: no lookups expected")

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]
        net.set_resolver(resolver)
        try:
            report = diagnose([], endpoint=f"fix.rebind.test:{port}", addresses=["127.0.0.1"], timeout=2)
            unpinned = diagnose([], endpoint=f"fix.rebind.test:{port}", timeout=2)
        finally:
            net.set_resolver(None)
    tcp = report.to_dict()["steps"][2]
    assert lookups == ["fix.rebind.test"], "only the run without addresses looked the name up"
    assert f"127.0.0.1:{port}" in json.dumps(tcp) and tcp["status"] != "fail", tcp
    assert unpinned.to_dict()["steps"][2]["status"] == "fail"  # the test resolver's NXDOMAIN


def test_bolt_never_logs_a_body_in_process(
    canaries: Canaries, guard: LeakGuard, caplog: pytest.LogCaptureFixture, security_slack: FakeSlack
) -> None:
    """Even under a handler the bot did not configure (caplog at DEBUG), Bolt's failed-signature
    and unhandled-request records carry no body: the filter sits on Bolt's own loggers."""
    from slack_bolt import BoltRequest

    from bot.slack.app import create_app
    from bot.slack.settings import Settings
    from tests.slack.fakeslack import BOT_TOKEN, SIGNING_SECRET, command_body, interaction_body, signed_headers

    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": security_slack.api_url,
        }
    )
    app = create_app(settings, token_verification=False)
    pem = canaries.ec.key_pem.decode()
    bodies = [
        (command_body(pem, user="U1", response_url="http://127.0.0.1:9/r"), 0),  # stale: Bolt logs the body
        (interaction_body({"type": "shortcut", "callback_id": pem, "user": {"id": "U1"}}), None),  # unhandled
    ]
    with (
        caplog.at_level(logging.DEBUG),
        caplog.at_level(logging.DEBUG, logger="slack_bolt.RequestVerification"),
        caplog.at_level(logging.DEBUG, logger="slack_bolt.App"),
    ):
        for body, stale in bodies:
            ts = None if stale is None else 1_000_000
            headers = signed_headers(body, content_type="application/x-www-form-urlencoded", timestamp=ts)
            app.dispatch(BoltRequest(body=body, headers={k.lower(): [v] for k, v in headers.items()}))
    assert "Invalid request signature" in caplog.text and "Unhandled request" in caplog.text
    guard.check("caplog at DEBUG", caplog.text)
    guard.check("caplog records", "\n".join(str(r.msg) for r in caplog.records))


def test_error_handler_ignores_unverified_requests_even_inside_bolt(security_slack: FakeSlack) -> None:
    """The issue's request, given to Bolt directly (past the HTTP front end's check): Bolt's own
    verification raises on `now`, and the error handler must not post to C123 or the response_url."""
    from slack_bolt import BoltRequest

    from bot.slack.app import create_app
    from bot.slack.settings import Settings
    from tests.slack.fakeslack import BOT_TOKEN, SIGNING_SECRET

    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": security_slack.api_url,
    }
    app = create_app(Settings.from_env(env), token_verification=False)
    channel, key = "CUNVERIFIED", "unverified-error-handler"
    response_url = urllib.parse.quote(security_slack.response_url(key), safe="")
    forged = {"x-slack-request-timestamp": ["now"], "x-slack-signature": ["v0=00"]}
    for body in (
        json.dumps({"type": "event_callback", "event": {"channel": channel, "ts": "1.1"}}),
        f"command=%2Ffixcheck&text=help&response_url={response_url}",
    ):
        app.dispatch(BoltRequest(body=body, headers=forged))
    time.sleep(0.5)
    assert security_slack.find(lambda c: c.params.get("channel") == channel or c.path.endswith(key)) == []


def test_one_lookup_through_the_engines_resolver_hook(
    security_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`net.set_resolver` is the one DNS hook for both the bot's check and the probe: the name is
    looked up once and the probe connects to that answer (127.0.0.2), not a second one (127.0.0.3)."""
    from bot.engine import net
    from bot.slack import work
    from bot.slack.render import Message
    from bot.slack.services import Services
    from bot.slack.settings import Settings
    from tests.slack.fakeslack import BOT_TOKEN, SIGNING_SECRET

    with socket.socket() as server:
        server.bind(("127.0.0.2", 0))
        server.listen(4)
        port = server.getsockname()[1]
        answers = iter(["127.0.0.2", "127.0.0.3"])
        lookups: list[str] = []

        def resolver(host: str, p: int, *_: object) -> list[tuple[object, ...]]:
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), p))]

        elsewhere: list[str] = []

        def no_dns(host: str, *_: object, **__: object) -> list[tuple[object, ...]]:
            elsewhere.append(str(host))  # a lookup past the hook (and never a real DNS query)
            raise socket.gaierror(socket.EAI_NONAME, "test: no DNS")

        monkeypatch.setattr(socket, "getaddrinfo", no_dns)

        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": security_slack.api_url,
            "FIXCHECK_ALLOWED_ENDPOINTS": f"fix.rebind.test:{port}", "FIXCHECK_PROBE_TIMEOUT": "2",
        }  # fmt: skip
        services = Services.create(Settings.from_env(env))
        replies: list[Message] = []
        net.set_resolver(resolver)
        try:
            job = work.Job(user="U1", reply=replies.append, target=endpoints.Target("fix.rebind.test", port))
            work.run_job(services, job, None)
        finally:
            net.set_resolver(None)
            services.close()
    assert lookups == ["fix.rebind.test"] and elsewhere == []
    text = json.dumps(replies[0].blocks)
    assert f"127.0.0.2:{port}" in text and "127.0.0.3" not in text

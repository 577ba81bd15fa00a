"""The bot's `HOST:PORT logon SENDER:TARGET`: parsed from the message and passed to `diagnose` (allow-list first)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bot.engine import FixLogon, Options
from bot.slack import endpoints
from bot.slack.parsing import find_logon, plain_text
from bot.slack.work import Job, run_job


def test_find_logon() -> None:
    text = plain_text("<@U1> <http://127.0.0.1:4490|127.0.0.1:4490> logon CLIENT1:ITBIT_SANDBOX please")
    assert find_logon(text) == (FixLogon("CLIENT1", "ITBIT_SANDBOX"), None)
    assert endpoints.find_endpoint(text) == endpoints.Target("127.0.0.1", 4490)
    assert find_logon("Logon `A:B`.") == (FixLogon("A", "B"), None)
    assert find_logon("nothing here, not even a catalogon x:y") == (None, None)
    logon, problem = find_logon("host:1 logon CLIENT1")
    assert logon is None and problem is not None and "SENDER:TARGET" in problem


def _services(allowed: list[str], calls: list[dict[str, Any]]) -> Any:
    def diagnose(inputs: object, options: Options) -> Any:
        calls.append(dict(vars(options)))
        return SimpleNamespace(verdict=SimpleNamespace(value="pass"), to_dict=lambda: {"first_failure": None})

    settings = SimpleNamespace(allowed_endpoints=allowed, probe_timeout=2.0, probes_per_minute=5)
    return SimpleNamespace(
        settings=settings, probe_limiter=SimpleNamespace(allow=lambda user: True), diagnose=diagnose, downloader=None
    )


def _run(allowed: list[str], target: endpoints.Target | None) -> tuple[list[dict[str, Any]], list[object]]:
    calls: list[dict[str, Any]] = []
    replies: list[object] = []
    job = Job(user="U1", reply=replies.append, pasted=[("a.pem", b"x")], target=target, logon=FixLogon("C", "T"))
    import bot.slack.work as work

    original = work.render.render_report
    work.render.render_report = lambda report, **kw: kw  # type: ignore[assignment]
    try:
        run_job(_services(allowed, calls), job, None)
    finally:
        work.render.render_report = original  # type: ignore[assignment]
    return calls, replies


def test_logon_passed_when_the_endpoint_is_allowed() -> None:
    calls, _ = _run(["127.0.0.1:4490"], endpoints.Target("127.0.0.1", 4490))
    assert calls[0]["endpoint"] == "127.0.0.1:4490" and calls[0]["logon"] == FixLogon("C", "T")


def test_no_logon_when_the_endpoint_is_refused() -> None:
    calls, _replies = _run(["sandbox-fix.itbit.com:*"], endpoints.Target("127.0.0.1", 4490))
    assert calls[0]["endpoint"] is None and calls[0]["logon"] is None

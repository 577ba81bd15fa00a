"""The table of option values (`options.VALUE_RULES`): each option stunnel checks, a value it refuses.

The lists below are written out from stunnel's manual (stunnel.8), independently of the
table: an option dropped from the table, or checked as the wrong kind, fails here; an
option added to the table without a line here fails `test_every_row_is_listed_here`.
"""

from __future__ import annotations

import pytest

from bot.engine.steps.stunnel.config import Problem, parse
from bot.engine.steps.stunnel.options import CANONICAL, GLOBAL_ONLY_LOWER, VALUE_RULES

YES_OR_NO = (
    "client",
    "delay",
    "libwrap",
    "OCSPaia",
    "OCSPnonce",
    "pty",
    "renegotiation",
    "requireCert",
    "reset",
    "retry",
    "sessionResume",
    "verifyChain",
    "verifyPeer",
    "RNDoverwrite",
    "syslog",
    "taskbar",
    "fips",
)
ONE_OF: dict[str, str] = {
    "foreground": "yes | quiet | no",
    "log": "append | overwrite",
    "failover": "rr | prio",
    "transparent": "none | source | destination | both | yes | no",
    "sslVersion": "all | SSLv2 | SSLv3 | TLSv1 | TLSv1.1 | TLSv1.2 | TLSv1.3",
    "sslVersionMax": "all | SSLv3 | TLSv1 | TLSv1.1 | TLSv1.2 | TLSv1.3",
    "sslVersionMin": "all | SSLv3 | TLSv1 | TLSv1.1 | TLSv1.2 | TLSv1.3",
    "logId": "sequential | unique | thread | process",
}
NUMBER = (
    "RNDbytes",
    "securityLevel",
    "sessionCacheSize",
    "sessionCacheTimeout",
    "stack",
    "TIMEOUTbusy",
    "TIMEOUTclose",
    "TIMEOUTconnect",
    "TIMEOUTidle",
    "engineNum",
    "verify",
)


def _problems(option: str, value: str) -> list[Problem]:
    """The problems of `option = value`, written where stunnel allows it."""
    section = "" if option.lower() in GLOBAL_ONLY_LOWER else "[s]\n"
    return parse(f"{section}{option} = {value}\n").problems


@pytest.mark.parametrize("option", YES_OR_NO)
def test_yes_or_no(option: str) -> None:
    assert _problems(option, "YES") == []
    (problem,) = _problems(option, "maybe")
    assert (problem.kind, problem.message, problem.fix) == (
        "bad_value",
        f"'{option}' takes yes or no, not 'maybe'; stunnel refuses the configuration",
        f"{option} = yes",
    )


@pytest.mark.parametrize(("option", "choices"), ONE_OF.items())
def test_one_of(option: str, choices: str) -> None:
    first = choices.split(" | ")[0]
    assert _problems(option, first.upper()) == []
    (problem,) = _problems(option, "sometimes")
    assert (problem.kind, problem.message, problem.fix) == (
        "bad_value",
        f"'{option}' takes {choices}, not 'sometimes'",
        f"{option} = {first}",
    )


@pytest.mark.parametrize("option", NUMBER)
def test_number(option: str) -> None:
    assert _problems(option, "30") == []
    (problem,) = _problems(option, "30s")
    assert (problem.kind, problem.message, problem.fix) == ("bad_value", f"'{option}' takes a number, not '30s'", None)


@pytest.mark.parametrize("value", ["info", "7", "local0.debug", "warn", "error"])
def test_debug_levels_stunnel_takes(value: str) -> None:
    assert _problems("debug", value) == []


def test_debug_level_stunnel_refuses() -> None:
    (problem,) = _problems("debug", "loud")
    assert (problem.kind, problem.fix) == ("bad_value", "debug = info")
    assert problem.message == (
        "debug takes [facility.]level (0-7 or emerg, alert, crit, err, warning, notice, info, debug), not 'loud'"
    )


def test_the_value_is_checked_without_its_inline_comment() -> None:
    inline, bad = _problems("client", "maybe ; or not")
    assert (inline.kind, bad.kind) == ("inline_comment", "bad_value")
    assert bad.message == "'client' takes yes or no, not 'maybe'; stunnel refuses the configuration"


def test_every_row_is_listed_here() -> None:
    listed = {o.lower() for o in (*YES_OR_NO, *ONE_OF, *NUMBER, "debug")}
    assert set(VALUE_RULES) == listed
    assert all(key in CANONICAL for key in VALUE_RULES)

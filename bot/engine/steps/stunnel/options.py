"""stunnel 5's options, as its manual (stunnel.8) lists them, and what each one's value must be.

`VALUE_RULES` is the table of value checks: option name -> what the value must be, the
message when it is not, and the line to suggest. To check a new option's value, add a row
(and a case to `tests/stunnel/test_config_table.py`).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

GLOBAL_ONLY: tuple[str, ...] = (
    "chroot",
    "compression",
    "EGD",
    "engine",
    "engineCtrl",
    "engineDefault",
    "fips",
    "foreground",
    "iconActive",
    "iconError",
    "iconIdle",
    "log",
    "output",
    "pid",
    "RNDbytes",
    "RNDfile",
    "RNDoverwrite",
    "syslog",
    "taskbar",
)
SERVICE_LEVEL: tuple[str, ...] = (
    "accept",
    "CAengine",
    "CApath",
    "CAfile",
    "cert",
    "checkEmail",
    "checkHost",
    "checkIP",
    "ciphers",
    "ciphersuites",
    "client",
    "config",
    "connect",
    "CRLpath",
    "CRLfile",
    "curves",
    "debug",
    "delay",
    "engineId",
    "engineNum",
    "exec",
    "execArgs",
    "failover",
    "ident",
    "include",
    "key",
    "libwrap",
    "local",
    "logId",
    "OCSP",
    "OCSPaia",
    "OCSPflag",
    "OCSPnonce",
    "options",
    "protocol",
    "protocolAuthentication",
    "protocolDomain",
    "protocolHeader",
    "protocolHost",
    "protocolPassword",
    "protocolUsername",
    "PSKidentity",
    "PSKsecrets",
    "pty",
    "redirect",
    "renegotiation",
    "requireCert",
    "reset",
    "retry",
    "securityLevel",
    "service",
    "setgid",
    "setuid",
    "sessionCacheSize",
    "sessionCacheTimeout",
    "sessionResume",
    "sessiond",
    "sni",
    "socket",
    "sslVersion",
    "sslVersionMax",
    "sslVersionMin",
    "stack",
    "ticketKeySecret",
    "ticketMacSecret",
    "TIMEOUTbusy",
    "TIMEOUTclose",
    "TIMEOUTconnect",
    "TIMEOUTidle",
    "transparent",
    "verify",
    "verifyChain",
    "verifyPeer",
)
MAX_LINES = 10_000  # a real configuration has dozens; the rest is not read

# Options that may be given several times, each adding a value.
REPEATABLE = frozenset(
    o.lower()
    for o in ("connect", "socket", "checkHost", "checkIP", "checkEmail", "options", "config", "OCSPflag", "sni")
)
# Options that name a file stunnel reads while loading its configuration.
FILE_OPTIONS: tuple[str, ...] = ("cert", "key", "CAfile")

CANONICAL = {o.lower(): o for o in GLOBAL_ONLY + SERVICE_LEVEL}
GLOBAL_ONLY_LOWER = frozenset(o.lower() for o in GLOBAL_ONLY)


DEBUG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
SOCKET_OPTIONS = (
    "SO_DEBUG",
    "SO_DONTROUTE",
    "SO_KEEPALIVE",
    "SO_LINGER",
    "SO_OOBINLINE",
    "SO_RCVBUF",
    "SO_SNDBUF",
    "SO_RCVLOWAT",
    "SO_SNDLOWAT",
    "SO_RCVTIMEO",
    "SO_SNDTIMEO",
    "SO_REUSEADDR",
    "SO_REUSEPORT",
    "SO_BINDTODEVICE",
    "TCP_KEEPCNT",
    "TCP_KEEPIDLE",
    "TCP_KEEPINTVL",
    "IP_TOS",
    "IP_TTL",
    "TCP_MAXSEG",
    "TCP_NODELAY",
    "IP_FREEBIND",
    "IPV6_V6ONLY",
)


@dataclass(frozen=True)
class ValueRule:
    """What an option's value must be, and what fixcheck says when it is not."""

    valid: Callable[[str], bool]  # is the value (inline comment removed) one stunnel takes?
    message: str  # format fields: {option} (the manual's spelling of the name), {value}
    fix: str | None  # the line to suggest, same fields; None when there is no one right value


def _one_of(*choices: str) -> ValueRule:
    """A value from a list (any case); the fix suggests the first."""
    allowed = frozenset(c.lower() for c in choices)
    return ValueRule(
        lambda value: value.lower() in allowed,
        "'{option}' takes " + " | ".join(choices) + ", not '{value}'",
        "{option} = " + choices[0],
    )


_YES_OR_NO = ValueRule(
    lambda value: value.lower() in ("yes", "no"),
    "'{option}' takes yes or no, not '{value}'; stunnel refuses the configuration",
    "{option} = yes",
)
_NUMBER = ValueRule(str.isdigit, "'{option}' takes a number, not '{value}'", None)
_DEBUG = ValueRule(
    lambda value: debug_level(value) is not None,
    "debug takes [facility.]level (0-7 or " + ", ".join(DEBUG_LEVELS) + "), not '{value}'",
    "debug = info",
)

# Option (the manual's spelling) -> the check of its value. `socket` is checked by
# `socket_problem`: its message depends on which part of the value is wrong.
_VALUE_RULES_BY_NAME: dict[str, ValueRule] = {
    "client": _YES_OR_NO,
    "delay": _YES_OR_NO,
    "libwrap": _YES_OR_NO,
    "OCSPaia": _YES_OR_NO,
    "OCSPnonce": _YES_OR_NO,
    "pty": _YES_OR_NO,
    "renegotiation": _YES_OR_NO,
    "requireCert": _YES_OR_NO,
    "reset": _YES_OR_NO,
    "retry": _YES_OR_NO,
    "sessionResume": _YES_OR_NO,
    "verifyChain": _YES_OR_NO,
    "verifyPeer": _YES_OR_NO,
    "RNDoverwrite": _YES_OR_NO,
    "syslog": _YES_OR_NO,
    "taskbar": _YES_OR_NO,
    "fips": _YES_OR_NO,
    "foreground": _one_of("yes", "quiet", "no"),
    "log": _one_of("append", "overwrite"),
    "failover": _one_of("rr", "prio"),
    "transparent": _one_of("none", "source", "destination", "both", "yes", "no"),
    "sslVersion": _one_of("all", "SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
    "sslVersionMax": _one_of("all", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
    "sslVersionMin": _one_of("all", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
    "logId": _one_of("sequential", "unique", "thread", "process"),
    "RNDbytes": _NUMBER,
    "securityLevel": _NUMBER,
    "sessionCacheSize": _NUMBER,
    "sessionCacheTimeout": _NUMBER,
    "stack": _NUMBER,
    "TIMEOUTbusy": _NUMBER,
    "TIMEOUTclose": _NUMBER,
    "TIMEOUTconnect": _NUMBER,
    "TIMEOUTidle": _NUMBER,
    "engineNum": _NUMBER,
    "verify": _NUMBER,
    "debug": _DEBUG,
}
VALUE_RULES: dict[str, ValueRule] = {name.lower(): rule for name, rule in _VALUE_RULES_BY_NAME.items()}


@functools.lru_cache(maxsize=1024)
def closest_option(key: str) -> str | None:
    """The known option nearest to a misspelled one (difflib is slow: ask once per name)."""
    close = difflib.get_close_matches(key, list(CANONICAL), n=1, cutoff=0.7)
    return close[0] if close else None


def debug_level(value: str) -> int | None:
    """stunnel's `debug = [facility.]level` as a number 0-7; None when invalid."""
    level = value.rsplit(".", 1)[-1].strip().lower()
    if level.isdigit():
        return int(level) if int(level) <= 7 else None
    if level == "error":
        return 3
    if level == "warn":
        return 4
    return DEBUG_LEVELS.index(level) if level in DEBUG_LEVELS else None


def socket_problem(value: str) -> str | None:
    """Why `socket = value` is malformed (stunnel: "Illegal socket option"), or None."""
    m = re.fullmatch(r"\s*([alrALR])\s*:\s*([A-Za-z0-9_]+)\s*=\s*(\S+)\s*", value)
    if not m:
        return (
            f"'socket = {value}' is malformed: it must be a|l|r:OPTION=VALUE (a: accepting socket, "
            "l: local, r: remote), e.g. socket = l:TCP_NODELAY=1; stunnel refuses it (Illegal socket option)"
        )
    name = m.group(2).upper()
    if name not in SOCKET_OPTIONS:
        close = difflib.get_close_matches(name, SOCKET_OPTIONS, n=1, cutoff=0.7)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"'{m.group(2)}' is not a socket option stunnel knows{hint}; stunnel refuses it (Illegal socket option)"
    return None

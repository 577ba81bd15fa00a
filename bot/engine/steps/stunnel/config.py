"""Read a stunnel 5 configuration file the way stunnel reads it (pure: no file access).

stunnel's rules, as observed with stunnel 5.68 and its manual (stunnel.8):
- a line is empty, a comment (first non-blank character `;` or `#`), `[service]`, or
  `option = value`; blanks around the name and the value are ignored;
- there are no trailing comments: `cert = a.pem ; mine` makes the value `a.pem ; mine`;
- option names are case-insensitive (`cafile` works), and so are `yes`/`no`;
- options before the first `[service]` are global; service-level options there are
  defaults for every service; a global-only option inside a service is refused
  ("Specified option name is not valid here");
- an option given twice keeps its last value, except the repeatable ones
  (`connect`, `socket`, `checkHost`, `options`, ...);
- `include = DIRECTORY` reads the files in that directory (which we cannot see).
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

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
# Options that may be given several times, each adding a value.
REPEATABLE = frozenset(
    o.lower()
    for o in ("connect", "socket", "checkHost", "checkIP", "checkEmail", "options", "config", "OCSPflag", "sni")
)
# Options that name a file stunnel reads while loading its configuration.
FILE_OPTIONS: tuple[str, ...] = ("cert", "key", "CAfile")

_CANONICAL = {o.lower(): o for o in GLOBAL_ONLY + SERVICE_LEVEL}
_GLOBAL_ONLY_LOWER = frozenset(o.lower() for o in GLOBAL_ONLY)

_YES_NO = frozenset(
    o.lower()
    for o in (
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
)
_CHOICES: dict[str, tuple[str, ...]] = {
    "foreground": ("yes", "quiet", "no"),
    "log": ("append", "overwrite"),
    "failover": ("rr", "prio"),
    "transparent": ("none", "source", "destination", "both", "yes", "no"),
    "sslversion": ("all", "SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
    "sslversionmax": ("all", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
    "sslversionmin": ("all", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
    "logid": ("sequential", "unique", "thread", "process"),
}
_NUMERIC = frozenset(
    o.lower()
    for o in (
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
)
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

# Text the guide's example (or any template) leaves for the user to fill in.
_PLACEHOLDER = re.compile(
    r"\{[^{}]*\}|<[^<>]*>|\$\{?[A-Z_]+\}?|/path/to/|\bPATH[-_ ]TO\b|\bYOUR[-_ ][A-Z]|\bCHANGEME\b|\bREPLACE[-_ ]?ME\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Option:
    """One `name = value` line."""

    name: str  # as written
    key: str  # lower-case name, for lookups
    value: str
    line: int  # 1-based
    raw: str  # the whole line, stripped

    @property
    def canonical(self) -> str:
        """The manual's spelling of the name (the written one when unknown)."""
        return _CANONICAL.get(self.key, self.name)


@dataclass(frozen=True)
class Problem:
    """A line stunnel would refuse, or that does not do what it seems to."""

    kind: str  # "syntax", "unknown_option", "wrong_section", "bad_value", "bad_socket", "inline_comment"
    line: int
    raw: str
    message: str
    fix: str | None = None


@dataclass
class Section:
    """The global section (`name is None`) or one `[service]`."""

    name: str | None
    line: int
    options: list[Option] = field(default_factory=list)

    def all(self, key: str) -> list[Option]:
        k = key.lower()
        return [o for o in self.options if o.key == k]

    def get(self, key: str) -> Option | None:
        found = self.all(key)
        return found[-1] if found else None

    @property
    def label(self) -> str:
        return "the global section" if self.name is None else f"[{self.name}]"


@dataclass
class StunnelConfig:
    globals: Section
    services: list[Section]
    problems: list[Problem]

    def effective(self, service: Section, key: str) -> Option | None:
        """The value stunnel uses for `key` in `service`: its own, else the global default."""
        own = service.get(key)
        if own is not None:
            return own
        return self.globals.get(key) if key.lower() not in _GLOBAL_ONLY_LOWER else None

    def effective_all(self, service: Section, key: str) -> list[Option]:
        own = service.all(key)
        return own if own else self.globals.all(key)

    def all_options(self) -> Iterator[tuple[Section, Option]]:
        for section in (self.globals, *self.services):
            for option in section.options:
                yield section, option

    @property
    def includes(self) -> list[Option]:
        return [o for _, o in self.all_options() if o.key == "include"]


def parse(text: str) -> StunnelConfig:
    """Parse `text`; never raises. Lines stunnel would refuse become `problems`."""
    if text.startswith("\ufeff"):
        text = text[1:]
    glob = Section(None, 0)
    services: list[Section] = []
    problems: list[Problem] = []
    current = glob
    in_pem = False
    lines = text.splitlines()
    for number, raw_line in enumerate(lines[:MAX_LINES], start=1):
        line = raw_line.strip()
        if not line or line[0] in ";#":
            continue
        if _is_pem_data(line):
            # Key or certificate text pasted into the configuration: never quote it back
            # (it may be a private key); say once where it starts.
            if not in_pem:
                _add(
                    problems,
                    Problem(
                        "pem_data",
                        number,
                        "(key or certificate data, not shown)",
                        "certificate or key text pasted into the configuration",
                        "cert = /full/path/to/fix.itbit.pem",
                    ),
                )
            in_pem = True
            continue
        in_pem = False
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3:
                _add(
                    problems,
                    Problem("syntax", number, line, "a section name must be written [name] on a line of its own"),
                )
                continue
            current = Section(line[1:-1].strip(), number)
            services.append(current)
            continue
        if "=" not in line:
            _add(
                problems,
                Problem(
                    "syntax",
                    number,
                    line,
                    "no '=' found: stunnel refuses the whole configuration",
                    _guess_fix(line),
                ),
            )
            continue
        name, value = (part.strip() for part in line.split("=", 1))
        option = Option(name, name.lower(), value, number, line)
        _check_option(option, current, problems)
        current.options.append(option)
    return StunnelConfig(glob, services, problems)


MAX_LINES = 10_000  # a real configuration has dozens; the rest is not read
MAX_PROBLEMS = 50  # problems kept per configuration; more are only counted
_PEM_DATA = re.compile(
    r"^(?:[A-Za-z0-9+/]{16,}={0,2}|.*-----(?:BEGIN|END) [A-Z0-9 ]+-----.*|Proc-Type:.*|DEK-Info:.*)$"
)


def _is_pem_data(line: str) -> bool:
    return bool(_PEM_DATA.match(line))


def _add(problems: list[Problem], problem: Problem) -> None:
    """Keep at most MAX_PROBLEMS problems: a pasted novel must not become a novel-sized report."""
    if len(problems) < MAX_PROBLEMS:
        problems.append(problem)


@functools.lru_cache(maxsize=1024)
def _closest_option(key: str) -> str | None:
    """The known option nearest to a misspelled one (difflib is slow: ask once per name)."""
    close = difflib.get_close_matches(key, list(_CANONICAL), n=1, cutoff=0.7)
    return close[0] if close else None


def _guess_fix(line: str) -> str | None:
    parts = line.split(None, 1)
    if len(parts) == 2 and parts[0].lower() in _CANONICAL:
        return f"{_CANONICAL[parts[0].lower()]} = {parts[1].lstrip(':').strip()}"
    return None


def _check_option(option: Option, section: Section, problems: list[Problem]) -> None:
    key, value = option.key, option.value
    if key not in _CANONICAL:
        nearest = _closest_option(key)
        hint = f"did you mean {_CANONICAL[nearest]}?" if nearest else "see `man stunnel` for the option names"
        fix = f"{_CANONICAL[nearest]} = {value}" if nearest else None
        _add(
            problems,
            Problem(
                "unknown_option",
                option.line,
                option.raw,
                f"'{option.name}' is not a stunnel option ({hint}); stunnel refuses the whole configuration",
                fix,
            ),
        )
        return
    if section.name is not None and key in _GLOBAL_ONLY_LOWER:
        _add(
            problems,
            Problem(
                "wrong_section",
                option.line,
                option.raw,
                f"'{option.canonical}' is a global option: inside {section.label} stunnel refuses it "
                '("Specified option name is not valid here")',
                f"move '{option.canonical} = {value}' above the first [section]",
            ),
        )
    comment = re.search(r"\s[;#]", value)
    if comment and key not in ("execargs", "protocolheader", "ciphers", "ciphersuites"):
        clean = value[: comment.start()].strip()
        _add(
            problems,
            Problem(
                "inline_comment",
                option.line,
                option.raw,
                f"stunnel has no comments after a value: '{option.canonical}' is read as '{value}'",
                f"{option.canonical} = {clean}",
            ),
        )
        value = clean
    if key in _YES_NO and value.lower() not in ("yes", "no"):
        _add(
            problems,
            Problem(
                "bad_value",
                option.line,
                option.raw,
                f"'{option.canonical}' takes yes or no, not '{value}'; stunnel refuses the configuration",
                f"{option.canonical} = yes",
            ),
        )
    elif key in _CHOICES and value.lower() not in (c.lower() for c in _CHOICES[key]):
        choices = " | ".join(_CHOICES[key])
        _add(
            problems,
            Problem(
                "bad_value",
                option.line,
                option.raw,
                f"'{option.canonical}' takes {choices}, not '{value}'",
                f"{option.canonical} = {_CHOICES[key][0]}",
            ),
        )
    elif key in _NUMERIC and not value.isdigit():
        _add(
            problems,
            Problem("bad_value", option.line, option.raw, f"'{option.canonical}' takes a number, not '{value}'"),
        )
    elif key == "debug" and debug_level(value) is None:
        _add(
            problems,
            Problem(
                "bad_value",
                option.line,
                option.raw,
                f"debug takes [facility.]level (0-7 or {', '.join(DEBUG_LEVELS)}), not '{value}'",
                "debug = info",
            ),
        )
    elif key == "socket":
        message = socket_problem(value)
        if message:
            _add(problems, Problem("bad_socket", option.line, option.raw, message, "socket = l:TCP_NODELAY=1"))


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


def placeholder_in(value: str) -> str | None:
    """The template text left in `value` (`{PATH-TO-CERT}`, `<...>`, `/path/to/`), or None."""
    m = _PLACEHOLDER.search(value)
    return m.group(0) if m else None


@dataclass(frozen=True)
class Address:
    """An `accept`/`connect` value: `[HOST:]PORT` or a Unix socket path."""

    host: str | None
    port: str
    unix: bool = False

    @property
    def port_number(self) -> int | None:
        return int(self.port) if self.port.isdigit() and 0 < int(self.port) < 65536 else None


def parse_address(value: str) -> Address:
    value = value.strip()
    if value.startswith("/"):
        return Address(None, value, unix=True)
    if value.startswith("["):  # [v6]:port
        m = re.fullmatch(r"\[([^\]]+)\]:(\S+)", value)
        if m:
            return Address(m.group(1), m.group(2))
    if ":" in value:
        host, _, port = value.rpartition(":")
        return Address(host or None, port)
    return Address(None, value)


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def referenced_paths(config_text: str) -> list[str]:
    """The files a configuration makes stunnel read (`cert`, `key`, `CAfile`), as written.

    For front ends that can read them (the CLI): read each, pass it to `diagnose()` as an
    extra input named by this path. Placeholders and duplicates are left out.
    """
    config = parse(config_text)
    seen: dict[str, None] = {}
    for _, option in config.all_options():
        if option.key in ("cert", "key", "cafile") and option.value and placeholder_in(option.value) is None:
            seen.setdefault(option.value, None)
    return list(seen)


def basename(path: str) -> str:
    return re.split(r"[\\/]", path.rstrip("/\\"))[-1]

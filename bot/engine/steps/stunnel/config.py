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

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.engine.steps.stunnel.options import (
    CANONICAL,
    GLOBAL_ONLY_LOWER,
    MAX_LINES,
    VALUE_RULES,
    closest_option,
    socket_problem,
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
        return CANONICAL.get(self.key, self.name)


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
        return self.globals.get(key) if key.lower() not in GLOBAL_ONLY_LOWER else None

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


def _guess_fix(line: str) -> str | None:
    parts = line.split(None, 1)
    if len(parts) == 2 and parts[0].lower() in CANONICAL:
        return f"{CANONICAL[parts[0].lower()]} = {parts[1].lstrip(':').strip()}"
    return None


def _check_option(option: Option, section: Section, problems: list[Problem]) -> None:
    """Add to `problems` what stunnel would refuse in `option`, in the order stunnel reads the line."""
    if option.key not in CANONICAL:
        _add(problems, _unknown(option))
        return
    if section.name is not None and option.key in GLOBAL_ONLY_LOWER:
        _add(
            problems,
            Problem(
                "wrong_section",
                option.line,
                option.raw,
                f"'{option.canonical}' is a global option: inside {section.label} stunnel refuses it "
                '("Specified option name is not valid here")',
                f"move '{option.canonical} = {option.value}' above the first [section]",
            ),
        )
    value = _without_comment(option, problems)
    problem = _value_problem(option, value)
    if problem is not None:
        _add(problems, problem)


def _unknown(option: Option) -> Problem:
    nearest = closest_option(option.key)
    hint = f"did you mean {CANONICAL[nearest]}?" if nearest else "see `man stunnel` for the option names"
    return Problem(
        "unknown_option",
        option.line,
        option.raw,
        f"'{option.name}' is not a stunnel option ({hint}); stunnel refuses the whole configuration",
        f"{CANONICAL[nearest]} = {option.value}" if nearest else None,
    )


# Options whose values may hold ';' or '#' after a blank (a command line, a header, a cipher list).
_COMMENT_CHARS_ALLOWED = ("execargs", "protocolheader", "ciphers", "ciphersuites")


def _without_comment(option: Option, problems: list[Problem]) -> str:
    """The value without what looks like a trailing comment (stunnel has none: it reads it as value)."""
    value = option.value
    comment = re.search(r"\s[;#]", value)
    if not comment or option.key in _COMMENT_CHARS_ALLOWED:
        return value
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
    return clean


def _value_problem(option: Option, value: str) -> Problem | None:
    """The option's value against its row of `VALUE_RULES` (and `socket` against `socket_problem`)."""
    rule = VALUE_RULES.get(option.key)
    if rule is not None:
        if rule.valid(value):
            return None
        fields = {"option": option.canonical, "value": value}
        fix = rule.fix.format(**fields) if rule.fix is not None else None
        return Problem("bad_value", option.line, option.raw, rule.message.format(**fields), fix)
    if option.key == "socket":
        message = socket_problem(value)
        if message:
            return Problem("bad_socket", option.line, option.raw, message, "socket = l:TCP_NODELAY=1")
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

"""Read stunnel's log and name what went wrong (pure: the text only).

stunnel 5 writes two formats, both recognised here:
- once logging is set up: `2026.01.02 03:04:05 LOG3[0]: message` (also behind a syslog
  prefix such as `stunnel[123]: LOG3[0]: message`);
- before that (errors while reading the configuration): `[!] message`, where the mark
  is `!` error, `:` warning, `.` notice, ` ` info/debug.

The patterns are stunnel 5.68's own messages (produced by real runs in the tests),
matched on the message text rather than on OpenSSL's file/line details. The lines that
make a finding are the rows of `log_rules.LOG_RULES`; this module reads the lines, keeps
what earlier lines said, and names each line's row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.engine.steps.stunnel.log_rules import COUNT_FIELDS, LOG_RULES, LogRule
from bot.engine.steps.stunnel.tls_alerts import ALERTS

_LOG_LINE = re.compile(r"LOG(?P<level>[0-7])\[(?P<thread>[^\]]*)\]:\s?(?P<msg>.*)$")
_EARLY_LINE = re.compile(r"^\[(?P<mark>[!:. ])\]\s(?P<msg>.*)$")
_MARK_LEVEL = {"!": 3, ":": 4, ".": 5, " ": 6}

# Lines without a row in LOG_RULES, read before the rows (event kind, pattern): the finding for
# `pid_file` is made in `cross_log.py` (it computes the folder to create from the path); the
# others make no finding of their own, they tell the rules there how to read other lines.
CONTEXT_LINES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # stunnel 5.68 exits at start-up when the pid file's folder is missing or not writable.
    ("pid_file", re.compile(r"^Cannot (?:create|write) pid file (?P<path>\S+)$")),
    # Not fatal: stunnel starts and resolves the connect host again for each connection.
    ("dns_delayed", re.compile(r"^Cannot resolve (?:connect|redirect) target - delaying DNS lookup$")),
    # The server's chain verified up to a CA in CAfile (depth 1 or more): CAfile is right.
    ("ca_accepted", re.compile(r"^Certificate accepted at depth=(?P<depth>[1-9]\d*): (?P<subject>.+)$")),
    ("rejected_cert", re.compile(r"^Rejected by CERT at depth=(?P<depth>\d+): (?P<subject>.+)$")),
)
_LOADING = re.compile(r"Loading (certificate|private key) from file: (.+)$")
_PREVERIFY = re.compile(r"CERT: Pre-verification error: (.+)$")


@dataclass(frozen=True)
class LogLine:
    level: int  # syslog level 0-7
    thread: str  # "ui", "cron", a connection number, or "" for the early format
    message: str
    number: int  # 1-based line number in the pasted text


@dataclass(frozen=True)
class Event:
    """One thing the log shows, with the lines that show it."""

    kind: str
    detail: dict[str, str | int]
    lines: tuple[str, ...]
    rule: LogRule | None = None  # the row that read the first line; None for `CONTEXT_LINES`


def read_lines(text: str) -> list[LogLine]:
    out: list[LogLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        m = _LOG_LINE.search(line)
        if m:
            out.append(LogLine(int(m.group("level")), m.group("thread"), m.group("msg").strip(), number))
            continue
        e = _EARLY_LINE.match(line)
        if e:
            out.append(LogLine(_MARK_LEVEL[e.group("mark")], "", e.group("msg").strip(), number))
    return out


@dataclass
class _Earlier:
    """What earlier lines said that a later line's row needs (`LogRule.after`, `LogRule.fields`)."""

    loading: tuple[str, str] | None = None  # ("certificate" | "private key", path) being loaded
    preverify: str | None = None  # the last 'CERT: Pre-verification error'
    tls_up: set[str] = field(default_factory=set)  # connection threads whose handshake completed

    def note(self, line: LogLine) -> bool:
        """Remember what `line` says for later lines; True when that is all it says."""
        msg = line.message
        loading = _LOADING.match(msg)
        if loading:
            self.loading = (loading.group(1), loading.group(2).strip())
            return True
        pre = _PREVERIFY.match(msg)
        if pre:
            self.preverify = pre.group(1).strip()
            return True
        if msg.startswith("TLS connected"):
            self.tls_up.add(line.thread)
            return True
        return False

    def allows(self, rule: LogRule, line: LogLine) -> bool:
        if rule.after == "loading":
            return self.loading is not None
        if rule.after == "handshake":
            return line.thread in self.tls_up
        if rule.after == "preverify":
            return bool(self.preverify)
        return True

    def value(self, name: str, match: re.Match[str], line: LogLine) -> str | int:
        """The value of field `name`: the pattern's named group, else from earlier lines or derived."""
        if name in match.re.groupindex:
            text = match.group(name) or ""
            return int(text) if name in COUNT_FIELDS else text
        if name == "number":
            return ALERTS[match.group("alert")]
        if name == "where":
            return _config_line(line.message)
        if name == "reason":
            return self.preverify or ""
        what, path = self.loading or ("", "")
        return {"what": what, "path": path}[name]


def _read(line: LogLine, earlier: _Earlier) -> tuple[str, dict[str, str | int], LogRule | None] | None:
    """The kind of `line`, its values, and the row that read it; None for a line fixcheck does not know."""
    msg = line.message
    for kind, pattern in CONTEXT_LINES:
        m = pattern.match(msg)
        if m:
            return kind, dict(m.groupdict()), None
    for rule in LOG_RULES:
        m = rule.pattern.search(msg)
        if m and earlier.allows(rule, line):
            return rule.kind, {name: earlier.value(name, m, line) for name in rule.fields}, rule
    return None


def events(text: str) -> list[Event]:
    """The known events in a stunnel log, in order, each kind at most once (later lines count)."""
    found: dict[str, Event] = {}
    earlier = _Earlier()
    for line in read_lines(text):
        if earlier.note(line):
            continue
        read = _read(line, earlier)
        if read is None:
            continue
        kind, detail, rule = read
        old = found.get(kind)
        if old is not None:
            count = int(old.detail.get("count", 1)) + 1
            found[kind] = Event(kind, {**old.detail, "count": count}, old.lines, old.rule)
        else:
            found[kind] = Event(kind, {"line": line.number, **detail}, (line.message[:300],), rule)
    return list(found.values())


def _config_line(message: str) -> str:
    """`/etc/stunnel/x.conf:10: "verfyChain = yes": Specified ...` -> `line 10: verfyChain = yes`."""
    m = re.match(r'(?P<file>.*?):(?P<line>\d+): "(?P<text>.*)": ', message)
    if not m:
        return message[:200]
    return f"line {m.group('line')}: {m.group('text').strip()}"

"""Read stunnel's log and name what went wrong (pure: the text only).

stunnel 5 writes two formats, both recognised here:
- once logging is set up: `2026.01.02 03:04:05 LOG3[0]: message` (also behind a syslog
  prefix such as `stunnel[123]: LOG3[0]: message`);
- before that (errors while reading the configuration): `[!] message`, where the mark
  is `!` error, `:` warning, `.` notice, ` ` info/debug.

The patterns below are stunnel 5.68's own messages (produced by real runs in the
tests), matched on the message text rather than on OpenSSL's file/line details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LOG_LINE = re.compile(r"LOG(?P<level>[0-7])\[(?P<thread>[^\]]*)\]:\s?(?P<msg>.*)$")
_EARLY_LINE = re.compile(r"^\[(?P<mark>[!:. ])\]\s(?P<msg>.*)$")
_MARK_LEVEL = {"!": 3, ":": 4, ".": 5, " ": 6}

# TLS alert names as OpenSSL prints them, and their numbers (RFC 8446 section 6).
ALERTS: dict[str, int] = {
    "handshake failure": 40,
    "bad certificate": 42,
    "unsupported certificate": 43,
    "certificate revoked": 44,
    "certificate expired": 45,
    "certificate unknown": 46,
    "illegal parameter": 47,
    "unknown ca": 48,
    "access denied": 49,
    "decrypt error": 51,
    "protocol version": 70,
    "insufficient security": 71,
    "internal error": 80,
    "certificate required": 116,
    "unrecognized name": 112,
}


# One row per log line, table-shaped so the rules can move as they are: (event kind, pattern on
# the message). Named groups become the event's detail. Checked before the older rules below.
LINE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # stunnel 5.68 exits at start-up when the pid file's folder is missing or not writable.
    ("pid_file", re.compile(r"^Cannot (?:create|write) pid file (?P<path>\S+)$")),
    ("pid_not_absolute", re.compile(r"^Pid file must include full path name")),
    # Not fatal: stunnel starts and resolves the connect host again for each connection.
    ("dns_delayed", re.compile(r"^Cannot resolve (?:connect|redirect) target - delaying DNS lookup$")),
    # The server's chain verified up to a CA in CAfile (depth 1 or more): CAfile is right.
    ("ca_accepted", re.compile(r"^Certificate accepted at depth=(?P<depth>[1-9]\d*): (?P<subject>.+)$")),
    ("rejected_cert", re.compile(r"^Rejected by CERT at depth=(?P<depth>\d+): (?P<subject>.+)$")),
)


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


def _alert(message: str) -> tuple[str, int] | None:
    m = re.search(r"alert ([a-z ]+?)\s*(?:$|:|\()", message)
    if not m:
        return None
    name = m.group(1).strip()
    for alert, num in ALERTS.items():
        if name.endswith(alert):
            return alert, num
    return None


def events(text: str) -> list[Event]:
    """The known events in a stunnel log, in order, each kind at most once."""
    lines = read_lines(text)
    found: dict[str, Event] = {}

    def add(kind: str, line: LogLine, **detail: str | int) -> None:
        if kind in found:
            old = found[kind]
            count = int(old.detail.get("count", 1)) + 1
            found[kind] = Event(kind, {**old.detail, "count": count}, old.lines)
        else:
            found[kind] = Event(kind, {"line": line.number, **detail}, (line.message[:300],))

    last_loading: tuple[str, str] | None = None  # ("certificate" | "private key", path)
    last_preverify: str | None = None
    tls_up: set[str] = set()  # connection threads whose handshake completed
    for line in lines:
        msg = line.message
        loading = re.match(r"Loading (certificate|private key) from file: (.+)$", msg)
        if loading:
            last_loading = (loading.group(1), loading.group(2).strip())
            continue
        pre = re.match(r"CERT: Pre-verification error: (.+)$", msg)
        if pre:
            last_preverify = pre.group(1).strip()
            continue
        if msg.startswith("TLS connected"):
            tls_up.add(line.thread)
            continue
        rule = next(((kind, m) for kind, pattern in LINE_RULES if (m := pattern.match(msg))), None)
        if rule is not None:
            add(rule[0], line, **rule[1].groupdict())
            continue
        if msg == "Configuration successful":
            add("config_ok", line)
        elif msg == "Configuration failed":
            add("config_failed", line)
        elif "No such file or directory" in msg and last_loading is not None:
            add("file_not_found", line, what=last_loading[0], path=last_loading[1])
        elif "key values mismatch" in msg:
            add("key_mismatch", line, path=last_loading[1] if last_loading else "")
        elif msg.startswith("SSL_CTX_use_PrivateKey_file") and last_loading is not None:
            add("key_unreadable", line, path=last_loading[1])
        elif "Specified option name is not valid here" in msg:
            add("illegal_option", line, where=_config_line(msg))
        elif re.search(r"Illegal socket option|needs to be either 'yes' or 'no'|No '=' found|Illegal ", msg):
            add("config_line_error", line, where=_config_line(msg))
        elif "TLS server needs a certificate" in msg:
            add("server_mode", line)
        elif 'Either "verifyChain" or "verifyPeer" has to be enabled' in msg:
            add("checkhost_without_verify", line)
        elif re.search(r"accept.*only allowed in a \[section\]", msg):
            add("no_section", line)
        elif "Address already in use" in msg:
            m = re.search(r"to (\S+): Address already in use", msg)
            add("address_in_use", line, address=m.group(1) if m else "")
        elif re.search(r"s_connect: connect (\S+): Connection refused", msg):
            m = re.search(r"connect (\S+):", msg)
            add("connect_refused", line, address=m.group(1) if m else "")
        elif re.search(r"s_connect: .*(timed out|TIMEOUTconnect|timeout)", msg, re.IGNORECASE):
            add("connect_timeout", line)
        elif msg.startswith("Error resolving") or msg.startswith("Unknown TCP service"):
            m = re.search(r'"([^"]*)"', msg)
            add("dns", line, name=m.group(1) if m else "")
        elif msg == "No remote host resolved":
            add("dns", line, name="")
        elif msg == "CERT: Subject checks failed":
            add("subject_checks_failed", line)
        elif "certificate verify failed" in msg:
            add("server_cert_untrusted", line, reason=last_preverify or "")
        elif re.match(r"SSL_(connect|read|write|accept)", msg) and "wrong version number" in msg:
            kind = "server_mode" if msg.startswith("SSL_accept") else "not_tls"
            add(kind, line)
        elif re.match(r"SSL_(connect|read|write)", msg) and _alert(msg):
            name, num = _alert(msg) or ("", 0)
            add("alert", line, alert=name, number=num, call=msg.split(":", 1)[0])
        elif re.match(r"SSL_connect", msg) and re.search(r"Connection reset by peer|unexpected eof|syscall", msg, re.I):
            add("reset_in_handshake", line)
        elif line.thread in tls_up and re.search(r"Connection reset by peer|Broken pipe|unexpected eof", msg, re.I):
            # TLS 1.3: the server's reset (or close) can overtake its alert about our certificate.
            add("reset_after_handshake", line)
        elif msg.startswith("Insecure file permissions on"):
            add("insecure_permissions", line, path=msg.rsplit(" on ", 1)[-1])
        elif msg.endswith("needs authentication to prevent MITM attacks"):
            add("verify_off", line)
        elif msg == "No trusted certificates found":
            add("no_trusted_certs", line)
        else:
            traffic = re.match(
                r"Connection (?:closed|reset|closed/reset): (\d+) byte\(s\) sent to TLS, (\d+) byte", msg
            )
            if traffic and int(traffic.group(2)) > 0:
                add("traffic", line, to_tls=int(traffic.group(1)), to_socket=int(traffic.group(2)))
    return list(found.values())


def _config_line(message: str) -> str:
    """`/etc/stunnel/x.conf:10: "verfyChain = yes": Specified ...` -> `line 10: verfyChain = yes`."""
    m = re.match(r'(?P<file>.*?):(?P<line>\d+): "(?P<text>.*)": ', message)
    if not m:
        return message[:200]
    return f"line {m.group('line')}: {m.group('text').strip()}"

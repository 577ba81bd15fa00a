"""Step 7: findings from stunnel's log output.

Each known line's finding is a row of `log_rules.LOG_RULES`; the few rules that read a line
with the rest of the log come first (`cross_log.log_override`).
"""

from __future__ import annotations

from bot.engine.report import Finding, Status
from bot.engine.steps.stunnel import log as slog
from bot.engine.steps.stunnel.cross_log import log_override

# Lines that name why stunnel said 'Configuration failed': when one is in the log, its own
# finding says it, and 'Configuration failed' adds nothing. Not in the table: it depends on
# the other lines of the log.
_CAUSES_OF_CONFIG_FAILED = frozenset(
    {
        "pid_not_absolute",
        "file_not_found",
        "key_mismatch",
        "key_unreadable",
        "illegal_option",
        "config_line_error",
        "server_mode",
        "checkhost_without_verify",
        "no_section",
    }
)


def check_log(text: str, name: str) -> list[Finding]:
    """Findings from stunnel's log output (`name` names the log in messages)."""
    out: list[Finding] = []
    events = slog.events(text)
    kinds = {e.kind for e in events}
    for event in events:
        decided, finding = log_override(event, events, name)  # rules that cross-check the rest of the log
        if not decided:
            said_by_cause = event.kind == "config_failed" and bool(kinds & _CAUSES_OF_CONFIG_FAILED)
            finding = None if said_by_cause else _row_finding(event, name)
        if finding is not None:
            out.append(finding)
    if not out:
        out.append(
            Finding(
                "stunnel.log_nothing_known",
                Status.SKIP,
                f"{name} looks like stunnel's log, but holds none of the lines fixcheck knows.",
                "Start stunnel with 'debug = info' and 'foreground = yes', try one connection, and paste all of its "
                "output.",
            )
        )
    return out


def _row_finding(event: slog.Event, name: str) -> Finding | None:
    """The finding of the row that read `event`'s first line (None for a line with no row)."""
    rule = event.rule
    if rule is None:
        return None
    d = event.detail
    values = {**d, "said": event.lines[0].rsplit(": ", 1)[-1]}
    evidence = {
        "log_line": d.get("line"),
        "lines": list(event.lines),
        "count": d.get("count", 1),
        **{k: v for k, v in d.items() if k not in ("line", "count")},
        **dict(rule.constants),
    }
    return Finding(
        rule.code,
        rule.status,
        f"{name}: {rule.message.format(**values)}",
        rule.remediation.format(**values) if rule.remediation is not None else None,
        tuple(c.format(**values) for c in rule.commands),
        evidence,
    )

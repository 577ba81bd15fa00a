"""Step 7: one root cause, stated once, and never "correct" beside a failure it caused.

`reconcile()` in `cross` calls these after it has dropped the log findings that
another finding states better:

- a log line that shows a configuration finding at work (stunnel's 'certificate verify
  failed' when CAfile is the client's own ca.crt) becomes evidence on that finding, not a
  second failure with a second remediation;
- `--through-stunnel`'s summary points at the finding that explains the failure, by code,
  instead of "the log findings above", which may have been folded away;
- `stunnel.ok` is not kept beside a failure the configuration itself caused;
- a command written with `HOST:PORT` names the endpoint when it is known.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Sequence

from bot.engine.report import Finding, Status

# Log finding -> the configuration findings whose effect it shows (the first present absorbs it).
CONFIRMS: dict[str, tuple[str, ...]] = {
    "stunnel.log_server_cert_untrusted": ("stunnel.cafile_is_client_ca", "stunnel.cafile_wrong_content"),
}

# Log/run failures that come from the configuration's own content: next to one of them the
# configuration is not "correct".
CAUSED_BY_CONFIG = frozenset(
    {
        "stunnel.check_name_not_in_cert", "stunnel.log_checkhost_failed", "stunnel.log_checkhost_without_verify",
        "stunnel.log_server_cert_untrusted", "stunnel.log_config_failed", "stunnel.log_config_line",
        "stunnel.log_file_not_found", "stunnel.log_illegal_option", "stunnel.log_key_mismatch",
        "stunnel.log_key_unreadable", "stunnel.log_no_section", "stunnel.log_no_trusted_certs",
        "stunnel.log_not_client", "stunnel.log_pid_file", "stunnel.log_verify_off",
    }
)

# Configuration findings that state a log line's cause in its place (`cross_log.SAID_BY`).
EXPLAINS_LOG = frozenset({"stunnel.check_name_not_in_cert"})

# The run summaries that point at "the log findings above".
RUN_SUMMARIES = ("stunnel.run_tls_failed", "stunnel.run_no_reply")
ABOVE = "the log findings above say why"


def fold_confirmations(findings: Sequence[Finding]) -> list[Finding]:
    """A log finding whose cause a configuration finding states becomes that finding's evidence."""
    by_code = {f.code: f for f in findings}
    absorbed: dict[str, Finding] = {}  # configuration finding code -> the log finding it absorbs
    for log_code, causes in CONFIRMS.items():
        log = by_code.get(log_code)
        cause = next((c for c in causes if c in by_code), None)
        if log is not None and cause is not None and log.status is Status.FAIL:
            absorbed[cause] = log
    if not absorbed:
        return list(findings)
    gone = {f.code for f in absorbed.values()}
    out: list[Finding] = []
    for f in findings:
        if f.code in gone:
            continue
        log = absorbed.get(f.code)
        if log is not None:
            line = log.evidence.get("log_line") or (log.evidence.get("lines") or [""])[0]
            seen = f" stunnel's log shows it: '{line}'." if line else " stunnel's log shows it."
            f = dataclasses.replace(
                f, message=f.message + seen, evidence={**f.evidence, "confirmed_by": log.code, "log_line": line}
            )
        out.append(f)
    return out


def point_at_cause(findings: Sequence[Finding]) -> list[Finding]:
    """`--through-stunnel`'s failure summary names the finding that explains it."""
    fails = [f for f in findings if f.status is Status.FAIL and f.code not in RUN_SUMMARIES]
    # The log's own words first, then a finding that absorbed or replaced a log line, then any.
    ranked = sorted(fails, key=lambda f: (not f.code.startswith("stunnel.log_"), "confirmed_by" not in f.evidence
                                          and f.code not in EXPLAINS_LOG))
    cause = ranked[0] if ranked else None
    if cause is None:
        return list(findings)
    out = []
    for f in findings:
        if f.code in RUN_SUMMARIES and ABOVE in f.message:
            f = dataclasses.replace(
                f,
                message=f.message.replace(ABOVE, f"{cause.code} above says why"),
                remediation=f"Fix what {cause.code} says, then run again.",
            )
        out.append(f)
    return out


def no_ok_beside_its_failure(findings: Sequence[Finding]) -> list[Finding]:
    """Drop `stunnel.ok` when the configuration's own log or run shows a failure it caused."""
    if any(f.code in CAUSED_BY_CONFIG and f.status is Status.FAIL for f in findings):
        return [f for f in findings if f.code != "stunnel.ok"]
    return list(findings)


# Findings whose HOST:PORT is a placeholder on purpose (the endpoint is what they question).
PLACEHOLDER_ON_PURPOSE = frozenset({"stunnel.connect_unconfirmed"})


def fill_endpoint(findings: Sequence[Finding], endpoint: str | None) -> list[Finding]:
    """Commands written with `HOST:PORT` get the known endpoint, ready to paste."""
    if not endpoint:
        return list(findings)
    quoted = shlex.quote(endpoint)
    out = []
    for f in findings:
        if f.code in PLACEHOLDER_ON_PURPOSE:
            out.append(f)
            continue
        commands = tuple(c.replace("HOST:PORT", quoted) for c in f.commands)
        # In prose only the commands; "connect = HOST:PORT" stays: it asks for the right address.
        remediation = f.remediation
        if remediation is not None:
            remediation = remediation.replace("-connect HOST:PORT", f"-connect {quoted}")
        out.append(dataclasses.replace(f, commands=commands, remediation=remediation))
    return out

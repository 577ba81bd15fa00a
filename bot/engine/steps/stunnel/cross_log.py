"""Step 7: stunnel log findings read with the rest of the log, the configuration and step 4.

These rules are not rows of `log_rules.LOG_RULES` because a line alone does not decide them:
one root cause is stated once, and a file shown to be right is never blamed.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Mapping, Sequence

from bot.engine.context import Context
from bot.engine.report import Finding, Status
from bot.engine.steps.stunnel import log as slog
from bot.engine.steps.stunnel import once
from bot.engine.steps.stunnel.config import basename

# A log finding left out when the finding it names is present: the same root cause, which that
# finding states with more (the certificate's names from step 4, and the line to write).
SAID_BY: dict[str, str] = {
    "stunnel.log_checkhost_failed": "stunnel.check_name_not_in_cert",
}


def log_override(event: slog.Event, events: Sequence[slog.Event], name: str) -> tuple[bool, Finding | None]:
    """`(True, finding or None)` when a rule here decides `event` (None: said elsewhere); else `(False, None)`.

    `events` is the whole log's, so that a line is read with the others around it.
    """
    by_kind = {e.kind: e for e in events}
    kinds = set(by_kind)
    d = event.detail
    ev = {"log_line": d.get("line"), "lines": list(event.lines), "count": d.get("count", 1)}
    if event.kind == "pid_file":
        return True, _pid_file(name, str(d.get("path", "")), ev)
    if event.kind == "dns" and "dns_delayed" in kinds and int(d.get("count", 1)) == 1:
        return True, _dns_delayed(name, str(d.get("name") or "the connect host"), ev)
    rejected = by_kind.get("rejected_cert")
    if event.kind == "subject_checks_failed" and rejected is not None and str(rejected.detail.get("depth")) == "0":
        return True, _name_check_failed(name, str(rejected.detail.get("subject", "")), ev)
    if event.kind == "server_cert_untrusted" and "subject_checks_failed" in kinds:
        return True, None  # the consequence of the subject check, which stunnel.log_checkhost_failed states
    if event.kind == "server_cert_untrusted" and "ca_accepted" in kinds:
        return True, _leaf_untrusted(name, str(d.get("reason") or ""), ev)
    return False, None


def _pid_file(name: str, path: str, ev: Mapping[str, object]) -> Finding:
    """'Cannot create pid file': not a row, because the folder to create is computed from the path."""
    folder = os.path.dirname(path) or "/"
    return Finding(
        "stunnel.log_pid_file",
        Status.FAIL,
        f"{name}: stunnel could not create its pid file {path} ('Cannot create pid file') and exited: the folder "
        f"{folder} does not exist or is not writable by the user stunnel runs as.",
        f"Create the folder (mkdir -p {shlex.quote(folder)}) or write `pid =` (no pid file), then start stunnel again.",
        (f"ls -ld {shlex.quote(folder)}",),
        {**ev, "path": path},
    )


def _dns_delayed(name: str, host: str, ev: Mapping[str, object]) -> Finding:
    """A name that did not resolve once, at start-up, with 'delaying DNS lookup' in the log: not fatal."""
    return Finding(
        "stunnel.log_dns",
        Status.WARN,
        f"{name}: stunnel could not resolve {host} at start-up and carried on ('delaying DNS lookup'): not "
        "fatal, it tries again for each connection, which fails while the name does not resolve (step 3).",
        "Check the name in connect = against the FIX server address from onboarding, and DNS on this machine.",
        (f"getent hosts {shlex.quote(host)}",),
        {**ev, "name": host},
    )


def _leaf_untrusted(name: str, reason: str, ev: Mapping[str, object]) -> Finding:
    """'certificate verify failed' after 'Certificate accepted at depth=1': the CA was right, the leaf was not."""
    return Finding(
        "stunnel.log_server_cert_untrusted",
        Status.FAIL,
        f"{name}: stunnel did not accept the exchange's server certificate ('certificate verify failed'"
        + (f"; CERT: Pre-verification error: {reason}" if reason else "")
        + "), though it accepted the CA above it ('Certificate accepted at depth=1'): CAfile is right, the "
        "server's own certificate failed the check (step 4).",
        "Keep CAfile as it is. Run step 4 (--connect HOST:PORT) to see the server certificate's dates and names; "
        "if it has expired, check this machine's clock, then tell the exchange.",
        ("openssl s_client -connect HOST:PORT -CAfile itbit-ca.pem </dev/null",),
        {**ev, "reason": reason},
    )


def _name_check_failed(name: str, subject: str, ev: Mapping[str, object]) -> Finding:
    """'Subject checks failed' with the certificate stunnel rejected ('Rejected by CERT at depth=0: ...')."""
    cn = next((part.split("=", 1)[1].strip() for part in subject.split(",") if part.strip().startswith("CN=")), "")
    example = f" (e.g. checkHost = {cn}, its CN, if it has no subjectAltName)" if cn and "*" not in cn else ""
    return Finding(
        "stunnel.log_checkhost_failed",
        Status.FAIL,
        f"{name}: stunnel rejected the exchange's certificate ({subject}): 'CERT: Subject checks failed': "
        "checkHost/checkIP is not a name this certificate holds. The chain itself was not the problem.",
        f"Write a checkHost/checkIP the certificate holds{example}; step 4 (--connect HOST:PORT) lists its names.",
        (
            "openssl s_client -connect HOST:PORT </dev/null 2>/dev/null | openssl x509 -noout -subject -ext subjectAltName",
        ),
        {**ev, "rejected_subject": subject},
    )


def reconcile(ctx: Context, findings: Sequence[Finding], cafiles: Sequence[str]) -> list[Finding]:
    """One root cause stated once; never advice to replace a CAfile step 4 showed to be right."""
    codes = {f.code for f in findings}
    findings = [f for f in findings if SAID_BY.get(f.code) not in codes]
    findings = once.no_ok_beside_its_failure(once.point_at_cause(once.fold_confirmations(findings)))
    verified = _step4_verified_with(ctx)
    if verified is None:
        return findings
    same = basename(verified) in {basename(c) for c in cafiles}
    if cafiles and not same:
        return findings  # the configuration names another file: that advice stands
    return [_trusted_cafile(f, verified, same) if _blames_cafile(f) else f for f in findings]


def _blames_cafile(f: Finding) -> bool:
    return f.code == "stunnel.log_server_cert_untrusted" and "CAfile does not hold" in f.message


def _trusted_cafile(f: Finding, verified: str, named: bool) -> Finding:
    """The log's 'certificate verify failed', restated for a server CA file step 4 verified the server with."""
    head = f.message.split(" CAfile does not hold", 1)[0]
    if named:
        message = (
            f"{head} Step 4 verified the server's certificate with {verified}, the file CAfile names: CAfile is "
            "right. The rejection came from another check of the same certificate (checkHost/checkIP, or a date), "
            "or this log is from before the file was fixed."
        )
        fix = (
            f"Keep CAfile = {verified}. Compare checkHost/checkIP with the names step 4 shows, and check that "
            "stunnel runs with this configuration (the log's 'Reading configuration from file')."
        )
    else:
        message = (
            f"{head} Step 4 verified the server's certificate with {verified}: that file is right, so the stunnel "
            "that wrote this log read another CAfile (or ran before the file was fixed)."
        )
        fix = f"Keep {verified} as it is: point CAfile at its full path and restart stunnel."
    return dataclasses.replace(f, message=message, remediation=fix)


def _step4_verified_with(ctx: Context) -> str | None:
    step4 = ctx.results.get(4)
    if step4 is None:
        return None
    for f in step4.findings:
        if f.evidence.get("server_certificate_verified") is True:
            return str(f.evidence.get("server_ca_file") or "") or None
    return None

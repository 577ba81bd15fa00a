"""Step 4 from a run through the user's own stunnel (`--through-stunnel`): what the tunnel showed.

Without `--connect`, step 4 has no handshake of its own, but stunnel made one with the
user's files and configuration: its log says whether the mTLS handshake with the
exchange completed. With `--logon`, the FIX Logon made through the tunnel follows.
"""

from __future__ import annotations

import shlex

from bot.engine.context import Context
from bot.engine.report import Finding, Status
from bot.engine.steps._common import skip
from bot.engine.steps.tls.logon import fix_finding, not_sent
from bot.engine.tunnel import TunnelLogReading, TunnelRun


def handshake(run: TunnelRun, log: TunnelLogReading) -> Finding:
    """The mTLS handshake stunnel made with the exchange, as its log shows it (no endpoint given).

    `log` is step 7's reading of stunnel's log (`Context.tunnel_log`).
    """
    where = run.connect or "the exchange"
    direct = f"Add --connect {shlex.quote(run.connect) if run.connect else 'HOST:PORT'} to see the certificates of the handshake here too."
    if not run.started:
        return skip("tls.through_stunnel_not_run", f"stunnel did not start with {run.config_name} (step 7 says why), "
                    "so no handshake was made. " + direct)
    failures = list(log.failures)
    evidence = {"through_stunnel": True, "connect": run.connect, "config": run.config_name}
    if log.tls_connected and not failures:
        return Finding(
            "tls.through_stunnel_ok",
            Status.PASS,
            f"--through-stunnel: stunnel completed the mTLS handshake with {where} using {run.config_name}'s "
            f"certificate and CAfile ('TLS connected' in its log). {direct}",
            evidence=evidence,
        )
    if not run.connected:
        return skip("tls.through_stunnel_not_run", "The connection to stunnel's accept port failed (step 7), so no "
                    "handshake was made. " + direct)
    cause = f"{failures[0].code}: {failures[0].message}" if failures else "its log shows no completed handshake"
    # A skip that names the cause: the root cause is step 7's finding, which leads the report.
    return skip(
        "tls.through_stunnel_failed",
        f"--through-stunnel: stunnel's mTLS handshake with {where} did not complete. The cause, from stunnel's log "
        f"(step 7): {cause} {direct}",
    )


def findings(ctx: Context) -> list[Finding]:
    """The Logon the front end made through the user's stunnel (`--through-stunnel --logon`)."""
    run = ctx.tunnel_run
    if run is None or run.fix is None:
        return []
    label = f"[{run.service}] -> {run.connect}" if run.service else run.config_name
    if not run.started:
        return [not_sent(run.fix, "stunnel did not start with the configuration (step 7 says why).")]
    if not run.connected:
        return [not_sent(run.fix, "the connection to stunnel's accept port failed (step 7).")]
    log = ctx.tunnel_log or TunnelLogReading()
    return [fix_finding(run.fix, label, tunnel_failed=bool(log.failures))]

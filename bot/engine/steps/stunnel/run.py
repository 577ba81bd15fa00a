"""Step 7 findings from a run through the user's own stunnel (`TunnelRun`, made by the front end).

Did stunnel accept the configuration, what did its log say (the same log analysis as a
pasted log, `checks_log.check_log`), and did bytes cross the tunnel?
"""

from __future__ import annotations

from typing import Any

from bot.engine.report import Finding, Status
from bot.engine.steps.stunnel import log as slog
from bot.engine.steps.stunnel.checks_log import check_log
from bot.engine.tunnel import TunnelLogReading, TunnelRun

LOG_NAME = "stunnel's log of the test run"
LOG_TAIL_LINES = 60
_QUIET_CODES = {"stunnel.log_nothing_known"}


def _evidence(run: TunnelRun) -> dict[str, Any]:
    lines = [line[:300] for line in run.log.splitlines() if line.strip()]
    ev: dict[str, Any] = {
        "config": run.config_name,
        "service": run.service,
        "accept_used": run.accept,
        "accept_in_config": run.original_accept,
        "connect": run.connect,
        "changes": list(run.changes),
        "seconds": round(run.seconds, 2),
        "log_tail": lines[-LOG_TAIL_LINES:],
    }
    if run.stunnel_version:
        ev["stunnel_version"] = run.stunnel_version
    if run.exit_code is not None:
        ev["exit_code"] = run.exit_code
    if run.error:
        ev["error"] = run.error
    return ev


def log_findings(run: TunnelRun) -> list[Finding]:
    if not run.log.strip():
        return []
    quiet = set(_QUIET_CODES)
    if run.bytes_received > 0:
        # The exchange answered in FIX: a reset as the session ends (after its Logout) is no failure.
        quiet.add("stunnel.log_closed_after_handshake")
    return [f for f in check_log(run.log, LOG_NAME) if f.code not in quiet]


def log_failed(run: TunnelRun) -> bool:
    """stunnel's log shows a failure (of the configuration or of the connection to the exchange)."""
    return any(f.status is Status.FAIL for f in log_findings(run))


def tls_connected(run: TunnelRun) -> bool:
    """stunnel's log shows a completed TLS handshake with the exchange ('TLS connected')."""
    return any(line.message.startswith("TLS connected") for line in slog.read_lines(run.log))


def log_reading(run: TunnelRun) -> TunnelLogReading:
    """The log's failures and whether it shows a completed handshake: what step 4 needs of it."""
    failures = tuple(f for f in log_findings(run) if f.status is Status.FAIL)
    return TunnelLogReading(failures, tls_connected(run))


def run_findings(run: TunnelRun) -> list[Finding]:
    """What the run showed: did stunnel start, what did its log say, and what crossed the tunnel."""
    ev = _evidence(run)
    version = f"stunnel {run.stunnel_version}" if run.stunnel_version else "stunnel"
    logged = log_findings(run)
    if not run.started:
        return [_refused(run, version, ev), *logged]
    out = [_started(run, version, ev), *logged]
    if not run.connected:
        out.append(
            Finding(
                "stunnel.run_no_connection",
                Status.FAIL,
                f"--through-stunnel: the plain TCP connection to stunnel's accept address {run.accept} failed"
                + (f" ({run.error})" if run.error else "")
                + ".",
                "Check that nothing on this machine blocks local connections; run stunnel in the foreground and "
                "connect with nc to see it.",
                evidence=ev,
            )
        )
        return out
    log_fails = any(f.status is Status.FAIL for f in logged)
    ev = {**ev, "bytes_sent": run.bytes_sent, "bytes_received": run.bytes_received}
    out.append(_logon_through(run, log_fails, ev) if run.fix is not None else _handshake_through(run, log_fails, ev))
    return out


def _refused(run: TunnelRun, version: str, ev: dict[str, Any]) -> Finding:
    why = f" (exit code {run.exit_code})" if run.exit_code is not None else ""
    detail = run.error or "its log below says why"
    return Finding(
        "stunnel.run_refused",
        Status.FAIL,
        f"--through-stunnel: {version} did not start with {run.config_name}{why}: {detail}. Your own stunnel "
        "would refuse it the same way.",
        "Fix what the log findings say, then run the same command again.",
        (f"stunnel {run.config_name}",),
        ev,
    )


def _started(run: TunnelRun, version: str, ev: dict[str, Any]) -> Finding:
    service = f"[{run.service}]" if run.service else "its service"
    changes = "; ".join(run.changes)
    return Finding(
        "stunnel.run_started",
        Status.PASS,
        f"--through-stunnel: {version} accepted {run.config_name} and listened for {service} on {run.accept}"
        + (f" (a test copy: {changes})" if changes else "")
        + ".",
        evidence=ev,
    )


def _logon_through(run: TunnelRun, log_fails: bool, ev: dict[str, Any]) -> Finding:
    """A FIX Logon went into the tunnel: did an answer come back, or did it at least reach the exchange?"""
    if run.bytes_received > 0:
        return Finding(
            "stunnel.run_bytes_crossed",
            Status.PASS,
            f"--through-stunnel: the FIX Logon crossed the tunnel: {run.bytes_sent} bytes went in as the FIX "
            f"client sends them, {run.bytes_received} bytes came back from {run.connect} (step 4 shows the "
            "messages).",
            evidence=ev,
        )
    if tls_connected(run) and not log_fails:
        return Finding(
            "stunnel.run_bytes_sent",
            Status.PASS,
            f"--through-stunnel: stunnel completed the TLS handshake with {run.connect} and carried the "
            f"{run.bytes_sent}-byte Logon to the exchange; nothing came back (step 4 says what the exchange did).",
            evidence=ev,
        )
    return Finding(
        "stunnel.run_no_reply",
        Status.FAIL,
        f"--through-stunnel: {run.bytes_sent} bytes went into the tunnel and nothing came back"
        + (
            ": stunnel's connection to the exchange failed (the log findings above say why)."
            if log_fails
            else ": stunnel's log shows no completed TLS handshake with the exchange."
        ),
        "Fix what the log findings say, then run again."
        if log_fails
        else "Run again with a longer --timeout; the log in the evidence (-v) shows how far stunnel got.",
        evidence=ev,
    )


def _handshake_through(run: TunnelRun, log_fails: bool, ev: dict[str, Any]) -> Finding:
    """No FIX message to send: did stunnel complete the handshake for a client's connection?"""
    if tls_connected(run) and not log_fails:
        return Finding(
            "stunnel.run_tls_ok",
            Status.PASS,
            f"--through-stunnel: stunnel completed the TLS handshake with {run.connect} for a FIX client's "
            "connection. No FIX message was sent: add --logon SENDER:TARGET to log on through the tunnel.",
            evidence=ev,
        )
    return Finding(
        "stunnel.run_tls_failed",
        Status.FAIL,
        "--through-stunnel: a FIX client's connection to stunnel did not get through to the exchange"
        + (": the log findings above say why." if log_fails else ": stunnel's log shows no completed TLS handshake."),
        "Fix what the log findings say, then run again." if log_fails else "Run again with a longer --timeout.",
        evidence=ev,
    )

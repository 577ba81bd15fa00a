"""Step 4's FIX Logon findings: `fix.logon_ok`, `fix.logout`, `fix.reject`, `fix.closed`, `fix.timeout`, `fix.garbled`.

Beyond the guide, which stops at "Verification: OK": whether the FIX session comes up.
The exchange's TargetCompIDs are hints in the remediation text, never checks.

The answer's outcome picks the finding (`_BY_OUTCOME`); a Logout's text and a Reject's
tag or reason pick the hint (`LOGOUT_HINTS`, `REJECT_HINTS`): a new hint is one row.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.engine.net.fix import FixResult
from bot.engine.report import Finding, Status
from bot.engine.steps._common import skip

KNOWN_TARGETS = "ITBIT, ITBIT_SANDBOX (sandbox) or ITBIT_PROD (production)"
CURRENT_SESSION_NOTE = (
    "Run the probe while your own FIX client is logged off: the exchange allows one session per CompID."
)
HEARTBEAT_HINT = "Use the heartbeat interval the exchange asks for (--heartbeat SECONDS)."
CLOCK_HINT = "Check this machine's clock (SendingTime 52 must be within seconds of UTC): timedatectl."
COMPIDS_HINT = "{compids}"  # a hint that is only the CompIDs to check (`_compids`)

# A Logout's 58=Text (lower case) -> the hint; the first row whose pattern is found wins.
LOGOUT_HINTS: tuple[tuple[str, str], ...] = (
    (
        r"seq|sequence|too low|expected",
        "The exchange's sequence numbers for this session are ahead of the probe's 34=1: retry with --reset-seq "
        "(141=Y resets both sides to 1; your FIX client must then reset its own store too), or ask the exchange "
        "to reset the session.",
    ),
    (
        r"comp ?id|sender|target|unknown session|not authori[sz]ed|no session|session not found",
        "The exchange does not recognise the session.",
    ),
    (r"heart", HEARTBEAT_HINT),
    (r"time|clock", CLOCK_HINT),
    (r"already|logged on|duplicate", CURRENT_SESSION_NOTE),
)
LOGOUT_HINT_OTHERWISE = "The exchange's reason says what it refused."

# A Reject's RefTagID (371) or SessionRejectReason (373) -> the hint; the first matching row wins.
# Hints are formatted with `compids`, the CompIDs to check.
REJECT_HINTS: tuple[tuple[frozenset[str], frozenset[str], str], ...] = (
    (frozenset({"108"}), frozenset(), HEARTBEAT_HINT),
    (frozenset({"52"}), frozenset({"10"}), CLOCK_HINT),
    (frozenset({"141"}), frozenset(), "The exchange does not accept ResetSeqNumFlag: retry without --reset-seq."),
    (frozenset({"49", "56", "50", "57"}), frozenset({"9"}), COMPIDS_HINT),
)
REJECT_HINT_OTHERWISE = "{compids} Send the exchange the Reject's text and the Logon shown in the evidence."


def _compids(r: FixResult) -> str:
    return (
        f"Check SenderCompID 49={r.sender} (yours, as registered with the exchange for this certificate) and "
        f"TargetCompID 56={r.target} (the exchange's; its TargetCompIDs are e.g. {KNOWN_TARGETS}) against your "
        "onboarding details."
    )


def _where(r: FixResult, label: str) -> str:
    return f"through stunnel ({label})" if r.via == "stunnel" else f"at {label}"


def _took(r: FixResult) -> str:
    return f" in {r.answer_ms:.0f} ms" if r.answer_ms is not None else ""


def not_sent(r: FixResult, why: str) -> Finding:
    """`fix.not_sent`, a skip: the Logon never went out, for the reason given."""
    return skip(
        "fix.not_sent",
        f"The FIX Logon ({r.sender} -> {r.target}) was not sent: {why}",
    )


def fix_finding(r: FixResult, label: str, *, tunnel_failed: bool = False) -> Finding:
    """The finding for one Logon attempt. `label` names the peer (HOST:PORT or the stunnel service);
    `tunnel_failed`: stunnel's own log shows that its connection to the exchange failed."""
    build = _BY_OUTCOME.get(r.outcome)
    if build is not None:
        return build(r, _where(r, label), tunnel_failed)
    if r.error:
        return not_sent(r, f"the connection failed ({r.error}).")
    return not_sent(r, "the connection did not get that far.")


def _logon_ok(r: FixResult, where: str, _tunnel_failed: bool) -> Finding:
    end = (
        "The probe then logged out and the exchange confirmed the Logout."
        if r.logout_answered
        else "The probe then logged out (the exchange did not confirm the Logout in time, which is harmless)."
    )
    note = ""
    if r.answer_sender not in (None, r.target) or r.answer_target not in (None, r.sender):
        note = (
            f" Note: the answer came from 49={r.answer_sender} to 56={r.answer_target}, not the mirror of the "
            "Logon's CompIDs."
        )
    return Finding(
        "fix.logon_ok",
        Status.PASS,
        f"FIX Logon accepted {where}: {r.target} answered the Logon of {r.sender} with a Logon (35=A){_took(r)}, "
        f"HeartBtInt {r.answer_heartbeat or '?'}. The FIX session comes up with these certificates and "
        f"CompIDs. {end}{note}",
        "Configure the FIX client with the same SenderCompID, TargetCompID and BeginString (FIX.4.2)"
        + (", connecting to stunnel's accept address." if r.via == "stunnel" else ".")
        + " "
        + CURRENT_SESSION_NOTE,
        evidence=r.to_evidence(),
    )


def _logout(r: FixResult, where: str, _tunnel_failed: bool) -> Finding:
    reason = f'58="{r.text}"' if r.text else "no reason (no 58=Text)"
    message = f"The exchange answered the Logon {where} with a Logout (35=5){_took(r)}: {reason}."
    remediation = _logout_hint(r) + " " + _compids(r) + " If the reason is unclear, send it to the exchange."
    return Finding("fix.logout", Status.FAIL, message, remediation, evidence=r.to_evidence())


def _reject(r: FixResult, where: str, _tunnel_failed: bool) -> Finding:
    kind = "BusinessMessageReject (35=j)" if r.answer_type == "j" else "Reject (35=3)"
    details = []
    if r.text:
        details.append(f'58="{r.text}"')
    if "reason" in r.reject:
        details.append(f"SessionRejectReason 373={r.reject['reason']} ({r.reject.get('reason_text', 'other')})")
    if "ref_tag_id" in r.reject:
        details.append(f"RefTagID 371={r.reject['ref_tag_id']}")
    message = (
        f"The exchange rejected the Logon {where} with a {kind}{_took(r)}: "
        + ("; ".join(details) if details else "no reason given")
        + "."
    )
    return Finding("fix.reject", Status.FAIL, message, _reject_hint(r), evidence=r.to_evidence())


def _closed(r: FixResult, where: str, tunnel_failed: bool) -> Finding:
    how = "reset" if r.reset else "closed"
    if r.tls_alert is not None:
        message = (
            f"The server ended the TLS connection with alert {r.tls_alert} after the Logon was sent {where}: "
            "the TLS finding above says why; the Logon itself was never judged."
        )
        return Finding("fix.closed", Status.FAIL, message, "Fix the TLS problem first.", evidence=r.to_evidence())
    if tunnel_failed:
        return not_sent(
            r,
            f"it went into stunnel, which {how} the FIX client's connection: stunnel's own connection to the "
            "exchange failed, as its log shows (step 7).",
        )
    message = (
        f"The exchange {how} the connection {where} without answering the Logon ({r.sender} -> {r.target}): "
        "the TLS session was fine, so the FIX layer refused it silently. This usually means a wrong "
        "SenderCompID or TargetCompID, or a SenderCompID that is not bound to this certificate."
    )
    return Finding(
        "fix.closed",
        Status.FAIL,
        message,
        _compids(r)
        + " Ask the exchange to confirm which SenderCompID is tied to your certificate (or ca.crt). "
        + CURRENT_SESSION_NOTE,
        evidence=r.to_evidence(),
    )


def _timeout(r: FixResult, where: str, _tunnel_failed: bool) -> Finding:
    return Finding(
        "fix.timeout",
        Status.FAIL,
        f"No answer to the Logon {where} within {r.timeout:g} s; the connection stayed open. A FIX acceptor that "
        "does not know the TargetCompID, or expects another FIX version, may stay silent like this.",
        _compids(r) + " The probe speaks FIX.4.2. Retry with a longer --timeout if the exchange is slow.",
        evidence=r.to_evidence(),
    )


def _garbled(r: FixResult, where: str, _tunnel_failed: bool) -> Finding:
    return Finding(
        "fix.garbled",
        Status.FAIL,
        f"The answer {where} is not FIX: {r.problem or 'unreadable'}. This is not a FIX acceptor"
        + (" (or something between stunnel and the exchange speaks another protocol)." if r.via == "stunnel" else "."),
        "Check the host and port against the FIX server address from onboarding. Run with -v to see the bytes.",
        evidence=r.to_evidence(),
    )


# The Logon's outcome (`FixResult.outcome`) -> its finding, given the result, where the peer is
# ("at HOST:PORT" or "through stunnel (...)") and whether stunnel's own connection failed.
# "not_sent" has no row: nothing was answered.
_BY_OUTCOME: dict[str, Callable[[FixResult, str, bool], Finding]] = {
    "logon_ok": _logon_ok,
    "logout": _logout,
    "reject": _reject,
    "closed": _closed,
    "timeout": _timeout,
    "garbled": _garbled,
}


def _logout_hint(r: FixResult) -> str:
    text = (r.text or "").lower()
    return next((hint for pattern, hint in LOGOUT_HINTS if re.search(pattern, text)), LOGOUT_HINT_OTHERWISE)


def _reject_hint(r: FixResult) -> str:
    tag = r.reject.get("ref_tag_id")
    reason = r.reject.get("reason")
    hint = next(
        (hint for tags, reasons, hint in REJECT_HINTS if tag in tags or reason in reasons),
        REJECT_HINT_OTHERWISE,
    )
    return hint.format(compids=_compids(r))

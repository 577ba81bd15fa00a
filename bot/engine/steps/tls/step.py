"""Step 4: does the mTLS handshake with the FIX server succeed (the guide's s_client check)?

The probe (`bot.engine.net`) handshakes with the client certificate and key, trusting
the server CA file, and reads once after the handshake: a TLS 1.3 server refuses a
client certificate only then, while `openssl s_client` has already printed
"Verification: OK" (which only ever speaks of the server's certificate). Alerts are
classified by number and the server's certificate by OpenSSL's verify-error number.

`_findings` reads the probe's result in three parts: the server never took part in a TLS
session (`_no_session`); the verdict on the handshake (`_verdict`); the server's own
certificate (`server.py`). The Logon's finding, when one was asked for, comes first after
any failure.
"""

from __future__ import annotations

from typing import Any

from bot.engine import certs, net
from bot.engine.context import Context, Endpoint
from bot.engine.net.fix import FixLogon, FixSession
from bot.engine.net.tables import CLIENT_CERT_ALERTS
from bot.engine.net.tls import TlsResult
from bot.engine.report import Finding, Status
from bot.engine.roles import Onboarding
from bot.engine.steps._common import skip
from bot.engine.steps.tls import close as tls_close
from bot.engine.steps.tls import tunnel as tls_tunnel
from bot.engine.steps.tls.evidence import evidence, s_client, showcerts
from bot.engine.steps.tls.failed import client_rejected, handshake_failed, how_refused, not_tls, timeout
from bot.engine.steps.tls.logon import fix_finding, not_sent
from bot.engine.steps.tls.server import server_side
from bot.engine.tunnel import TunnelLogReading

NUMBER = 4
TITLE = "mTLS handshake with the FIX server"

OK_REMEDIATION = (
    "The certificate files are valid for the connection. If the FIX session still does not work, the issue is "
    "in the FIX client or the proxy configuration: check the stunnel configuration (step 7) and that the FIX "
    "client connects to stunnel's accept address."
)

# How the connection went on after a good handshake (`TlsResult.post_handshake`), said after `tls.ok`.
AFTER_HANDSHAKE: dict[str, str] = {
    "ticket": "The server then confirmed the session (TLS 1.3 session tickets), which it does only after "
    "accepting the client certificate.",
    "quiet": "The connection then stayed open and quiet, as a FIX server waiting for the client's Logon does.",
    "data": "The server then sent data first.",
    "close_notify": "The server then ended the session in order (TLS close_notify): see the note below.",
}


def run(ctx: Context) -> list[Finding]:
    return [*_direct(ctx), *tls_tunnel.findings(ctx)]


def _direct(ctx: Context) -> list[Finding]:
    if ctx.endpoint_error is not None:
        return [skip("tls.skipped", "Not tried: the endpoint given is not HOST:PORT (step 3 says what to type).")]
    if ctx.endpoint is None:
        if ctx.tunnel_run is not None:
            return [tls_tunnel.handshake(ctx.tunnel_run, ctx.tunnel_log or TunnelLogReading())]  # what the run through stunnel showed
        return [skip("tls.no_endpoint", "No endpoint was given: add --connect HOST:PORT to test the TLS handshake.")]
    step3 = ctx.results.get(3)
    if step3 is not None and step3.status is Status.FAIL:
        code = next((f.code for f in step3.findings if f.status is Status.FAIL), "tcp")
        return [
            skip(
                "tls.skipped",
                f"Not tried: step 3 failed ({code}), so there is no connection to handshake on. Fix step 3 first.",
            )
        ]
    probe = net.probe(ctx)
    if probe is None or probe.tls is None:
        return [skip("tls.skipped", "Not tried: no TCP connection to the server (step 3).")]
    return _findings(ctx, ctx.endpoint, probe.tls)


def _findings(ctx: Context, ep: Endpoint, t: TlsResult) -> list[Finding]:
    ob = ctx.onboarding
    ev, listed = evidence(ctx, t)
    commands = (s_client(ob, ep, t.client_cert_loaded),)
    findings: list[Finding] = []

    # The client side could not take part: say why (the root cause is another step's).
    setup = _client_setup_finding(ob, t)
    if setup is not None:
        findings.append(setup)

    logon = [_logon_finding(ep, t, ctx.logon)] if ctx.logon is not None else []
    no_session = _no_session(ep, t, ev, commands)
    if no_session is not None:
        return [*findings, no_session, *logon]

    findings += _verdict(ctx, ep, t, ev, listed, commands)
    findings.extend(server_side(ctx, ep, t, ev))
    if ctx.logon is not None:
        # The Logon leads when it passed: it is the step's conclusion.
        findings.insert(0, _logon_finding(ep, t, ctx.logon))
    # Failures first (stable): the root cause leads, facts and notes follow.
    return sorted(findings, key=lambda f: 0 if f.status is Status.FAIL else 1)


def _no_session(ep: Endpoint, t: TlsResult, ev: dict[str, Any], commands: tuple[str, ...]) -> Finding | None:
    """The server never took part in a TLS session: it stalled, spoke something else, or hung up at once.

    Then there is no verdict on either certificate to give, and the finding stands alone.
    """
    if t.outcome == "timeout":
        return timeout(ep, t, ev, commands)
    if t.outcome == "not_tls":
        return not_tls(ep, t, ev)
    if t.outcome in ("closed", "reset") and t.bytes_received == 0:
        return tls_close.closed_before_any_byte(ep, t, ev)
    return None


def _verdict(
    ctx: Context, ep: Endpoint, t: TlsResult, ev: dict[str, Any], listed: bool | None, commands: tuple[str, ...]
) -> list[Finding]:
    """The verdict on the handshake: it held, the client certificate was refused, or the server hung up."""
    if t.outcome == "ok" or _requires_a_client_cert(t):
        return _handshake_held(ctx, ep, t, ev, commands)
    if t.outcome == "alert" and t.alert_received is not None:
        if t.client_cert_sent and t.alert_received in CLIENT_CERT_ALERTS:
            return [client_rejected(ctx, ep, t, ev, listed, commands)]
        return [handshake_failed(ep, t, ev, commands)]
    if t.outcome in ("closed", "reset") and tls_close.certificate_accepted(t):
        # Not a rejection (that is an alert, or under TLS 1.3 a hang-up before the tickets).
        return [_ok(ep, t, ev, commands), tls_close.hung_up(ep, t, ev, commands, ctx.logon)]
    if t.outcome in ("closed", "reset"):
        return [tls_close.closed(ep, t, ev, commands)]
    return [handshake_failed(ep, t, ev, commands)]


def _requires_a_client_cert(t: TlsResult) -> bool:
    """The server asked for a client certificate, got none, and refused the connection for it."""
    return (
        t.cert_requested
        and not t.client_cert_sent
        and (t.alert_received in (40, 116) or t.outcome in ("closed", "reset"))
    )


def _handshake_held(
    ctx: Context, ep: Endpoint, t: TlsResult, ev: dict[str, Any], commands: tuple[str, ...]
) -> list[Finding]:
    """The handshake completed (or was refused only for want of a client certificate): what it proved."""
    findings: list[Finding] = []
    if t.client_cert_sent and t.outcome == "ok" and not t.verify_errors:
        findings.append(_ok(ep, t, ev, commands))
    elif t.client_cert_sent and t.outcome == "ok":
        findings.append(_client_cert_accepted(ev, commands))
    else:
        findings.append(_server_reached(ep, t, ev, commands, _requires_a_client_cert(t)))
    if t.post_handshake == "close_notify":
        findings.append(tls_close.closed_cleanly(ep, t, ev, commands, ctx.logon))
    if not t.client_cert_sent and t.client_cert_loaded and t.outcome == "ok":
        findings.append(_client_cert_not_requested(ep, ev, commands))
    return findings


def _client_cert_accepted(ev: dict[str, Any], commands: tuple[str, ...]) -> Finding:
    return Finding(
        "tls.client_cert_accepted",
        Status.PASS,
        f"The server accepted your client certificate ({ev['client_certificate']['subject']}): the "
        "handshake and the read after it succeeded. Only the server's certificate is a problem.",
        commands=commands,
        evidence=ev,
    )


def _client_cert_not_requested(ep: Endpoint, ev: dict[str, Any], commands: tuple[str, ...]) -> Finding:
    return Finding(
        "tls.client_cert_not_requested",
        Status.WARN,
        f"The server at {ep} did not ask for a client certificate: it is not set up for mutual TLS. "
        "The exchange's FIX servers require one, so this is probably not the FIX server from onboarding.",
        "Use the FIX server address and port provided by the exchange during onboarding.",
        commands,
        ev,
    )


def _logon_finding(ep: Endpoint, t: TlsResult, logon: FixLogon) -> Finding:
    if t.fix is None:
        return not_sent(FixSession(logon).result, "the handshake did not complete.")
    if t.fix.outcome == "not_sent":
        why = "the server ended the connection right after the handshake" if t.handshake_done else (
            "the TLS connection did not come up"
        )
        return not_sent(t.fix, f"{why} (see above).")
    return fix_finding(t.fix, str(ep))


def _client_setup_finding(ob: Onboarding, t: TlsResult) -> Finding | None:
    cert = ob.client_cert.cert if ob.client_cert is not None else None
    if cert is None:
        return skip(
            "tls.no_client_cert",
            "No client certificate was given, so the handshake was made without one, to see the server's side. "
            "Add fix.itbit.pem to test the full mTLS handshake.",
        )
    if ob.client_private_key is None:
        return skip(
            "tls.no_client_key",
            f"{ob.client_cert_file} has no usable private key for the client certificate (step 5 says why), so "
            "the handshake was made without a client certificate, to see the server's side.",
        )
    if t.setup_error is not None:
        return skip(
            "tls.client_key_unusable",
            f"OpenSSL refused to use the client certificate with its key ({t.setup_error}), as it would in stunnel "
            "or s_client: step 6 (key match) and step 5 say why. The handshake was made without a client "
            "certificate, to see the server's side.",
        )
    return None


def _ok(ep: Endpoint, t: TlsResult, ev: dict[str, Any], commands: tuple[str, ...]) -> Finding:
    client = ev["client_certificate"]
    server = t.server_chain[0] if t.server_chain else None
    trust = (
        f"and its certificate ({certs.subject_name(server)}) is trusted by {ev['server_ca_file']}"
        if server is not None and t.server_ca_given
        else "(its certificate was not checked: no server CA file was given)"
    )
    after = AFTER_HANDSHAKE.get(t.post_handshake or "", "")
    return Finding(
        "tls.ok",
        Status.PASS,
        f"mTLS handshake with {ep} succeeded ({t.tls_version}, {t.cipher}): the server accepted your client "
        f"certificate ({client['subject']}, issued by {client['issuer']}) {trust}. {after}".strip(),
        OK_REMEDIATION,
        commands,
        ev,
    )


def _server_reached(
    ep: Endpoint, t: TlsResult, ev: dict[str, Any], commands: tuple[str, ...], requires: bool
) -> Finding:
    """The server side, seen without a client certificate: a `warn` when the server asks for one.

    Without the certificate the mTLS handshake was not tested (and a server that requires
    one refuses it), so a script reading the verdict must not be told the link works.
    """
    server = t.server_chain[0] if t.server_chain else None
    parts = [f"The server at {ep} speaks TLS ({t.tls_version or 'version unknown'}, {t.cipher or 'cipher unknown'})"]
    if server is not None:
        parts.append(
            f"and presented {certs.subject_name(server)}, issued by {certs.issuer_name(server)}, valid until "
            f"{certs.openssl_date(certs.not_after(server))}"
        )
    text = " ".join(parts) + "."
    asked = requires or t.cert_requested
    ev = {**ev, "client_certificate_required": bool(asked)}
    if not asked:
        text += " It did not ask for a client certificate."
        return Finding("tls.server_reached", Status.PASS, text, commands=(showcerts(ep), *commands), evidence=ev)
    cas = "; ".join(ev["acceptable_client_ca_names"]) or "the server does not list them"
    if requires:
        text += (
            " It requires a client certificate and none was sent, so the mTLS handshake cannot complete: "
            f"the server refused the connection ({how_refused(t)})."
        )
    else:
        text += " It asked for a client certificate and none was sent: the mTLS handshake was not tested."
    text += f" The CAs whose certificates it accepts: {cas}."
    return Finding(
        "tls.client_cert_required",
        Status.WARN,
        text,
        "Run again with the client files (fix.itbit.pem, or host.crt and host.key) to test the mTLS handshake; "
        "the certificate must be issued by one of the CAs above (your ca.crt, once the exchange installed it).",
        (*commands, showcerts(ep)),
        ev,
    )



"""Step 4: does the mTLS handshake with the FIX server succeed (the guide's s_client check)?

The probe (`bot.engine.net`) handshakes with the client certificate and key, trusting
the server CA file, and reads once after the handshake: a TLS 1.3 server refuses a
client certificate only then, while `openssl s_client` has already printed
"Verification: OK" (which only ever speaks of the server's certificate). Alerts are
classified by number and the server's certificate by OpenSSL's verify-error number.
"""

from __future__ import annotations

import shlex
from typing import Any

from cryptography import x509

from bot.engine import certs, net
from bot.engine.context import Context, Endpoint
from bot.engine.net import hostname
from bot.engine.net.fix import FixLogon, FixSession
from bot.engine.net.fix import preview as preview_bytes
from bot.engine.net.tables import CLIENT_CERT_ALERT_MEANING, CLIENT_CERT_ALERTS, alert_name
from bot.engine.net.tls import TlsResult
from bot.engine.report import Finding, Status
from bot.engine.roles import Onboarding
from bot.engine.steps._common import CLIENT_BUNDLE, SERVER_CA, q, skip
from bot.engine.steps.tls import close as _tls_close
from bot.engine.steps.tls import tunnel as _tls_tunnel
from bot.engine.steps.tls.close import CLIENT_CERT_REMEDIATION
from bot.engine.steps.tls.logon import fix_finding, not_sent
from bot.engine.tunnel import TunnelLogReading

NUMBER = 4
TITLE = "mTLS handshake with the FIX server"

NOT_REGISTERED_REMEDIATION = (
    "Send your ca.crt (the CA certificate that issued fix.itbit.pem; never a key) to the exchange and retry "
    "once they confirm it is installed on the FIX server. If you sent it already, compare its subject with the "
    "names the server lists: a regenerated CA has a new certificate, which must be sent again."
)
SERVER_CA_REMEDIATION = (
    "The guide: this indicates that itbit-ca.pem is invalid. Save the content of the certificate provided on "
    "the exchange's onboarding page into itbit-ca.pem (it is the exchange's CA, not your own ca.crt)."
)
OK_REMEDIATION = (
    "The certificate files are valid for the connection. If the FIX session still does not work, the issue is "
    "in the FIX client or the proxy configuration: check the stunnel configuration (step 7) and that the FIX "
    "client connects to stunnel's accept address."
)


def run(ctx: Context) -> list[Finding]:
    return [*_direct(ctx), *_tls_tunnel.findings(ctx)]


def _direct(ctx: Context) -> list[Finding]:
    if ctx.endpoint_error is not None:
        return [skip("tls.skipped", "Not tried: the endpoint given is not HOST:PORT (step 3 says what to type).")]
    if ctx.endpoint is None:
        if ctx.tunnel_run is not None:
            return [_tls_tunnel.handshake(ctx.tunnel_run, ctx.tunnel_log or TunnelLogReading())]  # what the run through stunnel showed
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


# ---------------------------------------------------------------------------------------------


def _s_client(ob: Onboarding, ep: Endpoint, with_client: bool) -> str:
    parts = [f"openssl s_client -connect {shlex.quote(str(ep))}"]
    if with_client:
        cert = q(ob.client_cert_file, CLIENT_BUNDLE)
        key = q(ob.client_key_file or ob.client_cert_file, CLIENT_BUNDLE)
        parts.append(f"-key {key} -cert {cert}")
    parts.append(f"-CAfile {q(ob.server_ca_file, SERVER_CA)}")
    return " ".join(parts)


def _showcerts(ep: Endpoint) -> str:
    return f"openssl s_client -connect {shlex.quote(str(ep))} -showcerts </dev/null"


def _brief(cert: x509.Certificate) -> dict[str, Any]:
    return {
        "subject": certs.subject_name(cert),
        "issuer": certs.issuer_name(cert),
        "not_before": certs.not_before(cert).isoformat(),
        "not_after": certs.not_after(cert).isoformat(),
        "sha256_fingerprint": certs.sha256_fingerprint(cert),
    }


def _client_ca_names(ob: Onboarding) -> set[x509.Name]:
    """Names under which the server could know the client's CA."""
    names = {c.subject for c in ob.client_ca} | {c.subject for c in ob.client_extra_certs}
    if ob.client_cert is not None and ob.client_cert.cert is not None:
        names.add(ob.client_cert.cert.issuer)
    return names


def _evidence(ctx: Context, t: TlsResult) -> tuple[dict[str, Any], bool | None]:
    ob = ctx.onboarding
    ev: dict[str, Any] = {"endpoint": str(ctx.endpoint), "timeout_s": ctx.timeout}
    probe = net.probe(ctx)
    if probe is not None and probe.tcp.connected is not None:
        ev["address"] = probe.tcp.connected.address
    if t.tls_version:
        ev["tls_version"] = t.tls_version
        ev["cipher"] = t.cipher
    if t.sni:
        ev["sni"] = t.sni
    if t.handshake_ms is not None:
        ev["handshake_ms"] = round(t.handshake_ms, 1)
    ev["server_chain"] = [_brief(c) for c in t.server_chain]
    ev["server_ca_file"] = ob.server_ca_file
    if t.server_ca_given and t.server_chain:
        ev["server_certificate_verified"] = not t.verify_errors
    if t.verify_errors:
        ev["verify_errors"] = [{"number": n, "depth": d, "text": txt} for n, d, txt in t.verify_errors]
    ev["client_certificate_requested"] = t.cert_requested
    acceptable = [certs.name(n) for n in t.client_ca_names]
    ev["acceptable_client_ca_names"] = acceptable
    listed: bool | None = None
    mine = _client_ca_names(ob)
    if t.client_ca_names and mine:
        listed = any(n in mine for n in t.client_ca_names)
    ev["client_ca_listed"] = listed
    leaf = ob.client_cert.cert if ob.client_cert is not None else None
    ev["client_certificate_sent"] = t.client_cert_sent
    if leaf is not None and t.client_cert_loaded:
        ev["client_certificate"] = {
            "subject": certs.subject_name(leaf),
            "issuer": certs.issuer_name(leaf),
            "not_after": certs.not_after(leaf).isoformat(),
            "file": ob.client_cert_file,
        }
    if t.alert_received is not None:
        ev["alert"] = {
            "number": t.alert_received,
            "name": alert_name(t.alert_received),
            "level": "fatal" if t.alert_level == 2 else "warning",
            "from": "server",
            "when": "after the handshake" if t.phase == "after-handshake" else "during the handshake",
        }
    if t.post_handshake:
        ev["after_handshake"] = t.post_handshake
    if t.error:
        ev["openssl_error"] = t.error
    ev["bytes_received"] = t.bytes_received
    return ev, listed


def _findings(ctx: Context, ep: Endpoint, t: TlsResult) -> list[Finding]:
    ob = ctx.onboarding
    ev, listed = _evidence(ctx, t)
    with_client = t.client_cert_loaded
    cmd = _s_client(ob, ep, with_client)
    commands = (cmd,)
    findings: list[Finding] = []

    # The client side could not take part: say why (the root cause is another step's).
    setup = _client_setup_finding(ob, t)
    if setup is not None:
        findings.append(setup)

    logon = [_logon_finding(ep, t, ctx.logon)] if ctx.logon is not None else []
    if t.outcome == "timeout":
        return [*findings, _timeout(ep, t, ev, commands), *logon]
    if t.outcome == "not_tls":
        return [*findings, _not_tls(ep, t, ev), *logon]
    if t.outcome in ("closed", "reset") and t.bytes_received == 0:
        return [*findings, _tls_close.closed_before_any_byte(ep, t, ev), *logon]

    server_requires = (
        t.cert_requested
        and not t.client_cert_sent
        and (t.alert_received in (40, 116) or t.outcome in ("closed", "reset"))
    )
    if t.outcome == "ok" or server_requires:
        if t.client_cert_sent and t.outcome == "ok" and not t.verify_errors:
            findings.append(_ok(ep, t, ev, commands))
        elif t.client_cert_sent and t.outcome == "ok":
            findings.append(
                Finding(
                    "tls.client_cert_accepted",
                    Status.PASS,
                    f"The server accepted your client certificate ({ev['client_certificate']['subject']}): the "
                    "handshake and the read after it succeeded. Only the server's certificate is a problem.",
                    commands=commands,
                    evidence=ev,
                )
            )
        else:
            findings.append(_server_reached(ep, t, ev, commands, server_requires))
        if t.post_handshake == "close_notify":
            findings.append(_tls_close.closed_cleanly(ep, t, ev, commands, ctx.logon))
        if not t.client_cert_sent and with_client and t.outcome == "ok":
            findings.append(
                Finding(
                    "tls.client_cert_not_requested",
                    Status.WARN,
                    f"The server at {ep} did not ask for a client certificate: it is not set up for mutual TLS. "
                    "The exchange's FIX servers require one, so this is probably not the FIX server from onboarding.",
                    "Use the FIX server address and port provided by the exchange during onboarding.",
                    commands,
                    ev,
                )
            )
    elif t.outcome == "alert" and t.alert_received is not None:
        if t.client_cert_sent and t.alert_received in CLIENT_CERT_ALERTS:
            findings.append(_client_rejected(ctx, ep, t, ev, listed, commands))
        else:
            findings.append(_handshake_failed(ep, t, ev, commands))
    elif t.outcome in ("closed", "reset") and _tls_close.certificate_accepted(t):
        # Not a rejection (that is an alert, or under TLS 1.3 a hang-up before the tickets).
        findings += [_ok(ep, t, ev, commands), _tls_close.hung_up(ep, t, ev, commands, ctx.logon)]
    elif t.outcome in ("closed", "reset"):
        findings.append(_tls_close.closed(ep, t, ev, commands))
    else:
        findings.append(_handshake_failed(ep, t, ev, commands))

    findings.extend(_server_side(ctx, ep, t, ev))
    if ctx.logon is not None:
        # The Logon leads when it passed: it is the step's conclusion.
        findings.insert(0, _logon_finding(ep, t, ctx.logon))
    # Failures first (stable): the root cause leads, facts and notes follow.
    return sorted(findings, key=lambda f: 0 if f.status is Status.FAIL else 1)


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
    after = {
        "ticket": "The server then confirmed the session (TLS 1.3 session tickets), which it does only after "
        "accepting the client certificate.",
        "quiet": "The connection then stayed open and quiet, as a FIX server waiting for the client's Logon does.",
        "data": "The server then sent data first.",
        "close_notify": "The server then ended the session in order (TLS close_notify): see the note below.",
    }.get(t.post_handshake or "", "")
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
        return Finding("tls.server_reached", Status.PASS, text, commands=(_showcerts(ep), *commands), evidence=ev)
    cas = "; ".join(ev["acceptable_client_ca_names"]) or "the server does not list them"
    if requires:
        text += (
            " It requires a client certificate and none was sent, so the mTLS handshake cannot complete: "
            f"the server refused the connection ({_how_refused(t)})."
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
        (*commands, _showcerts(ep)),
        ev,
    )


def _how_refused(t: TlsResult) -> str:
    if t.alert_received is not None:
        return f"TLS alert {t.alert_received} {alert_name(t.alert_received)}"
    return "it reset the connection" if t.outcome == "reset" else "it closed the connection"


def _client_rejected(
    ctx: Context, ep: Endpoint, t: TlsResult, ev: dict[str, Any], listed: bool | None, commands: tuple[str, ...]
) -> Finding:
    ob = ctx.onboarding
    number = t.alert_received or 0
    client = ev.get("client_certificate", {})
    issuer = client.get("issuer", "your CA")
    when = (
        " after the handshake (TLS 1.3: the server judges the client certificate only once the client has "
        'finished; `openssl s_client` still prints "Verification: OK" here, which speaks only of the server\'s '
        "certificate)"
        if t.phase == "after-handshake"
        else ""
    )
    head = (
        f"The server refused your client certificate ({client.get('subject', '?')}): TLS alert {number} "
        f"{alert_name(number)}{when}."
    )
    leaf = ob.client_cert.cert if ob.client_cert is not None else None
    remediation = CLIENT_CERT_REMEDIATION
    if listed is False:
        text = (
            f"{head} The server does not list your CA ({issuer}) among the client CAs it accepts "
            f"({'; '.join(ev['acceptable_client_ca_names'])}): the exchange has not registered your ca.crt yet, "
            "or holds an older one."
        )
        remediation = NOT_REGISTERED_REMEDIATION
    else:
        meaning = CLIENT_CERT_ALERT_MEANING.get(number, "the server refused the certificate")
        text = f"{head} In plain words: {meaning}."
        if leaf is not None and certs.not_after(leaf) < ctx.now:
            text += f" Your certificate expired on {certs.openssl_date(certs.not_after(leaf))} (step 8)."
        elif number == 51:
            text += (
                " Step 6 compares the certificate with the key; if they match, send the exchange your current ca.crt."
            )
            remediation = CLIENT_CERT_REMEDIATION + " " + NOT_REGISTERED_REMEDIATION
        if listed is True:
            text += f" Your CA ({issuer}) is among the CAs the server accepts, so the certificate itself was refused."
        elif number in (40, 42, 48, 46):
            text += (
                " The server does not say which CAs it accepts; if your ca.crt is new or was regenerated, the "
                "exchange may not have installed it yet."
            )
            remediation = CLIENT_CERT_REMEDIATION + " " + NOT_REGISTERED_REMEDIATION
    return Finding("tls.client_cert_rejected", Status.FAIL, text, remediation, commands, ev)


def _handshake_failed(ep: Endpoint, t: TlsResult, ev: dict[str, Any], commands: tuple[str, ...]) -> Finding:
    if t.alert_received is not None:
        what = f"the server ended the handshake with TLS alert {t.alert_received} {alert_name(t.alert_received)}"
        if t.alert_received in (40, 70, 71) and not t.client_cert_sent:
            what += " before any certificate was exchanged: no TLS version or cipher in common"
        elif t.alert_received == 112:
            what += ": it does not serve the host name sent (SNI); connect with the host name from onboarding"
    else:
        what = f"OpenSSL gave up: {t.error or 'unknown error'}"
    return Finding(
        "tls.handshake_failed",
        Status.FAIL,
        f"The TLS handshake with {ep} failed: {what}.",
        "Check that the address and port are the FIX server's from onboarding, and that your OpenSSL (or FIX "
        "client) supports TLS 1.2 or 1.3. Run the command below and send its output to the exchange if it persists.",
        commands,
        ev,
    )


def _timeout(ep: Endpoint, t: TlsResult, ev: dict[str, Any], commands: tuple[str, ...]) -> Finding:
    if t.bytes_received == 0:
        text = (
            f"TCP connected to {ep}, but nothing answered the TLS hello within {t.timeout:g} s. A service that is "
            "not TLS (a plain FIX port waits for its Logon) or a stalled server behaves like this."
        )
    else:
        text = (
            f"The server started the TLS handshake ({t.bytes_received} bytes) but did not finish it within "
            f"{t.timeout:g} s: it stalled, or trickles data."
        )
    return Finding(
        "tls.timeout",
        Status.FAIL,
        text,
        "Check that the address and port are the FIX server's TLS endpoint from onboarding (not a plain FIX port "
        "or a stunnel accept port), then retry with a longer --timeout. If it persists, send the exchange the "
        "time of the test and your public IP address.",
        commands,
        ev,
    )


def _not_tls(ep: Endpoint, t: TlsResult, ev: dict[str, Any]) -> Finding:
    preview = preview_bytes(t.first_bytes, 40)
    ev = {**ev, "first_bytes": preview}
    if t.echo:
        what = "it sent the client's TLS hello straight back (an echo or plain-TCP relay)"
    elif t.first_bytes.startswith(b"8=FIX"):
        what = f"it answered in plain FIX ({preview!r}): this port does not use TLS"
    elif t.first_bytes[:5] in (b"HTTP/", b"<html", b"<!DOC"):
        what = f"it answered with HTTP ({preview!r})"
    else:
        what = f"it answered {preview!r}"
    return Finding(
        "tls.not_tls",
        Status.FAIL,
        f"Something answers on {ep}, but not with TLS: {what}. This is not the exchange's TLS FIX endpoint.",
        "Use the FIX server address and port provided by the exchange during onboarding. If your FIX client "
        "connects through stunnel, test the exchange's address here, not stunnel's local accept port.",
        (f"nc -v {shlex.quote(ep.host)} {ep.port} </dev/null", _showcerts(ep)),
        ev,
    )


def _server_side(ctx: Context, ep: Endpoint, t: TlsResult, ev: dict[str, Any]) -> list[Finding]:
    """The server's certificate: trusted by the server CA file? names the host?"""
    ob = ctx.onboarding
    if not t.server_chain:
        return []
    out: list[Finding] = []
    leaf = t.server_chain[0]
    server_ca = q(ob.server_ca_file, SERVER_CA)
    if not t.server_ca_given:
        out.append(
            skip(
                "tls.no_server_ca",
                f"The server's certificate ({certs.subject_name(leaf)}, issued by {certs.issuer_name(leaf)}) was "
                "not checked: no server CA file (itbit-ca.pem) was given.",
                commands=(_showcerts(ep),),
            )
        )
    elif t.verify_errors:
        out.append(_untrusted(ctx, ep, t, ev, server_ca))
    if not hostname.matches(leaf, ep.host):
        dns, ips = hostname.names_of(leaf)
        names = ", ".join(dns + ips) or f"only the subject {certs.subject_name(leaf)}"
        out.append(
            Finding(
                "tls.hostname_mismatch",
                Status.WARN,
                f"{_handshake_note(t, ob.server_ca_file)}The server's certificate does not name {ep.host} (it "
                f"names {names}). The guide's stunnel "
                "configuration does not check the name, so this alone does not stop the connection; a FIX client "
                "or stunnel with `checkHost` would refuse it.",
                "Connect with the host name from onboarding rather than an IP address or alias; if you use "
                "`checkHost` in stunnel, set it to a name the certificate holds.",
                (
                    f"{_s_client(ob, ep, False)} -verify_hostname {shlex.quote(ep.host)} </dev/null",
                    f"{_showcerts(ep)} | openssl x509 -noout -ext subjectAltName",
                ),
                {**ev, "server_names": dns + ips, "host": ep.host},
            )
        )
    return out


def _handshake_note(t: TlsResult, server_ca_file: str | None) -> str:
    """A warning about the server's name must not hide that the mTLS handshake itself worked."""
    if t.outcome != "ok" or not t.client_cert_sent:
        return ""
    trusted = f" and {server_ca_file} verified the server's certificate" if t.server_ca_given and not t.verify_errors else ""
    return f"The mTLS handshake itself succeeded (the server accepted your client certificate{trusted}). "


def _untrusted(ctx: Context, ep: Endpoint, t: TlsResult, ev: dict[str, Any], server_ca: str) -> Finding:
    ob = ctx.onboarding
    number, depth, text = t.verify_errors[0]
    leaf = t.server_chain[0]
    held = "; ".join(certs.subject_name(c) for c in ob.server_ca) or "no certificate"
    at = t.server_chain[depth] if depth < len(t.server_chain) else leaf
    message = (
        f"The server's certificate is not trusted by {ob.server_ca_file}: verify error:num={number}:{text} "
        f"(depth {depth}). The server presented {certs.subject_name(leaf)}, issued by {certs.issuer_name(leaf)}; "
        f"{ob.server_ca_file} holds {held}."
    )
    remediation = SERVER_CA_REMEDIATION
    if number in (9, 10):
        message += (
            f" The certificate at depth {depth} ({certs.subject_name(at)}) is "
            f"{'expired' if number == 10 else 'not yet valid'} (valid {certs.openssl_date(certs.not_before(at))} "
            f"to {certs.openssl_date(certs.not_after(at))})."
        )
        remediation = (
            "Check this machine's clock. If it is right, the exchange's certificate is out of date: tell the "
            "exchange. " + SERVER_CA_REMEDIATION
        )
    client_subjects = {c.subject for c in ob.client_ca}
    if client_subjects and any(c.subject in client_subjects for c in ob.server_ca):
        message += f" {ob.server_ca_file} holds your own CA: the two CA files were confused (step 5)."
    return Finding(
        "tls.server_cert_untrusted",
        Status.FAIL,
        message,
        remediation,
        (
            _s_client(ob, ep, t.client_cert_loaded),
            _showcerts(ep),
            f"openssl x509 -noout -subject -enddate -in {server_ca}",
        ),
        ev,
    )

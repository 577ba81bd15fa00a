"""Step 4: a handshake that did not hold, and why: the client certificate refused, the handshake
failed, the server stalled, or it does not speak TLS.

A refusal is classified by its alert number (`bot.engine.net.tables`), never by OpenSSL's
wording. A server that closed without an alert is `close.py`'s.
"""

from __future__ import annotations

import shlex
from typing import Any

from bot.engine import certs
from bot.engine.context import Context, Endpoint
from bot.engine.net.fix import preview as preview_bytes
from bot.engine.net.tables import CLIENT_CERT_ALERT_MEANING, alert_name
from bot.engine.net.tls import TlsResult
from bot.engine.report import Finding, Status
from bot.engine.steps.tls.close import CLIENT_CERT_REMEDIATION
from bot.engine.steps.tls.evidence import showcerts

NOT_REGISTERED_REMEDIATION = (
    "Send your ca.crt (the CA certificate that issued fix.itbit.pem; never a key) to the exchange and retry "
    "once they confirm it is installed on the FIX server. If you sent it already, compare its subject with the "
    "names the server lists: a regenerated CA has a new certificate, which must be sent again."
)


def how_refused(t: TlsResult) -> str:
    """How the server refused: its alert, or how it hung up."""
    if t.alert_received is not None:
        return f"TLS alert {t.alert_received} {alert_name(t.alert_received)}"
    return "it reset the connection" if t.outcome == "reset" else "it closed the connection"


def client_rejected(
    ctx: Context, ep: Endpoint, t: TlsResult, ev: dict[str, Any], listed: bool | None, commands: tuple[str, ...]
) -> Finding:
    """`tls.client_cert_rejected`: the server refused the client certificate it received (by alert number)."""
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


def handshake_failed(ep: Endpoint, t: TlsResult, ev: dict[str, Any], commands: tuple[str, ...]) -> Finding:
    """`tls.handshake_failed`: an alert that is not about the client certificate, or OpenSSL gave up."""
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


def timeout(ep: Endpoint, t: TlsResult, ev: dict[str, Any], commands: tuple[str, ...]) -> Finding:
    """`tls.timeout`: the server stayed silent after the hello, or stalled in the handshake."""
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


def not_tls(ep: Endpoint, t: TlsResult, ev: dict[str, Any]) -> Finding:
    """`tls.not_tls`: something answered, but not with TLS (plain FIX, HTTP, an echo of our hello)."""
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
        (f"nc -v {shlex.quote(ep.host)} {ep.port} </dev/null", showcerts(ep)),
        ev,
    )

"""Step 4: the server's certificate: is it trusted by the server CA file, and does it name the host?

Said apart from the verdict on the client certificate: an untrusted server certificate
fails the step, a name that does not match only warns (the guide's stunnel configuration
does not check it).
"""

from __future__ import annotations

import shlex
from typing import Any

from bot.engine import certs
from bot.engine.context import Context, Endpoint
from bot.engine.net import hostname
from bot.engine.net.tls import TlsResult
from bot.engine.report import Finding, Status
from bot.engine.steps._common import SERVER_CA, q, skip
from bot.engine.steps.tls.evidence import s_client, showcerts

SERVER_CA_REMEDIATION = (
    "The guide: this indicates that itbit-ca.pem is invalid. Save the content of the certificate provided on "
    "the exchange's onboarding page into itbit-ca.pem (it is the exchange's CA, not your own ca.crt)."
)


def server_side(ctx: Context, ep: Endpoint, t: TlsResult, ev: dict[str, Any]) -> list[Finding]:
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
                commands=(showcerts(ep),),
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
                    f"{s_client(ob, ep, False)} -verify_hostname {shlex.quote(ep.host)} </dev/null",
                    f"{showcerts(ep)} | openssl x509 -noout -ext subjectAltName",
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
            s_client(ob, ep, t.client_cert_loaded),
            showcerts(ep),
            f"openssl x509 -noout -subject -enddate -in {server_ca}",
        ),
        ev,
    )

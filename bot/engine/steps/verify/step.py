"""Step 1: does the client CA validate the client certificate?

The guide's check is `openssl verify -CAfile ca.crt fix.itbit.pem`. We ask OpenSSL itself
(`verification`) and word its answer from a table of its errors (`explanations`).
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from bot.engine import certs
from bot.engine.context import Context
from bot.engine.keyinfo import openssl_versions
from bot.engine.report import Finding, Status
from bot.engine.roles import Onboarding, Role
from bot.engine.steps._common import CLIENT_BUNDLE, CLIENT_CA, missing_client_cert, q, skip
from bot.engine.steps.verify.explanations import REGENERATE, explain, explanation
from bot.engine.steps.verify.verification import openssl_verify, verify_x509

NUMBER = 1
TITLE = "Certificate validates against the CA file"


def run(ctx: Context) -> list[Finding]:
    ob = ctx.onboarding
    if ob.client_cert is not None and _openssl_only(ob):
        return [_verify_openssl_only(ob, ctx.now)]
    if ob.client_cert is None or ob.client_cert.cert is None:
        return [missing_client_cert(ob, "verify.no_certificate")]
    cert = ob.client_cert.cert
    cert_file = q(ob.client_cert_file, CLIENT_BUNDLE)
    if not ob.client_ca:
        unreadable_ca = [n for n, r in ob.roles.items() if r is Role.CLIENT_CA]
        if unreadable_ca:
            return [skip("verify.ca_unreadable", f"The CA file {unreadable_ca[0]} could not be read, so this step could not run: step 5 says why.")]
        return [_no_ca(cert, cert_file)]
    ca_file = q(ob.client_ca_file, CLIENT_CA)
    command = f"openssl verify -CAfile {ca_file} {cert_file}"
    error = openssl_verify(cert, ob.client_ca, ctx.now)
    evidence: dict[str, object] = {
        "certificate": certs.describe(cert),
        "ca_file": ob.client_ca_file,
        "ca_subjects": [certs.subject_name(c) for c in ob.client_ca],
        # The verdict is OpenSSL's: name the one that gave it (the system's `openssl` may differ).
        **openssl_versions(),
    }
    if error is None:
        return [
            Finding(
                "verify.ok",
                Status.PASS,
                f"{ob.client_cert_file}: OK. {ob.client_ca_file} validates the certificate "
                f"({certs.subject_name(cert)}).",
                commands=(command,),
                evidence=evidence,
            )
        ]
    number, depth, text = error
    evidence |= {"openssl_error": number, "openssl_error_text": text, "depth": depth}
    return [explain(error, cert, ob.client_ca, ctx.now, (cert_file, ca_file), evidence)]


def _no_ca(cert: x509.Certificate, cert_file: str) -> Finding:
    issuer = certs.issuer_name(cert)
    if certs.is_self_signed(cert):
        return skip(
            "verify.no_ca",
            "The client certificate is self-signed; no separate CA file is involved. The exchange "
            "must hold this exact certificate.",
            commands=(f"openssl verify -CAfile {cert_file} {cert_file}",),
        )
    return skip(
        "verify.no_ca",
        f"The client certificate was issued by '{issuer}', whose certificate is not among the files. "
        "Add it to check this step: ca.crt in the guide's onboarding, or the exchange's client CA if "
        "the exchange signed your CSR.",
        commands=(f"openssl x509 -noout -issuer -in {cert_file}",),
    )


def _openssl_only(ob: Onboarding) -> bool:
    """The client certificate or a CA certificate is read by OpenSSL but refused by cryptography."""
    leaf = ob.client_cert
    return leaf is not None and (leaf.cert is None or any(c.cert is None for c in ob.client_ca_items))


def _verify_openssl_only(ob: Onboarding, now: dt.datetime) -> Finding:
    """Step 1 with OpenSSL's objects alone: the same verification, plainer wording."""
    leaf = ob.client_cert
    assert leaf is not None
    cas = [c.openssl_cert for c in ob.client_ca_items if c.openssl_cert is not None]
    cert_file = q(ob.client_cert_file, CLIENT_BUNDLE)
    if leaf.openssl_cert is None or not cas:
        return skip(
            "verify.no_ca",
            "The client CA file was not given (or holds no certificate OpenSSL reads): add ca.crt to check this step.",
            commands=(f"openssl x509 -noout -issuer -in {cert_file}",),
        )
    command = f"openssl verify -CAfile {q(ob.client_ca_file, CLIENT_CA)} {cert_file}"
    evidence: dict[str, object] = {
        "ca_file": ob.client_ca_file,
        "checked_with": "OpenSSL only (a stricter parser refuses a certificate here: step 5)",
        **openssl_versions(),
    }
    error = verify_x509(leaf.openssl_cert, cas, now)
    if error is None:
        return Finding(
            "verify.ok",
            Status.PASS,
            f"{ob.client_cert_file}: OK. {ob.client_ca_file} validates the certificate (checked with OpenSSL alone).",
            commands=(command,),
            evidence=evidence,
        )
    number, depth, text = error
    evidence |= {"openssl_error": number, "openssl_error_text": text, "depth": depth}
    # The same codes as with both libraries; the wording that needs cryptography's view of
    # names and dates is not available here.
    return Finding(
        explanation(number, depth).code,
        Status.FAIL,
        f"OpenSSL does not validate {ob.client_cert_file} with {ob.client_ca_file}: error {number} at depth {depth}: {text}.",
        REGENERATE,
        (command, f"openssl x509 -noout -subject -issuer -dates -in {cert_file}"),
        evidence,
    )

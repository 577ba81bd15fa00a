"""Wording and commands shared by several steps, so each is said the same way everywhere."""

from __future__ import annotations

import shlex

from bot.engine.inputs import Kind
from bot.engine.report import Finding, Status
from bot.engine.roles import Onboarding

# The guide's names, used in commands when the user's own file is not known.
CLIENT_BUNDLE = "fix.itbit.pem"
CLIENT_CA = "ca.crt"
CA_KEY = "ca.key"
SERVER_CA = "itbit-ca.pem"

RENEW_HOST_CERT = (
    "openssl genrsa -out host.key 4096",
    "openssl req -new -key host.key -out host.csr",
    "openssl x509 -req -in host.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out host.crt -days 500 -sha256",
    "cat host.crt host.key > fix.itbit.pem",
    "openssl verify -CAfile ca.crt fix.itbit.pem",
)
RENEW_CA = (
    "openssl genrsa -out ca.key 4096",
    "openssl req -new -x509 -days 1000 -key ca.key -out ca.crt",
    *RENEW_HOST_CERT,
)

RENEW_HOST_TEXT = (
    "Make a new host key and certificate with the guide's onboarding commands (step 8) and "
    "update fix.itbit.pem on the FIX client. ca.crt does not change, so nothing needs to be "
    "sent to the exchange."
)
RENEW_CA_TEXT = (
    "Make a new CA (ca.key, ca.crt) and a new host certificate signed by it with the guide's "
    "onboarding commands, and send the new ca.crt to the exchange: the connection works only "
    "after the exchange has installed it on the FIX server."
)
RENEW_EXCHANGE_SIGNED_TEXT = (
    "Your certificate was signed by the exchange: make a new key and CSR "
    "(openssl req -new -newkey rsa:4096 -nodes -keyout private.key -out request.csr) and send "
    "the CSR to the exchange for a new certificate."
)


def q(name: str | None, default: str) -> str:
    """A file name quoted for a shell command; the guide's name when unknown."""
    return shlex.quote(name or default)


def has_unreadable(ob: Onboarding, *labels: str) -> bool:
    """Some input has a block with one of `labels` that could not be read (step 5 explains)."""
    for f in ob.files:
        for item in f.items:
            if item.kind is Kind.UNREADABLE and (not labels or any(lbl in item.label for lbl in labels)):
                return True
        if f.near_misses or f.cr_only:
            return True
    return False


def skip(code: str, message: str, remediation: str | None = None, commands: tuple[str, ...] = ()) -> Finding:
    return Finding(code, Status.SKIP, message, remediation, commands)


def missing_client_cert(ob: Onboarding, code: str) -> Finding:
    """The `skip` finding for a step that needs the client certificate and has none."""
    if ob.client_cert is not None and ob.client_cert.cert is None:
        return skip(
            code,
            f"OpenSSL reads the client certificate in {ob.client_cert_file}, but the stricter parser this step "
            "uses refuses it (step 5, files.strict_parse), so this step could not run; step 1 checked it with OpenSSL.",
            commands=(f"openssl x509 -noout -subject -issuer -dates -in {q(ob.client_cert_file, CLIENT_BUNDLE)}",),
        )
    if has_unreadable(ob, "CERTIFICATE"):
        return skip(code, "The client certificate could not be read, so this step could not run: step 5 says why.")
    return skip(
        code,
        "No client certificate was given. Add fix.itbit.pem (host certificate + host key) or host.crt.",
    )

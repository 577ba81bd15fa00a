"""Step 5's checks of the onboarding as a whole: is the client bundle complete, are two
client certificates the same, were the two CA files confused, is the server CA there?"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from bot.engine import certs
from bot.engine.inputs import Kind
from bot.engine.report import Finding, Status
from bot.engine.roles import Onboarding, Role
from bot.engine.steps._common import q
from bot.engine.steps.files import checks, objects
from bot.engine.steps.files.common import fail

SIGN_THE_CSR = "openssl x509 -req -in host.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out host.crt -days 500 -sha256"


def composition(ob: Onboarding) -> list[Finding]:
    """Whole-onboarding checks: the bundle is complete, the two CA files are not confused."""
    return [
        *_bundle_key(ob),
        *_no_client_cert(ob),
        *_client_certs_differ(ob),
        *_ca_confusion(ob),
        *_server_ca_absent(ob),
    ]


def _bundle_key(ob: Onboarding) -> list[Finding]:
    """The client certificate has its key beside it: in fix.itbit.pem, or in a host.key to join to it."""
    if ob.client_cert is None:
        return []
    cert_file = q(ob.client_cert_file, "fix.itbit.pem")
    # A block that is there but unreadable has its own finding: not "missing" as well.
    # A CA certificate checked against another CA (an intermediate given with its root, no
    # client certificate) is no bundle that lacks its key.
    checked_ca = ob.client_cert.cert is not None and certs.is_ca(ob.client_cert.cert)
    if ob.client_key is None and not checked_ca and not checks.damaged(ob, "PRIVATE KEY"):
        return [
            Finding(
                "files.bundle_missing_key",
                Status.FAIL,
                f"{ob.client_cert_file} holds the client certificate but no private key, and no separate host.key was given. fix.itbit.pem must hold both.",
                "Rebuild it from the certificate and its key: cat host.crt host.key > fix.itbit.pem",
                (f"grep -c 'PRIVATE KEY' {cert_file}", "cat host.crt host.key > fix.itbit.pem"),
            )
        ]
    if ob.client_key is not None and ob.client_key_file != ob.client_cert_file:
        return [
            Finding(
                "files.separate_key",
                Status.PASS,
                f"The certificate ({ob.client_cert_file}) and key ({ob.client_key_file}) are separate files; the FIX client or stunnel needs them together, as fix.itbit.pem.",
                None,
                (f"cat {cert_file} {q(ob.client_key_file, 'host.key')} > fix.itbit.pem",),
            )
        ]
    return []


def _no_client_cert(ob: Onboarding) -> list[Finding]:
    """A client key without a client certificate: a CSR that was never signed, or a missing certificate."""
    if ob.client_cert is not None:
        return []
    key_files = [
        f
        for f in ob.files
        if ob.roles.get(f.name) in (Role.CLIENT_KEY, Role.CLIENT_BUNDLE)
        and f.of_kind(Kind.PRIVATE_KEY, Kind.ENCRYPTED_KEY)
    ]
    csr_files = [f for f in ob.files if f.of_kind(Kind.CSR)]
    if key_files and csr_files:
        return [
            fail(
                "files.csr_instead_of_cert",
                key_files[0],
                f"There is a private key and a CSR ({csr_files[0].name}) but no signed certificate. A CSR cannot be used to connect.",
                "Sign the CSR with your CA (guide) or send it to the exchange and use the certificate it returns; then cat host.crt host.key > fix.itbit.pem",
                (SIGN_THE_CSR,),
            )
        ]
    if key_files and not checks.damaged(ob, "CERTIFICATE"):
        return [
            fail(
                "files.bundle_missing_cert",
                key_files[0],
                f"{key_files[0].name} holds a private key but no client certificate was found in any file.",
                "Add the host certificate: cat host.crt host.key > fix.itbit.pem",
                (f"grep -c 'BEGIN CERTIFICATE' {q(key_files[0].name, 'fix.itbit.pem')}",),
            )
        ]
    return []


def _client_certs_differ(ob: Onboarding) -> list[Finding]:
    """Different certificates in host.crt and fix.itbit.pem: one of them is stale."""
    leafs = {
        f.name: f.of_kind(Kind.CERTIFICATE)[0].cert
        for f in ob.files
        if ob.roles.get(f.name) in (Role.CLIENT_BUNDLE, Role.CLIENT_CERT) and f.of_kind(Kind.CERTIFICATE)
    }
    distinct = {c.fingerprint(hashes.SHA256()) for c in leafs.values() if c is not None}
    if len(distinct) <= 1:
        return []
    return [
        Finding(
            "files.client_certs_differ",
            Status.WARN,
            f"{', '.join(leafs)} hold different client certificates: one is out of date (a renewal not copied into fix.itbit.pem?). The diagnosis uses {ob.client_cert_file}.",
            "Rebuild fix.itbit.pem from the current host.crt and host.key.",
            tuple(f"openssl x509 -noout -subject -enddate -in {q(n, 'x')}" for n in leafs),
        )
    ]


def _ca_confusion(ob: Onboarding) -> list[Finding]:
    if ob.server_ca_file is None or not ob.server_ca:
        return []
    server_fps = {c.fingerprint(hashes.SHA256()) for c in ob.server_ca}
    client_fps = {c.fingerprint(hashes.SHA256()) for c in ob.client_ca}
    leaf = ob.client_cert.cert if ob.client_cert else None
    command = f"openssl x509 -noout -subject -issuer -in {q(ob.server_ca_file, 'itbit-ca.pem')}"
    fix = "itbit-ca.pem must hold the exchange's server CA certificate, copied from the onboarding page; ca.crt is your own CA, which you send to the exchange."
    own_ca = (
        ob.server_ca_file == ob.client_ca_file
        or bool(server_fps & client_fps)
        or (leaf is not None and ob.ca_key is not None and any(certs.issued_by(leaf, c) for c in ob.server_ca))
    )
    swapped = objects.swapped_cas(ob)
    if swapped:
        return swapped
    if leaf is not None and leaf.fingerprint(hashes.SHA256()) in server_fps:
        return [
            Finding(
                "files.ca_confused",
                Status.FAIL,
                f"{ob.server_ca_file} holds your own client certificate, not the exchange's server CA.",
                fix,
                (command,),
            )
        ]
    if own_ca and _looks_generation_one(ob, leaf):
        return [
            Finding(
                "files.ca_confused",
                Status.FAIL,
                f"{ob.server_ca_file} holds your own client CA ({certs.subject_name(ob.server_ca[0])}), not the exchange's server CA: the two CA files were confused.",
                fix,
                (command, f"openssl x509 -noout -subject -in {q(ob.client_ca_file, 'ca.crt')}"),
            )
        ]
    return []


def _looks_generation_one(ob: Onboarding, leaf: x509.Certificate | None) -> bool:
    """The client made its own CA (the guide's onboarding): it holds ca.key or a v1 host cert."""
    return (
        ob.ca_key is not None
        or (leaf is not None and leaf.version is x509.Version.v1)
    )


def _server_ca_absent(ob: Onboarding) -> list[Finding]:
    if ob.server_ca_file is not None or not (ob.client_cert is not None or ob.client_ca):
        return []
    return [
        Finding(
            "files.server_ca_absent",
            Status.SKIP,
            "The exchange's server CA (itbit-ca.pem) was not given; the TLS check (step 4) needs it.",
            "Save the certificate from the onboarding page as itbit-ca.pem and add it.",
        )
    ]

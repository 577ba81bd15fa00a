"""Step 6: does the certificate match the private key (and ca.crt match ca.key)?

The guide compares `openssl x509 -noout -modulus | openssl md5` with the same for the
key. That only works for RSA (for an EC key `openssl rsa` fails and the md5s differ),
so we compare the public keys for every key type and show the guide's md5 for RSA.
"""

from __future__ import annotations

from cryptography import x509

from bot.engine.context import Context
from bot.engine.inputs import Item, Kind, PublicKeyInfo
from bot.engine.report import Finding, Status
from bot.engine.roles import Onboarding
from bot.engine.steps._common import CA_KEY, CLIENT_BUNDLE, CLIENT_CA, RENEW_HOST_TEXT, missing_client_cert, q, skip

NUMBER = 6
TITLE = "Certificate matches the private key"


def run(ctx: Context) -> list[Finding]:
    ob = ctx.onboarding
    findings: list[Finding] = []
    if ob.client_cert is None or ob.client_cert.public_key is None:
        findings.append(missing_client_cert(ob, "keymatch.no_certificate"))
    elif ob.client_key is None or ob.client_key.public_key is None:
        findings.append(_no_key(ob))
    else:
        findings.append(
            _compare(
                "keymatch",
                ob.client_cert,
                ob.client_cert_file,
                CLIENT_BUNDLE,
                ob.client_key,
                ob.client_key_file,
                "host",
            )
        )
    ca_cert = _ca_cert_for_key(ob)
    if (
        ob.ca_key is not None
        and ob.ca_key.public_key is not None
        and ca_cert is not None
        and ca_cert.public_key is not None
    ):
        findings.append(_compare("keymatch.ca", ca_cert, ob.client_ca_file, CLIENT_CA, ob.ca_key, ob.ca_key_file, "ca"))
    if (
        ob.csr is not None
        and ob.csr.public_key is not None
        and ob.client_key is not None
        and ob.client_key.public_key is not None
    ):
        if ob.csr.public_key.spki_der != ob.client_key.public_key.spki_der:
            findings.append(
                Finding(
                    "keymatch.csr_mismatch",
                    Status.WARN,
                    f"{ob.csr_file} was made from a different key than {ob.client_key_file}: a certificate signed from this CSR will not match the key.",
                    "Make the CSR from the key you use: openssl req -new -key host.key -out host.csr",
                    (f"openssl req -noout -pubkey -in {q(ob.csr_file, 'host.csr')} | openssl sha256",),
                )
            )
    return findings


def _no_key(ob: Onboarding) -> Finding:
    encrypted = any(i.kind is Kind.ENCRYPTED_KEY for f in ob.files for i in f.items)
    if encrypted:
        return skip(
            "keymatch.no_key",
            "The private key is encrypted, so it could not be compared without its passphrase (step 5).",
        )
    return skip(
        "keymatch.no_key",
        "No private key for the client certificate was given (fix.itbit.pem must hold host.key too; step 5).",
    )


def _ca_cert_for_key(ob: Onboarding) -> Item | None:
    """The CA certificate item whose key ca.key should be: the client CA file's root-most match."""
    if ob.client_ca_file is None:
        return None
    for f in ob.files:
        if f.name == ob.client_ca_file:
            cands = f.of_kind(Kind.CERTIFICATE)
            key = ob.ca_key.public_key if ob.ca_key else None
            matching = [
                c
                for c in cands
                if key is not None and c.public_key is not None and c.public_key.spki_der == key.spki_der
            ]
            return (matching or cands)[0] if cands else None
    return None


def _compare(
    prefix: str, cert: Item, cert_file: str | None, cert_default: str, key: Item, key_file: str | None, which: str
) -> Finding:
    assert cert.public_key is not None and key.public_key is not None
    cinfo, kinfo = cert.public_key, key.public_key
    cq, kq = q(cert_file, cert_default), q(key_file, CA_KEY if which == "ca" else CLIENT_BUNDLE)
    match = cinfo.spki_der == kinfo.spki_der
    evidence = _evidence(cinfo, kinfo)
    commands = _commands(cinfo, kinfo, cq, kq)
    ok_code, bad_code = f"{prefix}.ok", f"{prefix}.mismatch"
    if prefix == "keymatch.ca":
        ok_code, bad_code = "keymatch.ca_ok", "keymatch.ca_mismatch"
    subject = cert.cert.subject.rfc4514_string() if isinstance(cert.cert, x509.Certificate) else ""
    how = (
        f"the modulus MD5 {cinfo.rsa_modulus_md5} is the same for both"
        if cinfo.rsa_modulus_md5 and match
        else f"the public keys ({cinfo.detail}) are identical"
    )
    if cinfo.algorithm != "RSA" or kinfo.algorithm != "RSA":
        how += ". The guide's -modulus commands only work for RSA keys; for this key compare the public keys as shown"
    pair = f"The certificate and key in {cert_file}" if cert_file == key_file else f"{cert_file} and {key_file}"
    if match:
        return Finding(
            ok_code,
            Status.PASS,
            f"{pair} belong together: {how}.",
            commands=commands,
            evidence=evidence | {"subject": subject},
        )
    if which == "ca":
        remediation = (
            "ca.key is not the key of ca.crt. Find the matching pair; if you make a new CA, the new "
            "ca.crt must be sent to the exchange and installed before you can connect."
        )
    else:
        remediation = (
            "The certificate was made from another (older) key. Rebuild fix.itbit.pem from the host.crt "
            "and host.key that belong together, or generate new ones. " + RENEW_HOST_TEXT
        )
    what = (
        f"the modulus MD5s differ ({cinfo.rsa_modulus_md5} vs {kinfo.rsa_modulus_md5})"
        if cinfo.rsa_modulus_md5 and kinfo.rsa_modulus_md5
        else f"the public keys differ ({cinfo.detail} vs {kinfo.detail})"
    )
    return Finding(
        bad_code,
        Status.FAIL,
        f"The certificate in {cert_file} does not match the private key in {key_file}: {what}.",
        remediation,
        commands,
        evidence | {"subject": subject},
    )


def _evidence(cinfo: PublicKeyInfo, kinfo: PublicKeyInfo) -> dict[str, object]:
    evidence: dict[str, object] = {
        "certificate_key": cinfo.detail,
        "private_key": kinfo.detail,
        "certificate_pubkey_sha256": cinfo.spki_sha256,
        "private_key_pubkey_sha256": kinfo.spki_sha256,
    }
    if cinfo.rsa_modulus_md5:
        evidence["certificate_modulus_md5"] = cinfo.rsa_modulus_md5
    if kinfo.rsa_modulus_md5:
        evidence["private_key_modulus_md5"] = kinfo.rsa_modulus_md5
    return evidence


def _commands(cinfo: PublicKeyInfo, kinfo: PublicKeyInfo, cert_file: str, key_file: str) -> tuple[str, ...]:
    if cinfo.algorithm == "RSA" and kinfo.algorithm == "RSA":
        return (
            f"openssl x509 -noout -modulus -in {cert_file} | openssl md5",
            f"openssl rsa -noout -modulus -in {key_file} | openssl md5",
        )
    return (
        f"openssl x509 -noout -pubkey -in {cert_file} | openssl pkey -pubin -outform der | openssl sha256",
        f"openssl pkey -pubout -outform der -in {key_file} | openssl sha256",
    )

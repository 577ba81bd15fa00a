"""Step 1: does the client CA validate the client certificate?

The guide's check is `openssl verify -CAfile ca.crt fix.itbit.pem`. We ask OpenSSL
itself (pyOpenSSL's X509Store), which accepts the v1 host certificates that
`openssl x509 -req` makes and reports the same error numbers as the command.
`cryptography.x509.verification` would reject every v1 certificate, so it is not used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cryptography import x509
from OpenSSL import crypto
from pyasn1.codec.ber import decoder as ber_decoder
from pyasn1.type import tag

from bot.engine import certs
from bot.engine.context import Context
from bot.engine.keyinfo import openssl_versions
from bot.engine.report import Finding, Status
from bot.engine.roles import Onboarding, Role
from bot.engine.steps._common import CLIENT_BUNDLE, CLIENT_CA, missing_client_cert, q, skip

NUMBER = 1
TITLE = "Certificate validates against the CA file"

# OpenSSL's X509_V_ERR_* numbers that need their own explanation.
ERR_UNABLE_TO_GET_ISSUER = 2
ERR_SIGNATURE_FAILURE = 7
ERR_NOT_YET_VALID = 9
ERR_EXPIRED = 10
ERR_DEPTH_ZERO_SELF_SIGNED = 18
ERR_SELF_SIGNED_IN_CHAIN = 19
ERR_UNABLE_TO_GET_LOCAL_ISSUER = 20
ERR_INVALID_CA = 24
ERR_CA_KEY_TOO_SMALL = 67  # X509_V_ERR_CA_KEY_TOO_SMALL
ERR_EE_KEY_TOO_SMALL = 66
ERR_CA_MD_TOO_WEAK = 68
# TBSCertificate's `extensions [3] EXPLICIT`.
_EXTENSIONS_TAG = tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 3)
# X509_V_FLAG_NO_CHECK_TIME (OpenSSL >= 1.1.0), which pyOpenSSL's X509StoreFlags does not name.
X509_V_FLAG_NO_CHECK_TIME = 0x200000

REGENERATE = (
    "The certificate cannot be validated by this CA file, so the connection cannot work with "
    "these files. Find the ca.crt that signed this certificate, or regenerate the certificates "
    "with the guide's onboarding commands. If a new ca.crt is made, it must be sent to the "
    "exchange and installed on its FIX server before you retry."
)


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
    return [_explain(number, depth, text, cert, ob.client_ca, ctx.now, (cert_file, ca_file), evidence)]


def openssl_verify(
    cert: x509.Certificate, trusted: list[x509.Certificate], when: dt.datetime, *, check_time: bool = True
) -> tuple[int, int, str] | None:
    """Run OpenSSL's verification as `openssl verify -CAfile` does; None when it passes.

    Every certificate of the CA file is a trust anchor, as with `-CAfile`; nothing else
    is used as an intermediate (the command reads only the first certificate of its
    argument). `check_time=False` is `openssl verify -no_check_time`: everything but the dates.
    """
    anchors = [c for c in trusted if not akid_mismatch(cert, c)]
    return verify_x509(certs.openssl_x509(cert), [certs.openssl_x509(c) for c in anchors], when, check_time=check_time)


def akid_mismatch(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """`ca` has the issuer's name but a subject key identifier other than `cert`'s authority key id.

    OpenSSL 3.x (the `openssl` and stunnel users run) never takes such a CA as the issuer
    (X509_check_akid: error 20 at depth 0); the OpenSSL linked here (4.x) skips that check on
    a certificate with a non-DER extension (mbedtls' dir4/cert72.crt) and says error 7. Leaving
    the CA out of the trust anchors gives the users' answer.
    """
    if certs.issuer_der(cert) != certs.subject_der(ca):
        return False
    key_id, subject_key_id = _authority_key_id(cert), _subject_key_id(ca)
    return key_id is not None and subject_key_id is not None and key_id != subject_key_id


def _authority_key_id(cert: x509.Certificate) -> bytes | None:
    return _key_id(cert, x509.AuthorityKeyIdentifier, "2.5.29.35", _key_identifier)


def _subject_key_id(ca: x509.Certificate) -> bytes | None:
    return _key_id(ca, x509.SubjectKeyIdentifier, "2.5.29.14", _octets)


def _key_id(
    cert: x509.Certificate,
    kind: type[x509.AuthorityKeyIdentifier] | type[x509.SubjectKeyIdentifier],
    oid: str,
    from_der: Callable[[bytes], bytes | None],
) -> bytes | None:
    """A key identifier as OpenSSL reads it.

    cryptography's view first (microseconds); the BER walk only where it refuses the
    extensions: that walk costs milliseconds on a 4096-bit certificate (the engine benchmark).
    """
    try:
        value = cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except Exception:  # noqa: BLE001 - ValueError, DuplicateExtension, ...: read it as OpenSSL does
        der = _extension_der(cert, oid)
        return None if der is None else from_der(der)
    return value.key_identifier if isinstance(value, x509.AuthorityKeyIdentifier) else value.digest


def _key_identifier(akid: bytes) -> bytes | None:
    """keyIdentifier of AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... }
    (key ids are 20 bytes: the short DER lengths are all that occur; anything else is "unknown")."""
    if len(akid) < 4 or akid[0] != 0x30 or akid[1] >= 0x80 or akid[2] != 0x80 or akid[3] >= 0x80:
        return None
    return akid[4 : 4 + akid[3]]


def _octets(skid: bytes) -> bytes | None:
    """The content of SubjectKeyIdentifier ::= OCTET STRING (short form, as every key id)."""
    if len(skid) < 2 or skid[0] != 0x04 or skid[1] >= 0x80:
        return None
    return skid[2 : 2 + skid[1]]


def _extension_der(cert: x509.Certificate, oid: str) -> bytes | None:
    """The DER value of an extension as OpenSSL reads it: cryptography refuses every extension
    of a certificate whose other extensions are not strict DER (a BOOLEAN TRUE encoded as 0x01)."""
    der = crypto.dump_certificate(crypto.FILETYPE_ASN1, certs.openssl_x509(cert))
    try:
        decoded, _ = ber_decoder.decode(der)
        last = decoded[0][len(decoded[0]) - 1]
        if _EXTENSIONS_TAG not in last.tagSet:
            return None
        values = [bytes(ext[len(ext) - 1]) for ext in last if str(ext[0]) == oid]
    except Exception:  # noqa: BLE001 - pyasn1's schema-less decoder raises many kinds on odd input
        return None
    return values[0] if values else None


def verify_x509(
    cert: crypto.X509, trusted: list[crypto.X509], when: dt.datetime, *, check_time: bool = True
) -> tuple[int, int, str] | None:
    """`openssl_verify` on OpenSSL's own objects (also for certificates only OpenSSL reads)."""
    store = crypto.X509Store()
    for ca in trusted:
        try:
            store.add_cert(ca)
        except crypto.Error:
            continue  # the same certificate twice: OpenSSL's CLI ignores it too
    store.set_time(when.replace(tzinfo=None))
    if not check_time:
        store.set_flags(X509_V_FLAG_NO_CHECK_TIME)
    context = crypto.X509StoreContext(store, cert)
    try:
        context.verify_certificate()
    except crypto.X509StoreContextError as exc:
        number, depth, text = exc.errors[0], exc.errors[1], exc.errors[2]
        return int(number), int(depth), str(text)
    return None


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


def _explain(
    number: int,
    depth: int,
    text: str,
    cert: x509.Certificate,
    cas: list[x509.Certificate],
    now: dt.datetime,
    file_names: tuple[str, str],
    evidence: dict[str, object],
) -> Finding:
    cert_file, ca_file = file_names
    command = f"openssl verify -CAfile {ca_file} {cert_file}"
    show_issuer = f"openssl x509 -noout -issuer -in {cert_file}"
    show_ca = f"openssl x509 -text -in {ca_file} | grep -E '(Subject|Issuer):'"
    where = "the client certificate" if depth == 0 else f"the CA certificate at depth {depth}"
    said = f"OpenSSL error {number} at depth {depth}: {text}."
    if number in (ERR_EXPIRED, ERR_NOT_YET_VALID):
        # Say once why, and whether anything else is wrong: re-check inside the validity window.
        inner = _otherwise(cert, cas, now)
        evidence["valid_otherwise"] = inner is None
        inverted = certs.not_after(cert) < certs.not_before(cert)
        rest = (
            " Its validity ends before it begins (it was signed with a negative -days), so no clock can make it valid."
            if inverted
            else " Apart from the dates the certificate validates, so renewing is the whole fix: step 8 says which renewal applies."
            if inner is None
            else f" Even within its dates it would fail (OpenSSL error {inner[0]}: {inner[2]})."
        )
        if number == ERR_EXPIRED:
            code = "verify.expired" if depth == 0 else "verify.ca_expired"
            msg = f"{where.capitalize()} has expired. {said}{rest}"
        else:
            code = "verify.not_yet_valid"
            msg = (
                f"{where.capitalize()} is not valid yet (check this machine's clock, or the dates "
                f"the certificate was made with). {said}{rest}"
            )
        remediation = None if inner is None or inverted else REGENERATE
        dates = f"openssl x509 -noout -dates -in {cert_file}"
        apart = f"openssl verify -no_check_time -CAfile {ca_file} {cert_file}"
        return Finding(code, Status.FAIL, msg, remediation, (command, dates, apart), evidence)
    if number == ERR_SIGNATURE_FAILURE:
        return Finding(
            "verify.bad_signature",
            Status.FAIL,
            f"The CA file holds a certificate with the right name ('{certs.issuer_name(cert)}') "
            f"but a different key: ca.crt was most likely regenerated after this certificate was "
            f"signed (or the certificate was altered). {said}{_also_dates(cert, now)}",
            REGENERATE,
            (command, show_issuer, show_ca),
            evidence,
        )
    if number == ERR_UNABLE_TO_GET_LOCAL_ISSUER and depth == 0:
        namesake = (
            " A CA of that name is in the file, but its subject key identifier differs from the certificate's "
            "authority key identifier: it is another CA of the same name (ca.crt regenerated after signing?)."
            if any(akid_mismatch(cert, c) for c in cas)
            else ""
        )
        return Finding(
            "verify.wrong_ca",
            Status.FAIL,
            f"The CA file does not hold the CA that issued the certificate: it was issued by "
            f"'{certs.issuer_name(cert)}', the CA file holds "
            f"{', '.join(repr(certs.subject_name(c)) for c in cas)}.{namesake} {said}{_also_dates(cert, now)}",
            REGENERATE,
            (command, show_issuer, show_ca),
            evidence,
        )
    if number in (ERR_UNABLE_TO_GET_ISSUER, ERR_UNABLE_TO_GET_LOCAL_ISSUER):
        return Finding(
            "verify.incomplete_chain",
            Status.FAIL,
            f"The CA file holds the certificate's issuer but not the rest of its chain up to a "
            f"self-signed root. {said} Step 2 lists what the file holds.",
            "Add every intermediate CA certificate and the root certificate to the CA file, in order.",
            (command, show_ca),
            evidence,
        )
    if number == ERR_DEPTH_ZERO_SELF_SIGNED:
        return Finding(
            "verify.self_signed",
            Status.FAIL,
            f"The client certificate is self-signed and is not the certificate in the CA file. {said}",
            REGENERATE,
            (command,),
            evidence,
        )
    if number == ERR_INVALID_CA:
        return Finding(
            "verify.invalid_ca",
            Status.FAIL,
            f"A certificate in the CA file is not a CA certificate (it lacks CA:TRUE), so OpenSSL "
            f"will not let it sign. {said} A host certificate may have been saved as ca.crt.",
            REGENERATE,
            (command, f"openssl x509 -noout -text -in {ca_file} | grep -A1 'Basic Constraints'"),
            evidence,
        )
    if number in (ERR_CA_KEY_TOO_SMALL, ERR_EE_KEY_TOO_SMALL, ERR_CA_MD_TOO_WEAK):
        return Finding(
            "verify.too_weak",
            Status.FAIL,
            f"OpenSSL refuses a key or signature algorithm as too weak for its default security "
            f"level. {said} Step 5 names the weak key.",
            "Regenerate with at least 2048-bit RSA (the guide uses 4096) and SHA-256 signatures.",
            (command,),
            evidence,
        )
    return Finding(
        "verify.failed", Status.FAIL, f"OpenSSL does not validate {where}. {said}", REGENERATE, (command,), evidence
    )


def _otherwise(cert: x509.Certificate, cas: list[x509.Certificate], now: dt.datetime) -> tuple[int, int, str] | None:
    """Verify with the dates left out (`openssl verify -no_check_time`).

    Checking at some moment inside every certificate's validity misjudged a host
    certificate whose validity began before its CA's (a CA re-issued later with the same
    key): no such moment exists, and any moment chosen blamed the CA, so step 1 asked for
    a new ca.crt while step 8 said ca.crt does not change.
    """
    return openssl_verify(cert, cas, now, check_time=False)


def _also_dates(cert: x509.Certificate, now: dt.datetime) -> str:
    """OpenSSL reports one error; an out-of-date certificate behind another one is said too, as step 8 does."""
    if certs.not_after(cert) < now:
        return f" The certificate has also expired ({certs.openssl_date(certs.not_after(cert))}): step 8 says how to renew it."
    if certs.not_before(cert) > now:
        return f" The certificate is also not valid until {certs.openssl_date(certs.not_before(cert))}: see step 8."
    return ""


# Codes for OpenSSL's error numbers when only OpenSSL reads the certificates (the wording
# that needs cryptography's view of names and dates is then not available).
_CODES_BY_ERROR = {
    ERR_EXPIRED: "verify.expired",
    ERR_NOT_YET_VALID: "verify.not_yet_valid",
    ERR_SIGNATURE_FAILURE: "verify.bad_signature",
    ERR_UNABLE_TO_GET_ISSUER: "verify.incomplete_chain",
    ERR_UNABLE_TO_GET_LOCAL_ISSUER: "verify.wrong_ca",
    ERR_DEPTH_ZERO_SELF_SIGNED: "verify.self_signed",
    ERR_INVALID_CA: "verify.invalid_ca",
    ERR_EE_KEY_TOO_SMALL: "verify.too_weak",
    ERR_CA_KEY_TOO_SMALL: "verify.too_weak",
    ERR_CA_MD_TOO_WEAK: "verify.too_weak",
}


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
    code = _CODES_BY_ERROR.get(number, "verify.failed")
    if code == "verify.wrong_ca" and depth > 0:
        code = "verify.incomplete_chain"
    if code == "verify.expired" and depth > 0:
        code = "verify.ca_expired"
    return Finding(
        code,
        Status.FAIL,
        f"OpenSSL does not validate {ob.client_cert_file} with {ob.client_ca_file}: error {number} at depth {depth}: {text}.",
        REGENERATE,
        (command, f"openssl x509 -noout -subject -issuer -dates -in {cert_file}"),
        evidence,
    )

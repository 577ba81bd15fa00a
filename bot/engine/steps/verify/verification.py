"""OpenSSL's own verification, as `openssl verify -CAfile ca.crt fix.itbit.pem` runs it.

pyOpenSSL's X509Store accepts the v1 host certificates that `openssl x509 -req` makes and
reports the same error numbers as the command. `cryptography.x509.verification` would
reject every v1 certificate, so it is not used. A CA whose subject key identifier is not
the certificate's authority key identifier is left out, as OpenSSL 3.x leaves it out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cryptography import x509
from OpenSSL import crypto
from pyasn1.codec.ber import decoder as ber_decoder
from pyasn1.type import tag

from bot.engine import certs

# TBSCertificate's `extensions [3] EXPLICIT`.
_EXTENSIONS_TAG = tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 3)
# X509_V_FLAG_NO_CHECK_TIME (OpenSSL >= 1.1.0), which pyOpenSSL's X509StoreFlags does not name.
X509_V_FLAG_NO_CHECK_TIME = 0x200000


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
    finally:
        certs.clear_openssl_errors()  # a failed verification leaves its errors on OpenSSL's queue
    return None

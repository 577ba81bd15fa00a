"""Small facts about certificates that several steps need, in one place."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.bindings.openssl.binding import Binding
from cryptography.hazmat.primitives import hashes
from OpenSSL import crypto

# Several steps ask the same questions of the same certificates (was this signed by
# that? what is its subject?), and each answer costs: a signature check, or building
# Python objects for a name (cryptography does that on every `cert.subject`). Answers
# are remembered for the length of one diagnosis only.
_DIAGNOSIS_CACHE: ContextVar[dict[tuple[object, ...], tuple[tuple[object, ...], object]] | None] = ContextVar(
    "fixcheck_diagnosis_cache", default=None
)
_T = TypeVar("_T")


@contextmanager
def diagnosis_cache() -> Iterator[None]:
    """Remember answers about certificates inside this block (one diagnosis)."""
    token = _DIAGNOSIS_CACHE.set({})
    try:
        yield
    finally:
        _DIAGNOSIS_CACHE.reset(token)


def _remembered(tag: str, objects: tuple[object, ...], compute: Callable[[], _T]) -> _T:
    """`compute()`, or its remembered answer for these same objects in this diagnosis.

    Keyed by identity (hashing a certificate re-reads its DER); each entry keeps its
    objects alive, so an id cannot be reused by another object while the cache lives.
    """
    cache = _DIAGNOSIS_CACHE.get()
    if cache is None:
        return compute()
    key = (tag, *map(id, objects))
    entry = cache.get(key)
    if entry is None:
        entry = cache[key] = (objects, compute())
    return entry[1]  # type: ignore[return-value]


def openssl_x509(cert: x509.Certificate) -> crypto.X509:
    """OpenSSL's own object for `cert` (for X509_verify_cert), made once per diagnosis."""
    return _remembered("x509", (cert,), lambda: crypto.X509.from_cryptography(cert))


def remember_openssl_x509(cert: x509.Certificate, openssl_cert: crypto.X509) -> None:
    """Keep the object OpenSSL's reader already made, so `openssl_x509` need not convert."""
    _remembered("x509", (cert,), lambda: openssl_cert)


def subject(cert: x509.Certificate) -> x509.Name:
    return _remembered("subject", (cert,), lambda: cert.subject)


def issuer(cert: x509.Certificate) -> x509.Name:
    return _remembered("issuer", (cert,), lambda: cert.issuer)


def subject_name(cert: x509.Certificate) -> str:
    """The certificate's subject as `openssl x509 -subject` prints it."""
    return _remembered("subject_name", (cert,), lambda: name(subject(cert)))


def issuer_name(cert: x509.Certificate) -> str:
    """The certificate's issuer as `openssl x509 -issuer` prints it."""
    return _remembered("issuer_name", (cert,), lambda: name(issuer(cert)))


def subject_der(cert: x509.Certificate) -> bytes:
    return _remembered("subject_der", (cert,), lambda: subject(cert).public_bytes())


def issuer_der(cert: x509.Certificate) -> bytes:
    return _remembered("issuer_der", (cert,), lambda: issuer(cert).public_bytes())


def self_issued(cert: x509.Certificate) -> bool:
    """Subject and issuer are the same name (compared as DER: `Name.__eq__` is slow)."""
    return subject_der(cert) == issuer_der(cert)


def is_self_signed(cert: x509.Certificate) -> bool:
    """Subject equals issuer and the certificate's own key verifies its signature."""
    return self_issued(cert) and issued_by(cert, cert)


def is_ca(cert: x509.Certificate) -> bool:
    """A CA certificate: basicConstraints CA:TRUE, or (v1, no extensions) self-signed."""
    return _remembered("is_ca", (cert,), lambda: _is_ca(cert))


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.version is x509.Version.v1 and self_issued(cert)
    except Exception:  # noqa: BLE001 - malformed (DuplicateExtension, ...) extensions: judge by name only
        return self_issued(cert)


def issued_by(cert: x509.Certificate, issuer_cert: x509.Certificate) -> bool:
    """`issuer_cert`'s subject is `cert`'s issuer and its key verifies `cert`'s signature."""
    return _remembered("issued_by", (cert, issuer_cert), lambda: _issued_by(cert, issuer_cert))


def _issued_by(cert: x509.Certificate, issuer_cert: x509.Certificate) -> bool:
    if issuer_der(cert) != subject_der(issuer_cert):
        return False
    try:
        cert.verify_directly_issued_by(issuer_cert)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def name(value: x509.Name) -> str:
    """A distinguished name as `openssl x509 -subject` prints it (OpenSSL 3 style)."""
    parts = []
    for rdn in value.rdns:
        for attr in rdn:
            label = _SHORT_NAMES.get(attr.oid.dotted_string, attr.oid._name)
            parts.append(f"{label} = {attr.value!s}")
    return ", ".join(parts) if parts else "(empty)"


_SHORT_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "1.2.840.113549.1.9.1": "emailAddress",
    "0.9.2342.19200300.100.1.25": "DC",
    "2.5.4.5": "serialNumber",
}


def not_after(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_after_utc


def not_before(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_before_utc


def openssl_date(when: dt.datetime) -> str:
    """The date as `openssl x509 -enddate` prints it: `Mar  1 12:00:00 2027 GMT`."""
    return when.strftime("%b %e %H:%M:%S %Y GMT")


def sha256_fingerprint(cert: x509.Certificate) -> str:
    """What `openssl x509 -noout -fingerprint -sha256` prints after the `=`."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def describe(cert: x509.Certificate) -> dict[str, Any]:
    """Public facts about a certificate, for a finding's evidence."""
    return {
        "subject": subject_name(cert),
        "issuer": issuer_name(cert),
        "serial": format(cert.serial_number, "X"),
        "not_before": not_before(cert).isoformat(),
        "not_after": not_after(cert).isoformat(),
        "version": 1 if cert.version is x509.Version.v1 else 3,
        "sha256_fingerprint": sha256_fingerprint(cert),
    }


def clear_openssl_errors() -> None:
    """Empty OpenSSL's error queue (this thread's) before a load whose failure is reported.

    pyOpenSSL reports a failed load with every entry on the queue, and some calls leave
    theirs behind (a failed X509_verify_cert, for one): without this, `openssl_reason`
    would name reasons from an earlier file, or from an earlier user's diagnosis in the bot.
    """
    Binding.lib.ERR_clear_error()

"""Small facts about certificates that several steps need, in one place."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes


def is_self_signed(cert: x509.Certificate) -> bool:
    """Subject equals issuer and the certificate's own key verifies its signature."""
    return cert.subject == cert.issuer and issued_by(cert, cert)


def is_ca(cert: x509.Certificate) -> bool:
    """A CA certificate: basicConstraints CA:TRUE, or (v1, no extensions) self-signed."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.version is x509.Version.v1 and cert.subject == cert.issuer
    except ValueError:  # malformed extensions: judge by name only
        return cert.subject == cert.issuer


# Several steps ask `issued_by` of the same pairs, and a signature check is the costliest
# thing offline: answers are remembered for the length of one diagnosis only.
_SIGNATURE_CACHE: ContextVar[dict[tuple[x509.Certificate, x509.Certificate], bool] | None] = ContextVar(
    "fixcheck_signature_cache", default=None
)


@contextmanager
def signature_cache() -> Iterator[None]:
    """Remember `issued_by` answers inside this block (one diagnosis)."""
    token = _SIGNATURE_CACHE.set({})
    try:
        yield
    finally:
        _SIGNATURE_CACHE.reset(token)


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """`issuer`'s subject is `cert`'s issuer and `issuer`'s key verifies the signature."""
    if cert.issuer != issuer.subject:
        return False
    cache = _SIGNATURE_CACHE.get()
    if cache is not None and (cert, issuer) in cache:
        return cache[(cert, issuer)]
    try:
        cert.verify_directly_issued_by(issuer)
        result = True
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        result = False
    if cache is not None:
        cache[(cert, issuer)] = result
    return result


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
        "subject": name(cert.subject),
        "issuer": name(cert.issuer),
        "serial": format(cert.serial_number, "X"),
        "not_before": not_before(cert).isoformat(),
        "not_after": not_after(cert).isoformat(),
        "version": 1 if cert.version is x509.Version.v1 else 3,
        "sha256_fingerprint": sha256_fingerprint(cert),
    }

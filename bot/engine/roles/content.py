"""What a file's content says of its part: its keys, and how its certificates relate."""

from __future__ import annotations

import warnings

from bot.engine.certs import is_ca, is_self_signed, issued_by, issuer_der, subject_der
from bot.engine.inputs import InputFile, Item, Kind


def tls_keys(f: InputFile) -> list[Item]:
    """The keys of `f` that can be a TLS client (or CA) key: not ML-KEM, X25519, DH, ..."""
    return [
        k
        for k in f.of_kind(Kind.PRIVATE_KEY, Kind.ENCRYPTED_KEY)
        if k.public_key is None or k.public_key.can_be_tls_client_key
    ]


def ca_like(item: Item) -> bool:
    """A certificate that belongs in a CA file: CA:TRUE, or self-signed (self-issued when
    only OpenSSL reads it)."""
    if item.cert is not None:
        return is_ca(item.cert) or is_self_signed(item.cert)
    return subject_issuer(item)[0] == subject_issuer(item)[1] != b""


def subject_issuer(item: Item) -> tuple[bytes, bytes]:
    """(subject, issuer) as DER, from whichever library read the certificate."""
    if item.cert is not None:
        return subject_der(item.cert), issuer_der(item.cert)
    if item.openssl_cert is not None:
        # Only for certificates `cryptography` refuses; pyOpenSSL marks these calls deprecated
        # in favour of cryptography, which is exactly what cannot read this certificate.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return item.openssl_cert.get_subject().der(), item.openssl_cert.get_issuer().der()
    return b"", b""


def issued(leaf: Item, ca: Item) -> bool:
    """`ca` issued `leaf`: by signature when cryptography reads both, else by name (OpenSSL judges in step 1)."""
    if leaf.cert is not None and ca.cert is not None:
        return issued_by(leaf.cert, ca.cert)
    return subject_issuer(leaf)[1] == subject_issuer(ca)[0] != b""


def leaf_of(certs: list[Item]) -> Item:
    """The end-entity certificate of a file: the first non-CA one (OpenSSL uses the first)."""
    for item in certs:
        if not (is_ca(item.cert) if item.cert is not None else ca_like(item)):
            return item
    return certs[0]

"""PKCS#12 (.p12/.pfx) containers: what Java and Windows FIX engines keep their keys in.

A container is recognised by its ASN.1 shape (PFX: version 3, then PKCS#7 content), so a
JPEG or a zip is never called "maybe PKCS#12". When it opens without a password (or with
the empty one), its certificates are listed and whether a key is inside; the key itself
is dropped at once.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.serialization import pkcs12
from pyasn1.codec.der import decoder as der_decoder
from pyasn1.error import PyAsn1Error

from bot.engine import certs
from bot.engine.items import Item, Kind, Pkcs12Contents

_PKCS7_CONTENT_TYPES = ("1.2.840.113549.1.7.1", "1.2.840.113549.1.7.2")  # data, signedData


def looks_like_pkcs12(data: bytes) -> bool:
    """PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, macData OPTIONAL }."""
    if not data.startswith(b"\x30"):
        return False
    try:
        pfx, rest = der_decoder.decode(data)
        return not rest and int(pfx[0]) == 3 and str(pfx[1][0]) in _PKCS7_CONTENT_TYPES
    except (PyAsn1Error, IndexError, TypeError, ValueError, KeyError):
        return False


def read_pkcs12(data: bytes) -> Item | None:
    """The container as one item, or None if `data` is not PKCS#12."""
    if not looks_like_pkcs12(data):
        return None
    contents = _contents(data)
    kind = Kind.PKCS12 if contents.protected or contents.has_key else Kind.PKCS12_NO_KEY
    return Item(kind, "PKCS12", 0, pkcs12=contents)


def _contents(data: bytes) -> Pkcs12Contents:
    for password in (None, b""):
        try:
            opened = pkcs12.load_pkcs12(data, password)
        except ValueError:  # a password is needed (or the MAC does not match the empty one)
            continue
        except Exception:  # noqa: BLE001 - an algorithm this OpenSSL lacks: treat as locked
            break
        found = ([opened.cert] if opened.cert is not None else []) + list(opened.additional_certs)
        subjects = tuple(certs.name(c.certificate.subject) for c in found)
        has_key = opened.key is not None
        del opened  # the key object must not outlive this call
        return Pkcs12Contents(protected=False, subjects=subjects, has_key=has_key)
    return Pkcs12Contents(protected=True)

"""PKCS#12 (.p12/.pfx) containers: what Java and Windows FIX engines keep their keys in.

A container is recognised by its ASN.1 header (PFX: version 3, then PKCS#7 content), so a
JPEG or a zip is never called "maybe PKCS#12". When it opens without a password (or with
the empty one), its certificates are listed and whether a key is inside; the key itself
is dropped at once.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from OpenSSL import crypto

from bot.engine import certs, objects
from bot.engine.items import Item, KeyFormat, Kind, Pkcs12Contents
from bot.engine.keyinfo import public_info

# The DER of the OIDs pkcs7-data and pkcs7-signedData, the two content types a PFX may hold.
_PKCS7_CONTENT_TYPES = (bytes.fromhex("06092a864886f70d010701"), bytes.fromhex("06092a864886f70d010702"))


# The DER (tag, length, value) of the PBE algorithm OIDs OpenSSL 3 moved to its legacy provider:
# PKCS#12's RC4 and RC2 (1.2.840.113549.1.12.1.1/2/5/6, RC2-40 is what old Java and Windows
# write) and PKCS#5 v1's DES and RC2 (1.2.840.113549.1.5.1/3/4/6/10/11). They stand in clear
# in the file even when its contents are encrypted.
_LEGACY_PBE_OIDS = tuple(
    bytes.fromhex("060a2a864886f70d01" + arc)
    for arc in ("0c0101", "0c0102", "0c0105", "0c0106", "0501", "0503", "0504", "0506", "050a", "050b")
)


def needs_legacy(data: bytes) -> bool:
    """The container uses an algorithm `openssl pkcs12` (3.x) reads only with -legacy."""
    return any(oid in data for oid in _LEGACY_PBE_OIDS)


def looks_like_pkcs12(data: bytes) -> bool:
    """PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo { contentType OID, ... }, ... }.

    Only the header is looked at (BER too: Java's keytool writes indefinite lengths);
    whether the rest is sound is for the PKCS#12 reader to say.
    """
    try:
        if data[0] != 0x30:
            return False
        version = _content_start(data, 0)
        if data[version : version + 4] != b"\x02\x01\x03\x30":
            return False
        content_type = _content_start(data, version + 3)
        return data[content_type : content_type + 11] in _PKCS7_CONTENT_TYPES
    except IndexError:  # shorter than a header
        return False


def _content_start(data: bytes, pos: int) -> int:
    """Where the content of the BER element at `pos` begins (after its tag and length)."""
    first = data[pos + 1]
    return pos + 2 + (first & 0x7F if first & 0x80 else 0)


def read_pkcs12(data: bytes) -> list[Item] | None:
    """The container as an item, followed by what it holds when it opens without a password
    (as `openssl x509|pkey -in file.p12` read them); None if `data` is not PKCS#12."""
    if not looks_like_pkcs12(data):
        return None
    opened = _open(data)
    if opened is None:
        return [Item(Kind.PKCS12, "PKCS12", 0, pkcs12=Pkcs12Contents(protected=True, legacy=needs_legacy(data)))]
    password, contents = opened
    found = ([contents.cert] if contents.cert is not None else []) + list(contents.additional_certs)
    summary = Pkcs12Contents(
        protected=False,
        subjects=tuple(certs.name(c.certificate.subject) for c in found),
        has_key=contents.key is not None,
        legacy=needs_legacy(data),
    )
    items = [Item(Kind.PKCS12 if summary.has_key else Kind.PKCS12_NO_KEY, "PKCS12", 0, pkcs12=summary)]
    if contents.key is not None:
        key = Item(Kind.PRIVATE_KEY, "PKCS12", len(items), key_format=KeyFormat.DER)
        key.public_key = public_info(contents.key.public_key())
        # Opened again from the container only for a handshake; no key object is kept.
        key.private_key_source = lambda: _key_of(data, password)
        items.append(key)
    for c in found:
        der = c.certificate.public_bytes(serialization.Encoding.DER)
        items.append(objects.read_certificate(Item(Kind.UNREADABLE, "PKCS12", len(items)), der, crypto.FILETYPE_ASN1))
    del contents
    return items


def _open(data: bytes) -> tuple[bytes | None, pkcs12.PKCS12KeyAndCertificates] | None:
    """The container opened with no password or the empty one; None when it needs a real one."""
    for password in (None, b""):
        try:
            return password, pkcs12.load_pkcs12(data, password)
        except ValueError:  # a password is needed (or the MAC does not match this one)
            continue
        except Exception:  # noqa: BLE001 - an algorithm this OpenSSL lacks: treat as locked
            return None
    return None


def _key_of(data: bytes, password: bytes | None) -> PrivateKeyTypes:
    key = pkcs12.load_pkcs12(data, password).key
    if key is None:
        raise ValueError("the container holds no key")
    return key

"""Hand-built DER for the resource-bound tests: huge, wide and deep certificates.

Everything is made at test time; the TBSCertificate is assembled byte by byte so that
shapes no certificate tool would produce (thousands of extensions, a name nested
100,000 levels deep) can be signed properly and handed to the engine.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")


def tlv(tag: int, body: bytes) -> bytes:
    """One DER element: tag, definite length, body."""
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for value in parts[2:]:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, body)


def nested_sequences(depth: int, core: bytes = b"\x05\x00") -> bytes:
    """`depth` SEQUENCEs, each holding the next; NULL at the bottom."""
    out = core
    for _ in range(depth):
        out = tlv(0x30, out)
    return out


def name(cn: str) -> bytes:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]).public_bytes()


def _utc(when: dt.datetime) -> bytes:
    return tlv(0x17, when.strftime("%y%m%d%H%M%SZ").encode())


def certificate(
    key: rsa.RSAPrivateKey,
    *,
    subject: bytes | None = None,
    issuer: bytes | None = None,
    extensions: list[bytes] | None = None,
    public_key: bytes | None = None,
) -> bytes:
    """A v3 certificate (DER) signed by `key`, with the given raw name and extension DER."""
    now = dt.datetime.now(dt.UTC)
    spki = public_key or key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fields = (
        tlv(0xA0, tlv(0x02, b"\x02"))
        + tlv(0x02, b"\x01")
        + SHA256_WITH_RSA
        + (issuer or name("crafted"))
        + tlv(0x30, _utc(now - dt.timedelta(days=1)) + _utc(now + dt.timedelta(days=300)))
        + (subject or name("crafted"))
        + spki
    )
    if extensions is not None:
        fields += tlv(0xA3, tlv(0x30, b"".join(extensions)))
    tbs = tlv(0x30, fields)
    signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    return tlv(0x30, tbs + SHA256_WITH_RSA + tlv(0x03, b"\x00" + signature))


def extension(dotted: str, value: bytes, critical: bool = False) -> bytes:
    return tlv(0x30, oid(dotted) + (b"\x01\x01\xff" if critical else b"") + tlv(0x04, value))


def many_extensions(count: int) -> list[bytes]:
    """`count` distinct private extensions (OIDs 1.3.6.1.4.1.99999.N), each holding a NULL."""
    return [extension(f"1.3.6.1.4.1.99999.{n}", b"\x05\x00") for n in range(count)]


def deep_name(depth: int) -> bytes:
    """A Name whose one attribute value is `depth` nested SEQUENCEs (a DirectoryString is expected)."""
    atv = tlv(0x30, oid("2.5.4.3") + nested_sequences(depth))
    return tlv(0x30, tlv(0x31, atv))


def pem(label: str, der: bytes) -> bytes:
    import base64

    b64 = base64.b64encode(der).decode()
    body = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()

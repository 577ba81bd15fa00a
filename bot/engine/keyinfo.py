"""The public half of a key, described the same way whichever library could read it.

`cryptography` reads most keys; OpenSSL (through pyOpenSSL) reads some that it refuses
(an odd PKCS#8 version, an EC scalar out of range, a post-quantum key). Both end here
as a `PublicKeyInfo`, built from the SubjectPublicKeyInfo DER, which never holds a
secret.
"""

from __future__ import annotations

import functools
import hashlib
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.backends.openssl import backend as _openssl_backend
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from OpenSSL import crypto
from pyasn1.codec.der import decoder as der_decoder

# SubjectPublicKeyInfo algorithm OIDs -> the names `openssl pkey -text` uses.
_ALGORITHMS = {
    "1.2.840.113549.1.1.1": "RSA",
    "1.2.840.113549.1.1.10": "RSA-PSS",
    "1.2.840.10045.2.1": "EC",
    "1.3.132.1.12": "ECDH",  # id-ecDH: an EC key restricted to key agreement
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
    "1.3.101.110": "X25519",
    "1.3.101.111": "X448",
    "1.2.840.10040.4.1": "DSA",
    "1.2.840.113549.1.3.1": "DH",
    "1.2.840.10046.2.1": "X9.42 DH",
    "1.2.156.10197.1.301": "SM2",
    "2.16.840.1.101.3.4.4.1": "ML-KEM-512",
    "2.16.840.1.101.3.4.4.2": "ML-KEM-768",
    "2.16.840.1.101.3.4.4.3": "ML-KEM-1024",
    "2.16.840.1.101.3.4.3.17": "ML-DSA-44",
    "2.16.840.1.101.3.4.3.18": "ML-DSA-65",
    "2.16.840.1.101.3.4.3.19": "ML-DSA-87",
}
# Keys a TLS 1.2/1.3 client certificate can sign its handshake with in OpenSSL 3.0 (the
# system's stunnel). Key-agreement-only and post-quantum keys cannot be the client key.
TLS_CLIENT_ALGORITHMS = frozenset({"RSA", "RSA-PSS", "EC", "Ed25519", "Ed448", "DSA"})


# The system `openssl`'s version, when the front end (the CLI) gives it for this diagnosis:
# the engine starts no process, so it cannot ask itself.
_CLI_VERSION: ContextVar[str | None] = ContextVar("fixcheck_openssl_cli_version", default=None)


def linked_openssl_version() -> str:
    """The OpenSSL that the engine reads with (the one bundled in the wheels)."""
    return str(_openssl_backend.openssl_version_text())


def set_cli_openssl_version(version: str | None) -> Token[str | None]:
    return _CLI_VERSION.set(version[:120] if version else None)


def reset_cli_openssl_version(token: Token[str | None]) -> None:
    _CLI_VERSION.reset(token)


def openssl_versions() -> dict[str, str]:
    """Evidence for a verdict that depends on OpenSSL: the engine's, and the system's when known."""
    out = {"openssl_engine": linked_openssl_version()}
    cli = _CLI_VERSION.get()
    if cli:
        out["openssl_cli"] = cli
    return out


@dataclass(frozen=True)
class PublicKeyInfo:
    """The public half of a key: enough to compare keys and describe them, never secret."""

    algorithm: str  # "RSA", "EC", "Ed25519", "ML-DSA-65", ...
    bits: int
    detail: str  # "RSA 4096", "EC prime256v1", ...
    spki_der: bytes
    # The public key object (public, so harmless) when cryptography reads it, for facts
    # computed only when asked; None for algorithms only OpenSSL knows.
    key: PublicKeyTypes | None = field(repr=False, compare=False)

    @functools.cached_property
    def rsa_modulus_md5(self) -> str | None:
        """What `openssl x509|rsa -noout -modulus | openssl md5` prints (RSA only)."""
        if not isinstance(self.key, rsa.RSAPublicKey):
            return None
        # `openssl ... -noout -modulus` prints "Modulus=<HEX>\n"; `openssl md5` hashes that.
        modulus_hex = format(self.key.public_numbers().n, "X")
        return hashlib.md5(f"Modulus={modulus_hex}\n".encode(), usedforsecurity=False).hexdigest()

    @property
    def spki_sha256(self) -> str:
        """What `openssl pkey -pubout -outform der | openssl sha256` prints."""
        return hashlib.sha256(self.spki_der).hexdigest()

    @property
    def can_be_tls_client_key(self) -> bool:
        return self.algorithm in TLS_CLIENT_ALGORITHMS


def public_info(key: PublicKeyTypes) -> PublicKeyInfo:
    """Describe a public key `cryptography` has read."""
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if isinstance(key, rsa.RSAPublicKey):
        return PublicKeyInfo("RSA", key.key_size, f"RSA {key.key_size}", spki, key)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return PublicKeyInfo("EC", key.curve.key_size, f"EC {_curve_name(key.curve.name)}", spki, key)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return PublicKeyInfo("Ed25519", 256, "Ed25519", spki, key)
    if isinstance(key, ed448.Ed448PublicKey):
        return PublicKeyInfo("Ed448", 456, "Ed448", spki, key)
    if isinstance(key, dsa.DSAPublicKey):
        return PublicKeyInfo("DSA", key.key_size, f"DSA {key.key_size}", spki, key)
    name = spki_algorithm(spki)
    return PublicKeyInfo(name, 0, name, spki, key)


def openssl_public_info(pkey: crypto.PKey) -> PublicKeyInfo:
    """Describe a key OpenSSL has read, through its SubjectPublicKeyInfo.

    `cryptography` gets a second chance on the public half alone (it is often only the
    private encoding it refuses); when it still refuses, the algorithm comes from the
    SPKI's OID and the size from OpenSSL.
    """
    spki = crypto.dump_publickey(crypto.FILETYPE_ASN1, pkey)
    try:
        return public_info(serialization.load_der_public_key(spki))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pass
    name = spki_algorithm(spki)
    bits = pkey.bits()
    return PublicKeyInfo(name, bits, f"{name} {bits}" if name in ("RSA", "DSA") else name, spki, None)


def spki_algorithm(spki_der: bytes) -> str:
    """The algorithm named by a SubjectPublicKeyInfo, as OpenSSL names it (or its OID)."""
    try:
        decoded, _ = der_decoder.decode(spki_der)
        oid = str(decoded[0][0])
    except Exception:  # noqa: BLE001 - pyasn1's schema-less decoder raises many kinds on odd input
        return "unknown"
    return _ALGORITHMS.get(oid, oid)


def _curve_name(name: str) -> str:
    # OpenSSL calls secp256r1 "prime256v1"; people read it in `openssl` output that way.
    return {"secp256r1": "prime256v1 (P-256)", "secp384r1": "secp384r1 (P-384)", "secp521r1": "secp521r1 (P-521)"}.get(
        name, name
    )

"""What one object in an input is: an `Item` (one PEM block, DER object or container)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from OpenSSL import crypto

from bot.engine import pem
from bot.engine.keyinfo import PublicKeyInfo


class Kind(StrEnum):
    """What an item (one PEM block or DER object) is."""

    CERTIFICATE = "certificate"
    PRIVATE_KEY = "private-key"
    ENCRYPTED_KEY = "encrypted-private-key"
    CSR = "csr"
    PUBLIC_KEY = "public-key"
    PARAMETERS = "parameters"  # EC PARAMETERS / DH PARAMETERS: harmless extras
    UNREADABLE = "unreadable"  # looks like PEM, but OpenSSL cannot read it
    OTHER_PEM = "other-pem"  # a PEM type that plays no part here (CRL, PKCS7, ...)
    PKCS12 = "pkcs12"  # a .p12/.pfx container (Java and Windows keystores) holding a key, or locked
    PKCS12_NO_KEY = "pkcs12-no-key"  # an unprotected .p12 with certificates only (a truststore)
    OPENSSH_KEY = "openssh-private-key"  # ssh-keygen's own format: not a TLS key, still a secret


class KeyFormat(StrEnum):
    PKCS8 = "pkcs8"  # "BEGIN PRIVATE KEY" (openssl genrsa in OpenSSL 3)
    PKCS1 = "pkcs1"  # "BEGIN RSA PRIVATE KEY" (OpenSSL 1.x, `openssl rsa -traditional`)
    SEC1 = "sec1"  # "BEGIN EC PRIVATE KEY"
    DSA = "dsa-legacy"
    ENCRYPTED_PKCS8 = "encrypted-pkcs8"
    ENCRYPTED_LEGACY = "encrypted-legacy"  # Proc-Type: 4,ENCRYPTED headers
    DER = "der"


@dataclass(frozen=True)
class Pkcs12Contents:
    """What an unprotected PKCS#12 holds: certificate subjects and whether a key is inside."""

    protected: bool  # a password other than the empty one is needed to open it
    subjects: tuple[str, ...] = ()
    has_key: bool = False
    legacy: bool = False  # encrypted with RC2/RC4/DES: OpenSSL 3's pkcs12 command needs -legacy


@dataclass
class Item:
    """One object found in a file."""

    kind: Kind
    label: str  # the PEM label, or "DER"
    index: int  # position in the file, from 0
    first_line: int = 0
    problems: tuple[pem.PemProblem, ...] = ()
    openssl_error: str | None = None  # why OpenSSL refused it, when it did
    # What `cryptography` (stricter than OpenSSL) refused in an object OpenSSL reads:
    # other software may refuse it too, so step 5 warns. `cert`/`csr` are then None.
    strict_error: str | None = None
    cert: x509.Certificate | None = None
    # OpenSSL's own object for a certificate: present whenever OpenSSL read it, so that
    # step 1 runs even on a certificate `cryptography` refuses.
    openssl_cert: crypto.X509 | None = field(default=None, repr=False)
    csr: x509.CertificateSigningRequest | None = None
    public_key: PublicKeyInfo | None = None
    key_format: KeyFormat | None = None
    # How to load the private key object, for the TLS handshake (step 4) only: it is
    # built on first use, in memory, and never rendered, logged or serialised.
    private_key_source: Callable[[], PrivateKeyTypes] | None = field(default=None, repr=False)
    too_large: str | None = None  # "RSA 65536": a key larger than OpenSSL uses (then kind is UNREADABLE)
    pkcs12: Pkcs12Contents | None = None

    @property
    def private_key(self) -> PrivateKeyTypes | None:
        """The private key object (loaded now, kept nowhere), or None if there is none or it fails."""
        if self.private_key_source is None:
            return None
        try:
            return self.private_key_source()
        except (ValueError, TypeError, UnsupportedAlgorithm, crypto.Error):
            return None

"""Read `(name, bytes)` inputs into what they hold: certificates, keys, CSRs and more.

Nothing here trusts a file name or touches the file system. Each input becomes an
`InputFile` with its `Item`s (one per PEM block or DER object) and file-level facts
(empty, binary, DER, UTF-16, too large, CRLF, ...). OpenSSL's own PEM reader, through
pyOpenSSL, is the judge of whether a block is readable, because OpenSSL is what reads
these files in stunnel and in the FIX client.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from OpenSSL import crypto

from bot.engine import certs, pem

# Larger files are not parsed at all (a real bundle is a few KiB; a CA store ~200 KiB).
MAX_FILE_BYTES = 1024 * 1024
# Past these the remaining inputs of one diagnosis are not read, and step 5 says so (an
# onboarding has seven files of a few KiB each).
MAX_FILES = 64
MAX_TOTAL_BYTES = 8 * 1024 * 1024
# Keys OpenSSL refuses to use (OPENSSL_RSA_MAX_MODULUS_BITS, OPENSSL_DSA_MAX_MODULUS_BITS):
# stunnel and the FIX client cannot use them either, so no later step does; step 5 says so.
MAX_KEY_BITS = {"RSA": 16384, "DSA": 10000}


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


class FileFormat(StrEnum):
    PEM = "pem"
    DER = "der"
    TEXT = "text"  # text without any PEM block (a config, a log, a note)
    BINARY = "binary"
    EMPTY = "empty"
    TOO_LARGE = "too-large"


class KeyFormat(StrEnum):
    PKCS8 = "pkcs8"  # "BEGIN PRIVATE KEY" (openssl genrsa in OpenSSL 3)
    PKCS1 = "pkcs1"  # "BEGIN RSA PRIVATE KEY" (OpenSSL 1.x, `openssl rsa -traditional`)
    SEC1 = "sec1"  # "BEGIN EC PRIVATE KEY"
    DSA = "dsa-legacy"
    ENCRYPTED_PKCS8 = "encrypted-pkcs8"
    ENCRYPTED_LEGACY = "encrypted-legacy"  # Proc-Type: 4,ENCRYPTED headers
    DER = "der"


@dataclass(frozen=True)
class PublicKeyInfo:
    """The public half of a key: enough to compare keys and describe them, never secret."""

    algorithm: str  # "RSA", "EC", "Ed25519", ...
    bits: int
    detail: str  # "RSA 4096", "EC prime256v1", ...
    spki_der: bytes
    # The public key object (public, so harmless), for facts computed only when asked.
    key: PublicKeyTypes = field(repr=False, compare=False)

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


@dataclass
class Item:
    """One object found in a file."""

    kind: Kind
    label: str  # the PEM label, or "DER"
    index: int  # position in the file, from 0
    first_line: int = 0
    problems: tuple[pem.PemProblem, ...] = ()
    openssl_error: str | None = None  # why OpenSSL refused it, when it did
    cert: x509.Certificate | None = None
    csr: x509.CertificateSigningRequest | None = None
    public_key: PublicKeyInfo | None = None
    key_format: KeyFormat | None = None
    # How to load the private key object, for the TLS handshake (step 4) only: it is
    # built on first use, in memory, and never rendered, logged or serialised.
    private_key_source: Callable[[], PrivateKeyTypes] | None = field(default=None, repr=False)
    too_large: str | None = None  # "RSA 65536": a key larger than OpenSSL uses (then kind is UNREADABLE)

    @property
    def private_key(self) -> PrivateKeyTypes | None:
        """The private key object (loaded now, kept nowhere), or None if there is none or it fails."""
        if self.private_key_source is None:
            return None
        try:
            return self.private_key_source()
        except (ValueError, TypeError, UnsupportedAlgorithm):
            return None


@dataclass
class InputFile:
    """One input: its name, size, format, items and file-level facts."""

    name: str
    size: int
    format: FileFormat
    items: list[Item] = field(default_factory=list)
    text: str | None = field(default=None, repr=False)  # decoded text, for config/log readers
    encoding_problem: str | None = None  # "utf-16", "bom", ...
    crlf: bool = False
    cr_only: bool = False
    text_outside_blocks: bool = False
    near_misses: tuple[pem.NearMiss, ...] = ()
    more_near_misses: int = 0  # past pem.MAX_NEAR_MISSES: counted, not listed
    truncated_at_limit: bool = False
    looks_like: str | None = None  # "stunnel-config", "stunnel-log" for text files
    mode: int | None = None  # st_mode as the front end read the file (CLI only); None: not known

    def of_kind(self, *kinds: Kind) -> list[Item]:
        return [i for i in self.items if i.kind in kinds]

    @property
    def certificates(self) -> list[x509.Certificate]:
        return [i.cert for i in self.items if i.cert is not None]

    @property
    def kinds(self) -> tuple[str, ...]:
        """Distinct kinds of content, in order of first appearance (for the JSON report)."""
        seen: dict[str, None] = {}
        for item in self.items:
            seen.setdefault(item.kind.value, None)
        if not self.items and self.looks_like:
            seen[self.looks_like] = None
        return tuple(seen)


def read_file(name: str, data: bytes) -> InputFile:
    """Turn one input into an `InputFile`; never raises for any bytes."""
    if len(data) > MAX_FILE_BYTES:
        return InputFile(name, len(data), FileFormat.TOO_LARGE)
    if not data.strip():
        return InputFile(name, len(data), FileFormat.EMPTY)
    text, encoding_problem = _decode_text(data)
    if text is None:
        der = _read_der(data)
        if der is not None:
            der = _within_key_limits(der)
            return InputFile(name, len(data), FileFormat.DER, items=[der])
        return InputFile(name, len(data), FileFormat.BINARY)
    scan = pem.scan(text)
    items = [_within_key_limits(_read_block(block, n)) for n, block in enumerate(scan.blocks)]
    if encoding_problem == "utf-16":
        # We can read it, OpenSSL cannot: nothing in it counts, as for OpenSSL.
        items = [Item(Kind.UNREADABLE, i.label, i.index, i.first_line, openssl_error="UTF-16 text") for i in items]
    fmt = FileFormat.PEM if items else FileFormat.TEXT
    return InputFile(
        name,
        len(data),
        fmt,
        items=items,
        text=text,
        encoding_problem=encoding_problem,
        crlf=scan.crlf,
        cr_only=scan.cr_only,
        text_outside_blocks=scan.text_outside_blocks,
        near_misses=tuple(scan.near_misses),
        more_near_misses=scan.more_near_misses,
        truncated_at_limit=scan.truncated_at_limit,
        looks_like=None if items or scan.near_misses else _guess_text_kind(text),
    )


def _decode_text(data: bytes) -> tuple[str | None, str | None]:
    """Decode as text if it is text. Returns (text, problem) or (None, None) for binary."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Windows PowerShell's `>` writes UTF-16: OpenSSL cannot read it at all.
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            return None, None
    problem = None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        problem = "bom"
    if b"\x00" in data:
        return None, None
    # Control bytes other than whitespace mean binary; counted in C, not per character.
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if controls > max(2, len(data) // 100):
        return None, None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text, problem


_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\r\n\t\f\v")

_STUNNEL_OPTION = re.compile(
    r"^\s*(client|accept|connect|cert|key|CAfile|CApath|verifyChain|verifyPeer|checkHost|foreground|pid|sni)\s*=",
    re.IGNORECASE | re.MULTILINE,
)
_STUNNEL_LOG = re.compile(
    r"(LOG\d\[|stunnel \d+\.\d+ on |Configuration successful|Configuration failed|SSL_connect:|SSL_accept:|"
    r"SSL_read:|s_connect: |CERT: Pre-verification error|^\[[!:.]\] (?:Reading configuration|Binding service))",
    re.MULTILINE,
)


def _guess_text_kind(text: str) -> str | None:
    if re.fullmatch(r"\s*[0-9A-Fa-f]{2,64}\s*", text):
        return "openssl-serial"  # ca.srl, left by -CAcreateserial
    if _STUNNEL_LOG.search(text):
        return "stunnel-log"
    if len(_STUNNEL_OPTION.findall(text)) >= 2:
        return "stunnel-config"
    return None


def _within_key_limits(item: Item) -> Item:
    """An item whose key is larger than OpenSSL will use becomes unreadable, and says why."""
    info = item.public_key
    limit = MAX_KEY_BITS.get(info.algorithm) if info is not None else None
    if info is None or limit is None or info.bits <= limit:
        return item
    item.kind = Kind.UNREADABLE
    item.too_large = info.detail
    item.openssl_error = f"{info.detail}-bit key: larger than the {limit} bits OpenSSL uses"
    item.cert = item.csr = item.public_key = None
    item.private_key_source = None
    return item


def _read_block(block: pem.PemBlock, index: int) -> Item:
    label = block.label
    item = Item(Kind.UNREADABLE, label, index, first_line=block.first_line, problems=block.problems)
    if block.body is None or pem.PemProblem.NO_END in block.problems or pem.PemProblem.END_MISMATCH in block.problems:
        return item
    encrypted_legacy = any(k == "Proc-Type" and "ENCRYPTED" in v for k, v in block.headers)
    if label in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"):
        return _read_certificate(item, block)
    if label == "ENCRYPTED PRIVATE KEY" or encrypted_legacy:
        item.kind = Kind.ENCRYPTED_KEY
        item.key_format = KeyFormat.ENCRYPTED_PKCS8 if label == "ENCRYPTED PRIVATE KEY" else KeyFormat.ENCRYPTED_LEGACY
        return item
    if label in ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY"):
        return _read_private_key(item, block)
    if label in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"):
        try:
            item.csr = x509.load_der_x509_csr(block.body)
        except ValueError as exc:
            item.openssl_error = _short(exc)
            return item
        item.kind = Kind.CSR
        item.public_key = _csr_public_info(item.csr)
        return item
    if label in ("PUBLIC KEY", "RSA PUBLIC KEY"):
        item.kind = Kind.PUBLIC_KEY
        return item
    if label.endswith("PARAMETERS"):
        item.kind = Kind.PARAMETERS
        return item
    item.kind = Kind.OTHER_PEM
    return item


def _read_certificate(item: Item, block: pem.PemBlock) -> Item:
    try:
        # OpenSSL's reader decides whether the block is readable at all.
        openssl_cert = crypto.load_certificate(crypto.FILETYPE_PEM, block.text.encode("ascii", "replace"))
    except crypto.Error as exc:
        item.openssl_error = _openssl_reason(exc)
        return item
    try:
        cert = _fields_parsed(openssl_cert.to_cryptography())
        certs.remember_openssl_x509(cert, openssl_cert)
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion) as exc:
        item.openssl_error = "malformed certificate fields: " + _short(exc)
        return item
    item.cert = cert
    item.kind = Kind.CERTIFICATE
    item.public_key = _cert_public_info(item.cert)
    return item


def _fields_parsed(cert: x509.Certificate) -> x509.Certificate:
    """`cert`, once the fields the steps read have been parsed (or a ValueError & co. raised).

    `cryptography` parses names, dates and the version lazily, and more strictly than
    OpenSSL: parse them here, so that no later step meets a field it cannot read.
    """
    _ = (cert.version, certs.subject(cert), certs.issuer(cert), cert.serial_number)
    _ = (cert.not_valid_before_utc, cert.not_valid_after_utc)
    return cert


def _read_private_key(item: Item, block: pem.PemBlock) -> Item:
    item.key_format = {
        "PRIVATE KEY": KeyFormat.PKCS8,
        "RSA PRIVATE KEY": KeyFormat.PKCS1,
        "EC PRIVATE KEY": KeyFormat.SEC1,
        "DSA PRIVATE KEY": KeyFormat.DSA,
    }[block.label]
    pem_bytes = block.text.encode("ascii", "replace")
    try:
        # OpenSSL's own reader judges the key; cryptography gives its public half (the
        # private object is dropped at once and made again only for a handshake).
        crypto.load_privatekey(crypto.FILETYPE_PEM, pem_bytes, passphrase=_no_passphrase)
        public = _load_private(pem_bytes).public_key()
    except (crypto.Error, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        item.openssl_error = _openssl_reason(exc)
        return item
    item.kind = Kind.PRIVATE_KEY
    item.public_key = _public_info(public)
    item.private_key_source = lambda: _load_private(pem_bytes)
    return item


def _load_private(pem_bytes: bytes) -> PrivateKeyTypes:
    # Without cryptography's RSA consistency check (~260 ms for 4096 bits): OpenSSL has
    # already read the key, and the guide only ever compares public halves.
    return serialization.load_pem_private_key(pem_bytes, password=None, unsafe_skip_rsa_key_validation=True)


def _read_der(data: bytes) -> Item | None:
    """Recognise a DER certificate, private key or CSR (as Windows tools export them)."""
    if not data.startswith(b"\x30"):
        return None
    try:
        cert = _fields_parsed(x509.load_der_x509_certificate(data))
        return Item(Kind.CERTIFICATE, "DER", 0, cert=cert, public_key=_cert_public_info(cert))
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion):
        pass
    try:
        key = serialization.load_der_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
        return Item(
            Kind.PRIVATE_KEY,
            "DER",
            0,
            key_format=KeyFormat.DER,
            private_key_source=lambda: key,
            public_key=_public_info(key.public_key()),
        )
    except TypeError:
        return Item(Kind.ENCRYPTED_KEY, "DER", 0, key_format=KeyFormat.DER)
    except (ValueError, UnsupportedAlgorithm):
        pass  # not a DER key: try a CSR next
    try:
        csr = x509.load_der_x509_csr(data)
        return Item(Kind.CSR, "DER", 0, csr=csr, public_key=_csr_public_info(csr))
    except ValueError:
        return None


def _no_passphrase(_writing: bool) -> bytes:
    # An unencrypted key never asks; an encrypted one fails cleanly instead of prompting.
    return b""


def _cert_public_info(cert: x509.Certificate) -> PublicKeyInfo | None:
    try:
        return _public_info(cert.public_key())
    except (ValueError, Exception):  # noqa: BLE001 - unsupported key types stay unknown
        return None


def _csr_public_info(csr: x509.CertificateSigningRequest) -> PublicKeyInfo | None:
    try:
        return _public_info(csr.public_key())
    except (ValueError, UnsupportedAlgorithm):  # an unknown or malformed key: still a CSR
        return None


def _public_info(key: PublicKeyTypes) -> PublicKeyInfo:
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
    return PublicKeyInfo(type(key).__name__, 0, type(key).__name__, spki, key)


def _curve_name(name: str) -> str:
    # OpenSSL calls secp256r1 "prime256v1"; people read it in `openssl` output that way.
    return {"secp256r1": "prime256v1 (P-256)", "secp384r1": "secp384r1 (P-384)", "secp521r1": "secp521r1 (P-521)"}.get(
        name, name
    )


def _openssl_reason(exc: Exception) -> str:
    if isinstance(exc, crypto.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        parts = [str(e[-1]) for e in exc.args[0] if isinstance(e, tuple) and e]
        if parts:
            return "; ".join(dict.fromkeys(parts))
    return _short(exc)


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]

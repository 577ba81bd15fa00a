"""Did the user share key material? A raw-byte scan of everything that came through Slack.

Independent of the engine on purpose: the engine reads at most its first inputs, only
the formats it diagnoses, and only files that look like onboarding material, while the
warning that a key is compromised must cover every byte the user shared (a PKCS#12
bundle, an OpenSSH key, a key pasted after 64 certificates, a DER key, a key in a file
the bot did not read). The scan only answers "is there a private key in here": it never
keeps, logs or returns any of the bytes.

    exposure.scan("id_ed25519", data)   # -> "an OpenSSH private key" or None
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_der_private_key

# (what it is, pattern over the raw bytes): PEM armour of any private-key label, in any case,
# with any line breaks or escapes around it, and the other text formats keys travel in.
TEXT_MARKERS: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("an OpenSSH private key", re.compile(rb"BEGIN OPENSSH PRIVATE KEY", re.IGNORECASE)),
    ("an encrypted private key", re.compile(rb"BEGIN ENCRYPTED PRIVATE KEY", re.IGNORECASE)),
    # Any label: RSA, EC, DSA, ANY, SSH2 ENCRYPTED, X9.42 DH, PGP … (spaces also form- or URL-encoded).
    ("a private key", re.compile(rb"BEGIN(?:[ +]|%20)[^\n\-]{0,40}?PRIVATE(?:[ +]|%20)KEY", re.IGNORECASE)),
    ("a PuTTY private key", re.compile(rb"PuTTY-User-Key-File-\d")),
    ("a PKCS#12 bundle", re.compile(rb"BEGIN PKCS12", re.IGNORECASE)),
)
# File names that are key material whatever they hold (checked for files the bot did not read too).
KEY_FILE_NAMES = re.compile(
    r"(?:\.(?:p12|pfx|ppk|jks|keystore|bcfks|pk8|p8|key)|(?:^|/)id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?)$", re.IGNORECASE
)
JAVA_KEYSTORE_MAGIC = (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce")  # JKS, JCEKS
_PFX_OID = bytes.fromhex("06092a864886f70d0107")  # pkcs7-data / pkcs7-signedData, inside a PFX's authSafe
# Lines of base64 (the last one may be short), as pasted, JSON-escaped or in a YAML value.
_B64_BLOB = re.compile(rb"(?:[A-Za-z0-9+/]{16,}(?:\r?\n|\\n)?){4,}[A-Za-z0-9+/]{0,16}={0,2}")
# Slack quotes with `> ` (sent as `&gt; `): a key body quoted line by line, with no BEGIN line.
_QUOTE_PREFIX = re.compile(rb"(?m)^[ \t]*(?:&gt;|>)[ \t]?")
# A JSON Web Key with its private part: `"kty"` and a `"d"` (the private exponent / scalar).
_JWK_KTY = re.compile(rb'"kty"\s*:\s*"(?:RSA|EC|OKP)"')
_JWK_D = re.compile(rb'"d"\s*:\s*"[A-Za-z0-9_\-]{16,}')
MAX_DER_ELEMENTS = 16  # top-level DER elements tried in one file (a certificate, then a key …)
MAX_BLOBS = 64  # base64 runs tried as DER keys per input: enough for any real paste, bounded for a flood


def scan(name: str, data: bytes) -> str | None:
    """What kind of key material `data` (shared as `name`) holds, or None."""
    for what, marker in TEXT_MARKERS:
        if marker.search(data):
            return what
    if _is_pkcs12(data):
        return "a PKCS#12 bundle"
    if data.startswith(JAVA_KEYSTORE_MAGIC):
        return "a Java keystore"
    if any(_der_key(element) for element in _der_elements(data)):
        return "a private key (DER)"
    if _JWK_KTY.search(data) and _JWK_D.search(data):
        return "a private key (JWK)"
    found = _in_base64(data) or _in_base64(_QUOTE_PREFIX.sub(b"", data[:MAX_QUOTED]))
    if found:
        return found
    if KEY_FILE_NAMES.search(name):
        return "a key file"
    return None


MAX_QUOTED = 256 * 1024  # bytes of a message re-read without its quote marks


def _in_base64(data: bytes) -> str | None:
    """Key material inside a base64 run: DER (PKCS#8, PKCS#1, SEC1, PFX) or a whole PEM (a Kubernetes `tls.key`)."""
    for n, m in enumerate(_B64_BLOB.finditer(data)):
        if n >= MAX_BLOBS:
            break
        blob = re.sub(rb"\\n|\s", b"", m.group(0))
        try:
            decoded = base64.b64decode(blob + b"=" * (-len(blob) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if _is_pkcs12(decoded) or _der_key(decoded):
            return "a private key (base64 DER)"
        if any(marker.search(decoded) for _what, marker in TEXT_MARKERS):
            return "a private key (base64 PEM)"
    return None


def _der_elements(data: bytes) -> list[bytes]:
    """The top-level DER elements of `data` in order (a certificate followed by a key is two)."""
    elements: list[bytes] = []
    at = 0
    while at < len(data) and len(elements) < MAX_DER_ELEMENTS and data[at] == 0x30:
        end = _der_end(data, at)
        if end is None:
            break
        elements.append(data[at:end])
        at = end
    return elements or [data]


def _der_end(data: bytes, at: int) -> int | None:
    """Where the DER element starting at `at` ends (definite lengths only), or None."""
    if at + 2 > len(data):
        return None
    first = data[at + 1]
    if first < 0x80:
        return at + 2 + first
    count = first & 0x7F
    if not 1 <= count <= 4 or at + 2 + count > len(data):
        return None
    length = int.from_bytes(data[at + 2 : at + 2 + count], "big")
    end = at + 2 + count + length
    return end if end <= len(data) else None


def exposed(shared: Iterable[tuple[str, bytes]]) -> list[str]:
    """The names of the shared inputs that hold key material, in order, once each."""
    return list(dict.fromkeys(name for name, data in shared if scan(name, data) is not None))


def key_file_names(names: Iterable[str]) -> list[str]:
    """Names that are key files by their name alone (files the bot did not download)."""
    return [n for n in names if KEY_FILE_NAMES.search(n)]


def _is_pkcs12(data: bytes) -> bool:
    """A DER PFX: SEQUENCE { INTEGER 3, ContentInfo { pkcs7-data | signedData … } … }."""
    if len(data) < 24 or data[0] != 0x30:
        return False
    head = data[:32]
    return b"\x02\x01\x03\x30" in head[:10] and _PFX_OID in head


def _der_key(data: bytes) -> bool:
    """A DER private key (PKCS#8, PKCS#1, SEC1; encrypted PKCS#8 too: it asks for a password)."""
    if len(data) < 32 or data[0] != 0x30 or len(data) > 64 * 1024:
        return False
    try:
        load_der_private_key(data, None)
    except TypeError:
        return True  # "password was not given but private key is encrypted"
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True

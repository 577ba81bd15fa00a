"""Read one certificate, key or CSR as OpenSSL does, then as `cryptography` does.

OpenSSL is the judge: stunnel and the FIX client read these files with it, and the
guide's "see it yourself" commands run it. Where OpenSSL reads an object, so do we,
whatever `cryptography` (stricter, and used for the facts the steps read) thinks of it.
When `cryptography` refuses an object OpenSSL reads, the item keeps OpenSSL's view
(its `x509` object, its public key) and records the refusal in `strict_error`, which
step 5 reports as a warning: other software may refuse the object as well.
"""

from __future__ import annotations

import typing

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from OpenSSL import crypto

from bot.engine import certs, pem
from bot.engine.items import Item, KeyFormat, Kind
from bot.engine.keyinfo import PublicKeyInfo, openssl_public_info, public_info

_CERT_LABELS = ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")
_KEY_FORMATS = {
    "PRIVATE KEY": KeyFormat.PKCS8,
    "RSA PRIVATE KEY": KeyFormat.PKCS1,
    "EC PRIVATE KEY": KeyFormat.SEC1,
    "DSA PRIVATE KEY": KeyFormat.DSA,
}
_CSR_LABELS = ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")


def read_block(block: pem.PemBlock, index: int) -> Item:
    """The item one PEM block holds; never raises."""
    label = block.label
    item = Item(Kind.UNREADABLE, label, index, first_line=block.first_line, problems=block.problems)
    if not _plays_a_part(label):
        # A CRL, PKCS#7, PGP or SSH2 block: no step reads it, so its body is not judged
        # (a PGP armour's checksum line is not base64, and that is not damage).
        item.kind = Kind.OTHER_PEM
        return item
    if label == "OPENSSH PRIVATE KEY":
        # Not for OpenSSL in any case; a secret even when cut short, so its kind stands.
        item.kind = Kind.OPENSSH_KEY
        return item
    if block.body is None or pem.PemProblem.NO_END in block.problems or pem.PemProblem.END_MISMATCH in block.problems:
        return item
    encrypted_legacy = any(k == "Proc-Type" and "ENCRYPTED" in v for k, v in block.headers)
    data = block.text.encode("ascii", "replace")
    if label == "TRUSTED CERTIFICATE":
        # OpenSSL's "trusted" form: the certificate's DER followed by its trust settings.
        # `openssl x509` reads it; pyOpenSSL's PEM reader does not, its DER reader takes
        # the certificate and leaves the trust settings, which play no part here.
        return read_certificate(item, block.body, crypto.FILETYPE_ASN1)
    if label in _CERT_LABELS:
        return read_certificate(item, data, crypto.FILETYPE_PEM)
    if label == "ENCRYPTED PRIVATE KEY" or encrypted_legacy:
        item.kind = Kind.ENCRYPTED_KEY
        item.key_format = KeyFormat.ENCRYPTED_PKCS8 if label == "ENCRYPTED PRIVATE KEY" else KeyFormat.ENCRYPTED_LEGACY
        return item
    if label in _KEY_FORMATS:
        item.key_format = _KEY_FORMATS[label]
        return read_private_key(item, data, crypto.FILETYPE_PEM)
    if label in _CSR_LABELS:
        return read_csr(item, block.body)
    if label in ("PUBLIC KEY", "RSA PUBLIC KEY"):
        item.kind = Kind.PUBLIC_KEY
        return item
    item.kind = Kind.PARAMETERS
    return item


def _plays_a_part(label: str) -> bool:
    """A label some step reads: certificates, keys, CSRs, public keys, parameters."""
    return (
        label in _CERT_LABELS
        or label in _KEY_FORMATS
        or label in _CSR_LABELS
        or label in ("ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY", "PUBLIC KEY", "RSA PUBLIC KEY")
        or label.endswith("PARAMETERS")
    )


def read_der(data: bytes) -> Item | None:
    """A DER certificate, private key or CSR (as Windows tools export them), or None."""
    if not data.startswith(b"\x30"):
        return None
    item = read_certificate(Item(Kind.UNREADABLE, "DER", 0), data, crypto.FILETYPE_ASN1)
    if item.kind is Kind.CERTIFICATE:
        return item
    item = read_private_key(Item(Kind.UNREADABLE, "DER", 0, key_format=KeyFormat.DER), data, crypto.FILETYPE_ASN1)
    if item.kind is Kind.PRIVATE_KEY:
        return item
    try:
        serialization.load_der_private_key(data, password=None)
    except TypeError:  # "password was not given but private key is encrypted"
        return Item(Kind.ENCRYPTED_KEY, "DER", 0, key_format=KeyFormat.DER)
    except (ValueError, UnsupportedAlgorithm):
        pass  # not a DER key: try a CSR next
    item = read_csr(Item(Kind.UNREADABLE, "DER", 0), data)
    return item if item.kind is Kind.CSR else None


def read_certificate(item: Item, data: bytes, filetype: int) -> Item:
    try:
        certs.clear_openssl_errors()
        openssl_cert = crypto.load_certificate(filetype, data)
    except crypto.Error as exc:
        item.openssl_error = openssl_reason(exc)
        return item
    item.kind, item.openssl_cert = Kind.CERTIFICATE, openssl_cert
    try:
        cert = _fields_parsed(openssl_cert.to_cryptography())
    except Exception as exc:  # noqa: BLE001 - any refusal of cryptography's: OpenSSL's reading stands
        item.strict_error = defect(exc)
        item.public_key = _openssl_key_of(openssl_cert)
        return item
    certs.remember_openssl_x509(cert, openssl_cert)
    item.cert = cert
    item.public_key = _cert_public_info(cert) or _openssl_key_of(openssl_cert)
    item.strict_error = _extensions_defect(cert)
    return item


def _fields_parsed(cert: x509.Certificate) -> x509.Certificate:
    """`cert`, once the fields the steps read have been parsed (or an exception raised).

    `cryptography` parses names, dates and the version lazily, and more strictly than
    OpenSSL: parse them here, so that no later step meets a field it cannot read.
    """
    _ = (cert.version, certs.subject(cert), certs.issuer(cert), cert.serial_number)
    _ = (cert.not_valid_before_utc, cert.not_valid_after_utc)
    return cert


def _extensions_defect(cert: x509.Certificate) -> str | None:
    """What `cryptography` cannot parse in the extensions (a duplicate, an odd name type)."""
    try:
        _ = cert.extensions
    except Exception as exc:  # noqa: BLE001 - DuplicateExtension, UnsupportedGeneralNameType, ValueError...
        return defect(exc)
    return None


def _openssl_key_of(openssl_cert: crypto.X509) -> PublicKeyInfo | None:
    try:
        return openssl_public_info(openssl_cert.get_pubkey())
    except (crypto.Error, ValueError, TypeError):  # e.g. DSA parameters inherited from the issuer
        return None


def _cert_public_info(cert: x509.Certificate) -> PublicKeyInfo | None:
    try:
        return public_info(cert.public_key())
    except Exception:  # noqa: BLE001 - unsupported or malformed keys: OpenSSL's view is tried next
        return None


def read_private_key(item: Item, data: bytes, filetype: int) -> Item:
    """OpenSSL's reader judges the key; the public half is all that is kept.

    The private object is dropped at once and made again only for a handshake.
    """
    try:
        # The empty passphrase: an unencrypted key never asks; an encrypted one fails
        # cleanly instead of prompting.
        certs.clear_openssl_errors()
        openssl_key = crypto.load_privatekey(filetype, data, passphrase=_empty(filetype))
    except crypto.Error as exc:
        item.openssl_error = openssl_reason(exc)
        return item
    item.kind = Kind.PRIVATE_KEY
    try:
        item.public_key = public_info(_load_private(data, filetype).public_key())
        item.private_key_source = lambda: _load_private(data, filetype)
    except Exception as exc:  # noqa: BLE001 - cryptography refuses what OpenSSL read: keep OpenSSL's view
        item.strict_error = defect(exc)
        item.public_key = _openssl_public_of_private(openssl_key)
        item.private_key_source = lambda: _openssl_private(data, filetype)
    del openssl_key
    return item


def _openssl_public_of_private(openssl_key: crypto.PKey) -> PublicKeyInfo | None:
    try:
        return openssl_public_info(openssl_key)
    except (crypto.Error, ValueError, TypeError):
        return None


def _load_private(data: bytes, filetype: int) -> PrivateKeyTypes:
    # Without cryptography's RSA consistency check (~260 ms for 4096 bits): OpenSSL has
    # already read the key, and the guide only ever compares public halves.
    load = serialization.load_pem_private_key if filetype == crypto.FILETYPE_PEM else serialization.load_der_private_key
    return load(data, password=None, unsafe_skip_rsa_key_validation=True)


def _openssl_private(data: bytes, filetype: int) -> PrivateKeyTypes:
    """The key as OpenSSL re-encodes it, for a handshake when cryptography refused the original."""
    key = crypto.load_privatekey(filetype, data, passphrase=_empty(filetype)).to_cryptography_key()
    return typing.cast(PrivateKeyTypes, key)  # a private PKey converts to a private key


def read_csr(item: Item, der: bytes) -> Item:
    """A CSR. pyOpenSSL no longer reads CSRs, so when `cryptography` refuses one for its
    version field alone (`openssl req` reads any version), a copy with version 0 is read
    for its public key and subject; the refusal is kept as the item's `strict_error`."""
    try:
        csr = x509.load_der_x509_csr(der)
        item.public_key = public_info(csr.public_key())
        item.kind, item.csr = Kind.CSR, csr
        return item
    except Exception as exc:  # noqa: BLE001 - InvalidVersion, UnsupportedAlgorithm, ValueError...
        refusal = defect(exc)
    try:
        public = x509.load_der_x509_csr(_version_zero(der)).public_key()
    except Exception:  # noqa: BLE001 - not only the version is wrong: OpenSSL's verdict is unknown, say unreadable
        item.openssl_error = refusal
        return item
    item.kind, item.strict_error = Kind.CSR, refusal
    item.public_key = public_info(public)
    return item


def _version_zero(der: bytes) -> bytes:
    """`der` with the CertificationRequestInfo's one-byte version set to 0 (v1)."""
    info = _content_start(der, 0)
    version = _content_start(der, info)  # the version INTEGER is the info's first element
    if der[info] != 0x30 or der[version : version + 2] != b"\x02\x01":
        raise ValueError("not a CSR with a one-byte version")
    return der[: version + 2] + b"\x00" + der[version + 3 :]


def _content_start(der: bytes, pos: int) -> int:
    """Where the content of the DER element at `pos` begins (after its tag and length)."""
    first = der[pos + 1]
    return pos + 2 + (first & 0x7F if first & 0x80 else 0)


def _empty(filetype: int) -> bytes | None:
    # pyOpenSSL takes a passphrase only for PEM (a DER key is never encrypted in its reader).
    return b"" if filetype == crypto.FILETYPE_PEM else None


def defect(exc: BaseException) -> str:
    """What `cryptography` refused, in one line: its exception's name and message."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


def openssl_reason(exc: Exception) -> str:
    if isinstance(exc, crypto.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        parts = [str(e[-1]) for e in exc.args[0] if isinstance(e, tuple) and e]
        if parts:
            return "; ".join(dict.fromkeys(parts))
    return defect(exc)

"""Read `(name, bytes)` inputs into what they hold: certificates, keys, CSRs and more.

Nothing here trusts a file name or touches the file system. Each input becomes an
`InputFile` with its `Item`s (one per PEM block or DER object) and file-level facts
(empty, binary, DER, UTF-16, too large, CRLF, ...). OpenSSL's own PEM reader, through
pyOpenSSL, is the judge of whether a block is readable, because OpenSSL is what reads
these files in stunnel and in the FIX client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography import x509

from bot.engine import containers, objects, pem
from bot.engine.items import Item, KeyFormat, Kind
from bot.engine.keyinfo import PublicKeyInfo

# Re-exported: the steps and front ends import these from here.
__all__ = ["Item", "KeyFormat", "Kind", "PublicKeyInfo"]

# Larger files are not parsed at all (a real bundle is a few KiB; a CA store ~200 KiB).
MAX_FILE_BYTES = 1024 * 1024
# Past these the remaining inputs of one diagnosis are not read, and step 5 says so (an
# onboarding has seven files of a few KiB each).
MAX_FILES = 64
MAX_TOTAL_BYTES = 8 * 1024 * 1024
# Keys OpenSSL refuses to use (OPENSSL_RSA_MAX_MODULUS_BITS, OPENSSL_DSA_MAX_MODULUS_BITS):
# stunnel and the FIX client cannot use them either, so no later step does; step 5 says so.
MAX_KEY_BITS = {"RSA": 16384, "DSA": 10000}


class FileFormat(StrEnum):
    PEM = "pem"
    DER = "der"
    TEXT = "text"  # text without any PEM block (a config, a log, a note)
    BINARY = "binary"
    PKCS12 = "pkcs12"  # a .p12/.pfx container
    EMPTY = "empty"
    TOO_LARGE = "too-large"


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
    internal_error: str | None = None  # reading failed unexpectedly (the exception's class name)

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
    if text is None and (data.startswith(b"-----BEGIN ") or b"\n-----BEGIN " in data):
        # OpenSSL reads PEM blocks line by line whatever surrounds them (NUL padding, a
        # binary blob appended): so do we; the bytes around are text outside the blocks.
        text = data.decode("latin-1")
    if text is None:
        container = containers.read_pkcs12(data)
        if container is not None:
            return InputFile(name, len(data), FileFormat.PKCS12, items=[_within_key_limits(i) for i in container])
        der = objects.read_der(data)
        if der is not None:
            der = _within_key_limits(der)
            return InputFile(name, len(data), FileFormat.DER, items=[der])
        return InputFile(name, len(data), FileFormat.BINARY)
    scan = pem.scan(text)
    items = [_within_key_limits(objects.read_block(block, n)) for n, block in enumerate(scan.blocks)]
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
    item.cert = item.csr = item.public_key = item.openssl_cert = None
    item.private_key_source = None
    return item



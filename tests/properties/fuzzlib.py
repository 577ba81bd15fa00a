"""Shared by the property tests and `bench/fuzz.py`: a PEM corpus, mutators and the invariants.

The corpus is made at run time with the real openssl CLI (`bot.lab.onboarding`), never
committed. Every mutator takes `pick(lo, hi)` (an inclusive random integer), so the
same mutators run under hypothesis (`data.draw(st.integers(lo, hi))`, shrinkable) and
under a seeded `random.Random` loop (`rng.randint`) in the long fuzz run.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.cli.render import render_markdown, render_text
from bot.engine import Report, Status, diagnose
from bot.engine.inputs import MAX_FILE_BYTES, FileFormat, Kind, read_file
from bot.lab.onboarding import make_client, make_server, openssl

Pick = Callable[[int, int], int]


def examples(n: int) -> int:
    """`n` examples, times FIXCHECK_PROPERTY_SCALE (default 1) for longer local runs."""
    return max(1, int(n * float(os.environ.get("FIXCHECK_PROPERTY_SCALE", "1"))))

STEP_NUMBERS = list(range(1, 9))
VALID_STATUSES = {s.value for s in Status}

# Names a user gives files: the guide's, the newer onboarding's, and odd ones.
NAMES = (
    "fix.itbit.pem",
    "ca.crt",
    "ca.key",
    "host.crt",
    "host.key",
    "host.csr",
    "itbit-ca.pem",
    "sandbox.itbitprod.pem",
    "exchange_ACME_certificate.crt",
    "private.key",
    "stunnel.conf",
    "server.pem",
    "ca.srl",
    "notes.txt",
    "file",
    "",
    "../../etc/passwd",
    "`*_~<>|.pem",
    "ñame with spaces.PEM",
)

LABELS = (
    "CERTIFICATE",
    "TRUSTED CERTIFICATE",
    "X509 CERTIFICATE",
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "DSA PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "CERTIFICATE REQUEST",
    "NEW CERTIFICATE REQUEST",
    "PUBLIC KEY",
    "RSA PUBLIC KEY",
    "EC PARAMETERS",
    "X509 CRL",
    "PKCS7",
    "FOO",
)

# Unicode look-alikes of '-' (hyphen, non-breaking hyphen, figure dash, en dash, em dash,
# horizontal bar, minus sign, small/full-width hyphen-minus) and of the space.
LOOKALIKE_DASHES = ("\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe58", "\ufe63", "\uff0d")
ODD_CHARS = ("!", "@", "#", "$", "%", "*", "~", "é", "\u00a0", "\u200b", "…", ".", "-", "_", ":", "\t", " ", "\x00", "\x7f")
WHITESPACE = (" ", "  ", "\t", "\u00a0", "\r", "\f", "\v", "\n", "\r\n")

_MARKER = re.compile(rb"-----(BEGIN|END) ([A-Z0-9 ]+)-----")


# --------------------------------------------------------------------------- corpus


@dataclass
class Corpus:
    """Real onboarding files (name -> bytes) and every private key line that must never leak."""

    files: dict[str, bytes]
    key_files: dict[str, bytes]
    secret_lines: frozenset[str] = field(default_factory=frozenset)

    @property
    def names(self) -> list[str]:
        return sorted(self.files)


def build_corpus(folder: Path) -> Corpus:
    """The guide's files and the exchange's, plus a few other forms, made with the openssl CLI."""
    client = make_client(folder / "client")
    server = make_server(folder / "exchange")
    extra = folder / "extra"
    extra.mkdir(parents=True, exist_ok=True)
    c = client.folder
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.key", cwd=extra)
    openssl("req", "-new", "-x509", "-key", "ec.key", "-out", "ec.crt", "-days", "30", "-subj", "/CN=ec-host", cwd=extra)
    openssl("genpkey", "-algorithm", "ed25519", "-out", "ed.key", cwd=extra)
    openssl("rsa", "-in", str(c / "host.key"), "-traditional", "-out", "host.pkcs1.key", cwd=extra)
    openssl("ec", "-in", "ec.key", "-out", "ec.sec1.key", cwd=extra)
    openssl("pkey", "-in", str(c / "host.key"), "-aes256", "-passout", "pass:secret", "-out", "host.enc.key", cwd=extra)
    openssl("rsa", "-in", str(c / "host.key"), "-aes128", "-traditional", "-passout", "pass:secret", "-out", "host.enc1.key", cwd=extra)
    openssl("x509", "-in", str(c / "host.crt"), "-outform", "DER", "-out", "host.der", cwd=extra)
    openssl("pkey", "-in", str(c / "host.key"), "-outform", "DER", "-out", "host.key.der", cwd=extra)
    openssl("pkey", "-in", str(c / "host.key"), "-pubout", "-out", "host.pub", cwd=extra)

    files = {
        "fix.itbit.pem": client.bundle.read_bytes(),
        "ca.crt": client.ca_crt.read_bytes(),
        "ca.key": client.ca_key.read_bytes(),
        "host.crt": client.host_crt.read_bytes(),
        "host.key": client.host_key.read_bytes(),
        "host.csr": client.host_csr.read_bytes(),
        "itbit-ca.pem": server.ca_pem.read_bytes(),
        "server.crt": server.crt.read_bytes(),
        "key-first.pem": client.host_key.read_bytes() + client.host_crt.read_bytes(),
        "chain.pem": client.bundle.read_bytes() + client.ca_crt.read_bytes(),
        "ec.key": (extra / "ec.key").read_bytes(),
        "ec.crt": (extra / "ec.crt").read_bytes(),
        "ec.sec1.key": (extra / "ec.sec1.key").read_bytes(),
        "ed.key": (extra / "ed.key").read_bytes(),
        "host.pkcs1.key": (extra / "host.pkcs1.key").read_bytes(),
        "host.enc.key": (extra / "host.enc.key").read_bytes(),
        "host.enc1.key": (extra / "host.enc1.key").read_bytes(),
        "host.der": (extra / "host.der").read_bytes(),
        "host.key.der": (extra / "host.key.der").read_bytes(),
        "host.pub": (extra / "host.pub").read_bytes(),
    }
    key_names = ("ca.key", "host.key", "ec.key", "ec.sec1.key", "ed.key", "host.pkcs1.key", "host.enc.key", "host.enc1.key")
    key_files = {n: files[n] for n in key_names}
    key_files["server-ca.key"] = server.ca_key.read_bytes()
    key_files["server.key"] = server.key.read_bytes()
    secrets: set[str] = set()
    for data in key_files.values():
        secrets.update(key_lines(data))
    # The DER key's bytes, as base64 lines, are the same secret in another form.
    secrets.update(key_lines(pem_wrap("PRIVATE KEY", files["host.key.der"])))
    return Corpus(files, key_files, frozenset(secrets))


def key_lines(pem_bytes: bytes, min_len: int = 16) -> list[str]:
    """The secret lines of a PEM key: every body line long enough not to occur by chance."""
    text = pem_bytes.decode("ascii", "replace")
    return [ln.strip() for ln in text.splitlines() if len(ln.strip()) >= min_len and not ln.startswith("-----") and ":" not in ln]


def pem_wrap(label: str, der: bytes) -> bytes:
    b64 = base64.b64encode(der).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode()


def private_key_lines_in(data: bytes, min_len: int = 24) -> list[str]:
    """Body lines inside any '... PRIVATE KEY' block of a (possibly mangled) input."""
    out: list[str] = []
    inside = False
    for raw in re.split(rb"\r\n|\r|\n", data):
        line = raw.decode("utf-8", "replace").strip()
        if "BEGIN" in line and "PRIVATE KEY" in line:
            inside = True
            continue
        if "-----" in line or "END" in line:
            inside = False
            continue
        if inside and len(line) >= min_len and ":" not in line:
            out.append(line)
    return out


# --------------------------------------------------------------------------- mutators


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _marker_lines(lines: list[bytes]) -> list[int]:
    return [n for n, ln in enumerate(lines) if ln.startswith(b"-----")]


def _choice(pick: Pick, seq: Sequence[str]) -> str:
    return seq[pick(0, len(seq) - 1)]


def bit_flip(data: bytes, pick: Pick) -> bytes:
    if not data:
        return data
    buf = bytearray(data)
    for _ in range(pick(1, 8)):
        pos = pick(0, len(buf) - 1)
        buf[pos] ^= 1 << pick(0, 7)
    return bytes(buf)


def truncate(data: bytes, pick: Pick) -> bytes:
    """Cut the file inside a BEGIN line, inside a body, inside an END line, between blocks, or anywhere."""
    if not data:
        return data
    markers = [m for m in _MARKER.finditer(data)]
    where = pick(0, 4)
    if where == 4 or not markers:
        return data[: pick(0, len(data))]
    if where in (0, 2):  # inside a BEGIN (0) or END (2) line
        wanted = b"BEGIN" if where == 0 else b"END"
        ms = [m for m in markers if m.group(1) == wanted] or markers
        m = ms[pick(0, len(ms) - 1)]
        return data[: pick(m.start(), m.end())]
    if where == 1:  # inside a body: between a BEGIN and the next marker
        begins = [n for n, m in enumerate(markers) if m.group(1) == b"BEGIN" and n + 1 < len(markers)]
        if not begins:
            return data[: pick(0, len(data))]
        n = begins[pick(0, len(begins) - 1)]
        return data[: pick(markers[n].end(), markers[n + 1].start())]
    # between blocks: right after an END line (with or without its newline)
    ends = [m for m in markers if m.group(1) == b"END"] or markers
    m = ends[pick(0, len(ends) - 1)]
    return data[: min(len(data), m.end() + pick(0, 1))]


def corrupt_base64(data: bytes, pick: Pick) -> bytes:
    lines = _lines(data)
    body = [n for n, ln in enumerate(lines) if ln and not ln.startswith(b"-----") and b":" not in ln]
    if not body:
        return bit_flip(data, pick)
    n = body[pick(0, len(body) - 1)]
    line = lines[n]
    op = pick(0, 6)
    pos = pick(0, max(0, len(line) - 1))
    if op == 0:  # a character that is not base64
        lines[n] = line[:pos] + _choice(pick, ODD_CHARS).encode() + line[pos + 1 :]
    elif op == 1:  # a dropped character
        lines[n] = line[:pos] + line[pos + 1 :]
    elif op == 2:  # padding in the middle
        lines[n] = line[:pos] + b"=" + line[pos:]
    elif op == 3:  # a dropped line
        del lines[n]
    elif op == 4:  # a duplicated line
        lines.insert(n, line)
    elif op == 5:  # a reflowed body (lines of another width)
        width = pick(1, 120)
        joined = b"".join(lines[i] for i in body)
        start, stop = body[0], body[-1]
        lines[start : stop + 1] = [joined[i : i + width] for i in range(0, len(joined), width)] or [b""]
    else:  # elided like the guide's examples
        lines[n] = line[:pos] + b"..." + line[pos:]
    return b"\n".join(lines)


def mangle_markers(data: bytes, pick: Pick) -> bytes:
    lines = _lines(data)
    marks = _marker_lines(lines)
    if not marks:
        return data
    n = marks[pick(0, len(marks) - 1)]
    line = lines[n]
    op = pick(0, 9)
    if op == 0 and len(marks) >= 2:  # swap two marker lines (BEGIN/END swapped)
        m = marks[pick(0, len(marks) - 1)]
        lines[n], lines[m] = lines[m], lines[n]
    elif op == 1:  # duplicate
        lines.insert(n, line)
    elif op == 2:  # delete
        del lines[n]
    elif op == 3:  # another label
        lines[n] = re.sub(rb"(BEGIN|END) [A-Z0-9 ]+-----", lambda m: m.group(1) + b" " + _choice(pick, LABELS).encode() + b"-----", line)
    elif op == 4:  # lower case
        lines[n] = line.lower()
    elif op == 5:  # wrong dash count
        k = pick(0, 9)
        lines[n] = re.sub(rb"^-+", b"-" * k, line)
    elif op == 6:  # trailing or leading text
        lines[n] = (b"  " + line) if pick(0, 1) else (line + b" x" if pick(0, 1) else line + b"   ")
    elif op == 7:  # no space between BEGIN and the label
        lines[n] = line.replace(b"BEGIN ", b"BEGIN").replace(b"END ", b"END")
    elif op == 8:  # an RFC 1421 header, as in legacy encrypted keys
        lines.insert(n + 1, b"Proc-Type: 4,ENCRYPTED" if pick(0, 1) else b"DEK-Info: AES-128-CBC,00")
    else:  # swap whole blocks
        ends = [m for m in marks if lines[m].startswith(b"-----END")]
        if len(ends) >= 2:
            cut = ends[pick(0, len(ends) - 2)] + 1
            lines = lines[cut:] + lines[:cut]
    return b"\n".join(lines)


def line_endings(data: bytes, pick: Pick) -> bytes:
    op = pick(0, 3)
    if op == 0:
        return data.replace(b"\n", b"\r\n")
    if op == 1:
        return data.replace(b"\n", b"\r")
    if op == 2:
        return data.replace(b"\n", b"\n\n")
    parts = data.split(b"\n")
    return b"".join(p + _choice(pick, ("\n", "\r\n", "\r", "\n\r")).encode() for p in parts[:-1]) + parts[-1]


def insert_whitespace(data: bytes, pick: Pick) -> bytes:
    lines = _lines(data)
    for _ in range(pick(1, 4)):
        n = pick(0, len(lines) - 1)
        ws = _choice(pick, WHITESPACE).encode()
        where = pick(0, 2)
        line = lines[n]
        lines[n] = ws + line if where == 0 else line + ws if where == 1 else line[: len(line) // 2] + ws + line[len(line) // 2 :]
    return b"\n".join(lines)


def lookalike_dashes(data: bytes, pick: Pick) -> bytes:
    text = data.decode("latin-1")
    positions = [m.start() for m in re.finditer("-", text)]
    if not positions:
        return data
    chars = list(text)
    for _ in range(pick(1, 10)):
        chars[positions[pick(0, len(positions) - 1)]] = _choice(pick, LOOKALIKE_DASHES)
    return "".join(chars).encode("utf-8", "surrogateescape")


def mutate_der(data: bytes, pick: Pick) -> bytes:
    """Decode one block, damage its DER (flip, cut, length bytes, nesting) and re-encode it as valid base64."""
    text = data.decode("latin-1")
    blocks = list(re.finditer(r"-----BEGIN ([A-Z0-9 ]+)-----\n(.*?)\n-----END \1-----", text, re.S))
    if not blocks:
        return bit_flip(data, pick) if data[:1] == b"\x30" else data
    m = blocks[pick(0, len(blocks) - 1)]
    try:
        der = bytearray(base64.b64decode("".join(m.group(2).split()), validate=False))
    except ValueError:
        return data
    if not der:
        return data
    op = pick(0, 5)
    if op == 0:
        for _ in range(pick(1, 4)):
            der[pick(0, len(der) - 1)] ^= 1 << pick(0, 7)
    elif op == 1:
        der = der[: pick(0, len(der))]
    elif op == 2:  # a length byte set to something large or indefinite
        pos = pick(0, min(len(der) - 1, 40))
        der[pos] = _choice(pick, ("\x80", "\x81", "\x84", "\xff", "\x00", "\x7f")).encode("latin-1")[0]
    elif op == 3:  # trailing garbage
        der += bytes(pick(0, 255) for _ in range(pick(1, 16)))
    elif op == 4:  # wrap in nested SEQUENCEs
        for _ in range(pick(1, 50)):
            der = bytearray(_der_tlv(0x30, bytes(der)))
    else:  # replace a byte with a random one
        der[pick(0, len(der) - 1)] = pick(0, 255)
    label = m.group(1)
    return (text[: m.start()] + pem_wrap(label, bytes(der)).decode().rstrip("\n") + text[m.end() :]).encode("latin-1")


def _der_tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def encoding(data: bytes, pick: Pick) -> bytes:
    op = pick(0, 3)
    if op == 0:
        return data.decode("latin-1").encode("utf-16")
    if op == 1:
        return b"\xef\xbb\xbf" + data
    if op == 2:
        return data.decode("latin-1").encode("utf-16-be")
    return data + b"\x00"


def splice_random_bytes(data: bytes, pick: Pick) -> bytes:
    pos = pick(0, len(data))
    junk = bytes(pick(0, 255) for _ in range(pick(1, 32)))
    return data[:pos] + junk + data[pos:]


MUTATORS: dict[str, Callable[[bytes, Pick], bytes]] = {
    "bit_flip": bit_flip,
    "truncate": truncate,
    "corrupt_base64": corrupt_base64,
    "mangle_markers": mangle_markers,
    "line_endings": line_endings,
    "insert_whitespace": insert_whitespace,
    "lookalike_dashes": lookalike_dashes,
    "mutate_der": mutate_der,
    "encoding": encoding,
    "splice_random_bytes": splice_random_bytes,
}
MUTATOR_NAMES = tuple(MUTATORS)


def mutate(data: bytes, pick: Pick, rounds: int | None = None) -> bytes:
    for _ in range(pick(1, 3) if rounds is None else rounds):
        data = MUTATORS[MUTATOR_NAMES[pick(0, len(MUTATOR_NAMES) - 1)]](data, pick)
    return data


# --------------------------------------------------------------------------- stunnel text

STUNNEL_OPTIONS = (
    "client", "accept", "connect", "cert", "key", "CAfile", "CApath", "verifyChain", "verifyPeer", "checkHost",
    "foreground", "pid", "sni", "debug", "output", "options", "sslVersion", "ciphers", "socket", "include",
    "TIMEOUTclose", "verify", "CAfle", "clinet", "setuid", "delay", "retry",
)
STUNNEL_VALUES = (
    "yes", "no", "127.0.0.1:9999", "9999", "sandbox-fix.itbit.com:4490", "fix.itbit.com", "{PATH-TO-CERT}",
    "/etc/stunnel/fix.itbit.pem", "fix.itbit.pem", "ca.crt", "itbit-ca.pem", "host.key", "2", "7", "l:TCP_NODELAY=1",
    "NO_SSLv3", "TLSv1.2", "", "=", "[::1]:4490", ":", "a:b:c", "/etc/stunnel/conf.d", "stunnel.conf", "9" * 30,
)


def stunnel_text(pick: Pick) -> bytes:
    """A stunnel configuration that is plausible, broken, or both."""
    lines: list[str] = []
    for _ in range(pick(0, 25)):
        op = pick(0, 9)
        if op <= 5:
            sep = _choice(pick, (" = ", "=", " ", " == ", ": "))
            lines.append(_choice(pick, STUNNEL_OPTIONS) + sep + _choice(pick, STUNNEL_VALUES))
        elif op == 6:
            lines.append("[" + _choice(pick, ("fix", "FIX", "", "a b", "fix]", "[x")) + "]")
        elif op == 7:
            lines.append(_choice(pick, ("; comment", "# comment", "", "   ", "cert = x ; inline")))
        elif op == 8:
            lines.append("".join(chr(pick(1, 0x2FF)) for _ in range(pick(0, 20))))
        else:
            lines.append(_choice(pick, ("2024.01.01 LOG3[0]: SSL_connect: error", "LOG5[ui]: Configuration successful")))
    return _choice(pick, ("\n", "\r\n", "\r")).join(lines).encode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------- invariants


def unreadable_inputs(files: Sequence[tuple[str, bytes]], report: Report) -> list[str]:
    """Names (as the report shows them) of the inputs the engine could not read in full."""
    out: list[str] = []
    for summary, (_, data) in zip(report.inputs, list(files)[:64], strict=False):
        f = read_file(summary.name, bytes(data))
        bad = (
            f.format in (FileFormat.TOO_LARGE, FileFormat.EMPTY, FileFormat.BINARY, FileFormat.DER)
            or f.encoding_problem == "utf-16"
            or f.cr_only
            or bool(f.near_misses)
            or any(i.kind is Kind.UNREADABLE for i in f.items)
            or "unreadable" in summary.kinds
            or (f.format is FileFormat.TEXT and f.looks_like is None)
        )
        if bad:
            out.append(summary.name)
    return out


def all_outputs(report: Report) -> str:
    """Every rendering of the report: JSON, terminal text, Markdown, and Slack's Block Kit if present."""
    parts = [json.dumps(report.to_dict()), render_text(report, verbose=True), render_markdown(report)]
    block_kit = slack_renderer()
    if block_kit is not None:
        message = block_kit(report)
        parts.append(json.dumps(message.blocks))
        parts.append(message.text)
    return "\n".join(parts)


def slack_renderer() -> Callable[[Report], object] | None:
    try:
        from bot.slack.render import render_report
    except ImportError:  # the Slack front end is optional here
        return None
    return render_report  # type: ignore[return-value]


class InvariantError(AssertionError):
    pass


def check_report(
    report: object,
    files: Sequence[tuple[str, bytes]],
    secret_lines: frozenset[str] | set[str],
    *,
    render: bool = True,
) -> None:
    """Raise `InvariantError` if the report breaks a property the engine guarantees."""
    if not isinstance(report, Report):
        raise InvariantError(f"diagnose() returned {type(report).__name__}, not a Report")
    numbers = [s.step for s in report.steps]
    if numbers != STEP_NUMBERS:
        raise InvariantError(f"steps are {numbers}, not 1..8 in order")
    for step in report.steps:
        if step.status.value not in VALID_STATUSES:
            raise InvariantError(f"step {step.step} status {step.status!r}")
        if not step.findings:
            raise InvariantError(f"step {step.step} has no finding")
        for f in step.findings:
            if f.status.value not in VALID_STATUSES:
                raise InvariantError(f"{f.code}: status {f.status!r}")
            if f.code.endswith(".internal_error"):
                raise InvariantError(f"step {step.step} crashed: {f.code}: {f.message}")
    step5 = report.step(5)
    for name in unreadable_inputs(files, report):
        explained = [
            f
            for f in step5.findings
            if f.status in (Status.FAIL, Status.WARN)
            and f.remediation
            and f.commands
            and (f.evidence.get("file") == name or name in f.message)
        ]
        if not explained:
            codes = [(f.code, f.status.value) for f in step5.findings]
            raise InvariantError(f"input {name!r} could not be read but step 5 does not explain it: {codes}")
    if render:
        out = all_outputs(report)
        leaked = [ln for ln in secret_lines if ln in out]
        if leaked:
            raise InvariantError(f"{len(leaked)} private key line(s) in the output, e.g. {leaked[0][:12]}...")


def run_engine(
    files: Sequence[tuple[str, bytes]], stunnel: tuple[str, bytes] | None, secret_lines: frozenset[str] | set[str]
) -> Report:
    """diagnose() with no network (no endpoint), then every invariant."""
    report = diagnose(files, stunnel=stunnel)
    secrets = set(secret_lines)
    for _, data in files:
        secrets.update(private_key_lines_in(data))
    check_report(report, files, frozenset(secrets))
    return report


__all__ = [
    "MAX_FILE_BYTES",
    "MUTATORS",
    "NAMES",
    "Corpus",
    "InvariantError",
    "build_corpus",
    "check_report",
    "mutate",
    "run_engine",
    "stunnel_text",
]

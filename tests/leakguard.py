"""Key-leak guard: canary private keys made at test time, and a scanner for any trace of them.

    canaries = make_canaries(tmp_path)          # real openssl CLI, nothing committed
    guard = LeakGuard(canaries)
    guard.check("json report", json.dumps(report.to_dict()))

Canaries: RSA 2048 PKCS#8 (the CA key and a host key), RSA PKCS#1 (`openssl rsa -traditional`),
EC SEC1 (`openssl ecparam -genkey`), and an encrypted PKCS#8 key, each with a certificate
signed by the canary CA, so that bundles, key matches and handshakes can be built from them.

A leak is any base64 body line of a canary PEM, or any run of `FRAGMENT` characters of one
(a truncated echo such as "`BEGIN EC PRIVATE KEY` + `MHcCAQEEI…`" shows most of an EC
private scalar without showing a whole line). Text is searched as given, URL-decoded, and
with all white space and JSON/backslash escapes removed (so a wrapped or re-encoded echo is
found too). Runs that also occur in public material (the certificates: an RSA modulus is in
both the key and its certificate) are not counted, so the guard never cries wolf.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

FRAGMENT = 40  # base64 characters: 30 bytes
MIN_OWN = 16  # of them at least this many must differ from a reference key of the same form
REFERENCE_OF = {
    "rsa-pkcs8-ca": "pkcs8.key",
    "rsa-pkcs8": "pkcs8.key",
    "rsa-pkcs1": "pkcs1.key",
    "ec-sec1": "ec.key",
    "rsa-pkcs8-encrypted": "encrypted.key",
}
PASSPHRASE = "canary-pass"
MAX_SCAN_FILES = 20_000
MAX_SCAN_BYTES = 4 * 1024 * 1024
_B64_RUN = re.compile(rf"[A-Za-z0-9+/=]{{{FRAGMENT},}}")
_ESCAPES = re.compile(r"\\[nrt]|\\u000[ad]|\s+")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class Canary:
    """One private key (PEM as openssl wrote it) and the certificate that goes with it."""

    kind: str
    key_path: Path
    cert_path: Path
    encrypted: bool = False

    @property
    def key_pem(self) -> bytes:
        return self.key_path.read_bytes()

    @property
    def cert_pem(self) -> bytes:
        return self.cert_path.read_bytes()

    def body_lines(self) -> list[str]:
        return [
            line.strip()
            for line in self.key_pem.decode().splitlines()
            if line.strip() and not line.startswith("-----") and ":" not in line
        ]


@dataclass(frozen=True)
class Canaries:
    folder: Path
    ca: Canary  # self-signed: its certificate is the canary CA
    host: Canary  # RSA 2048 PKCS#8
    pkcs1: Canary  # RSA 2048 PKCS#1 ("BEGIN RSA PRIVATE KEY")
    ec: Canary  # P-256 SEC1 ("BEGIN EC PRIVATE KEY")
    encrypted: Canary  # RSA 2048 PKCS#8, AES-256 ("BEGIN ENCRYPTED PRIVATE KEY")
    # Throwaway keys of the same forms, never planted: what they share with a canary is
    # structure (version, algorithm identifiers, lengths), common to every key of that form.
    references: tuple[Path, ...] = ()

    @property
    def all(self) -> tuple[Canary, ...]:
        return (self.ca, self.host, self.pkcs1, self.ec, self.encrypted)

    @property
    def hosts(self) -> tuple[Canary, ...]:
        return (self.host, self.pkcs1, self.ec, self.encrypted)


def make_canaries(folder: Path) -> Canaries:
    """Make the canary keys and certificates in `folder` with the openssl CLI."""
    folder.mkdir(parents=True, exist_ok=True)
    rsa = ("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
    openssl(*rsa, "-out", "ca.key", cwd=folder)
    openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/O=Canary/CN=canary-ca", "-days", "30",
            "-out", "ca.crt", cwd=folder)  # fmt: skip
    openssl(*rsa, "-out", "host.key", cwd=folder)
    openssl(*rsa, "-out", "pkcs1-source.key", cwd=folder)
    openssl("rsa", "-in", "pkcs1-source.key", "-traditional", "-out", "pkcs1.key", cwd=folder)
    (folder / "pkcs1-source.key").unlink()
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key", cwd=folder)
    openssl(*rsa, "-aes-256-cbc", "-pass", f"pass:{PASSPHRASE}", "-out", "encrypted.key", cwd=folder)
    for name in ("host", "pkcs1", "ec", "encrypted"):
        passin = ["-passin", f"pass:{PASSPHRASE}"] if name == "encrypted" else []
        openssl("req", "-new", "-key", f"{name}.key", *passin, "-subj", f"/O=Canary/CN=canary-{name}",
                "-out", f"{name}.csr", cwd=folder)  # fmt: skip
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "30", "-sha256", "-out", f"{name}.crt", cwd=folder)  # fmt: skip
    references = _reference_keys(folder / "reference")
    ca = Canary("rsa-pkcs8-ca", folder / "ca.key", folder / "ca.crt")
    return Canaries(
        folder,
        ca,
        Canary("rsa-pkcs8", folder / "host.key", folder / "host.crt"),
        Canary("rsa-pkcs1", folder / "pkcs1.key", folder / "pkcs1.crt"),
        Canary("ec-sec1", folder / "ec.key", folder / "ec.crt"),
        Canary("rsa-pkcs8-encrypted", folder / "encrypted.key", folder / "encrypted.crt", encrypted=True),
        references,
    )


def _reference_keys(folder: Path) -> tuple[Path, ...]:
    folder.mkdir()
    rsa = ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"]
    commands = {
        "pkcs8.key": [*rsa, "{out}"],
        "pkcs1.key": ["openssl", "genrsa", "-traditional", "-out", "{out}", "2048"],
        "ec.key": ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "{out}"],
        "encrypted.key": [*rsa, "{out}", "-aes-256-cbc", "-pass", f"pass:{PASSPHRASE}"],
    }
    procs = []
    for name, cmd in commands.items():
        argv = [str(folder / name) if arg == "{out}" else arg for arg in cmd]
        procs.append((folder / name, subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    for _, proc in procs:
        if proc.wait(60) != 0:
            raise RuntimeError("openssl could not make a reference key")
    return tuple(path for path, _ in procs)


@dataclass(frozen=True)
class Leak:
    where: str
    kind: str  # which canary
    what: str  # "line" or "fragment"
    sample: str  # the first characters only

    def __str__(self) -> str:
        return f"{self.where}: a {self.what} of the {self.kind} canary key ({self.sample}…)"


@dataclass
class LeakGuard:
    """Scans text, bytes, files and folders for the canaries' key material."""

    canaries: Canaries
    extra_public: Iterable[bytes] = ()
    lines: dict[str, str] = field(init=False)  # line -> canary kind
    fragments: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        public = "".join(_normalise(c.cert_pem.decode()) for c in self.canaries.all)
        public += "".join(_normalise(b.decode("latin-1")) for b in self.extra_public)
        references = {p.name: _body(p.read_text()) for p in self.canaries.references}
        self.lines = {}
        self.fragments = {}
        for canary in self.canaries.all:
            for line in canary.body_lines():
                if len(line) >= 16 and line not in public:
                    self.lines[line] = canary.kind
            body = "".join(canary.body_lines())
            reference = references.get(REFERENCE_OF.get(canary.kind, ""), "")
            for i in range(max(0, len(body) - FRAGMENT + 1)):
                piece = body[i : i + FRAGMENT]
                # Structure (version, algorithm identifiers, lengths) sits at the same place in every
                # key of a form: a run that is mostly structure is not this key's material.
                own = sum(1 for j, ch in enumerate(piece, i) if j >= len(reference) or reference[j] != ch)
                if own >= MIN_OWN and piece not in public:
                    self.fragments.setdefault(piece, canary.kind)
        assert len(self.lines) >= 5 * 3, "every canary contributes lines"

    def leaks(self, where: str, data: str | bytes) -> list[Leak]:
        text = data.decode("latin-1") if isinstance(data, bytes) else data
        variants = {text, _normalise(text)}
        if "%" in text or "+" in text:
            decoded = urllib.parse.unquote_plus(text)
            variants |= {decoded, _normalise(decoded), _normalise(urllib.parse.unquote(text))}
        for variant in variants:
            found = [Leak(where, kind, "line", line[:12]) for line, kind in self.lines.items() if line in variant]
            if found:
                return found
            for run in _B64_RUN.findall(variant):
                for i in range(len(run) - FRAGMENT + 1):
                    kind = self.fragments.get(run[i : i + FRAGMENT])
                    if kind is not None:
                        return [Leak(where, kind, "fragment", run[i : i + 12])]
        return []

    def check(self, where: str, data: str | bytes) -> None:
        found = self.leaks(where, data)
        assert not found, "key material leaked: " + "; ".join(str(leak) for leak in found[:5])

    def scan_tree(self, root: Path, *, since: float | None = None, skip: Iterable[Path] = ()) -> list[Leak]:
        """Files under `root` (changed at or after `since`, if given) that hold canary material."""
        skipped = [p.resolve() for p in skip]
        found: list[Leak] = []
        for path in _walk(root, skipped):
            try:
                st = path.stat()
                if since is not None and st.st_mtime < since and st.st_ctime < since:
                    continue
                if st.st_size > MAX_SCAN_BYTES:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            found.extend(self.leaks(str(path), data))
        return found


def _body(pem: str) -> str:
    return "".join(line.strip() for line in pem.splitlines() if not line.startswith("-----") and ":" not in line)


def _normalise(text: str) -> str:
    return _ESCAPES.sub("", text).replace("\\/", "/")


def _walk(root: Path, skipped: list[Path]) -> Iterator[Path]:
    count = 0
    deadline = time.monotonic() + 20
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath).resolve()
        if any(here == s or s in here.parents for s in skipped):
            dirnames[:] = []
            continue
        for name in filenames:
            count += 1
            if count > MAX_SCAN_FILES or time.monotonic() > deadline:
                return
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path


def key_variants(canary: Canary) -> dict[str, bytes]:
    """The key as people mangle it: each variant still holds lines of the real key."""
    pem = canary.key_pem
    text = pem.decode()
    lines = text.splitlines()
    body = [line for line in lines if not line.startswith("-----")]
    head, tail = lines[0], lines[-1]
    middle = len(body) // 2
    corrupted = [*body]
    corrupted[middle] = corrupted[middle][:10] + "!!" + corrupted[middle][12:]
    return {
        "as-is": pem,
        "crlf": text.replace("\n", "\r\n").encode(),
        "truncated": "\n".join([head, *body[:middle]]).encode() + b"\n",
        "no-end": "\n".join([head, *body]).encode() + b"\n",
        "corrupted": "\n".join([head, *corrupted, tail]).encode() + b"\n",
        "elided": "\n".join([head, body[0], "...", body[-1], tail]).encode() + b"\n",
        "indented": "\n".join("    " + line for line in lines).encode() + b"\n",
        "wrong-end": "\n".join([head, *body, tail.replace("PRIVATE KEY", "CERTIFICATE")]).encode() + b"\n",
        "body-only": "\n".join(body).encode() + b"\n",
        "one-line": (head + "".join(body) + tail).encode(),
        "unicode-dashes": text.replace("-----", "\u2014\u2014\u2014\u2014\u2014").encode(),
    }

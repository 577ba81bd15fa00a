"""The system's `openssl` CLI as the judge: what it reads, what `verify` answers, what `-modulus` prints."""

from __future__ import annotations

import functools
import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bot.engine import pem

CERT_LABELS = ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")
KEY_LABELS = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY")
CSR_LABELS = ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")


def openssl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, timeout=30, check=False)


@functools.cache
def reads(tool: str, path: Path, der: bool) -> bool:
    """`openssl x509|pkey|req -noout -in path` succeeds (an empty passphrase if one is asked)."""
    inform = ["-inform", "DER"] if der else []
    extra = ["-passin", "pass:"] if tool == "pkey" else []
    return openssl(tool, "-noout", "-in", str(path), *inform, *extra).returncode == 0


@functools.cache
def modulus_md5(tool: str, path: Path) -> str | None:
    """What `openssl x509|rsa -noout -modulus -in path | openssl md5` prints, if `tool` reads an RSA key."""
    if tool == "x509" and b"rsaEncryption" not in openssl("x509", "-noout", "-text", "-in", str(path)).stdout:
        return None  # `x509 -modulus` prints a DSA key's public value too: the guide's check is for RSA
    proc = openssl(tool, "-noout", "-modulus", "-in", str(path), *(["-passin", "pass:"] if tool == "rsa" else []))
    if proc.returncode != 0 or not proc.stdout.startswith(b"Modulus="):
        return None
    return hashlib.md5(proc.stdout, usedforsecurity=False).hexdigest()


@functools.cache
def pubkey_sha256(tool: str, path: Path) -> str | None:
    """SHA-256 of the DER public key `openssl x509 -pubkey` / `openssl pkey -pubout` gives."""
    first = openssl(tool, "-noout", "-pubkey", "-in", str(path)) if tool == "x509" else openssl(
        "pkey", "-pubout", "-in", str(path), "-passin", "pass:"
    )
    if first.returncode != 0:
        return None
    der = openssl("pkey", "-pubin", "-outform", "DER", stdin=first.stdout)
    return hashlib.sha256(der.stdout).hexdigest() if der.returncode == 0 else None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    error: int | None = None
    depth: int | None = None


def verify(ca: Path, leaf: Path) -> Verdict | None:
    """`openssl verify -CAfile ca leaf`: OK, an error number and depth, or None when it cannot load a file."""
    proc = openssl("verify", "-CAfile", str(ca), str(leaf))
    out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    if proc.returncode == 0 and out.rstrip().endswith(": OK"):
        return Verdict(True)
    m = re.search(r"error (\d+) at (\d+) depth", out)
    return Verdict(False, int(m.group(1)), int(m.group(2))) if m else None


def first_block(data: bytes, labels: tuple[str, ...]) -> pem.PemBlock | None:
    """The first block with one of `labels`, as OpenSSL's PEM reader finds it."""
    text = data.decode("latin-1")
    return next((b for b in pem.scan(text).blocks if b.label in labels), None)


def is_text(data: bytes) -> bool:
    return b"-----BEGIN " in data

"""Public files nobody on this project wrote, found where they are installed (never copied).

- CPython's own test certificates and keys (`test/certdata`, or `test/*.pem` in older
  versions), for this interpreter and every other one installed beside it;
- the system CA store (`/etc/ssl/certs`), sampled deterministically;
- certifi's CA bundle (one file of ~150 certificates).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

SYSTEM_STORE = Path("/etc/ssl/certs")
SYSTEM_SAMPLE = 40  # of ~140 certificates: every n-th in name order, the same on every run
MAX_FILE = 256 * 1024


def cpython_dirs() -> list[Path]:
    """Test-certificate folders: this Python's first, then the other versions installed."""
    found: list[Path] = []
    try:
        import test  # the stdlib's test package: where CPython keeps its certificates

        here = Path(test.__file__).parent
        found.append(here / "certdata" if (here / "certdata").is_dir() else here)
    except ImportError:  # stripped by some distributions; the corpus test says so
        pass
    root = Path(sys.base_prefix).parent  # e.g. ~/.pyenv/versions
    for other in sorted(root.glob("*/lib/python*/test")):
        found.append(other / "certdata" if (other / "certdata").is_dir() else other)
    return [d for d in dict.fromkeys(found) if d.is_dir()]


def cpython_files() -> dict[str, bytes]:
    """CPython's test PEM/DER files, named `<python>/<file>`; identical contents kept once."""
    out: dict[str, bytes] = {}
    seen: set[str] = set()
    for folder in cpython_dirs():
        version = next((p for p in folder.parts if p.startswith("python")), "python")
        candidates = sorted(p for p in folder.rglob("*") if p.is_file() and _interesting(p))
        for path in candidates:
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen or len(data) > MAX_FILE:
                continue
            seen.add(digest)
            out[f"{version}/{path.relative_to(folder)}"] = data
    return out


def _interesting(path: Path) -> bool:
    if path.suffix in (".pem", ".crt", ".der", ".key", ".crl", ".0", ".p12", ".pfx"):
        return True
    return path.parent.name == "capath"


def system_files() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    if SYSTEM_STORE.is_dir():
        names = sorted(p for p in SYSTEM_STORE.iterdir() if p.suffix == ".pem" and p.is_file())
        step = max(1, len(names) // SYSTEM_SAMPLE)
        for path in names[::step][:SYSTEM_SAMPLE]:
            out[f"etc-ssl-certs/{path.name}"] = path.read_bytes()
    try:
        import certifi

        out["certifi/cacert.pem"] = Path(certifi.where()).read_bytes()
    except ImportError:
        pass
    return out

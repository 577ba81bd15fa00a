"""Make a throwaway onboarding with the guide's own openssl commands.

Used by `fixcheck demo` and by the tests: the files are made exactly as a client makes
them (a client CA, a v1 host certificate signed by it, `fix.itbit.pem` = host.crt +
host.key), plus the exchange's side (a server CA and a server certificate for
127.0.0.1/localhost) so that a local mTLS server can stand in for the FIX server.
Everything goes into a folder the caller owns and removes.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization


class OpenSSLMissingError(RuntimeError):
    """The `openssl` command is not installed."""


@dataclass(frozen=True)
class ClientFiles:
    """The guide's file set, as paths inside one folder."""

    folder: Path
    ca_key: Path
    ca_crt: Path
    host_key: Path
    host_csr: Path
    host_crt: Path
    bundle: Path  # fix.itbit.pem


@dataclass(frozen=True)
class ServerFiles:
    """The exchange's side: its CA (`itbit-ca.pem` for the client) and server certificate."""

    folder: Path
    ca_key: Path
    ca_pem: Path  # itbit-ca.pem
    key: Path
    crt: Path


def require_openssl() -> str:
    """The path of the `openssl` command; `OpenSSLMissingError` saying how to install it otherwise."""
    exe = shutil.which("openssl")
    if exe is None:
        raise OpenSSLMissingError(
            "needs the openssl command, which is not on PATH: install it "
            "(Debian/Ubuntu: apt-get install openssl; Fedora: dnf install openssl; macOS: brew install openssl) and retry"
        )
    return exe


def openssl(*args: str, cwd: Path) -> None:
    """Run one openssl command; raise with its stderr when it fails."""
    exe = require_openssl()
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {proc.stderr.strip()[:300]}")


def make_client(
    folder: Path,
    *,
    bits: int = 2048,
    cn: str = "fix-client",
    ca_cn: str = "fix-client-ca",
    ca_days: int = 1000,
    host_days: int = 500,
) -> ClientFiles:
    """The guide's onboarding commands, non-interactive (`-subj`), in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    openssl("genrsa", "-out", "ca.key", str(bits), cwd=folder)
    openssl(
        "req",
        "-new",
        "-x509",
        "-days",
        str(ca_days),
        "-key",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        f"/C=US/ST=NY/O=Example Trading/CN={ca_cn}",
        cwd=folder,
    )
    make_host(folder, bits=bits, cn=cn, days=host_days)
    return ClientFiles(
        folder,
        folder / "ca.key",
        folder / "ca.crt",
        folder / "host.key",
        folder / "host.csr",
        folder / "host.crt",
        folder / "fix.itbit.pem",
    )


def make_host(folder: Path, *, bits: int = 2048, cn: str = "fix-client", days: int = 500) -> None:
    """Guide step 8: a new host key and certificate signed by the CA in `folder`."""
    openssl("genrsa", "-out", "host.key", str(bits), cwd=folder)
    openssl(
        "req",
        "-new",
        "-key",
        "host.key",
        "-out",
        "host.csr",
        "-subj",
        f"/C=US/ST=NY/O=Example Trading/CN={cn}",
        cwd=folder,
    )
    openssl(
        "x509",
        "-req",
        "-in",
        "host.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "host.crt",
        "-days",
        str(days),
        "-sha256",
        cwd=folder,
    )
    (folder / "fix.itbit.pem").write_bytes((folder / "host.crt").read_bytes() + (folder / "host.key").read_bytes())


def make_server(
    folder: Path, *, bits: int = 2048, ca_cn: str = "Exchange FIX Server CA", hostname: str = "localhost"
) -> ServerFiles:
    """An exchange-style server CA and a server certificate for `hostname` and 127.0.0.1."""
    folder.mkdir(parents=True, exist_ok=True)
    openssl(
        "req",
        "-new",
        "-x509",
        "-newkey",
        f"rsa:{bits}",
        "-nodes",
        "-days",
        "1000",
        "-keyout",
        "server-ca.key",
        "-out",
        "itbit-ca.pem",
        "-subj",
        f"/O=Exchange/CN={ca_cn}",
        cwd=folder,
    )
    openssl(
        "req",
        "-new",
        "-newkey",
        f"rsa:{bits}",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        f"/O=Exchange/CN={hostname}",
        cwd=folder,
    )
    (folder / "server.ext").write_text(f"subjectAltName=DNS:{hostname},IP:127.0.0.1,IP:::1\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "itbit-ca.pem",
        "-CAkey",
        "server-ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "500",
        "-sha256",
        "-extfile",
        "server.ext",
        cwd=folder,
    )
    return ServerFiles(
        folder, folder / "server-ca.key", folder / "itbit-ca.pem", folder / "server.key", folder / "server.crt"
    )


def sign_host_with_dates(folder: Path, not_before: dt.datetime, not_after: dt.datetime, out: str = "host.crt") -> Path:
    """Sign `folder`'s host.csr with its ca.key for forced dates (openssl's x509 -req cannot).

    This is the one place `cryptography` makes a certificate: `openssl x509 -req` only
    takes a number of days from now, and an expired or future-dated certificate needs
    dates in the past or future.
    """
    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate((folder / "ca.crt").read_bytes())
    csr = x509.load_pem_x509_csr((folder / "host.csr").read_bytes())
    cert = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    path = folder / out
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def sign_ca_with_dates(folder: Path, not_before: dt.datetime, not_after: dt.datetime, out: str = "ca.crt") -> Path:
    """Re-issue `folder`'s CA certificate (same ca.key, same name) for forced dates.

    What `openssl req -new -x509 -days 1000` would have made on `not_before`: a CA made
    501 days ago is still valid, and a host certificate it signed then for 500 days has
    just expired. `cryptography` is used for the same reason as in `sign_host_with_dates`.
    """
    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), password=None)
    current = x509.load_pem_x509_certificate((folder / "ca.crt").read_bytes())
    public = ca_key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(current.subject)
        .issuer_name(current.subject)
        .public_key(public)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)  # type: ignore[arg-type]
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    path = folder / out
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path

"""Test PKI made at test time with the real openssl CLI, the way the guide makes it.

`cryptography` is used only where openssl cannot force a date or key type. No key is
ever committed: everything lives in pytest's temporary folders.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bot.lab.onboarding import ClientFiles, ServerFiles, make_client, make_server, openssl, sign_host_with_dates

NOW = dt.datetime.now(dt.UTC)


def run_openssl(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run openssl and return the finished process (no check: callers read the result)."""
    return subprocess.run(["openssl", *args], cwd=cwd, input=stdin, capture_output=True, timeout=60, check=False)


@dataclass
class Pki:
    """Every file the scenarios need, made once per test session."""

    root: Path
    client: ClientFiles
    server: ServerFiles
    files: dict[str, bytes] = field(default_factory=dict)

    def read(self, relative: str) -> bytes:
        return (self.root / relative).read_bytes()


def build(root: Path, bits: int = 2048) -> Pki:
    client = make_client(root / "client", bits=bits)
    server = make_server(root / "exchange")
    pki = Pki(root, client, server)
    c = client.folder

    # A second key (mismatch), a regenerated CA (same subject, new key), an unrelated CA.
    other = root / "other"
    other.mkdir()
    openssl("genrsa", "-out", "host.key", "2048", cwd=other)
    regen = root / "regen"
    regen.mkdir()
    openssl("genrsa", "-out", "ca.key", "2048", cwd=regen)
    openssl("req", "-new", "-x509", "-days", "1000", "-key", "ca.key", "-out", "ca.crt",
            "-subj", "/C=US/ST=NY/O=Example Trading/CN=fix-client-ca", cwd=regen)
    unrelated = root / "unrelated"
    make_client(unrelated, ca_cn="Someone Else CA", cn="someone")

    # Dates openssl cannot force.
    sign_host_with_dates(c, NOW - dt.timedelta(days=501), NOW - dt.timedelta(days=1), "expired.crt")
    sign_host_with_dates(c, NOW + dt.timedelta(days=2), NOW + dt.timedelta(days=500), "future.crt")
    openssl("x509", "-req", "-in", "host.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "expiring.crt", "-days", "10", "-sha256", cwd=c)
    # A CA that expires in 10 days, and one already expired, each with a host cert.
    soon = root / "ca-soon"
    make_client(soon, ca_days=10, host_days=5)
    old = root / "ca-old"
    old.mkdir()
    openssl("genrsa", "-out", "ca.key", "2048", cwd=old)
    openssl("genrsa", "-out", "host.key", "2048", cwd=old)
    openssl("req", "-new", "-key", "host.key", "-out", "host.csr", "-subj", "/CN=old-host", cwd=old)
    _self_signed_ca_with_dates(old, NOW - dt.timedelta(days=1000), NOW - dt.timedelta(days=2))
    sign_host_with_dates(old, NOW - dt.timedelta(days=900), NOW + dt.timedelta(days=100))

    # Key types: EC and Ed25519 host keys signed by the same RSA CA; a weak 1024-bit set.
    for kind, genargs in (("ec", ("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "host.key")),
                          ("ed", ("genpkey", "-algorithm", "ed25519", "-out", "host.key"))):
        d = root / kind
        d.mkdir()
        openssl(*genargs, cwd=d)
        openssl("req", "-new", "-key", "host.key", "-out", "host.csr", "-subj", f"/CN={kind}-host", cwd=d)
        openssl("x509", "-req", "-in", "host.csr", "-CA", str(c / "ca.crt"), "-CAkey", str(c / "ca.key"),
                "-CAcreateserial", "-out", "host.crt", "-days", "500", "-sha256", cwd=d)
    weak = root / "weak"
    make_client(weak, bits=1024)

    # Formats: PKCS#1, encrypted, DER.
    openssl("rsa", "-in", "host.key", "-traditional", "-out", "host.pkcs1.key", cwd=c)
    openssl("pkey", "-in", "host.key", "-aes256", "-passout", "pass:secret", "-out", "host.enc.key", cwd=c)
    openssl("rsa", "-in", "host.key", "-aes256", "-traditional", "-passout", "pass:secret", "-out", "host.enc1.key", cwd=c)
    openssl("x509", "-in", "host.crt", "-outform", "DER", "-out", "host.der", cwd=c)

    # The newer onboarding: the exchange signs the client's CSR with its own CA (v3).
    ex = root / "exchange-signed"
    ex.mkdir()
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "private.key", "-out", "request.csr",
            "-subj", "/CN=ACME_FIX", cwd=ex)
    (ex / "client.ext").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", "request.csr", "-CA", str(server.ca_pem), "-CAkey", str(server.ca_key),
            "-CAcreateserial", "-out", "exchange_ACME_certificate.crt", "-days", "365", "-sha256",
            "-extfile", "client.ext", cwd=ex)

    # A three-level chain: root -> intermediate -> host, made with openssl.
    ch = root / "chain"
    ch.mkdir()
    openssl("req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1000", "-keyout", "root.key",
            "-out", "root.crt", "-subj", "/O=Example/CN=Example Root CA", cwd=ch)
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "inter.key", "-out", "inter.csr",
            "-subj", "/O=Example/CN=Example Intermediate CA", cwd=ch)
    (ch / "ca.ext").write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
    openssl("x509", "-req", "-in", "inter.csr", "-CA", "root.crt", "-CAkey", "root.key", "-CAcreateserial",
            "-out", "inter.crt", "-days", "900", "-sha256", "-extfile", "ca.ext", cwd=ch)
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "host.key", "-out", "host.csr",
            "-subj", "/O=Example/CN=chained-host", cwd=ch)
    openssl("x509", "-req", "-in", "host.csr", "-CA", "inter.crt", "-CAkey", "inter.key", "-CAcreateserial",
            "-out", "host.crt", "-days", "500", "-sha256", cwd=ch)
    return pki


def _self_signed_ca_with_dates(folder: Path, not_before: dt.datetime, not_after: dt.datetime) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), password=None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Old Client CA")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(1).not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    (folder / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

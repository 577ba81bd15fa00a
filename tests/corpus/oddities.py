"""Odd but real-world objects, made at test time (no key is ever committed).

Each class the issue lists: certificates OpenSSL reads and `cryptography` refuses
(invalid version, a bad ASN.1 time, two basicConstraints, an ediPartyName or x400Address
SAN, DSA parameters inherited from the issuer), a CSR with an invalid version, private
keys OpenSSL reads and `cryptography` refuses (PKCS#8 under an RSA label, an EC scalar out
of range, DER with odd versions), post-quantum and key-agreement keys, PKCS#12
containers, an OpenSSH key, a JPEG and the guide's ca.srl.
"""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
import textwrap
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, mldsa, mlkem, padding, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtensionOID, NameOID

from tests.corpus import der

NOW = dt.datetime.now(dt.UTC)
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def pem(body: bytes, label: str) -> bytes:
    lines = "\n".join(textwrap.wrap(base64.b64encode(body).decode(), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n".encode()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    cn: str,
    public: object,
    signer: CertificateIssuerPrivateKeyTypes,
    issuer: str | None = None,
    extensions: tuple[tuple[x509.ExtensionType, bool], ...] = (),
) -> bytes:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(issuer or cn))
        .public_key(public)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=90))
    )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical)
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signer, algorithm).public_bytes(serialization.Encoding.DER)


def _sign(key: CertificateIssuerPrivateKeyTypes, data: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, dsa.DSAPrivateKey):
        return key.sign(data, hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    raise TypeError(type(key).__name__)


def _with_tbs(cert_der: bytes, tbs: bytes, key: CertificateIssuerPrivateKeyTypes) -> bytes:
    """`cert_der` with its TBSCertificate replaced and signed again by `key`."""
    _, (_, algorithm, _) = der.split(cert_der)
    return der.join(0x30, [tbs, algorithm, der.encode(0x03, b"\0" + _sign(key, tbs))])


def _tbs_fields(cert_der: bytes) -> list[bytes]:
    _, (tbs, _, _) = der.split(cert_der)
    return der.split(tbs)[1]


def _key_pem(key: object, fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())  # type: ignore[attr-defined,no-any-return]


def rollover(ca_key: rsa.RSAPrivateKey) -> bytes:
    """A key-rollover certificate: 'Odd CA' with a new key, signed by the old one (self-issued, not self-signed)."""
    new_key = rsa.generate_private_key(65537, 2048)
    basic = ((x509.BasicConstraints(ca=True, path_length=None), True),)
    return pem(_cert("Odd CA", new_key.public_key(), ca_key, "Odd CA", basic), "CERTIFICATE")


def v4_of(cert_pem: bytes, key: rsa.RSAPrivateKey) -> bytes:
    """`cert_pem` with version 4 (which `cryptography` refuses), signed again by `key`."""
    cert = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    fields = _tbs_fields(cert)
    return pem(_with_tbs(cert, der.join(0x30, [der.encode(0xA0, der.integer(3)), *fields[1:]]), key), "CERTIFICATE")


def strict_certificates(ca_key: rsa.RSAPrivateKey) -> dict[str, bytes]:
    """Leaf certificates signed by 'Odd CA' (`ca_key`) that only OpenSSL reads."""
    leaf = rsa.generate_private_key(65537, 2048)
    out: dict[str, bytes] = {}
    base = _cert("odd-leaf-v4", leaf.public_key(), ca_key, "Odd CA")
    fields = _tbs_fields(base)
    out["v4-version.pem"] = pem(_with_tbs(base, der.join(0x30, [der.encode(0xA0, der.integer(3)), *fields[1:]]), ca_key), "CERTIFICATE")
    base = _cert("odd-leaf-time", leaf.public_key(), ca_key, "Odd CA")
    fields = _tbs_fields(base)
    _, (not_before, not_after) = der.split(fields[4])
    month13 = not_before[:4] + b"13" + not_before[6:]  # UTCTime YYMMDD...: month 13
    bad_time = [*fields[:4], der.join(0x30, [month13, not_after]), *fields[5:]]
    out["bad-time.pem"] = pem(_with_tbs(base, der.join(0x30, bad_time), ca_key), "CERTIFICATE")
    no_seconds = der.encode(0x17, der.content(not_before)[:10] + b"Z")  # UTCTime YYMMDDhhmmZ
    short_time = [*fields[:4], der.join(0x30, [no_seconds, not_after]), *fields[5:]]
    out["utc-no-seconds.pem"] = pem(_with_tbs(base, der.join(0x30, short_time), ca_key), "CERTIFICATE")
    # Two basicConstraints: an extension under a placeholder OID renamed afterwards.
    twice = _cert(
        "odd-leaf-bc",
        leaf.public_key(),
        ca_key,
        "Odd CA",
        (
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.99"), b"\x30\x00"), False),
        ),
    ).replace(b"\x06\x03\x55\x1d\x63", b"\x06\x03\x55\x1d\x13")
    _, (tbs, _, _) = der.split(twice)
    out["two-basic-constraints.pem"] = pem(_with_tbs(twice, tbs, ca_key), "CERTIFICATE")
    for name, names_der in (("edi-party-san.pem", "3007a505a1030c0178"), ("x400-san.pem", "3004a3023000")):
        san = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, bytes.fromhex(names_der))
        out[name] = pem(_cert(name, leaf.public_key(), ca_key, "Odd CA", ((san, False),)), "CERTIFICATE")
    out["odd-leaf.key"] = _key_pem(leaf)
    return out


def dsa_inherited() -> dict[str, bytes]:
    """A DSA CA and a DSA leaf whose key leaves its parameters to be taken from the CA's."""
    ca = dsa.generate_private_key(2048)
    leaf = ca.parameters().generate_private_key()
    ca_der = _cert("DSA CA", ca.public_key(), ca, extensions=((x509.BasicConstraints(ca=True, path_length=None), True),))
    base = _cert("dsa-leaf", leaf.public_key(), ca, "DSA CA")
    fields = _tbs_fields(base)
    _, (algorithm, bits) = der.split(fields[6])
    _, (oid, _params) = der.split(algorithm)
    fields[6] = der.join(0x30, [der.join(0x30, [oid]), bits])
    return {
        "dsa-ca.pem": pem(ca_der, "CERTIFICATE"),
        "dsa-inherited.pem": pem(_with_tbs(base, der.join(0x30, fields), ca), "CERTIFICATE"),
    }


def strict_keys_and_csr() -> dict[str, bytes]:
    key = rsa.generate_private_key(65537, 2048)
    out = {"pkcs8-under-rsa-label.key": _key_pem(key).replace(b"PRIVATE KEY", b"RSA PRIVATE KEY")}
    public = ec.derive_private_key(5, ec.SECP256R1()).public_key()
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    sec1 = der.join(
        0x30,
        [
            der.integer(1),
            der.encode(0x04, (P256_ORDER + 5).to_bytes(32, "big")),  # the scalar n + 5: out of range
            der.encode(0xA0, bytes.fromhex("06082a8648ce3d030107")),
            der.encode(0xA1, der.encode(0x03, b"\0" + point)),
        ],
    )
    out["ec-scalar-out-of-range.key"] = pem(sec1, "EC PRIVATE KEY")
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _, parts = der.split(pkcs8)
    out["pkcs8-version1.der"] = der.join(0x30, [der.integer(1), *parts[1:]])
    out["pkcs8-version7.der"] = der.join(0x30, [der.integer(7), *parts[1:]])
    csr = x509.CertificateSigningRequestBuilder().subject_name(_name("odd-csr")).sign(key, hashes.SHA256())
    _, (info, algorithm, _) = der.split(csr.public_bytes(serialization.Encoding.DER))
    info = der.join(0x30, [der.integer(5), *der.split(info)[1][1:]])
    out["csr-version5.csr"] = pem(
        der.join(0x30, [info, algorithm, der.encode(0x03, b"\0" + _sign(key, info))]), "CERTIFICATE REQUEST"
    )
    return out


def _one_asymmetric_key_v2(key: ed25519.Ed25519PrivateKey) -> bytes:
    """RFC 8410 §10.3's form: PKCS#8 version 2 with an attribute and the public key."""
    _, parts = der.split(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    attribute = bytes.fromhex("301d060a2a864886f70d01090914310f0c0d437572646c6520436861697273")  # "Curdle Chairs"
    body = der.join(0x30, [der.integer(1), parts[1], parts[2], der.encode(0xA0, attribute), der.encode(0x81, b"\0" + public)])
    return pem(body, "PRIVATE KEY")


def other_keys() -> dict[str, bytes]:
    """Keys that cannot be a TLS client key, an Ed25519 CA with an X25519 leaf and an RFC 8410 style key."""
    ca = ed25519.Ed25519PrivateKey.generate()
    agree = x25519.X25519PrivateKey.generate()
    return {
        "rfc8410-v2.key": _one_asymmetric_key_v2(ed25519.Ed25519PrivateKey.generate()),
        "ml-dsa-65.key": _key_pem(mldsa.MLDSA65PrivateKey.generate()),
        "ml-kem-768.key": _key_pem(mlkem.MLKEM768PrivateKey.generate()),
        "x25519.key": _key_pem(agree),
        "ed25519-ca.pem": pem(
            _cert("Ed25519 CA", ca.public_key(), ca, extensions=((x509.BasicConstraints(ca=True, path_length=None), True),)),
            "CERTIFICATE",
        ),
        "x25519-leaf.pem": pem(_cert("x25519-leaf", agree.public_key(), ca, "Ed25519 CA"), "CERTIFICATE"),
    }


def containers(folder: Path, cert: Path, key: Path) -> dict[str, bytes]:
    """PKCS#12 (open, locked, keyless) from the real openssl CLI, an OpenSSH key, a JPEG, ca.srl."""
    runs = {
        "open.p12": ["-inkey", str(key), "-passout", "pass:"],
        "locked.pfx": ["-inkey", str(key), "-passout", "pass:not-empty"],
        "truststore.p12": ["-nokeys", "-passout", "pass:"],
    }
    out: dict[str, bytes] = {}
    for name, extra in runs.items():
        target = folder / name
        subprocess.run(["openssl", "pkcs12", "-export", "-in", str(cert), "-out", str(target), *extra], check=True, capture_output=True, timeout=60)
        out[name] = target.read_bytes()
    ssh = folder / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh)], check=True, capture_output=True, timeout=60)
    out["id_ed25519"] = ssh.read_bytes()
    out["photo.jpg"] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 8 + b"\xff\xd9"
    out["ca.srl"] = b"5F3A9C0D21E4B7A8\n"
    out["nul-padded.pem"] = cert.read_bytes() + b"\x00" * 64  # as some Windows tools save it
    out["pem-then-binary.pem"] = cert.read_bytes() + bytes(range(256)) * 4
    return out


_OPENSSL_KEYS = {
    "rsa-pss": ["genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"],
    "ed448": ["genpkey", "-algorithm", "ed448"],
    "x448": ["genpkey", "-algorithm", "x448"],
    "dh-ffdhe2048": ["genpkey", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048"],
    "ec-explicit": ["ecparam", "-name", "prime256v1", "-genkey", "-param_enc", "explicit"],
    "brainpool": ["ecparam", "-name", "brainpoolP256r1", "-genkey", "-noout"],
    "secp256k1": ["ecparam", "-name", "secp256k1", "-genkey", "-noout"],
    "sect283k1": ["ecparam", "-name", "sect283k1", "-genkey", "-noout"],
    "sm2": ["genpkey", "-algorithm", "SM2"],
}


def openssl_made(folder: Path) -> dict[str, bytes]:
    """Keys of many types and self-signed certificates for them, as the openssl CLI writes them,
    plus the forms other tools export: DER, PKCS#7, TRUSTED CERTIFICATE, a legacy encrypted key."""
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60)

    out: dict[str, bytes] = {}
    for name, args in _OPENSSL_KEYS.items():
        run(*args, "-out", f"{name}.key")
        out[f"{name}.key"] = (folder / f"{name}.key").read_bytes()
        if name.startswith(("x448", "dh")):
            continue  # key agreement only: no self-signed certificate
        run("req", "-new", "-x509", "-key", f"{name}.key", "-out", f"{name}.crt", "-subj", f"/CN={name}", "-days", "30")
        out[f"{name}.crt"] = (folder / f"{name}.crt").read_bytes()
    run("x509", "-in", "rsa-pss.crt", "-outform", "DER", "-out", "rsa-pss.cer")
    run("x509", "-in", "brainpool.crt", "-trustout", "-addtrust", "clientAuth", "-out", "trusted.pem")
    run("crl2pkcs7", "-nocrl", "-certfile", "ed448.crt", "-out", "chain.p7b")
    run("crl2pkcs7", "-nocrl", "-certfile", "ed448.crt", "-outform", "DER", "-out", "chain-der.p7b")
    run("pkey", "-in", "secp256k1.key", "-outform", "DER", "-out", "secp256k1-der.key")
    run("genrsa", "-aes256", "-passout", "pass:secret", "-traditional", "-out", "legacy-encrypted.key", "2048")
    for name in ("rsa-pss.cer", "trusted.pem", "chain.p7b", "chain-der.p7b", "secp256k1-der.key", "legacy-encrypted.key"):
        out[name] = (folder / name).read_bytes()
    return out


def build(folder: Path) -> tuple[dict[str, bytes], rsa.RSAPrivateKey]:
    """Every oddity, by file name; and the key of 'Odd CA' (`odd-ca.pem`), in memory only."""
    ca_key = rsa.generate_private_key(65537, 2048)
    ca = _cert("Odd CA", ca_key.public_key(), ca_key, extensions=((x509.BasicConstraints(ca=True, path_length=None), True),))
    out = {"odd-ca.pem": pem(ca, "CERTIFICATE")}
    out |= strict_certificates(ca_key)
    out |= dsa_inherited()
    out |= strict_keys_and_csr()
    out |= other_keys()
    folder.mkdir(parents=True, exist_ok=True)
    leaf_cert, leaf_key = folder / "leaf.pem", folder / "leaf.key"
    leaf = rsa.generate_private_key(65537, 2048)
    leaf_cert.write_bytes(pem(_cert("p12-leaf", leaf.public_key(), ca_key, "Odd CA"), "CERTIFICATE"))
    leaf_key.write_bytes(_key_pem(leaf, serialization.PrivateFormat.TraditionalOpenSSL))
    out |= containers(folder, leaf_cert, leaf_key)
    out |= openssl_made(folder / "cli")
    leaf_key.unlink()
    return out, ca_key

"""Issue 10's QA round: the cases the public corpora showed where fixcheck and OpenSSL disagreed,
rebuilt at test time (openssl CLI, cryptography where a date or extension must be forced)."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from bot.engine import diagnose
from bot.engine.report import Report
from tests.corpus import der, oddities, oracle
from tests.pki import run_openssl

_NOW = dt.datetime.now(dt.UTC)


def _codes(report: Report, step: int) -> list[str]:
    return [f.code for f in report.step(step).findings]


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None = None,
    ca: bool | None = None,
    dates: tuple[dt.datetime, dt.datetime] = (_NOW - dt.timedelta(days=1), _NOW + dt.timedelta(days=300)),
) -> x509.Certificate:
    """A certificate whose dates and basicConstraints are forced (ca=None: no basicConstraints)."""
    issuer_name, issuer_key = issuer if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dates[0])
        .not_valid_after(dates[1])
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _year_one(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """`cert` valid from and until `Jan 1 00:00:00 0001` (cryptography refuses to build it), signed again."""
    whole = cert.public_bytes(serialization.Encoding.DER)
    fields = oddities._tbs_fields(whole)
    year_one = der.encode(0x18, b"00010101000000Z")
    fields[4] = der.join(0x30, [year_one, year_one])
    return x509.load_der_x509_certificate(oddities._with_tbs(whole, der.join(0x30, fields), key))


# 1. A CA certificate whose notAfter is year 1 (zlint's SANCaseNotMatchingCN.pem) crashed step 8.


def test_a_ca_ending_in_year_one_is_judged_not_crashed() -> None:
    ca_key, leaf_key = _key(), _key()
    ca = _year_one(_cert("Year One CA", ca_key, ca=True), ca_key)
    leaf = _cert("host", leaf_key, issuer=("Year One CA", ca_key))
    report = diagnose([("fix.itbit.pem", _pem(leaf)), ("ca.crt", _pem(ca))])
    codes = _codes(report, 8)
    assert "step8.internal_error" not in codes
    assert "expiry.client_ca_expired" in codes


def _verdicts(files: list[tuple[str, x509.Certificate]], tmp_path: Path) -> tuple[object, list[tuple[object, object]]]:
    """(openssl verify's verdict on the first file against the second, step 1's (error, depth))."""
    for name, cert in files:
        (tmp_path / name).write_bytes(_pem(cert))
    verdict = oracle.verify(tmp_path / files[1][0], tmp_path / files[0][0])
    report = diagnose([(name, _pem(cert)) for name, cert in files])
    return verdict, [(f.evidence.get("openssl_error"), f.evidence.get("depth")) for f in report.step(1).findings]


# 2. A CA:TRUE certificate given as fix.itbit.pem (boringssl's policy_intermediate.pem) with an
# unrelated root: `openssl verify` checks it (error 20 at depth 0); it was taken for the server CA.


def test_a_ca_certificate_named_as_the_client_certificate_is_verified(tmp_path: Path) -> None:
    root_key, inter_key, other_key = _key(), _key(), _key()
    inter = _cert("Policy Intermediate", inter_key, issuer=("Policy Root", root_key), ca=True)
    other = _cert("Unrelated Root", other_key, ca=True)
    for name in ("fix.itbit.pem", "host.crt"):
        verdict, step1 = _verdicts([(name, inter), ("ca.crt", other)], tmp_path)
        assert verdict == oracle.Verdict(False, 20, 0)
        assert step1 == [(20, 0)]


# 3. One certificate and one key are compared, whatever their names (mbedtls' test-ca.crt as
# host.crt with server4.key; cert_example_wildcard.crt with test-int-ca.key).


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def test_one_certificate_and_one_key_are_compared_whatever_their_names() -> None:
    ca_key, other = _key(), _key()
    ca = _cert("Test CA", ca_key, ca=True)
    leaf = _cert("*.example.com", _key(), issuer=("Test CA", ca_key))
    for files in (
        [("host.crt", _pem(ca)), ("host.key", _key_pem(other))],
        [("cert_example_wildcard.crt", _pem(leaf)), ("test-int-ca.key", _key_pem(other))],
    ):
        assert "keymatch.mismatch" in _codes(diagnose(files), 6), files[0][0]
    assert "keymatch.ok" in _codes(diagnose([("host.crt", _pem(ca)), ("host.key", _key_pem(ca_key))]), 6)


# 5. A bundle in the wrong order (mbedtls' test-ca2_cat-past-invalid.crt: an expired root, then a
# leaf): `openssl verify` checks the first certificate, and stunnel presents it.


def test_a_bundle_starting_with_a_ca_is_judged_by_its_first_certificate(tmp_path: Path) -> None:
    root_key, leaf_key = _key(), _key()
    past = (_NOW - dt.timedelta(days=400), _NOW - dt.timedelta(days=10))
    old_root = _cert("Test EC CA", root_key, ca=True, dates=past)
    new_root = _cert("Test EC CA", root_key, ca=True)
    leaf = _cert("localhost", leaf_key, issuer=("Test EC CA", root_key))
    (tmp_path / "fix.itbit.pem").write_bytes(_pem(old_root) + _pem(leaf))
    (tmp_path / "ca.crt").write_bytes(_pem(new_root) + _pem(old_root))
    verdict = oracle.verify(tmp_path / "ca.crt", tmp_path / "fix.itbit.pem")
    assert verdict is not None and not verdict.ok
    report = diagnose([(n, (tmp_path / n).read_bytes()) for n in ("fix.itbit.pem", "ca.crt")])
    step1 = report.step(1).findings[0]
    assert (step1.evidence.get("openssl_error"), step1.evidence.get("depth")) == (verdict.error, verdict.depth)
    order = [f for f in report.step(5).findings if f.code == "files.bundle_order"]
    assert order and "localhost" in order[0].message


# 6. A self-signed first certificate without basicConstraints (boringssl's pss_sha256_unknown_mgf.pem)
# given with an unrelated root: openssl says error 18 at depth 0.


def test_a_self_signed_client_certificate_without_basic_constraints_gets_openssls_error(tmp_path: Path) -> None:
    root = _cert("Policy Root", _key(), ca=True)
    verdict, step1 = _verdicts([("fix.itbit.pem", _cert("PSS Self", _key())), ("ca.crt", root)], tmp_path)
    assert (verdict, step1) == (oracle.Verdict(False, 18, 0), [(18, 0)])
    # Only OpenSSL reads it (boringssl's has an unknown MGF; here version 4, which cryptography refuses).
    rsa_key = rsa.generate_private_key(65537, 2048)
    odd = oddities.v4_of(_pem(_cert("PSS Self", rsa_key)), rsa_key)  # type: ignore[arg-type]
    (tmp_path / "fix.itbit.pem").write_bytes(odd)
    verdict = oracle.verify(tmp_path / "ca.crt", tmp_path / "fix.itbit.pem")
    report = diagnose([("fix.itbit.pem", odd), ("ca.crt", _pem(root))])
    step1_only = [(f.evidence.get("openssl_error"), f.evidence.get("depth")) for f in report.step(1).findings]
    assert verdict is not None and step1_only == [(verdict.error, verdict.depth)]


# 7. A PKCS#12 encrypted with RC2-40 (boringssl's empty_password.p12): OpenSSL 3 extracts it only with -legacy.


def test_legacy_pkcs12_commands_work_with_the_systems_openssl(tmp_path: Path) -> None:
    run_openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem",
                "-subj", "/CN=legacy", "-days", "30", cwd=tmp_path)
    for password, name in (("", "open.p12"), ("secret", "locked.p12")):
        run_openssl("pkcs12", "-export", "-legacy", "-in", "c.pem", "-inkey", "k.pem", "-passout", f"pass:{password}",
                    "-out", name, cwd=tmp_path)
        found = [f for f in diagnose([(name, (tmp_path / name).read_bytes())]).step(5).findings if f.code == "files.pkcs12"]
        assert found and found[0].evidence["legacy_encryption"] is True
        for command in found[0].commands[:4]:
            given = command.replace(f"-in {name}", f"-in {name} -passin pass:secret") if password else command
            done = subprocess.run(given, shell=True, cwd=tmp_path, capture_output=True, timeout=60, check=False)
            assert done.returncode == 0, (given, done.stderr)
    (tmp_path / "k.pem").unlink()


# 4. A leaf whose authority key identifier is not the same-named CA's key id (mbedtls' dir4/cert72.crt
# with cert11.crt): OpenSSL 3 (the users' openssl and stunnel) says error 20 at depth 0, not 7.


def test_an_authority_key_id_other_than_the_cas_gets_openssls_error_20(tmp_path: Path) -> None:
    root_key, old_key, leaf_key = _key(), _key(), _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test root 2")])
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test leaf")]))
        .issuer_name(name).public_key(leaf_key.public_key()).serial_number(7)
        .not_valid_before(_NOW - dt.timedelta(days=1)).not_valid_after(_NOW + dt.timedelta(days=30))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(old_key.public_key()), critical=False)
        .sign(old_key, hashes.SHA256())  # signed by the CA's old key: ca.crt was regenerated since
    )
    root = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(root_key.public_key())
        .serial_number(1).not_valid_before(_NOW - dt.timedelta(days=1)).not_valid_after(_NOW + dt.timedelta(days=30))
        # CA:TRUE with its BOOLEAN as 0x01 (BER, not DER), as mbedtls' cert11.crt: the linked OpenSSL
        # then skips the key-id check, and cryptography refuses every extension of the certificate.
        .add_extension(x509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, bytes.fromhex("3003010101")), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    verdict, step1 = _verdicts([("fix.itbit.pem", leaf), ("ca.crt", root)], tmp_path)
    assert (verdict, step1) == (oracle.Verdict(False, 20, 0), [(20, 0)])


def test_a_leaf_saved_as_ca_crt_is_the_ca_file_when_fix_itbit_pem_holds_a_ca(tmp_path: Path) -> None:
    """zlint's caMultipleValidCountires.pem as fix.itbit.pem, a subscriber certificate as ca.crt: error 18."""
    other_key = _key()
    leaf = _cert("leaf.example.com", _key(), issuer=("Other CA", other_key), ca=False)
    verdict, step1 = _verdicts([("fix.itbit.pem", _cert("Some Root", _key(), ca=True)), ("ca.crt", leaf)], tmp_path)
    assert (verdict, step1) == (oracle.Verdict(False, 18, 0), [(18, 0)])

"""Issue 10's QA round: the cases the public corpora showed where fixcheck and OpenSSL disagreed,
rebuilt at test time (openssl CLI, cryptography where a date or extension must be forced)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.engine import diagnose
from bot.engine.report import Report
from tests.corpus import der, oddities

_NOW = dt.datetime.now(dt.UTC)


def _codes(report: Report, step: int) -> list[str]:
    return [f.code for f in report.step(step).findings]


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
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

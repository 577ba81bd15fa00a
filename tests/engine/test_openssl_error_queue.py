"""A message names the reasons OpenSSL gave for its own file, not those an earlier call left behind.

pyOpenSSL reports a failed load with every entry on OpenSSL's (per-thread) error queue, and
a verification that meets a certificate whose extensions OpenSSL cannot decode leaves an
entry there ('invalid certificate'). In the bot one thread serves many users, so a leftover
would put the reasons of one diagnosis into the next one's message.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.bindings.openssl.binding import Binding
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID, NameOID
from OpenSSL import crypto

from bot.engine import diagnose


@pytest.fixture(autouse=True)
def _empty_queue() -> None:
    """Each test starts from an empty queue, whatever ran before it in this worker."""
    Binding.lib.ERR_clear_error()


def _seq(body: bytes) -> bytes:
    return b"\x30" + bytes([len(body)]) + body


# A PRIVATE KEY block OpenSSL cannot read: SEQUENCEs nested around one INTEGER. (The label is
# built here, so that no tracked file holds a private key's BEGIN line, even around junk.)
_LABEL = b"PRIVATE " + b"KEY"
NOT_A_KEY = (
    b"-----BEGIN " + _LABEL + b"-----\n"
    + base64.b64encode(_seq(_seq(_seq(_seq(b"\x02\x01\x05")))))
    + b"\n-----END " + _LABEL + b"-----\n"
)


def _bad_extension_ca() -> bytes:
    """A self-signed CA whose basicConstraints OpenSSL cannot decode (cryptography forces the bytes)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Odd Extensions CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, b"\x01\x02"), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM)


def _unreadable_key_message() -> str:
    report = diagnose([("notes.txt", NOT_A_KEY)]).to_dict()
    found = [f["message"] for s in report["steps"] for f in s["findings"] if "cannot be read by OpenSSL" in f["message"]]
    assert len(found) == 1, report
    return found[0]


def test_a_verification_leaves_nothing_for_the_next_diagnosis() -> None:
    alone = _unreadable_key_message()
    odd_ca = _bad_extension_ca()
    # Step 1 verifies the odd CA's certificate with OpenSSL.
    diagnose([("host.crt", odd_ca), ("ca.crt", odd_ca)])
    assert Binding.lib.ERR_peek_error() == 0, "the diagnosis left errors on OpenSSL's queue"
    assert _unreadable_key_message() == alone


def test_errors_left_by_another_openssl_user_are_not_this_files() -> None:
    alone = _unreadable_key_message()
    # Another OpenSSL user in the process (pyOpenSSL itself, here) verifies the odd certificate
    # and leaves OpenSSL's 'invalid certificate' on the queue.
    odd = crypto.load_certificate(crypto.FILETYPE_PEM, _bad_extension_ca())
    store = crypto.X509Store()
    store.add_cert(odd)
    with pytest.raises(crypto.X509StoreContextError):
        crypto.X509StoreContext(store, odd).verify_certificate()
    assert Binding.lib.ERR_peek_error() != 0, "this test needs an error left on the queue"
    assert _unreadable_key_message() == alone

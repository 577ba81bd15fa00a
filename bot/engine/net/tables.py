"""TLS alert and X.509 verify-error numbers, and how fixcheck reads them.

Classification is by number, never by text: OpenSSL words the same alert differently
between versions ("sslv3 alert handshake failure" in 1.1 and 3.0, "tls alert ..."
elsewhere), but alert 40 is alert 40 everywhere (RFC 8446 §6, RFC 5246 §7.2).
"""

from __future__ import annotations

# TLS AlertDescription values (RFC 8446 §6 and RFC 5246 §7.2), with their RFC names.
ALERT_NAMES: dict[int, str] = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    22: "record_overflow",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}

# Alerts a server sends when it refuses the client certificate it received (or the
# absence of one). 40 counts only once the client has sent its certificate: before
# that it means "no common protocol/cipher".
CLIENT_CERT_ALERTS = frozenset({40, 42, 43, 44, 45, 46, 48, 49, 51, 116})

# What each alert means for the client's certificate, in plain words.
CLIENT_CERT_ALERT_MEANING: dict[int, str] = {
    40: "the server refused the handshake after receiving your certificate (OpenSSL servers send this when the "
    "certificate's CA is not one they trust, and OpenSSL 1.x/TLS 1.2 servers for any client-certificate problem)",
    42: "the server found your certificate bad (not verifiable, or its CA is not one the server trusts)",
    43: "the server does not support your certificate's type",
    44: "the server says your certificate was revoked",
    45: "the server says your certificate has expired",
    46: "the server could not validate your certificate (certificate_unknown)",
    48: "the server does not know the CA that issued your certificate (unknown_ca)",
    49: "the server accepted your certificate but refuses access (access_denied)",
    51: "a signature did not verify (decrypt_error): either the server holds a CA with your CA's name but "
    "another key (a regenerated ca.crt the exchange has not installed), or the handshake signature made with "
    "your private key failed (the key is not the certificate's key)",
    116: "the server requires a client certificate and none was sent (certificate_required)",
}

# OpenSSL X509_V_ERR_* numbers used in wording (the text comes from OpenSSL itself).
V_ERR_UNABLE_TO_GET_ISSUER_CERT = 2
V_ERR_CERT_NOT_YET_VALID = 9
V_ERR_CERT_HAS_EXPIRED = 10
V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18
V_ERR_SELF_SIGNED_CERT_IN_CHAIN = 19
V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21

# OpenSSL 3.0's texts, used only if the library's own string is not reachable.
_VERIFY_TEXT_FALLBACK: dict[int, str] = {
    2: "unable to get issuer certificate",
    7: "certificate signature failure",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    24: "invalid CA certificate",
    26: "unsupported certificate purpose",
    62: "hostname mismatch",
    66: "EE certificate key too weak",
    67: "CA certificate key too weak",
    68: "CA signature digest algorithm too weak",
}


def alert_name(number: int) -> str:
    return ALERT_NAMES.get(number, f"alert {number}")


def verify_error_text(number: int) -> str:
    """OpenSSL's own text for verify error `number`, as `openssl s_client` prints it."""
    text: str | None = None
    try:
        from OpenSSL._util import ffi, lib  # private, optional: the table below is a fine answer

        raw = lib.X509_verify_cert_error_string(number)
        if raw != ffi.NULL:
            text = str(ffi.string(raw).decode("ascii", "replace"))
    except Exception:  # noqa: BLE001
        text = None
    return text or _VERIFY_TEXT_FALLBACK.get(number, f"verify error {number}")

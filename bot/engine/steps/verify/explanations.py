"""What each OpenSSL verify error means for the user, as a table.

`openssl verify` answers with one error number, the depth of the certificate it is about
(0: the client certificate; 1 and up: the CA certificates above it) and a short text.
Each row of `BY_ERROR` (and of `AT_LEAF`, which wins at depth 0) gives the finding for
one error: its code, its message, its remediation and its commands. Messages and commands
are `str.format` templates; the fields they may name are those of `_fields`. A new error
worth its own words is one row here and one line in the table's test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography import x509

from bot.engine import certs
from bot.engine.report import Finding, Status
from bot.engine.steps.verify.verification import akid_mismatch, openssl_verify

# OpenSSL's X509_V_ERR_* numbers that need their own explanation.
ERR_UNABLE_TO_GET_ISSUER = 2
ERR_SIGNATURE_FAILURE = 7
ERR_NOT_YET_VALID = 9
ERR_EXPIRED = 10
ERR_DEPTH_ZERO_SELF_SIGNED = 18
ERR_UNABLE_TO_GET_LOCAL_ISSUER = 20
ERR_INVALID_CA = 24
ERR_CA_KEY_TOO_SMALL = 67  # X509_V_ERR_CA_KEY_TOO_SMALL
ERR_EE_KEY_TOO_SMALL = 66
ERR_CA_MD_TOO_WEAK = 68

REGENERATE = (
    "The certificate cannot be validated by this CA file, so the connection cannot work with "
    "these files. Find the ca.crt that signed this certificate, or regenerate the certificates "
    "with the guide's onboarding commands. If a new ca.crt is made, it must be sent to the "
    "exchange and installed on its FIX server before you retry."
)

# The commands the rows list, by name (templates too: `{cert_file}` and `{ca_file}` are quoted).
VERIFY = "openssl verify -CAfile {ca_file} {cert_file}"
SHOW_ISSUER = "openssl x509 -noout -issuer -in {cert_file}"
SHOW_CA = "openssl x509 -text -in {ca_file} | grep -E '(Subject|Issuer):'"
SHOW_DATES = "openssl x509 -noout -dates -in {cert_file}"
VERIFY_APART_FROM_DATES = "openssl verify -no_check_time -CAfile {ca_file} {cert_file}"
SHOW_BASIC_CONSTRAINTS = "openssl x509 -noout -text -in {ca_file} | grep -A1 'Basic Constraints'"


@dataclass(frozen=True)
class Explanation:
    """One row: the finding for one OpenSSL verify error (status is always fail).

    `about_dates`: the error is the certificate's validity period; `{rest}` then says whether
    anything else is wrong (checked again with the dates left out), and the remediation is
    left out when renewing is the whole fix (step 8 says how).
    """

    code: str
    message: str
    remediation: str
    commands: tuple[str, ...]
    about_dates: bool = False


_EXPIRED_MESSAGE = "{Where} has expired. {said}{rest}"

# At depth 0 (the client certificate itself), these rows come before BY_ERROR's.
AT_LEAF: dict[int, Explanation] = {
    ERR_EXPIRED: Explanation(
        "verify.expired", _EXPIRED_MESSAGE, REGENERATE, (VERIFY, SHOW_DATES, VERIFY_APART_FROM_DATES), True
    ),
    ERR_UNABLE_TO_GET_LOCAL_ISSUER: Explanation(
        "verify.wrong_ca",
        "The CA file does not hold the CA that issued the certificate: it was issued by '{issuer}', the CA file "
        "holds {ca_subjects}.{namesake} {said}{also_dates}",
        REGENERATE,
        (VERIFY, SHOW_ISSUER, SHOW_CA),
    ),
}

_INCOMPLETE_CHAIN = Explanation(
    "verify.incomplete_chain",
    "The CA file holds the certificate's issuer but not the rest of its chain up to a self-signed root. "
    "{said} Step 2 lists what the file holds.",
    "Add every intermediate CA certificate and the root certificate to the CA file, in order.",
    (VERIFY, SHOW_CA),
)
_TOO_WEAK = Explanation(
    "verify.too_weak",
    "OpenSSL refuses a key or signature algorithm as too weak for its default security level. {said} "
    "Step 5 names the weak key.",
    "Regenerate with at least 2048-bit RSA (the guide uses 4096) and SHA-256 signatures.",
    (VERIFY,),
)

# At any depth (unless AT_LEAF has the error at depth 0).
BY_ERROR: dict[int, Explanation] = {
    ERR_EXPIRED: Explanation(
        "verify.ca_expired", _EXPIRED_MESSAGE, REGENERATE, (VERIFY, SHOW_DATES, VERIFY_APART_FROM_DATES), True
    ),
    ERR_NOT_YET_VALID: Explanation(
        "verify.not_yet_valid",
        "{Where} is not valid yet (check this machine's clock, or the dates the certificate was made with). "
        "{said}{rest}",
        REGENERATE,
        (VERIFY, SHOW_DATES, VERIFY_APART_FROM_DATES),
        True,
    ),
    ERR_SIGNATURE_FAILURE: Explanation(
        "verify.bad_signature",
        "The CA file holds a certificate with the right name ('{issuer}') but a different key: ca.crt was most "
        "likely regenerated after this certificate was signed (or the certificate was altered). {said}{also_dates}",
        REGENERATE,
        (VERIFY, SHOW_ISSUER, SHOW_CA),
    ),
    ERR_UNABLE_TO_GET_ISSUER: _INCOMPLETE_CHAIN,
    ERR_UNABLE_TO_GET_LOCAL_ISSUER: _INCOMPLETE_CHAIN,
    ERR_DEPTH_ZERO_SELF_SIGNED: Explanation(
        "verify.self_signed",
        "The client certificate is self-signed and is not the certificate in the CA file. {said}",
        REGENERATE,
        (VERIFY,),
    ),
    ERR_INVALID_CA: Explanation(
        "verify.invalid_ca",
        "A certificate in the CA file is not a CA certificate (it lacks CA:TRUE), so OpenSSL will not let it "
        "sign. {said} A host certificate may have been saved as ca.crt.",
        REGENERATE,
        (VERIFY, SHOW_BASIC_CONSTRAINTS),
    ),
    ERR_EE_KEY_TOO_SMALL: _TOO_WEAK,
    ERR_CA_KEY_TOO_SMALL: _TOO_WEAK,
    ERR_CA_MD_TOO_WEAK: _TOO_WEAK,
}

# Every other error.
OTHER = Explanation("verify.failed", "OpenSSL does not validate {where}. {said}", REGENERATE, (VERIFY,))


def explanation(number: int, depth: int) -> Explanation:
    """The row for OpenSSL error `number` about the certificate at `depth`."""
    at_leaf = AT_LEAF.get(number) if depth == 0 else None
    return at_leaf or BY_ERROR.get(number, OTHER)


class _Fields(dict[str, str]):
    """The words a template may name, each worked out only when a template names it
    (the namesake check reads key identifiers, and the row of most errors does not need it)."""

    def __init__(self, makers: Mapping[str, Callable[[], str]]) -> None:
        super().__init__()
        self._makers = makers

    def __missing__(self, name: str) -> str:
        value = self[name] = self._makers[name]()
        return value


def explain(
    error: tuple[int, int, str],
    cert: x509.Certificate,
    cas: list[x509.Certificate],
    now: dt.datetime,
    file_names: tuple[str, str],
    evidence: dict[str, object],
) -> Finding:
    """The finding for OpenSSL's `error` (number, depth, text) on `cert` with the CA file `cas`.

    `file_names` are the certificate's and the CA file's names, quoted for the commands.
    """
    number, depth, _ = error
    row = explanation(number, depth)
    fields = _fields(error, cert, cas, now, file_names)
    remediation: str | None = row.remediation
    if row.about_dates:
        fields["rest"], renewing_fixes_it = _dates_rest(cert, cas, now, evidence)
        remediation = None if renewing_fixes_it else row.remediation
    commands = tuple(c.format_map(fields) for c in row.commands)
    return Finding(row.code, Status.FAIL, row.message.format_map(fields), remediation, commands, evidence)


def _fields(
    error: tuple[int, int, str],
    cert: x509.Certificate,
    cas: list[x509.Certificate],
    now: dt.datetime,
    file_names: tuple[str, str],
) -> _Fields:
    number, depth, text = error
    where = "the client certificate" if depth == 0 else f"the CA certificate at depth {depth}"
    return _Fields(
        {
            "cert_file": lambda: file_names[0],
            "ca_file": lambda: file_names[1],
            "where": lambda: where,
            # The sentence's first letter only ("The CA certificate", not "The ca certificate").
            "Where": lambda: where[:1].upper() + where[1:],
            "said": lambda: f"OpenSSL error {number} at depth {depth}: {text}.",
            "issuer": lambda: certs.issuer_name(cert),
            "ca_subjects": lambda: ", ".join(repr(certs.subject_name(c)) for c in cas),
            "namesake": lambda: _namesake(cert, cas),
            "also_dates": lambda: _also_dates(cert, now),
        }
    )


def _namesake(cert: x509.Certificate, cas: list[x509.Certificate]) -> str:
    """A CA of the issuer's name but another key in the file: say so (ca.crt regenerated?)."""
    if not any(akid_mismatch(cert, c) for c in cas):
        return ""
    return (
        " A CA of that name is in the file, but its subject key identifier differs from the certificate's "
        "authority key identifier: it is another CA of the same name (ca.crt regenerated after signing?)."
    )


def _dates_rest(
    cert: x509.Certificate, cas: list[x509.Certificate], now: dt.datetime, evidence: dict[str, object]
) -> tuple[str, bool]:
    """Say once why the dates fail, and whether anything else is wrong: (the words, renewing is the whole fix).

    Checked again inside the validity window, as `openssl verify -no_check_time`; the
    answer goes to the evidence as `valid_otherwise`.
    """
    inner = _otherwise(cert, cas, now)
    evidence["valid_otherwise"] = inner is None
    if certs.not_after(cert) < certs.not_before(cert):
        return (
            " Its validity ends before it begins (it was signed with a negative -days), so no clock can make it valid.",
            True,
        )
    if inner is None:
        return (
            " Apart from the dates the certificate validates, so renewing is the whole fix: step 8 says which renewal applies.",
            True,
        )
    return f" Even within its dates it would fail (OpenSSL error {inner[0]}: {inner[2]}).", False


def _otherwise(cert: x509.Certificate, cas: list[x509.Certificate], now: dt.datetime) -> tuple[int, int, str] | None:
    """Verify with the dates left out (`openssl verify -no_check_time`).

    Checking at some moment inside every certificate's validity misjudged a host
    certificate whose validity began before its CA's (a CA re-issued later with the same
    key): no such moment exists, and any moment chosen blamed the CA, so step 1 asked for
    a new ca.crt while step 8 said ca.crt does not change.
    """
    return openssl_verify(cert, cas, now, check_time=False)


def _also_dates(cert: x509.Certificate, now: dt.datetime) -> str:
    """OpenSSL reports one error; an out-of-date certificate behind another one is said too, as step 8 does."""
    if certs.not_after(cert) < now:
        return f" The certificate has also expired ({certs.openssl_date(certs.not_after(cert))}): step 8 says how to renew it."
    if certs.not_before(cert) > now:
        return f" The certificate is also not valid until {certs.openssl_date(certs.not_before(cert))}: see step 8."
    return ""

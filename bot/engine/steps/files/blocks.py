"""Step 5's findings about one PEM block of a file.

A block OpenSSL cannot read (a key too large to use, a gap copied from the guide's
shortened example, a block cut off before its END line, damaged or malformed content),
an encrypted key where the FIX client needs a plain one, and a CSR where the
certificate belongs. Readable but unusual objects are `objects.item_findings`'.
"""

from __future__ import annotations

from bot.engine.inputs import MAX_KEY_BITS, InputFile, Item, Kind
from bot.engine.keyinfo import openssl_versions
from bot.engine.pem import PemProblem
from bot.engine.report import Finding, Status
from bot.engine.roles import Role
from bot.engine.steps._common import q
from bot.engine.steps.files import checks
from bot.engine.steps.files.common import fail

MAX_KEY_BITS_TEXT = ", ".join(f"{alg} up to {bits} bits" for alg, bits in MAX_KEY_BITS.items())
# The parts a CSR found beside a private key may have been put in place of the certificate.
_CERTIFICATE_ROLES = (Role.CLIENT_BUNDLE, Role.CLIENT_CERT, Role.CLIENT_KEY, Role.UNKNOWN)


def block_findings(f: InputFile, item: Item, role: Role) -> list[Finding]:
    """The findings for block `item` of `f`, the file of this `role`."""
    if item.kind is Kind.UNREADABLE:
        return [_unreadable(f, item)]
    if item.kind is Kind.ENCRYPTED_KEY:
        return [_encrypted_key(f, item, role)]
    if item.kind is Kind.CSR and role in _CERTIFICATE_ROLES and f.of_kind(Kind.PRIVATE_KEY):
        return [_csr_in_place_of_cert(f, item)]
    return []


def _where(f: InputFile, item: Item) -> str:
    return f"{f.name}, block {item.index + 1} ({item.label}, line {item.first_line})"


def _unreadable(f: InputFile, item: Item) -> Finding:
    """Why OpenSSL cannot read the block, the most telling reason first."""
    if item.too_large is not None:
        return _key_too_large(f, item, item.too_large)
    if PemProblem.ELIDED in item.problems:
        return _elided(f, item)
    if PemProblem.NO_END in item.problems:
        return fail(
            "files.truncated",
            f,
            f"{_where(f, item)} has no matching -----END {item.label}----- line: the file was cut off (an incomplete copy or paste).",
            "Copy the whole block again, up to and including its END line.",
            (f"grep -n -- '-----' {q(f.name, 'file')}",),
        )
    return _corrupt(f, item)


def _key_too_large(f: InputFile, item: Item, key: str) -> Finding:
    tool = "x509" if "CERTIFICATE" in item.label and "REQUEST" not in item.label else "pkey"
    return fail(
        "files.key_too_large",
        f,
        f"{_where(f, item)} holds a {key}-bit key, larger than OpenSSL (and so stunnel and the FIX client) will use: {MAX_KEY_BITS_TEXT}. It was not used in the other steps.",
        "Regenerate the key and certificate with the guide's commands (openssl genrsa -out host.key 4096).",
        (f"openssl {tool} -noout -text -in {q(f.name, 'file')} | grep -i 'Public-Key'",),
        {"key": key},
    )


def _elided(f: InputFile, item: Item) -> Finding:
    line = checks.elided_line(f, item)
    return fail(
        "files.elided",
        f,
        f"{f.name}, line {line} (in block {item.index + 1}, {item.label}, which begins on line {item.first_line}) contains '...': it was copied from the guide's example, which shortens every block, or pasted with a gap. The real content is missing.",
        "Use your own generated file (or the full certificate from the onboarding page), not the guide's example.",
        (f"grep -n '\\.\\.\\.' {q(f.name, 'file')}",),
        {"line": line},
    )


def _corrupt(f: InputFile, item: Item) -> Finding:
    detail = item.openssl_error or ", ".join(p.value for p in item.problems) or "undecodable"
    # Only a block whose text did not decode is "damaged base64"; one that decoded but
    # that OpenSSL refuses holds a malformed (or unsupported) object.
    damage = (
        "its base64 content is damaged"
        if _bad_text(item)
        else f"its content is not a valid object of this type for {openssl_versions()['openssl_engine']} "
        "(if the command below succeeds on your machine, your OpenSSL is more lenient: compare `openssl version`)"
    )
    return fail(
        "files.pem_corrupt",
        f,
        f"{_where(f, item)} cannot be read by OpenSSL ({detail}): {damage}.",
        "Copy the block again from the original; do not retype or reflow it.",
        (f"openssl {_tool(item.label)} -in {q(f.name, 'file')} -noout",),
        # The verdict is the linked OpenSSL's: name it (the system's `openssl` may differ).
        {"problems": [p.value for p in item.problems], **openssl_versions()},
    )


def _encrypted_key(f: InputFile, item: Item, role: Role) -> Finding:
    if role is Role.CA_KEY:
        return Finding(
            "files.ca_key_encrypted",
            Status.PASS,
            f"{f.name}: the CA key is passphrase-protected, which is good practice (the FIX client never uses it).",
        )
    return fail(
        "files.encrypted_key",
        f,
        f"{_where(f, item)} is encrypted with a passphrase. stunnel and most FIX clients cannot ask for it when they start, so the handshake never gets a key.",
        "Write an unencrypted copy for the FIX client and keep it readable only by its user.",
        (f"openssl pkey -in {q(f.name, 'file')} -out host.key.plain", "chmod 600 host.key.plain"),
    )


def _csr_in_place_of_cert(f: InputFile, item: Item) -> Finding:
    return fail(
        "files.csr_instead_of_cert",
        f,
        f"{_where(f, item)} is a certificate signing request, not a certificate: the CSR was put where host.crt belongs.",
        "Sign the CSR (or use the certificate the exchange returned) and bundle that: cat host.crt host.key > fix.itbit.pem",
        ("openssl x509 -req -in host.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out host.crt -days 500 -sha256",),
    )


def _tool(label: str) -> str:
    """The openssl command that reads a block with this label."""
    if "REQUEST" in label:
        return "req"
    return "x509" if "CERTIFICATE" in label else "pkey"


def _bad_text(item: Item) -> bool:
    return any(p in item.problems for p in (PemProblem.BAD_BASE64, PemProblem.EMPTY_BODY))

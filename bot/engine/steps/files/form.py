"""Step 5's findings about one file as a whole, then about each of its blocks.

A file not read as PEM at all (too large, empty, binary: the `UNREAD` table), binary DER,
UTF-16 text, old Mac line ends, BEGIN/END lines OpenSSL will not see (`MARKER_PROBLEMS`),
too many blocks, text with no block at all; and when nothing fails, the harmless
variations (key first, CRLF, a PKCS#1 key, ...) as one note.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.inputs import MAX_FILE_BYTES, FileFormat, InputFile, KeyFormat, Kind
from bot.engine.keyinfo import openssl_versions
from bot.engine.pem import MAX_BLOCKS, PemProblem
from bot.engine.report import Finding, Status
from bot.engine.roles import Role
from bot.engine.steps._common import q
from bot.engine.steps.files import blocks, objects
from bot.engine.steps.files.common import fail


@dataclass(frozen=True)
class Unread:
    """One row: the `fail` finding for a file whose format kept it from being read as PEM.

    `message` and `commands` are `str.format` templates: `{file}` is the file's name,
    `{name}` the same quoted for a shell, `{limit}` the largest file read (bytes).
    """

    code: str
    message: str
    remediation: str
    commands: tuple[str, ...]
    names_openssl: bool = False  # the evidence names the OpenSSL that found nothing to read


GIVE_THE_PEM_FILES = "Give the PEM files of the onboarding: fix.itbit.pem, ca.crt and itbit-ca.pem."

UNREAD: dict[FileFormat, Unread] = {
    FileFormat.TOO_LARGE: Unread(
        "files.too_large",
        "{file} is larger than the {limit:,}-byte limit, so it was not read. A certificate bundle is a few KiB: "
        "this is not the file you meant.",
        "Give the PEM file itself (fix.itbit.pem, ca.crt or itbit-ca.pem).",
        ("ls -l {name}",),
    ),
    FileFormat.EMPTY: Unread(
        "files.empty",
        "{file} is empty.",
        "Save the file again: the copy or the command that wrote it failed.",
        ("ls -l {name}",),
    ),
    FileFormat.BINARY: Unread(
        "files.binary",
        "{file} is binary and holds no certificate, key, CSR or PKCS#12 container OpenSSL can read (an image, "
        "an archive or a document?).",
        GIVE_THE_PEM_FILES,
        ("file {name}", "openssl x509 -inform DER -noout -in {name}"),
        names_openssl=True,
    ),
}

# What is wrong with a BEGIN/END line that is almost right, by the problem the reader found.
MARKER_PROBLEMS = {
    PemProblem.INDENTED: "is indented; OpenSSL only sees a BEGIN/END line that starts in the first column",
    PemProblem.LOOKALIKE_DASHES: "uses look-alike dashes (pasted through a word processor or chat); OpenSSL needs five ASCII '-'",
}
OTHER_MARKER_PROBLEM = "is not a well-formed '-----BEGIN X-----' / '-----END X-----' line"


def file_findings(f: InputFile, role: Role) -> list[Finding]:
    """The findings for file `f`, which plays `role`."""
    special = objects.unexpected(f) + objects.container_findings(f) + objects.serial_file(f)
    if special:
        return special
    unread = UNREAD.get(f.format)
    if unread is not None:
        return [_unread(f, unread)]
    out = _der(f) + _encoding(f) + _markers(f)
    if f.encoding_problem != "utf-16":  # already explained once for the whole file
        for item in f.items:
            out.extend(blocks.block_findings(f, item, role))
            out.extend(objects.item_findings(f, item, role))
    out.extend(_too_many_blocks(f))
    out.extend(_no_pem(f, role))
    if not any(x.status is Status.FAIL for x in out):
        out.extend(_harmless(f))
    return out


def _unread(f: InputFile, row: Unread) -> Finding:
    fields = {"file": f.name, "name": q(f.name, "file"), "limit": MAX_FILE_BYTES}
    return fail(
        row.code,
        f,
        row.message.format_map(fields),
        row.remediation,
        tuple(c.format_map(fields) for c in row.commands),
        dict(openssl_versions()) if row.names_openssl else None,
    )


def _der(f: InputFile) -> list[Finding]:
    if f.format is not FileFormat.DER:
        return []
    item = f.items[0]
    tool = {"certificate": "x509", "csr": "req"}.get(item.kind.value, "pkey")
    what = "certificate or key" if item.kind is Kind.UNREADABLE else item.kind.value
    return [
        fail(
            "files.der",
            f,
            f"{f.name} holds a {what} in binary DER form; stunnel and FIX clients read PEM text (-----BEGIN ...).",
            "Convert it to PEM and use the converted file.",
            (f"openssl {tool} -inform DER -in {q(f.name, 'file')} -out {q(f.name + '.pem', 'out.pem')}",),
        )
    ]


def _encoding(f: InputFile) -> list[Finding]:
    """Text OpenSSL cannot read as lines: UTF-16, or CR-only line ends."""
    name = q(f.name, "file")
    out: list[Finding] = []
    if f.encoding_problem == "utf-16":
        out.append(
            fail(
                "files.utf16",
                f,
                f"{f.name} is saved as UTF-16 text (Windows PowerShell's '>' does this); OpenSSL cannot read it.",
                "Save it as ASCII/UTF-8, e.g. in PowerShell: Get-Content in.pem | Set-Content -Encoding ascii fix.itbit.pem",
                (f"file {name}",),
            )
        )
    if f.cr_only:
        out.append(
            fail(
                "files.cr_line_ends",
                f,
                f"{f.name} uses old Mac line ends (CR only). OpenSSL splits lines at LF, sees one long line and finds no certificate.",
                "Convert the line ends to LF.",
                (f"tr '\\r' '\\n' < {name} > fixed.pem",),
            )
        )
    return out


def _markers(f: InputFile) -> list[Finding]:
    """BEGIN/END lines that are almost right: OpenSSL does not see the block."""
    name = q(f.name, "file")
    out = [
        fail(
            "files.pem_marker",
            f,
            f"{f.name}, line {miss.line}: the {miss.label} marker {MARKER_PROBLEMS.get(miss.problem, OTHER_MARKER_PROBLEM)}. OpenSSL will not find this block.",
            "Copy the block again exactly as issued, with no leading spaces and five ASCII dashes on each side.",
            (f"grep -n -- 'BEGIN\\|END' {name} | cat -A",),
            {"line": miss.line, "problem": miss.problem.value},
        )
        for miss in f.near_misses
    ]
    if f.more_near_misses:
        out.append(
            fail(
                "files.pem_marker",
                f,
                f"{f.name} has {f.more_near_misses} more BEGIN/END lines that OpenSSL will not see (only the first {len(f.near_misses)} are listed).",
                "Copy the blocks again exactly as issued, with no leading spaces and five ASCII dashes on each side.",
                (f"grep -n -- 'BEGIN\\|END' {name} | cat -A | head -50",),
                {"more": f.more_near_misses},
            )
        )
    return out


def _too_many_blocks(f: InputFile) -> list[Finding]:
    if not f.truncated_at_limit:
        return []
    return [
        Finding(
            "files.too_many_blocks",
            Status.WARN,
            f"{f.name} holds more than {MAX_BLOCKS} PEM blocks; only the first {MAX_BLOCKS} were read.",
            "Give only the files of the onboarding, not a whole certificate store.",
            (f"grep -c BEGIN {q(f.name, 'file')}",),
        )
    ]


def _no_pem(f: InputFile, role: Role) -> list[Finding]:
    """Readable text with no block, and no other problem that explains why."""
    plain_text = f.format is FileFormat.TEXT and f.encoding_problem in (None, "bom")
    if not plain_text or role is not Role.UNKNOWN or f.near_misses or f.cr_only:
        return []
    return [
        Finding(
            "files.no_pem",
            Status.WARN,
            f"{f.name} holds text but no certificate, key or CSR.",
            GIVE_THE_PEM_FILES,
            (f"head -5 {q(f.name, 'file')}",),
        )
    ]


def _harmless(f: InputFile) -> list[Finding]:
    notes: list[str] = []
    kinds = [i.kind for i in f.items if i.kind in (Kind.CERTIFICATE, Kind.PRIVATE_KEY)]
    if (
        Kind.CERTIFICATE in kinds
        and Kind.PRIVATE_KEY in kinds
        and kinds.index(Kind.PRIVATE_KEY) < kinds.index(Kind.CERTIFICATE)
    ):
        notes.append("the key comes before the certificate (fine: OpenSSL and stunnel read either order)")
    if f.crlf:
        notes.append("Windows (CRLF) line ends (fine: OpenSSL reads them)")
    if f.encoding_problem == "bom":
        notes.append("a UTF-8 byte-order mark at the start (OpenSSL 3 reads it)")
    if any(i.key_format is KeyFormat.PKCS1 for i in f.items):
        notes.append("an RSA key in PKCS#1 form (BEGIN RSA PRIVATE KEY; fine)")
    if any(i.key_format is KeyFormat.SEC1 for i in f.items):
        notes.append("an EC key in SEC1 form (BEGIN EC PRIVATE KEY; fine)")
    if f.text_outside_blocks:
        notes.append("text outside the PEM blocks (fine: OpenSSL skips it)")
    if f.of_kind(Kind.PARAMETERS):
        notes.append("a PARAMETERS block (fine: ignored)")
    certs_in = f.of_kind(Kind.CERTIFICATE)
    if f.of_kind(Kind.PRIVATE_KEY) and len(certs_in) > 1:
        notes.append(f"{len(certs_in) - 1} CA certificate(s) after the client certificate (fine: sent as the chain)")
    if not notes:
        return []
    return [
        Finding(
            "files.variation",
            Status.PASS,
            f"{f.name} has " + "; ".join(notes) + ".",
            evidence={"file": f.name, "notes": notes},
        )
    ]

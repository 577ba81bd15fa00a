"""Step 5: does each file hold what the guide expects, in a form OpenSSL reads?

fix.itbit.pem = host.crt + host.key; itbit-ca.pem = the exchange's server CA; ca.crt =
the client CA. Harmless variations (key before certificate, CRLF line ends, a PKCS#1
key, text around the blocks, a chain appended to the bundle) are noted, not failed.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes

from bot.engine import certs
from bot.engine.context import Context
from bot.engine.inputs import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_KEY_BITS,
    MAX_TOTAL_BYTES,
    FileFormat,
    InputFile,
    Item,
    KeyFormat,
    Kind,
)
from bot.engine.keyinfo import openssl_versions
from bot.engine.pem import MAX_BLOCKS, PemProblem
from bot.engine.report import Finding, Status
from bot.engine.roles import Onboarding, Role
from bot.engine.steps._common import q
from bot.engine.steps.files import checks
from bot.engine.steps.files import objects as _files_objects

NUMBER = 5
TITLE = "Files hold what the guide expects"

MIN_RSA_BITS = 2048  # OpenSSL 3's default security level 2 refuses smaller RSA keys
MIN_EC_BITS = 224
MAX_FINDINGS_PER_FILE = 20  # a file with thousands of bad blocks must not give thousands of findings
MAX_KEY_BITS_TEXT = ", ".join(f"{alg} up to {bits} bits" for alg, bits in MAX_KEY_BITS.items())

_ROLE_WORDS = {
    Role.CLIENT_BUNDLE: "client certificate and key (fix.itbit.pem)",
    Role.CLIENT_CERT: "client certificate (host.crt)",
    Role.CLIENT_KEY: "client private key (host.key)",
    Role.CLIENT_CA: "client CA (ca.crt, sent to the exchange)",
    Role.CA_KEY: "client CA private key (ca.key)",
    Role.CSR: "certificate signing request (host.csr)",
    Role.SERVER_CA: "exchange server CA (itbit-ca.pem)",
    Role.STUNNEL_CONFIG: "stunnel configuration",
    Role.STUNNEL_LOG: "stunnel log",
    Role.UNKNOWN: "not recognised",
}


def run(ctx: Context) -> list[Finding]:
    ob = ctx.onboarding
    if not ob.files:
        return [Finding("files.none", Status.SKIP, "No files were given. Add fix.itbit.pem, ca.crt and itbit-ca.pem.")]
    findings: list[Finding] = []
    if ctx.unread_files:
        shown = ", ".join(ctx.unread_files[:10]) + (" and more" if len(ctx.unread_files) > 10 else "")
        findings.append(
            Finding(
                "files.too_many_files",
                Status.WARN,
                f"{len(ctx.unread_files)} input(s) were not read ({shown}): a diagnosis reads at most "
                f"{MAX_FILES} files and {MAX_TOTAL_BYTES // (1024 * 1024)} MiB in all.",
                "Give only the onboarding files: fix.itbit.pem, ca.crt, itbit-ca.pem (and a stunnel configuration).",
                evidence={"unread": ctx.unread_files[:50]},
            )
        )
    findings.extend(_files_objects.roles_failed(ob))
    for f in ob.files:
        findings.extend(_capped(f, _file_findings(f, ob.roles.get(f.name, Role.UNKNOWN))))
    findings.extend(_composition(ob))
    findings.extend(_weak_keys(ob))
    findings.extend(checks.readable_keys(ob))
    findings.extend(checks.bundle_order(ob))
    if checks.only_plain_text(ctx):
        # Beside real inputs a text note is harmless; alone, nothing at all was checked.
        findings = [checks.nothing_checked(x) if x.code == "files.no_pem" else x for x in findings]
    worst_bad = [x for x in findings if x.status in (Status.FAIL, Status.WARN)]
    inventory = [
        {"name": f.name, "role": ob.roles.get(f.name, Role.UNKNOWN).value, "kinds": list(f.kinds), "bytes": f.size}
        for f in ob.files
    ]
    if not worst_bad:
        described = "; ".join(f"{f.name}: {_ROLE_WORDS[ob.roles.get(f.name, Role.UNKNOWN)]}" for f in ob.files)
        findings.insert(
            0,
            Finding(
                "files.ok",
                Status.PASS,
                f"Every file holds what the guide expects. {described}.",
                evidence={"files": inventory},
            ),
        )
    else:
        findings.append(
            Finding("files.inventory", Status.PASS, "What each file was recognised as.", evidence={"files": inventory})
        )
    return findings


def _capped(f: InputFile, findings: list[Finding]) -> list[Finding]:
    """At most MAX_FINDINGS_PER_FILE findings for one file; one more says how many were left out."""
    if len(findings) <= MAX_FINDINGS_PER_FILE:
        return findings
    kept, rest = findings[: MAX_FINDINGS_PER_FILE - 1], findings[MAX_FINDINGS_PER_FILE - 1 :]
    status = max((x.status for x in rest), key=lambda s: s.rank)
    codes = sorted({x.code for x in rest})
    return [
        *kept,
        Finding(
            "files.more_problems",
            status,
            f"{f.name} has {len(rest)} more problem(s) like those above ({', '.join(codes)}), not listed one by one.",
            "Fix the problems above first, or copy the file again from the original.",
            (f"grep -n -- '-----' {q(f.name, 'file')} | head -50",),
            {"file": f.name, "more": len(rest), "codes": codes},
        ),
    ]


def _file_findings(f: InputFile, role: Role) -> list[Finding]:
    name = q(f.name, "file")
    special = _files_objects.unexpected(f) + _files_objects.container_findings(f) + _files_objects.serial_file(f)
    if special:
        return special
    if f.format is FileFormat.TOO_LARGE:
        return [
            _fail(
                "files.too_large",
                f,
                f"{f.name} is larger than the {MAX_FILE_BYTES:,}-byte limit, so it was not read. A certificate bundle is a few KiB: this is not the file you meant.",
                "Give the PEM file itself (fix.itbit.pem, ca.crt or itbit-ca.pem).",
                (f"ls -l {name}",),
            )
        ]
    if f.format is FileFormat.EMPTY:
        return [
            _fail(
                "files.empty",
                f,
                f"{f.name} is empty.",
                "Save the file again: the copy or the command that wrote it failed.",
                (f"ls -l {name}",),
            )
        ]
    if f.format is FileFormat.BINARY:
        return [
            _fail(
                "files.binary",
                f,
                f"{f.name} is binary and holds no certificate, key, CSR or PKCS#12 container OpenSSL can read (an image, an archive or a document?).",
                "Give the PEM files of the onboarding: fix.itbit.pem, ca.crt and itbit-ca.pem.",
                (f"file {name}", f"openssl x509 -inform DER -noout -in {name}"),
                dict(openssl_versions()),
            )
        ]
    out: list[Finding] = []
    if f.format is FileFormat.DER:
        item = f.items[0]
        tool = {"certificate": "x509", "csr": "req"}.get(item.kind.value, "pkey")
        what = "certificate or key" if item.kind is Kind.UNREADABLE else item.kind.value
        out.append(
            _fail(
                "files.der",
                f,
                f"{f.name} holds a {what} in binary DER form; stunnel and FIX clients read PEM text (-----BEGIN ...).",
                "Convert it to PEM and use the converted file.",
                (f"openssl {tool} -inform DER -in {name} -out {q(f.name + '.pem', 'out.pem')}",),
            )
        )
    if f.encoding_problem == "utf-16":
        out.append(
            _fail(
                "files.utf16",
                f,
                f"{f.name} is saved as UTF-16 text (Windows PowerShell's '>' does this); OpenSSL cannot read it.",
                "Save it as ASCII/UTF-8, e.g. in PowerShell: Get-Content in.pem | Set-Content -Encoding ascii fix.itbit.pem",
                (f"file {name}",),
            )
        )
    if f.cr_only:
        out.append(
            _fail(
                "files.cr_line_ends",
                f,
                f"{f.name} uses old Mac line ends (CR only). OpenSSL splits lines at LF, sees one long line and finds no certificate.",
                "Convert the line ends to LF.",
                (f"tr '\\r' '\\n' < {name} > fixed.pem",),
            )
        )
    for miss in f.near_misses:
        what = {
            PemProblem.INDENTED: "is indented; OpenSSL only sees a BEGIN/END line that starts in the first column",
            PemProblem.LOOKALIKE_DASHES: "uses look-alike dashes (pasted through a word processor or chat); OpenSSL needs five ASCII '-'",
        }.get(miss.problem, "is not a well-formed '-----BEGIN X-----' / '-----END X-----' line")
        out.append(
            _fail(
                "files.pem_marker",
                f,
                f"{f.name}, line {miss.line}: the {miss.label} marker {what}. OpenSSL will not find this block.",
                "Copy the block again exactly as issued, with no leading spaces and five ASCII dashes on each side.",
                (f"grep -n -- 'BEGIN\\|END' {name} | cat -A",),
                {"line": miss.line, "problem": miss.problem.value},
            )
        )
    if f.more_near_misses:
        out.append(
            _fail(
                "files.pem_marker",
                f,
                f"{f.name} has {f.more_near_misses} more BEGIN/END lines that OpenSSL will not see (only the first {len(f.near_misses)} are listed).",
                "Copy the blocks again exactly as issued, with no leading spaces and five ASCII dashes on each side.",
                (f"grep -n -- 'BEGIN\\|END' {name} | cat -A | head -50",),
                {"more": f.more_near_misses},
            )
        )
    if f.encoding_problem != "utf-16":  # already explained once for the whole file
        for item in f.items:
            out.extend(_item_findings(f, item, role))
            out.extend(_files_objects.item_findings(f, item, role))
    if f.truncated_at_limit:
        out.append(
            Finding(
                "files.too_many_blocks",
                Status.WARN,
                f"{f.name} holds more than {MAX_BLOCKS} PEM blocks; only the first {MAX_BLOCKS} were read.",
                "Give only the files of the onboarding, not a whole certificate store.",
                (f"grep -c BEGIN {name}",),
            )
        )
    if (
        f.format is FileFormat.TEXT
        and role is Role.UNKNOWN
        and not f.near_misses
        and not f.cr_only
        and f.encoding_problem in (None, "bom")
    ):
        out.append(
            Finding(
                "files.no_pem",
                Status.WARN,
                f"{f.name} holds text but no certificate, key or CSR.",
                "Give the PEM files of the onboarding: fix.itbit.pem, ca.crt and itbit-ca.pem.",
                (f"head -5 {name}",),
            )
        )
    if not any(x.status is Status.FAIL for x in out):
        out.extend(_harmless(f))
    return out


def _item_findings(f: InputFile, item: Item, role: Role) -> list[Finding]:
    name = q(f.name, "file")
    where = f"{f.name}, block {item.index + 1} ({item.label}, line {item.first_line})"
    if item.kind is Kind.UNREADABLE:
        if item.too_large is not None:
            tool = "x509" if "CERTIFICATE" in item.label and "REQUEST" not in item.label else "pkey"
            return [
                _fail(
                    "files.key_too_large",
                    f,
                    f"{where} holds a {item.too_large}-bit key, larger than OpenSSL (and so stunnel and the FIX client) will use: {MAX_KEY_BITS_TEXT}. It was not used in the other steps.",
                    "Regenerate the key and certificate with the guide's commands (openssl genrsa -out host.key 4096).",
                    (f"openssl {tool} -noout -text -in {name} | grep -i 'Public-Key'",),
                    {"key": item.too_large},
                )
            ]
        if PemProblem.ELIDED in item.problems:
            line = checks.elided_line(f, item)
            return [
                _fail(
                    "files.elided",
                    f,
                    f"{f.name}, line {line} (in block {item.index + 1}, {item.label}, which begins on line {item.first_line}) contains '...': it was copied from the guide's example, which shortens every block, or pasted with a gap. The real content is missing.",
                    "Use your own generated file (or the full certificate from the onboarding page), not the guide's example.",
                    (f"grep -n '\\.\\.\\.' {name}",),
                    {"line": line},
                )
            ]
        if PemProblem.NO_END in item.problems:
            return [
                _fail(
                    "files.truncated",
                    f,
                    f"{where} has no matching -----END {item.label}----- line: the file was cut off (an incomplete copy or paste).",
                    "Copy the whole block again, up to and including its END line.",
                    (f"grep -n -- '-----' {name}",),
                )
            ]
        detail = item.openssl_error or ", ".join(p.value for p in item.problems) or "undecodable"
        # Only a block whose text did not decode is "damaged base64"; one that decoded but
        # that OpenSSL refuses holds a malformed (or unsupported) object.
        damage = (
            "its base64 content is damaged"
            if _bad_text(item)
            else f"its content is not a valid object of this type for {openssl_versions()['openssl_engine']} "
            "(if the command below succeeds on your machine, your OpenSSL is more lenient: compare `openssl version`)"
        )
        return [
            _fail(
                "files.pem_corrupt",
                f,
                f"{where} cannot be read by OpenSSL ({detail}): {damage}.",
                "Copy the block again from the original; do not retype or reflow it.",
                (f"openssl {_tool(item.label)} -in {name} -noout",),
                # The verdict is the linked OpenSSL's: name it (the system's `openssl` may differ).
                {"problems": [p.value for p in item.problems], **openssl_versions()},
            )
        ]
    if item.kind is Kind.ENCRYPTED_KEY:
        if role is Role.CA_KEY:
            return [
                Finding(
                    "files.ca_key_encrypted",
                    Status.PASS,
                    f"{f.name}: the CA key is passphrase-protected, which is good practice (the FIX client never uses it).",
                )
            ]
        return [
            _fail(
                "files.encrypted_key",
                f,
                f"{where} is encrypted with a passphrase. stunnel and most FIX clients cannot ask for it when they start, so the handshake never gets a key.",
                "Write an unencrypted copy for the FIX client and keep it readable only by its user.",
                (f"openssl pkey -in {name} -out host.key.plain", "chmod 600 host.key.plain"),
            )
        ]
    if (
        item.kind is Kind.CSR
        and role in (Role.CLIENT_BUNDLE, Role.CLIENT_CERT, Role.CLIENT_KEY, Role.UNKNOWN)
        and f.of_kind(Kind.PRIVATE_KEY)
    ):
        return [
            _fail(
                "files.csr_instead_of_cert",
                f,
                f"{where} is a certificate signing request, not a certificate: the CSR was put where host.crt belongs.",
                "Sign the CSR (or use the certificate the exchange returned) and bundle that: cat host.crt host.key > fix.itbit.pem",
                (
                    "openssl x509 -req -in host.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out host.crt -days 500 -sha256",
                ),
            )
        ]
    return []


def _tool(label: str) -> str:
    """The openssl command that reads a block with this label."""
    if "REQUEST" in label:
        return "req"
    return "x509" if "CERTIFICATE" in label else "pkey"


def _bad_text(item: Item) -> bool:
    return any(p in item.problems for p in (PemProblem.BAD_BASE64, PemProblem.EMPTY_BODY))


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


def _composition(ob: Onboarding) -> list[Finding]:
    """Whole-onboarding checks: the bundle is complete, the two CA files are not confused."""
    out: list[Finding] = []
    cert_file = q(ob.client_cert_file, "fix.itbit.pem")
    client_key_kinds = (Kind.PRIVATE_KEY, Kind.ENCRYPTED_KEY)
    has_cert_role = ob.client_cert is not None
    # A block that is there but unreadable has its own finding: not "missing" as well.
    # A CA certificate checked against another CA (an intermediate given with its root, no
    # client certificate) is no bundle that lacks its key.
    checked_ca = ob.client_cert is not None and ob.client_cert.cert is not None and certs.is_ca(ob.client_cert.cert)
    if has_cert_role and ob.client_key is None and not checked_ca and not checks.damaged(ob, "PRIVATE KEY"):
        out.append(
            Finding(
                "files.bundle_missing_key",
                Status.FAIL,
                f"{ob.client_cert_file} holds the client certificate but no private key, and no separate host.key was given. fix.itbit.pem must hold both.",
                "Rebuild it from the certificate and its key: cat host.crt host.key > fix.itbit.pem",
                (f"grep -c 'PRIVATE KEY' {cert_file}", "cat host.crt host.key > fix.itbit.pem"),
            )
        )
    elif has_cert_role and ob.client_key is not None and ob.client_key_file != ob.client_cert_file:
        out.append(
            Finding(
                "files.separate_key",
                Status.PASS,
                f"The certificate ({ob.client_cert_file}) and key ({ob.client_key_file}) are separate files; the FIX client or stunnel needs them together, as fix.itbit.pem.",
                None,
                (f"cat {cert_file} {q(ob.client_key_file, 'host.key')} > fix.itbit.pem",),
            )
        )
    if not has_cert_role:
        key_files = [
            f
            for f in ob.files
            if ob.roles.get(f.name) in (Role.CLIENT_KEY, Role.CLIENT_BUNDLE) and f.of_kind(*client_key_kinds)
        ]
        csr_files = [f for f in ob.files if f.of_kind(Kind.CSR)]
        if key_files and csr_files:
            out.append(
                _fail(
                    "files.csr_instead_of_cert",
                    key_files[0],
                    f"There is a private key and a CSR ({csr_files[0].name}) but no signed certificate. A CSR cannot be used to connect.",
                    "Sign the CSR with your CA (guide) or send it to the exchange and use the certificate it returns; then cat host.crt host.key > fix.itbit.pem",
                    (
                        "openssl x509 -req -in host.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out host.crt -days 500 -sha256",
                    ),
                )
            )
        elif key_files and not checks.damaged(ob, "CERTIFICATE"):
            out.append(
                _fail(
                    "files.bundle_missing_cert",
                    key_files[0],
                    f"{key_files[0].name} holds a private key but no client certificate was found in any file.",
                    "Add the host certificate: cat host.crt host.key > fix.itbit.pem",
                    (f"grep -c 'BEGIN CERTIFICATE' {q(key_files[0].name, 'fix.itbit.pem')}",),
                )
            )
    # Different certificates in host.crt and fix.itbit.pem: one of them is stale.
    leafs = {
        f.name: f.of_kind(Kind.CERTIFICATE)[0].cert
        for f in ob.files
        if ob.roles.get(f.name) in (Role.CLIENT_BUNDLE, Role.CLIENT_CERT) and f.of_kind(Kind.CERTIFICATE)
    }
    distinct = {c.fingerprint(hashes.SHA256()) for c in leafs.values() if c is not None}
    if len(distinct) > 1:
        out.append(
            Finding(
                "files.client_certs_differ",
                Status.WARN,
                f"{', '.join(leafs)} hold different client certificates: one is out of date (a renewal not copied into fix.itbit.pem?). The diagnosis uses {ob.client_cert_file}.",
                "Rebuild fix.itbit.pem from the current host.crt and host.key.",
                tuple(f"openssl x509 -noout -subject -enddate -in {q(n, 'x')}" for n in leafs),
            )
        )
    out.extend(_ca_confusion(ob))
    if ob.server_ca_file is None and (has_cert_role or ob.client_ca):
        out.append(
            Finding(
                "files.server_ca_absent",
                Status.SKIP,
                "The exchange's server CA (itbit-ca.pem) was not given; the TLS check (step 4) needs it.",
                "Save the certificate from the onboarding page as itbit-ca.pem and add it.",
            )
        )
    return out


def _ca_confusion(ob: Onboarding) -> list[Finding]:
    if ob.server_ca_file is None or not ob.server_ca:
        return []
    server_fps = {c.fingerprint(hashes.SHA256()) for c in ob.server_ca}
    client_fps = {c.fingerprint(hashes.SHA256()) for c in ob.client_ca}
    leaf = ob.client_cert.cert if ob.client_cert else None
    command = f"openssl x509 -noout -subject -issuer -in {q(ob.server_ca_file, 'itbit-ca.pem')}"
    fix = "itbit-ca.pem must hold the exchange's server CA certificate, copied from the onboarding page; ca.crt is your own CA, which you send to the exchange."
    own_ca = (
        ob.server_ca_file == ob.client_ca_file
        or bool(server_fps & client_fps)
        or (leaf is not None and ob.ca_key is not None and any(certs.issued_by(leaf, c) for c in ob.server_ca))
    )
    swapped = _files_objects.swapped_cas(ob)
    if swapped:
        return swapped
    if leaf is not None and leaf.fingerprint(hashes.SHA256()) in server_fps:
        return [
            Finding(
                "files.ca_confused",
                Status.FAIL,
                f"{ob.server_ca_file} holds your own client certificate, not the exchange's server CA.",
                fix,
                (command,),
            )
        ]
    if own_ca and _looks_generation_one(ob, leaf):
        return [
            Finding(
                "files.ca_confused",
                Status.FAIL,
                f"{ob.server_ca_file} holds your own client CA ({certs.subject_name(ob.server_ca[0])}), not the exchange's server CA: the two CA files were confused.",
                fix,
                (command, f"openssl x509 -noout -subject -in {q(ob.client_ca_file, 'ca.crt')}"),
            )
        ]
    return []


def _looks_generation_one(ob: Onboarding, leaf: x509.Certificate | None) -> bool:
    """The client made its own CA (the guide's onboarding): it holds ca.key or a v1 host cert."""
    return (
        ob.ca_key is not None
        or (leaf is not None and leaf.version is x509.Version.v1)
    )


def _weak_keys(ob: Onboarding) -> list[Finding]:
    out: list[Finding] = []
    seen: set[bytes] = set()
    for f in ob.files:
        for item in f.items:
            info = item.public_key
            if info is None or info.spki_der in seen or item.kind not in (Kind.CERTIFICATE, Kind.PRIVATE_KEY):
                continue
            seen.add(info.spki_der)
            weak = (
                (info.algorithm == "RSA" and info.bits < MIN_RSA_BITS)
                or (info.algorithm == "EC" and info.bits < MIN_EC_BITS)
                or info.algorithm == "DSA"
            )
            if weak:
                what = "certificate" if item.kind is Kind.CERTIFICATE else "key"
                out.append(
                    _fail(
                        "files.weak_key",
                        f,
                        f"{f.name}: the {what}'s key is {info.detail}, too weak for current OpenSSL defaults (RSA needs at least {MIN_RSA_BITS} bits); the handshake will be refused.",
                        "Regenerate with the guide's commands (openssl genrsa -out host.key 4096) and re-sign.",
                        (
                            f"openssl {'x509' if what == 'certificate' else 'pkey'} -noout -text -in {q(f.name, 'file')} | head -15",
                        ),
                        {"key": info.detail},
                    )
                )
            # A root's own signature is never checked by OpenSSL, so its hash does not matter.
            if item.cert is not None and not certs.self_issued(item.cert):
                try:
                    algo = item.cert.signature_hash_algorithm
                except UnsupportedAlgorithm:  # an algorithm `cryptography` does not know: not MD5/SHA-1
                    algo = None
                if algo is not None and algo.name in ("md5", "sha1"):
                    out.append(
                        Finding(
                            "files.weak_signature",
                            Status.WARN,
                            f"{f.name}: the certificate is signed with {algo.name.upper()}, which OpenSSL 3 refuses at its default security level on many systems.",
                            "Re-sign with -sha256 as the guide does.",
                            (f"openssl x509 -noout -text -in {q(f.name, 'file')} | grep 'Signature Algorithm'",),
                        )
                    )
    return out


def _fail(
    code: str,
    f: InputFile,
    message: str,
    remediation: str,
    commands: tuple[str, ...],
    evidence: dict[str, object] | None = None,
) -> Finding:
    return Finding(code, Status.FAIL, message, remediation, commands, {"file": f.name, **(evidence or {})})

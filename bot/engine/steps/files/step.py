"""Step 5: does each file hold what the guide expects, in a form OpenSSL reads?

fix.itbit.pem = host.crt + host.key; itbit-ca.pem = the exchange's server CA; ca.crt =
the client CA. Harmless variations (key before certificate, CRLF line ends, a PKCS#1
key, text around the blocks, a chain appended to the bundle) are noted, not failed.
Each file is judged by `form` (and its blocks by `blocks` and `objects`), the files
together by `composition` and `checks`.
"""

from __future__ import annotations

from bot.engine.context import Context
from bot.engine.inputs import MAX_FILES, MAX_TOTAL_BYTES, InputFile
from bot.engine.report import Finding, Status
from bot.engine.roles import Role
from bot.engine.steps._common import q
from bot.engine.steps.files import checks, form, objects
from bot.engine.steps.files.composition import composition

NUMBER = 5
TITLE = "Files hold what the guide expects"

MAX_FINDINGS_PER_FILE = 20  # a file with thousands of bad blocks must not give thousands of findings

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
    findings.extend(objects.roles_failed(ob))
    for f in ob.files:
        findings.extend(_capped(f, form.file_findings(f, ob.roles.get(f.name, Role.UNKNOWN))))
    findings.extend(composition(ob))
    findings.extend(checks.weak_keys(ob))
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

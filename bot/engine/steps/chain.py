"""Step 2: is the client CA file a complete chain, in order, ending with its root?

The guide: list Subject and Issuer of every certificate in ca.crt; each Issuer must be
the Subject of the next certificate, and the last must be a self-signed root. This only
applies to a client certificate signed by a CA.
"""

from __future__ import annotations

from cryptography import x509

from bot.engine import certs
from bot.engine.context import Context
from bot.engine.report import Finding, Status
from bot.engine.roles import Onboarding
from bot.engine.steps._common import CLIENT_CA, q, skip

NUMBER = 2
TITLE = "CA file holds the complete chain"

MAX_UNRELATED_LISTED = 10  # a CA store pasted as ca.crt must not give hundreds of findings

COMPLETE_CHAIN = (
    "The CA file must hold every intermediate CA certificate and end with the root "
    "certificate (Issuer equal to Subject), each Issuer being the Subject of the next "
    "certificate. Rebuild it as: cat intermediate.crt root.crt > ca.crt"
)
KEEP_ONLY_THE_CHAIN = "Keep only the CA certificates that issued your client certificate, up to the root."


def run(ctx: Context) -> list[Finding]:
    ob = ctx.onboarding
    cannot = _cannot_check(ob)
    if cannot is not None:
        return [cannot]
    cas = ob.client_ca
    leaf = ob.client_cert.cert if ob.client_cert else None
    commands = _commands(ob)
    evidence: dict[str, object] = {"ca_file": ob.client_ca_file, "certificates": _listing(cas)}
    findings: list[Finding] = []
    path = _path_from(leaf, cas)
    if leaf is not None and not path:
        missing = _missing_intermediate(leaf, cas, commands, evidence)
        if missing is not None:
            return [missing]
        findings.append(_issuer_not_in_file(leaf))
    if not path:
        # No client certificate to start from: follow the file from its first certificate.
        path = _path_from_first(cas)
    findings.extend(_chain_end(path, cas, commands, evidence))
    findings.extend(_unrelated(cas, path, commands))
    if not any(f.status is Status.FAIL for f in findings):
        findings.insert(0, _complete(path, commands, evidence))
    return findings


def _cannot_check(ob: Onboarding) -> Finding | None:
    """The `skip` finding when there is no chain to follow here: a certificate only OpenSSL
    reads, a self-signed client certificate, or no CA file."""
    if any(c.cert is None for c in ob.client_ca_items):
        ca_file = q(ob.client_ca_file, CLIENT_CA)
        return skip(
            "chain.not_checked",
            f"OpenSSL reads every certificate in {ob.client_ca_file}, but the stricter parser this step uses "
            "refuses one of them (step 5, files.strict_parse), so the chain was not followed here; step 1 "
            "checked the certificate against the file with OpenSSL.",
            commands=(f"openssl crl2pkcs7 -nocrl -certfile {ca_file} | openssl pkcs7 -print_certs -noout",),
        )
    if ob.client_ca:
        return None
    leaf = ob.client_cert.cert if ob.client_cert else None
    if leaf is not None and certs.is_self_signed(leaf):
        return skip("chain.not_applicable", "The client certificate is self-signed: there is no CA chain to check.")
    return skip("chain.no_ca_file", "No client CA file (ca.crt) was given: add it to check its chain.")


def _commands(ob: Onboarding) -> tuple[str, str]:
    """The guide's listing of the CA file, and one that shows all of its certificates."""
    command = f"openssl x509 -text -in {q(ob.client_ca_file, CLIENT_CA)} | grep -E '(Subject|Issuer):'"
    # `openssl x509 -text` shows only the first certificate; the guide's readers need all.
    command_all = (
        f"openssl crl2pkcs7 -nocrl -certfile {q(ob.client_ca_file, CLIENT_CA)} | openssl pkcs7 -print_certs -noout"
    )
    return (command, command_all)


def _listing(cas: list[x509.Certificate]) -> list[dict[str, object]]:
    """What the CA file holds, in its order (the evidence of every finding about the file)."""
    return [
        {
            "position": n + 1,
            "subject": certs.subject_name(c),
            "issuer": certs.issuer_name(c),
            "self_signed": certs.is_self_signed(c),
            "ca": certs.is_ca(c),
        }
        for n, c in enumerate(cas)
    ]


def _missing_intermediate(
    leaf: x509.Certificate, cas: list[x509.Certificate], commands: tuple[str, ...], evidence: dict[str, object]
) -> Finding | None:
    """The file holds a chain with a root, but not the CA that issued the client certificate."""
    has_root = any(certs.is_self_signed(c) for c in cas)
    if not (len(cas) > 1 and has_root and not any(certs.subject(c) == certs.issuer(leaf) for c in cas)):
        return None
    return Finding(
        "chain.missing_intermediate",
        Status.FAIL,
        f"The CA file holds a chain with a root, but not the intermediate CA that issued the client "
        f"certificate ('{certs.issuer_name(leaf)}').",
        COMPLETE_CHAIN,
        commands,
        evidence,
    )


def _issuer_not_in_file(leaf: x509.Certificate) -> Finding:
    # The file does not hold the client certificate's issuer at all (or holds a regenerated
    # one): step 1 reports that once. Here, judge the file's own chain.
    return Finding(
        "chain.issuer_not_in_file",
        Status.SKIP,
        "This CA file did not issue the client certificate (step 1 explains), so its chain was "
        "checked on its own.",
        evidence={"client_certificate_issuer": certs.issuer_name(leaf)},
    )


def _chain_end(
    path: list[x509.Certificate], cas: list[x509.Certificate], commands: tuple[str, ...], evidence: dict[str, object]
) -> list[Finding]:
    """The chain must end with a self-signed root, and stand in the file in its order."""
    top = path[-1]
    if not certs.is_self_signed(top):
        issuer_present = any(certs.issued_by(top, c) for c in cas)
        return [
            Finding(
                "chain.missing_root" if not issuer_present else "chain.broken",
                Status.FAIL,
                f"The chain stops at '{certs.subject_name(top)}', which is not self-signed: its "
                f"issuer '{certs.issuer_name(top)}' is not in the CA file. The root certificate is missing.",
                COMPLETE_CHAIN,
                commands,
                evidence,
            )
        ]
    if not _in_file_order(path, cas):
        return [
            Finding(
                "chain.wrong_order",
                Status.WARN,
                "The CA file holds the whole chain, but not in order: each certificate's Issuer "
                "should be the Subject of the next, ending with the root. OpenSSL still finds the "
                "chain, but the guide's check and some servers expect the order.",
                COMPLETE_CHAIN,
                commands,
                evidence,
            )
        ]
    return []


def _unrelated(cas: list[x509.Certificate], path: list[x509.Certificate], commands: tuple[str, ...]) -> list[Finding]:
    """The certificates of the file off the chain: each one (up to MAX_UNRELATED_LISTED), then a count."""
    on_path = {id(c) for c in path}
    unrelated = [c for c in cas if id(c) not in on_path]
    findings = [
        Finding(
            "chain.unrelated_certificate",
            Status.WARN,
            f"'{certs.subject_name(c)}' in the CA file is not part of the client certificate's "
            "chain. It does no harm to validation, but the exchange will trust every CA in the "
            "ca.crt you send: remove certificates that do not belong.",
            KEEP_ONLY_THE_CHAIN,
            commands,
            {"subject": certs.subject_name(c), "issuer": certs.issuer_name(c)},
        )
        for c in unrelated[:MAX_UNRELATED_LISTED]
    ]
    if len(unrelated) > MAX_UNRELATED_LISTED:
        findings.append(
            Finding(
                "chain.more_unrelated",
                Status.WARN,
                f"{len(unrelated) - MAX_UNRELATED_LISTED} more certificate(s) in the CA file are not part of the "
                "client certificate's chain (not listed one by one).",
                KEEP_ONLY_THE_CHAIN,
                commands,
                {"more": len(unrelated) - MAX_UNRELATED_LISTED},
            )
        )
    return findings


def _complete(path: list[x509.Certificate], commands: tuple[str, ...], evidence: dict[str, object]) -> Finding:
    shape = "a self-signed root" if len(path) == 1 else f"{len(path) - 1} intermediate(s) and a self-signed root"
    return Finding(
        "chain.ok",
        Status.PASS,
        f"The CA file holds a complete chain: {shape}.",
        commands=commands,
        evidence=evidence,
    )


def _in_file_order(path: list[x509.Certificate], cas: list[x509.Certificate]) -> bool:
    """Each certificate of the path stands before its issuer in the file."""
    positions = [next(n for n, c in enumerate(cas) if c is p) for p in path]
    return positions == sorted(positions)


def _path_from(leaf: x509.Certificate | None, cas: list[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates of `cas` from the leaf's issuer up to where the chain ends."""
    if leaf is None:
        return []
    path: list[x509.Certificate] = []
    current = leaf
    while len(path) <= len(cas):
        issuer = next((c for c in cas if certs.issued_by(current, c) and all(c is not p for p in path)), None)
        if issuer is None or issuer is current:
            break
        path.append(issuer)
        if certs.is_self_signed(issuer):
            break
        current = issuer
    return path


def _path_from_first(cas: list[x509.Certificate]) -> list[x509.Certificate]:
    path = [cas[0]]
    if certs.is_self_signed(cas[0]):
        return path
    rest = _path_from(cas[0], cas)
    return path + rest

"""Step 5's checks across the files: where a pasted gap is, damaged versus missing blocks,
private keys other users can read, weak keys and signatures, the bundle's order, and a
text note that is the only input. `step` and its other modules call these.
"""

from __future__ import annotations

import dataclasses

from cryptography.exceptions import UnsupportedAlgorithm

from bot.engine import certs
from bot.engine.context import Context
from bot.engine.inputs import InputFile, Item, Kind
from bot.engine.report import Finding, Status
from bot.engine.roles import Onboarding, Role
from bot.engine.steps._common import q
from bot.engine.steps.files.common import fail

MIN_RSA_BITS = 2048  # OpenSSL 3's default security level 2 refuses smaller RSA keys
MIN_EC_BITS = 224


def elided_line(f: InputFile, item: Item) -> int:
    """The 1-based line of the first '...' inside `item`'s block; its BEGIN line if not on one line."""
    lines = (f.text or "").split("\n")
    for number in range(item.first_line, len(lines)):  # the lines after BEGIN (first_line is 1-based)
        if lines[number].startswith("-----"):
            break
        if "..." in lines[number] or "\u2026" in lines[number]:
            return number + 1
    return item.first_line


def damaged(ob: Onboarding, label_end: str) -> bool:
    """Some file has a block (`CERTIFICATE`, `PRIVATE KEY`) OpenSSL cannot read, or a marker it will not see."""
    for f in ob.files:
        if any(i.kind is Kind.UNREADABLE and i.label.endswith(label_end) for i in f.items):
            return True
        if any(m.label.endswith(label_end) for m in f.near_misses):
            return True
    return False


def readable_keys(ob: Onboarding) -> list[Finding]:
    """A file with an unencrypted private key that every user of the machine may read.

    The mode comes from the front end (the CLI stats what it reads); uploads have none.
    stunnel itself logs "Insecure file permissions" for the same bits (others').
    """
    out: list[Finding] = []
    for f in ob.files:
        if f.mode is None or not f.mode & 0o007 or not f.of_kind(Kind.PRIVATE_KEY):
            continue
        name = q(f.name, "host.key")
        out.append(
            Finding(
                "files.key_world_readable",
                Status.WARN,
                f"{f.name} holds an unencrypted private key and every user of this machine can read it "
                f"(mode {f.mode & 0o777:03o}). Anyone who copies it can connect as you until the certificate is renewed.",
                f"Make it readable by its owner only (the user the FIX client or stunnel runs as): chmod 600 {name}",
                (f"ls -l {name}", f"chmod 600 {name}"),
                {"file": f.name, "mode": f"{f.mode & 0o777:03o}"},
            )
        )
    return out


def bundle_order(ob: Onboarding) -> list[Finding]:
    """A CA certificate before the host certificate: stunnel presents the first, and `openssl verify` checks it."""
    bundle = next((f for f in ob.files if f.name == ob.client_cert_file), None)
    items = bundle.of_kind(Kind.CERTIFICATE) if bundle else []
    first = items[0].cert if items else None
    if first is None or not (certs.is_ca(first) or certs.is_self_signed(first)):
        return []
    later = [i.cert for i in items[1:] if i.cert is not None and not certs.is_ca(i.cert)]
    if not later:
        return []
    name = q(ob.client_cert_file, "fix.itbit.pem")
    return [
        Finding(
            "files.bundle_order",
            Status.WARN,
            f"{ob.client_cert_file} starts with the CA certificate '{certs.subject_name(first)}': stunnel presents "
            f"that first certificate (not the host certificate '{certs.subject_name(later[0])}' after it), and "
            f"`openssl verify` checks it too (step 1).",
            "Put the host certificate first, then its key, then any intermediate CA certificates: "
            "cat host.crt host.key > fix.itbit.pem",
            (f"openssl x509 -noout -subject -issuer -in {name}", f"grep -n 'BEGIN' {name}"),
            {"first": certs.subject_name(first), "host_certificate": certs.subject_name(later[0])},
        )
    ]


def only_plain_text(ctx: Context) -> bool:
    """Every input is text with no PEM block and no known role, and there is no endpoint or stunnel file."""
    ob = ctx.onboarding
    return (
        ctx.endpoint is None
        and ctx.stunnel is None
        and all(not f.items and ob.roles.get(f.name, Role.UNKNOWN) is Role.UNKNOWN for f in ob.files)
    )


def nothing_checked(finding: Finding) -> Finding:
    return dataclasses.replace(
        finding,
        status=Status.FAIL,
        message=finding.message + " Nothing else was given, so no step could check anything.",
    )


def weak_keys(ob: Onboarding) -> list[Finding]:
    """Keys OpenSSL 3 refuses at its default security level, and MD5 or SHA-1 signatures (each key once)."""
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
                    fail(
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

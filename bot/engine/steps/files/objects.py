"""Step 5's findings about objects that are not the guide's plain PEM files.

A `.p12`/`.pfx` container, an OpenSSH key, `ca.srl`, a key that cannot be a TLS
client key, and objects OpenSSL reads but stricter parsers refuse. `form` and
`composition` call these.
"""

from __future__ import annotations

from bot.engine import certs
from bot.engine.inputs import FileFormat, InputFile, Item, Kind
from bot.engine.keyinfo import openssl_versions
from bot.engine.report import Finding, Status
from bot.engine.roles import Onboarding, Role, server_named
from bot.engine.steps._common import q


def container_findings(f: InputFile) -> list[Finding]:
    """A PKCS#12 file: what it holds, and the `openssl pkcs12` commands that give the guide's files."""
    if f.format is not FileFormat.PKCS12 or not f.items or f.items[0].pkcs12 is None:
        return []
    contents = f.items[0].pkcs12
    name = q(f.name, "keystore.p12")
    pw = "" if contents.protected else " -passin pass:"
    # OpenSSL 3 refuses RC2/RC4/DES-encrypted containers ("unsupported") unless told -legacy.
    pw += " -legacy" if contents.legacy else ""
    extract = (
        f"openssl pkcs12 -in {name}{pw} -clcerts -nokeys -out host.crt",
        f"openssl pkcs12 -in {name}{pw} -nocerts -nodes -out host.key",
        f"openssl pkcs12 -in {name}{pw} -cacerts -nokeys -out ca.crt",
        "cat host.crt host.key > fix.itbit.pem",
    )
    if contents.protected:
        held = "It is password-protected, so what it holds could not be listed."
    else:
        listed = "; ".join(contents.subjects[:10]) or "no certificate"
        key = "and a private key" if contents.has_key else "and no private key"
        held = f"It opens without a password and holds {len(contents.subjects)} certificate(s) ({listed}) {key}."
    return [
        Finding(
            "files.pkcs12",
            Status.FAIL,
            f"{f.name} is a PKCS#12 container (.p12/.pfx, as Java and Windows keep keys). {held} "
            "stunnel and the guide's FIX setup read PEM files, not a container.",
            "Extract the certificate, key and CA certificates as PEM (you will be asked for the "
            "password if there is one) and bundle them as the guide does.",
            (f"openssl pkcs12 -info -in {name}{pw} -noout", *extract),
            {
                "file": f.name,
                "protected": contents.protected,
                "certificates": list(contents.subjects[:50]),
                "has_key": contents.has_key,
                "legacy_encryption": contents.legacy,
            },
        )
    ]


def serial_file(f: InputFile) -> list[Finding]:
    """`ca.srl`: the serial number file the guide's -CAcreateserial leaves; harmless."""
    if f.looks_like != "openssl-serial" or f.items:
        return []
    return [
        Finding(
            "files.serial_file",
            Status.PASS,
            f"{f.name} is the CA's serial-number file, left by the guide's -CAcreateserial "
            "(fine: it plays no part in the connection; keep it beside ca.key for the next signing).",
            commands=(f"cat {q(f.name, 'ca.srl')}",),
            evidence={"file": f.name},
        )
    ]


def item_findings(f: InputFile, item: Item, role: Role) -> list[Finding]:
    """Findings for one readable item that is unusual but not a plain error."""
    out: list[Finding] = []
    where = f"{f.name}, block {item.index + 1} ({item.label}, line {item.first_line})"
    name = q(f.name, "file")
    if item.kind is Kind.OPENSSH_KEY:
        out.append(
            Finding(
                "files.openssh_key",
                Status.WARN,
                f"{where} is an OpenSSH private key (made by ssh-keygen), not a TLS key: it plays no part in "
                "the FIX connection, and it is a secret that should not be shared.",
                "Remove it from what you send. The FIX client's key is the one inside fix.itbit.pem "
                "(BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY).",
                (f"ssh-keygen -l -f {name}",),
                {"file": f.name},
            )
        )
    if item.strict_error is not None:
        what = {Kind.CERTIFICATE: "x509", Kind.CSR: "req"}.get(item.kind, "pkey")
        inform = " -inform DER" if item.label == "DER" else ""
        out.append(
            Finding(
                "files.strict_parse",
                Status.WARN,
                f"{where}: OpenSSL ({openssl_versions()['openssl_engine']}) reads this {item.kind.value} and "
                f"fixcheck checked it with OpenSSL; but a stricter parser refuses it ({item.strict_error}). "
                "Other software (Java, Go, Python's cryptography, another OpenSSL version) may refuse it too: "
                "check that the openssl of the machine running stunnel reads it (command below).",
                "If stunnel or another tool rejects this file, reissue it with the guide's openssl commands.",
                (f"openssl {what}{inform} -noout -text -in {name}",),
                {"file": f.name, "defect": item.strict_error, **openssl_versions()},
            )
        )
    info = item.public_key
    if item.kind is Kind.PRIVATE_KEY and info is not None and not info.can_be_tls_client_key:
        out.append(
            Finding(
                "files.not_tls_key",
                Status.WARN,
                f"{where} is a {info.detail} key, which cannot sign a TLS handshake as a client key "
                "(OpenSSL 3.0's stunnel and the exchange expect RSA or EC): it was not taken as the client key.",
                "Use the RSA key made with the guide's commands (openssl genrsa -out host.key 4096).",
                (f"openssl pkey -noout -text -in {name} | head -1",),
                {"file": f.name, "key": info.detail, "role": role.value},
            )
        )
    return out


def unexpected(f: InputFile) -> list[Finding]:
    """A file whose reading failed in an unexpected way: say so, and how to look at it."""
    if f.internal_error is None:
        return []
    name = q(f.name, "file")
    return [
        Finding(
            "files.unreadable",
            Status.FAIL,
            f"fixcheck could not read {f.name} ({f.internal_error}); it was left out of the other steps. "
            "Check what OpenSSL makes of it with the commands below.",
            "If OpenSSL reads it, please report this with the command you ran (never attach private keys).",
            (f"file {name}", f"openssl x509 -noout -subject -in {name}", f"openssl pkey -noout -in {name}"),
            {"file": f.name, "error": f.internal_error},
        )
    ]


def roles_failed(ob: Onboarding) -> list[Finding]:
    if ob.error is None:
        return []
    return [
        Finding(
            "files.roles_failed",
            Status.WARN,
            f"fixcheck could not work out which file plays which part ({ob.error}); each file is still "
            "checked below, but the steps that need the client certificate or the CA were skipped.",
            "Please report this with the command you ran (never attach private keys). Meanwhile, "
            "follow the guide's commands with your files.",
            ("openssl verify -CAfile ca.crt fix.itbit.pem",),
        )
    ]


def swapped_cas(ob: Onboarding) -> list[Finding]:
    """itbit-ca.pem holds the CA that issued the client certificate, and the other CA file
    (ca.crt) does not: the two files were swapped. stunnel and the exchange pick them by name."""
    mine, theirs = ob.client_ca_file, ob.server_ca_file
    if not (mine and theirs and mine != theirs and server_named(mine) and not server_named(theirs)):
        return []
    own = certs.subject_name(ob.client_ca[0]) if ob.client_ca else "?"
    other = certs.subject_name(ob.server_ca[0]) if ob.server_ca else "?"
    a, b = q(mine, "itbit-ca.pem"), q(theirs, "ca.crt")
    return [
        Finding(
            "files.ca_swapped",
            Status.FAIL,
            f"The CA files are swapped: {mine} holds your own client CA ('{own}', which issued your client "
            f"certificate) and {theirs} holds '{other}', which did not. itbit-ca.pem must hold the exchange's "
            "server CA (stunnel's CAfile) and ca.crt your client CA (sent to the exchange).",
            "Swap the two files' contents (or names), then point stunnel's CAfile at the exchange's server CA.",
            (
                f"openssl x509 -noout -subject -in {a}",
                f"openssl x509 -noout -subject -in {b}",
                f"mv {a} swap.tmp && mv {b} {a} && mv swap.tmp {b}",
            ),
            {"client_ca_file": mine, "client_ca": own, "server_ca_file": theirs, "server_ca": other},
        )
    ]

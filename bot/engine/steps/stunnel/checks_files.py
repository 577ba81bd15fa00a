"""Step 7: what the files behind `cert`, `key` and `CAfile` hold.

The engine never opens the paths a configuration names. A front end that can (the
CLI) reads them and passes them as extra inputs named by the path as written; this
module matches them by full path, then by base name. Paths the front end looked for
and could not read come in `Context.stunnel_unreadable` (path -> reason).
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.engine.certs import issued_by
from bot.engine.context import Context
from bot.engine.inputs import FileFormat, InputFile, Kind
from bot.engine.report import Finding, Status
from bot.engine.roles import Role
from bot.engine.steps.stunnel.config import Option, StunnelConfig, basename, placeholder_in

_UNREADABLE_FORMATS = (FileFormat.EMPTY, FileFormat.BINARY, FileFormat.DER, FileFormat.TOO_LARGE)


def find_input(ctx: Context, path: str) -> InputFile | None:
    """The input given for `path`: the one named so, else the one with the same base name."""
    files = ctx.onboarding.files
    for f in files:
        if f.name == path:
            return f
    base = basename(path)
    for f in files:
        if basename(f.name) == base:
            return f
    return None


def file_findings(ctx: Context, config: StunnelConfig, name: str) -> list[Finding]:
    """What the files behind cert, key and CAfile hold (when the front end could give them)."""
    out: list[Finding] = []
    unchecked: list[str] = []
    for svc in config.services or [config.globals]:
        cert = config.effective(svc, "cert")
        key = config.effective(svc, "key")
        for option in (cert, key, config.effective(svc, "CAfile")):
            if option is None or not option.value or placeholder_in(option.value):
                continue
            out.extend(_one_file(ctx, option, key is not None, name, unchecked))
        if cert is not None and key is not None:
            out.extend(_key_matches(ctx, cert, key, name))
    if unchecked:
        out.append(
            Finding(
                "stunnel.file_unchecked",
                Status.SKIP,
                f"These files could not be checked from here: {'; '.join(dict.fromkeys(unchecked))}. "
                "Run fixcheck on the machine where stunnel runs (it reads them), or add them to the files.",
                None,
                tuple(f"ls -l {u.split(' = ', 1)[1]}" for u in dict.fromkeys(unchecked)),
            )
        )
    return out


def _one_file(ctx: Context, option: Option, has_key_option: bool, name: str, unchecked: list[str]) -> list[Finding]:
    """The file one option names: its path, whether it could be read, what it holds.

    A file neither read nor reported unreadable is added to `unchecked`.
    """
    out: list[Finding] = []
    path = option.value
    unreadable: Mapping[str, str] = ctx.stunnel_unreadable or {}
    if not (path.startswith(("/", "~")) or (len(path) > 2 and path[1] == ":")):
        out.append(
            Finding(
                "stunnel.relative_path",
                Status.WARN,
                f"{name} line {option.line}: {option.canonical} = {path} is a relative path: stunnel "
                "resolves it from the directory it is started in, so it breaks when started elsewhere "
                "(e.g. as a service).",
                f"Use the full path: {option.canonical} = /full/path/to/{basename(path)}",
            )
        )
    if path in unreadable:
        out.append(
            Finding(
                "stunnel.file_missing",
                Status.FAIL,
                f"{name} line {option.line}: {option.canonical} = {path}: {unreadable[path]}. stunnel "
                + (
                    "stops with 'Configuration failed' (No such file or directory)."
                    if option.key != "cafile"
                    else "starts, but trusts nothing ('No trusted certificates found')."
                ),
                f"Point {option.canonical} at the real file, e.g. {option.canonical} = /full/path/to/{basename(path)}",
                (f"ls -l {path}",),
            )
        )
        return out
    found = find_input(ctx, path)
    if found is None:
        unchecked.append(f"{option.canonical} = {path}")
        return out
    return [*out, *_file_content(ctx, option, found, has_key_option, name)]


def _file_content(ctx: Context, option: Option, f: InputFile, has_key_option: bool, name: str) -> list[Finding]:
    """The wrong content for the option (a CA as cert, a key as CAfile...), else an encrypted key."""
    where = f"{name} line {option.line}: {option.canonical} = {option.value}"
    if option.key == "cert":
        wrong = _wrong_cert(ctx, f, has_key_option)
    elif option.key == "key":
        wrong = _wrong_key(f)
    elif option.key == "cafile":
        wrong = _wrong_cafile(ctx, f)
    else:
        wrong = None
    if wrong is not None:
        code, what, fix = wrong
        return [Finding(code, Status.FAIL, f"{where} {what}", fix, (f"openssl storeutl -noout -text {option.value}",))]
    if f.of_kind(Kind.ENCRYPTED_KEY) and option.key in ("cert", "key"):
        return [
            Finding(
                "stunnel.key_encrypted",
                Status.WARN,
                f"{where} holds an encrypted private key: stunnel asks for the passphrase on the terminal at start "
                "and cannot when it runs as a service.",
                "Remove the passphrase: openssl pkey -in host.key -out host-nopass.key (then chmod 600).",
            )
        ]
    return []


# (code, what the file holds, fix) for a file that is wrong for its option.
_Wrong = tuple[str, str, str]


def _wrong_cert(ctx: Context, f: InputFile, has_key_option: bool) -> _Wrong | None:
    role = ctx.onboarding.roles.get(f.name, Role.UNKNOWN)
    if f.format in _UNREADABLE_FORMATS or not f.of_kind(Kind.CERTIFICATE):
        held = "a CSR" if f.of_kind(Kind.CSR) else f"no readable PEM certificate ({f.format.value})"
        return (
            "stunnel.cert_wrong_content",
            f"holds {held}; step 5 says more.",
            "cert must be fix.itbit.pem: host.crt followed by host.key (cat host.crt host.key > fix.itbit.pem).",
        )
    if role in (Role.SERVER_CA, Role.CLIENT_CA):
        return (
            "stunnel.cert_is_ca",
            f"is a CA certificate ({role.value}), not the client certificate.",
            "cert must be fix.itbit.pem (host certificate + host key); the exchange's CA goes in CAfile.",
        )
    if not f.of_kind(Kind.PRIVATE_KEY) and not f.of_kind(Kind.ENCRYPTED_KEY) and not has_key_option:
        return (
            "stunnel.cert_without_key",
            "holds a certificate but no private key, and there is no key = line: stunnel fails to load the "
            "key ('SSL_CTX_use_PrivateKey_file', 'Configuration failed').",
            "Either use the bundle (cat host.crt host.key > fix.itbit.pem; cert = .../fix.itbit.pem) or add "
            "key = /full/path/to/host.key",
        )
    return None


def _wrong_key(f: InputFile) -> _Wrong | None:
    if f.of_kind(Kind.PRIVATE_KEY) or f.of_kind(Kind.ENCRYPTED_KEY):
        return None
    return (
        "stunnel.key_wrong_content",
        "holds no readable private key.",
        "key must be the host key (host.key), or leave key out when cert is fix.itbit.pem.",
    )


def _wrong_cafile(ctx: Context, f: InputFile) -> _Wrong | None:
    role = ctx.onboarding.roles.get(f.name, Role.UNKNOWN)
    if f.format in _UNREADABLE_FORMATS or not f.of_kind(Kind.CERTIFICATE):
        return (
            "stunnel.cafile_wrong_content",
            "holds no readable PEM certificate.",
            "CAfile must hold the exchange's server CA certificate (itbit-ca.pem from the onboarding page).",
        )
    if role is Role.CLIENT_CA or _issued_client(ctx, f):
        return (
            "stunnel.cafile_is_client_ca",
            "is your own client CA (it issued your client certificate), not the exchange's server CA: with "
            "verification on, stunnel rejects the exchange ('certificate verify failed').",
            "CAfile = /full/path/to/itbit-ca.pem (the certificate copied from the onboarding page); ca.crt "
            "is what you send to the exchange.",
        )
    if role in (Role.CLIENT_BUNDLE, Role.CLIENT_CERT) or f.of_kind(Kind.PRIVATE_KEY):
        return (
            "stunnel.cafile_wrong_content",
            "holds your client certificate or a private key, not the exchange's server CA.",
            "CAfile = /full/path/to/itbit-ca.pem (the certificate copied from the onboarding page)",
        )
    return None


def _issued_client(ctx: Context, f: InputFile) -> bool:
    """The CA file holds the CA that issued the client certificate (the two CA files were confused)."""
    ob = ctx.onboarding
    leaf = ob.client_cert.cert if ob.client_cert is not None else None
    if ob.client_ca_file is not None and basename(ob.client_ca_file) == basename(f.name):
        return True
    return leaf is not None and any(issued_by(leaf, c) for c in f.certificates)


def _key_matches(ctx: Context, cert: Option, key: Option, name: str) -> list[Finding]:
    cert_file = find_input(ctx, cert.value)
    key_file = find_input(ctx, key.value)
    if cert_file is None or key_file is None:
        return []
    certs = [c for c in cert_file.of_kind(Kind.CERTIFICATE) if c.public_key is not None]
    keys = [k for k in key_file.of_kind(Kind.PRIVATE_KEY) if k.public_key is not None]
    if not certs or not keys or keys[0].public_key is None or certs[0].public_key is None:
        return []
    if certs[0].public_key.spki_der == keys[0].public_key.spki_der:
        return []
    return [
        Finding(
            "stunnel.key_mismatch",
            Status.FAIL,
            f"{name}: key = {key.value} is not the key of the certificate in cert = {cert.value}; stunnel stops "
            "with 'key values mismatch' (step 6).",
            "Use the key the certificate was made from (host.key), or the bundle fix.itbit.pem alone.",
        )
    ]

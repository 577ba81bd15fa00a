"""Guide step 7's checks: a stunnel configuration against the files and endpoint, and stunnel's log.

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
from bot.engine.net.tables import CLIENT_CERT_ALERTS
from bot.engine.report import Finding, Status
from bot.engine.roles import Role
from bot.engine.steps.stunnel import log as slog
from bot.engine.steps.stunnel.config import (
    MAX_LINES,
    REPEATABLE,
    Option,
    Section,
    StunnelConfig,
    basename,
    debug_level,
    is_ip,
    is_loopback,
    parse,
    parse_address,
    placeholder_in,
)
from bot.engine.steps.stunnel.cross import log_override

_PROBLEM_CODES = {
    "syntax": "stunnel.syntax",
    "unknown_option": "stunnel.unknown_option",
    "wrong_section": "stunnel.wrong_section",
    "bad_value": "stunnel.bad_value",
    "bad_socket": "stunnel.bad_socket",
    "inline_comment": "stunnel.inline_comment",
    "pem_data": "stunnel.pem_data",
}
_TEST_CMD = "stunnel /path/to/your.conf   # with foreground = yes, the log appears in the terminal"


def check_config(ctx: Context, conf: InputFile) -> list[Finding]:
    """All findings about one configuration file."""
    config = parse(conf.text or "")
    name = conf.name
    out: list[Finding] = []
    line_count = (conf.text or "").count("\n") + 1
    if line_count > MAX_LINES:
        out.append(
            Finding(
                "stunnel.too_long",
                Status.WARN,
                f"{name} has {line_count:,} lines; only the first {MAX_LINES:,} were read. A stunnel "
                "configuration has dozens: is this the right file?",
                "Give the configuration file stunnel is started with (e.g. /etc/stunnel/itbit.conf).",
                (f"wc -l {name}",),
            )
        )
    for kind, code in _PROBLEM_CODES.items():
        problems = [p for p in config.problems if p.kind == kind]
        if problems:
            out.append(
                Finding(
                    code,
                    Status.FAIL,
                    f"{name}: " + "; ".join(f"line {p.line} ({p.raw[:80]}): {p.message}" for p in problems[:5]),
                    "Fix these lines"
                    + (
                        ": " + "; ".join(f"line {p.line}: {p.fix}" for p in problems if p.fix)
                        if any(p.fix for p in problems)
                        else ""
                    )
                    + ". stunnel stops at the first such line and starts no service ('Configuration failed').",
                    (f"stunnel {name}",),
                    {"lines": [p.line for p in problems]},
                )
            )
    out.extend(_placeholders(config, name))
    out.extend(_duplicates(config, name))
    if not config.services:
        out.append(
            Finding(
                "stunnel.no_service",
                Status.FAIL,
                f"{name} has no [service] section, so stunnel opens no tunnel "
                "(it says \"'accept' option is only allowed in a [section]\").",
                "Put the tunnel's options under a section name, e.g.\n[itbit]\nclient = yes\naccept = 127.0.0.1:1234\n"
                "connect = HOST:PORT",
            )
        )
    for service in config.services:
        out.extend(_service(ctx, config, service, name))
    out.extend(_connect_vs_endpoint(ctx, config, name))
    out.extend(_files(ctx, config, name))
    if config.includes:
        dirs = ", ".join(o.value for o in config.includes)
        out.append(
            Finding(
                "stunnel.include",
                Status.SKIP,
                f"{name} includes {dirs}: options in those files could not be checked here.",
                "Give the included files' contents too (or paste them into one file) to check them.",
            )
        )
    out.append(_log_location(config, name))
    if not any(f.status in (Status.FAIL, Status.WARN) for f in out):
        out.insert(
            0,
            Finding(
                "stunnel.ok",
                Status.PASS,
                f"{name} is a correct stunnel client configuration for these files"
                + (f" and {ctx.endpoint}" if ctx.endpoint else "")
                + ".",
                None,
                (f"stunnel {name}",),
            ),
        )
    return out


def _yes(option: Option | None) -> bool:
    return option is not None and option.value.strip().lower() == "yes"


def _placeholders(config: StunnelConfig, name: str) -> list[Finding]:
    found = [(o, placeholder_in(o.value)) for _, o in config.all_options()]
    hits = [(o, p) for o, p in found if p]
    if not hits:
        return []
    fixes = []
    for option, text in hits:
        example = option.value.replace(text or "", "/home/you/fix" if "{" in (text or "") else "/home/you/fix/")
        fixes.append(f"{option.canonical} = {example.replace('//', '/')}")
    return [
        Finding(
            "stunnel.placeholder",
            Status.FAIL,
            f"{name} still has the guide's template text: "
            + "; ".join(f"line {o.line}: {o.raw[:90]}" for o, _ in hits)
            + ". stunnel looks for a file literally named so and fails ('No such file or directory').",
            "Replace the placeholder with the real folder of your files, e.g.: " + "; ".join(fixes),
            ("ls -l " + " ".join(o.value for o, _ in hits if o.key in ("cert", "key", "cafile")),),
            {"lines": [o.line for o, _ in hits]},
        )
    ]


def _duplicates(config: StunnelConfig, name: str) -> list[Finding]:
    out: list[Finding] = []
    for section in (config.globals, *config.services):
        seen: dict[str, Option] = {}
        for option in section.options:
            if option.key in REPEATABLE or option.key == "include":
                continue
            first = seen.get(option.key)
            if first is not None and first.value != option.value:
                out.append(
                    Finding(
                        "stunnel.duplicate_option",
                        Status.WARN,
                        f"{name}: {option.canonical} is set twice in {section.label} (lines {first.line} and "
                        f"{option.line}); stunnel uses the last one, '{option.value}'.",
                        f"Keep one line: {option.canonical} = {option.value}",
                    )
                )
            seen[option.key] = option
    return out


def _service(ctx: Context, config: StunnelConfig, svc: Section, name: str) -> list[Finding]:
    out: list[Finding] = []
    label = f"{name} {svc.label}"
    unless = " (unless the included files set it)" if config.includes else ""
    missing = Status.WARN if config.includes else Status.FAIL
    client = config.effective(svc, "client")
    if client is None or not _yes(client):
        said = "has no 'client = yes'" if client is None else f"says client = {client.value} (line {client.line})"
        out.append(
            Finding(
                "stunnel.not_client",
                missing if client is None else Status.FAIL,
                f"{label} {said}{unless}: stunnel then acts as a TLS *server* on the accept port, so the FIX "
                "client's plain-text connection is refused ('wrong version number' in the log) and nothing reaches "
                "the exchange.",
                f"Add under [{svc.name}]: client = yes",
            )
        )
    accept = config.effective(svc, "accept")
    if accept is None:
        out.append(
            Finding(
                "stunnel.no_accept",
                missing,
                f"{label} has no 'accept'{unless}: there is no local port for the FIX client to connect to.",
                f"Add under [{svc.name}]: accept = 127.0.0.1:1234 (and point the FIX client at 127.0.0.1:1234)",
            )
        )
    else:
        out.extend(_accept(accept, svc, label))
    if not config.effective_all(svc, "connect") and config.effective(svc, "exec") is None:
        target = str(ctx.endpoint) if ctx.endpoint else "HOST:PORT"
        out.append(
            Finding(
                "stunnel.no_connect",
                missing,
                f"{label} has no 'connect'{unless}: stunnel does not know where the exchange is.",
                f"Add under [{svc.name}]: connect = {target} (the FIX server address and port from onboarding)",
            )
        )
    for option in config.effective_all(svc, "connect"):
        address = parse_address(option.value)
        if not address.unix and address.port_number is None and not placeholder_in(option.value):
            port = ctx.endpoint.port if ctx.endpoint else 4490
            host = address.host or address.port
            out.append(
                Finding(
                    "stunnel.connect_no_port",
                    Status.FAIL,
                    f"{label} line {option.line}: connect = {option.value} has no port; stunnel reads "
                    f"'{address.port}' as a service name and fails ('Unknown TCP service', 'No remote host resolved').",
                    f"Write host and port: connect = {host}:{port}",
                )
            )
    if config.effective(svc, "cert") is None:
        out.append(
            Finding(
                "stunnel.no_cert",
                missing,
                f"{label} has no 'cert'{unless}: stunnel sends no client certificate, and the exchange's mTLS "
                "server rejects the connection ('alert certificate required' or 'handshake failure').",
                f"Add under [{svc.name}]: cert = /full/path/to/fix.itbit.pem (certificate and key in one file)",
            )
        )
    out.extend(_verification(config, svc, label))
    sni = config.effective(svc, "sni")
    if sni is not None and ":" in sni.value and _yes(client):
        out.append(
            Finding(
                "stunnel.sni_server_syntax",
                Status.WARN,
                f"{label} line {sni.line}: sni = {sni.value} is the server-mode form (SERVICE:PATTERN); in client "
                "mode sni is just the server name to send.",
                "Remove the sni line: stunnel sends the connect host as SNI by default.",
            )
        )
    return out


def _accept(accept: Option, svc: Section, label: str) -> list[Finding]:
    address = parse_address(accept.value)
    if address.unix or placeholder_in(accept.value):
        return []
    port = address.port_number
    if port is None:
        return [
            Finding(
                "stunnel.accept_bad",
                Status.FAIL,
                f"{label} line {accept.line}: accept = {accept.value} is not [HOST:]PORT.",
                f"Write: accept = 127.0.0.1:{address.port if address.port.isdigit() else 1234}",
            )
        ]
    if not is_loopback(address.host):
        where = "every network interface" if address.host in (None, "0.0.0.0", "::", "*") else address.host
        return [
            Finding(
                "stunnel.accept_public",
                Status.WARN,
                f"{label} line {accept.line}: accept = {accept.value} listens on {where}: anyone who can reach "
                "this machine can use your FIX session's tunnel (and your client certificate).",
                f"Listen on loopback only: accept = 127.0.0.1:{port}",
                ("ss -ltnp | grep stunnel",),
            )
        ]
    return []


def _verification(config: StunnelConfig, svc: Section, label: str) -> list[Finding]:
    out: list[Finding] = []
    chain = _yes(config.effective(svc, "verifyChain"))
    peer = _yes(config.effective(svc, "verifyPeer"))
    legacy = config.effective(svc, "verify")
    if legacy is not None and legacy.value.isdigit() and int(legacy.value) >= 2:
        chain = True
    cafile = config.effective(svc, "CAfile")
    capath = config.effective(svc, "CApath")
    checks = config.effective_all(svc, "checkHost") + config.effective_all(svc, "checkIP")
    connects = config.effective_all(svc, "connect")
    host = parse_address(connects[0].value).host if connects else None
    ca_name = cafile.value if cafile else "/full/path/to/itbit-ca.pem"
    if legacy is not None:
        out.append(
            Finding(
                "stunnel.verify_obsolete",
                Status.WARN,
                f"{label} line {legacy.line}: verify = {legacy.value} is obsolete in stunnel 5.",
                "Use verifyChain = yes (with checkHost) instead of verify = N.",
            )
        )
    if checks and not (chain or peer):
        out.append(
            Finding(
                "stunnel.checkhost_without_verify",
                Status.FAIL,
                f"{label}: {checks[0].canonical} is set but neither verifyChain nor verifyPeer is on; stunnel "
                'refuses this (\'Either "verifyChain" or "verifyPeer" has to be enabled\').',
                f"Add under [{svc.name}]: verifyChain = yes (CAfile = {ca_name} must hold the exchange's server CA)",
            )
        )
    if not (chain or peer):
        loaded = f" CAfile ({cafile.value}) is loaded but nothing is checked against it;" if cafile is not None else ""
        out.append(
            Finding(
                "stunnel.verify_off",
                Status.WARN,
                f"{label}: verifyChain is "
                + ("'no'" if config.effective(svc, "verifyChain") else "not set (default no)")
                + f", so the exchange's server certificate is not verified.{loaded} stunnel accepts any server "
                "(it logs 'needs authentication to prevent MITM attacks'). The tunnel still works; the server's "
                "identity is just not checked.",
                "Turn verification on with the same CAfile: verifyChain = yes"
                + (f" and checkHost = {host}" if host and not is_ip(host) else "")
                + f" (CAfile = {ca_name}, the exchange's server CA from the onboarding page).",
            )
        )
    elif cafile is None and capath is None:
        out.append(
            Finding(
                "stunnel.verify_without_cafile",
                Status.FAIL,
                f"{label}: verifyChain/verifyPeer is on but no CAfile is given; stunnel trusts nothing "
                "('No trusted certificates found') and every handshake fails with 'certificate verify failed'.",
                f"Add under [{svc.name}]: CAfile = /full/path/to/itbit-ca.pem (the exchange's server CA)",
            )
        )
    elif chain and not checks and host:
        fix = f"checkIP = {host}" if is_ip(host) else f"checkHost = {host}"
        out.append(
            Finding(
                "stunnel.no_checkhost",
                Status.WARN,
                f"{label}: verifyChain is on without checkHost/checkIP, so any certificate the CA signed is "
                "accepted, not only the exchange's server (stunnel warns about this too).",
                f"Add under [{svc.name}]: {fix}",
            )
        )
    elif chain and host and not is_ip(host):
        names = [c.value.lower() for c in checks if c.key == "checkhost"]
        if names and host.lower() not in names and not any(_wildcard(n, host.lower()) for n in names):
            out.append(
                Finding(
                    "stunnel.checkhost_differs",
                    Status.WARN,
                    f"{label}: checkHost = {', '.join(names)} differs from the connect host {host}; stunnel "
                    "rejects the server unless its certificate names it ('CERT: Subject checks failed').",
                    f"Use the host you connect to: checkHost = {host}",
                    (
                        f"openssl s_client -connect {host}:PORT -showcerts </dev/null | openssl x509 -noout -ext subjectAltName",
                    ),
                )
            )
    return out


def _wildcard(pattern: str, host: str) -> bool:
    return pattern.startswith("*.") and host.endswith(pattern[1:]) and host.count(".") == pattern.count(".")


def _connect_vs_endpoint(ctx: Context, config: StunnelConfig, name: str) -> list[Finding]:
    if ctx.endpoint is None:
        return []
    targets: list[Option] = []
    for svc in config.services:
        targets.extend(config.effective_all(svc, "connect"))
    if not targets:
        return []
    want_host, want_port = ctx.endpoint.host.lower(), ctx.endpoint.port
    maybe = False
    for option in targets:
        address = parse_address(option.value)
        host = (address.host or "localhost").lower()
        if address.port_number != want_port:
            continue
        if host == want_host or (is_loopback(host) and is_loopback(want_host)):
            return []
        if is_ip(host) != is_ip(want_host):
            maybe = True  # an IP and a name: they may be the same machine
    listed = ", ".join(f"{o.value} (line {o.line})" for o in targets)
    return [
        Finding(
            "stunnel.connect_mismatch",
            Status.WARN if maybe else Status.FAIL,
            f"{name} connects to {listed}, not to {ctx.endpoint}, the endpoint under test"
            + (" (an address and a name: check they are the same machine)." if maybe else "."),
            f"Use the FIX server address and port from onboarding: connect = {ctx.endpoint}",
        )
    ]


def _find_input(ctx: Context, path: str) -> InputFile | None:
    files = ctx.onboarding.files
    for f in files:
        if f.name == path:
            return f
    base = basename(path)
    for f in files:
        if basename(f.name) == base:
            return f
    return None


def _files(ctx: Context, config: StunnelConfig, name: str) -> list[Finding]:
    """What the files behind cert, key and CAfile hold (when the front end could give them)."""
    out: list[Finding] = []
    unchecked: list[str] = []
    unreadable: Mapping[str, str] = ctx.stunnel_unreadable or {}
    for svc in config.services or [config.globals]:
        cert = config.effective(svc, "cert")
        key = config.effective(svc, "key")
        cafile = config.effective(svc, "CAfile")
        for option in (cert, key, cafile):
            if option is None or not option.value or placeholder_in(option.value):
                continue
            path = option.value
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
                        f"Point {option.canonical} at the real file, e.g. {option.canonical} = "
                        f"/full/path/to/{basename(path)}",
                        (f"ls -l {path}",),
                    )
                )
                continue
            found = _find_input(ctx, path)
            if found is None:
                unchecked.append(f"{option.canonical} = {path}")
                continue
            out.extend(_file_content(ctx, option, found, key is not None, name))
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


def _file_content(ctx: Context, option: Option, f: InputFile, has_key_option: bool, name: str) -> list[Finding]:
    role = ctx.onboarding.roles.get(f.name, Role.UNKNOWN)
    certs = f.of_kind(Kind.CERTIFICATE)
    keys = f.of_kind(Kind.PRIVATE_KEY)
    encrypted = f.of_kind(Kind.ENCRYPTED_KEY)
    where = f"{name} line {option.line}: {option.canonical} = {option.value}"
    bad_format = f.format in (FileFormat.EMPTY, FileFormat.BINARY, FileFormat.DER, FileFormat.TOO_LARGE)

    def wrong(code: str, what: str, fix: str) -> Finding:
        return Finding(code, Status.FAIL, f"{where} {what}", fix, (f"openssl storeutl -noout -text {option.value}",))

    if option.key == "cert":
        if bad_format or not certs:
            held = "a CSR" if f.of_kind(Kind.CSR) else f"no readable PEM certificate ({f.format.value})"
            return [
                wrong(
                    "stunnel.cert_wrong_content",
                    f"holds {held}; step 5 says more.",
                    "cert must be fix.itbit.pem: host.crt followed by host.key (cat host.crt host.key > fix.itbit.pem).",
                )
            ]
        if role in (Role.SERVER_CA, Role.CLIENT_CA):
            return [
                wrong(
                    "stunnel.cert_is_ca",
                    f"is a CA certificate ({role.value}), not the client certificate.",
                    "cert must be fix.itbit.pem (host certificate + host key); the exchange's CA goes in CAfile.",
                )
            ]
        if not keys and not encrypted and not has_key_option:
            return [
                wrong(
                    "stunnel.cert_without_key",
                    "holds a certificate but no private key, and there is no key = line: stunnel fails to load the "
                    "key ('SSL_CTX_use_PrivateKey_file', 'Configuration failed').",
                    "Either use the bundle (cat host.crt host.key > fix.itbit.pem; cert = .../fix.itbit.pem) or add "
                    "key = /full/path/to/host.key",
                )
            ]
    elif option.key == "key":
        if not keys and not encrypted:
            return [
                wrong(
                    "stunnel.key_wrong_content",
                    "holds no readable private key.",
                    "key must be the host key (host.key), or leave key out when cert is fix.itbit.pem.",
                )
            ]
    elif option.key == "cafile":
        if bad_format or not certs:
            return [
                wrong(
                    "stunnel.cafile_wrong_content",
                    "holds no readable PEM certificate.",
                    "CAfile must hold the exchange's server CA certificate (itbit-ca.pem from the onboarding page).",
                )
            ]
        if role is Role.CLIENT_CA or _issued_client(ctx, f):
            return [
                wrong(
                    "stunnel.cafile_is_client_ca",
                    "is your own client CA (it issued your client certificate), not the exchange's server CA: with "
                    "verification on, stunnel rejects the exchange ('certificate verify failed').",
                    "CAfile = /full/path/to/itbit-ca.pem (the certificate copied from the onboarding page); ca.crt "
                    "is what you send to the exchange.",
                )
            ]
        if role in (Role.CLIENT_BUNDLE, Role.CLIENT_CERT) or keys:
            return [
                wrong(
                    "stunnel.cafile_wrong_content",
                    "holds your client certificate or a private key, not the exchange's server CA.",
                    "CAfile = /full/path/to/itbit-ca.pem (the certificate copied from the onboarding page)",
                )
            ]
    if encrypted and option.key in ("cert", "key"):
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


def _issued_client(ctx: Context, f: InputFile) -> bool:
    """The CA file holds the CA that issued the client certificate (the two CA files were confused)."""
    ob = ctx.onboarding
    leaf = ob.client_cert.cert if ob.client_cert is not None else None
    if ob.client_ca_file is not None and basename(ob.client_ca_file) == basename(f.name):
        return True
    return leaf is not None and any(issued_by(leaf, c) for c in f.certificates)


def _key_matches(ctx: Context, cert: Option, key: Option, name: str) -> list[Finding]:
    cert_file = _find_input(ctx, cert.value)
    key_file = _find_input(ctx, key.value)
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


def _log_location(config: StunnelConfig, name: str) -> Finding:
    g = config.globals
    foreground = g.get("foreground")
    output = g.get("output")
    debug = g.get("debug")
    pid = g.get("pid")
    parts: list[str] = []
    if output is not None:
        parts.append(f"stunnel writes its log to {output.value} (output)")
    if foreground is not None and foreground.value.lower() == "yes":
        parts.append("with foreground = yes it also prints the log in the terminal it was started from")
    elif foreground is not None and foreground.value.lower() == "quiet":
        parts.append("foreground = quiet keeps it in the terminal but prints nothing there")
    else:
        parts.append("it runs in the background")
    if output is None:
        parts.append("and logs to syslog (journalctl -t stunnel, or /var/log/syslog)")
    level = debug_level(debug.value) if debug is not None else 5
    if level is not None and level < 5:
        parts.append(f"debug = {debug.value if debug else ''} hides the notices that show each connection")
    if pid is not None and pid.value:
        parts.append(f"its process id is in {pid.value} (that folder must exist and be writable)")
    return Finding(
        "stunnel.log_location",
        Status.PASS,
        f"{name}: where to find stunnel's log: " + "; ".join(parts) + ".",
        "To troubleshoot, start it by hand with 'foreground = yes' and 'debug = info' in the global section, "
        "then paste its output into fixcheck.",
        (_TEST_CMD,),
        {"foreground": foreground.value if foreground else None, "output": output.value if output else None},
    )


# ---------------------------------------------------------------- the log


def check_log(text: str, name: str) -> list[Finding]:
    """Findings from stunnel's log output."""
    out: list[Finding] = []
    events = slog.events(text)
    kinds = {e.kind for e in events}
    for event in events:
        decided, finding = log_override(event, events, name)  # rules that cross-check the rest of the log
        finding = finding if decided else _log_finding(event, kinds, name)
        if finding is not None:
            out.append(finding)
    if not out:
        out.append(
            Finding(
                "stunnel.log_nothing_known",
                Status.SKIP,
                f"{name} looks like stunnel's log, but holds none of the lines fixcheck knows.",
                "Start stunnel with 'debug = info' and 'foreground = yes', try one connection, and paste all of its "
                "output.",
            )
        )
    return out


def _log_finding(event: slog.Event, kinds: set[str], name: str) -> Finding | None:
    d = event.detail
    ev = {"log_line": d.get("line"), "lines": list(event.lines), "count": d.get("count", 1)}

    def f(code: str, status: Status, message: str, fix: str | None, cmds: tuple[str, ...] = ()) -> Finding:
        return Finding(
            code,
            status,
            f"{name}: {message}",
            fix,
            cmds,
            {**ev, **{k: v for k, v in d.items() if k not in ("line", "count")}},
        )

    k = event.kind
    if k == "config_ok":
        return f(
            "stunnel.log_config_ok", Status.PASS, "stunnel loaded its configuration ('Configuration successful').", None
        )
    if k == "config_failed":
        specific = {
            "file_not_found",
            "key_mismatch",
            "key_unreadable",
            "illegal_option",
            "config_line_error",
            "server_mode",
            "checkhost_without_verify",
            "no_section",
        }
        if kinds & specific:
            return None
        return f(
            "stunnel.log_config_failed",
            Status.FAIL,
            "stunnel refused its configuration ('Configuration failed') and started no tunnel.",
            "The '[!]' lines just above 'Configuration failed' name the cause; check the configuration with fixcheck --stunnel.",
        )
    if k == "file_not_found":
        return f(
            "stunnel.log_file_not_found",
            Status.FAIL,
            f"stunnel could not open the {d.get('what')} file {d.get('path')} (No such file or directory), so the configuration failed.",
            "Put the full, real path of the file in the configuration (no {PATH-TO-CERT} placeholders) and check it exists: ls -l "
            + str(d.get("path")),
        )
    if k == "key_mismatch":
        return f(
            "stunnel.log_key_mismatch",
            Status.FAIL,
            "stunnel refused the private key: 'key values mismatch' (the key does not belong to the certificate; step 6).",
            "Use the key the certificate was made from: cat host.crt host.key > fix.itbit.pem, and check with the guide's step 6 md5 commands.",
            (
                "openssl x509 -noout -modulus -in fix.itbit.pem | openssl md5",
                "openssl rsa -noout -modulus -in fix.itbit.pem | openssl md5",
            ),
        )
    if k == "key_unreadable":
        return f(
            "stunnel.log_key_unreadable",
            Status.FAIL,
            f"stunnel found no usable private key in {d.get('path')} (the file has only the certificate, or the key is encrypted or damaged).",
            "cert must be fix.itbit.pem with host.crt and host.key in it (cat host.crt host.key > fix.itbit.pem), or add key = /full/path/to/host.key.",
        )
    if k == "illegal_option":
        return f(
            "stunnel.log_illegal_option",
            Status.FAIL,
            f"stunnel refused an option at {d.get('where')}: 'Specified option name is not valid here' (misspelled, or a global option inside a [section]).",
            "Correct the spelling (see man stunnel) or move global options (pid, foreground, output) above the first [section].",
        )
    if k == "config_line_error":
        return f(
            "stunnel.log_config_line",
            Status.FAIL,
            f"stunnel refused the configuration at {d.get('where')}: {event.lines[0].rsplit(': ', 1)[-1]}.",
            "Fix that line (yes/no values, socket = l:OPTION=VALUE, option = value), then restart stunnel.",
        )
    if k == "server_mode":
        return f(
            "stunnel.log_not_client",
            Status.FAIL,
            "stunnel is running as a TLS server on its accept port ('TLS server needs a certificate' or 'SSL_accept: ... wrong version number'): 'client = yes' is missing.",
            "Add client = yes to the service section and restart stunnel.",
        )
    if k == "checkhost_without_verify":
        return f(
            "stunnel.log_checkhost_without_verify",
            Status.FAIL,
            'stunnel refused checkHost/checkIP without verification (\'Either "verifyChain" or "verifyPeer" has to be enabled\').',
            "Add verifyChain = yes with CAfile = the exchange's server CA (itbit-ca.pem).",
        )
    if k == "no_section":
        return f(
            "stunnel.log_no_section",
            Status.FAIL,
            "stunnel found no [service] section ('accept' only allowed in a [section]).",
            "Put accept/connect/cert under a [name] line.",
        )
    if k == "address_in_use":
        return f(
            "stunnel.log_address_in_use",
            Status.FAIL,
            f"stunnel could not listen on {d.get('address')}: Address already in use (another stunnel, or another program, holds the port).",
            "Stop the other program (ss -ltnp shows it) or choose another accept port, and point the FIX client at it.",
            ("ss -ltnp",),
        )
    if k == "connect_refused":
        return f(
            "stunnel.log_connect_refused",
            Status.FAIL,
            f"stunnel's connection to {d.get('address')} was refused (step 3: nothing listens there, wrong host or port).",
            "Check connect = HOST:PORT against the address and port from onboarding, and test it with the guide's step 3 (telnet HOST PORT).",
        )
    if k == "connect_timeout":
        return f(
            "stunnel.log_connect_timeout",
            Status.FAIL,
            "stunnel's connection to the exchange timed out (step 3: a firewall drops it, or the exchange's allow-list lacks your IP).",
            "Check that your firewall allows the FIX port out, and give your public IP to the exchange.",
        )
    if k == "dns":
        return f(
            "stunnel.log_dns",
            Status.FAIL,
            f"stunnel could not resolve the connect host {d.get('name') or ''} ('No remote host resolved'; step 3). A connect without ':PORT' gives 'Unknown TCP service'.",
            "Write connect = HOST:PORT with the FIX server name from onboarding, and check DNS: getent hosts HOST",
        )
    if k == "subject_checks_failed":
        return f(
            "stunnel.log_checkhost_failed",
            Status.FAIL,
            "stunnel rejected the exchange's certificate: 'CERT: Subject checks failed' (checkHost/checkIP does not match the name in the server certificate).",
            "Set checkHost to the FIX host name you connect to (the name in the server certificate).",
        )
    if k == "server_cert_untrusted":
        reason = str(d.get("reason") or "")
        return f(
            "stunnel.log_server_cert_untrusted",
            Status.FAIL,
            "stunnel did not trust the exchange's server certificate ('certificate verify failed'"
            + (f"; CERT: Pre-verification error: {reason}" if reason else "")
            + "; step 4). CAfile does not hold the exchange's server CA (often: it holds your own ca.crt).",
            "CAfile = /full/path/to/itbit-ca.pem, the certificate copied from the onboarding page.",
            ("openssl s_client -connect HOST:PORT -CAfile itbit-ca.pem </dev/null",),
        )
    if k == "alert":
        num = int(d.get("number", 0))
        alert = d.get("alert")
        call = d.get("call")
        if num in CLIENT_CERT_ALERTS:
            return f(
                "stunnel.log_client_cert_rejected",
                Status.FAIL,
                f"the exchange rejected the client certificate: '{alert}' alert ({num}) on {call} (step 4). "
                + (
                    "No certificate was sent: cert = is missing."
                    if num == 116
                    else "The server does not trust the CA that signed it (ca.crt not installed there, or the certificate was re-made since), or no certificate was sent."
                ),
                "Check cert = fix.itbit.pem, run the guide's step 1 (openssl verify -CAfile ca.crt fix.itbit.pem), and make sure the exchange installed your current ca.crt.",
                ("openssl s_client -connect HOST:PORT -cert fix.itbit.pem -key fix.itbit.pem -CAfile itbit-ca.pem",),
            )
        return f(
            "stunnel.log_tls_alert",
            Status.FAIL,
            f"the TLS handshake failed with the server's '{alert}' alert ({num}) on {call} (step 4).",
            "Run the guide's step 4 openssl s_client command to see the handshake.",
        )
    if k == "not_tls":
        return f(
            "stunnel.log_not_tls",
            Status.FAIL,
            "the connect port does not speak TLS ('wrong version number' on SSL_connect).",
            "Use the FIX TLS port from onboarding in connect =.",
        )
    if k == "reset_in_handshake":
        return f(
            "stunnel.log_reset",
            Status.FAIL,
            "the exchange closed the connection during the handshake: this usually means your public IP is not on the exchange's allow-list (step 3).",
            "Send your public IP (curl ifconfig.me) to the exchange.",
        )
    if k == "reset_after_handshake":
        return f(
            "stunnel.log_closed_after_handshake",
            Status.FAIL,
            "the exchange closed the connection right after the TLS handshake. Under TLS 1.3 this is how a "
            "rejected client certificate often shows (the alert is lost in the reset) (step 4).",
            "Run the guide's step 1 (openssl verify -CAfile ca.crt fix.itbit.pem) and check the exchange installed "
            "your current ca.crt; fixcheck --connect HOST:PORT shows the server's answer.",
        )
    if k == "insecure_permissions":
        return f(
            "stunnel.log_insecure_permissions",
            Status.PASS,
            f"stunnel notes that {d.get('path')} (which holds a private key) is readable by others.",
            f"chmod 600 {d.get('path')}",
        )
    if k == "verify_off":
        return f(
            "stunnel.log_verify_off",
            Status.WARN,
            "stunnel warns that the service does not verify the server ('needs authentication to prevent MITM attacks'): verifyChain is off.",
            "Add verifyChain = yes and checkHost = the FIX host, with CAfile = itbit-ca.pem.",
        )
    if k == "no_trusted_certs":
        return f(
            "stunnel.log_no_trusted_certs",
            Status.WARN,
            "stunnel loaded no trusted CA ('No trusted certificates found'): CAfile is missing, unreadable or not given. With verifyChain = yes every handshake fails.",
            "CAfile = /full/path/to/itbit-ca.pem",
        )
    if k == "traffic":
        return f(
            "stunnel.log_traffic",
            Status.PASS,
            f"data went through the tunnel ({d.get('to_tls')} bytes to the exchange, {d.get('to_socket')} back).",
            None,
        )
    return None

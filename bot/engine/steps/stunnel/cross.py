"""Step 7 configuration checks that need more than the configuration's own text.

- stunnel start-up failures the configuration check cannot see by itself: the pid file's
  folder (the guide's template has `pid = /home/src/itbit.stunnel.pid`), and a `connect`
  port copied from the template when no endpoint was given to compare with;
- `checkHost`/`checkIP` against the names in the server certificate step 4 saw.

The log's findings read with the rest of the log and with step 4 are in `cross_log`.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Sequence

from cryptography import x509
from cryptography.x509.oid import NameOID

from bot.engine import net
from bot.engine.context import Context
from bot.engine.net import hostname
from bot.engine.report import Finding, Status
from bot.engine.steps.stunnel.config import StunnelConfig, is_ip, is_loopback, parse_address

# What a front end that can look (the CLI) puts in `Context.stunnel_unreadable` for the pid
# file's path, after these prefixes (the rest of the text says which folder).
PID_NO_FOLDER = "no such folder"
PID_NOT_WRITABLE = "folder not writable by this user"

# The guide's template: `connect = sandbox-fix.itbit.com:1234`, the same port as its `accept`.
TEMPLATE_CONNECT = "sandbox-fix.itbit.com:1234"


# ------------------------------------------------------------------ the configuration


def config_findings(ctx: Context, config: StunnelConfig, name: str) -> list[Finding]:
    loops = _self_connect(config, name)
    ports = [] if loops else _connect_port(ctx, config, name)  # a loop is the stronger finding on that line
    return [*_pid(ctx, config, name), *loops, *ports, *_check_names(ctx, config, name)]


def _listens_on_loopback(host: str | None) -> bool:
    """stunnel's `accept` host: none, a wildcard or a loopback address all take 127.0.0.1's connections."""
    return host is None or host in ("0.0.0.0", "::", "*") or is_loopback(host)


def _self_connect(config: StunnelConfig, name: str) -> list[Finding]:
    """`connect` is the service's own `accept` (e.g. both 127.0.0.1:1234): stunnel would connect to itself."""
    out: list[Finding] = []
    for svc in config.services:
        accept = config.effective(svc, "accept")
        connects = config.effective_all(svc, "connect")
        if accept is None or not connects:
            continue
        a, c = parse_address(accept.value), parse_address(connects[0].value)
        if a.port_number is None or a.port_number != c.port_number or c.unix:
            continue
        if not (c.host is None or is_loopback(c.host)) or not _listens_on_loopback(a.host):
            continue
        out.append(
            Finding(
                "stunnel.connect_is_accept",
                Status.FAIL,
                f"{name} line {connects[0].line}: connect = {connects[0].value} is this service's own accept "
                f"(line {accept.line}: accept = {accept.value}): stunnel would connect to itself, in a loop, and "
                "never reach the exchange.",
                "Put the FIX server address and port from onboarding in connect = (the exchange's host, not this "
                f"machine); accept = {accept.value} stays where your FIX client connects.",
                (f"grep -nE '^[[:space:]]*(accept|connect)' {shlex.quote(name)}",),
                {"accept": accept.value, "connect": connects[0].value},
            )
        )
    return out


def _pid(ctx: Context, config: StunnelConfig, name: str) -> list[Finding]:
    """The pid file: stunnel exits at start-up with 'Cannot create pid file' when its folder is not there."""
    pid = config.globals.get("pid")
    if pid is None or not pid.value:
        return []
    folder = os.path.dirname(pid.value) or "."
    where = f"{name} line {pid.line}: pid = {pid.value}"
    fix = f"Create the folder (mkdir -p {shlex.quote(folder)}) for the user stunnel runs as, or write `pid =` (no pid file)."
    check = (f"ls -ld {shlex.quote(folder)}",)
    if not pid.value.startswith("/"):
        return [
            Finding(
                "stunnel.pid_folder",
                Status.FAIL,
                f"{where}: stunnel refuses a pid file without a full path ('Pid file must include full path name').",
                "Write the full path, e.g. pid = /var/run/stunnel-fix.pid, or `pid =` (no pid file).",
            )
        ]
    if ctx.stunnel_unreadable is None:
        # The Slack bot cannot look at the user's machine: say what must hold there.
        return [
            Finding(
                "stunnel.pid_folder",
                Status.WARN,
                f"{where}: the folder {folder} must exist and be writable by the user stunnel runs as; otherwise "
                "stunnel exits at start-up with 'Cannot create pid file' (the guide's template path rarely exists).",
                fix,
                check,
            )
        ]
    reason = ctx.stunnel_unreadable.get(pid.value)
    if reason is None:
        return []
    status = Status.WARN if reason.startswith(PID_NOT_WRITABLE) else Status.FAIL
    return [
        Finding(
            "stunnel.pid_folder",
            status,
            f"{where}: {reason}. stunnel exits at start-up with 'Cannot create pid file'"
            + (" unless it runs as a user who may write there." if status is Status.WARN else "."),
            fix,
            check,
            {"pid": pid.value, "folder": folder},
        )
    ]


def _connect_port(ctx: Context, config: StunnelConfig, name: str) -> list[Finding]:
    """With no endpoint to compare with, a `connect` copied from the template is worth a question."""
    if ctx.endpoint is not None:
        return []  # stunnel.connect_mismatch compares it with --connect
    out: list[Finding] = []
    for svc in config.services:
        connects = config.effective_all(svc, "connect")
        accept = config.effective(svc, "accept")
        if not connects:
            continue
        value = connects[0].value.strip()
        target = parse_address(value)
        accept_port = parse_address(accept.value).port_number if accept is not None else None
        template = value.lower() == TEMPLATE_CONNECT
        if not template and (target.port_number is None or target.port_number != accept_port):
            continue
        why = (
            "is the guide template's example"
            if template
            else f"uses the same port as accept ({accept_port}), as the guide's template does"
        )
        out.append(
            Finding(
                "stunnel.connect_unconfirmed",
                Status.WARN,
                f"{name} line {connects[0].line}: connect = {value} {why}: the FIX server's address and port come "
                "from onboarding, and nothing here confirms them.",
                "Put the FIX server address and port from onboarding in connect =, and check them with --connect "
                "HOST:PORT.",
                # The template's host is the guide's example, not theirs: a placeholder to fill.
                (f"fixcheck diagnose --stunnel {shlex.quote(name)} --connect "
                 f"{'HOST:PORT' if template else shlex.quote(value)}",),
            )
        )
    return out


def cert_names(cert: x509.Certificate) -> list[str]:
    """The names stunnel's checkHost/checkIP can match: DNS names and IPs, or the CN without DNS names."""
    dns, ips = hostname.names_of(cert)
    if not dns:
        dns = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return [*dns, *ips]


def check_line(host: str, server_cert: x509.Certificate | None, connect: str = "HOST:PORT") -> tuple[str, str]:
    """The `checkHost`/`checkIP` line for `host` and a comment: from the server certificate's names when known.

    stunnel rejects a server whose certificate does not hold the checked name ('CERT: Subject
    checks failed'), so the name is one the certificate holds: `host` when it does, else the
    certificate's first plain (non-wildcard) name.
    """
    own = f"checkIP = {host}" if is_ip(host) else f"checkHost = {host}"
    if server_cert is None:
        return own, (
            f"confirm that the server's certificate names {host} (it was not read when this file was written): "
            f"openssl s_client -connect {shlex.quote(connect)} </dev/null | openssl x509 -noout -subject -ext "
            "subjectAltName"
        )
    names = cert_names(server_cert)
    if hostname.matches(server_cert, host):
        return own, f"the server's certificate names {host} (read when this file was written)"
    plain = [n for n in names if "*" not in n]
    if not plain:
        return own, f"the server's certificate does not name {host} (it names {', '.join(names) or 'nothing'}): ask the exchange"
    pick = plain[0]
    option = f"checkIP = {pick}" if is_ip(pick) else f"checkHost = {pick}"
    return option, f"the server's certificate names {', '.join(names)}, not {host}: stunnel checks {pick}"


def server_leaf(ctx: Context) -> x509.Certificate | None:
    """The server certificate step 4's handshake received (the probe is cached: no new connection)."""
    if ctx.endpoint is None or 4 not in ctx.results:
        return None
    probe = net.probe(ctx)
    if probe is None or probe.tls is None or not probe.tls.server_chain:
        return None
    return probe.tls.server_chain[0]


def name_advice(ctx: Context, config: StunnelConfig, findings: Sequence[Finding]) -> list[Finding]:
    """The configuration check's name advice, corrected by the certificate step 4 received.

    Without it, the advice is the connect host; a certificate that does not hold that name
    would make stunnel refuse the server, and a checkHost the certificate holds is right
    even when it differs from the connect host.
    """
    leaf = server_leaf(ctx)
    if leaf is None or ctx.endpoint is None:
        return list(findings)
    checks = [c for svc in config.services for c in config.effective_all(svc, "checkHost")]
    out: list[Finding] = []
    for f in findings:
        if f.code == "stunnel.checkhost_differs" and checks and all(hostname.matches(leaf, c.value) for c in checks):
            continue  # the certificate holds the checked name: stunnel accepts the server
        if f.code == "stunnel.no_checkhost" and not hostname.matches(leaf, ctx.endpoint.host):
            option, why = check_line(ctx.endpoint.host, leaf)
            f = dataclasses.replace(f, remediation=f"Add to the service: {option} ({why}).")
        out.append(f)
    return out


def _check_names(ctx: Context, config: StunnelConfig, name: str) -> list[Finding]:
    """checkHost/checkIP that the server certificate step 4 saw does not name: stunnel would refuse it."""
    leaf = server_leaf(ctx)
    if leaf is None or ctx.endpoint is None:
        return []
    out: list[Finding] = []
    for svc in config.services:
        checks = config.effective_all(svc, "checkHost") + config.effective_all(svc, "checkIP")
        connects = config.effective_all(svc, "connect")
        if not checks or not connects or parse_address(connects[0].value).port_number != ctx.endpoint.port:
            continue
        if any(hostname.matches(leaf, c.value) for c in checks):
            continue
        names = cert_names(leaf)
        listed = ", ".join(f"{c.canonical} = {c.value}" for c in checks)
        option, why = check_line(ctx.endpoint.host, leaf)
        fix = f"Write {option} instead of {listed} ({why})."
        out.append(
            Finding(
                "stunnel.check_name_not_in_cert",
                Status.FAIL,
                f"{name} line {checks[0].line}: {listed}, but the server certificate step 4 received names "
                f"{', '.join(names) or 'nothing stunnel can match'}: stunnel will reject the server "
                "('CERT: Subject checks failed').",
                fix,
                (f"openssl s_client -connect {shlex.quote(str(ctx.endpoint))} </dev/null 2>/dev/null | openssl x509 "
                 "-noout -subject -ext subjectAltName",),
                {"check": [c.value for c in checks], "certificate_names": names},
            )
        )
    return out

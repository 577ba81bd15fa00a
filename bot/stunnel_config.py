"""Write a known-good stunnel client configuration for the guide's files (guide step 7).

`client_config()` is pure: it turns paths and an endpoint into configuration text.
`config_for_files()` decides which file is which by content (the engine's roles), so a
user can hand over a folder and get a file that stunnel accepts as it is.
`checkHost`/`checkIP` is taken from the names in the server's certificate when the front
end could read it (`server_certificate()`: one handshake, as step 4 makes); otherwise the
file says that the name must be confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from bot.engine import net
from bot.engine._stunnel_cross import check_line
from bot.engine.context import Context, Endpoint
from bot.engine.inputs import read_file
from bot.engine.roles import Onboarding, Role, assign_roles

DEFAULT_ACCEPT_PORT = 1234
DEFAULT_SERVICE = "itbit"


class StunnelConfigError(ValueError):
    """The files do not hold what a client configuration needs; the message says what is missing."""


def client_config(
    *,
    cert: str,
    cafile: str,
    endpoint: Endpoint,
    key: str | None = None,
    accept_port: int = DEFAULT_ACCEPT_PORT,
    service: str = DEFAULT_SERVICE,
    output: str | None = None,
    check: tuple[str, str] | None = None,
) -> str:
    """stunnel 5 client configuration text: 127.0.0.1:`accept_port` -> mTLS -> `endpoint`.

    `check` is the `checkHost`/`checkIP` line and the comment above it (`check_line()`).
    """
    if not 1 <= accept_port <= 65535:
        raise StunnelConfigError(f"accept port {accept_port} is out of range (1-65535)")
    name = "".join(ch for ch in service if ch.isalnum() or ch in "-_.") or DEFAULT_SERVICE
    host = endpoint.host
    connect = f"[{host}]:{endpoint.port}" if ":" in host else f"{host}:{endpoint.port}"
    check_option, check_comment = check or check_line(host, None, connect)
    lines = [
        "; stunnel client configuration written by `fixcheck stunnel-config`.",
        f"; The FIX client connects to 127.0.0.1:{accept_port} in plain TCP; stunnel carries it",
        f"; over mutual TLS to {connect}.",
        ";",
        "; Troubleshooting: stay in the foreground and print the log in the terminal.",
        "; Once it works you may set foreground = no to run it as a daemon; the log then goes",
        "; to syslog (journalctl -t stunnel) unless `output` names a file.",
        "foreground = yes",
        "; no pid file (set `pid = /path/stunnel.pid` when running as a daemon)",
        "pid =",
        "; info shows each connection and the certificates; notice (5) is stunnel's default.",
        "debug = info",
    ]
    if output:
        lines.append(f"output = {output}")
    else:
        lines.append("; output = /var/log/stunnel-fix.log")
    lines += [
        "",
        f"[{name}]",
        "client = yes",
        "; loopback only: the tunnel must not be reachable from the network",
        f"accept = 127.0.0.1:{accept_port}",
        f"connect = {connect}",
        "; the client certificate (and its key, when they share one file like fix.itbit.pem)",
        f"cert = {cert}",
    ]
    if key:
        lines.append(f"key = {key}")
    lines += [
        "; the exchange's server CA (itbit-ca.pem from the onboarding page), not your own ca.crt",
        f"CAfile = {cafile}",
        "verifyChain = yes",
        f"; {check_comment}",
        check_option,
        "",
    ]
    return "\n".join(lines)


def server_certificate(ob: Onboarding, endpoint: Endpoint, timeout: float) -> x509.Certificate | None:
    """The server certificate `endpoint` presents, from one mTLS handshake (step 4's probe); None if none came."""
    probe = net.probe(Context(ob, endpoint=endpoint, timeout=timeout))
    if probe is None or probe.tls is None or not probe.tls.server_chain:
        return None
    return probe.tls.server_chain[0]


@dataclass
class GeneratedConfig:
    text: str
    cert: Path
    key: Path | None
    cafile: Path
    notes: list[str] = field(default_factory=list)
    check: str = ""  # the checkHost/checkIP line written


def config_for_files(
    paths: Sequence[Path],
    endpoint: Endpoint,
    *,
    accept_port: int = DEFAULT_ACCEPT_PORT,
    service: str = DEFAULT_SERVICE,
    output: str | None = None,
    read_server_cert: bool = False,
    timeout: float = 10.0,
) -> GeneratedConfig:
    """Read `paths`, find the client certificate/key and the server CA, write the configuration.

    With `read_server_cert`, one handshake with `endpoint` (bounded by `timeout`) reads the
    server's certificate, to check the name it holds (`check_line()`).

    Raises `StunnelConfigError` when the files lack a client certificate, its key or the
    exchange's server CA.
    """
    by_name: dict[str, Path] = {}
    inputs = []
    for path in paths:
        resolved = path.resolve()
        name = str(resolved)
        if name in by_name:
            continue
        by_name[name] = resolved
        inputs.append(read_file(name, resolved.read_bytes()))
    ob = assign_roles(inputs)
    if ob.client_cert_file is None:
        raise StunnelConfigError(
            "no client certificate among the files: give fix.itbit.pem (host.crt + host.key) or host.crt and host.key"
        )
    if ob.client_key_file is None:
        raise StunnelConfigError(
            f"no private key for {ob.client_cert_file}: give host.key, or fix.itbit.pem (cat host.crt host.key)"
        )
    if ob.server_ca_file is None or ob.server_ca_file == ob.client_ca_file:
        raise StunnelConfigError(
            "no exchange server CA among the files: save the certificate from the onboarding page as itbit-ca.pem "
            "and add it (your own ca.crt is not the server's CA)"
        )
    cert = by_name[ob.client_cert_file]
    key = None if ob.client_key_file == ob.client_cert_file else by_name[ob.client_key_file]
    cafile = by_name[ob.server_ca_file]
    notes = []
    if ob.roles.get(ob.client_cert_file) is not Role.CLIENT_BUNDLE and key is not None:
        notes.append(f"certificate and key are separate files: cert = {cert}, key = {key}")
    server_cert = server_certificate(ob, endpoint, timeout) if read_server_cert else None
    check = check_line(endpoint.host, server_cert, str(endpoint))
    if read_server_cert and server_cert is None:
        notes.append(f"could not read the server's certificate from {endpoint}: {check[1]}")
    elif not read_server_cert:
        notes.append(check[1])
    elif not check[0].endswith(f"= {endpoint.host}"):
        notes.append(check[1])
    text = client_config(
        cert=str(cert),
        cafile=str(cafile),
        endpoint=endpoint,
        key=None if key is None else str(key),
        accept_port=accept_port,
        service=service,
        output=output,
        check=check,
    )
    return GeneratedConfig(text, cert, key, cafile, notes, check[0])

"""Write a known-good stunnel client configuration for the guide's files (guide step 7).

`client_config()` is pure: it turns paths and an endpoint into configuration text.
`choose_files()` and `config_for_files()` (pure too) decide which file is which by content (the engine's roles),
so a user can hand over a folder and get a file that stunnel accepts as it is. The front
end reads the files (`fixcheck stunnel-config`, in `bot.cli.stunnel_config`).
`checkHost`/`checkIP` is taken from the names in the server's certificate when the front
end could read it (`server_certificate()`: one handshake, as step 4 makes); otherwise the
file says that the name must be confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509

from bot.engine import net
from bot.engine.context import Context, Endpoint
from bot.engine.inputs import read_file
from bot.engine.roles import Onboarding, Role, assign_roles
from bot.engine.steps.stunnel.cross import check_line

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


@dataclass(frozen=True)
class ChosenFiles:
    """The files a client configuration names, picked by content from the ones given."""

    cert: str  # the client certificate (and its key, when `key` is None)
    key: str | None
    cafile: str  # the exchange's server CA
    onboarding: Onboarding  # all the files, sorted into roles (for the handshake)
    notes: tuple[str, ...] = ()


def choose_files(files: Sequence[tuple[str, bytes]]) -> ChosenFiles:
    """Read `files` (`(path, bytes)` pairs) once and pick the certificate, key and server CA.

    Raises `StunnelConfigError`, saying what is missing, before anything touches the network.
    """
    inputs = []
    seen: set[str] = set()
    for name, data in files:
        if name not in seen:
            seen.add(name)
            inputs.append(read_file(name, data))
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
    cert = ob.client_cert_file
    key = None if ob.client_key_file == ob.client_cert_file else ob.client_key_file
    notes = []
    if ob.roles.get(ob.client_cert_file) is not Role.CLIENT_BUNDLE and key is not None:
        notes.append(f"certificate and key are separate files: cert = {cert}, key = {key}")
    return ChosenFiles(cert, key, ob.server_ca_file, ob, tuple(notes))


def server_certificate(chosen: ChosenFiles, endpoint: Endpoint, timeout: float) -> x509.Certificate | None:
    """The server certificate `endpoint` presents, from one mTLS handshake with the chosen client
    certificate (step 4's probe, bounded by `timeout`); None if none came. The generator's one
    network call, kept apart so that `config_for_files()` stays pure."""
    probe = net.probe(Context(chosen.onboarding, endpoint=endpoint, timeout=timeout))
    if probe is None or probe.tls is None or not probe.tls.server_chain:
        return None
    return probe.tls.server_chain[0]


@dataclass
class GeneratedConfig:
    text: str
    cert: str  # the names (paths) of the files the configuration names, as given
    key: str | None
    cafile: str
    notes: list[str] = field(default_factory=list)
    check: str = ""  # the checkHost/checkIP line written


def config_for_files(
    chosen: ChosenFiles,
    endpoint: Endpoint,
    *,
    accept_port: int = DEFAULT_ACCEPT_PORT,
    service: str = DEFAULT_SERVICE,
    output: str | None = None,
    server_cert: x509.Certificate | None = None,
    server_cert_read: bool = False,
) -> GeneratedConfig:
    """The configuration for the files `choose_files()` picked.

    The configuration names each file by its path as given to `choose_files()`, so give
    absolute paths. `server_cert_read` says the front end tried to read the server's
    certificate (`server_certificate()`); `server_cert` is what it got, used to check the
    name it holds (`check_line()`).
    """
    cert, key, cafile, notes = chosen.cert, chosen.key, chosen.cafile, list(chosen.notes)
    check = check_line(endpoint.host, server_cert, str(endpoint))
    if server_cert_read and server_cert is None:
        notes.append(f"could not read the server's certificate from {endpoint}: {check[1]}")
    elif not server_cert_read:
        notes.append(check[1])
    elif not check[0].endswith(f"= {endpoint.host}"):
        notes.append(check[1])
    text = client_config(
        cert=cert,
        cafile=cafile,
        endpoint=endpoint,
        key=key,
        accept_port=accept_port,
        service=service,
        output=output,
        check=check,
    )
    return GeneratedConfig(text, cert, key, cafile, notes, check[0])

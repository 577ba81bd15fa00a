"""Step 7: the checks of one `[service]` of a stunnel client configuration.

A FIX client's tunnel needs `client = yes`, a loopback `accept`, a `connect` with a port,
a `cert`, and server verification (`verification`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.context import Context
from bot.engine.report import Finding, Status
from bot.engine.steps.stunnel.config import (
    Option,
    Section,
    StunnelConfig,
    is_loopback,
    parse_address,
    placeholder_in,
)
from bot.engine.steps.stunnel.verification import verification, yes


@dataclass(frozen=True)
class _Where:
    """How messages name the service, and how sure a missing option is missing."""

    svc: Section
    label: str  # "FILE [service]"
    unless: str  # " (unless the included files set it)" when the configuration includes others
    missing: Status  # FAIL, or WARN when an included file may set the option


def service_findings(ctx: Context, config: StunnelConfig, svc: Section, name: str) -> list[Finding]:
    """All findings about service `svc` of configuration `name`."""
    where = _Where(
        svc,
        f"{name} {svc.label}",
        " (unless the included files set it)" if config.includes else "",
        Status.WARN if config.includes else Status.FAIL,
    )
    client = config.effective(svc, "client")
    out = _client(client, where)
    accept = config.effective(svc, "accept")
    out.extend(_no_accept(where) if accept is None else _accept(accept, where.label))
    out.extend(_connect(ctx, config, where))
    if config.effective(svc, "cert") is None:
        out.append(
            Finding(
                "stunnel.no_cert",
                where.missing,
                f"{where.label} has no 'cert'{where.unless}: stunnel sends no client certificate, and the exchange's "
                "mTLS server rejects the connection ('alert certificate required' or 'handshake failure').",
                f"Add under [{svc.name}]: cert = /full/path/to/fix.itbit.pem (certificate and key in one file)",
            )
        )
    out.extend(verification(config, svc, where.label))
    out.extend(_sni(config.effective(svc, "sni"), client, where.label))
    return out


def _client(client: Option | None, where: _Where) -> list[Finding]:
    if client is not None and yes(client):
        return []
    said = "has no 'client = yes'" if client is None else f"says client = {client.value} (line {client.line})"
    return [
        Finding(
            "stunnel.not_client",
            where.missing if client is None else Status.FAIL,
            f"{where.label} {said}{where.unless}: stunnel then acts as a TLS *server* on the accept port, so the FIX "
            "client's plain-text connection is refused ('wrong version number' in the log) and nothing reaches "
            "the exchange.",
            f"Add under [{where.svc.name}]: client = yes",
        )
    ]


def _no_accept(where: _Where) -> list[Finding]:
    return [
        Finding(
            "stunnel.no_accept",
            where.missing,
            f"{where.label} has no 'accept'{where.unless}: there is no local port for the FIX client to connect to.",
            f"Add under [{where.svc.name}]: accept = 127.0.0.1:1234 (and point the FIX client at 127.0.0.1:1234)",
        )
    ]


def _accept(accept: Option, label: str) -> list[Finding]:
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


def _connect(ctx: Context, config: StunnelConfig, where: _Where) -> list[Finding]:
    """A `connect` (or `exec`) is there, and each `connect` has a port."""
    out: list[Finding] = []
    svc = where.svc
    if not config.effective_all(svc, "connect") and config.effective(svc, "exec") is None:
        target = str(ctx.endpoint) if ctx.endpoint else "HOST:PORT"
        out.append(
            Finding(
                "stunnel.no_connect",
                where.missing,
                f"{where.label} has no 'connect'{where.unless}: stunnel does not know where the exchange is.",
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
                    f"{where.label} line {option.line}: connect = {option.value} has no port; stunnel reads "
                    f"'{address.port}' as a service name and fails ('Unknown TCP service', 'No remote host resolved').",
                    f"Write host and port: connect = {host}:{port}",
                )
            )
    return out


def _sni(sni: Option | None, client: Option | None, label: str) -> list[Finding]:
    if sni is None or ":" not in sni.value or not yes(client):
        return []
    return [
        Finding(
            "stunnel.sni_server_syntax",
            Status.WARN,
            f"{label} line {sni.line}: sni = {sni.value} is the server-mode form (SERVICE:PATTERN); in client "
            "mode sni is just the server name to send.",
            "Remove the sni line: stunnel sends the connect host as SNI by default.",
        )
    ]

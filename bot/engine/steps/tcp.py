"""Step 3: can a TCP connection reach the FIX server (the guide's telnet check)?

Every address the name resolves to (IPv4 and IPv6) is tried at once, within the
timeout. The probe then starts the TLS handshake on the same connection (step 4 reads
its result): a server that resets or closes before sending a single byte is this
step's finding: the exchange's IP allow-list does that, and so does a port that does not
speak TLS; how it hung up says which is likelier (`_hung_up`).
"""

from __future__ import annotations

import ipaddress
import shlex
from typing import Any

from bot.engine import net
from bot.engine.context import Context, Endpoint
from bot.engine.net.tcp import Attempt, TcpResult
from bot.engine.net.tls import TlsResult
from bot.engine.report import Finding, Status
from bot.engine.steps._common import skip

NUMBER = 3
TITLE = "TCP connection to the FIX server"

PUBLIC_IP_COMMAND = "curl -s https://checkip.amazonaws.com"

GUIDE_REMEDIATION = (
    "Use the FIX server address and port provided by the exchange during onboarding. If they are right, "
    "the connection is blocked on the way, most often by your corporate firewall: ask your network team to "
    "allow outbound TCP to {target}."
)


def commands_for(ep: Endpoint) -> tuple[str, ...]:
    host = shlex.quote(ep.host)
    return (f"telnet {host} {ep.port}", f"nc -vz {host} {ep.port}")


def run(ctx: Context) -> list[Finding]:
    if ctx.endpoint_error is not None:
        # An endpoint was asked for but cannot be used: a failure, not a silent skip.
        return [
            Finding(
                "tcp.bad_endpoint",
                Status.FAIL,
                ctx.endpoint_error,
                "Use the FIX server address and port provided by the exchange during onboarding, as HOST:PORT.",
            )
        ]
    if ctx.endpoint is None:
        return [
            skip(
                "tcp.no_endpoint",
                "No endpoint was given: add --connect HOST:PORT (the FIX server address and port from onboarding) to check connectivity.",
            )
        ]
    probe = net.probe(ctx)
    if probe is None:  # pragma: no cover - an endpoint is set
        return [skip("tcp.no_endpoint", "No endpoint was given.")]
    return _findings(ctx.endpoint, probe, ctx.timeout)


def _findings(ep: Endpoint, probe: net.Probe, timeout: float) -> list[Finding]:
    """What the probe's connection showed: no address, no connection, a hang-up, or a connection."""
    tcp = probe.tcp
    commands = commands_for(ep)
    evidence: dict[str, Any] = {
        "endpoint": str(ep),
        "timeout_s": timeout,
        "dns_ms": round(tcp.dns_ms, 1),
        "addresses": [a.to_evidence() for a in tcp.attempts],
    }
    if tcp.dns_error is not None:
        return [_dns(ep, tcp, evidence)]
    connected = tcp.connected
    if connected is None:
        return [_not_connected(ep, tcp, evidence, commands)]
    evidence["connected_to"] = connected.address
    evidence["connect_ms"] = round(connected.ms, 1)
    if probe.reset_before_any_byte and probe.tls is not None:
        return [_hung_up(ep, connected.address, connected.ms, probe.tls, evidence, commands)]
    return _connected(ep, tcp, connected, evidence, commands)


def _connected(
    ep: Endpoint, tcp: TcpResult, connected: Attempt, evidence: dict[str, Any], commands: tuple[str, ...]
) -> list[Finding]:
    """`tcp.ok`, with a warning when other addresses of the name did not connect."""
    others = [a for a in tcp.attempts if a is not connected and a.outcome not in ("connected", "pending")]
    findings = [
        Finding(
            "tcp.ok",
            Status.PASS,
            f"Connected to {_where(ep, connected.address)} in {_ms(connected.ms)}.",
            commands=commands,
            evidence=evidence,
        )
    ]
    slow = [a for a in others if a.outcome in ("timeout", "refused")]
    if slow:
        listed = ", ".join(f"{a.address} ({a.outcome})" for a in slow)
        findings.append(
            Finding(
                "tcp.some_addresses_failed",
                Status.WARN,
                f"{ep.host} also resolves to addresses that did not connect: {listed}. A FIX client or stunnel "
                "that tries those first may be slow to connect or fail.",
                GUIDE_REMEDIATION.format(target=listed)
                + " Or connect to the address that works, if the exchange confirms it is the right one.",
                commands,
                evidence,
            )
        )
    return findings


def _ms(ms: float) -> str:
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def _where(ep: Endpoint, address: str) -> str:
    return str(ep) if address == str(ep) else f"{ep} ({address})"


def _hung_up(
    ep: Endpoint, address: str, connect_ms: float, tls: TlsResult, evidence: dict[str, Any], commands: tuple[str, ...]
) -> Finding:
    """Connected, then closed or reset before a single byte came back: which cause leads depends on how.

    An allow-list drops or resets at connect, before reading anything; once the hello was
    read, a close (FIN or RST) points first to a port that does not speak TLS or a server
    that went away (a plain FIX port; `openssl s_server </dev/null &` exiting on its first
    connection), the allow-list second. On a loopback address no exchange allow-list is
    involved at all, so it is not offered.
    """
    reset = tls.outcome == "reset"
    how = "reset" if reset else "closed"
    hello_sent = tls.bytes_sent > 0
    evidence["closed_by_server"] = how
    evidence["closed_with"] = "RST" if reset else "FIN"
    evidence["hello_sent"] = hello_sent
    evidence["closed_after_ms"] = round(tls.total_ms, 1)
    evidence["loopback"] = _is_loopback(address)
    what = (
        f"TCP connected to {_where(ep, address)} in {_ms(connect_ms)}, but the server {how} the connection "
        f"{tls.total_ms:.0f} ms later without sending a single byte"
    )
    if evidence["loopback"]:
        return _local_hang_up(ep, evidence, f"{what}{', after reading the TLS hello' if hello_sent else ''}.", reset)
    if not hello_sent:
        return _reset(ep, evidence, commands, f"{what}, before the TLS hello could even be sent.")
    if reset:
        return Finding(
            "tcp.reset",
            Status.FAIL,
            f"{what}, not even an answer to the TLS hello: it read the hello, then reset (RST). {NOT_TLS_FIRST}",
            AFTER_HELLO_REMEDIATION.format(ep=ep),
            (f"{_s_client(ep)} </dev/null", *commands, PUBLIC_IP_COMMAND),
            evidence,
        )
    return Finding(
        "tcp.closed_after_hello",
        Status.FAIL,
        f"{what}: it most likely read the TLS hello and closed without answering (a clean TCP close, FIN). "
        + NOT_TLS_FIRST,
        AFTER_HELLO_REMEDIATION.format(ep=ep),
        (f"{_s_client(ep)} </dev/null", *commands, PUBLIC_IP_COMMAND),
        evidence,
    )


NOT_TLS_FIRST = (
    "This port may not speak TLS, or the server went away: a plain-TCP service, such as a FIX engine's own port "
    "reached without stunnel/TLS in front, hangs up like this on bytes it cannot parse (`openssl s_client` says "
    "'unexpected eof'), and so does a server that exits on its first connection. Less likely, since an allow-list "
    "usually drops or resets at connect before reading anything: the exchange's IP allow-list does not know your "
    "public IP address."
)
AFTER_HELLO_REMEDIATION = (
    "Check that {ep} is the FIX server's TLS address and port from onboarding (not a plain FIX port or "
    "stunnel's local accept port). If it is, send the exchange the public IP address your FIX connections come "
    f"from (`{PUBLIC_IP_COMMAND}`) and ask them to allow it."
)


def _is_loopback(address: str) -> bool:
    """`address` is "IP:PORT" or "[IPv6]:PORT" as the TCP probe formats it."""
    try:
        return ipaddress.ip_address(address.rsplit(":", 1)[0].strip("[]")).is_loopback
    except ValueError:
        return False


def _local_hang_up(ep: Endpoint, evidence: dict[str, Any], what: str, reset: bool) -> Finding:
    """A hang-up from a program on this machine: an exchange's allow-list cannot be the reason."""
    listening = f"ss -ltnp 'sport = :{ep.port}'"
    return Finding(
        "tcp.reset" if reset else "tcp.closed_after_hello",
        Status.FAIL,
        f"{what} {ep.host} is this machine (a loopback address), so an exchange's IP allow-list is not the "
        f"explanation: the program listening on port {ep.port} hung up. It may not speak TLS (a plain FIX port), "
        "or it exited on this connection (e.g. `openssl s_server` started in the background with no input), "
        "or it refuses this client.",
        f"Check what listens on port {ep.port} and that it is the TLS server you meant to test, still running; "
        "for the exchange, use the FIX server's TLS address and port from onboarding.",
        (listening, f"{_s_client(ep)} </dev/null"),
        evidence,
    )


def _s_client(ep: Endpoint) -> str:
    return f"openssl s_client -connect {shlex.quote(str(ep))}"


def _reset(ep: Endpoint, evidence: dict[str, Any], commands: tuple[str, ...], what: str, also: str = "") -> Finding:
    return Finding(
        "tcp.reset",
        Status.FAIL,
        f"{what} This is what the exchange's IP allow-list does to a source address it does not know: your "
        f"public IP address is most likely not registered with the exchange.{also}",
        "Send the exchange the public IP address your FIX connections come from and ask them to allow it; "
        f"find it with `{PUBLIC_IP_COMMAND}` on the FIX client's machine (behind a NAT, proxy or VPN it is "
        "the gateway's address, which this command shows). If the address is already registered, check "
        f"that {ep} is the FIX (TLS) address and port from onboarding.",
        (*commands, PUBLIC_IP_COMMAND),
        evidence,
    )


def _dns(ep: Endpoint, tcp: TcpResult, evidence: dict[str, Any]) -> Finding:
    evidence["dns_error"] = tcp.dns_error
    if tcp.dns_error_code is not None:
        evidence["dns_error_code"] = tcp.dns_error_code
    host = shlex.quote(ep.host)
    if tcp.dns_timed_out:
        why = f"DNS did not answer for {ep.host} within {tcp.timeout:g} s"
    else:
        why = f"{ep.host} could not be resolved to an address ({tcp.dns_error})"
    return Finding(
        "tcp.dns",
        Status.FAIL,
        f"{why}, so no connection was attempted. Check the spelling against the FIX server address from onboarding.",
        "Use the FIX server address and port provided by the exchange during onboarding. If the name is right, "
        "this machine's DNS cannot resolve it (an internal-only resolver, or a network that allows only a proxy): "
        "ask your network team, or test from the machine that runs the FIX client.",
        (f"getent hosts {host}", f"nslookup {host}", *commands_for(ep)),
        evidence,
    )


def _not_connected(ep: Endpoint, tcp: TcpResult, evidence: dict[str, Any], commands: tuple[str, ...]) -> Finding:
    outcomes = [a.outcome for a in tcp.attempts]
    tried = ", ".join(f"{a.address} ({a.outcome}, {a.ms:.0f} ms)" for a in tcp.attempts)
    target = ", ".join(a.address for a in tcp.attempts)
    if "refused" in outcomes:
        return Finding(
            "tcp.refused",
            Status.FAIL,
            f"Connection to {ep} refused: nothing accepts connections on port {ep.port} there, or a firewall "
            f"rejects them. Tried: {tried}.",
            "You are either connecting to a wrong server:port, or the connection is blocked by a firewall. Use the "
            "FIX server address and port provided by the exchange during onboarding (sandbox and production "
            "differ).",
            commands,
            evidence,
        )
    if "reset" in outcomes:
        reset = next(a for a in tcp.attempts if a.outcome == "reset")
        evidence["closed_by_server"] = "reset"
        if _is_loopback(reset.address):
            return _local_hang_up(ep, evidence, f"The server at {reset.address} accepted the TCP connection and "
                                  "reset it at once, before sending a single byte.", True)
        return _reset(
            ep,
            evidence,
            commands,
            f"The server at {reset.address} accepted the TCP connection and reset it at once "
            f"({reset.ms:.0f} ms), before sending a single byte.",
        )
    if "timeout" in outcomes:
        return Finding(
            "tcp.timeout",
            Status.FAIL,
            f"No answer from {ep} within {tcp.timeout:g} s: the connection attempt is being dropped silently, "
            f"which is what a firewall does. Tried: {tried}.",
            GUIDE_REMEDIATION.format(target=target)
            + f" Also make sure the exchange has your public IP address (`{PUBLIC_IP_COMMAND}`).",
            (*commands, PUBLIC_IP_COMMAND),
            evidence,
        )
    if "unreachable" not in outcomes:
        return Finding(
            "tcp.error",
            Status.FAIL,
            f"Could not connect to {ep}. Tried: {tried}.",
            GUIDE_REMEDIATION.format(target=target),
            commands,
            evidence,
        )
    return Finding(
        "tcp.unreachable",
        Status.FAIL,
        f"{ep} cannot be reached from this machine (no route to the address). Tried: {tried}.",
        GUIDE_REMEDIATION.format(target=target) + " Check that this machine has a route to the internet.",
        commands,
        evidence,
    )

"""Step 4: how the server ended a connection it did not keep, and what each way means.

A TLS alert is a refusal (classified in `failed.py`); close_notify is an orderly end; a bare
TCP close (FIN) or reset (RST) is an abrupt hang-up, which is a certificate rejection only
when the server had not yet shown that it accepted the certificate (TLS 1.2: it finished
the handshake; TLS 1.3: its session tickets came). Said apart, so that no correct file is
blamed for a server that simply hung up.
"""

from __future__ import annotations

from typing import Any

from bot.engine.context import Endpoint
from bot.engine.net.fix import FixLogon
from bot.engine.net.tls import TlsResult
from bot.engine.report import Finding, Status

CLIENT_CERT_REMEDIATION = (
    "The guide: this indicates an issue with the certificate in fix.itbit.pem. Check that fix.itbit.pem holds "
    "the host certificate and its key (steps 5 and 6), that ca.crt validates it (step 1) and that it has not "
    "expired (step 8), and that the exchange has installed the ca.crt that issued it: a new or regenerated "
    "ca.crt must be sent to the exchange and installed on the FIX server before you retry."
)

def certificate_accepted(t: TlsResult) -> bool:
    """The server accepted the client certificate before it hung up.

    TLS 1.2: the server checks it before sending its Finished, so a completed handshake means
    accepted. TLS 1.3: the server sends session tickets only after accepting it.
    """
    if t.phase != "after-handshake" or not t.client_cert_sent or t.verify_errors:
        return False
    return t.tls_version != "TLSv1.3" or t.tickets


def _next_step(ep: Endpoint, logon: FixLogon | None, ask: str) -> str:
    """What to do after the server ended a good handshake; no "--logon" advice when one was asked for."""
    if logon is None:
        return (
            f"If this is the exchange's FIX endpoint, log on to see the FIX answer (--logon SENDER:TARGET){ask}; "
            "otherwise use the FIX server address and port from onboarding."
        )
    return (
        f"The Logon as {logon.sender}:{logon.target} could not be sent on a connection the server had closed. If "
        f"{ep} is the exchange's FIX endpoint, ask the exchange, with the time of the test, whether this session "
        "is set up for your certificate; otherwise use the FIX server address and port from onboarding."
    )


def hung_up(
    ep: Endpoint, t: TlsResult, ev: dict[str, Any], commands: tuple[str, ...], logon: FixLogon | None = None
) -> Finding:
    """A bare FIN or RST right after a handshake in which the server accepted the client certificate."""
    tcp = "a TCP reset (RST)" if t.outcome == "reset" else "a bare TCP close (FIN)"
    proof = "its session tickets came first" if t.tls_version == "TLSv1.3" else "it finished the TLS 1.2 handshake"
    return Finding(
        "tls.hung_up",
        Status.WARN,
        f"The mTLS handshake with {ep} completed and the server accepted your client certificate ({proof}); then "
        f"it hung up with {tcp}, with no TLS alert and no close_notify. That is not a certificate rejection (a "
        "server that refuses one sends an alert). A FIX server keeps the connection open for the client's Logon: "
        "the service behind the TLS endpoint closed it, e.g. `openssl s_server` whose input ended (run in the "
        "background), or a FIX service that does not accept this session.",
        _next_step(ep, logon, ", and ask the exchange with the time of the test"),
        commands,
        {**ev, "closed_with": "RST" if t.outcome == "reset" else "FIN"},
    )


def closed_cleanly(
    ep: Endpoint, t: TlsResult, ev: dict[str, Any], commands: tuple[str, ...], logon: FixLogon | None = None
) -> Finding:
    """close_notify right after a completed handshake: an orderly end, not a refusal (that is an alert)."""
    accepted = (
        "the server accepted your client certificate"
        if t.client_cert_sent
        else "no client certificate was sent"
    )
    return Finding(
        "tls.closed_cleanly",
        Status.WARN,
        f"The mTLS handshake with {ep} completed ({t.tls_version}) and {accepted}; then the server ended the "
        "session in order with a TLS close_notify. That is not a rejection: a server that refuses a certificate "
        "sends a TLS alert, and a bare TCP close (FIN) or reset (RST) without either is an abrupt hang-up. A FIX "
        "server keeps the connection open for the client's Logon, so the service on this port chose to close: "
        "e.g. `openssl s_server` whose input ended (run in the background), or a FIX service that does not know "
        "this session.",
        _next_step(ep, logon, ""),
        commands,
        {**ev, "close_notify": True},
    )


def closed(ep: Endpoint, t: TlsResult, ev: dict[str, Any], commands: tuple[str, ...]) -> Finding:
    how = "reset" if t.outcome == "reset" else "closed"
    tcp = "a TCP reset (RST)" if t.outcome == "reset" else "a bare TCP close (FIN)"
    if t.phase == "after-handshake":
        text = f"The handshake with {ep} completed, then the server {how} the connection with {tcp}: no TLS alert and no close_notify. " + (
            "Under TLS 1.3 this is how some servers refuse a client certificate; it also happens when the "
            "service behind the exchange's TLS endpoint refuses the connection."
            if t.tls_version == "TLSv1.3"
            else "The TLS part worked; the service behind it refused the connection."
        )
    else:
        text = f"The server {how} the connection during the TLS handshake, without a TLS alert" + (
            ", after receiving your client certificate." if t.client_cert_sent else "."
        )
    return Finding(
        "tls.closed",
        Status.FAIL,
        text,
        CLIENT_CERT_REMEDIATION
        + " If the certificate checks pass, ask the exchange whether your IP address and ca.crt are registered.",
        commands,
        ev,
    )


def closed_before_any_byte(ep: Endpoint, t: TlsResult, ev: dict[str, Any]) -> Finding:
    how = "reset" if t.outcome == "reset" else "closed"
    return Finding(
        "tls.closed",
        Status.FAIL,
        f"The server {how} the connection before sending anything: this is what the exchange's IP allow-list "
        "does to an unknown source address (see step 3).",
        "Send the exchange the public IP address of the FIX client (`curl -s https://checkip.amazonaws.com`).",
        ("curl -s https://checkip.amazonaws.com",),
        ev,
    )

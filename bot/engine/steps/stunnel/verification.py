"""Step 7: does a service verify the exchange's server certificate, and against which name?

stunnel 5 checks nothing by default: `verifyChain = yes` (or `verifyPeer`, or the obsolete
`verify = 2`) turns the check on, `CAfile`/`CApath` says which CA to trust, and
`checkHost`/`checkIP` which name the certificate must hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.report import Finding, Status
from bot.engine.steps.stunnel.config import Option, Section, StunnelConfig, is_ip, parse_address

_CA_EXAMPLE = "/full/path/to/itbit-ca.pem"


def yes(option: Option | None) -> bool:
    """The option is set to yes (any case)."""
    return option is not None and option.value.strip().lower() == "yes"


@dataclass(frozen=True)
class _Verifying:
    """What one service's options say about verifying the server."""

    chain: bool  # verifyChain = yes, or verify = 2 or more
    peer: bool  # verifyPeer = yes
    legacy: Option | None  # verify = N
    cafile: Option | None
    capath: Option | None
    checks: list[Option]  # checkHost and checkIP lines
    host: str | None  # the first connect's host

    @property
    def on(self) -> bool:
        return self.chain or self.peer

    @property
    def ca_name(self) -> str:
        return self.cafile.value if self.cafile else _CA_EXAMPLE


def _read(config: StunnelConfig, svc: Section) -> _Verifying:
    legacy = config.effective(svc, "verify")
    connects = config.effective_all(svc, "connect")
    return _Verifying(
        chain=yes(config.effective(svc, "verifyChain"))
        or (legacy is not None and legacy.value.isdigit() and int(legacy.value) >= 2),
        peer=yes(config.effective(svc, "verifyPeer")),
        legacy=legacy,
        cafile=config.effective(svc, "CAfile"),
        capath=config.effective(svc, "CApath"),
        checks=config.effective_all(svc, "checkHost") + config.effective_all(svc, "checkIP"),
        host=parse_address(connects[0].value).host if connects else None,
    )


def verification(config: StunnelConfig, svc: Section, label: str) -> list[Finding]:
    """Findings about server verification in service `svc` (`label` names it in messages)."""
    v = _read(config, svc)
    out: list[Finding] = []
    if v.legacy is not None:
        out.append(
            Finding(
                "stunnel.verify_obsolete",
                Status.WARN,
                f"{label} line {v.legacy.line}: verify = {v.legacy.value} is obsolete in stunnel 5.",
                "Use verifyChain = yes (with checkHost) instead of verify = N.",
            )
        )
    if v.checks and not v.on:
        out.append(
            Finding(
                "stunnel.checkhost_without_verify",
                Status.FAIL,
                f"{label}: {v.checks[0].canonical} is set but neither verifyChain nor verifyPeer is on; stunnel "
                'refuses this (\'Either "verifyChain" or "verifyPeer" has to be enabled\').',
                f"Add under [{svc.name}]: verifyChain = yes (CAfile = {v.ca_name} must hold the exchange's server CA)",
            )
        )
    finding = _verify_off(config, svc, v, label) if not v.on else _verify_on(svc, v, label)
    return out if finding is None else [*out, finding]


def _verify_off(config: StunnelConfig, svc: Section, v: _Verifying, label: str) -> Finding:
    loaded = f" CAfile ({v.cafile.value}) is loaded but nothing is checked against it;" if v.cafile is not None else ""
    return Finding(
        "stunnel.verify_off",
        Status.WARN,
        f"{label}: verifyChain is "
        + ("'no'" if config.effective(svc, "verifyChain") else "not set (default no)")
        + f", so the exchange's server certificate is not verified.{loaded} stunnel accepts any server "
        "(it logs 'needs authentication to prevent MITM attacks'). The tunnel still works; the server's "
        "identity is just not checked.",
        "Turn verification on with the same CAfile: verifyChain = yes"
        + (f" and checkHost = {v.host}" if v.host and not is_ip(v.host) else "")
        + f" (CAfile = {v.ca_name}, the exchange's server CA from the onboarding page).",
    )


def _verify_on(svc: Section, v: _Verifying, label: str) -> Finding | None:
    """Verification is on: is there a CA to trust, and a name to check?"""
    host = v.host
    if v.cafile is None and v.capath is None:
        return Finding(
            "stunnel.verify_without_cafile",
            Status.FAIL,
            f"{label}: verifyChain/verifyPeer is on but no CAfile is given; stunnel trusts nothing "
            "('No trusted certificates found') and every handshake fails with 'certificate verify failed'.",
            f"Add under [{svc.name}]: CAfile = {_CA_EXAMPLE} (the exchange's server CA)",
        )
    if v.chain and not v.checks and host:
        fix = f"checkIP = {host}" if is_ip(host) else f"checkHost = {host}"
        return Finding(
            "stunnel.no_checkhost",
            Status.WARN,
            f"{label}: verifyChain is on without checkHost/checkIP, so any certificate the CA signed is "
            "accepted, not only the exchange's server (stunnel warns about this too).",
            f"Add under [{svc.name}]: {fix}",
        )
    if v.chain and host and not is_ip(host):
        return _checkhost_differs(v, host, label)
    return None


def _checkhost_differs(v: _Verifying, host: str, label: str) -> Finding | None:
    names = [c.value.lower() for c in v.checks if c.key == "checkhost"]
    if not names or host.lower() in names or any(_wildcard(n, host.lower()) for n in names):
        return None
    return Finding(
        "stunnel.checkhost_differs",
        Status.WARN,
        f"{label}: checkHost = {', '.join(names)} differs from the connect host {host}; stunnel "
        "rejects the server unless its certificate names it ('CERT: Subject checks failed').",
        f"Use the host you connect to: checkHost = {host}",
        (f"openssl s_client -connect {host}:PORT -showcerts </dev/null | openssl x509 -noout -ext subjectAltName",),
    )


def _wildcard(pattern: str, host: str) -> bool:
    return pattern.startswith("*.") and host.endswith(pattern[1:]) and host.count(".") == pattern.count(".")

"""Which endpoints the bot may probe: the allow-list and the private-address rule.

Both checks happen before the engine opens any connection. `allowed()` is a pure
pattern match (cheap enough for the acknowledgement path); `resolve_check()` looks the
name up and refuses private, loopback, link-local, multicast and reserved addresses
unless that exact `host:port` is listed without a wildcard.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from bot.engine.context import Endpoint

VARIABLE = "FIXCHECK_ALLOWED_ENDPOINTS"
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT: not public either

# HOST:PORT as people type it in Slack: a DNS name or IPv4 address, or [IPv6]; the port 1-65535.
# Each label is `[A-Za-z0-9][A-Za-z0-9\-_]{0,62}` with no nested optional: `(?:X{0,62})?` can match
# the empty string two ways, which made the search exponential in the number of labels
# (`a.a.a.…a.:1` in any channel message pinned a CPU for minutes).
ENDPOINT_RE = re.compile(
    r"(?<![\w.\-/@:\[])"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9\-_]{0,62}(?:\.[A-Za-z0-9][A-Za-z0-9\-_]{0,62})*)"
    r":(?P<port>\d{1,5})(?![\w.:\-])"
)


@dataclass(frozen=True)
class Target(Endpoint):
    """A `HOST:PORT` the user asked to probe (the engine's `Endpoint`, plus an allow-list key)."""

    @property
    def key(self) -> str:
        return str(self).lower()


class Refused(Exception):
    """The endpoint may not be probed; the message says why and names the variable."""


def find_endpoint(text: str) -> Target | None:
    """The first plausible `HOST:PORT` in `text` (Slack link markup already removed)."""
    for m in ENDPOINT_RE.finditer(text):
        host = m.group("host").strip("[]")
        port = int(m.group("port"))
        if not 1 <= port <= 65535:
            continue
        # "10:30" or "step 3:4" are not endpoints: a host needs a dot, a letter, or to be an IP.
        if host.isdigit():
            continue
        return Target(host, port)
    return None


def parse_target(text: str) -> Target | None:
    """`text` is exactly one HOST:PORT (as in `/fixcheck HOST:PORT`)."""
    value = text.strip()
    for scheme in ("tcp://", "ssl://", "tls://"):
        if value.lower().startswith(scheme):
            value = value[len(scheme) :]
    target = find_endpoint(value)
    if target is None or len(str(target)) < len(value) - 2:
        return None
    return target


def allowed(target: Target, patterns: Sequence[str]) -> None:
    """Raise `Refused` unless `target` matches one of the allow-list patterns."""
    if not any(fnmatch.fnmatchcase(target.key, p) for p in patterns):
        listed = ", ".join(patterns) if patterns else "nothing"
        raise Refused(
            f"{target} is not an endpoint this bot may probe: it is not in {VARIABLE} (currently: {listed}). "
            f"Ask the bot's operator to add it, or run the fixcheck CLI on your own machine."
        )


def resolve_check(target: Target, patterns: Sequence[str]) -> None:
    """Refuse names that resolve to non-public addresses unless listed exactly.

    A name that does not resolve passes: the engine then reports the DNS failure (step 3).
    """
    exact = target.key in {p for p in patterns if "*" not in p}
    if exact:
        return
    for address in _addresses(target):
        if not _public(address):
            raise Refused(
                f"{target} resolves to {address}, a private/loopback/link-local address, which this bot does not "
                f"probe unless {VARIABLE} lists exactly {target.key}."
            )


def _addresses(target: Target) -> list[str]:
    try:
        ipaddress.ip_address(target.host)
        return [target.host]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return False
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )

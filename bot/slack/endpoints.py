"""Which endpoints the bot may probe: the allow-list and the private-address rule.

Both checks happen before the engine opens any connection. `allowed()` is a pure
pattern match (cheap enough for the acknowledgement path); `resolve_check()` looks the
name up once, refuses private, loopback, link-local (cloud metadata), site-local, multicast
and reserved addresses unless that address itself is listed (an exactly listed NAME whose
DNS answers 169.254.169.254 is still refused), and returns the addresses it checked: the
engine connects to those and never resolves the name again.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.engine import Endpoint, net

VARIABLE = "FIXCHECK_ALLOWED_ENDPOINTS"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., Any]  # socket.getaddrinfo
DNS_TIMEOUT = 10.0  # seconds for the one lookup; a name that does not answer in time resolves to nothing
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT: not public either
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix: the last 32 bits are an IPv4 address

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


@dataclass(frozen=True)
class Pattern:
    """One FIXCHECK_ALLOWED_ENDPOINTS entry, parsed: a host (IP literal or DNS pattern) and a port.

    IP literals (IPv6 in brackets) match only the same address; `*` is a wildcard only inside
    a DNS label (`*.itbit.com` matches one label's worth, `*` alone any name), never in an
    address (fnmatch made `[2001:db8::d]` a character class that matched the host `d`).
    """

    ip: IPAddress | None
    labels: tuple[str, ...]  # lower-case DNS labels, possibly with `*`; empty for an IP
    port: int | None  # None: any port

    @property
    def exact(self) -> bool:
        return self.port is not None and not any("*" in label for label in self.labels)

    def matches(self, target: Target) -> bool:
        if self.port is not None and self.port != target.port:
            return False
        ip = _ip(target.host)
        if self.ip is not None or ip is not None:
            return (self.ip is not None and ip == self.ip) or self.labels == ("*",)
        labels = target.host.lower().rstrip(".").split(".")
        if self.labels == ("*",):
            return True
        return len(labels) == len(self.labels) and all(map(_label_matches, self.labels, labels))


_PATTERN_RE = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9*][A-Za-z0-9*\-_.]*):(?P<port>\d{1,5}|\*)")
_LABEL_RE = re.compile(r"[a-z0-9*_](?:[a-z0-9*\-_]{0,61}[a-z0-9*_])?")


def parse_pattern(text: str) -> Pattern | None:
    """The parsed entry, or None when it is not `HOST:PORT` (such an entry matches nothing)."""
    m = _PATTERN_RE.fullmatch(text.strip().lower())
    if m is None:
        return None
    host, port_text = m.group("host"), m.group("port")
    port = None if port_text == "*" else int(port_text)
    if port is not None and not 1 <= port <= 65535:
        return None
    ip = _ip(host.strip("[]"))
    if host.startswith("["):
        return Pattern(ip, (), port) if isinstance(ip, ipaddress.IPv6Address) else None
    if ip is not None:
        return Pattern(ip, (), port)
    labels = tuple(host.rstrip(".").split("."))
    if not all(_LABEL_RE.fullmatch(label) for label in labels):
        return None
    return Pattern(None, labels, port)


def _label_matches(pattern: str, label: str) -> bool:
    if "*" not in pattern:
        return pattern == label
    regex = "[a-z0-9_-]*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, label) is not None


def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _parsed(patterns: Sequence[str]) -> list[Pattern]:
    return [p for p in map(parse_pattern, patterns) if p is not None]


def allowed(target: Target, patterns: Sequence[str]) -> None:
    """Raise `Refused` unless `target` matches one of the allow-list patterns."""
    if not any(p.matches(target) for p in _parsed(patterns)):
        listed = ", ".join(patterns) if patterns else "nothing"
        raise Refused(
            f"{target} is not an endpoint this bot may probe: it is not in {VARIABLE} (currently: {listed}). "
            f"Ask the bot's operator to add it, or run the fixcheck CLI on your own machine."
        )


def resolve_check(
    target: Target, patterns: Sequence[str], resolver: Resolver | None = None, *, timeout: float = DNS_TIMEOUT
) -> tuple[str, ...]:
    """Resolve `target` once and return the addresses that may be probed: exactly these, no others.

    Non-public addresses (private, loopback, link-local, site-local, multicast, reserved) are
    refused unless that address is itself listed (`127.0.0.1:4490`, `[::1]:*`): listing a
    name exactly trusts the name, not whatever its DNS answers. The caller connects to the returned
    addresses only (never resolving again, which let a second DNS answer point elsewhere).
    An empty result: the name does not resolve; the engine then reports the DNS failure (step 3).
    """
    # The engine's resolver (None: socket.getaddrinfo), so that one hook serves both lookups' tests.
    addresses = _addresses(target, resolver or net.resolver() or socket.getaddrinfo, timeout)
    listed_ips = [p for p in _parsed(patterns) if p.ip is not None]
    for address in addresses:
        if _public(address) or _ip_listed(address, target.port, listed_ips):
            continue
        shown = f"[{address}]" if ":" in address else address
        raise Refused(
            f"{target} resolves to {address}, a private/loopback/link-local/metadata address, which this bot does "
            f"not probe unless {VARIABLE} lists that address itself ({shown}:{target.port}). "
            f"Check what the name resolves to with `dig +short {target.host}`."
        )
    return addresses


def _ip_listed(address: str, port: int, listed: Sequence[Pattern]) -> bool:
    """Is this exact address (not a name resolving to it) in the allow-list for `port`?"""
    ip = _ip(address.split("%")[0])
    return ip is not None and any(p.ip == ip and p.port in (None, port) for p in listed)


def _addresses(target: Target, resolver: Resolver, timeout: float) -> tuple[str, ...]:
    """Every address `target` resolves to, by the engine's bounded lookup (abandoned after `timeout`)."""
    ip = _ip(target.host)
    if ip is not None:
        return (str(ip),)
    found, _error, _code, _timed_out = net.resolve(target.host, target.port, timeout, resolver)
    return tuple(dict.fromkeys(str(sockaddr[0]) for _family, sockaddr in found))


def _public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address reach that address: judge it too.
        embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if not all(_public(str(v4)) for v4 in embedded if v4 is not None):
            return False
        if ip.ipv4_mapped is not None:
            return True
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:  # fec0::/10: deprecated, never public
        return False
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )

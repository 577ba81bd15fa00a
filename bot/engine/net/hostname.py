"""Does a server certificate name the host we connected to (RFC 6125, as OpenSSL checks it)?"""

from __future__ import annotations

import ipaddress

from cryptography import x509
from cryptography.x509.oid import NameOID


def names_of(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """The certificate's DNS names and IP addresses (subjectAltName)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return [], []
    dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    return dns, ips


def matches(cert: x509.Certificate, host: str) -> bool:
    """True when `host` is one of the certificate's names (wildcards in the first label)."""
    host = host.strip().rstrip(".").lower()
    dns, ips = names_of(cert)
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return any(ipaddress.ip_address(a) == ip for a in ips)
    candidates = dns
    if not dns:  # OpenSSL falls back to the subject CN when there is no DNS name
        candidates = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return any(_match_one(pattern.lower().rstrip("."), host) for pattern in candidates)


def _match_one(pattern: str, host: str) -> bool:
    if pattern == host:
        return True
    if pattern.startswith("*.") and "*" not in pattern[2:]:
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:] and rest.count(".") >= 1
    return False

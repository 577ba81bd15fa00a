"""Step 4's evidence and commands: what the handshake showed, and the `openssl s_client` lines to see it again.

Every step-4 finding about the handshake carries the same evidence (`evidence`): the
endpoint, TLS version and cipher, the server's chain, verify errors, whether a client
certificate was asked for and sent, the CAs the server accepts, the alert and how the
connection went on after the handshake.
"""

from __future__ import annotations

import shlex
from typing import Any

from cryptography import x509

from bot.engine import certs, net
from bot.engine.context import Context, Endpoint
from bot.engine.net.tables import alert_name
from bot.engine.net.tls import TlsResult
from bot.engine.roles import Onboarding
from bot.engine.steps._common import CLIENT_BUNDLE, SERVER_CA, q


def s_client(ob: Onboarding, ep: Endpoint, with_client: bool) -> str:
    """The guide's handshake check, with the user's own file names (and the client files when used)."""
    parts = [f"openssl s_client -connect {shlex.quote(str(ep))}"]
    if with_client:
        cert = q(ob.client_cert_file, CLIENT_BUNDLE)
        key = q(ob.client_key_file or ob.client_cert_file, CLIENT_BUNDLE)
        parts.append(f"-key {key} -cert {cert}")
    parts.append(f"-CAfile {q(ob.server_ca_file, SERVER_CA)}")
    return " ".join(parts)


def showcerts(ep: Endpoint) -> str:
    """The command that shows the certificates the server presents."""
    return f"openssl s_client -connect {shlex.quote(str(ep))} -showcerts </dev/null"


def _brief(cert: x509.Certificate) -> dict[str, Any]:
    return {
        "subject": certs.subject_name(cert),
        "issuer": certs.issuer_name(cert),
        "not_before": certs.not_before(cert).isoformat(),
        "not_after": certs.not_after(cert).isoformat(),
        "sha256_fingerprint": certs.sha256_fingerprint(cert),
    }


def _client_ca_names(ob: Onboarding) -> set[x509.Name]:
    """Names under which the server could know the client's CA."""
    names = {c.subject for c in ob.client_ca} | {c.subject for c in ob.client_extra_certs}
    if ob.client_cert is not None and ob.client_cert.cert is not None:
        names.add(ob.client_cert.cert.issuer)
    return names


def evidence(ctx: Context, t: TlsResult) -> tuple[dict[str, Any], bool | None]:
    """The handshake's evidence, and whether the server lists the client's CA (None: cannot tell)."""
    ob = ctx.onboarding
    ev: dict[str, Any] = {"endpoint": str(ctx.endpoint), "timeout_s": ctx.timeout}
    probe = net.probe(ctx)
    if probe is not None and probe.tcp.connected is not None:
        ev["address"] = probe.tcp.connected.address
    if t.tls_version:
        ev["tls_version"] = t.tls_version
        ev["cipher"] = t.cipher
    if t.sni:
        ev["sni"] = t.sni
    if t.handshake_ms is not None:
        ev["handshake_ms"] = round(t.handshake_ms, 1)
    ev["server_chain"] = [_brief(c) for c in t.server_chain]
    ev["server_ca_file"] = ob.server_ca_file
    if t.server_ca_given and t.server_chain:
        ev["server_certificate_verified"] = not t.verify_errors
    if t.verify_errors:
        ev["verify_errors"] = [{"number": n, "depth": d, "text": txt} for n, d, txt in t.verify_errors]
    ev["client_certificate_requested"] = t.cert_requested
    acceptable = [certs.name(n) for n in t.client_ca_names]
    ev["acceptable_client_ca_names"] = acceptable
    listed: bool | None = None
    mine = _client_ca_names(ob)
    if t.client_ca_names and mine:
        listed = any(n in mine for n in t.client_ca_names)
    ev["client_ca_listed"] = listed
    leaf = ob.client_cert.cert if ob.client_cert is not None else None
    ev["client_certificate_sent"] = t.client_cert_sent
    if leaf is not None and t.client_cert_loaded:
        ev["client_certificate"] = {
            "subject": certs.subject_name(leaf),
            "issuer": certs.issuer_name(leaf),
            "not_after": certs.not_after(leaf).isoformat(),
            "file": ob.client_cert_file,
        }
    if t.alert_received is not None:
        ev["alert"] = {
            "number": t.alert_received,
            "name": alert_name(t.alert_received),
            "level": "fatal" if t.alert_level == 2 else "warning",
            "from": "server",
            "when": "after the handshake" if t.phase == "after-handshake" else "during the handshake",
        }
    if t.post_handshake:
        ev["after_handshake"] = t.post_handshake
    if t.error:
        ev["openssl_error"] = t.error
    ev["bytes_received"] = t.bytes_received
    return ev, listed

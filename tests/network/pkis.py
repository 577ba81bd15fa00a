"""The network tests' PKI: the guide's files for a registered and an unregistered client, two exchanges."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from bot.lab.onboarding import ClientFiles, ServerFiles, make_client, make_server


@dataclass(frozen=True)
class Pki:
    folder: Path
    client: ClientFiles  # registered with the servers
    stranger: ClientFiles  # a client whose ca.crt the exchange never installed
    server: ServerFiles  # the exchange: itbit-ca.pem + server certificate
    other_server: ServerFiles  # another CA altogether
    expired_bundle: bytes  # fix.itbit.pem whose certificate expired yesterday (issued by client's CA)
    server_fullchain: Path  # server.crt followed by its CA (a server that sends its root)

    def files(self, client: ClientFiles | None = None, server_ca: Path | None = None) -> list[tuple[str, bytes]]:
        c = client or self.client
        out = [("fix.itbit.pem", c.bundle.read_bytes()), ("ca.crt", c.ca_crt.read_bytes())]
        out.append(("itbit-ca.pem", (server_ca or self.server.ca_pem).read_bytes()))
        return out


def _expired(client: ClientFiles) -> bytes:
    ca_key = serialization.load_pem_private_key(client.ca_key.read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(client.ca_crt.read_bytes())
    key = serialization.load_pem_private_key(client.host_key.read_bytes(), None)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=fix-client-expired,O=Example Trading"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now - dt.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert.public_bytes(serialization.Encoding.PEM) + client.host_key.read_bytes()


def build(base: Path) -> Pki:
    client = make_client(base / "client", ca_cn="fix-client-ca")
    stranger = make_client(base / "stranger", ca_cn="unregistered-client-ca", cn="stranger")
    server = make_server(base / "server")
    other = make_server(base / "other", ca_cn="Some Other CA")
    fullchain = base / "server" / "fullchain.pem"
    fullchain.write_bytes(server.crt.read_bytes() + server.ca_pem.read_bytes())
    return Pki(base, client, stranger, server, other, _expired(client), fullchain)

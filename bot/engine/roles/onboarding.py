"""The parts of the guide's onboarding, and the inputs sorted into them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from bot.engine.inputs import FileFormat, InputFile, Item


class Role(StrEnum):
    CLIENT_BUNDLE = "client-bundle"  # fix.itbit.pem: client certificate + its key
    CLIENT_CERT = "client-cert"  # host.crt / the exchange-signed certificate
    CLIENT_KEY = "client-key"  # host.key
    CLIENT_CA = "client-ca"  # ca.crt: issued the client certificate
    CA_KEY = "ca-key"  # ca.key
    CSR = "csr"  # host.csr
    SERVER_CA = "server-ca"  # itbit-ca.pem: the exchange's server CA
    STUNNEL_CONFIG = "stunnel-config"
    STUNNEL_LOG = "stunnel-log"
    UNKNOWN = "unknown"


@dataclass
class Onboarding:
    """The inputs sorted into the parts the guide's steps need.

    Each `*_file` names the input the part came from, for messages and commands.
    """

    files: list[InputFile]
    roles: dict[str, Role] = field(default_factory=dict)  # file name -> role
    client_cert: Item | None = None
    client_cert_file: str | None = None
    client_key: Item | None = None
    client_key_file: str | None = None
    client_extra_certs: list[x509.Certificate] = field(default_factory=list)  # chain after the leaf
    client_ca: list[x509.Certificate] = field(default_factory=list)
    client_ca_file: str | None = None
    # Every certificate of the client CA file, including those only OpenSSL reads (step 1).
    client_ca_items: list[Item] = field(default_factory=list)
    ca_key: Item | None = None
    ca_key_file: str | None = None
    csr: Item | None = None
    csr_file: str | None = None
    server_ca: list[x509.Certificate] = field(default_factory=list)
    server_ca_file: str | None = None
    stunnel_config: InputFile | None = None
    stunnel_log: InputFile | None = None
    error: str | None = None  # sorting failed unexpectedly (the exception's class name): step 5 says so

    @property
    def made_own_ca(self) -> bool:
        """The guide's onboarding (own CA, v1 host certificate) rather than an exchange-signed one."""
        leaf = self.client_cert.cert if self.client_cert else None
        if self.ca_key is not None or (leaf is not None and leaf.version is x509.Version.v1):
            return True
        return self.client_ca_file is not None and self.client_ca_file != self.server_ca_file

    @property
    def client_private_key(self) -> PrivateKeyTypes | None:
        """The client's private key object, for the TLS handshake only."""
        return None if self.client_key is None else self.client_key.private_key


def file_format_of(ob: Onboarding, name: str | None) -> FileFormat | None:
    for f in ob.files:
        if f.name == name:
            return f.format
    return None

"""Work out which input plays which part in the onboarding, from content first.

The guide's files: `fix.itbit.pem` (host certificate + host key), `ca.crt` (the client
CA that signed it; sent to the exchange), `ca.key`, `host.csr`, `host.crt`, `host.key`,
and `itbit-ca.pem` (the exchange's server CA). The newer onboarding has the exchange
sign the client's CSR, bundled key first. Users rename and merge files, so a role is
decided by what a file holds and how its certificates relate; the name only breaks ties.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from bot.engine.certs import is_ca, is_self_signed, issued_by, issuer_der, subject_der
from bot.engine.inputs import FileFormat, InputFile, Item, Kind


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


_SERVER_CA_HINTS = ("itbit", "paxos", "exchange", "server", "sandbox-ca", "prod-ca")
_CLIENT_KEY_HINTS = ("host", "client", "fix", "private", "user")


def assign_roles(files: list[InputFile]) -> Onboarding:
    """Sort `files` into an `Onboarding`. Never raises."""
    ob = Onboarding(files=files)
    ca_candidates: list[InputFile] = []
    leaf_files: list[InputFile] = []
    key_only: list[InputFile] = []

    for f in files:
        certs = f.of_kind(Kind.CERTIFICATE)
        keys = _tls_keys(f)
        if f.looks_like == "stunnel-config":
            ob.roles[f.name] = Role.STUNNEL_CONFIG
            ob.stunnel_config = ob.stunnel_config or f
        elif f.looks_like == "stunnel-log":
            ob.roles[f.name] = Role.STUNNEL_LOG
            ob.stunnel_log = ob.stunnel_log or f
        elif certs and keys:
            leaf_files.append(f)
        elif certs:
            (ca_candidates if all(_ca_like(c) for c in certs) else leaf_files).append(f)
        elif keys:
            key_only.append(f)
        elif f.of_kind(Kind.CSR):
            ob.roles[f.name] = Role.CSR
            if ob.csr is None:
                ob.csr, ob.csr_file = f.of_kind(Kind.CSR)[0], f.name
        else:
            ob.roles[f.name] = _role_of_unreadable(f)

    _leaf_among_cas(leaf_files, ca_candidates)
    _named_client_cert(leaf_files, ca_candidates)
    _issuers_among_leaves(leaf_files, ca_candidates)
    _pick_client_cert(ob, leaf_files)
    _pick_keys(ob, leaf_files, key_only, ca_candidates)
    _pick_cas(ob, ca_candidates)
    for f in files:
        ob.roles.setdefault(f.name, Role.UNKNOWN)
    return ob


def _tls_keys(f: InputFile) -> list[Item]:
    """The keys of `f` that can be a TLS client (or CA) key: not ML-KEM, X25519, DH, ..."""
    return [
        k
        for k in f.of_kind(Kind.PRIVATE_KEY, Kind.ENCRYPTED_KEY)
        if k.public_key is None or k.public_key.can_be_tls_client_key
    ]


def _ca_like(item: Item) -> bool:
    """A certificate that belongs in a CA file: CA:TRUE, or self-signed (self-issued when
    only OpenSSL reads it)."""
    if item.cert is not None:
        return is_ca(item.cert) or is_self_signed(item.cert)
    return _names(item)[0] == _names(item)[1] != b""


def _names(item: Item) -> tuple[bytes, bytes]:
    """(subject, issuer) as DER, from whichever library read the certificate."""
    if item.cert is not None:
        return subject_der(item.cert), issuer_der(item.cert)
    if item.openssl_cert is not None:
        # Only for certificates `cryptography` refuses; pyOpenSSL marks these calls deprecated
        # in favour of cryptography, which is exactly what cannot read this certificate.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return item.openssl_cert.get_subject().der(), item.openssl_cert.get_issuer().der()
    return b"", b""


def _leaf_among_cas(leaf_files: list[InputFile], ca_files: list[InputFile]) -> None:
    """With no end-entity certificate, the CA-like file that is checked against another is the "leaf".

    `openssl verify -CAfile root.pem intermediate.pem` checks an intermediate; a
    self-signed certificate without CA:TRUE given with a CA is checked against it too.
    """
    if leaf_files or len(ca_files) < 2:
        return
    subjects = {_names(c)[0] for f in ca_files for c in f.of_kind(Kind.CERTIFICATE)}
    # A file the user named as the client certificate is looked at first: it is what they verify.
    for f in sorted(ca_files, key=lambda g: 0 if client_cert_named(g.name) else 1):
        first = f.of_kind(Kind.CERTIFICATE)[0]
        subject, issuer = _names(first)
        issued_by_other = subject != issuer and issuer in subjects
        not_a_ca = first.cert is not None and not is_ca(first.cert)
        # An intermediate is never a trust anchor on its own: unless its name says it is
        # a CA file, it is the certificate to check (`openssl verify -CAfile other it`).
        # (Self-issued is not self-signed: a key-rollover certificate names itself as issuer.)
        self_signed = is_self_signed(first.cert) if first.cert is not None else subject == issuer
        # fix.itbit.pem holds "itbit", yet it is the client's file: its name wins over the hint.
        named_ca = not client_cert_named(f.name) and (_ca_named(f.name) or server_named(f.name))
        intermediate = not self_signed and not named_ca
        if issued_by_other or not_a_ca or intermediate:
            ca_files.remove(f)
            leaf_files.append(f)
            return


def _named_client_cert(leaf_files: list[InputFile], ca_files: list[InputFile]) -> None:
    """A CA certificate saved as host.crt or fix.itbit.pem is the client certificate when no other
    file is (or only files named like a CA): `openssl verify` and `-modulus` check it whatever it is."""
    named = [f for f in ca_files if client_cert_named(f.name)]
    # A non-CA certificate saved as ca.crt beside a CA certificate saved as fix.itbit.pem: the
    # names say which is checked against which (`openssl verify -CAfile ca.crt fix.itbit.pem`).
    ca_named_leaves = [f for f in leaf_files if _ca_named(f.name) and not _tls_keys(f)]
    if not named or len(ca_named_leaves) < len(leaf_files):
        return
    for f in ca_named_leaves:
        leaf_files.remove(f)
        ca_files.append(f)
    ca_files.remove(named[0])
    leaf_files.append(named[0])


def _issuers_among_leaves(leaf_files: list[InputFile], ca_files: list[InputFile]) -> None:
    """Move to the CA files the certificate-only files that issued another file's certificate.

    An intermediate without CA:TRUE, or an old v1 CA that is not self-signed, is not
    "CA-like" on its own; but when another input's certificate names it as issuer, it is
    that input's CA file (`openssl verify -CAfile it other` is what the user will run).
    Names break the tie when nothing relates them: a file called like a CA is the CA file.
    """
    cert_only = [f for f in leaf_files if not _tls_keys(f)]
    if len(leaf_files) < 2 or not cert_only:
        return

    def first_issuer(g: InputFile) -> bytes:
        return _names(g.of_kind(Kind.CERTIFICATE)[0])[1]

    def issued_another(f: InputFile) -> bool:
        subjects = {_names(c)[0] for c in f.of_kind(Kind.CERTIFICATE) if _names(c)[0] != _names(c)[1]}
        return any(first_issuer(g) in subjects for g in leaf_files if g is not f)

    moved = [f for f in cert_only if issued_another(f)] or [f for f in cert_only if _ca_named(f.name)]
    if not moved:
        # Nothing related, no name to go by: a certificate of another subject than the
        # client's is, as in `openssl verify -CAfile B A`, the CA file it is checked against
        # (one of the same subject is a copy or a renewal of the client certificate).
        bundles = [f for f in leaf_files if f not in cert_only]
        primary = (bundles or sorted(cert_only, key=lambda f: _name_rank(f.name, ("host", ".crt"))))[0]
        subject = _names(_leaf_of(primary.of_kind(Kind.CERTIFICATE)))[0]
        moved = [f for f in cert_only if f is not primary and _names(f.of_kind(Kind.CERTIFICATE)[0])[0] != subject]
    if len(moved) == len(leaf_files):
        moved = moved[1:]  # one file must stay the client certificate: the first given
    for f in moved:
        leaf_files.remove(f)
        ca_files.append(f)


def client_cert_named(name: str | None) -> bool:
    """The guide's names for the client certificate: fix.itbit.pem, host.crt (and client.crt, ...)."""
    if name is None:
        return False
    stem = _base(name).rsplit(".", 1)[0]
    return _base(name) == "fix.itbit.pem" or (any(h in stem for h in ("host", "client")) and not _ca_named(name))


def _ca_named(name: str) -> bool:
    stem = _base(name).rsplit(".", 1)[0]
    return "ca" in stem.replace("_", "-").split("-") or stem.endswith("ca") or "root" in stem


def _base(name: str) -> str:
    return name.lower().replace("\\", "/").rsplit("/", 1)[-1]


def _pick_client_cert(ob: Onboarding, leaf_files: list[InputFile]) -> None:
    """The client certificate: a bundle with a key first, else a leaf certificate file."""
    bundles = [f for f in leaf_files if f.of_kind(Kind.PRIVATE_KEY, Kind.ENCRYPTED_KEY)]
    ordered = sorted(bundles, key=lambda f: _name_rank(f.name, ("fix", "itbit", ".pem"))) + sorted(
        [f for f in leaf_files if f not in bundles], key=lambda f: _name_rank(f.name, ("host", ".crt"))
    )
    if not ordered:
        return
    chosen = ordered[0]
    certs = chosen.of_kind(Kind.CERTIFICATE)
    # The first certificate, whatever it is: `openssl verify` checks only the first certificate of
    # its argument and stunnel presents the first of `cert =` (step 5 warns when a CA comes first).
    leaf = certs[0]
    ob.client_cert, ob.client_cert_file = leaf, chosen.name
    ob.client_extra_certs = [c.cert for c in certs if c is not leaf and c.cert is not None]
    is_bundle = bool(chosen.of_kind(Kind.PRIVATE_KEY, Kind.ENCRYPTED_KEY))
    ob.roles[chosen.name] = Role.CLIENT_BUNDLE if is_bundle else Role.CLIENT_CERT
    for other in ordered[1:]:
        # A second certificate file (host.crt beside fix.itbit.pem) is the same part.
        ob.roles[other.name] = (
            Role.CLIENT_BUNDLE if other.of_kind(Kind.PRIVATE_KEY, Kind.ENCRYPTED_KEY) else Role.CLIENT_CERT
        )


def _leaf_of(certs: list[Item]) -> Item:
    """The end-entity certificate of a file: the first non-CA one (OpenSSL uses the first)."""
    for item in certs:
        if not (is_ca(item.cert) if item.cert is not None else _ca_like(item)):
            return item
    return certs[0]


def _pick_keys(
    ob: Onboarding, leaf_files: list[InputFile], key_only: list[InputFile], ca_files: list[InputFile]
) -> None:
    """The client key matches the client certificate; the CA key matches a CA certificate."""
    cert_spki = ob.client_cert.public_key.spki_der if ob.client_cert and ob.client_cert.public_key else None
    ca_spkis = {
        c.public_key.spki_der for f in ca_files for c in f.of_kind(Kind.CERTIFICATE) if c.public_key is not None
    }
    # The key inside the chosen bundle is the bundle's key, whatever it matches: step 6 judges.
    if ob.client_cert_file is not None:
        bundle = next(f for f in ob.files if f.name == ob.client_cert_file)
        bundle_keys = _tls_keys(bundle)
        if bundle_keys:
            ob.client_key, ob.client_key_file = bundle_keys[0], bundle.name
    for f in key_only:
        key = _tls_keys(f)[0]
        spki = key.public_key.spki_der if key.public_key else None
        if spki is not None and spki in ca_spkis:
            role = Role.CA_KEY
        elif spki is not None and spki == cert_spki:
            role = Role.CLIENT_KEY
        elif len(key_only) == 1 and not ca_files and ob.client_cert is not None and ob.client_key is None:
            # One certificate, one key, no CA certificate: step 6 compares them whatever the
            # key's name (test-int-ca.key beside a leaf is that leaf's key or a wrong one).
            role = Role.CLIENT_KEY
        elif _name_rank(f.name, ("ca.key", "ca-key", "ca_key", "rootca", "ca.")) == 0:
            role = Role.CA_KEY
        elif ob.client_cert is None and ca_files and _name_rank(f.name, _CLIENT_KEY_HINTS) == 1:
            # No client certificate, a CA certificate, and a key that belongs to nothing:
            # compared with the CA certificate, step 6 says whether it is its key.
            role = Role.CA_KEY
        else:
            role = Role.CLIENT_KEY
        ob.roles[f.name] = role
        if role is Role.CA_KEY and ob.ca_key is None:
            ob.ca_key, ob.ca_key_file = key, f.name
        elif role is Role.CLIENT_KEY and ob.client_key is None:
            ob.client_key, ob.client_key_file = key, f.name


def _pick_cas(ob: Onboarding, ca_files: list[InputFile]) -> None:
    """The client CA issued the client certificate; the server CA is the other one."""
    leaf = ob.client_cert
    issuer_files = [f for f in ca_files if leaf is not None and any(_issued(leaf, c) for c in f.of_kind(Kind.CERTIFICATE))]
    ca_key = ob.ca_key.public_key.spki_der if ob.ca_key and ob.ca_key.public_key else None
    # A CA certificate whose key was given is the client's own CA (the exchange keeps its key).
    keyed = [
        f for f in ca_files if ca_key is not None and any(c.public_key and c.public_key.spki_der == ca_key for c in f.items)
    ]

    # Ties (or no client certificate): names decide. `itbit-ca.pem` is the server's.
    def server_like(f: InputFile) -> bool:
        return server_named(f.name)

    client_ca_file: InputFile | None = None
    if issuer_files:
        non_server = [f for f in issuer_files if not server_like(f)]
        client_ca_file = (non_server or issuer_files)[0]
    elif keyed:
        client_ca_file = keyed[0]
    else:
        named = [f for f in ca_files if not server_like(f) and _name_rank(f.name, ("ca.crt", "ca.pem", "ca")) == 0]
        if ob.ca_key is not None or leaf is not None:
            # A CA key was given, or a certificate to check: as `openssl verify -CAfile`, the
            # CA file not named like the exchange's is the one to check against, whatever its name.
            named = named or [f for f in ca_files if not server_like(f)]
        if named:
            client_ca_file = named[0]
    if client_ca_file is not None:
        ob.client_ca, ob.client_ca_file = client_ca_file.certificates, client_ca_file.name
        ob.client_ca_items = client_ca_file.of_kind(Kind.CERTIFICATE)
        ob.roles[client_ca_file.name] = Role.CLIENT_CA
    rest = [f for f in ca_files if f is not client_ca_file]
    server = sorted(rest, key=lambda f: 0 if server_like(f) else 1)
    if server:
        ob.server_ca, ob.server_ca_file = server[0].certificates, server[0].name
        for f in server:
            ob.roles[f.name] = Role.SERVER_CA if f is server[0] else Role.UNKNOWN
    elif client_ca_file is not None and server_like(client_ca_file):
        # The only CA file is named like the exchange's and issued the client certificate:
        # either the exchange signs with the CA it serves with (newer onboarding), or the
        # client's own CA was saved as itbit-ca.pem (step 5 tells them apart).
        ob.server_ca, ob.server_ca_file = client_ca_file.certificates, client_ca_file.name
        ob.roles[client_ca_file.name] = Role.SERVER_CA


def server_named(name: str | None) -> bool:
    """The file name is the exchange's server CA's (itbit-ca.pem and the like)."""
    return name is not None and any(h in _base(name) for h in _SERVER_CA_HINTS)


def _issued(leaf: Item, ca: Item) -> bool:
    """`ca` issued `leaf`: by signature when cryptography reads both, else by name (OpenSSL judges in step 1)."""
    if leaf.cert is not None and ca.cert is not None:
        return issued_by(leaf.cert, ca.cert)
    return _names(leaf)[1] == _names(ca)[0] != b""


def _role_of_unreadable(f: InputFile) -> Role:
    """A file whose blocks OpenSSL cannot read still has a part to play: judge by labels, then name."""
    labels = {i.label for i in f.items if i.kind is Kind.UNREADABLE}
    has_cert = any("CERTIFICATE" in lbl and "REQUEST" not in lbl for lbl in labels)
    has_key = any("PRIVATE KEY" in lbl for lbl in labels)
    lower = _base(f.name)
    if has_cert and has_key:
        return Role.CLIENT_BUNDLE
    if has_key:
        return Role.CA_KEY if _name_rank(lower, ("ca.key", "ca-key", "ca_key")) == 0 else Role.CLIENT_KEY
    if has_cert or (labels == set() and f.near_misses):
        if any(h in lower for h in _SERVER_CA_HINTS):
            return Role.SERVER_CA
        if "ca" in lower.rsplit(".", 1)[0]:
            return Role.CLIENT_CA
        return Role.CLIENT_BUNDLE if lower.endswith(".pem") else Role.CLIENT_CERT
    return Role.UNKNOWN


def _name_rank(name: str, hints: tuple[str, ...]) -> int:
    """0 when the file name contains any hint, else 1 (for sorting)."""
    lower = name.lower().rsplit("/", 1)[-1]
    return 0 if any(h in lower for h in hints) else 1


def file_format_of(ob: Onboarding, name: str | None) -> FileFormat | None:
    for f in ob.files:
        if f.name == name:
            return f.format
    return None

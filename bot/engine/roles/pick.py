"""Choose, among the files sorted by what they hold, the client certificate, the keys and the CAs."""

from __future__ import annotations

from bot.engine.inputs import InputFile, Kind
from bot.engine.roles.content import issued, tls_keys
from bot.engine.roles.names import CLIENT_KEY_HINTS, name_rank, server_named
from bot.engine.roles.onboarding import Onboarding, Role


def pick_client_cert(ob: Onboarding, leaf_files: list[InputFile]) -> None:
    """The client certificate: a bundle with a key first, else a leaf certificate file."""
    bundles = [f for f in leaf_files if f.of_kind(Kind.PRIVATE_KEY, Kind.ENCRYPTED_KEY)]
    ordered = sorted(bundles, key=lambda f: name_rank(f.name, ("fix", "itbit", ".pem"))) + sorted(
        [f for f in leaf_files if f not in bundles], key=lambda f: name_rank(f.name, ("host", ".crt"))
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


def pick_keys(
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
        bundle_keys = tls_keys(bundle)
        if bundle_keys:
            ob.client_key, ob.client_key_file = bundle_keys[0], bundle.name
    for f in key_only:
        key = tls_keys(f)[0]
        spki = key.public_key.spki_der if key.public_key else None
        if spki is not None and spki in ca_spkis:
            role = Role.CA_KEY
        elif spki is not None and spki == cert_spki:
            role = Role.CLIENT_KEY
        elif len(key_only) == 1 and not ca_files and ob.client_cert is not None and ob.client_key is None:
            # One certificate, one key, no CA certificate: step 6 compares them whatever the
            # key's name (test-int-ca.key beside a leaf is that leaf's key or a wrong one).
            role = Role.CLIENT_KEY
        elif name_rank(f.name, ("ca.key", "ca-key", "ca_key", "rootca", "ca.")) == 0:
            role = Role.CA_KEY
        elif ob.client_cert is None and ca_files and name_rank(f.name, CLIENT_KEY_HINTS) == 1:
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


def pick_cas(ob: Onboarding, ca_files: list[InputFile]) -> None:
    """The client CA issued the client certificate; the server CA is the other one."""
    leaf = ob.client_cert
    issuer_files = [f for f in ca_files if leaf is not None and any(issued(leaf, c) for c in f.of_kind(Kind.CERTIFICATE))]
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
        named = [f for f in ca_files if not server_like(f) and name_rank(f.name, ("ca.crt", "ca.pem", "ca")) == 0]
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

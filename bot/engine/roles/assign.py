"""Work out which input plays which part in the onboarding, from content first.

The guide's files: `fix.itbit.pem` (host certificate + host key), `ca.crt` (the client
CA that signed it; sent to the exchange), `ca.key`, `host.csr`, `host.crt`, `host.key`,
and `itbit-ca.pem` (the exchange's server CA). The newer onboarding has the exchange
sign the client's CSR, bundled key first. Users rename and merge files, so a role is
decided by what a file holds and how its certificates relate; the name only breaks ties.
"""

from __future__ import annotations

from bot.engine.certs import is_ca, is_self_signed
from bot.engine.inputs import InputFile, Kind
from bot.engine.roles.content import ca_like, leaf_of, subject_issuer, tls_keys
from bot.engine.roles.names import SERVER_CA_HINTS, base_name, ca_named, client_cert_named, name_rank, server_named
from bot.engine.roles.onboarding import Onboarding, Role
from bot.engine.roles.pick import pick_cas, pick_client_cert, pick_keys


def assign_roles(files: list[InputFile]) -> Onboarding:
    """Sort `files` into an `Onboarding`. Never raises."""
    ob = Onboarding(files=files)
    ca_candidates: list[InputFile] = []
    leaf_files: list[InputFile] = []
    key_only: list[InputFile] = []

    for f in files:
        certs = f.of_kind(Kind.CERTIFICATE)
        keys = tls_keys(f)
        if f.looks_like == "stunnel-config":
            ob.roles[f.name] = Role.STUNNEL_CONFIG
            ob.stunnel_config = ob.stunnel_config or f
        elif f.looks_like == "stunnel-log":
            ob.roles[f.name] = Role.STUNNEL_LOG
            ob.stunnel_log = ob.stunnel_log or f
        elif certs and keys:
            leaf_files.append(f)
        elif certs:
            (ca_candidates if all(ca_like(c) for c in certs) else leaf_files).append(f)
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
    pick_client_cert(ob, leaf_files)
    pick_keys(ob, leaf_files, key_only, ca_candidates)
    pick_cas(ob, ca_candidates)
    for f in files:
        ob.roles.setdefault(f.name, Role.UNKNOWN)
    return ob


def _leaf_among_cas(leaf_files: list[InputFile], ca_files: list[InputFile]) -> None:
    """With no end-entity certificate, the CA-like file that is checked against another is the "leaf".

    `openssl verify -CAfile root.pem intermediate.pem` checks an intermediate; a
    self-signed certificate without CA:TRUE given with a CA is checked against it too.
    """
    if leaf_files or len(ca_files) < 2:
        return
    subjects = {subject_issuer(c)[0] for f in ca_files for c in f.of_kind(Kind.CERTIFICATE)}
    # A file the user named as the client certificate is looked at first: it is what they verify.
    for f in sorted(ca_files, key=lambda g: 0 if client_cert_named(g.name) else 1):
        first = f.of_kind(Kind.CERTIFICATE)[0]
        subject, issuer = subject_issuer(first)
        issued_by_other = subject != issuer and issuer in subjects
        not_a_ca = first.cert is not None and not is_ca(first.cert)
        # An intermediate is never a trust anchor on its own: unless its name says it is
        # a CA file, it is the certificate to check (`openssl verify -CAfile other it`).
        # (Self-issued is not self-signed: a key-rollover certificate names itself as issuer.)
        self_signed = is_self_signed(first.cert) if first.cert is not None else subject == issuer
        # fix.itbit.pem holds "itbit", yet it is the client's file: its name wins over the hint.
        named_ca = not client_cert_named(f.name) and (ca_named(f.name) or server_named(f.name))
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
    ca_named_leaves = [f for f in leaf_files if ca_named(f.name) and not tls_keys(f)]
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
    cert_only = [f for f in leaf_files if not tls_keys(f)]
    if len(leaf_files) < 2 or not cert_only:
        return

    def first_issuer(g: InputFile) -> bytes:
        return subject_issuer(g.of_kind(Kind.CERTIFICATE)[0])[1]

    def issued_another(f: InputFile) -> bool:
        subjects = {subject_issuer(c)[0] for c in f.of_kind(Kind.CERTIFICATE) if subject_issuer(c)[0] != subject_issuer(c)[1]}
        return any(first_issuer(g) in subjects for g in leaf_files if g is not f)

    moved = [f for f in cert_only if issued_another(f)] or [f for f in cert_only if ca_named(f.name)]
    if not moved:
        # Nothing related, no name to go by: a certificate of another subject than the
        # client's is, as in `openssl verify -CAfile B A`, the CA file it is checked against
        # (one of the same subject is a copy or a renewal of the client certificate).
        bundles = [f for f in leaf_files if f not in cert_only]
        primary = (bundles or sorted(cert_only, key=lambda f: name_rank(f.name, ("host", ".crt"))))[0]
        subject = subject_issuer(leaf_of(primary.of_kind(Kind.CERTIFICATE)))[0]
        moved = [f for f in cert_only if f is not primary and subject_issuer(f.of_kind(Kind.CERTIFICATE)[0])[0] != subject]
    if len(moved) == len(leaf_files):
        moved = moved[1:]  # one file must stay the client certificate: the first given
    for f in moved:
        leaf_files.remove(f)
        ca_files.append(f)


def _role_of_unreadable(f: InputFile) -> Role:
    """A file whose blocks OpenSSL cannot read still has a part to play: judge by labels, then name."""
    labels = {i.label for i in f.items if i.kind is Kind.UNREADABLE}
    has_cert = any("CERTIFICATE" in lbl and "REQUEST" not in lbl for lbl in labels)
    has_key = any("PRIVATE KEY" in lbl for lbl in labels)
    lower = base_name(f.name)
    if has_cert and has_key:
        return Role.CLIENT_BUNDLE
    if has_key:
        return Role.CA_KEY if name_rank(lower, ("ca.key", "ca-key", "ca_key")) == 0 else Role.CLIENT_KEY
    if has_cert or (labels == set() and f.near_misses):
        if any(h in lower for h in SERVER_CA_HINTS):
            return Role.SERVER_CA
        if "ca" in lower.rsplit(".", 1)[0]:
            return Role.CLIENT_CA
        return Role.CLIENT_BUNDLE if lower.endswith(".pem") else Role.CLIENT_CERT
    return Role.UNKNOWN

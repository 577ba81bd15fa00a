"""The scenarios the engine must diagnose: files made by openssl, and what each step says.

Each scenario names its files and, for some steps, the status and the finding codes
that must appear. The same table drives the openssl differential tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tests.pki import Pki

Files = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Scenario:
    name: str
    files: Callable[[Pki], Files]
    expect: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    verify_pair: Callable[[Pki], tuple[bytes, bytes]] | None = None  # (cert file, CA file) for openssl verify


def guide(p: Pki) -> Files:
    c = p.client
    return [("fix.itbit.pem", c.bundle.read_bytes()), ("ca.crt", c.ca_crt.read_bytes()),
            ("itbit-ca.pem", p.server.ca_pem.read_bytes()), ("ca.key", c.ca_key.read_bytes()),
            ("host.csr", c.host_csr.read_bytes())]


def _swap(files: Files, name: str, data: bytes) -> Files:
    return [(n, data if n == name else d) for n, d in files]


def _crt(p: Pki) -> bytes:
    return p.client.host_crt.read_bytes()


def _key(p: Pki) -> bytes:
    return p.client.host_key.read_bytes()


def _ca(p: Pki) -> bytes:
    return p.client.ca_crt.read_bytes()


def _srv(p: Pki) -> bytes:
    return p.server.ca_pem.read_bytes()


def _chain(p: Pki, *names: str) -> bytes:
    return b"".join(p.read(f"chain/{n}") for n in names)


def _chain_files(p: Pki, ca: bytes) -> Files:
    return [("fix.itbit.pem", p.read("chain/host.crt") + p.read("chain/host.key")), ("ca.crt", ca), ("itbit-ca.pem", _srv(p))]


def _elided(pem: bytes) -> bytes:
    lines = pem.splitlines()
    return b"\n".join([lines[0], lines[1], b"...", lines[-2], lines[-1]]) + b"\n"


SCENARIOS: list[Scenario] = [
    Scenario("guide-good", guide, {1: ("pass", ("verify.ok",)), 2: ("pass", ("chain.ok",)), 5: ("pass", ("files.ok",)),
                                   6: ("pass", ("keymatch.ok", "keymatch.ca_ok")), 8: ("pass", ("expiry.client_cert_valid", "expiry.client_ca_valid"))}),
    Scenario("separate-host-files", lambda p: [("host.crt", _crt(p)), ("host.key", _key(p)), ("ca.crt", _ca(p)), ("itbit-ca.pem", _srv(p))],
             {1: ("pass", ("verify.ok",)), 5: ("pass", ("files.separate_key",)), 6: ("pass", ("keymatch.ok",))}),
    Scenario("key-mismatch", lambda p: _swap(guide(p), "fix.itbit.pem", _crt(p) + p.read("other/host.key")),
             {1: ("pass", ("verify.ok",)), 6: ("fail", ("keymatch.mismatch",))}),
    Scenario("ca-key-mismatch", lambda p: _swap(guide(p), "ca.key", p.read("regen/ca.key")),
             {6: ("fail", ("keymatch.ok", "keymatch.ca_mismatch"))}),
    Scenario("ca-regenerated", lambda p: _swap(guide(p)[:3], "ca.crt", p.read("regen/ca.crt")),
             {1: ("fail", ("verify.bad_signature",)), 2: ("pass", ("chain.ok",))}),
    Scenario("wrong-ca", lambda p: _swap(guide(p)[:3], "ca.crt", p.read("unrelated/ca.crt")),
             {1: ("fail", ("verify.wrong_ca",)), 2: ("pass", ("chain.issuer_not_in_file",))}),
    Scenario("cert-expired", lambda p: _swap(guide(p), "fix.itbit.pem", p.read("client/expired.crt") + _key(p)),
             {1: ("fail", ("verify.expired",)), 8: ("fail", ("expiry.client_cert_expired",))}),
    Scenario("cert-not-yet-valid", lambda p: _swap(guide(p), "fix.itbit.pem", p.read("client/future.crt") + _key(p)),
             {1: ("fail", ("verify.not_yet_valid",)), 8: ("fail", ("expiry.client_cert_not_yet_valid",))}),
    Scenario("cert-expiring", lambda p: _swap(guide(p), "fix.itbit.pem", p.read("client/expiring.crt") + _key(p)),
             {1: ("pass", ("verify.ok",)), 8: ("warn", ("expiry.client_cert_expiring",))}),
    Scenario("ca-expiring", lambda p: [("fix.itbit.pem", p.read("ca-soon/fix.itbit.pem")), ("ca.crt", p.read("ca-soon/ca.crt"))],
             {1: ("pass", ("verify.ok",)), 8: ("warn", ("expiry.client_cert_expiring", "expiry.client_ca_expiring"))}),
    Scenario("ca-expired", lambda p: [("fix.itbit.pem", p.read("ca-old/host.crt") + p.read("ca-old/host.key")), ("ca.crt", p.read("ca-old/ca.crt"))],
             {1: ("fail", ("verify.ca_expired",)), 8: ("fail", ("expiry.client_ca_expired",))}),
    Scenario("elided-paste", lambda p: _swap(guide(p), "fix.itbit.pem", _elided(_crt(p)) + _elided(_key(p))),
             {1: ("skip", ("verify.no_certificate",)), 5: ("fail", ("files.elided",)), 6: ("pass", ("keymatch.no_certificate", "keymatch.ca_ok"))}),
    Scenario("bundle-missing-key", lambda p: _swap(guide(p)[:3], "fix.itbit.pem", _crt(p)),
             {1: ("pass", ("verify.ok",)), 5: ("fail", ("files.bundle_missing_key",)), 6: ("skip", ("keymatch.no_key",))}),
    Scenario("bundle-missing-cert", lambda p: _swap(guide(p)[:3], "fix.itbit.pem", _key(p)),
             {1: ("skip", ("verify.no_certificate",)), 5: ("fail", ("files.bundle_missing_cert",))}),
    Scenario("csr-instead-of-cert", lambda p: _swap(guide(p)[:3], "fix.itbit.pem", p.client.host_csr.read_bytes() + _key(p)),
             {5: ("fail", ("files.csr_instead_of_cert",))}),
    Scenario("der-certificate", lambda p: [("host.crt", p.read("client/host.der")), ("host.key", _key(p)), ("ca.crt", _ca(p))],
             {1: ("pass", ("verify.ok",)), 5: ("fail", ("files.der",)), 6: ("pass", ("keymatch.ok",))}),
    Scenario("encrypted-key-pkcs8", lambda p: _swap(guide(p)[:3], "fix.itbit.pem", _crt(p) + p.read("client/host.enc.key")),
             {5: ("fail", ("files.encrypted_key",)), 6: ("skip", ("keymatch.no_key",))}),
    Scenario("encrypted-key-legacy", lambda p: _swap(guide(p)[:3], "fix.itbit.pem", _crt(p) + p.read("client/host.enc1.key")),
             {5: ("fail", ("files.encrypted_key",))}),
    Scenario("empty-file", lambda p: [*guide(p)[:3], ("host.key", b"")], {5: ("fail", ("files.empty",))}),
    Scenario("binary-file", lambda p: [*guide(p)[:3], ("cert.pfx", bytes(range(256)) * 8)], {5: ("fail", ("files.binary",))}),
    Scenario("ca-files-confused", lambda p: _swap(guide(p), "itbit-ca.pem", _ca(p)), {5: ("fail", ("files.ca_confused",))}),
    Scenario("weak-rsa-1024", lambda p: [("fix.itbit.pem", p.read("weak/fix.itbit.pem")), ("ca.crt", p.read("weak/ca.crt"))],
             {5: ("fail", ("files.weak_key",))}),
    Scenario("key-before-cert", lambda p: _swap(guide(p), "fix.itbit.pem", _key(p) + _crt(p)),
             {1: ("pass", ("verify.ok",)), 5: ("pass", ("files.variation",)), 6: ("pass", ("keymatch.ok",))}),
    Scenario("crlf-line-ends", lambda p: _swap(guide(p), "fix.itbit.pem", p.client.bundle.read_bytes().replace(b"\n", b"\r\n")),
             {1: ("pass", ("verify.ok",)), 5: ("pass", ("files.variation",)), 6: ("pass", ("keymatch.ok",))}),
    Scenario("pkcs1-key", lambda p: _swap(guide(p), "fix.itbit.pem", _crt(p) + p.read("client/host.pkcs1.key")),
             {5: ("pass", ("files.variation",)), 6: ("pass", ("keymatch.ok",))}),
    Scenario("text-before-begin", lambda p: _swap(guide(p), "fix.itbit.pem", b"Bag Attributes\n    localKeyID: 01\nsubject=CN = x\n" + p.client.bundle.read_bytes()),
             {1: ("pass", ("verify.ok",)), 5: ("pass", ("files.variation",))}),
    Scenario("chain-appended-to-bundle", lambda p: _swap(guide(p), "fix.itbit.pem", p.client.bundle.read_bytes() + _ca(p)),
             {1: ("pass", ("verify.ok",)), 5: ("pass", ("files.variation",)), 6: ("pass", ("keymatch.ok",))}),
    Scenario("chain-complete", lambda p: _chain_files(p, _chain(p, "inter.crt", "root.crt")),
             {1: ("pass", ("verify.ok",)), 2: ("pass", ("chain.ok",))}),
    Scenario("chain-wrong-order", lambda p: _chain_files(p, _chain(p, "root.crt", "inter.crt")),
             {1: ("pass", ("verify.ok",)), 2: ("warn", ("chain.wrong_order",))}),
    Scenario("chain-missing-root", lambda p: _chain_files(p, _chain(p, "inter.crt")),
             {1: ("fail", ("verify.incomplete_chain",)), 2: ("fail", ("chain.missing_root",))}),
    Scenario("chain-missing-intermediate", lambda p: _chain_files(p, _chain(p, "root.crt") + p.read("unrelated/ca.crt")),
             {1: ("fail", ("verify.wrong_ca",)), 2: ("fail", ("chain.missing_intermediate",))}),
    Scenario("chain-unrelated-cert", lambda p: _chain_files(p, _chain(p, "inter.crt", "root.crt") + p.read("unrelated/ca.crt")),
             {1: ("pass", ("verify.ok",)), 2: ("warn", ("chain.unrelated_certificate",))}),
    Scenario("ec-host-key", lambda p: [("fix.itbit.pem", p.read("ec/host.crt") + p.read("ec/host.key")), ("ca.crt", _ca(p))],
             {1: ("pass", ("verify.ok",)), 5: ("pass", ()), 6: ("pass", ("keymatch.ok",))}),
    Scenario("ec-key-mismatch", lambda p: [("fix.itbit.pem", p.read("ec/host.crt") + _key(p)), ("ca.crt", _ca(p))],
             {6: ("fail", ("keymatch.mismatch",))}),
    Scenario("ed25519-host-key", lambda p: [("fix.itbit.pem", p.read("ed/host.crt") + p.read("ed/host.key")), ("ca.crt", _ca(p))],
             {1: ("pass", ("verify.ok",)), 6: ("pass", ("keymatch.ok",))}),
    Scenario("indented-begin", lambda p: _swap(guide(p)[:3], "ca.crt", b"\n".join(b"  " + ln for ln in _ca(p).splitlines()) + b"\n"),
             {5: ("fail", ("files.pem_marker",))}),
    Scenario("lookalike-dashes", lambda p: _swap(guide(p)[:3], "ca.crt", _ca(p).replace(b"-----BEGIN", "\u2013\u2013\u2013\u2013\u2013BEGIN".encode())),
             {5: ("fail", ("files.pem_marker",))}),
    Scenario("cr-only-line-ends", lambda p: _swap(guide(p)[:3], "ca.crt", _ca(p).replace(b"\n", b"\r")), {5: ("fail", ("files.cr_line_ends",))}),
    Scenario("utf16-file", lambda p: _swap(guide(p)[:3], "ca.crt", _ca(p).decode().encode("utf-16")),
             {1: ("skip", ("verify.ca_unreadable",)), 5: ("fail", ("files.utf16",))}),
    Scenario("truncated-paste", lambda p: _swap(guide(p)[:3], "fix.itbit.pem", p.client.bundle.read_bytes()[:-200]),
             {5: ("fail", ("files.truncated",))}),
    Scenario("corrupt-base64", lambda p: _swap(guide(p)[:3], "ca.crt", _ca(p).replace(b"\n", b"\n@", 3)), {5: ("fail", ("files.pem_corrupt",))}),
    Scenario("renamed-files", lambda p: [("a.pem", p.client.bundle.read_bytes()), ("b.txt", _ca(p)), ("server.pem", _srv(p))],
             {1: ("pass", ("verify.ok",)), 6: ("pass", ("keymatch.ok",))}),
    Scenario("exchange-signed-no-ca", lambda p: [("sandbox.itbitprod.pem", _key(p) + _crt(p)), ("itbit-ca.pem", _srv(p))],
             {1: ("skip", ("verify.no_ca",)), 6: ("pass", ("keymatch.ok",))}),
    Scenario("exchange-signed-with-its-ca",
             lambda p: [("sandbox.itbitprod.pem", p.read("exchange-signed/private.key") + p.read("exchange-signed/exchange_ACME_certificate.crt")),
                        ("itbit-ca.pem", _srv(p))],
             {1: ("pass", ("verify.ok",)), 5: ("pass", ("files.ok",)), 6: ("pass", ("keymatch.ok",)), 8: ("pass", ("expiry.client_cert_valid",))}),
    Scenario("only-server-ca", lambda p: [("itbit-ca.pem", _srv(p))], {1: ("skip", ("verify.no_certificate",))}),
]

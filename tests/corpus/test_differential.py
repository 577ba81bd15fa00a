"""The engine against the system's `openssl` on files nobody here wrote, alone and in pairs.

For each input: the kind OpenSSL reads (`x509`, `pkey`, `req -noout` on the first object
of each type) is the engine's; no exception escapes; no line of a private key appears in
any rendering (text, markdown, JSON, Slack Block Kit). For each leaf + CA pair: step 1
gives `openssl verify -CAfile`'s answer (OK, or its error number and depth). For each
certificate + key pair: step 6 shows the MD5s of the guide's `-modulus` commands.

Differences that are deliberate are listed in DELIBERATE (and in the README) with their
reason; the test checks that they are exactly those.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli.render.markdown import render_markdown
from bot.cli.render.text import render_text
from bot.engine import diagnose
from bot.engine.inputs import FileFormat, Kind, read_file
from bot.engine.report import Report
from bot.slack.render import render_report
from tests.corpus import oddities, oracle, sources

# name -> (what differs, why). See README "Where fixcheck and your openssl differ". A file
# the engine cannot read differs in its pairs too (steps 1 and 6), so it is not paired.
DELIBERATE = {
    "odd/ml-dsa-65.key": ("kind", "ML-DSA needs OpenSSL 3.5; the system's 3.0 cannot read it, the engine's OpenSSL can"),
    "odd/ml-kem-768.key": ("kind", "ML-KEM needs OpenSSL 3.5; the system's 3.0 cannot read it, the engine's OpenSSL can"),
    "odd/pkcs8-version7.der": ("kind", "OpenSSL 3.0 reads a PKCS#8 version 7; the engine's newer OpenSSL refuses it"),
    "odd/rfc8410-v2.key": ("kind", "OpenSSL 3.0 refuses a PKCS#8 v2 key with attributes (RFC 8410 10.3); the engine's newer OpenSSL reads it"),
    "odd/utc-no-seconds.pem": ("kind", "OpenSSL 3.0 reads a UTCTime without seconds; the engine's newer OpenSSL refuses it"),
}
INTERNAL = re.compile(r"internal_error$|^files\.unreadable$|^files\.roles_failed$")
MAX_PAIRS = 400


@dataclass(frozen=True)
class Corpus:
    root: Path
    files: dict[str, bytes]

    def path(self, name: str) -> Path:
        return self.root / name


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = tmp_path_factory.mktemp("corpus")
    files = sources.cpython_files() | sources.system_files()
    made, _ca_key = oddities.build(root / "make")
    files |= {f"odd/{name}": data for name, data in made.items()}
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return Corpus(root, files)


def _diagnose(corpus: Corpus, names: list[str]) -> Report:
    return diagnose([(name, corpus.files[name]) for name in names])


def kind_differences(corpus: Corpus, name: str) -> list[str]:
    """Where the engine's kind of the first certificate / key / CSR differs from what openssl reads."""
    data, path = corpus.files[name], corpus.path(name)
    read = read_file(name, data)
    checks = (("x509", Kind.CERTIFICATE, oracle.CERT_LABELS), ("pkey", Kind.PRIVATE_KEY, oracle.KEY_LABELS), ("req", Kind.CSR, oracle.CSR_LABELS))
    out = []
    for tool, kind, labels in checks:
        if oracle.is_text(data):
            block = oracle.first_block(data, labels)
            if block is None or any(k == "Proc-Type" for k, _ in block.headers):
                continue  # nothing of this type, or encrypted (openssl would ask for a passphrase)
            item = next(i for i in read.items if i.first_line == block.first_line)
            engine = item.kind is kind
            judge = oracle.reads(tool, path, der=False)
        else:
            engine = read.format in (FileFormat.DER, FileFormat.PKCS12) and bool(read.of_kind(kind))
            judge = oracle.reads(tool, path, der=True)
        if engine != judge:
            out.append(f"{tool}: openssl {'reads' if judge else 'refuses'} it, the engine {'reads' if engine else 'refuses'} it")
    return out


def assert_sound(corpus: Corpus, names: list[str], report: Report) -> None:
    """No exception escaped, and no private-key line is in any rendering."""
    codes = [f.code for s in report.steps for f in s.findings]
    assert not [c for c in codes if INTERNAL.search(c)], (names, codes)
    secret_lines: set[str] = set()
    for name in names:
        text = corpus.files[name].decode("latin-1")
        for block in _key_blocks(text):
            secret_lines |= {ln for ln in block.splitlines()[1:-1] if len(ln) >= 20 and ":" not in ln}
    message = render_report(report)
    renderings = {
        "json": json.dumps(report.to_dict()),
        "text": render_text(report, verbose=True),
        "markdown": render_markdown(report),
        "block kit": json.dumps(message.blocks) + message.text,
    }
    for where, rendered in renderings.items():
        leaked = [ln[:12] for ln in secret_lines if ln in rendered or ln.replace("/", "\\/") in rendered]
        assert not leaked, f"{names}: key lines in the {where} rendering: {leaked}"


def _key_blocks(text: str) -> Iterator[str]:
    yield from re.findall(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----", text, re.S)


def test_corpus_is_large_and_varied(corpus: Corpus) -> None:
    """The suite means something only if the corpus holds every class it claims."""
    assert len([n for n in corpus.files if n.startswith("python")]) >= 30, (
        "CPython's test certificates (the stdlib `test` package) are missing: install the Python test suite "
        "(Debian: libpython3.11-testsuite)"
    )
    assert len([n for n in corpus.files if n.startswith("etc-ssl-certs/")]) >= 20
    kinds = {k for name, data in corpus.files.items() for k in read_file(name, data).kinds}
    assert {"certificate", "private-key", "encrypted-private-key", "csr", "pkcs12", "openssh-private-key"} <= kinds


def test_each_file_alone(corpus: Corpus) -> None:
    differences: dict[str, list[str]] = {}
    for name in sorted(corpus.files):
        report = _diagnose(corpus, [name])
        assert_sound(corpus, [name], report)
        found = kind_differences(corpus, name)
        if found:
            differences[name] = found
    unexpected = {n: d for n, d in differences.items() if n not in DELIBERATE}
    assert not unexpected, unexpected
    assert set(differences) == set(DELIBERATE), "a deliberate difference is gone: update DELIBERATE and the README"


def _first_cert_names(corpus: Corpus, name: str) -> tuple[str, str] | None:
    proc = oracle.openssl("x509", "-noout", "-subject", "-issuer", "-nameopt", "RFC2253", "-in", str(corpus.path(name)))
    if proc.returncode != 0:
        return None
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    return lines[0].partition("=")[2], lines[1].partition("=")[2]


def _leaf_ca_pairs(corpus: Corpus) -> list[tuple[str, str]]:
    cas = [
        n
        for n in ("python3.11/pycacert.pem", "python3.13/pycacert.pem", "python3.13/leaf-missing-aki.ca.pem", "odd/odd-ca.pem", "odd/dsa-ca.pem", "odd/ed25519-ca.pem")
        if n in corpus.files
    ]
    cas.append(sorted(n for n in corpus.files if n.startswith("etc-ssl-certs/"))[0])
    leaves = []
    for name in sorted(corpus.files):
        names = _first_cert_names(corpus, name) if oracle.is_text(corpus.files[name]) else None
        if names is not None and names[0] != names[1] and name not in cas and corpus.files[name].count(b"BEGIN CERTIFICATE") <= 3:
            leaves.append(name)
    leaves = [n for n in leaves if n not in DELIBERATE]  # not read at all: nothing to pair
    pairs = [(leaf, ca) for leaf in leaves for ca in cas]
    # A "CA file" that holds a certificate which is no CA: openssl still answers.
    cert_only = [n for n in leaves if oracle.first_block(corpus.files[n], oracle.KEY_LABELS) is None]
    # (Not two files of the same subject: a deliberate difference, see the README.)
    pairs += [
        (a, b)
        for a, b in itertools.pairwise(leaves)
        if b in cert_only and a.split("/")[0] == b.split("/")[0] and _first_cert_names(corpus, a) != _first_cert_names(corpus, b)
    ]
    return pairs[:MAX_PAIRS]


def test_leaf_and_ca_pairs_step1_agrees_with_openssl_verify(corpus: Corpus) -> None:
    pairs = _leaf_ca_pairs(corpus)
    assert len(pairs) >= 100
    wrong = []
    for leaf, ca in pairs:
        report = _diagnose(corpus, [leaf, ca])
        assert_sound(corpus, [leaf, ca], report)
        verdict = oracle.verify(corpus.path(ca), corpus.path(leaf))
        if verdict is None:
            continue  # openssl could not load one of the files: kind is compared above
        findings = report.step(1).findings
        if verdict.ok:
            agrees = any(f.code == "verify.ok" for f in findings)
        else:
            agrees = any(f.evidence.get("openssl_error") == verdict.error and f.evidence.get("depth") == verdict.depth for f in findings)
        if not agrees:
            wrong.append((leaf, ca, verdict, [f.code for f in findings]))
    assert not wrong, wrong


def _cert_key_pairs(corpus: Corpus) -> list[tuple[str, str]]:
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for name, data in sorted(corpus.files.items()):
        if not oracle.is_text(data) or name in DELIBERATE:
            continue
        certs, keys = groups.setdefault(name.split("/")[0], ([], []))
        has_key = b"PRIVATE KEY-----" in data  # encrypted too: a bundle's own key is its key
        has_cert = oracle.first_block(data, oracle.CERT_LABELS) is not None
        if has_cert and not has_key and data.count(b"BEGIN CERTIFICATE") <= 3:
            certs.append(name)
        elif has_key and not has_cert:
            keys.append(name)
    return [(c, k) for certs, keys in groups.values() for c in certs for k in keys][:MAX_PAIRS]


def test_cert_and_key_pairs_step6_shows_openssls_modulus_md5(corpus: Corpus) -> None:
    pairs = _cert_key_pairs(corpus)
    assert len(pairs) >= 50
    wrong = []
    compared = 0
    for cert, key in pairs:
        report = _diagnose(corpus, [cert, key])
        assert_sound(corpus, [cert, key], report)
        cert_md5 = oracle.modulus_md5("x509", corpus.path(cert))
        key_md5 = oracle.modulus_md5("rsa", corpus.path(key))
        if cert_md5 is None or key_md5 is None:
            continue
        compared += 1
        shown = [(f.evidence.get("certificate_modulus_md5"), f.evidence.get("private_key_modulus_md5")) for f in report.step(6).findings]
        if (cert_md5, key_md5) not in shown:
            wrong.append((cert, key, [f.code for f in report.step(6).findings]))
    assert compared >= 20
    assert not wrong, wrong


def test_files_holding_certificate_and_key_step6_agrees(corpus: Corpus) -> None:
    """A single file with certificate and key (CPython's keycert*.pem): step 6 compares the two."""
    bundles = [n for n, d in corpus.files.items() if oracle.is_text(d) and oracle.first_block(d, oracle.KEY_LABELS) and oracle.first_block(d, oracle.CERT_LABELS)]
    assert bundles
    for name in bundles:
        cert_md5, key_md5 = oracle.modulus_md5("x509", corpus.path(name)), oracle.modulus_md5("rsa", corpus.path(name))
        if cert_md5 is None or key_md5 is None:
            continue
        shown = [(f.evidence.get("certificate_modulus_md5"), f.evidence.get("private_key_modulus_md5")) for f in _diagnose(corpus, [name]).step(6).findings]
        assert (cert_md5, key_md5) in shown, name

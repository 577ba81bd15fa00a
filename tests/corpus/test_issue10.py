"""Issue 10, item by item: no exception escapes, OpenSSL's reading wins, roles by content,
commands with the user's paths, and the other files an onboarding folder holds."""

from __future__ import annotations

import importlib
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa

from bot.engine import diagnose
from bot.engine.inputs import Kind, read_file
from bot.engine.report import Report
from bot.slack.render import key_warning
from tests.corpus import oddities, oracle
from tests.pki import Pki, run_openssl


def _codes(report: Report, step: int) -> list[str]:
    return [f.code for f in report.step(step).findings]


def _finding(report: Report, code: str) -> dict[str, object]:
    found = [f for s in report.steps for f in s.findings if f.code == code]
    assert found, (code, [(s.step, [f.code for f in s.findings]) for s in report.steps])
    return found[0].to_dict()


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    made, _ = oddities.build(tmp_path_factory.mktemp("odd"))
    return made


# 1. No exception escapes diagnose().


@pytest.mark.parametrize("name", ["two-basic-constraints.pem", "edi-party-san.pem", "x400-san.pem", "csr-version5.csr"])
def test_objects_that_raised_in_cryptography_are_read_and_warned(odd: dict[str, bytes], name: str) -> None:
    report = diagnose([(name, odd[name]), ("ca.crt", odd["odd-ca.pem"])])
    warned = _finding(report, "files.strict_parse")
    assert warned["status"] == "warn"
    assert "Duplicate" in str(warned["evidence"]) or "not supported" in str(warned["evidence"]) or "version" in str(warned["evidence"])
    assert "files.pem_corrupt" not in _codes(report, 5)


def test_an_unexpected_error_while_reading_or_sorting_is_a_finding(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> None:
    """The guard itself: whatever a future parser raises, the other steps still run."""

    def explode(*_args: object) -> object:
        raise RecursionError("simulated parser failure")

    diagnose_module = importlib.import_module("bot.engine.diagnosis")
    monkeypatch.setattr(diagnose_module, "read_file", explode)
    report = diagnose([("fix.itbit.pem", pki.client.bundle.read_bytes())])
    assert _finding(report, "files.unreadable")["status"] == "fail"
    monkeypatch.undo()
    monkeypatch.setattr(diagnose_module, "assign_roles", explode)
    report = diagnose([("fix.itbit.pem", pki.client.bundle.read_bytes())])
    assert _finding(report, "files.roles_failed")["status"] == "warn"
    assert len(report.steps) == 8


# 2. Where OpenSSL reads an object, fixcheck reads it and runs every step it can.


@pytest.mark.parametrize("name", ["v4-version.pem", "bad-time.pem", "two-basic-constraints.pem"])
def test_certificates_only_openssl_reads_get_step1_from_openssl(odd: dict[str, bytes], name: str, tmp_path: Path) -> None:
    report = diagnose([(name, odd[name]), ("ca.crt", odd["odd-ca.pem"])])
    (tmp_path / name).write_bytes(odd[name])
    (tmp_path / "ca.crt").write_bytes(odd["odd-ca.pem"])
    verdict = oracle.verify(tmp_path / "ca.crt", tmp_path / name)
    assert verdict is not None
    step1 = report.step(1).findings[0]
    if verdict.ok:
        assert step1.code == "verify.ok"
    else:
        assert (step1.evidence["openssl_error"], step1.evidence["depth"]) == (verdict.error, verdict.depth)
    assert "files.strict_parse" in _codes(report, 5)
    assert step1.evidence["openssl_engine"].startswith("OpenSSL")
    if name != "two-basic-constraints.pem":  # the others have no certificate object at all
        expiry = report.step(8).findings[0]
        assert expiry.code == "expiry.no_certificate" and "stricter parser" in expiry.message


def test_a_ca_only_openssl_reads_is_used_by_step1_and_step2_says_why_it_skips(tmp_path: Path) -> None:
    made, ca_key = oddities.build(tmp_path / "odd")
    strict_ca = oddities.v4_of(made["odd-ca.pem"], ca_key)
    (tmp_path / "ca.crt").write_bytes(strict_ca)
    (tmp_path / "leaf.crt").write_bytes(made["edi-party-san.pem"])
    report = diagnose([("leaf.crt", made["edi-party-san.pem"]), ("ca.crt", strict_ca)])
    verdict = oracle.verify(tmp_path / "ca.crt", tmp_path / "leaf.crt")
    assert verdict is not None
    step1 = report.step(1).findings[0]
    assert step1.code == "verify.ok" if verdict.ok else step1.evidence["openssl_error"] == verdict.error
    assert step1.evidence["checked_with"].startswith("OpenSSL only")
    assert _codes(report, 2) == ["chain.not_checked"]


@pytest.mark.parametrize("name", ["pkcs8-under-rsa-label.key", "ec-scalar-out-of-range.key", "pkcs8-version1.der"])
def test_keys_only_openssl_reads_are_keys_not_damaged(odd: dict[str, bytes], name: str) -> None:
    read = read_file(name, odd[name])
    assert [i.kind for i in read.items] == [Kind.PRIVATE_KEY]
    assert read.items[0].strict_error and read.items[0].public_key is not None
    report = diagnose([(name, odd[name])])
    assert not {"files.pem_corrupt", "files.binary"} & set(_codes(report, 5))


def test_the_pkcs8_key_under_an_rsa_label_is_compared_with_its_certificate(odd: dict[str, bytes], tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(odd["odd-leaf.key"], None)
    bad_label = odd["odd-leaf.key"].replace(b"PRIVATE KEY", b"RSA PRIVATE KEY")
    report = diagnose([("host.crt", odd["edi-party-san.pem"]), ("host.key", bad_label)])
    assert "keymatch.ok" in _codes(report, 6)
    assert key is not None


# 4. Roles by content, not names.


def test_a_ca_certificate_and_its_key_are_compared_whatever_their_names(pki: Pki) -> None:
    chain = pki.root / "chain"
    report = diagnose([("root.pem", (chain / "root.crt").read_bytes()), ("root.key", (chain / "root.key").read_bytes())])
    assert "keymatch.ca_ok" in _codes(report, 6)
    other = diagnose([("root.pem", (chain / "root.crt").read_bytes()), ("signing.key", (chain / "inter.key").read_bytes())])
    assert "keymatch.ca_mismatch" in _codes(other, 6)


def test_a_self_signed_certificate_and_its_key_are_compared(tmp_path: Path) -> None:
    run_openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ssl_key.pem", "-out", "ssl_cert.pem",
                "-subj", "/CN=localhost", "-days", "30", cwd=tmp_path)
    report = diagnose([(n, (tmp_path / n).read_bytes()) for n in ("ssl_cert.pem", "ssl_key.pem")])
    assert {"keymatch.ok", "keymatch.ca_ok"} & set(_codes(report, 6))


def test_a_ca_file_holding_a_non_ca_certificate_is_still_the_ca_file(pki: Pki, tmp_path: Path) -> None:
    """An intermediate made without CA:TRUE (openssl x509 -req, v1) given as the CA file: step 1 runs."""
    chain = pki.root / "chain"
    run_openssl("x509", "-req", "-in", str(chain / "inter.csr"), "-CA", str(chain / "root.crt"), "-CAkey",
                str(chain / "root.key"), "-set_serial", "7", "-out", "v1-inter.crt", "-days", "30", cwd=tmp_path)
    run_openssl("x509", "-req", "-in", str(chain / "host.csr"), "-CA", "v1-inter.crt", "-CAkey", str(chain / "inter.key"),
                "-set_serial", "8", "-out", "leaf.crt", "-days", "30", cwd=tmp_path)
    for ca_name in ("intermediate.pem", "other.pem"):
        report = diagnose([("leaf.crt", (tmp_path / "leaf.crt").read_bytes()), (ca_name, (tmp_path / "v1-inter.crt").read_bytes())])
        verdict = oracle.verify(tmp_path / "v1-inter.crt", tmp_path / "leaf.crt")
        assert verdict is not None and not verdict.ok
        finding = report.step(1).findings[0]
        assert (finding.evidence.get("openssl_error"), finding.evidence.get("depth")) == (verdict.error, verdict.depth)


def test_swapped_ca_files_are_named(pki: Pki) -> None:
    files = [("fix.itbit.pem", pki.client.bundle.read_bytes()), ("itbit-ca.pem", pki.client.ca_crt.read_bytes()),
             ("ca.crt", pki.server.ca_pem.read_bytes())]
    report = diagnose(files)
    swapped = _finding(report, "files.ca_swapped")
    assert swapped["status"] == "fail"
    assert "itbit-ca.pem holds your own client CA" in str(swapped["message"])
    assert "files.ok" not in _codes(report, 5)
    assert "files.ca_swapped" not in json.dumps(diagnose([(n, d) for n, d in files[:1]] + [("ca.crt", files[1][1]), ("itbit-ca.pem", files[2][1])]).to_dict())


def test_post_quantum_and_agreement_keys_are_not_the_client_key(odd: dict[str, bytes], pki: Pki) -> None:
    for name in ("ml-dsa-65.key", "ml-kem-768.key", "x25519.key"):
        report = diagnose([("fix.itbit.pem", pki.client.host_crt.read_bytes()), ("host.key", odd[name])])
        roles = {i.name: i.role for i in report.inputs}
        assert roles["host.key"] != "client-key", name
        assert _finding(report, "files.not_tls_key")["status"] == "warn"
        assert "keymatch.mismatch" not in _codes(report, 6)
    assert mldsa.MLDSA65PrivateKey is not None


# 5. Commands that work where the user stands.


def test_same_base_names_in_different_folders_are_told_apart_and_commands_use_the_paths(pki: Pki, tmp_path: Path) -> None:
    onb, regen = tmp_path / "my onb", tmp_path / "regen"
    onb.mkdir()
    regen.mkdir()
    (onb / "fix.itbit.pem").write_bytes(pki.client.bundle.read_bytes())
    (onb / "ca.crt").write_bytes(pki.client.ca_crt.read_bytes())
    (regen / "ca.crt").write_bytes((pki.root / "regen" / "ca.crt").read_bytes())
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "diagnose", "--format", "json", "regen/ca.crt",
                           "my onb/fix.itbit.pem", "my onb/ca.crt"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    report = json.loads(proc.stdout)
    names = [i["name"] for i in report["inputs"]]
    assert names == ["regen/ca.crt", "my onb/fix.itbit.pem", "my onb/ca.crt"]
    step1 = report["steps"][0]["findings"][0]
    assert step1["code"] == "verify.ok", step1
    # Item 3: both OpenSSL versions where the verdict is OpenSSL's.
    system = subprocess.run(["openssl", "version"], capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    assert step1["evidence"]["openssl_cli"] == system
    assert step1["evidence"]["openssl_engine"].startswith("OpenSSL")
    command = step1["commands"][0]
    assert command == "openssl verify -CAfile " + shlex.quote("my onb/ca.crt") + " " + shlex.quote("my onb/fix.itbit.pem")
    ran = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert ran.returncode == 0 and ran.stdout.strip().endswith(": OK"), ran


# 6. Files a real onboarding folder holds.


def test_the_guides_folder_with_ca_srl_passes_files_serial_file(pki: Pki) -> None:
    folder = pki.client.folder
    assert (folder / "ca.srl").exists(), "the guide's -CAcreateserial leaves ca.srl"
    report = diagnose([(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.name in ("fix.itbit.pem", "ca.crt", "ca.srl")])
    assert _finding(report, "files.serial_file")["status"] == "pass"
    assert "files.no_pem" not in _codes(report, 5)


def test_pkcs12_is_recognised_listed_and_its_commands_extract_the_guides_files(odd: dict[str, bytes], tmp_path: Path) -> None:
    report = diagnose([("keystore.p12", odd["open.p12"])])
    found = _finding(report, "files.pkcs12")
    assert found["evidence"]["has_key"] is True and found["evidence"]["certificates"]  # type: ignore[index]
    (tmp_path / "keystore.p12").write_bytes(odd["open.p12"])
    for command in found["commands"][1:]:  # type: ignore[union-attr]
        subprocess.run(command, shell=True, cwd=tmp_path, check=True, capture_output=True, timeout=60)
    assert oracle.reads("x509", tmp_path / "fix.itbit.pem", der=False)
    assert oracle.reads("pkey", tmp_path / "fix.itbit.pem", der=False)
    locked = _finding(diagnose([("keystore.pfx", odd["locked.pfx"])]), "files.pkcs12")
    assert locked["evidence"]["protected"] is True  # type: ignore[index]
    keyless = diagnose([("trust.p12", odd["truststore.p12"])])
    assert _finding(keyless, "files.pkcs12")["evidence"]["has_key"] is False  # type: ignore[index]
    assert key_warning(keyless) is None
    assert key_warning(diagnose([("locked.pfx", odd["locked.pfx"])])) is not None


def test_a_jpeg_is_binary_not_maybe_pkcs12(odd: dict[str, bytes]) -> None:
    found = _finding(diagnose([("photo.jpg", odd["photo.jpg"])]), "files.binary")
    assert "PKCS#12" in str(found["message"]) and "maybe" not in str(found["message"]).lower()
    assert not any("pkcs12" in c for c in found["commands"])  # type: ignore[union-attr]


def test_openssh_keys_are_key_material(odd: dict[str, bytes]) -> None:
    report = diagnose([("id_ed25519", odd["id_ed25519"])])
    assert report.inputs[0].kinds == ("openssh-private-key",)
    assert report.inputs[0].holds_key_material
    assert _finding(report, "files.openssh_key")["status"] == "warn"
    warning = key_warning(report)
    assert warning is not None and "id_ed25519" in warning


def test_blocks_no_step_reads_are_not_called_damaged(odd: dict[str, bytes]) -> None:
    """A PGP armour (its checksum line is not base64) is another kind of PEM, not a damaged one;
    a truncated OpenSSH key is still an OpenSSH key (and still a secret)."""
    armour = b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGN0dGVzdAEQAK\n=Ab1C\n-----END PGP PUBLIC KEY BLOCK-----\n"
    report = diagnose([("key.asc", armour)])
    assert report.inputs[0].kinds == ("other-pem",)
    assert "files.pem_corrupt" not in _codes(report, 5)
    lines = odd["id_ed25519"].decode().splitlines()
    cut = "\n".join(lines[:3] + lines[-1:]) + "\n"
    cut_report = diagnose([("id_ed25519", cut.encode())])
    assert cut_report.inputs[0].holds_key_material


def test_an_intermediate_given_with_its_root_is_checked_against_it(pki: Pki) -> None:
    """No client certificate: `openssl verify -CAfile root.crt inter.crt` is what the files allow."""
    chain = pki.root / "chain"
    report = diagnose([("inter.crt", (chain / "inter.crt").read_bytes()), ("root.crt", (chain / "root.crt").read_bytes())])
    assert _codes(report, 1) == ["verify.ok"]
    assert "files.bundle_missing_key" not in _codes(report, 5)
    # With an unrelated root, openssl answers error 20 at depth 0: so does step 1.
    unrelated = diagnose([("inter.crt", (chain / "inter.crt").read_bytes()), ("root.crt", pki.client.ca_crt.read_bytes())])
    assert [(f.evidence.get("openssl_error"), f.evidence.get("depth")) for f in unrelated.step(1).findings] == [(20, 0)]


def test_a_key_rollover_certificate_is_checked_against_the_old_ca(tmp_path: Path) -> None:
    """Self-issued is not self-signed (NIST PKITS' key-rollover cases): openssl verify checks it."""
    made, ca_key = oddities.build(tmp_path / "odd")
    (tmp_path / "new.pem").write_bytes(oddities.rollover(ca_key))
    (tmp_path / "old.pem").write_bytes(made["odd-ca.pem"])
    verdict = oracle.verify(tmp_path / "old.pem", tmp_path / "new.pem")
    assert verdict is not None
    report = diagnose([("new.pem", (tmp_path / "new.pem").read_bytes()), ("old.pem", made["odd-ca.pem"])])
    step1 = report.step(1).findings[0]
    assert step1.code == "verify.ok" if verdict.ok else step1.evidence.get("openssl_error") == verdict.error

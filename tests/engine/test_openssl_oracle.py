"""openssl itself is the oracle for steps 1 and 6: the engine must agree with it on every scenario."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bot.engine import diagnose
from tests.engine.scenarios import SCENARIOS, Scenario
from tests.pki import Pki, run_openssl


def _write(folder: Path, files: list[tuple[str, bytes]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        (folder / name).write_bytes(data)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_step1_agrees_with_openssl_verify(pki: Pki, scenario: Scenario, tmp_path: Path) -> None:
    files = scenario.files(pki)
    report = diagnose(files)
    step1 = report.step(1)
    finding = step1.findings[0]
    cert_name = finding.evidence.get("certificate") and _file_of(report, "client")
    ca_name = finding.evidence.get("ca_file")
    if step1.status.value == "skip" or not cert_name or not ca_name:
        pytest.skip("step 1 did not run for this scenario (nothing to compare)")
    _write(tmp_path, files)
    proc = run_openssl("verify", "-CAfile", ca_name, cert_name, cwd=tmp_path)
    out = proc.stdout.decode() + proc.stderr.decode()
    if proc.returncode == 0 and f"{cert_name}: OK" in out:
        assert finding.code == "verify.ok", out
    else:
        m = re.search(r"error (\d+) at (\d+) depth", out)
        assert m, out
        assert finding.code != "verify.ok", out
        assert finding.evidence["openssl_error"] == int(m.group(1)), out
        assert finding.evidence["depth"] == int(m.group(2)), out


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_step6_md5_matches_openssl_modulus(pki: Pki, scenario: Scenario, tmp_path: Path) -> None:
    files = scenario.files(pki)
    report = diagnose(files)
    compared = [f for f in report.step(6).findings if "certificate_modulus_md5" in f.evidence]
    if not compared:
        pytest.skip("no RSA certificate/key pair compared in this scenario")
    _write(tmp_path, files)
    for finding in compared:
        cert_cmd, key_cmd = finding.commands
        for command, field in ((cert_cmd, "certificate_modulus_md5"), (key_cmd, "private_key_modulus_md5")):
            proc = _shell(command, tmp_path)
            assert proc.returncode == 0, proc.stderr
            printed = proc.stdout.decode().strip().split("= ")[-1]
            assert printed == finding.evidence[field], command


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_step6_verdict_agrees_with_openssl_public_keys(pki: Pki, scenario: Scenario, tmp_path: Path) -> None:
    """For every key type, the engine's match/mismatch equals comparing `openssl pkey -pubout` outputs."""
    files = scenario.files(pki)
    report = diagnose(files)
    pairs = [f for f in report.step(6).findings if f.code in ("keymatch.ok", "keymatch.mismatch")]
    if not pairs:
        pytest.skip("no certificate/key pair compared in this scenario")
    _write(tmp_path, files)
    cert_file = _file_of(report, "client")
    key_file = _file_of(report, "key")
    cert_pub = _shell(f"openssl x509 -noout -pubkey -in '{cert_file}' | openssl pkey -pubin -outform der | openssl sha256", tmp_path)
    key_pub = _shell(f"openssl pkey -pubout -outform der -in '{key_file}' | openssl sha256", tmp_path)
    assert cert_pub.returncode == 0 and key_pub.returncode == 0
    same = cert_pub.stdout.split(b"= ")[-1] == key_pub.stdout.split(b"= ")[-1]
    assert same == (pairs[0].code == "keymatch.ok")


def _file_of(report: object, what: str) -> str:
    from bot.engine.report import Report

    assert isinstance(report, Report)
    wanted = {"client": ("client-bundle", "client-cert"), "key": ("client-bundle", "client-key")}[what]
    candidates = [i.name for i in report.inputs if i.role in wanted and (what != "key" or "private-key" in i.kinds)]
    if what == "client":
        candidates = [i.name for i in report.inputs if i.role in wanted and "certificate" in i.kinds]
    return candidates[0] if candidates else ""


def _shell(command: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=cwd, capture_output=True, timeout=60, check=False)

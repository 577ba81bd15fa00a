"""The guide's real-size onboarding (RSA 4096, made with its own commands): all eight steps,
and openssl agreeing on steps 1 and 6."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bot.engine import Status, diagnose


def test_guide_4096_bundle_passes_and_agrees_with_openssl(pki4096: Path) -> None:
    names = ["fix.itbit.pem", "ca.crt", "ca.key", "host.csr", "host.crt", "host.key"]
    report = diagnose([(n, (pki4096 / n).read_bytes()) for n in names])
    assert [s.step for s in report.steps] == list(range(1, 9))
    assert report.verdict is not Status.FAIL, report.to_dict()
    assert report.step(1).findings[0].code == "verify.ok"
    verify = subprocess.run(["openssl", "verify", "-CAfile", "ca.crt", "fix.itbit.pem"], cwd=pki4096,
                            capture_output=True, text=True, timeout=60, check=False)
    assert verify.stdout.strip() == "fix.itbit.pem: OK"
    match = next(f for f in report.step(6).findings if f.code == "keymatch.ok")
    md5 = subprocess.run("openssl x509 -noout -modulus -in fix.itbit.pem | openssl md5", shell=True, cwd=pki4096,
                         capture_output=True, text=True, timeout=60, check=False)
    assert md5.stdout.strip().split("= ")[-1] == match.evidence["certificate_modulus_md5"]
    assert match.evidence["certificate_key"] == "RSA 4096"

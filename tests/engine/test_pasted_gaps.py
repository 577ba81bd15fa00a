"""A '...' pasted into a real bundle, and a lone text note (issue 11, item 10)."""

from __future__ import annotations

import pytest

from bot.engine import diagnose
from bot.engine.report import Report, Status
from tests.pki import Pki


def _bad(report: Report) -> list[tuple[str, str]]:
    return [(f.code, f.message) for f in report.step(5).findings if f.status in (Status.FAIL, Status.WARN)]


@pytest.mark.parametrize("gap", ["...", "\u2026"])
@pytest.mark.parametrize("replace", [True, False], ids=["line-replaced", "line-inserted"])
def test_dots_in_a_real_bundle_is_one_finding_at_its_line(pki: Pki, gap: str, replace: bool) -> None:
    lines = pki.client.bundle.read_text().splitlines()
    # Line 3 of the file: the second base64 line of the certificate.
    lines[2:3] = [gap] if replace else [gap, lines[2]]
    report = diagnose([("fix.itbit.pem", ("\n".join(lines) + "\n").encode())])
    bad = _bad(report)
    assert [code for code, _ in bad] == ["files.elided"], bad
    assert bad[0][1].startswith("fix.itbit.pem, line 3 (in block 1, CERTIFICATE, which begins on line 1)")
    elided = report.step(5).findings[0]
    assert elided.evidence["line"] == 3
    # The certificate is there but damaged: not "no client certificate".
    assert "bundle_missing_cert" not in str(report.to_dict())


def test_dots_in_the_key_block_name_the_key_s_line(pki: Pki) -> None:
    lines = pki.client.bundle.read_text().splitlines()
    key_begin = next(n for n, line in enumerate(lines) if "BEGIN PRIVATE KEY" in line or "BEGIN RSA PRIVATE KEY" in line)
    lines[key_begin + 4] = "..."
    report = diagnose([("fix.itbit.pem", ("\n".join(lines) + "\n").encode())])
    bad = _bad(report)
    assert [code for code, _ in bad] == ["files.elided"], bad
    assert bad[0][1].startswith(f"fix.itbit.pem, line {key_begin + 5} (in block 2,")


def test_a_key_without_any_certificate_still_says_so(pki: Pki) -> None:
    # The other side of the rule: with no certificate block at all, the finding stays.
    report = diagnose([("fix.itbit.pem", pki.client.host_key.read_bytes())])
    assert "files.bundle_missing_cert" in [code for code, _ in _bad(report)]


def test_a_lone_text_note_fails() -> None:
    report = diagnose([("notes.txt", b"hello, these are my FIX onboarding notes\nport 4490\n")])
    assert report.verdict is Status.FAIL
    finding = report.step(5).findings[0]
    assert finding.code == "files.no_pem" and finding.status is Status.FAIL
    assert "Nothing else was given" in finding.message and finding.commands == ("head -5 notes.txt",)


def test_a_text_note_beside_real_files_only_warns(pki: Pki) -> None:
    report = diagnose([("notes.txt", b"my notes\n"), ("fix.itbit.pem", pki.client.bundle.read_bytes())])
    assert report.verdict is Status.WARN
    assert [c for c, _ in _bad(report)] == ["files.no_pem"]


@pytest.mark.parametrize(("mode", "warned"), [(0o100644, True), (0o100604, True), (0o100640, False), (0o100600, False)])
def test_key_mode_from_the_front_end(pki: Pki, mode: int, warned: bool) -> None:
    # The engine takes the mode as metadata: the file itself is never looked at.
    report = diagnose([("fix.itbit.pem", pki.client.bundle.read_bytes())], file_modes={"fix.itbit.pem": mode})
    codes = [f.code for f in report.step(5).findings]
    assert ("files.key_world_readable" in codes) is warned
    assert report.verdict is (Status.WARN if warned else Status.PASS)


def test_readable_certificate_alone_is_fine(pki: Pki) -> None:
    report = diagnose([("ca.crt", pki.client.ca_crt.read_bytes())], file_modes={"ca.crt": 0o100644})
    assert "files.key_world_readable" not in [f.code for f in report.step(5).findings]

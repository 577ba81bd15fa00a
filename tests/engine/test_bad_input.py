"""Bad input gives a clear finding, never an exception, and never shows key material."""

from __future__ import annotations

import json
import time

import pytest

from bot.cli.render import render_markdown, render_text
from bot.engine import diagnose
from bot.engine.inputs import MAX_FILE_BYTES
from bot.engine.report import Report, Status
from tests.pki import Pki


def _all_outputs(report: Report) -> str:
    return "\n".join([json.dumps(report.to_dict()), render_text(report, verbose=True), render_markdown(report)])


def _key_lines(pem: bytes) -> list[str]:
    return [ln for ln in pem.decode().splitlines() if ln and not ln.startswith("-----")]


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("empty.pem", b"", "files.empty"),
        ("blank.pem", b"\n\n   \n", "files.empty"),
        ("random.bin", bytes(range(256)) * 40, "files.binary"),
        ("notes.txt", b"please find attached our certificate\n", "files.no_pem"),
        ("huge.pem", b"A" * (MAX_FILE_BYTES + 1), "files.too_large"),
        ("half.pem", b"-----BEGIN CERTIFICATE-----\nMIIB\n", "files.truncated"),
        ("junk.pem", b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "files.pem_corrupt"),
        ("empty-block.pem", b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", "files.pem_corrupt"),
        ("notder.der", b"\x30\x82\x01\x00" + b"\x00" * 300, "files.binary"),
    ],
)
def test_bad_file_is_a_finding(name: str, data: bytes, code: str) -> None:
    report = diagnose([(name, data)])
    step5 = report.step(5)
    assert step5.status in (Status.FAIL, Status.WARN)
    assert code in [f.code for f in step5.findings]
    for f in step5.findings:
        if f.status is Status.FAIL:
            assert f.remediation and f.commands  # says what to do and how to check


def test_thousands_of_blocks_are_bounded(pki: Pki) -> None:
    many = pki.client.ca_crt.read_bytes() * 700  # 700 blocks, under the 1 MiB cap
    started = time.monotonic()
    report = diagnose([("ca-bundle.pem", many)])
    assert time.monotonic() - started < 30
    assert "files.too_many_blocks" in [f.code for f in report.step(5).findings]


def test_no_private_key_line_in_any_output(pki: Pki) -> None:
    key = pki.client.host_key.read_bytes()
    ca_key = pki.client.ca_key.read_bytes()
    scenarios = [
        [("fix.itbit.pem", pki.client.bundle.read_bytes()), ("ca.key", ca_key)],
        [("fix.itbit.pem", key)],  # a key alone
        [("fix.itbit.pem", key[:-300])],  # truncated key
        [("fix.itbit.pem", key.replace(b"\n", b"\r"))],  # CR-only key
        [("host.key", b"  " + key)],  # indented key
    ]
    secret_lines = _key_lines(key) + _key_lines(ca_key)
    for files in scenarios:
        out = _all_outputs(diagnose(files))
        for line in secret_lines:
            assert line not in out


def test_item_repr_hides_private_key(pki: Pki) -> None:
    from bot.engine.inputs import read_file

    item = read_file("host.key", pki.client.host_key.read_bytes()).items[0]
    assert item.private_key is not None
    assert "private_key" not in repr(item)


def test_malformed_endpoint_is_a_finding() -> None:
    report = diagnose([], endpoint="not an endpoint")
    finding = report.step(3).findings[0]
    assert (finding.code, finding.status) == ("tcp.bad_endpoint", Status.FAIL)
    assert "HOST:PORT" in finding.message
    assert report.step(4).findings[0].code == "tls.skipped"


def test_report_contract_shape(pki: Pki) -> None:
    report = diagnose([("fix.itbit.pem", pki.client.bundle.read_bytes()), ("ca.crt", pki.client.ca_crt.read_bytes())])
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data) >= {"schema", "verdict", "first_failure", "inputs", "steps"}
    assert data["schema"] == 1
    assert [s["step"] for s in data["steps"]] == list(range(1, 9))
    for step in data["steps"]:
        assert set(step) >= {"step", "title", "status", "summary", "findings"}
        assert step["status"] in ("pass", "warn", "fail", "skip")
        for f in step["findings"]:
            assert set(f) >= {"code", "status", "message", "remediation", "commands", "evidence"}
    assert data["inputs"][0] == {"name": "fix.itbit.pem", "kinds": ["certificate", "private-key"], "role": "client-bundle"}


def test_too_many_files_are_reported_not_dropped_silently(pki: Pki) -> None:
    ca = pki.client.ca_crt.read_bytes()
    report = diagnose([(f"ca{n}.crt", ca) for n in range(70)])
    finding = next(f for f in report.step(5).findings if f.code == "files.too_many_files")
    assert finding.status is Status.WARN
    assert len(finding.evidence["unread"]) == 6
    assert len(report.inputs) == 64

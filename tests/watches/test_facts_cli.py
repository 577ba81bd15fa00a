"""Facts taken from a real diagnosis, and `fixcheck expiry` in a shell (monitoring-plugin lines and exit codes)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.engine import diagnose
from bot.lab.onboarding import ClientFiles
from bot.watches.facts import BadFacts, CertFacts, from_report
from tests.slack.localservers import REPO

LINE = re.compile(
    r"^(OK|WARNING|CRITICAL|UNKNOWN): (\S+): (.+) expires (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC \((-?\d+) days?\)$"
)


def openssl_fingerprint(path: Path) -> str:
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return out.strip().split("=", 1)[1]


def openssl_enddate(path: Path) -> dt.datetime:
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-enddate", "-in", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return dt.datetime.strptime(out.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y GMT").replace(tzinfo=dt.UTC)


def test_facts_of_a_diagnosed_onboarding_match_openssl(client_files: ClientFiles) -> None:
    files = [("fix.itbit.pem", client_files.bundle.read_bytes()), ("ca.crt", client_files.ca_crt.read_bytes())]
    facts = from_report(diagnose(files))
    assert facts is not None
    assert facts.fingerprint == openssl_fingerprint(client_files.host_crt)
    assert facts.ca_fingerprint == openssl_fingerprint(client_files.ca_crt)
    assert facts.not_after == openssl_enddate(client_files.host_crt)
    assert facts.ca_not_after == openssl_enddate(client_files.ca_crt)
    assert facts.common_name == "fix-client" and facts.renewal == "host" and facts.applied_renewal == "host"
    assert facts.deadline == facts.not_after
    assert CertFacts.from_json(facts.to_json()) == facts
    assert len(facts.to_json()) < 2000  # fits a Slack button's value


def test_a_ca_that_expires_first_applies_the_ca_renewal(short_ca_files: ClientFiles) -> None:
    files = [("fix.itbit.pem", short_ca_files.bundle.read_bytes()), ("ca.crt", short_ca_files.ca_crt.read_bytes())]
    facts = from_report(diagnose(files))
    assert facts is not None and facts.applied_renewal == "ca" and facts.deadline == facts.ca_not_after


def test_no_client_certificate_no_facts(client_files: ClientFiles) -> None:
    assert from_report(diagnose([("ca.crt", client_files.ca_crt.read_bytes())])) is None
    assert from_report(diagnose([])) is None
    for bad in ("", "{}", '{"f":"AA"}', "[1]", '{"f":1,"s":2,"i":3,"n":"x","r":"host"}'):
        with pytest.raises(BadFacts):
            CertFacts.from_json(bad)


def expiry(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "expiry", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
    )


def test_fixcheck_expiry_lines_and_exit_codes(client_files: ClientFiles, tmp_path: Path) -> None:
    host_end = openssl_enddate(client_files.host_crt)
    bundle, ca = str(client_files.bundle), str(client_files.ca_crt)
    ok = expiry(bundle, ca, "--within", "30", "--now", (host_end - dt.timedelta(days=40)).isoformat())
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines = ok.stdout.splitlines()
    assert len(lines) == 2 and all(LINE.match(line) for line in lines)  # one per certificate; the key is skipped
    assert LINE.match(lines[0]).groups()[:3] == ("OK", bundle, "fix-client")  # type: ignore[union-attr]
    assert lines[0].endswith("(40 days)")
    assert "PRIVATE" not in ok.stdout and "BEGIN" not in ok.stdout

    warn = expiry(bundle, "--within", "30", "--now", (host_end - dt.timedelta(days=20)).isoformat())
    assert (warn.returncode, warn.stdout.split(":")[0]) == (1, "WARNING")
    crit = expiry(bundle, "--within", "30", "--now", (host_end - dt.timedelta(days=3)).isoformat())
    assert (crit.returncode, crit.stdout.split(":")[0]) == (2, "CRITICAL")
    gone = expiry(bundle, "--now", (host_end + dt.timedelta(days=2)).isoformat())
    assert gone.returncode == 2 and gone.stdout.strip().endswith("(-2 days)")

    (tmp_path / "notes.txt").write_text("not a certificate\n")
    unknown = expiry(str(tmp_path / "notes.txt"), str(tmp_path / "missing.pem"))
    assert unknown.returncode == 3
    assert unknown.stdout.splitlines()[0].startswith("UNKNOWN: ") and "openssl x509 -noout" in unknown.stdout
    assert "no such file" in unknown.stdout.lower() or "cannot read" in unknown.stdout
    assert "Traceback" not in unknown.stdout + unknown.stderr
    # A known problem outranks not knowing; a usage error is UNKNOWN (3), not CRITICAL (2).
    mixed = expiry(bundle, str(tmp_path / "missing.pem"), "--now", (host_end - dt.timedelta(days=20)).isoformat())
    assert mixed.returncode == 1
    usage = expiry(bundle, "--within", "soon")
    assert usage.returncode == 3 and "UNKNOWN" in usage.stderr and "Traceback" not in usage.stderr


def test_the_button_goes_under_the_report_inside_slacks_block_limit(client_files: ClientFiles) -> None:
    from bot.slack.render import MAX_BLOCKS, Message, render_report, with_blocks
    from bot.watches.messages import BUTTON_TEXT, offer_blocks

    report = diagnose(
        [("fix.itbit.pem", client_files.bundle.read_bytes()), ("ca.crt", client_files.ca_crt.read_bytes())]
    )
    facts = from_report(report)
    assert facts is not None
    extra = [b.to_dict() for b in offer_blocks(facts, None)]
    message = with_blocks(render_report(report), extra)
    assert BUTTON_TEXT in json.dumps(message.blocks[-2]) and message.blocks[-1]["type"] == "context"  # footer last
    full = Message("x", [{"type": "divider"}] * MAX_BLOCKS)
    assert len(with_blocks(full, extra).blocks) == MAX_BLOCKS and with_blocks(full, extra).blocks[-2] == extra[0]


def openssl_startdate(path: Path) -> dt.datetime:
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-startdate", "-in", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return dt.datetime.strptime(out.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y GMT").replace(tzinfo=dt.UTC)


def test_a_not_yet_valid_certificate_is_critical(client_files: ClientFiles) -> None:
    start = openssl_startdate(client_files.host_crt)
    early = expiry(str(client_files.host_crt), "--now", (start - dt.timedelta(days=3)).isoformat())
    assert early.returncode == 2, early.stdout
    assert early.stdout.startswith("CRITICAL: ") and f"not valid before {start:%Y-%m-%d %H:%M:%S} UTC" in early.stdout


def test_a_smaller_within_lowers_the_default_critical(client_files: ClientFiles) -> None:
    host_end = openssl_enddate(client_files.host_crt)
    six_left = (host_end - dt.timedelta(days=6, hours=12)).isoformat()
    warn = expiry(str(client_files.host_crt), "--within", "5", "--now", six_left)
    assert (warn.returncode, warn.stdout.split(":")[0]) == (0, "OK")
    warn = expiry(str(client_files.host_crt), "--within", "8", "--now", six_left)
    assert (warn.returncode, warn.stdout.split(":")[0]) == (2, "CRITICAL")  # the default 7 still applies
    warn = expiry(str(client_files.host_crt), "--within", "8", "--critical", "3", "--now", six_left)
    assert (warn.returncode, warn.stdout.split(":")[0]) == (1, "WARNING")
    four_left = (host_end - dt.timedelta(days=4, hours=12)).isoformat()
    # critical = min(7, 5): inside --within is critical, as before a smaller --within had any effect.
    assert expiry(str(client_files.host_crt), "--within", "5", "--now", four_left).returncode == 2
    bad = expiry(str(client_files.host_crt), "--within", "5", "--critical", "10")
    assert bad.returncode == 3 and "--critical 10 is more than --within 5" in bad.stdout


def test_a_folder_is_read_like_diagnose_reads_it(client_files: ClientFiles, tmp_path: Path) -> None:
    folder = tmp_path / "onboarding"
    folder.mkdir()
    (folder / "fix.itbit.pem").write_bytes(client_files.bundle.read_bytes())
    (folder / "ca.crt").write_bytes(client_files.ca_crt.read_bytes())
    host_end = openssl_enddate(client_files.host_crt)
    out = expiry(str(folder), "--now", (host_end - dt.timedelta(days=40)).isoformat())
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert [LINE.match(line).group(2) for line in lines] == [  # type: ignore[union-attr]
        str(folder / "ca.crt"),
        str(folder / "fix.itbit.pem"),
    ]
    for i in range(70):
        (folder / f"extra{i}.pem").write_bytes(b"x")
    many = expiry(str(folder))
    assert many.returncode == 3 and many.stdout.startswith("UNKNOWN: ") and "at most 64" in many.stdout

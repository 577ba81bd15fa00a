"""The CLI's front end (issue 11): version, help, the headline's coverage, the demo without openssl."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.pki import Pki
from tests.test_cli import fixcheck

REPO = Path(__file__).resolve().parents[1]


def test_version_is_the_package_version() -> None:
    from importlib import metadata

    proc = fixcheck("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"fixcheck {metadata.version('fixcheck')}"


def test_format_has_help_text() -> None:
    out = fixcheck("diagnose", "--help").stdout
    format_help = out[out.index("--format") :]
    assert "json" in format_help and "the report contract" in format_help and "markdown: for a ticket" in format_help


def test_stunnel_config_output_names_the_file_in_the_check_command(pki: Pki, tmp_path: Path) -> None:
    conf = tmp_path / "my stunnel.conf"
    proc = fixcheck("stunnel-config", "--connect", "127.0.0.1:4490", "-o", str(conf),
                    str(pki.client.bundle), str(pki.server.ca_pem))
    assert proc.returncode == 0, proc.stderr
    assert conf.is_file()
    # The check command is one that can be pasted: the written file, shell-quoted, not "FILE".
    assert f"fixcheck diagnose --stunnel '{conf}' --connect 127.0.0.1:4490" in proc.stderr
    assert "--stunnel FILE" not in proc.stderr


def test_stunnel_config_to_stdout_says_where_to_save_it(pki: Pki) -> None:
    proc = fixcheck("stunnel-config", "--connect", "127.0.0.1:4490", str(pki.client.bundle), str(pki.server.ca_pem))
    assert proc.returncode == 0, proc.stderr
    assert "Save the configuration above as itbit.conf" in proc.stderr
    assert "fixcheck diagnose --stunnel itbit.conf --connect 127.0.0.1:4490" in proc.stderr


def test_pass_headline_says_how_many_steps_ran_and_what_runs_the_rest(pki: Pki) -> None:
    proc = fixcheck("diagnose", str(pki.client.bundle))
    assert proc.returncode == 0, proc.stdout
    head = proc.stdout.splitlines()[:2]
    assert head[0] == "✔ PASS — 3 of 8 steps ran and none failed"
    assert head[1] == "  to run the rest, add: ca.crt (steps 1, 2), --connect HOST:PORT (steps 3, 4), --stunnel FILE (step 7)"
    md = fixcheck("diagnose", "--format", "markdown", str(pki.client.bundle), str(pki.client.ca_crt)).stdout
    assert "**Verdict: PASS** — 5 of 8 steps ran; to run the rest, add: --connect HOST:PORT (steps 3, 4)" in md


def test_demo_without_openssl_is_one_line_exit_2(tmp_path: Path) -> None:
    # A PATH with python's own folder only: no openssl on it.
    env = {**os.environ, "PATH": str(tmp_path), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "demo"], capture_output=True, text=True, timeout=60,
                          env=env, cwd=REPO, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "openssl" in lines[0] and "apt-get install openssl" in lines[0]

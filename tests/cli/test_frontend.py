"""The CLI's front end (issue 11): version, help, the headline's coverage, the demo without openssl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cli.test_diagnose_command import fixcheck
from tests.pki import Pki

REPO = Path(__file__).resolve().parents[2]


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


def test_pass_headline_says_how_many_steps_ran_and_what_runs_the_rest(pki: Pki, tmp_path: Path) -> None:
    bundle = tmp_path / "fix.itbit.pem"
    bundle.write_bytes(pki.client.bundle.read_bytes())
    bundle.chmod(0o600)  # readable by others it would be a warning
    proc = fixcheck("diagnose", str(bundle))
    assert proc.returncode == 0, proc.stdout
    head = proc.stdout.splitlines()[:2]
    assert head[0] == "✔ PASS — 3 of 8 steps ran and none failed"
    assert head[1] == "  to run the rest, add: ca.crt (steps 1, 2), --connect HOST:PORT (steps 3, 4), --stunnel FILE (step 7)"
    md = fixcheck("diagnose", "--format", "markdown", str(bundle), str(pki.client.ca_crt)).stdout
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
    assert proc.stdout == ""  # nothing started, nothing to clean up


def test_world_readable_key_file_is_a_warning(pki: Pki, tmp_path: Path) -> None:
    bundle = tmp_path / "fix.itbit.pem"
    bundle.write_bytes(pki.client.bundle.read_bytes())
    bundle.chmod(0o644)
    # Run where the file is: findings name it by the path as given (here the bare name).
    proc = fixcheck("diagnose", "fix.itbit.pem", str(pki.client.ca_crt), cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith("! WARN")
    assert "[files.key_world_readable] fix.itbit.pem holds an unencrypted private key" in proc.stdout
    assert "$ chmod 600 fix.itbit.pem" in proc.stdout
    bundle.chmod(0o640)  # group-readable (e.g. an ssl-cert group) is the owner's choice
    assert fixcheck("diagnose", str(bundle), str(pki.client.ca_crt)).stdout.startswith("✔ PASS")


def test_world_readable_key_named_by_the_stunnel_configuration(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    key = tmp_path / "keys" / "fix.itbit.pem"
    key.write_bytes(pki.client.bundle.read_bytes())
    key.chmod(0o604)
    ca = tmp_path / "itbit-ca.pem"
    ca.write_bytes(pki.server.ca_pem.read_bytes())
    conf = tmp_path / "itbit.conf"
    conf.write_text("[itbit]\nclient = yes\naccept = 127.0.0.1:5000\nconnect = 127.0.0.1:4490\n"
                    "cert = keys/fix.itbit.pem\nCAfile = itbit-ca.pem\nverifyChain = yes\ncheckHost = localhost\n")
    proc = fixcheck("diagnose", "--stunnel", str(conf), "--format", "json")
    found = [f for s in json.loads(proc.stdout)["steps"] for f in s["findings"] if f["code"] == "files.key_world_readable"]
    assert [f["evidence"] for f in found] == [{"file": "keys/fix.itbit.pem", "mode": "604"}]


def test_a_lone_text_note_exits_1(tmp_path: Path) -> None:
    note = tmp_path / "notes.txt"
    note.write_text("FIX onboarding: sandbox port 4490, ask Bob for the certificate\n")
    proc = fixcheck("diagnose", str(note))
    assert proc.returncode == 1, proc.stdout
    assert proc.stdout.startswith("✘ FAIL — start with step 5 (Files hold what the guide expects): files.no_pem")


def test_nothing_checked_is_not_a_pass() -> None:
    from bot.cli.render import render_text
    from bot.engine import diagnose

    text = render_text(diagnose([]))
    assert text.splitlines()[:2] == [
        "- SKIP — no step could run, so nothing was checked",
        "  to run the rest, add: fix.itbit.pem (steps 1, 6, 8), ca.crt (step 2), --connect HOST:PORT (steps 3, 4), "
        "the onboarding files (step 5), --stunnel FILE (step 7)",
    ]


def test_world_readable_key_in_a_folder_names_the_path_as_given(pki: Pki, tmp_path: Path) -> None:
    """`fixcheck diagnose 'my onb'`: the chmod advice works from where the user stands (shell-quoted)."""
    folder = tmp_path / "my onb"
    folder.mkdir()
    bundle = folder / "fix.itbit.pem"
    bundle.write_bytes(pki.client.bundle.read_bytes())
    bundle.chmod(0o644)
    (folder / "ca.crt").write_bytes(pki.client.ca_crt.read_bytes())
    proc = fixcheck("diagnose", "my onb", cwd=tmp_path)
    assert "chmod 600 'my onb/fix.itbit.pem'" in proc.stdout, proc.stdout
    assert "$ chmod 600 fix.itbit.pem" not in proc.stdout

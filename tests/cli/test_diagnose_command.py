"""The CLI as a person runs it: a real process, real files, exit codes 0/1/2."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.pki import Pki


def fixcheck(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=120,
                          env=full_env, cwd=cwd, check=False)


def test_good_folder_exits_0(pki: Pki, tmp_path: Path) -> None:
    # The folder the guide's commands leave behind, serial file included.
    for name in ("ca.key", "ca.crt", "ca.srl", "host.key", "host.csr", "host.crt", "fix.itbit.pem"):
        (tmp_path / name).write_bytes((pki.client.folder / name).read_bytes())
    (tmp_path / "itbit-ca.pem").write_bytes(pki.server.ca_pem.read_bytes())
    proc = fixcheck("diagnose", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout
    assert "\033[" not in proc.stdout  # not a terminal: no colour


def test_json_is_the_contract(pki: Pki) -> None:
    proc = fixcheck("diagnose", "--format", "json", str(pki.client.bundle), str(pki.client.ca_crt))
    data = json.loads(proc.stdout)
    assert data["schema"] == 1 and len(data["steps"]) == 8
    assert data["verdict"] in ("pass", "warn")


def test_failure_exits_1_and_names_root_cause(pki: Pki, tmp_path: Path) -> None:
    bad = tmp_path / "fix.itbit.pem"
    bad.write_bytes(pki.client.host_crt.read_bytes() + pki.read("other/host.key"))
    proc = fixcheck("diagnose", str(bad), str(pki.client.ca_crt))
    assert proc.returncode == 1
    assert "start with step 6" in proc.stdout
    assert "keymatch.mismatch" in proc.stdout
    assert "openssl x509 -noout -modulus" in proc.stdout


def test_markdown(pki: Pki) -> None:
    proc = fixcheck("diagnose", "--format", "markdown", str(pki.client.bundle))
    assert proc.stdout.startswith("# fixcheck report")


def test_missing_path_exits_2_with_one_line(tmp_path: Path) -> None:
    proc = fixcheck("diagnose", str(tmp_path / "nope.pem"))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreadable_path_exits_2(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root reads everything; use a folder given as a file instead
        proc = fixcheck("diagnose", "--stunnel", str(tmp_path))
        assert proc.returncode == 2 and "folder" in proc.stderr
        return
    p = tmp_path / "locked.pem"
    p.write_text("x")
    p.chmod(0)
    proc = fixcheck("diagnose", str(p))
    assert proc.returncode == 2 and "permission denied" in proc.stderr


def test_nothing_given_exits_2() -> None:
    proc = fixcheck("diagnose")
    assert proc.returncode == 2 and "nothing to diagnose" in proc.stderr


def test_bad_timeout_exits_2(pki: Pki) -> None:
    proc = fixcheck("diagnose", "--timeout", "-1", str(pki.client.bundle))
    assert proc.returncode == 2


def test_no_color_respected(pki: Pki) -> None:
    # `script` gives the process a real terminal; NO_COLOR must still switch colour off.
    cmd = f"{sys.executable} -m bot.cli diagnose {pki.client.bundle}"
    with_tty = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=60,
                              cwd=Path(__file__).resolve().parents[2], check=False)
    no_color = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=60,
                              cwd=Path(__file__).resolve().parents[2], env={**os.environ, "NO_COLOR": "1"}, check=False)
    assert "\033[" in with_tty.stdout
    assert "\033[" not in no_color.stdout


def test_demo_runs_offline() -> None:
    proc = fixcheck("demo")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    for title in ("Working setup", "Key mismatch", "CA regenerated", "Expired certificate", "Pasted from the guide",
                  "Working setup, live", "Client CA not registered", "Wrong itbit-ca.pem", "Closed port"):
        assert title in proc.stdout
    # No base64 body line of any PEM block (keys included) is ever printed.
    assert not [ln for ln in proc.stdout.splitlines() if re.fullmatch(r"[A-Za-z0-9+/=]{40,}", ln.strip())]


def test_malformed_connect_exits_2(pki: Pki) -> None:
    proc = fixcheck("diagnose", "--connect", "::::", str(pki.client.bundle))
    assert proc.returncode == 2
    assert proc.stderr.startswith("fixcheck: --connect:") and "HOST:PORT" in proc.stderr

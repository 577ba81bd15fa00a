"""`stunnel-config -o` (issue 11 QA): never lose a user's file, one line and exit 2 on a bad -o.

Before: `-o DIR/fix.itbit.pem` replaced the bundle (the private key lost) with a config whose
`cert =` pointed at itself; a missing folder or a folder as -o ended in a traceback.
"""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_diagnose_command import fixcheck
from tests.pki import Pki, run_openssl


def onboarding(pki: Pki, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for src in (pki.client.bundle, pki.client.ca_crt, pki.server.ca_pem):
        (folder / src.name).write_bytes(src.read_bytes())
    return folder


def config(folder: Path, *extra: str) -> tuple[int, str]:
    proc = fixcheck("stunnel-config", str(folder), "--connect", "127.0.0.1:4490", "--offline", *extra)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr


def test_output_onto_the_bundle_is_refused_even_with_force(pki: Pki, tmp_path: Path) -> None:
    folder = onboarding(pki, tmp_path / "onb")
    bundle = folder / "fix.itbit.pem"
    before = bundle.read_bytes()
    for extra in ((), ("--force",)):
        code, err = config(folder, "-o", str(bundle), *extra)
        assert code == 2
        assert "is one of the input files" in err and len(err.strip().splitlines()) == 1
        assert bundle.read_bytes() == before


def test_output_onto_a_key_file_outside_the_inputs_is_refused_even_with_force(pki: Pki, tmp_path: Path) -> None:
    folder = onboarding(pki, tmp_path / "onb")
    other = tmp_path / "elsewhere.pem"
    other.write_bytes(pki.client.bundle.read_bytes())
    code, err = config(folder, "-o", str(other), "--force")
    assert code == 2 and "holds a certificate or key" in err and "not even with --force" in err
    assert other.read_bytes() == pki.client.bundle.read_bytes()
    # A DER key is binary: refused as well.
    der = tmp_path / "host.der"
    run_openssl("pkey", "-in", str(pki.client.bundle), "-outform", "DER", "-out", str(der), cwd=tmp_path)
    before = der.read_bytes()
    code, err = config(folder, "-o", str(der), "--force")
    assert code == 2 and "never replaced" in err and der.read_bytes() == before


def test_existing_file_needs_force_and_is_replaced_atomically(pki: Pki, tmp_path: Path) -> None:
    folder = onboarding(pki, tmp_path / "onb")
    conf = tmp_path / "out" / "itbit.conf"
    conf.parent.mkdir()
    conf.write_text("; my old configuration\n")
    code, err = config(folder, "-o", str(conf))
    assert code == 2 and "exists; add --force" in err
    assert conf.read_text() == "; my old configuration\n"
    code, err = config(folder, "-o", str(conf), "--force")
    assert code == 0, err
    assert "client = yes" in conf.read_text()
    assert sorted(p.name for p in conf.parent.iterdir()) == ["itbit.conf"]  # no temp file left behind


def test_missing_folder_and_folder_as_output_are_one_line_exit_2(pki: Pki, tmp_path: Path) -> None:
    folder = onboarding(pki, tmp_path / "onb")
    code, err = config(folder, "-o", str(tmp_path / "nonexistent" / "dir" / "x.conf"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "does not exist" in err
    code, err = config(folder, "-o", str(tmp_path))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "is a folder" in err


def test_bad_accept_port_is_a_usage_error(pki: Pki, tmp_path: Path) -> None:
    folder = onboarding(pki, tmp_path / "onb")
    code, err = config(folder, "--accept-port", "70000")
    assert code == 2 and "out of range" in err


def test_offline_check_command_names_the_endpoint(pki: Pki, tmp_path: Path) -> None:
    """The name check to make by hand is ready to paste: the --connect endpoint, not HOST:PORT."""
    folder = onboarding(pki, tmp_path / "onb")
    proc = fixcheck("stunnel-config", str(folder), "--connect", "127.0.0.1:4490", "--offline")
    assert proc.returncode == 0, proc.stderr
    assert "openssl s_client -connect 127.0.0.1:4490 </dev/null" in proc.stdout
    assert "HOST:PORT" not in proc.stdout + proc.stderr

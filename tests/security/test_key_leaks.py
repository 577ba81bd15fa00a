"""No key material in any output of the engine or the CLI, whatever form the key arrives in.

Canary keys (tests/leakguard.py) go into every input path of `diagnose()` and of
`fixcheck diagnose`; every output is scanned: the JSON report, the text (verbose) and
Markdown renderings, the Slack Block Kit rendering, every log record at DEBUG, the
message of every exception raised inside the engine (even one it catches), the CLI's
stdout and stderr, and every temporary file written meanwhile.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from bot.cli.render import render_markdown, render_text
from bot.engine import Report, diagnose
from bot.slack.render import render_report
from tests.leakguard import Canaries, LeakGuard, key_variants
from tests.security.conftest import MtlsServer

REPO = Path(__file__).resolve().parents[2]
BOT_DIR = str(REPO / "bot")
EXCEPTIONS_SEEN: list[int] = []  # per diagnosis: proves the exception tracer is live


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def debug_logs() -> Iterator[_Records]:
    """Every log record of every logger, at DEBUG, formatted without any redaction."""
    root = logging.getLogger()
    handler = _Records()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@contextmanager
def raised_exceptions() -> Iterator[list[BaseException]]:
    """Every exception raised in (or passing through) fixcheck's own frames, caught or not."""
    seen: list[BaseException] = []

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "exception":
            seen.append(arg[1])
        return local

    def global_(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename.startswith(BOT_DIR) else None

    old = sys.gettrace()
    sys.settrace(global_)
    threading.settrace(global_)
    try:
        yield seen
    finally:
        sys.settrace(old)
        threading.settrace(None)  # type: ignore[arg-type]


def outputs(report: Report) -> dict[str, str]:
    slack = render_report(report, notices=["a notice"], title="fixcheck")
    return {
        "json": json.dumps(report.to_dict()),
        "text": render_text(report, verbose=True),
        "text+colour": render_text(report, colour=True, verbose=True),
        "markdown": render_markdown(report),
        "slack": slack.text + "\n" + json.dumps(slack.blocks),
    }


def scan_diagnosis(guard: LeakGuard, label: str, files: list[tuple[str, bytes]], **kw: Any) -> Report:
    """Run diagnose() under log and exception capture; scan everything it produced."""
    with debug_logs() as logs, raised_exceptions() as raised:
        try:
            report = diagnose(files, **kw)
        except Exception as exc:
            guard.check(f"{label}: exception escaping diagnose()", "".join(traceback.format_exception(exc)))
            raise
    for where, text in outputs(report).items():
        guard.check(f"{label}: {where}", text)
    guard.check(f"{label}: logs at DEBUG", "\n".join(logs.lines))
    EXCEPTIONS_SEEN.append(len(raised))
    for exc in raised:
        guard.check(f"{label}: {type(exc).__name__} raised in the engine", f"{exc!s}\n{exc!r}\n{exc.args!r}")
    assert len(report.steps) == 8
    return report


def _bundle(*parts: bytes) -> bytes:
    return b"".join(p if p.endswith(b"\n") else p + b"\n" for p in parts)


def test_every_key_form_in_every_role_leaks_nowhere(
    canaries: Canaries, guard: LeakGuard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_tmp = Path(tempfile.gettempdir())
    started = time.time() - 1
    empty_tmp = tmp_path / "tmpdir"
    empty_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(empty_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(empty_tmp))

    ca_crt = canaries.ca.cert_pem
    runs = 0
    for canary in canaries.all:
        cert, key = canary.cert_pem, canary.key_pem
        guide = [("fix.itbit.pem", _bundle(cert, key)), ("ca.crt", ca_crt), ("itbit-ca.pem", ca_crt)]
        scan_diagnosis(guard, f"{canary.kind} guide files", guide)
        scan_diagnosis(
            guard, f"{canary.kind} key first", [("sandbox.itbitprod.pem", _bundle(key, cert)), ("ca.crt", ca_crt)]
        )
        # The key where certificates belong, and under names that say nothing.
        misplaced = [("ca.crt", key), ("itbit-ca.pem", _bundle(key, ca_crt)), ("host.csr", key), ("notes.txt", key)]
        scan_diagnosis(guard, f"{canary.kind} misplaced", misplaced)
        # Mangled forms: each still holds lines of the real key.
        for variant, data in key_variants(canary).items():
            files = [("host.key", data), ("host.crt", cert), ("ca.crt", ca_crt)]
            scan_diagnosis(guard, f"{canary.kind} {variant}", files)
            runs += 1
        # DER: its base64 is the PEM's body.
        der = subprocess.run(
            ["openssl", "pkey", "-in", str(canary.key_path), "-outform", "DER", "-passin", "pass:canary-pass"],
            capture_output=True, check=True, timeout=30,
        ).stdout  # fmt: skip
        scan_diagnosis(guard, f"{canary.kind} DER", [("host.key", der), ("host.crt", cert)])
        # A key pasted into a stunnel configuration, and a key handed over as the configuration.
        conf = (
            b"client = yes\n[itbit]\naccept = 127.0.0.1:5000\nconnect = fix.example.com:4490\ncert = fix.itbit.pem\nkey = "
            + key
        )
        scan_diagnosis(guard, f"{canary.kind} key in stunnel.conf", guide, stunnel=("stunnel.conf", conf))
        scan_diagnosis(guard, f"{canary.kind} key as stunnel.conf", guide, stunnel=("stunnel.conf", key))
    # Everything at once: the CA key, every host key, every certificate.
    everything = [(f"{c.kind}.key", c.key_pem) for c in canaries.all] + [
        (f"{c.kind}.crt", c.cert_pem) for c in canaries.all
    ]
    scan_diagnosis(guard, "everything", everything)
    assert runs == 5 * len(key_variants(canaries.host))
    assert sum(EXCEPTIONS_SEEN) > 0, "the mangled keys raised (and the engine caught) exceptions that were scanned"

    assert not [p for p in empty_tmp.rglob("*") if p.is_file()], "the engine wrote temporary files"
    leaks = guard.scan_tree(real_tmp, since=started, skip=[tmp_path.parents[1]])
    assert not leaks, [str(leak) for leak in leaks[:5]]


def test_handshake_with_canary_keys_leaks_nowhere(
    canaries: Canaries, guard: LeakGuard, canary_mtls_server: MtlsServer
) -> None:
    """Steps 3 and 4 load the key into a TLS context: their findings and errors stay clean."""
    ca_crt = canaries.ca.cert_pem
    for canary in (canaries.host, canaries.ec, canaries.encrypted):
        files = [
            ("fix.itbit.pem", _bundle(canary.cert_pem, canary.key_pem)),
            ("ca.crt", ca_crt),
            ("itbit-ca.pem", ca_crt),
        ]
        report = scan_diagnosis(
            guard, f"{canary.kind} handshake", files, endpoint=canary_mtls_server.endpoint, timeout=3
        )
        assert report.to_dict()["steps"][2]["status"] == "pass", "the TCP step reached the local server"
    # A certificate with another certificate's key: the TLS context refuses the pair.
    wrong = [("fix.itbit.pem", _bundle(canaries.host.cert_pem, canaries.pkcs1.key_pem)), ("itbit-ca.pem", ca_crt)]
    scan_diagnosis(guard, "mismatched pair handshake", wrong, endpoint=canary_mtls_server.endpoint, timeout=3)


def _cli(args: list[str], tmpdir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FIXCHECK_"))}
    env.update(TMPDIR=str(tmpdir), PYTHONPATH=str(REPO), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "diagnose", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_cli_with_canary_keys_in_files_folders_and_stunnel_references(
    canaries: Canaries, guard: LeakGuard, tmp_path: Path
) -> None:
    folder = tmp_path / "onboarding"
    folder.mkdir()
    (folder / "fix.itbit.pem").write_bytes(_bundle(canaries.ec.cert_pem, canaries.ec.key_pem))
    (folder / "ca.crt").write_bytes(canaries.ca.cert_pem)
    (folder / "ca.key").write_bytes(canaries.ca.key_pem)
    (folder / "itbit-ca.pem").write_bytes(canaries.ca.cert_pem)
    (folder / "broken.key").write_bytes(key_variants(canaries.pkcs1)["corrupted"])
    conf = tmp_path / "stunnel.conf"
    conf.write_text(
        "client = yes\n[itbit]\naccept = 127.0.0.1:5000\nconnect = 127.0.0.1:1\n"
        f"cert = {canaries.host.cert_path}\nkey = {canaries.host.key_path}\n"
        f"CAfile = {canaries.ca.cert_path}\n"
        f"[other]\nclient = yes\naccept = 127.0.0.1:5001\nconnect = 127.0.0.1:1\n"
        f"cert = {canaries.encrypted.cert_path}\nkey = {canaries.encrypted.key_path}\n"
    )
    inline = tmp_path / "inline.conf"
    inline.write_bytes(b"client = yes\n[itbit]\nconnect = 127.0.0.1:1\nkey = " + canaries.pkcs1.key_pem)
    tmpdir = tmp_path / "cli-tmp"
    tmpdir.mkdir()
    runs = [[str(folder), "--format", fmt, *extra] for fmt, extra in (("text", ["-v"]), ("json", []), ("markdown", []))]
    runs += [
        ["--stunnel", str(conf), "--format", "json", "--connect", "127.0.0.1:1", "--timeout", "1"],
        ["--stunnel", str(conf), "-v"],
        ["--stunnel", str(inline), "-v", str(canaries.pkcs1.key_path)],
        [str(canaries.encrypted.key_path), str(canaries.ec.key_path), "--format", "markdown"],
    ]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda args: _cli(args, tmpdir), runs))
    for args, proc in zip(runs, done, strict=True):
        assert proc.returncode in (0, 1), (args, proc.stderr[-2000:])
        guard.check(f"fixcheck diagnose {' '.join(args[-3:])}: stdout", proc.stdout)
        guard.check(f"fixcheck diagnose {' '.join(args[-3:])}: stderr", proc.stderr)
    # The stunnel-referenced files were really read (step 6 compared the referenced key).
    stunnel_json = json.loads(done[3].stdout)
    names = {i["name"] for i in stunnel_json["inputs"]}
    assert str(canaries.host.key_path) in names, names
    assert not [p for p in tmpdir.rglob("*") if p.is_file()], "the CLI wrote temporary files"

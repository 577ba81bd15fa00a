"""`fixcheck demo`: the guide's onboarding made for real, then broken in the usual ways.

Everything happens in a temporary folder that is removed afterwards; nothing leaves
this machine. Each scenario is diagnosed by the same engine as `fixcheck diagnose`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.cli.files import InputError
from bot.cli.render import render_text, use_colour
from bot.engine import Options, Status, diagnose
from bot.lab.onboarding import (
    ClientFiles,
    OpenSSLMissingError,
    ServerFiles,
    make_client,
    make_server,
    openssl,
    require_openssl,
    sign_ca_with_dates,
    sign_host_with_dates,
)
from bot.lab.server import network_cases


def add_subparser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `demo` to the CLI's subcommands."""
    demo = sub.add_parser(
        "demo",
        help="make a throwaway onboarding and show diagnoses of it and of broken copies",
        description="Offline: make the guide's files with openssl in a temporary folder, start a "
        "local mTLS server, and show how fixcheck diagnoses a working setup and broken ones.",
    )
    demo.add_argument("--bits", type=int, default=2048, choices=(2048, 3072, 4096), help="RSA key size (guide: 4096)")
    demo.set_defaults(handler=_command)


def _command(args: argparse.Namespace) -> int:
    """`fixcheck demo`: without openssl there is no demo (a usage error, exit 2)."""
    try:
        return run(bits=args.bits, colour=use_colour())
    except OpenSSLMissingError as exc:
        raise InputError(f"demo: {exc}") from None


@dataclass(frozen=True)
class Scenario:
    """One diagnosis to show, and the finding code it must produce (None: nothing fails)."""

    title: str
    explanation: str
    files: list[tuple[str, bytes]]
    expected: str | None
    endpoint: str | None = None


def offline_scenarios(client: ClientFiles, server: ServerFiles, work: Path) -> list[Scenario]:
    """The working setup and four broken copies of it, each as the user would hand it over."""
    bundle = client.bundle.read_bytes()
    ca_crt = client.ca_crt.read_bytes()
    server_ca = server.ca_pem.read_bytes()
    good = [("fix.itbit.pem", bundle), ("ca.crt", ca_crt), ("itbit-ca.pem", server_ca)]

    # Key mismatch: the certificate bundled with a key from a second attempt.
    other = work / "other"
    other.mkdir()
    openssl("genrsa", "-out", "host.key", "2048", cwd=other)
    mismatched = client.host_crt.read_bytes() + (other / "host.key").read_bytes()

    # Regenerated CA: same name, new key; the old host certificate no longer validates.
    regen = work / "regen"
    regen.mkdir()
    openssl("genrsa", "-out", "ca.key", "2048", cwd=regen)
    subject = "/C=US/ST=NY/O=Example Trading/CN=fix-client-ca"
    openssl("req", "-new", "-x509", "-days", "1000", "-key", "ca.key", "-out", "ca.crt", "-subj", subject, cwd=regen)

    # Expired, as it happens: the onboarding was made 501 days ago with the guide's -days
    # (CA 1000, host 500), so the CA is still valid and only host.crt has expired.
    now = dt.datetime.now(dt.UTC)
    made = now - dt.timedelta(days=501)
    old_ca = sign_ca_with_dates(client.folder, made, made + dt.timedelta(days=1000), "ca.501-days.crt")
    expired_crt = sign_host_with_dates(client.folder, made, made + dt.timedelta(days=500), "expired.crt")
    expired_bundle = expired_crt.read_bytes() + client.host_key.read_bytes()

    return [
        Scenario("Working setup", "The guide's files, made with its own openssl commands.", good, None),
        Scenario(
            "Key mismatch",
            "fix.itbit.pem holds host.crt with a key from another attempt.",
            [("fix.itbit.pem", mismatched), ("ca.crt", ca_crt), ("itbit-ca.pem", server_ca)],
            "keymatch.mismatch",
        ),
        Scenario(
            "CA regenerated",
            "ca.crt was made again after host.crt was signed (same name, new key).",
            [("fix.itbit.pem", bundle), ("ca.crt", (regen / "ca.crt").read_bytes()), ("itbit-ca.pem", server_ca)],
            "verify.bad_signature",
        ),
        Scenario(
            "Expired certificate",
            "the onboarding was made 501 days ago: host.crt (500 days) has expired, ca.crt (1000 days) has not.",
            [("fix.itbit.pem", expired_bundle), ("ca.crt", old_ca.read_bytes()), ("itbit-ca.pem", server_ca)],
            "verify.expired",
        ),
        Scenario(
            "Pasted from the guide",
            "fix.itbit.pem copied from the guide's example, with its '...' elisions.",
            [("fix.itbit.pem", _elide(bundle)), ("ca.crt", ca_crt), ("itbit-ca.pem", server_ca)],
            "files.elided",
        ),
    ]


def _elide(pem: bytes) -> bytes:
    """Shorten every PEM block the way the guide prints them: first line, '...', last line."""
    out: list[bytes] = []
    body: list[bytes] = []
    for line in pem.splitlines():
        if line.startswith(b"-----BEGIN"):
            out.append(line)
            body = []
        elif line.startswith(b"-----END"):
            out.extend([body[0], b"...", body[-1], line] if len(body) > 2 else [*body, line])
        else:
            body.append(line)
    return b"\n".join(out) + b"\n"


def run(*, bits: int = 2048, colour: bool = False, out: Callable[[str], None] = print) -> int:
    """Run the demo; returns 0 when every scenario was diagnosed as expected."""
    require_openssl()  # before anything is printed or made: the demo is the guide's openssl commands
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="fixcheck-demo-"))
    try:
        out(f"fixcheck demo — making a throwaway onboarding in {work} with the guide's openssl commands ({bits}-bit)…")
        client = make_client(work / "client", bits=bits)
        server = make_server(work / "exchange", bits=2048)
        scenarios = offline_scenarios(client, server, work)
        with network_cases(client, server, work) as cases:
            # The network part runs against a local mTLS server on 127.0.0.1 only.
            scenarios += [Scenario(c.title, c.explanation, c.files, c.expected, c.endpoint) for c in cases]
            unexpected = [s.title for n, s in enumerate(scenarios, 1) if not _show(n, len(scenarios), s, colour, out)]
        out("")
        if unexpected:
            out(f"Unexpected diagnoses in: {', '.join(unexpected)} — please report this.")
        out(
            f"Done in {time.monotonic() - started:.1f} s; the temporary folder is removed. "
            "Run `fixcheck diagnose YOUR_FILES` on your own files (they never leave your machine)."
        )
        return 0 if not unexpected else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _show(n: int, total: int, scenario: Scenario, colour: bool, out: Callable[[str], None]) -> bool:
    """Diagnose and print one scenario; True when the diagnosis is the expected one."""
    report = diagnose(scenario.files, Options(endpoint=scenario.endpoint, timeout=5.0))
    connect = f" --connect {scenario.endpoint}" if scenario.endpoint else ""
    out("")
    out("═" * 100)
    out(f"Scenario {n}/{total}: {scenario.title} — {scenario.explanation}")
    out(f"  $ fixcheck diagnose{connect} {' '.join(name for name, _ in scenario.files)}")
    out("─" * 100)
    out(render_text(report, colour=colour).rstrip())
    if scenario.expected is None:
        return report.verdict is not Status.FAIL
    return any(f.code == scenario.expected for step in report.steps for f in step.findings)

"""`fixcheck diagnose`: read the files named, call the engine once, print the Report.

Exit 0: no step failed; 1: a step failed; 2: usage error or unreadable input (`InputError`).
With `--stunnel FILE --through-stunnel`, `bot.cli.through_stunnel` runs the user's own
stunnel first and its result goes into the diagnosis too.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from bot.cli import stunnel_config as cli_stunnel
from bot.cli import through_stunnel
from bot.cli.files import InputError, expand_paths, file_modes, read_one
from bot.cli.render import render_markdown, render_text, use_colour
from bot.engine import (
    EndpointError,
    FixLogon,
    LogonError,
    Options,
    Report,
    Status,
    TunnelRun,
    diagnose,
    parse_endpoint,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_subparser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `diagnose` and its options to the CLI's subcommands."""
    d = sub.add_parser(
        "diagnose",
        help="diagnose onboarding files (and optionally a FIX endpoint)",
        description="Run the guide's eight steps on the given files. Exit 0: no step failed; "
        "1: a step failed; 2: usage error or unreadable input.",
    )
    d.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (every file in a folder)")
    d.add_argument("--connect", metavar="HOST:PORT", help="FIX server to test (steps 3 and 4)")
    d.add_argument("--stunnel", metavar="FILE", help="stunnel configuration to check (step 7)")
    d.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="network timeout (default 10)")
    _add_logon_arguments(d)
    d.add_argument(
        "--through-stunnel",
        action="store_true",
        help="run the real stunnel once with a copy of the --stunnel configuration (local accept port, log captured) "
        "and connect through it as the FIX client does",
    )
    d.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="text (default): one line a step, for a terminal; json: the report contract (schema in the README), "
        "for scripts; markdown: for a ticket or e-mail",
    )
    d.add_argument("-v", "--verbose", action="store_true", help="show every finding with its evidence")
    d.set_defaults(handler=run)


def _add_logon_arguments(d: argparse.ArgumentParser) -> None:
    """`--logon`, `--heartbeat`, `--reset-seq`: the FIX Logon sent after the handshake (beyond the guide)."""
    d.add_argument(
        "--logon",
        metavar="SENDER:TARGET",
        help="after the handshake, send one FIX 4.2 Logon as SenderCompID SENDER to TargetCompID TARGET and log out "
        "(with --connect and/or --through-stunnel; run it while your own FIX client is logged off)",
    )
    d.add_argument(
        "--heartbeat", type=int, metavar="SECONDS", help="HeartBtInt (108) of the Logon (default 30)"
    )
    d.add_argument(
        "--reset-seq",
        action="store_true",
        help="send ResetSeqNumFlag 141=Y: the exchange resets this session's sequence numbers to 1 "
        "(your FIX client must then reset its own)",
    )


def run(args: argparse.Namespace) -> int:
    """Diagnose what the arguments name and print the report; usage errors raise `InputError`."""
    _check_connection_arguments(args)
    paths = expand_paths(args.paths)
    files = [read_one(p) for p in paths]
    stunnel = read_one(Path(args.stunnel)) if args.stunnel else None
    if not files and stunnel is None and not args.connect:
        raise InputError(
            "nothing to diagnose: give the onboarding files (e.g. fix.itbit.pem ca.crt itbit-ca.pem), "
            "--connect HOST:PORT or --stunnel FILE"
        )
    logon = logon_from_args(args)
    unreadable: dict[str, str] | None = None
    if stunnel is not None:
        # On this machine the files that cert/key/CAfile name can be checked too.
        extra, unreadable = cli_stunnel.read_referenced_files(Path(args.stunnel), stunnel[1], already=paths)
        files += extra
    options = Options(
        endpoint=args.connect,
        stunnel=stunnel,
        timeout=args.timeout,
        stunnel_unreadable=unreadable,
        logon=logon if args.connect else None,
        tunnel_run=_through_stunnel(args, stunnel, logon),
        file_modes=file_modes(paths, [name for name, _ in files[len(paths) :]], args.stunnel),
        openssl_cli_version=system_openssl_version(),
    )
    report = diagnose(files, options)
    print(render(report, args.format, verbose=args.verbose), end="")
    return EXIT_FAILED if report.verdict is Status.FAIL else EXIT_OK


def _check_connection_arguments(args: argparse.Namespace) -> None:
    """`--timeout` in range and `--connect` a HOST:PORT, before any file is read."""
    if args.timeout <= 0 or args.timeout > 300:
        raise InputError(f"--timeout {args.timeout} is out of range: give seconds between 0.1 and 300")
    if args.connect is not None:
        try:
            parse_endpoint(args.connect)
        except EndpointError as exc:
            raise InputError(f"--connect: {exc}") from None


def _through_stunnel(
    args: argparse.Namespace, stunnel: tuple[str, bytes] | None, logon: FixLogon | None
) -> TunnelRun | None:
    """With `--through-stunnel`: one run of the user's stunnel with the `--stunnel` configuration."""
    if not args.through_stunnel or stunnel is None:
        return None
    try:
        return through_stunnel.run(Path(args.stunnel), stunnel[1], timeout=args.timeout, logon=logon, endpoint=args.connect)
    except through_stunnel.StunnelMissingError as exc:
        raise InputError(str(exc)) from None


def system_openssl_version() -> str | None:
    """`openssl version` of this machine (what stunnel links), for the report's evidence; None if absent."""
    try:
        proc = subprocess.run(["openssl", "version"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def logon_from_args(args: argparse.Namespace) -> FixLogon | None:
    """`--logon`, `--heartbeat`, `--reset-seq` and `--through-stunnel`, checked together (usage errors exit 2)."""
    if args.through_stunnel and not args.stunnel:
        raise InputError("--through-stunnel runs your stunnel configuration: give it with --stunnel FILE")
    if args.through_stunnel and through_stunnel.find_stunnel() is None:
        raise InputError(
            "--through-stunnel needs the stunnel program, which is not installed here "
            "(Debian/Ubuntu: apt-get install stunnel4; macOS: brew install stunnel)"
        )
    if args.logon is None:
        if args.heartbeat is not None or args.reset_seq:
            raise InputError("--heartbeat and --reset-seq belong to a Logon: add --logon SENDER:TARGET")
        return None
    if not args.connect and not args.through_stunnel:
        raise InputError(
            "--logon needs a connection to log on over: add --connect HOST:PORT (the FIX server) "
            "or --stunnel FILE --through-stunnel"
        )
    try:
        return FixLogon.parse(
            args.logon, heartbeat=30 if args.heartbeat is None else args.heartbeat, reset_seq=args.reset_seq
        )
    except LogonError as exc:
        raise InputError(f"--logon: {exc}") from None


def render(report: Report, fmt: str, *, verbose: bool = False) -> str:
    """The report in the `--format` asked for: json (the contract), markdown, or text for a terminal."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return render_markdown(report)
    return render_text(report, colour=use_colour(), verbose=verbose)

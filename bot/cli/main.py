"""`fixcheck`: the command-line front end. Reads files, calls the engine, renders the Report.

Private keys stay on this machine: the CLI reads them into memory, diagnoses, and
prints only public facts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TypeAlias

from bot.cli import expiry as expiry_cli
from bot.cli import stunnel_config as cli_stunnel
from bot.cli import through_stunnel
from bot.cli.render import render_markdown, render_text
from bot.engine import (
    MAX_FILE_BYTES,
    EndpointError,
    FixLogon,
    LogonError,
    Report,
    Status,
    TunnelRun,
    diagnose,
    parse_endpoint,
)

# argparse does not export the type of add_subparsers()' result.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MAX_FOLDER_FILES = 64


class InputError(Exception):
    """A path the user named cannot be read; the message is one actionable line."""


def main(argv: Sequence[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else list(argv))[:1] == ["expiry"]:  # own parser: usage errors exit 3 (UNKNOWN)
        return expiry_cli.main((sys.argv[1:] if argv is None else list(argv))[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.handler(args))
    except InputError as exc:
        print(f"fixcheck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fixcheck",
        description="Diagnose a FIX client's mTLS onboarding: the troubleshooting guide's eight checks, at once.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def package_version() -> str:
    """The installed distribution's version (pyproject.toml is the one place it is written)."""
    try:
        return metadata.version("fixcheck")
    except metadata.PackageNotFoundError:
        # Run from a checkout without `pip install`: say so rather than invent a number.
        return "(not installed: pip install . to get its version)"


def add_diagnose(sub: Subparsers) -> None:
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
    d.set_defaults(handler=run_diagnose)


def add_demo(sub: Subparsers) -> None:
    demo = sub.add_parser(
        "demo",
        help="make a throwaway onboarding and show diagnoses of it and of broken copies",
        description="Offline: make the guide's files with openssl in a temporary folder, start a "
        "local mTLS server, and show how fixcheck diagnoses a working setup and broken ones.",
    )
    demo.add_argument("--bits", type=int, default=2048, choices=(2048, 3072, 4096), help="RSA key size (guide: 4096)")
    demo.set_defaults(handler=run_demo)


def run_diagnose(args: argparse.Namespace) -> int:
    if args.timeout <= 0 or args.timeout > 300:
        raise InputError(f"--timeout {args.timeout} is out of range: give seconds between 0.1 and 300")
    if args.connect is not None:
        try:
            parse_endpoint(args.connect)
        except EndpointError as exc:
            raise InputError(f"--connect: {exc}") from None
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
    tunnel: TunnelRun | None = None
    if args.through_stunnel and stunnel is not None:
        try:
            tunnel = through_stunnel.run(
                Path(args.stunnel), stunnel[1], timeout=args.timeout, logon=logon, endpoint=args.connect
            )
        except through_stunnel.StunnelMissingError as exc:
            raise InputError(str(exc)) from None
    report = diagnose(
        files,
        endpoint=args.connect,
        stunnel=stunnel,
        timeout=args.timeout,
        stunnel_unreadable=unreadable,
        logon=logon if args.connect else None,
        tunnel_run=tunnel,
        file_modes=file_modes(paths, [name for name, _ in files[len(paths) :]], args.stunnel),
        openssl_cli_version=system_openssl_version(),
    )
    print(render(report, args.format, verbose=args.verbose), end="")
    return EXIT_FAILED if report.verdict is Status.FAIL else EXIT_OK


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
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return render_markdown(report)
    return render_text(report, colour=use_colour(), verbose=verbose)


def use_colour() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def expand_paths(paths: Sequence[str]) -> list[Path]:
    """The files named, with every regular file of the folders named."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            try:
                entries = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            except OSError as exc:
                raise InputError(f"cannot read folder {raw}: {exc.strerror or exc}") from None
            if len(entries) > MAX_FOLDER_FILES:
                raise InputError(
                    f"{raw} holds {len(entries)} files; give the onboarding files themselves "
                    f"(at most {MAX_FOLDER_FILES})"
                )
            out.extend(entries)
        else:
            out.append(path)
    return out


def file_modes(paths: Sequence[Path], referenced: Sequence[str], stunnel: str | None) -> dict[str, int]:
    """`st_mode` of each file read, by the name the engine gets (step 5 warns about readable keys).

    `referenced` are the paths a --stunnel configuration names, relative to its folder.
    Windows has no such permission bits: nothing is reported there.
    """
    if os.name == "nt":
        return {}
    named = [(str(p), p) for p in paths]  # the names read_one gives the engine: paths as typed
    base = Path(stunnel).parent if stunnel else Path()
    named += [(w, base / Path(os.path.expanduser(w))) for w in referenced]
    modes: dict[str, int] = {}
    for name, path in named:
        try:
            mode = path.stat().st_mode
        except OSError:
            continue  # it was read a moment ago; without a mode there is simply no check
        modes[name] = modes.get(name, 0) | mode  # two files of one name: the more open one counts
    return modes


def read_one(path: Path) -> tuple[str, bytes]:
    """Read one file, at most one byte past the engine's cap (the engine reports the size)."""
    try:
        with path.open("rb") as handle:
            # One byte past the cap is enough for the engine to say "too large".
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied (check it with: ls -l {path})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    # The path as the user gave it: the engine's "see it yourself" commands use it, and two
    # files of the same name in different folders stay apart.
    return str(path), data


def run_demo(args: argparse.Namespace) -> int:
    from bot.cli.demo import run
    from bot.lab.onboarding import OpenSSLMissingError

    try:
        return run(bits=args.bits, colour=use_colour())
    except OpenSSLMissingError as exc:
        raise InputError(f"demo: {exc}") from None


# Each adds one subcommand and sets its `handler`; a new subcommand is one more entry.
SUBCOMMANDS: tuple[Callable[[Subparsers], object], ...] = (
    add_diagnose,
    add_demo,
    cli_stunnel.add_subparser,
    expiry_cli.add_subparser,
)

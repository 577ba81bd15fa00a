"""`fixcheck`: the command line's entry point, `main()`, and its parser of subcommands.

Each subcommand lives in its own module, which adds its parser and sets its `handler`:
`diagnose` (bot.cli.diagnose), `demo` (bot.cli.demo), `stunnel-config`
(bot.cli.stunnel_config) and `expiry` (bot.cli.expiry). A handler returns the exit code
or raises `InputError`, which `main()` prints as one line and turns into exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import TypeAlias

from bot.cli import demo
from bot.cli import diagnose as diagnose_command
from bot.cli import expiry as expiry_cli
from bot.cli import stunnel_config as cli_stunnel
from bot.cli.diagnose import EXIT_USAGE
from bot.cli.files import InputError

__all__ = ["build_parser", "main", "package_version"]

# argparse does not export the type of add_subparsers()' result.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

# Each adds one subcommand and sets its `handler`; a new subcommand is one more entry.
SUBCOMMANDS: tuple[Callable[[Subparsers], object], ...] = (
    diagnose_command.add_subparser,
    demo.add_subparser,
    cli_stunnel.add_subparser,
    expiry_cli.add_subparser,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `fixcheck` command line (`sys.argv[1:]` by default); returns the exit code."""
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

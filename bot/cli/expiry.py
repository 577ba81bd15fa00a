"""`fixcheck expiry PATH... --within DAYS`: the client's own cron check, as a monitoring plugin.

One line per certificate (client and CA): `OK|WARNING|CRITICAL: FILE: SUBJECT-CN expires
DATE (N days)`, and the monitoring-plugin exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3
UNKNOWN (an unreadable file, no certificate, a usage error). Keys in the files are
skipped, never printed. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path
from typing import NoReturn

from cryptography import x509
from cryptography.x509.oid import NameOID

from bot.cli.files import InputError, expand_paths
from bot.engine import MAX_FILE_BYTES, FileFormat, certs, read_file

MAX_PATHS = 64
DEFAULT_CRITICAL = 7


class State(IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


# Which state wins when files disagree (the plugin convention: a known problem outranks not knowing).
SEVERITY = (State.OK, State.UNKNOWN, State.WARNING, State.CRITICAL)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"UNKNOWN: fixcheck expiry: {message}", file=sys.stderr)
        raise SystemExit(State.UNKNOWN)


def _days(text: str) -> int:
    if not text.isdigit() or int(text) > 3650:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days from 0 to 3650")
    return int(text)


def _instant(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO time such as 2027-01-01T09:00:00Z") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("paths", nargs="+", metavar="PATH", help="certificate files (fix.itbit.pem, ca.crt, ...)")
    p.add_argument(
        "--within",
        type=_days,
        default=30,
        metavar="DAYS",
        help="WARNING when a certificate expires within DAYS (default 30)",
    )
    p.add_argument(
        "--critical",
        type=_days,
        default=None,
        metavar="DAYS",
        help=f"CRITICAL within DAYS (default {DEFAULT_CRITICAL}, or --within when smaller), once expired "
        "and while not yet valid",
    )
    p.add_argument("--now", type=_instant, default=None, metavar="TIME", help="judge as at this UTC time (ISO 8601)")
    return p


def add_subparser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`fixcheck --help` lists the command; `main` runs it (so that usage errors exit 3, not 2)."""
    configure(
        subparsers.add_parser(
            "expiry",
            help="monitoring-plugin check of certificate expiry (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)",
            description=__doc__,
        )
    ).set_defaults(handler=lambda args: run(args))


def main(argv: Sequence[str]) -> int:
    parser = configure(_Parser(prog="fixcheck expiry", description=__doc__))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help exits 0; errors exit UNKNOWN above
        return int(exc.code or 0)
    return run(args)


def run(args: argparse.Namespace) -> int:
    now = args.now or dt.datetime.now(dt.UTC)
    if args.critical is not None and args.critical > args.within:
        print(
            f"UNKNOWN: fixcheck expiry: --critical {args.critical} is more than --within {args.within}; "
            "give --critical at most --within (check with: fixcheck expiry --help)"
        )
        return int(State.UNKNOWN)
    # Without an explicit --critical, a smaller --within lowers it: WARNING must come before CRITICAL.
    critical = min(DEFAULT_CRITICAL, args.within) if args.critical is None else args.critical
    try:
        paths = expand_paths(args.paths)
    except InputError as exc:
        print(f"UNKNOWN: {exc} (check with: ls -l {' '.join(args.paths)})")
        return int(State.UNKNOWN)
    worst = State.OK
    for path in paths[:MAX_PATHS]:
        for state, line in check_file(path, now, args.within, critical):
            print(f"{state.name}: {line}")
            worst = max(worst, state, key=SEVERITY.index)
    if len(paths) > MAX_PATHS:
        print(f"UNKNOWN: only the first {MAX_PATHS} files were read")
        worst = max(worst, State.UNKNOWN, key=SEVERITY.index)
    return int(worst)


def check_file(path: Path, now: dt.datetime, within: int, critical: int) -> list[tuple[State, str]]:
    name = str(path).replace("\n", " ")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return [
            (State.UNKNOWN, f"{name}: cannot read ({exc.strerror or type(exc).__name__}; check with: ls -l {name})")
        ]
    parsed = read_file(path.name, data)
    found = parsed.certificates
    if not found:
        why = "too large" if parsed.format is FileFormat.TOO_LARGE else "no readable certificate in it"
        return [(State.UNKNOWN, f"{name}: {why} (check with: openssl x509 -noout -subject -enddate -in {name})")]
    return [judge(name, cert_cn(c), (certs.not_before(c), certs.not_after(c)), now, within, critical) for c in found]


def judge(
    name: str, cn: str, validity: tuple[dt.datetime, dt.datetime], now: dt.datetime, within: int, critical: int
) -> tuple[State, str]:
    start, end = validity
    if now < start:  # the engine fails this as expiry.client_cert_not_yet_valid: the exchange refuses it too
        return State.CRITICAL, (
            f"{name}: {cn} not valid before {start.strftime('%Y-%m-%d %H:%M:%S')} UTC "
            f"(check the clock, or with: openssl x509 -noout -startdate -in {name})"
        )
    days = int((end - now).total_seconds() // 86400)
    if end <= now or days < critical:
        state = State.CRITICAL
    elif days < within:
        state = State.WARNING
    else:
        state = State.OK
    return state, f"{name}: {cn} expires {end.strftime('%Y-%m-%d %H:%M:%S')} UTC ({days} day{'s' * (abs(days) != 1)})"


def cert_cn(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else certs.subject_name(cert)
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return "".join(c if c.isprintable() else "?" for c in text)[:200] or "(no subject)"

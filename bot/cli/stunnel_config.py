"""CLI pieces for guide step 7: `fixcheck stunnel-config`, and reading the files a config names.

Wiring: bot/cli/commands.py adds the subcommand (`add_subparser`, handler `run`), and
`fixcheck diagnose` (bot/cli/diagnose.py), after reading --stunnel FILE into (name, data):

    extra, unreadable = cli_stunnel.read_referenced_files(Path(args.stunnel), data, already=paths)
    report = diagnose(files + extra, Options(..., stunnel=(name, data), stunnel_unreadable=unreadable))
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bot.engine import MAX_FILE_BYTES, EndpointError, parse_endpoint
from bot.engine.steps.stunnel import (
    DEFAULT_ACCEPT_PORT,
    DEFAULT_SERVICE,
    PID_NO_FOLDER,
    PID_NOT_WRITABLE,
    StunnelConfigError,
    choose_files,
    config_for_files,
    parse,
    referenced_paths,
    server_certificate,
)


def read_referenced_files(
    config_path: Path, config_data: bytes, *, already: Sequence[Path] = (), max_bytes: int = MAX_FILE_BYTES
) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    """Read the files that `cert`, `key` and `CAfile` name, for `diagnose()`.

    Returns `(files, unreadable)`: `files` are `(path as written, bytes)` to add to the
    diagnosis; `unreadable` maps each path that could not be read to why. Relative paths
    are tried from the configuration's folder. Files already among `already` are skipped.
    """
    text = config_data.decode("utf-8", "replace")
    seen = {p.resolve() for p in already}
    files: list[tuple[str, bytes]] = []
    unreadable: dict[str, str] = {}
    for written in referenced_paths(text):
        path = Path(os.path.expanduser(written))
        if not path.is_absolute():
            path = config_path.parent / path
        try:
            resolved = path.resolve()
            if not resolved.exists():
                unreadable[written] = "no such file"
                continue
            if resolved.is_dir():
                unreadable[written] = "it is a directory, not a file"
                continue
            if resolved.stat().st_size > max_bytes:
                unreadable[written] = "the file is too large to be a certificate or key"
                continue
            if resolved in seen:
                continue
            data = resolved.read_bytes()
        except PermissionError:
            unreadable[written] = "permission denied (stunnel, running as another user, may still read it)"
            continue
        except OSError as exc:
            unreadable[written] = f"cannot be read ({exc.strerror or type(exc).__name__})"
            continue
        seen.add(resolved)
        files.append((written, data))
    unreadable.update(pid_folder_problem(text))
    return files, unreadable


def pid_folder_problem(config_text: str) -> dict[str, str]:
    """The pid file's folder, checked on this machine: stunnel exits at start-up when it cannot create the file.

    Returns `{pid path as written: why}` (step 7's `cross` reads it), or `{}`.
    """
    pid = parse(config_text).globals.get("pid")
    if pid is None or not pid.value.startswith("/"):
        return {}
    folder = Path(pid.value).parent
    if not folder.exists():
        return {pid.value: f"{PID_NO_FOLDER}: {folder} does not exist on this machine"}
    if not folder.is_dir():
        return {pid.value: f"{PID_NO_FOLDER}: {folder} is not a folder"}
    if not os.access(folder, os.W_OK | os.X_OK):
        return {pid.value: f"{PID_NOT_WRITABLE}: {folder} is not writable by {_user()}"}
    return {}


def _user() -> str:
    try:
        import pwd

        return f"the user {pwd.getpwuid(os.getuid()).pw_name}"
    except (ImportError, KeyError):
        return "this user"


def add_subparser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add `stunnel-config` to the CLI's subcommands."""
    p = subparsers.add_parser(
        "stunnel-config",
        help="write a known-good stunnel client configuration for your files (guide step 7)",
        description=(
            "Write a stunnel client configuration from the onboarding files (fix.itbit.pem or host.crt + host.key, "
            "and the exchange's itbit-ca.pem; a folder is read whole) and the FIX server's HOST:PORT."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders with the onboarding files")
    p.add_argument("--connect", required=True, metavar="HOST:PORT", help="the FIX server address and port")
    p.add_argument(
        "--accept-port",
        type=_port,
        default=DEFAULT_ACCEPT_PORT,
        metavar="PORT",
        help=f"local port the FIX client connects to (127.0.0.1 only; default {DEFAULT_ACCEPT_PORT})",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        help="do not connect to read the server's certificate (then confirm the checkHost/checkIP name yourself)",
    )
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="for reading the server's certificate")
    p.add_argument("--name", default=DEFAULT_SERVICE, help=f"service section name (default {DEFAULT_SERVICE})")
    p.add_argument("--log-file", default=None, metavar="FILE", help="also write stunnel's log to FILE (output =)")
    p.add_argument(
        "-o", "--output", default=None, metavar="FILE", help="write the configuration here (default: stdout)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing -o file (never one holding a certificate or key, nor one of the inputs)",
    )
    p.set_defaults(handler=run)
    return p


def run(args: argparse.Namespace) -> int:
    """0: written; 1: the files lack something the configuration needs; 2: usage or unreadable input."""
    try:
        endpoint = parse_endpoint(args.connect)
    except EndpointError as exc:
        print(f"fixcheck: {exc}", file=sys.stderr)
        return 2
    paths: list[Path] = []
    for raw in args.paths:
        path = Path(raw)
        if path.is_dir():
            paths.extend(sorted(p for p in path.iterdir() if p.is_file() and p.stat().st_size <= MAX_FILE_BYTES))
        elif path.is_file():
            paths.append(path)
        else:
            print(f"fixcheck: {raw}: no such file or folder", file=sys.stderr)
            return 2
    try:
        # Named by their absolute paths: the configuration must work wherever stunnel starts.
        files = [(str(p.resolve()), p.resolve().read_bytes()) for p in paths]
    except OSError as exc:
        print(f"fixcheck: cannot read a file: {exc}", file=sys.stderr)
        return 2
    try:
        chosen = choose_files(files)  # files that lack a part are said before any connection
        server_cert = None if args.offline else server_certificate(chosen, endpoint, args.timeout)
        generated = config_for_files(
            chosen,
            endpoint,
            accept_port=args.accept_port,
            service=args.name,
            output=args.log_file,
            server_cert=server_cert,
            server_cert_read=not args.offline,
        )
    except StunnelConfigError as exc:
        print(f"fixcheck: {exc}", file=sys.stderr)
        return 1
    if args.output:
        named = [generated.cert, generated.cafile, *([generated.key] if generated.key else [])]
        inputs = [*paths, *(Path(n) for n in named)]
        problem = write_output(Path(args.output), generated.text, force=args.force, inputs=inputs)
        if problem:
            print(f"fixcheck: {problem}", file=sys.stderr)
            return 2
        print(f"wrote {args.output}: start it with `stunnel {shlex.quote(args.output)}`", file=sys.stderr)
    else:
        sys.stdout.write(generated.text)
    for note in generated.notes:
        print(f"note: {note}", file=sys.stderr)
    # With -o the command names the file just written; without it, where to save stdout first.
    conf = shlex.quote(args.output) if args.output else "itbit.conf"
    save = "" if args.output else f"Save the configuration above as {conf}. "
    print(
        f"{save}Point the FIX client at 127.0.0.1:{args.accept_port}. Check it with: fixcheck diagnose "
        f"--stunnel {conf} --connect {endpoint} {' '.join(shlex.quote(p) for p in args.paths)}",
        file=sys.stderr,
    )
    return 0


def _port(text: str) -> int:
    """argparse type for --accept-port: a bad port is a usage error (exit 2), said in one line."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is out of range (1-65535)")
    return port


def _holds_key_material(path: Path) -> bool:
    """True when the file holds PEM blocks (certificate, key, CSR) or binary data (DER, PKCS#12 may be
    keys): never replaced by a configuration, which is text."""
    try:
        with path.open("rb") as f:
            head = f.read(MAX_FILE_BYTES)
    except OSError:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return "-----BEGIN " in text or "\x00" in text


def write_output(target: Path, text: str, *, force: bool, inputs: Sequence[Path]) -> str | None:
    """Write `text` to `target` atomically (temp file in the same folder, then rename).

    Returns None when written, else one line saying what is wrong and what to do. An
    existing file is replaced only with `force`, and never one of `inputs` or a file
    holding a certificate or key: `-o fix.itbit.pem` would otherwise lose the user's key.
    """
    quoted = shlex.quote(str(target))
    folder = target.parent
    if target.is_dir():
        return f"-o {quoted}: is a folder; give a file name in it, e.g. -o {shlex.quote(str(target / 'itbit.conf'))}"
    if not folder.is_dir():
        return f"-o {quoted}: the folder {shlex.quote(str(folder))} does not exist; create it (mkdir -p) or choose another -o"
    if target.exists() or target.is_symlink():
        if target.resolve() in {p.resolve() for p in inputs}:
            return f"-o {quoted}: is one of the input files; write the configuration elsewhere, e.g. -o itbit.conf"
        if _holds_key_material(target):
            return (
                f"-o {quoted}: holds a certificate or key (or binary data) and is never replaced (not even with "
                "--force); choose another -o"
            )
        if not force:
            return f"-o {quoted}: exists; add --force to replace it, or choose another -o"
    return _atomic_write(target, text)


def _atomic_write(target: Path, text: str) -> str | None:
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes it 0600; a configuration holds no secret, so the usual umask-based mode.
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return f"-o {shlex.quote(str(target))}: cannot write it ({exc.strerror or type(exc).__name__})"
    return None

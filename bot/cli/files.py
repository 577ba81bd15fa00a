"""The user's files, read on this machine for a diagnosis: paths and folders, bytes, modes.

Private keys are read into memory only; what reaches the output are the public facts the
engine draws from them. A path that cannot be read is a usage error (`InputError`, exit 2)
said in one actionable line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bot.engine import MAX_FILE_BYTES

MAX_FOLDER_FILES = 64


class InputError(Exception):
    """A path the user named cannot be read; the message is one actionable line."""


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

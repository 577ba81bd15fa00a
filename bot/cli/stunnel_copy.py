"""The copy of the user's stunnel configuration that `--through-stunnel` runs (step 1 of its run).

`prepare_config` keeps the global section and one service, the one that connects to the
endpoint under test (else the first with an `accept`), and changes only what a test run
needs: `foreground = yes`, `pid =` (none), `debug = info`, `syslog = no`; the service's
`accept` moved to a free port on 127.0.0.1 (the user's own stunnel may hold the real one);
relative paths made absolute from the configuration's folder; `output`, `setuid`,
`setgid` and `chroot` dropped. `cert`, `key` and `CAfile` keep pointing at the user's
files: no key is copied, and a configuration holding pasted PEM data is not copied at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bot.engine.steps.stunnel import Option, Section, StunnelConfig, parse

LOCAL = "127.0.0.1"
# Options of the user's configuration that the test run replaces or must not use.
_DROPPED = {"foreground", "pid", "output", "syslog", "debug", "setuid", "setgid", "chroot"}
_PATH_OPTIONS = {"cert", "key", "cafile", "capath", "crlfile", "crlpath", "include", "psksecrets"}
_HEADER = "foreground = yes\npid =\ndebug = info\nsyslog = no\n"


@dataclass(frozen=True)
class Prepared:
    """The test copy (`text`), which service it runs and where that connects, and what was changed.

    `error` says why there is no copy (then `text` is empty and nothing is run).
    """

    text: str
    service: str | None
    original_accept: str | None
    connect: str | None
    changes: tuple[str, ...]
    error: str | None = None


def _choose_service(services: list[Section], effective_connect: dict[str, str], endpoint: str | None) -> Section | None:
    """The service with an `accept` that connects to `endpoint`; without one, the first with an `accept`."""
    candidates = [s for s in services if s.get("accept") is not None]
    if endpoint:
        wanted = endpoint.strip().lower()
        for svc in candidates:
            if effective_connect.get(svc.name or "", "").lower() == wanted:
                return svc
    return candidates[0] if candidates else None


def prepare_config(text: str, config_dir: Path, port: int, endpoint: str | None = None) -> Prepared:
    """The test copy of the user's configuration (see the module docstring)."""
    config = parse(text)
    if any(p.kind == "pem_data" for p in config.problems):
        return Prepared(
            "", None, None, None, (),
            "the configuration holds pasted certificate or key data, which stunnel cannot read there; fixcheck "
            "does not copy it anywhere (step 7 shows the line)",
        )
    connects: dict[str, str] = {}
    for svc in config.services:
        found = config.effective_all(svc, "connect")
        if found:
            connects[svc.name or ""] = found[0].value
    chosen = _choose_service(config.services, connects, endpoint)
    if chosen is None:
        return Prepared("", None, None, None, (), "the configuration has no [service] with an 'accept' line to test")
    copy = _copy_lines(text, config, chosen, _TestCopy(config_dir, port))
    left_out = [f"[{s.name}]" for s in config.services if s is not chosen]
    return Prepared(
        _HEADER + "\n".join(copy.lines) + "\n",
        chosen.name,
        copy.original_accept,
        connects.get(chosen.name or ""),
        copy.changes(left_out),
    )


@dataclass
class _TestCopy:
    """The test copy's lines, written one at a time, and what was changed on the way."""

    config_dir: Path
    port: int
    lines: list[str] = field(default_factory=list)
    dropped: set[str] = field(default_factory=set)
    absolute: list[str] = field(default_factory=list)
    original_accept: str | None = None
    accept_done: bool = False

    def option(self, opt: Option, raw: str, *, in_chosen: bool) -> None:
        """Copy one option line: dropped, the chosen service's first `accept` moved, a relative path made absolute."""
        if opt.key in _DROPPED:
            self.dropped.add(opt.canonical)
            return
        if opt.key == "accept" and in_chosen:
            if not self.accept_done:  # a second `accept` would listen on the user's port too
                self.original_accept = opt.value
                self.lines.append(f"accept = {LOCAL}:{self.port}")
                self.accept_done = True
            return
        if opt.key in _PATH_OPTIONS and opt.value and not os.path.isabs(opt.value):
            # stunnel runs in the temporary folder: relative paths must still reach the user's files.
            self.absolute.append(opt.canonical)
            self.lines.append(f"{opt.name} = {(self.config_dir / opt.value).absolute()}")
            return
        self.lines.append(raw)

    def changes(self, left_out: list[str]) -> tuple[str, ...]:
        """What the test copy does differently from the user's configuration, for step 7's evidence."""
        changes = ["foreground = yes", "pid = (none)", "debug = info", "syslog = no"]
        changes.append(f"accept {self.original_accept} -> {LOCAL}:{self.port}")
        if self.dropped:
            changes.append("left out: " + ", ".join(sorted(self.dropped)))
        if self.absolute:
            changes.append("relative paths made absolute: " + ", ".join(self.absolute))
        if left_out:
            changes.append("other services left out: " + ", ".join(left_out))
        return tuple(changes)


def _copy_lines(text: str, config: StunnelConfig, chosen: Section, copy: _TestCopy) -> _TestCopy:
    """Copy the global section and the chosen service line by line; other services are left out."""
    by_line: dict[int, Option] = {}
    headers: dict[int, Section] = {}
    for section in (config.globals, *config.services):
        if section.name is not None:
            headers[section.line] = section
        for option in section.options:
            by_line[option.line] = option
    current: Section = config.globals
    for number, raw in enumerate(text.splitlines(), start=1):
        if number in headers:
            current = headers[number]
        if current is not chosen and current is not config.globals:
            continue
        opt = by_line.get(number)
        if opt is None:
            copy.lines.append(raw)
        else:
            copy.option(opt, raw, in_chosen=current is chosen)
    return copy

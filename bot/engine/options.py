"""What `diagnose()` may be told besides the files: one typed value, `Options`.

A front end builds one `Options` and passes it along with the files:

    >>> report = diagnose(files, Options(endpoint="fix.example.com:4490", timeout=5.0))

The keyword form `diagnose(files, endpoint=..., timeout=...)` is shorthand for the same
thing; `OptionChanges` types those keywords, so a type checker rejects one that is not an
option. Keywords given with an `Options` value replace its fields.

Every option is optional: files alone give the offline diagnosis of steps 1, 2 and 5-8.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TypedDict

from bot.engine.net.fix import FixLogon
from bot.engine.tunnel import TunnelRun


@dataclasses.dataclass(frozen=True, kw_only=True)
class Options:
    """How to diagnose: the endpoint to test, what the front end saw, the clock, the time budget."""

    endpoint: str | None = None
    """`"HOST:PORT"` of the FIX server; steps 3 and 4 connect to it (the only network access)."""

    stunnel: tuple[str, bytes] | None = None
    """A stunnel configuration file as `(name, bytes)`, checked by step 7."""

    timeout: float = 10.0
    """Seconds that steps 3 and 4 (and the answer to a `logon`) may wait on the network."""

    now: dt.datetime | None = None
    """The clock the certificates' dates are judged by (tests fix it); None: the current time."""

    stunnel_unreadable: Mapping[str, str] | None = None
    """Paths named in the stunnel configuration (`cert`, `key`, `CAfile`) that the front end
    tried to read and could not, mapped to why ("not found"). The files it could read are
    passed with the other files, named by the path as written in the configuration."""

    logon: FixLogon | None = None
    """Beyond the guide: after a successful handshake with `endpoint`, send this FIX Logon on
    the same connection and end with a Logout. Step 4 reports the answer, awaited for up to
    `timeout` seconds."""

    tunnel_run: TunnelRun | None = None
    """What the front end's run through the user's own stunnel showed (steps 7 and 4). The
    engine itself starts no process: the CLI does the run and hands over the result."""

    file_modes: Mapping[str, int] | None = None
    """Names of the files mapped to the `st_mode` the front end saw when it read them; step 5
    warns about a private key other users can read. The engine never looks at the filesystem."""

    addresses: Sequence[str] | None = None
    """The IP addresses `endpoint` resolved to when the front end vetted it. Steps 3 and 4 then
    connect to exactly these (no second DNS lookup), while SNI and the certificate-name check
    still use the endpoint's name."""

    openssl_cli_version: str | None = None
    """What the system's `openssl version` printed, if the front end asked; named beside the
    engine's own OpenSSL wherever a verdict is OpenSSL's."""


class OptionChanges(TypedDict, total=False):
    """`Options`' fields as keywords of `diagnose()`: the same names, the same types (a test holds them equal)."""

    endpoint: str | None
    stunnel: tuple[str, bytes] | None
    timeout: float
    now: dt.datetime | None
    stunnel_unreadable: Mapping[str, str] | None
    logon: FixLogon | None
    tunnel_run: TunnelRun | None
    file_modes: Mapping[str, int] | None
    addresses: Sequence[str] | None
    openssl_cli_version: str | None


OPTION_NAMES = tuple(field.name for field in dataclasses.fields(Options))


def with_changes(options: Options | None, changes: OptionChanges) -> Options:
    """`options` (default: `Options()`) with the keywords of a `diagnose()` call applied.

    Checked at run time too, for callers no type checker looks at: a value that is not an
    `Options`, or a keyword that is not an option, raises TypeError naming the options.
    """
    if options is None:
        options = Options()
    elif not isinstance(options, Options):
        raise TypeError(f"diagnose() takes its options as an Options value, not {type(options).__name__}")
    unknown = sorted(set(changes) - set(OPTION_NAMES))
    if "options" in unknown:
        raise TypeError("diagnose() takes the Options value as its second argument: diagnose(files, Options(...))")
    if unknown:
        raise TypeError(
            f"diagnose() got an unexpected keyword argument {', '.join(map(repr, unknown))}; "
            f"the options are: {', '.join(OPTION_NAMES)}"
        )
    return dataclasses.replace(options, **changes) if changes else options

"""What a run through the user's own stunnel showed: data the front end hands to `diagnose()`.

The engine starts no process. A front end that can run stunnel (the CLI's
`--through-stunnel`, in `bot/cli/through_stunnel.py`) starts the real binary with a copy of
the user's configuration, connects through it as the FIX client would, optionally logs on,
stops it, and passes a `TunnelRun`; step 7 turns it into findings (did stunnel accept the
configuration, what its log said, did bytes cross) and step 4 reports the Logon.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.engine.net.fix import FixResult
from bot.engine.report import Finding


@dataclass(frozen=True)
class TunnelRun:
    """One run of stunnel with the user's configuration. Holds no key material."""

    config_name: str  # the configuration file's name, as the user knows it
    started: bool  # stunnel accepted the configuration and listened on `accept`
    log: str = ""  # stunnel's own output (debug = info) for the whole run
    service: str | None = None  # the [service] that was run
    accept: str | None = None  # the local address used instead of the configuration's accept
    original_accept: str | None = None
    connect: str | None = None  # the configuration's connect (where stunnel went)
    exit_code: int | None = None  # set when stunnel exited by itself (it refused to start)
    connected: bool = False  # the plain TCP connection to `accept` succeeded
    bytes_sent: int = 0  # bytes the FIX client side sent into the tunnel
    bytes_received: int = 0  # and received back through it
    fix: FixResult | None = None  # the Logon, when one was asked for
    changes: tuple[str, ...] = field(default_factory=tuple)  # what the copy changed, in words
    seconds: float = 0.0
    error: str | None = None  # the run itself failed (e.g. stunnel did not listen in time)
    stunnel_version: str | None = None


@dataclass(frozen=True)
class TunnelLogReading:
    """What stunnel's log of a `TunnelRun` says, as step 7's log rules read it.

    `diagnose()` asks step 7 for it once, before the steps run, and hands it to step 4 in
    the context: step 4 reports the handshake stunnel made without reading stunnel's log
    itself (a step never imports another step).
    """

    failures: tuple[Finding, ...] = ()  # the log's failing findings, in log order
    tls_connected: bool = False  # the log shows a completed handshake ('TLS connected')

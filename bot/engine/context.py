"""What every step receives: the sorted inputs, the endpoint, the clock, earlier results."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from bot.engine.inputs import InputFile
from bot.engine.net.fix import FixLogon
from bot.engine.report import StepResult
from bot.engine.roles import Onboarding
from bot.engine.tunnel import TunnelLogReading, TunnelRun

_HOST_PORT = re.compile(r"^\[?(?P<host>[A-Za-z0-9.\-_:]+?)\]?:(?P<port>\d{1,5})$")


@dataclass(frozen=True)
class Endpoint:
    """A `HOST:PORT` to probe (`[v6addr]:port` for IPv6 literals)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class EndpointError(ValueError):
    """The text is not a usable HOST:PORT; the message says what to type instead."""


def parse_endpoint(text: str) -> Endpoint:
    """Parse `HOST:PORT`; raise `EndpointError` with an actionable message otherwise."""
    value = text.strip()
    for scheme in ("tcp://", "ssl://", "tls://"):
        if value.lower().startswith(scheme):
            value = value[len(scheme) :]
    m = _HOST_PORT.match(value)
    if not m:
        raise EndpointError(
            f"'{text.strip()[:100]}' is not HOST:PORT. Give the FIX server address and port from "
            "onboarding, e.g. sandbox-fix.itbit.com:4490"
        )
    port = int(m.group("port"))
    if not 1 <= port <= 65535:
        raise EndpointError(f"port {port} is out of range: a TCP port is 1-65535")
    return Endpoint(m.group("host"), port)


@dataclass
class Context:
    """The inputs of one diagnosis, shared read-only by the eight steps.

    `results` holds the steps already run, so that a later step can point at the
    root cause instead of repeating it (step 4 is skipped when step 3 failed).
    """

    onboarding: Onboarding
    endpoint: Endpoint | None = None
    endpoint_error: str | None = None
    # The endpoint's addresses as the front end resolved and vetted them (the Slack bot's
    # allow-list): the probe connects to exactly these and never resolves the name again,
    # so a second DNS answer cannot point it elsewhere. None: the probe resolves the name.
    addresses: tuple[str, ...] | None = None
    stunnel: InputFile | None = None
    # Paths named in the stunnel configuration that the front end tried and failed to
    # read (path -> reason); None when it could not look (the Slack bot).
    stunnel_unreadable: dict[str, str] | None = None
    unread_files: list[str] = field(default_factory=list)  # over the input limits: not read
    timeout: float = 10.0
    # The FIX Logon to send after a successful handshake (step 4), and the front end's
    # run through the user's stunnel (steps 7 and 4); None: not asked for.
    logon: FixLogon | None = None
    tunnel_run: TunnelRun | None = None
    # Step 7's reading of `tunnel_run`'s log, for step 4 (set by `diagnose()` with `tunnel_run`).
    tunnel_log: TunnelLogReading | None = None
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    results: dict[int, StepResult] = field(default_factory=dict)

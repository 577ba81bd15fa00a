"""Step 3: can a TCP connection reach the FIX server (the guide's telnet check)?"""

from __future__ import annotations

from bot.engine.context import Context
from bot.engine.report import Finding
from bot.engine.steps._common import skip

NUMBER = 3
TITLE = "TCP connection to the FIX server"


def run(ctx: Context) -> list[Finding]:
    if ctx.endpoint is None:
        return [
            skip(
                "tcp.no_endpoint",
                ctx.endpoint_error
                or "No endpoint was given: add --connect HOST:PORT (the FIX server address and port from onboarding) to check connectivity.",
            )
        ]
    return [
        skip(
            "tcp.not_available",
            f"Connectivity checks are not available in this version; {ctx.endpoint} was not contacted.",
        )
    ]

"""Step 4: does the mTLS handshake with the FIX server succeed (the guide's s_client check)?"""

from __future__ import annotations

from bot.engine.context import Context
from bot.engine.report import Finding
from bot.engine.steps._common import skip

NUMBER = 4
TITLE = "mTLS handshake with the FIX server"


def run(ctx: Context) -> list[Finding]:
    if ctx.endpoint is None:
        return [skip("tls.no_endpoint", "No endpoint was given: add --connect HOST:PORT to test the TLS handshake.")]
    return [skip("tls.not_available", "The TLS handshake check is not available in this version.")]

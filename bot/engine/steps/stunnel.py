"""Step 7: is the stunnel configuration right for these files and this endpoint?"""

from __future__ import annotations

from bot.engine.context import Context
from bot.engine.report import Finding
from bot.engine.steps._common import skip

NUMBER = 7
TITLE = "stunnel configuration"


def run(ctx: Context) -> list[Finding]:
    if ctx.stunnel is None and ctx.onboarding.stunnel_config is None:
        return [
            skip(
                "stunnel.no_config",
                "No stunnel configuration was given: add --stunnel FILE if the FIX client connects through stunnel.",
            )
        ]
    return [skip("stunnel.not_available", "stunnel configuration checks are not available in this version.")]

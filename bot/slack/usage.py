"""What the bot says when asked for help (or given nothing to do)."""

from __future__ import annotations

from bot.slack.render import escape
from bot.slack.settings import Settings


def usage(settings: Settings) -> str:
    allowed = ", ".join(f"`{escape(p)}`" for p in settings.allowed_endpoints) or "none (probing is disabled)"
    return (
        "*fixcheck* finds out why a FIX client cannot connect over mutual TLS, following the exchange's "
        "troubleshooting guide step by step.\n"
        "• *Upload your onboarding files* (`fix.itbit.pem`, `ca.crt`, `itbit-ca.pem`, a stunnel config …) in a "
        "channel I am in or in a DM: I answer in the thread with each step's finding and the fix. Put the FIX "
        "server's `HOST:PORT` in the same message to test the connection with those files too.\n"
        "• *Paste certificates* (PEM blocks) in a message: same thing.\n"
        "• `/fixcheck HOST:PORT` (or `/fixcheck check HOST:PORT`): test the server without client files: TCP, "
        "its certificate chain, whether it asks for a client certificate and which CA names it accepts.\n"
        "• `/fixcheck stunnel`: paste a stunnel configuration and have it checked (step 7).\n"
        "• `/fixcheck watch`, `/fixcheck watches`, `/fixcheck unwatch ID`: remind this channel before a diagnosed "
        "client certificate expires (only its public facts are stored).\n"
        "• `/fixcheck help`: this text.\n"
        f"Endpoints I may probe: {allowed}.\n"
        ":lock: Do not share private keys (`host.key`, `ca.key`, the key inside `fix.itbit.pem`) in Slack. "
        "Run `fixcheck diagnose` on your own machine for a full check with keys."
    )

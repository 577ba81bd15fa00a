"""`/fixcheck`: help, `HOST:PORT` / `check HOST:PORT`, `stunnel`.

Slack waits at most 3 seconds for the acknowledgement and slash commands cannot post in
threads: `ack()` comes first, always, and the report follows through the response_url.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.slack import endpoints
from bot.slack.listeners.commands.watches import WATCH_VERBS, handle_watch_command
from bot.slack.listeners.views.stunnel import stunnel_modal
from bot.slack.logs import redact
from bot.slack.parsing import plain_text
from bot.slack.render import escape, render_text
from bot.slack.services import services_of
from bot.slack.usage import usage
from bot.slack.work import Job, response_url_reply, submit, submit_call

log = logging.getLogger(__name__)

HELP_WORDS = ("", "help", "usage", "?", "-h", "--help")


def handle_fixcheck(ack: Ack, command: dict[str, Any], context: Any, client: WebClient) -> None:
    services = services_of(context)
    text = plain_text(str(command.get("text") or "")).strip()
    word, _, rest = text.partition(" ")
    verb = word.lower()

    if verb in HELP_WORDS:
        message = render_text(usage(services.settings))
        ack(text=message.text, blocks=message.blocks)
        return

    if verb == "stunnel":
        ack()
        metadata = json.dumps({"response_url": command.get("response_url"), "channel": command.get("channel_id")})
        trigger_id = str(command.get("trigger_id"))
        reply = response_url_reply(services, str(command.get("response_url") or ""))
        # views.open must follow within 3 s of the trigger: first in line in the pool, never in the ack path.
        submit_call(services, reply, lambda: client.views_open(trigger_id=trigger_id, view=stunnel_modal(metadata)))
        return

    if verb in WATCH_VERBS:  # expiry watches of this channel (bot.watches)
        handle_watch_command(ack, command, services, verb, rest)
        return

    if verb == "check":
        text = rest.strip()
    target = endpoints.parse_target(text)
    if target is None and ("-----BEGIN" in text or "PRIVATE KEY" in text.upper()):
        # Never echo it: the first 80 characters of an EC key are most of its private scalar.
        message = render_text(
            ":lock: That looks like a certificate or key, which `/fixcheck` does not read (and private keys do "
            "not belong in Slack). Give the FIX server as `HOST:PORT`; upload certificates to a channel I am in, "
            "or run `fixcheck diagnose` on your own machine for a check with keys."
        )
        ack(text=message.text, blocks=message.blocks)
        return
    if target is None:
        message = render_text(
            f"`{escape(redact(text)[:80])}` is not something I understand. Give the FIX server as `HOST:PORT`, "
            "e.g. `/fixcheck sandbox-fix.itbit.com:4490`, or try `/fixcheck help`."
        )
        ack(text=message.text, blocks=message.blocks)
        return
    try:
        endpoints.allowed(target, services.settings.allowed_endpoints)
    except endpoints.Refused as exc:
        message = render_text(f":no_entry: {escape(str(exc))}")
        ack(text=message.text, blocks=message.blocks)
        return

    ack(text=f"Checking {target} (TCP and TLS, up to {services.settings.probe_timeout:g} s)…")
    response_url = str(command.get("response_url") or "")
    submit(
        services,
        Job(
            user=str(command.get("user_id") or "unknown"),
            reply=response_url_reply(services, response_url),
            target=target,
            title=f"fixcheck {target}",
        ),
        client=client,
    )

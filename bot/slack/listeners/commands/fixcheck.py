"""`/fixcheck`: help, `HOST:PORT` / `check HOST:PORT`, `stunnel`.

Slack waits at most 3 seconds for the acknowledgement and slash commands cannot post in
threads: `ack()` comes first, always, and the report follows through the response_url.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.slack import endpoints
from bot.slack.listeners.commands.watches import WATCH_VERBS, handle_watch_command
from bot.slack.listeners.views.stunnel import stunnel_modal
from bot.slack.logs import redact
from bot.slack.parsing import plain_text
from bot.slack.render import escape, render_text
from bot.slack.services import Services, services_of
from bot.slack.usage import usage
from bot.slack.work import Job, response_url_reply, submit, submit_call

log = logging.getLogger(__name__)

HELP_WORDS = ("", "help", "usage", "?", "-h", "--help")


def handle_fixcheck(ack: Ack, command: dict[str, Any], context: Any, client: WebClient) -> None:
    """Answer `/fixcheck TEXT` by its first word: help, `stunnel`, a watch verb, else an endpoint to check."""
    services = services_of(context)
    text = plain_text(str(command.get("text") or "")).strip()
    word, _, rest = text.partition(" ")
    verb = word.lower()
    if verb in HELP_WORDS:
        _answer(ack, usage(services.settings))
    elif verb == "stunnel":
        _open_stunnel_modal(ack, command, services, client)
    elif verb in WATCH_VERBS:  # expiry watches of this channel (bot.watches)
        handle_watch_command(ack, command, services, verb, rest)
    else:
        _check(ack, command, services, client, rest.strip() if verb == "check" else text)


def _answer(ack: Ack, text: str) -> None:
    """Acknowledge with an answer in full (help, a refusal): there is nothing to do after it."""
    message = render_text(text)
    ack(text=message.text, blocks=message.blocks)


def _open_stunnel_modal(ack: Ack, command: dict[str, Any], services: Services, client: WebClient) -> None:
    """`/fixcheck stunnel`: the modal to paste a stunnel configuration into (bot.slack.listeners.views.stunnel)."""
    ack()
    metadata = json.dumps({"response_url": command.get("response_url"), "channel": command.get("channel_id")})
    trigger_id = str(command.get("trigger_id"))
    reply = response_url_reply(services, str(command.get("response_url") or ""))
    # views.open must follow within 3 s of the trigger: first in line in the pool, never in the ack path.
    submit_call(services, reply, lambda: client.views_open(trigger_id=trigger_id, view=stunnel_modal(metadata)))


def _check(ack: Ack, command: dict[str, Any], services: Services, client: WebClient, text: str) -> None:
    """`/fixcheck HOST:PORT`: refused at once when it is not an allowed endpoint, else probed in the pool."""
    target = _target(text, services.settings.allowed_endpoints)
    if isinstance(target, str):
        _answer(ack, target)
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


def _target(text: str, allowed: Sequence[str]) -> endpoints.Target | str:
    """The endpoint `text` names, if it may be probed; otherwise the answer that says why not."""
    target = endpoints.parse_target(text)
    if target is None and ("-----BEGIN" in text or "PRIVATE KEY" in text.upper()):
        # Never echo it: the first 80 characters of an EC key are most of its private scalar.
        return (
            ":lock: That looks like a certificate or key, which `/fixcheck` does not read (and private keys do "
            "not belong in Slack). Give the FIX server as `HOST:PORT`; upload certificates to a channel I am in, "
            "or run `fixcheck diagnose` on your own machine for a check with keys."
        )
    if target is None:
        return (
            f"`{escape(redact(text)[:80])}` is not something I understand. Give the FIX server as `HOST:PORT`, "
            "e.g. `/fixcheck sandbox-fix.itbit.com:4490`, or try `/fixcheck help`."
        )
    try:
        endpoints.allowed(target, allowed)
    except endpoints.Refused as exc:
        return f":no_entry: {escape(str(exc))}"
    return target

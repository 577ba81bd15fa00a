"""The watch buttons: "Remind this channel before it expires", "Replace watch #N", "Paste a certificate".

Slack gives a button 3 seconds: `ack()` comes first and the database work follows in the
worker pool; the confirmation is ephemeral, to the person who clicked.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.slack.listeners.views.watch import watch_modal
from bot.slack.render import Message, render_text
from bot.slack.services import Services, services_of
from bot.slack.work import Reply, response_url_reply, submit_call

log = logging.getLogger(__name__)

NOT_ENABLED = "Expiry watches are not enabled on this bot (its operator sets FIXCHECK_DB or FIXCHECK_DATABASE_URL)."


def where(body: dict[str, Any]) -> tuple[str, str, str]:
    """(team, channel, user) of an interaction; empty strings when Slack left one out."""

    def ident(key: str) -> str:
        value = body.get(key)
        return str(value.get("id") or "") if isinstance(value, dict) else ""

    return ident("team"), ident("channel"), ident("user")


def ephemeral_reply(services: Services, client: WebClient, body: dict[str, Any]) -> Reply:
    """Answer only the person who clicked: through the response_url, or chat.postEphemeral without one."""
    response_url = body.get("response_url")
    if isinstance(response_url, str) and services.response_url_ok(response_url):
        return response_url_reply(services, response_url)
    _, channel, user = where(body)

    def post(message: Message) -> None:
        client.chat_postEphemeral(channel=channel, user=user, text=message.text, blocks=message.blocks)

    return post


def handle_watch_button(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], context: Any, client: WebClient
) -> None:
    ack()
    services = services_of(context)
    team, channel, user = where(body)
    reply = ephemeral_reply(services, client, body)
    watches = services.watches
    value = str(action.get("value") or "")

    def work() -> None:
        if watches is None or not channel:
            reply(render_text(NOT_ENABLED if watches is None else "A watch needs a channel to remind."))
            return
        reply(Message(*watches.add(team, channel, user, value)))

    submit_call(services, reply, work, user=user or "unknown")


def handle_paste_button(ack: Ack, body: dict[str, Any], context: Any, client: WebClient) -> None:
    ack()
    services = services_of(context)
    team, channel, _ = where(body)
    reply = ephemeral_reply(services, client, body)
    trigger_id = str(body.get("trigger_id") or "")
    metadata = json.dumps({"response_url": body.get("response_url"), "channel": channel, "team": team})
    watches = services.watches

    def work() -> None:
        if watches is None:
            reply(render_text(NOT_ENABLED))
            return
        client.views_open(trigger_id=trigger_id, view=watch_modal(metadata))

    # views.open must follow within 3 s of the trigger: first in line in the pool, never in the ack path.
    submit_call(services, reply, work)

"""`/fixcheck watch`, `/fixcheck watches [PAGE]`, `/fixcheck unwatch ID`: expiry watches of this channel.

Acknowledged at once; the database is read in the worker pool and the answer, ephemeral,
goes through the response_url (slash commands carry no thread).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from bot.slack.listeners.actions.watch import NOT_ENABLED
from bot.slack.render import Message, render_text
from bot.slack.services import Services
from bot.slack.work import response_url_reply, submit_call

WATCH_VERBS = ("watch", "watches", "unwatch")


def handle_watch_command(ack: Ack, command: dict[str, Any], services: Services, verb: str, rest: str) -> None:
    watches = services.watches
    if watches is None:
        message = render_text(NOT_ENABLED)
        ack(text=message.text, blocks=message.blocks)
        return
    ack()
    channel = str(command.get("channel_id") or "")
    reply = response_url_reply(services, str(command.get("response_url") or ""))

    def work() -> None:
        if verb == "watch":
            reply(Message(*watches.choices(channel)))
        elif verb == "watches":
            reply(Message(*watches.listing(channel, rest.strip())))
        else:
            reply(Message(*watches.unwatch(channel, rest)))

    submit_call(services, reply, work, user=str(command.get("user_id") or "unknown"))

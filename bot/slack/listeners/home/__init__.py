"""The App Home tab: the expiry watches the person looking at it added, in every channel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.render import Message
from bot.slack.services import services_of
from bot.slack.work import submit_call

log = logging.getLogger(__name__)


def handle_home_opened(event: dict[str, Any], context: Any, client: WebClient) -> None:
    services = services_of(context)
    user = event.get("user")
    if event.get("tab") != "home" or not isinstance(user, str) or not user or services.watches is None:
        return
    watches = services.watches

    def publish() -> None:
        client.views_publish(user_id=user, view=watches.home(user))

    def nowhere(_: Message) -> None:
        """A Home tab has no one to reply to: a failure is logged (by run_safely) and that is all."""

    submit_call(services, nowhere, publish, user=user)


def register(app: App) -> None:
    app.event("app_home_opened")(handle_home_opened)

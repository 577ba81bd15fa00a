"""Events: messages with uploaded files, pasted PEM blocks or a HOST:PORT."""

from __future__ import annotations

import re

from slack_bolt import App

from bot.slack.listeners.events.messages import handle_message

ANY_EVENT = re.compile(r".")


def ignore_event() -> None:
    """Any other event type: acknowledged (Bolt answers unmatched events 404, which Slack retries)."""
    return None


def register(app: App) -> None:
    app.event("message")(handle_message)
    app.event(ANY_EVENT)(ignore_event)  # after `message`: the first matching listener wins

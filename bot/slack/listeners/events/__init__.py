"""Events: messages with uploaded files, pasted PEM blocks or a HOST:PORT."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners.events.messages import handle_message


def register(app: App) -> None:
    app.event("message")(handle_message)

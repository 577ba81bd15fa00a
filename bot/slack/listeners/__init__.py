"""Listeners by kind; each package registers its own on the app."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners import actions, commands, events, home, views


def register_listeners(app: App) -> None:
    commands.register(app)
    home.register(app)  # before `events`, whose catch-all takes any event not claimed earlier
    events.register(app)
    actions.register(app)  # before `views`, whose catch-alls acknowledge any action or view not claimed earlier
    views.register(app)

"""Slash commands: `/fixcheck`."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners.commands.fixcheck import handle_fixcheck


def register(app: App) -> None:
    app.command("/fixcheck")(handle_fixcheck)

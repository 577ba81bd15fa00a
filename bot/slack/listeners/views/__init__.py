"""Views: the stunnel configuration modal."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners.views.stunnel import STUNNEL_CALLBACK_ID, handle_stunnel_submission


def register(app: App) -> None:
    app.view(STUNNEL_CALLBACK_ID)(handle_stunnel_submission)

"""Views: the stunnel configuration modal."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners.views.stunnel import STUNNEL_CALLBACK_ID, handle_stunnel_submission
from bot.slack.listeners.views.watch import WATCH_CALLBACK_ID, handle_watch_submission


def register(app: App) -> None:
    app.view(STUNNEL_CALLBACK_ID)(handle_stunnel_submission)
    app.view(WATCH_CALLBACK_ID)(handle_watch_submission)

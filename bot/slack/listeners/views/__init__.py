"""Views: the stunnel configuration modal; every other view payload is acknowledged."""

from __future__ import annotations

import re

from slack_bolt import Ack, App

from bot.slack.listeners.views.stunnel import STUNNEL_CALLBACK_ID, handle_stunnel_submission
from bot.slack.listeners.views.watch import WATCH_CALLBACK_ID, handle_watch_submission

ANY_ID = re.compile(r".*")


def acknowledge(ack: Ack) -> None:
    """A payload fixcheck has nothing to do with (a closed modal, a button): acknowledged.

    Unacknowledged, Bolt answers 404 and Slack shows the user an error.
    """
    ack()


def register(app: App) -> None:
    app.view(STUNNEL_CALLBACK_ID)(handle_stunnel_submission)
    app.view(WATCH_CALLBACK_ID)(handle_watch_submission)
    # After the stunnel modal's listener: the first matching listener wins.
    app.view(ANY_ID)(acknowledge)
    app.view_closed(ANY_ID)(acknowledge)
    app.action(ANY_ID)(acknowledge)

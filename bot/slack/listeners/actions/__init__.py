"""Block Kit buttons (`block_actions`): the expiry-watch buttons."""

from __future__ import annotations

import re

from slack_bolt import App

from bot.slack.listeners.actions.watch import handle_paste_button, handle_watch_button
from bot.watches.messages import PASTE_ACTION, REPLACE_ACTION, WATCH_ACTION


def register(app: App) -> None:
    # The button under a diagnosis, its "replace" form, and the numbered ones of `/fixcheck watch`.
    app.action(re.compile(rf"^({WATCH_ACTION}(_\d+)?|{REPLACE_ACTION})$"))(handle_watch_button)
    app.action(PASTE_ACTION)(handle_paste_button)

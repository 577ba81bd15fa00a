"""fixcheck's Slack front end (Bolt for Python): `create_app(settings)` builds the app.

Run it with `python -m bot` or `fixcheck-bot` (see bot.slack.server).
"""

from bot.slack.app import create_app
from bot.slack.settings import ConfigError, Settings

__all__ = ["ConfigError", "Settings", "create_app"]

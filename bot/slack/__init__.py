"""fixcheck's Slack front end (Bolt for Python): `create_app(settings)` builds the app.

Run it with `python -m bot` or `fixcheck-bot` (see bot.slack.server). Offered here:
`create_app`, `Settings` (read from the environment) and `ConfigError`. Inside:

- `listeners/`: one package a kind of Slack request (commands, events, actions, views,
  home), each registering its own; they acknowledge at once and hand the work on;
- `work`: the work behind a reply (download, `diagnose()`, render), in the worker pool;
- `services`: what the listeners share (settings, pool, rate limits, downloader, watches);
- `parsing`, `endpoints`, `downloads`, `exposure`: what a message says, which endpoints may
  be probed, fetching files, and the key-material scan;
- `render`, `usage`: Block Kit replies; `logs`, `metrics`: redacted logs, Prometheus;
- `server`, `socket_mode`, `signature`, `shapes`, `runtime`, `store`, `reminders`: running
  the bot (HTTP or Socket Mode), request checks, health, Redis, and expiry reminders.
"""

from bot.slack.app import create_app
from bot.slack.settings import ConfigError, Settings

__all__ = ["ConfigError", "Settings", "create_app"]

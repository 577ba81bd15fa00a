"""`python -m bot` starts the Slack bot (see bot.slack.server)."""

from bot.slack.server import main

if __name__ == "__main__":
    raise SystemExit(main())

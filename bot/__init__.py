"""fixcheck: the FIX mTLS troubleshooting guide's eight checks, at once.

- `bot.engine`: the diagnosis (pure, Slack-free): `diagnose(files, Options(...)) -> Report`;
- `bot.cli`: the `fixcheck` command, which runs the engine on the user's own machine;
- `bot.slack`: the Slack bot (`fixcheck-bot`, `python -m bot`);
- `bot.watches`: expiry watches, which the bot keeps;
- `bot.lab`: a local onboarding and mTLS server, for `fixcheck demo` and the tests.

Who may import whom is in README.md ("Architecture") and held by tests/test_layout.py.
"""

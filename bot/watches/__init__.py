"""Expiry watches: the bot warns a channel before a client's FIX certificate expires.

- `facts`: the public facts of a diagnosed certificate (from a Report's step 8).
- `rules`: reminder thresholds and renewal advice, as tables.
- `schema`, `store`: the database (SQLite or PostgreSQL through SQLAlchemy Core).
- `scheduler`: the reminder tick, a pure function of `now`, a store and a poster.
- `messages`: Block Kit for buttons, confirmations, lists and reminders.
- `service`: what the Slack listeners call (`fixcheck expiry` is `bot.cli.expiry`).

Stored per watch: channel and team ids, fingerprints, subject, issuer, not-after dates,
the renewal that applies, who added it and when, which reminders went out. Never a key,
never a file, never message text.
"""

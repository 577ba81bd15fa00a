"""Expiry watches: the bot warns a channel before a client's FIX certificate expires.

Used by the Slack bot (its listeners, `bot.slack.reminders` and the reminder thread),
which hands it a diagnosed Report, a channel and a way to post; it imports no front end.

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

"""Expiry watches in the running bot: the reminder thread, and `fixcheck-bot reminders --now TIME`.

    fixcheck-bot reminders --now 2027-01-01T09:00:00Z   # one scheduler tick at that instant, then exit

The thread ticks every FIXCHECK_REMINDER_INTERVAL seconds (default 300) on the real
clock; the one-shot form drives the same `run_once` from outside (cron, tests).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot.slack import logs
from bot.slack.app import create_web_client
from bot.slack.services import Services
from bot.slack.settings import ConfigError, Settings
from bot.watches.scheduler import Poster, ReminderThread, replica_id, run_once
from bot.watches.service import WatchService
from bot.watches.store import Store, describe_url

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 300.0


def slack_poster(client: WebClient) -> Poster:
    def post(channel: str, text: str, blocks: list[dict[str, Any]]) -> None:
        client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False)

    return post


def start(services: Services, env: Mapping[str, str]) -> ReminderThread | None:
    """Give the bot its watches and start the reminder thread (a database that is down is only logged)."""
    try:
        watches = WatchService.from_env(env)
    except ArgumentError as exc:  # not a database URL, or no driver for it
        log.error("FIXCHECK_DATABASE_URL is not usable (%s): expiry watches are off; diagnoses go on", exc)
        return None
    watches.start()
    services.watches = watches
    raw = env.get("FIXCHECK_REMINDER_INTERVAL", "").strip()
    interval = float(raw) if raw.replace(".", "", 1).isdigit() and 1 <= float(raw) <= 86400 else DEFAULT_INTERVAL
    thread = ReminderThread(watches.store, slack_poster(create_web_client(services.settings)), interval=interval)
    thread.start()
    return thread


def _instant(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time such as 2027-01-01T09:00:00Z") from None
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="fixcheck-bot reminders", description=__doc__)
    parser.add_argument("--now", type=_instant, default=None, metavar="TIME", help="the UTC instant to run at")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(os.environ, posting_only=True)
    except ConfigError as exc:
        print(f"fixcheck-bot reminders: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    now = args.now or dt.datetime.now(dt.UTC)
    store = Store.from_env(os.environ)
    try:
        store.migrate()
        tally = run_once(store, slack_poster(create_web_client(settings)), now, replica_id())
    except SQLAlchemyError as exc:
        print(
            f"fixcheck-bot reminders: the watch database {describe_url(store.url)} is unavailable "
            f"({type(exc).__name__}); nothing was sent. Check FIXCHECK_DB / FIXCHECK_DATABASE_URL.",
            file=sys.stderr,
        )
        return 1
    finally:
        store.close()
    print(
        f"reminders at {now:%Y-%m-%dT%H:%M:%SZ}: sent {tally.sent}, skipped {tally.skipped}, "
        f"ended {tally.ended}, to retry {tally.failed}"
    )
    if tally.auth_error:
        print(
            f"fixcheck-bot reminders: Slack refused the bot token ({tally.auth_error}); nothing more was sent. "
            "Check SLACK_BOT_TOKEN (a current xoxb- token of this app).",
            file=sys.stderr,
        )
    # Cron mails or alerts on a non-zero exit: any post that did not go out is worth one.
    return 1 if tally.failed or tally.auth_error else 0

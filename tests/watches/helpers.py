"""Shared bits of the watch tests: facts without certificates, a Slack poster on the fake Slack, a tick loop."""

from __future__ import annotations

import datetime as dt
import secrets

from slack_sdk import WebClient

from bot.slack.reminders import slack_poster
from bot.watches.facts import CertFacts
from bot.watches.scheduler import Poster, Tally, run_once
from bot.watches.store import Store
from tests.slack.fakeslack import BOT_TOKEN, FakeSlack

T0 = dt.datetime(2027, 1, 1, 9, 0, tzinfo=dt.UTC)


def facts(
    cn: str, not_after: dt.datetime, *, ca_not_after: dt.datetime | None = None, renewal: str = "host"
) -> CertFacts:
    return CertFacts(
        fingerprint=secrets.token_bytes(32).hex(":").upper(),
        subject=f"CN={cn}, O=Client",
        issuer="CN=Client CA",
        not_after=not_after,
        renewal=renewal,
        ca_fingerprint=secrets.token_bytes(32).hex(":").upper(),
        ca_subject="CN=Client CA",
        ca_not_after=ca_not_after or not_after + dt.timedelta(days=500),
    )


def poster(fake: FakeSlack) -> Poster:
    return slack_poster(WebClient(token=BOT_TOKEN, base_url=fake.api_url, timeout=10))


def ticks(store: Store, post: Poster, start: dt.datetime, end: dt.datetime, step: dt.timedelta, owner: str) -> Tally:
    """Run the scheduler at every `step` from `start` to `end` (injected time: no sleeping)."""
    total = Tally()
    now = start
    while now <= end:
        t = run_once(store, post, now, owner)
        total.sent += t.sent
        total.skipped += t.skipped
        total.ended += t.ended
        total.failed += t.failed
        now += step
    return total

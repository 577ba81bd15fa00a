"""Benchmark: a year of reminder-scheduler ticks over many watches, against the bare query any scheduler needs.

On a fresh SQLite file (or `--postgres URL`), with `--watches` watches whose deadlines are
spread over the year, the median wall time of:
  - one year of hourly `run_once` ticks (claim, lease, post to an in-process poster that
    only counts, mark sent), i.e. what the bot's thread does, minus Slack's latency;
  - the baseline: the same number of ticks that only run the one indexed SELECT of due,
    unsent reminders, in the same process on the same database;
and prints the ratio (how much the leases and bookkeeping cost over the bare query).

    python bench/watch_ticks.py [--watches 1000] [--rounds 3] [--postgres postgresql://...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select, update

from bench.timing import median_seconds
from bot.watches.facts import CertFacts
from bot.watches.scheduler import run_once
from bot.watches.schema import reminders, to_db
from bot.watches.store import Store, database_url

T0 = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
HOURS = 365 * 24


def fill(store: Store, count: int) -> None:
    for n in range(count):
        end = T0 + dt.timedelta(days=31 + (n * 330) // count, hours=n % 24)
        fp = secrets.token_bytes(32).hex(":").upper()
        facts = CertFacts(fp, f"CN=client-{n}", "CN=CA", end, "host", None, None, None)
        store.add("T1", f"C{n % 50}", facts, "U1", T0)


def reset(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            update(reminders).values(sent_at=None, outcome=None, lease_owner=None, lease_until=None, attempts=0)
        )


def year_of_ticks(store: Store) -> int:
    sent = [0]

    def post(_channel: str, _text: str, _blocks: list[dict[str, Any]]) -> None:
        sent[0] += 1

    for hour in range(HOURS):
        run_once(store, post, T0 + dt.timedelta(hours=hour), "bench")
    return sent[0]


def year_of_bare_queries(store: Store) -> None:
    for hour in range(HOURS):
        at = to_db(T0 + dt.timedelta(hours=hour))
        with store.engine.connect() as conn:
            conn.execute(
                select(reminders.c.watch_id).where(reminders.c.sent_at.is_(None), reminders.c.due_at <= at).limit(200)
            ).all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--watches", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=None, metavar="URL", help="a PostgreSQL database to use (emptied first)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = {"FIXCHECK_DATABASE_URL": args.postgres} if args.postgres else {"FIXCHECK_DB": f"{folder}/bench.db"}
        store = Store(database_url(env))
        store.migrate()
        fill(store, args.watches)
        reset(store)
        sent = year_of_ticks(store)
        assert sent == args.watches * 5, sent  # every threshold once
        ticks = median_seconds(lambda: (reset(store), year_of_ticks(store)), args.rounds)
        bare = median_seconds(lambda: year_of_bare_queries(store), args.rounds)
        store.close()
    backend = "postgresql" if args.postgres else "sqlite"
    print(f"{backend}: {args.watches} watches, {HOURS} hourly ticks, {sent} reminders")
    print(f"  a year of scheduler ticks: {ticks:.2f} s ({ticks / HOURS * 1e3:.2f} ms a tick)")
    print(f"  a year of bare due-queries: {bare:.2f} s ({bare / HOURS * 1e3:.2f} ms a tick)")
    print(f"  ratio: {ticks / bare:.2f}x")


if __name__ == "__main__":
    main()

"""The reminder scheduler on SQLite and on a real PostgreSQL: right days, each once, across replicas and failures."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert

from bot.watches import messages
from bot.watches.scheduler import LEASE, ReminderThread, run_once
from bot.watches.schema import to_db, watches
from bot.watches.service import DB_DOWN, WatchService
from bot.watches.store import MAX_WATCHES_PER_CHANNEL, Duplicate, Store, TooMany, database_url
from tests.slack.fakeslack import FakeSlack
from tests.watches.helpers import T0, facts, poster, ticks
from tests.watches.pg import Postgres

DAY = dt.timedelta(days=1)


@pytest.fixture()
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


def test_a_year_of_ticks_sends_each_threshold_once_on_its_day(store: Store, fake: FakeSlack) -> None:
    deadline = T0 + dt.timedelta(days=45, hours=3)
    early = store.add("T1", "C_EARLY", facts("early", deadline), "U1", T0)
    # Made when only 10 days are left: the 30- and 14-day reminders are gone by.
    late = store.add("T1", "C_LATE", facts("late", deadline), "U1", deadline - dt.timedelta(days=10))
    post = poster(fake)
    arrivals: dict[str, list[tuple[dt.date, str]]] = {"C_EARLY": [], "C_LATE": []}
    now = T0
    while now <= T0 + dt.timedelta(days=365):  # every 6 hours for a year
        before = len(fake.calls)
        run_once(store, post, now, "replica-a")
        for call in fake.calls[before:]:
            arrivals[call.params["channel"]].append((now.date(), call.all_text()))
        now += dt.timedelta(hours=6)
    due = {d: (deadline.date() - dt.timedelta(days=d)) for d in (30, 14, 7, 1, 0)}
    assert [day for day, _ in arrivals["C_EARLY"]] == [due[d] for d in (30, 14, 7, 1, 0)]
    assert [day for day, _ in arrivals["C_LATE"]] == [due[d] for d in (7, 1, 0)]
    texts = [t for _, t in arrivals["C_EARLY"]]
    assert "30 days left" in texts[0] and "1 day left" in texts[3] and "expires *today*" in texts[4]
    assert all("early" in t and deadline.strftime("%Y-%m-%d") in t for t in texts)
    assert "ca.crt does not change" in texts[0] and "openssl x509 -req" in texts[0]  # host renewal and its commands
    assert [(d, o) for d, o, _ in store.sent(early.id)] == [
        (30, "sent"),
        (14, "sent"),
        (7, "sent"),
        (1, "sent"),
        (0, "sent"),
    ]
    assert [d for d, _, _ in store.sent(late.id)] == [7, 1, 0]


def test_ca_that_expires_first_sets_the_date_and_the_renewal(store: Store, fake: FakeSlack) -> None:
    cert_end, ca_end = T0 + dt.timedelta(days=400), T0 + dt.timedelta(days=20)
    store.add("T1", "C_CA", facts("cafirst", cert_end, ca_not_after=ca_end), "U1", T0)
    ticks(store, poster(fake), T0, T0 + dt.timedelta(days=30), dt.timedelta(hours=12), "r")
    posts = fake.posts_to("C_CA")
    assert len(posts) == 4  # 14, 7, 1, 0 days before the CA's date
    text = posts[0].all_text()
    assert "client CA" in text and ca_end.strftime("%Y-%m-%d") in text
    assert "send the new ca.crt to the exchange" in text and "start at least 14 days" in text


def test_clock_jumps_forward_send_only_the_latest_and_backward_send_nothing_again(
    store: Store, fake: FakeSlack
) -> None:
    deadline = T0 + dt.timedelta(days=60)
    w = store.add("T1", "C_JUMP", facts("jump", deadline), "U1", T0)
    post = poster(fake)
    assert run_once(store, post, deadline - dt.timedelta(days=5), "r").sent == 1  # 30, 14 and 7 are due at once
    assert len(fake.posts_to("C_JUMP")) == 1 and "5 days left" in fake.posts_to("C_JUMP")[0].all_text()
    assert [(d, o) for d, o, _ in store.sent(w.id)][:3] == [(30, "skipped"), (14, "skipped"), (7, "sent")]
    ticks(store, post, T0, deadline - dt.timedelta(days=5), DAY, "r")  # the clock goes back: nothing again
    assert len(fake.posts_to("C_JUMP")) == 1


def test_a_replica_killed_mid_send_does_not_lose_the_reminder(store: Store, fake: FakeSlack) -> None:
    deadline = T0 + dt.timedelta(days=30, hours=5)
    w = store.add("T1", "C_KILL", facts("kill", deadline), "U1", T0 - DAY)
    assert store.claim(T0, "dead-replica", LEASE, 10) == [(w.id, 30)]  # claimed, then the process died
    post = poster(fake)
    assert run_once(store, post, T0 + dt.timedelta(minutes=1), "live").sent == 0  # the lease still holds
    assert run_once(store, post, T0 - dt.timedelta(minutes=2), "live").sent == 0  # also for a clock a bit behind
    assert run_once(store, post, T0 + LEASE + dt.timedelta(minutes=1), "live").sent == 1
    assert run_once(store, post, T0 + LEASE + dt.timedelta(minutes=2), "dead-replica").sent == 0
    assert len(fake.posts_to("C_KILL")) == 1


def test_a_channel_the_bot_cannot_post_to_ends_the_watch(
    store: Store, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    w = store.add("T1", "C_GONE", facts("gone", T0 + dt.timedelta(days=20)), "U1", T0)
    fake.post_errors["C_GONE"] = ["not_in_channel", 99]
    with caplog.at_level(logging.WARNING):
        tally = ticks(store, poster(fake), T0, T0 + dt.timedelta(days=40), DAY, "r")
    assert tally.ended == 1 and tally.sent == 0
    assert len(fake.posts_to("C_GONE")) == 1  # tried once, not retried forever
    assert store.get(w.id) is None
    assert f"watch #{w.id} ended: Slack answered not_in_channel" in caplog.text


def test_a_transient_slack_error_is_retried_on_the_next_tick(store: Store, fake: FakeSlack) -> None:
    store.add("T1", "C_FLAKY", facts("flaky", T0 + dt.timedelta(days=20)), "U1", T0)
    fake.post_errors["C_FLAKY"] = ["fatal_error", 1]
    post = poster(fake)
    due = T0 + dt.timedelta(days=6)
    assert run_once(store, post, due, "r").failed == 1
    assert run_once(store, post, due + dt.timedelta(minutes=5), "r").sent == 1
    assert len(fake.posts_to("C_FLAKY")) == 2


def test_duplicates_and_the_per_channel_limit(store: Store) -> None:
    f = facts("dup", T0 + dt.timedelta(days=90))
    first = store.add("T1", "C_DUP", f, "U1", T0)
    with pytest.raises(Duplicate) as dup:
        store.add("T1", "C_DUP", f, "U2", T0)
    assert dup.value.existing == first.id
    assert store.add("T1", "C_OTHER", f, "U1", T0).id != first.id  # another channel may watch it too
    service = WatchService(store, clock=lambda: T0)
    assert "already watched in this channel as #1" in service.add("T1", "C_DUP", "U1", f.to_json())[0]
    assert "no diagnosed client certificate" in service.add("T1", "C_DUP", "U1", '{"f":"nope"}')[0]


def test_ten_thousand_watches_in_one_channel_stay_bounded(store: Store) -> None:
    rows = [
        {
            "team_id": "T1", "channel_id": "C_BIG", "fingerprint": f"{n:064X}", "subject": f"CN=client-{n}",
            "issuer": "CN=CA", "not_after": to_db(T0 + dt.timedelta(days=100)), "renewal": "host",
            "added_by": "U1", "added_at": to_db(T0),
        }
        for n in range(10_000)
    ]  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(insert(watches), rows)
    service = WatchService(store, clock=lambda: T0)
    text, blocks = service.listing("C_BIG", "")
    assert "10000 watches" in text and "page 1 of 500" in text
    assert len(blocks) <= messages.PAGE_SIZE + 2 and len(json.dumps(blocks)) < 12_000
    assert "`/fixcheck watches 2`" in json.dumps(blocks)
    last = json.dumps(service.listing("C_BIG", "500")[1])
    assert "*#10000* client-9999" in last and "watches 501" not in last
    assert "page 500 of 500" in service.listing("C_BIG", "99999")[0]  # past the end: the last page
    with pytest.raises(TooMany):
        store.add("T1", "C_BIG", facts("one-more", T0 + dt.timedelta(days=90)), "U1", T0)
    assert MAX_WATCHES_PER_CHANNEL < 10_000


def test_two_scheduler_processes_on_postgresql_send_each_reminder_once(
    postgres: Postgres, fake: FakeSlack, tmp_path: Path
) -> None:
    url = database_url({"FIXCHECK_DATABASE_URL": postgres.new_database()})
    store = Store(url)
    store.migrate()
    for n in range(40):
        store.add("T1", f"C_PAIR{n}", facts(f"pair{n}", T0 + dt.timedelta(days=35 + n % 7, hours=n)), "U1", T0)
    store.close()
    script = "from tests.watches.ticker import main; main()"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url, fake.api_url, name, peer, str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name, peer in (("replica-a", "replica-b"), ("replica-b", "replica-a"))
    ]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    sent = [int(o.split()[-1]) for o in outs]
    per_channel = {f"C_PAIR{n}": len(fake.posts_to(f"C_PAIR{n}")) for n in range(40)}
    assert set(per_channel.values()) == {5}, per_channel  # 30, 14, 7, 1 and 0 days: each once
    assert sum(sent) == 200
    assert min(sent) > 0  # both replicas took part


def test_a_database_down_mid_run_pauses_reminders_and_they_resume(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture, postgres: Postgres
) -> None:
    pg = Postgres()  # its own server: this test stops it
    try:
        store = Store(database_url({"FIXCHECK_DATABASE_URL": pg.url()}))
        store.migrate()
        store.add("T1", "C_DOWN", facts("down", T0 + dt.timedelta(days=31)), "U1", T0)
        clock = [T0]
        thread = ReminderThread(store, poster(fake), clock=lambda: clock[0])
        pg.stop()
        clock[0] = T0 + DAY
        with caplog.at_level(logging.INFO):
            assert thread.tick() is None
            assert thread.tick() is None
            service = WatchService(store, clock=lambda: clock[0])
            assert service.listing("C_DOWN", "")[0] == DB_DOWN  # a reply, not a traceback
            pg.start()
            tally = thread.tick()
        assert tally is not None and tally.sent == 1
        assert caplog.text.count("watch database unavailable (OperationalError): reminders paused") == 1
        assert "reminders resume" in caplog.text
        assert len(fake.posts_to("C_DOWN")) == 1
        store.close()
    finally:
        pg.close()


def test_a_lease_taken_while_the_clock_was_far_ahead_does_not_block_the_reminder(store: Store, fake: FakeSlack) -> None:
    w = store.add("T1", "C_AHEAD", facts("ahead", T0 + dt.timedelta(days=30, hours=5)), "U1", T0 - DAY)
    ahead = store.claim(T0 + dt.timedelta(days=90), "wrong-clock", LEASE, 10)  # then the clock is set right
    assert ahead == [(w.id, d) for d in (30, 14, 7, 1, 0)]
    assert run_once(store, poster(fake), T0, "live").sent == 1
    assert len(fake.posts_to("C_AHEAD")) == 1


def test_the_bots_reminder_thread_ticks_on_its_own_clock_and_stops(store: Store, fake: FakeSlack) -> None:
    store.add("T1", "C_THREAD", facts("thread", T0 + dt.timedelta(days=31)), "U1", T0)
    thread = ReminderThread(store, poster(fake), interval=0.05, clock=lambda: T0 + DAY)
    thread.start()
    try:
        fake.wait_for(lambda c: c.params.get("channel") == "C_THREAD", 1, 20)
    finally:
        thread.stop()
    assert not thread._thread.is_alive()
    assert len(fake.posts_to("C_THREAD")) == 1  # many ticks, one reminder


def test_a_deadline_in_year_one_is_scheduled_not_crashed() -> None:
    """Public corpora hold certificates whose notAfter is 0001-01-01: no OverflowError."""
    from bot.watches.rules import due_at, thresholds_ahead

    year_one = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    assert due_at(year_one, 30) == dt.datetime.combine(dt.date.min, dt.time(0), tzinfo=dt.UTC)
    assert thresholds_ahead(year_one, dt.datetime(2026, 12, 2, tzinfo=dt.UTC)) == []

"""`fixcheck-bot reminders --now` as cron runs it: the bot token alone, exit 1 on any unsent post,
a refused token stops the tick uncounted, and no database password in what it prints."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.watches.scheduler import MAX_ATTEMPTS, run_once
from bot.watches.store import Store, describe_url
from tests.slack.fakeslack import BOT_TOKEN, FakeSlack
from tests.slack.localservers import REPO, free_port
from tests.watches.helpers import T0, facts, poster

DAY = dt.timedelta(days=1)


@pytest.fixture()
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


def cron(env_extra: dict[str, str], when: dt.datetime) -> subprocess.CompletedProcess[str]:
    # Only what a crontab line needs: no signing secret, no app token.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FIXCHECK_"))}
    env.update(SLACK_BOT_TOKEN=BOT_TOKEN, PYTHONPATH=str(REPO), **env_extra)
    return subprocess.run(
        [sys.executable, "-m", "bot", "reminders", "--now", when.strftime("%Y-%m-%dT%H:%M:%SZ")],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_cron_needs_only_the_bot_token_and_exits_1_when_a_post_failed(fake: FakeSlack, tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    store = Store(f"sqlite:///{db}")
    store.migrate()
    store.add("T1", "C_OK", facts("ok", T0 + dt.timedelta(days=20)), "U1", T0)
    store.add("T1", "C_FLAKY", facts("flaky", T0 + dt.timedelta(days=20)), "U1", T0)
    store.close()
    fake.post_errors["C_FLAKY"] = ["fatal_error", 1]
    env = {"SLACK_API_URL": fake.api_url, "FIXCHECK_DB": str(db)}
    first = cron(env, T0 + dt.timedelta(days=6))
    assert first.returncode == 1, first.stdout + first.stderr
    assert "sent 1" in first.stdout and "to retry 1" in first.stdout
    again = cron(env, T0 + dt.timedelta(days=6, minutes=5))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "sent 1" in again.stdout and len(fake.posts_to("C_FLAKY")) == 2


def test_a_refused_token_stops_the_tick_once_and_counts_no_attempt(
    store: Store, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    watched = [store.add("T1", f"C_{i}", facts(f"c{i}", T0 + dt.timedelta(days=20)), "U1", T0) for i in range(3)]
    fake.revoked_bot_token = True
    post = poster(fake)
    due = T0 + dt.timedelta(days=6)
    with caplog.at_level(logging.ERROR):
        for minute in range(MAX_ATTEMPTS + 2):  # more ticks than the retry limit
            tally = run_once(store, post, due + dt.timedelta(minutes=minute), "r")
            assert (tally.auth_error, tally.failed, tally.sent) == ("token_revoked", 0, 0)
    posts = [c for c in fake.calls if c.api == "chat.postMessage"]
    assert len(posts) == MAX_ATTEMPTS + 2  # one try per tick, not one per watch
    assert caplog.text.count("reminders stopped for this tick: Slack answered token_revoked") == MAX_ATTEMPTS + 2
    assert all(outcome is None for w in watched for _, outcome, _ in store.sent(w.id))  # nothing given up
    fake.revoked_bot_token = False
    assert run_once(store, post, due + dt.timedelta(hours=1), "r").sent == 3


def test_cron_with_a_revoked_token_exits_1(fake: FakeSlack, tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    store = Store(f"sqlite:///{db}")
    store.migrate()
    store.add("T1", "C_1", facts("one", T0 + dt.timedelta(days=20)), "U1", T0)
    store.close()
    fake.revoked_bot_token = True
    done = cron({"SLACK_API_URL": fake.api_url, "FIXCHECK_DB": str(db)}, T0 + dt.timedelta(days=6))
    assert done.returncode == 1 and "Slack refused the bot token (token_revoked)" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("param", ["password", "sslpassword"])
def test_a_password_in_the_query_is_never_printed(param: str, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens there: the database is "down"
    url = f"postgresql://fixcheck@127.0.0.1:{port}/watches?{param}=SeCrEtPw&sslmode=disable"
    done = cron({"FIXCHECK_DATABASE_URL": url, "SLACK_API_URL": "http://127.0.0.1:9"}, T0)
    assert done.returncode == 1 and "is unavailable" in done.stderr
    assert "SeCrEtPw" not in done.stdout + done.stderr and f"127.0.0.1:{port}/watches" in done.stderr
    assert "SeCrEtPw" not in describe_url("redis://:pw@127.0.0.1:6379/0?password=SeCrEtPw")
    assert "SeCrEtPw" not in describe_url("postgresql://u:SeCrEtPw@127.0.0.1/db?sslmode=require")
    assert describe_url("sqlite:////tmp/w.db") == "sqlite:////tmp/w.db"

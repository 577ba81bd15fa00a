"""Watches end to end: the bot (real Bolt + uvicorn subprocess) on SQLite and on PostgreSQL, Slack faked over HTTP.

A diagnosed onboarding becomes a watch with one click; `fixcheck-bot reminders --now` run
twice at once (two replicas) posts each reminder once; the database holds public facts only.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, select

from bot.watches.schema import metadata
from bot.watches.store import Store, database_url
from tests.leakguard import LeakGuard, make_canaries
from tests.slack.fakeslack import TEAM_ID, Call, FakeSlack, send_command, send_event, send_interaction
from tests.slack.localservers import REPO, Bot, bot_env, free_port, start_bot, stop_bot
from tests.watches.pg import Postgres

PUBLIC_COLUMNS = {
    "watches": {
        "id", "team_id", "channel_id", "fingerprint", "subject", "issuer", "not_after", "ca_fingerprint",
        "ca_subject", "ca_not_after", "renewal", "added_by", "added_at",
    },
    "reminders": {"watch_id", "days", "due_at", "sent_at", "outcome", "lease_owner", "lease_until", "attempts"},
    "recent_diagnoses": {"id", "channel_id", "facts", "seen_at"},
    "fixcheck_schema": {"version"},
}  # fmt: skip


def uid(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if request.param == "sqlite":
        return {"FIXCHECK_DB": str(tmp_path_factory.mktemp("watchdb") / "watches.db")}
    pg: Postgres = request.getfixturevalue("postgres")
    return {"FIXCHECK_DATABASE_URL": pg.new_database()}


@pytest.fixture(scope="module")
def env(fake: FakeSlack, db_env: dict[str, str]) -> dict[str, str]:
    return bot_env(fake, free_port(), "localhost:*", FIXCHECK_REMINDER_INTERVAL="86400", **db_env)


@pytest.fixture(scope="module")
def bot(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    running = start_bot(env, tmp_path_factory.mktemp("watchbot") / "bot.log")
    yield running
    stop_bot(running)


@pytest.fixture(scope="module")
def canaries(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_canaries(tmp_path_factory.mktemp("canaries"))


def upload(http: httpx.Client, bot: Bot, fake: FakeSlack, channel: str, files: dict[str, bytes]) -> Call:
    objs = [fake.add_file(uid("F"), name, data).obj(fake.base) for name, data in files.items()]
    event = {"type": "message", "subtype": "file_share", "channel": channel, "channel_type": "channel",
             "user": uid("U"), "text": "", "ts": f"{time.time():.6f}", "files": objs}  # fmt: skip
    before = len(fake.posts_to(channel))
    assert send_event(http, bot.events_url, event, uid("Ev")).status_code == 200
    return fake.wait_for(lambda c: c.api == "chat.postMessage" and c.params.get("channel") == channel, before + 1, 30)[
        -1
    ]


def button(reply: Call) -> dict[str, Any]:
    found = [e for b in reply.blocks() if b.get("block_id") == "fixcheck_watch" for e in b.get("elements", [])]
    assert found, "no watch button under the reply"
    return dict(found[0])


def click(http: httpx.Client, bot: Bot, fake: FakeSlack, channel: str, element: dict[str, Any], user: str) -> str:
    key = uid("R")
    payload = {
        "type": "block_actions", "team": {"id": TEAM_ID}, "user": {"id": user}, "api_app_id": "AFIXCHECK",
        "channel": {"id": channel}, "trigger_id": uid("trig"), "response_url": fake.response_url(key),
        "container": {"type": "message", "channel_id": channel},
        "actions": [{"type": "button", "action_id": element["action_id"], "block_id": "fixcheck_watch",
                     "value": element.get("value", ""), "action_ts": f"{time.time():.6f}"}],
    }  # fmt: skip
    assert send_interaction(http, bot.events_url, payload).status_code == 200
    return fake.wait_for(lambda c: c.path == f"/response/{key}", 1, 30)[0].all_text()


def command(http: httpx.Client, bot: Bot, fake: FakeSlack, channel: str, text: str) -> str:
    key = uid("R")
    ack = send_command(http, bot.events_url, text, user=uid("U"), response_url=fake.response_url(key), channel=channel)
    assert ack.status_code == 200
    return fake.wait_for(lambda c: c.path == f"/response/{key}", 1, 30)[0].all_text()


def reminders_now(env: dict[str, str], when: dt.datetime) -> subprocess.Popen[str]:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return subprocess.Popen([sys.executable, "-m", "bot", "reminders", "--now", stamp], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def test_one_click_watch_then_each_reminder_once_across_two_replicas(
    bot: Bot, fake: FakeSlack, env: dict[str, str], canaries: Any
) -> None:
    channel, user = uid("CW"), uid("U")
    host = canaries.host
    files = {"fix.itbit.pem": host.cert_pem + host.key_pem, "ca.crt": canaries.ca.cert_pem,
             "ca.key": canaries.ca.key_pem, "ec.key": canaries.ec.key_pem}  # fmt: skip
    with httpx.Client(timeout=15) as http:
        reply = upload(http, bot, fake, channel, files)
        assert "A private key was shared" in reply.all_text()  # offered even when a key was exposed
        element = button(reply)
        assert element["text"]["text"] == "Remind this channel before it expires"
        confirmation = click(http, bot, fake, channel, element, user)
        assert "Watch #" in confirmation and "canary-host" in confirmation and "Stored:" in confirmation
        assert "No key, no file, no message text" in confirmation
        again = click(http, bot, fake, channel, element, user)
        assert "already watched in this channel" in again
        listing = command(http, bot, fake, channel, "watches")
        assert "canary-host" in listing and f"<@{user}>" in listing and "days left" in listing
        home = {"type": "app_home_opened", "user": user, "channel": uid("D"), "tab": "home"}
        assert send_event(http, bot.events_url, home, uid("Ev")).status_code == 200
        published = fake.wait_for(lambda c: c.api == "views.publish" and c.params.get("user_id") == user, 1, 30)
        assert "canary-host" in published[0].text() and f"in <#{channel}>" in published[0].text()

    store = Store(database_url(env))
    with store.engine.connect() as conn:
        watch = conn.execute(select(metadata.tables["watches"])).mappings().one()
    stored = store.get(watch["id"])
    assert stored is not None and stored.added_by == user and stored.channel_id == channel
    deadline = stored.facts.deadline
    seen_before = len(fake.posts_to(channel))
    for days in (30, 14, 7, 1, 0):
        at = dt.datetime.combine(deadline.date() - dt.timedelta(days=days), dt.time(9), tzinfo=dt.UTC)
        if at < dt.datetime.now(dt.UTC) - dt.timedelta(days=1):
            continue  # the certificates were made today: thresholds already gone by were never scheduled
        pair = [reminders_now(env, at), reminders_now(env, at)]  # two replicas at the same instant
        outs = [p.communicate(timeout=60)[0] for p in pair]
        assert all(p.returncode == 0 for p in pair), outs
    posts = fake.posts_to(channel)[seen_before:]
    texts = [p.all_text() for p in posts]
    assert len(texts) == len({t.split("\n")[0] for t in texts}) >= 3  # each threshold once, none twice
    # The day-of tick runs at 09:00 UTC: after a not-after earlier that day it says "expired today at".
    day_of = "expires *today*" if deadline.time() > dt.time(9) else f"expired *today* at {deadline:%H:%M} UTC"
    assert any(day_of in t for t in texts) and all("canary-host" in t for t in texts)
    store.close()

    guard = LeakGuard(canaries)
    check_public_facts_only(env, guard)


def check_public_facts_only(env: dict[str, str], guard: LeakGuard) -> None:
    """Every table and cell of the watch database: public facts only, no trace of the canary keys."""
    store = Store(database_url(env))
    with store.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert tables == set(PUBLIC_COLUMNS)
        for name in tables:
            assert {c["name"] for c in inspect(conn).get_columns(name)} == PUBLIC_COLUMNS[name]
            rows = conn.execute(select(metadata.tables[name])).all()
            dump = json.dumps([[str(v) for v in r] for r in rows])
            guard.check(f"table {name}", dump)
            assert "BEGIN" not in dump and "PRIVATE" not in dump
    store.close()
    if "FIXCHECK_DB" in env:  # the database file and its write-ahead log
        db = Path(env["FIXCHECK_DB"])
        for path in db.parent.glob(db.name + "*"):
            guard.check(f"SQLite file {path.name}", path.read_bytes())


def test_recent_diagnoses_paste_modal_replace_and_unwatch(bot: Bot, fake: FakeSlack, canaries: Any) -> None:
    channel, user = uid("CR"), uid("U")
    with httpx.Client(timeout=15) as http:
        nothing = command(http, bot, fake, channel, "watch")
        assert "No client certificate was diagnosed here recently" in nothing
        upload(http, bot, fake, channel, {"host.crt": canaries.pkcs1.cert_pem, "ca.crt": canaries.ca.cert_pem})
        choices = command(http, bot, fake, channel, "watch")
        assert "canary-pkcs1" in choices and "Paste a certificate" in choices
        blocks = fake.find(lambda c: c.path.startswith("/response/"))[-1].blocks()
        watch_button = next(b["accessory"] for b in blocks if b.get("accessory"))
        assert "Watch #" in click(http, bot, fake, channel, watch_button, user)

        # A renewed certificate for the same subject in this channel: the reply offers to replace the watch.
        renewed = upload(http, bot, fake, channel, {"host.crt": renewed_cert(canaries), "ca.crt": canaries.ca.cert_pem})
        offer = button(renewed)
        assert offer["text"]["text"].startswith("Replace watch #")
        replaced = click(http, bot, fake, channel, offer, user)
        assert "replaces #" in replaced or "now follows this certificate" in replaced  # SQLite may reuse the id
        listing = command(http, bot, fake, channel, "watches")
        assert listing.count("canary-pkcs1") == 1 and "(1, page 1 of 1)" in listing

        new_id = replaced.split("Watch #")[1].split(" ")[0]
        assert f"Watch #{new_id} removed" in command(http, bot, fake, channel, f"unwatch {new_id}")
        assert "There is no watch #" in command(http, bot, fake, channel, f"unwatch {new_id}")
        assert "Say which watch to remove" in command(http, bot, fake, channel, "unwatch please")
        assert "No watches in this channel" in command(http, bot, fake, channel, "watches")

        bogus = {"action_id": "fixcheck_watch_add", "value": '{"f":"forged"}'}
        assert "no diagnosed client certificate" in click(http, bot, fake, channel, bogus, user)

        before = len(fake.find(lambda c: c.api == "views.open"))
        paste = {"action_id": "fixcheck_watch_paste", "value": "paste"}
        send_click_only(http, bot, fake, channel, paste, user)
        opened = len(fake.wait_for(lambda c: c.api == "views.open", before + 1, 30))
        raw = fake.find(lambda c: c.api == "views.open")[-1].params["view"]
        view = json.loads(raw) if isinstance(raw, str) else raw
        assert opened == before + 1 and view["callback_id"] == "fixcheck_watch_paste"
        text = submit_paste(http, bot, fake, view, canaries.ec.cert_pem.decode() + canaries.ec.key_pem.decode())
        assert "Watch #" in text and "canary-ec" in text and "A private key was shared" in text


def renewed_cert(canaries: Any) -> bytes:
    """The same subject (CN=canary-pkcs1) re-issued: a new certificate, a new fingerprint."""
    folder = canaries.folder
    subprocess.run(
        ["openssl", "x509", "-req", "-in", "pkcs1.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "60", "-sha256", "-out", "pkcs1-renewed.crt"],
        cwd=folder, check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return (folder / "pkcs1-renewed.crt").read_bytes()


def send_click_only(
    http: httpx.Client, bot: Bot, fake: FakeSlack, channel: str, element: dict[str, Any], user: str
) -> None:
    payload = {
        "type": "block_actions", "team": {"id": TEAM_ID}, "user": {"id": user}, "api_app_id": "AFIXCHECK",
        "channel": {"id": channel}, "trigger_id": uid("trig"), "response_url": fake.response_url(uid("R")),
        "actions": [{"type": "button", "action_id": element["action_id"], "block_id": "b", "value": element["value"],
                     "action_ts": f"{time.time():.6f}"}],
    }  # fmt: skip
    assert send_interaction(http, bot.events_url, payload).status_code == 200


def submit_paste(http: httpx.Client, bot: Bot, fake: FakeSlack, view: dict[str, Any], pem: str) -> str:
    key = uid("R")
    meta = json.loads(view["private_metadata"])
    meta["response_url"] = fake.response_url(key)
    payload = {
        "type": "view_submission", "team": {"id": TEAM_ID}, "user": {"id": uid("U")}, "api_app_id": "AFIXCHECK",
        "trigger_id": uid("trig"),
        "view": {**view, "id": "V123", "private_metadata": json.dumps(meta), "state": {"values": {
            "cert": {"value": {"type": "plain_text_input", "value": pem}},
            "ca": {"value": {"type": "plain_text_input", "value": None}},
        }}},
    }  # fmt: skip
    assert send_interaction(http, bot.events_url, payload).status_code == 200
    return fake.wait_for(lambda c: c.path == f"/response/{key}", 1, 30)[0].all_text()


def test_database_down_at_start_the_bot_still_diagnoses(fake: FakeSlack, canaries: Any, tmp_path: Path) -> None:
    closed = f"postgresql://fixcheck@127.0.0.1:{free_port()}/postgres"  # nothing listens there
    env = bot_env(fake, free_port(), "localhost:*", FIXCHECK_DATABASE_URL=closed, FIXCHECK_REMINDER_INTERVAL="86400")
    down = start_bot(env, tmp_path / "bot.log")
    try:
        channel = uid("CD")
        with httpx.Client(timeout=15) as http:
            reply = upload(http, down, fake, channel, {"host.crt": canaries.host.cert_pem})
            assert "step_8" in json.dumps(reply.blocks()) and button(reply)  # the diagnosis and its button
            assert "watch database is not reachable" in command(http, down, fake, channel, "watches")
        assert "watch database unavailable at start (OperationalError)" in down.logs()
        assert "Traceback" not in down.logs()
        once = reminders_now(env, dt.datetime.now(dt.UTC))
        out = once.communicate(timeout=60)[0]
        assert once.returncode == 1 and "is unavailable (OperationalError); nothing was sent" in out
        assert "Traceback" not in out
    finally:
        stop_bot(down)

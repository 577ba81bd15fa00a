"""Where watches live: one SQLAlchemy Core layer over SQLite (FIXCHECK_DB) or PostgreSQL (FIXCHECK_DATABASE_URL).

Exactly-once reminders across replicas: a replica claims a due reminder by writing a
lease on its row (`SELECT … FOR UPDATE SKIP LOCKED` first on PostgreSQL; SQLite takes the
write lock at BEGIN), sends, then marks it sent. A replica that dies mid-send leaves a
lease that runs out, and another replica sends it then: a reminder is never lost.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, create_engine, delete, event, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import ArgumentError, IntegrityError

from bot.watches.facts import CertFacts
from bot.watches.rules import thresholds_ahead
from bot.watches.schema import from_db, migrate, recent, reminders, to_db, watches

DEFAULT_DB = "fixcheck-watches.db"
READ_ONLY = "fixcheck_read_only"  # an execution option: this connection only reads
MAX_WATCHES_PER_CHANNEL = 500
RECENT_PER_CHANNEL = 5
RECENT_DAYS = 7


class Duplicate(Exception):
    def __init__(self, existing: int) -> None:
        super().__init__(f"already watched as #{existing}")
        self.existing = existing


class TooMany(Exception):
    pass


@dataclass(frozen=True)
class Watch:
    id: int
    team_id: str
    channel_id: str
    facts: CertFacts
    added_by: str
    added_at: dt.datetime


def database_url(env: Mapping[str, str]) -> str:
    """FIXCHECK_DATABASE_URL (PostgreSQL, through psycopg 3) or the SQLite file FIXCHECK_DB."""
    url = env.get("FIXCHECK_DATABASE_URL", "").strip()
    if url:
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
    return "sqlite:///" + str(Path(env.get("FIXCHECK_DB") or DEFAULT_DB).expanduser().absolute())


# Query parameters whose values are secrets (libpq's `password`/`sslpassword`, redis-py's
# `password`, tokens): matched as substrings of the lower-cased name.
_SECRET_PARAMS = ("password", "passwd", "pwd", "secret", "token", "key", "auth", "credential")


def describe_url(url: str) -> str:
    """A database or Redis URL for a log line or an error: no password, in user:pass@ or in the query."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "(a URL that could not be parsed; not shown, as it may hold a password)"
    masked = {
        name: "hidden" if any(s in name.lower() for s in _SECRET_PARAMS) else value
        for name, value in parsed.query.items()
    }
    return parsed.set(query=masked).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _: Any) -> None:
            dbapi_conn.isolation_level = None  # let the BEGIN below be the transaction's start
            # Write-ahead log: readers never wait for the scheduler's writes, and a commit costs one
            # fsync of the log instead of several (NORMAL is durable across process crashes).
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers take the write lock up front: two schedulers never both read a row as due.
            # Plain reads (Store._read) need no lock and do not wait for one.
            reading = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2, connect_args={"connect_timeout": 5})


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Store:
        return cls(database_url(os.environ if env is None else env))

    def migrate(self) -> int:
        return migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def _read(self) -> Connection:
        return self.engine.connect().execution_options(**{READ_ONLY: True})

    # --- watches ------------------------------------------------------------------
    def add(
        self, team: str, channel: str, facts: CertFacts, user: str, now: dt.datetime, *, replace: int | None = None
    ) -> Watch:
        """A new watch with the thresholds still ahead; `replace` removes that watch of the channel in the same transaction."""
        with self.engine.begin() as conn:
            if replace is not None:
                self._delete(conn, channel, replace)
            existing = conn.execute(
                select(watches.c.id).where(watches.c.channel_id == channel, watches.c.fingerprint == facts.fingerprint)
            ).scalar()
            if existing is not None:
                raise Duplicate(int(existing))
            count = conn.execute(select(func.count()).where(watches.c.channel_id == channel)).scalar() or 0
            if count >= MAX_WATCHES_PER_CHANNEL:
                raise TooMany(f"this channel already has {count} watches (the limit is {MAX_WATCHES_PER_CHANNEL})")
            try:
                watch_id = conn.execute(
                    insert(watches).values(**_row(team, channel, facts, user, now))
                ).inserted_primary_key
            except IntegrityError:  # another replica added the same certificate a moment ago
                raise Duplicate(0) from None
            assert watch_id is not None
            ahead = thresholds_ahead(facts.deadline, now)
            if ahead:
                conn.execute(
                    insert(reminders),
                    [{"watch_id": watch_id[0], "days": d, "due_at": to_db(at), "attempts": 0} for d, at in ahead],
                )
        return Watch(int(watch_id[0]), team, channel, facts, user, now)

    def remove(self, channel: str, watch_id: int) -> bool:
        with self.engine.begin() as conn:
            return self._delete(conn, channel, watch_id)

    def end(self, watch_id: int) -> None:
        """The channel is gone (or the bot was removed): the watch ends."""
        with self.engine.begin() as conn:
            conn.execute(delete(reminders).where(reminders.c.watch_id == watch_id))
            conn.execute(delete(watches).where(watches.c.id == watch_id))

    def get(self, watch_id: int) -> Watch | None:
        with self._read() as conn:
            row = conn.execute(select(watches).where(watches.c.id == watch_id)).first()
        return None if row is None else _watch(row)

    def count(self, channel: str) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).where(watches.c.channel_id == channel)).scalar() or 0)

    def page(self, channel: str, offset: int, limit: int) -> list[Watch]:
        query = (
            select(watches).where(watches.c.channel_id == channel).order_by(watches.c.id).offset(offset).limit(limit)
        )
        with self._read() as conn:
            return [_watch(r) for r in conn.execute(query)]

    def by_user(self, user: str, limit: int) -> list[Watch]:
        """The watches `user` added, in every channel, the soonest not-after first."""
        query = select(watches).where(watches.c.added_by == user).order_by(watches.c.not_after).limit(limit)
        with self._read() as conn:
            return [_watch(r) for r in conn.execute(query)]

    def related(self, channel: str, facts: CertFacts) -> Watch | None:
        """A watch in `channel` on this certificate, or else on another one with the same subject (a renewal)."""
        query = (
            select(watches)
            .where(
                watches.c.channel_id == channel,
                or_(watches.c.fingerprint == facts.fingerprint, watches.c.subject == facts.subject),
            )
            .order_by((watches.c.fingerprint == facts.fingerprint).desc(), watches.c.id.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _watch(row)

    def sent(self, watch_id: int) -> list[tuple[int, str | None, dt.datetime | None]]:
        """(days, outcome, sent_at) for each of the watch's reminders."""
        query = select(reminders.c.days, reminders.c.outcome, reminders.c.sent_at).where(
            reminders.c.watch_id == watch_id
        )
        with self._read() as conn:
            return [
                (int(d), o, from_db(s) if s else None)
                for d, o, s in conn.execute(query.order_by(reminders.c.days.desc()))
            ]

    @staticmethod
    def _delete(conn: Any, channel: str, watch_id: int) -> bool:
        conn.execute(
            delete(reminders).where(
                reminders.c.watch_id.in_(
                    select(watches.c.id).where(watches.c.id == watch_id, watches.c.channel_id == channel)
                )
            )
        )
        result = conn.execute(delete(watches).where(watches.c.id == watch_id, watches.c.channel_id == channel))
        return bool(result.rowcount)

    # --- recent diagnoses ---------------------------------------------------------------
    def remember(self, channel: str, facts: CertFacts, now: dt.datetime) -> None:
        """Keep the last RECENT_PER_CHANNEL diagnosed certificates of a channel, for `/fixcheck watch`."""
        value = facts.to_json()
        with self.engine.begin() as conn:
            conn.execute(delete(recent).where(recent.c.channel_id == channel, recent.c.facts == value))
            conn.execute(insert(recent).values(channel_id=channel, facts=value, seen_at=to_db(now)))
            keep = (
                select(recent.c.id)
                .where(recent.c.channel_id == channel)
                .order_by(recent.c.id.desc())
                .limit(RECENT_PER_CHANNEL)
            )
            conn.execute(
                delete(recent).where(recent.c.channel_id == channel, recent.c.id.not_in(keep.scalar_subquery()))
            )
            conn.execute(delete(recent).where(recent.c.seen_at < to_db(now - dt.timedelta(days=RECENT_DAYS))))

    def recent(self, channel: str, now: dt.datetime) -> list[CertFacts]:
        since = to_db(now - dt.timedelta(days=RECENT_DAYS))
        query = (
            select(recent.c.facts)
            .where(recent.c.channel_id == channel, recent.c.seen_at >= since)
            .order_by(recent.c.id.desc())
            .limit(RECENT_PER_CHANNEL)
        )
        with self._read() as conn:
            return [CertFacts.from_json(v) for (v,) in conn.execute(query)]

    # --- the scheduler's side -------------------------------------------------------------
    def claim(self, now: dt.datetime, owner: str, lease: dt.timedelta, limit: int) -> list[tuple[int, int]]:
        """Lease up to `limit` due reminders to `owner`: (watch_id, days) pairs no other replica holds."""
        at, until = to_db(now), to_db(now + lease)
        free = or_(
            reminders.c.lease_until.is_(None),
            reminders.c.lease_until < at,
            # Leased further ahead than any lease reaches: this clock jumped back; take it over. (The
            # margin keeps replicas whose clocks differ by minutes from taking each other's leases.)
            reminders.c.lease_until > to_db(now + 2 * lease),
        )
        due = and_(reminders.c.sent_at.is_(None), reminders.c.due_at <= at, free)
        with self._read() as conn:  # most ticks find nothing: no write lock, no transaction to commit
            if conn.execute(select(reminders.c.days).where(due).limit(1)).first() is None:
                return []
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(reminders.c.watch_id, reminders.c.days)
                .where(due)
                .order_by(reminders.c.due_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            claimed: list[tuple[int, int]] = []
            for watch_id, days in rows:
                result = conn.execute(
                    update(reminders)
                    .where(due, reminders.c.watch_id == watch_id, reminders.c.days == days)
                    .values(lease_owner=owner, lease_until=until, attempts=reminders.c.attempts + 1)
                )
                if result.rowcount == 1:
                    claimed.append((int(watch_id), int(days)))
        return claimed

    def finish(self, watch_id: int, days: int, owner: str, now: dt.datetime, outcome: str) -> bool:
        """Mark a leased reminder done (sent, skipped or failed); False when the lease was lost."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(reminders)
                .where(reminders.c.watch_id == watch_id, reminders.c.days == days, reminders.c.lease_owner == owner)
                .where(reminders.c.sent_at.is_(None))
                .values(sent_at=to_db(now), outcome=outcome, lease_until=None)
            )
            return bool(result.rowcount)

    def release(self, watch_id: int, days: int, owner: str, *, refund: bool = False) -> int:
        """Give a lease back after a failed send (the next tick retries); returns the attempts so far.

        `refund` takes back the attempt the claim counted: the send was never tried (the bot's
        token failed), so it must not bring the reminder closer to being given up.
        """
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
        if refund:
            values["attempts"] = reminders.c.attempts - 1
        with self.engine.begin() as conn:
            conn.execute(
                update(reminders)
                .where(reminders.c.watch_id == watch_id, reminders.c.days == days, reminders.c.lease_owner == owner)
                .values(**values)
            )
            attempts = conn.execute(
                select(reminders.c.attempts).where(reminders.c.watch_id == watch_id, reminders.c.days == days)
            ).scalar()
        return int(attempts or 0)


def _row(team: str, channel: str, facts: CertFacts, user: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "team_id": team[:32],
        "channel_id": channel[:32],
        "fingerprint": facts.fingerprint,
        "subject": facts.subject,
        "issuer": facts.issuer,
        "not_after": to_db(facts.not_after),
        "ca_fingerprint": facts.ca_fingerprint,
        "ca_subject": facts.ca_subject,
        "ca_not_after": to_db(facts.ca_not_after) if facts.ca_not_after else None,
        "renewal": facts.renewal,
        "added_by": user[:32],
        "added_at": to_db(now),
    }


def _watch(row: Row[Any]) -> Watch:
    m = row._mapping
    facts = CertFacts(
        fingerprint=m["fingerprint"],
        subject=m["subject"],
        issuer=m["issuer"],
        not_after=from_db(m["not_after"]),
        renewal=m["renewal"],
        ca_fingerprint=m["ca_fingerprint"],
        ca_subject=m["ca_subject"],
        ca_not_after=from_db(m["ca_not_after"]) if m["ca_not_after"] else None,
    )
    return Watch(int(m["id"]), m["team_id"], m["channel_id"], facts, m["added_by"], from_db(m["added_at"]))

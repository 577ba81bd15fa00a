"""The watch database's tables (SQLAlchemy Core) and its versioned schema.

`fixcheck_schema` holds one row: the version applied. `migrate()` applies each step past
it in order, in one transaction, under an advisory lock on PostgreSQL so that replicas
starting together do not race. Add a schema change as a new entry in MIGRATIONS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine

metadata = MetaData()

schema_version = Table("fixcheck_schema", metadata, Column("version", Integer, nullable=False))

# Public facts only: ids, fingerprints, names, dates. Never a key, a file or message text.
watches = Table(
    "watches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("fingerprint", String(95), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("issuer", String(200), nullable=False),
    Column("not_after", DateTime, nullable=False),
    Column("ca_fingerprint", String(95)),
    Column("ca_subject", String(200)),
    Column("ca_not_after", DateTime),
    Column("renewal", String(20), nullable=False),
    Column("added_by", String(32), nullable=False),
    Column("added_at", DateTime, nullable=False),
    UniqueConstraint("channel_id", "fingerprint", name="watches_channel_fingerprint"),
)

# One row per threshold still ahead when the watch was made; `outcome` says what became of it.
reminders = Table(
    "reminders",
    metadata,
    Column("watch_id", Integer, ForeignKey("watches.id", ondelete="CASCADE"), primary_key=True),
    Column("days", Integer, primary_key=True),
    Column("due_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    Column("outcome", String(16)),  # sent | skipped | failed
    Column("lease_owner", String(64)),
    Column("lease_until", DateTime),
    Column("attempts", Integer, nullable=False, default=0),
)
Index("reminders_due", reminders.c.sent_at, reminders.c.due_at)

# The last few diagnoses per channel that could become a watch (for `/fixcheck watch`).
recent = Table(
    "recent_diagnoses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel_id", String(32), nullable=False),
    Column("facts", String(2000), nullable=False),
    Column("seen_at", DateTime, nullable=False),
)
Index("recent_channel", recent.c.channel_id, recent.c.seen_at)


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[watches, reminders, recent])


MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_v1,)
VERSION = len(MIGRATIONS)


def migrate(engine: Engine) -> int:
    """Bring the schema to VERSION; returns the version found before."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(74657301)"))  # one migrating replica at a time
        metadata.create_all(conn, tables=[schema_version])
        found = conn.execute(select(schema_version.c.version)).scalar()
        if found is None:
            conn.execute(insert(schema_version).values(version=0))
            found = 0
        if found > VERSION:
            raise RuntimeError(f"the watch database has schema {found}, newer than this fixcheck ({VERSION})")
        for step in MIGRATIONS[found:]:
            step(conn)
        conn.execute(update(schema_version).values(version=VERSION))
    return int(found)


def to_db(when: dt.datetime) -> dt.datetime:
    """Stored as naive UTC, the one form SQLite and PostgreSQL both keep unchanged."""
    return when.astimezone(dt.UTC).replace(tzinfo=None)


def from_db(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=dt.UTC)

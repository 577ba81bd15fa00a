"""The reminder scheduler: a pure function of `now`, a Store and a poster, run once per tick.

`run_once` claims the due reminders, posts one message per watch and marks them. When
several thresholds of one watch are due at once (the bot was down, the clock jumped
forward), only the most urgent is posted and the others are marked skipped: a channel
never gets a burst of stale reminders. `ReminderThread` calls it on the bot's own clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.watches import messages
from bot.watches.store import Store, Watch

log = logging.getLogger(__name__)

# Slack errors that mean the channel will never take the message: end the watch.
ENDING_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived", "missing_scope_channel"})
# Slack errors that mean the bot's token is no good: no post can succeed this tick, whatever the channel.
AUTH_ERRORS = frozenset({"invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired"})
LEASE = dt.timedelta(minutes=10)
BATCH = 200  # reminders per tick: a channel with thousands of watches is served over a few ticks
MAX_ATTEMPTS = 10  # other errors are retried on later ticks, this many times in all

Poster = Callable[[str, str, list[dict[str, Any]]], None]  # (channel, text, blocks)


@dataclass
class Tally:
    sent: int = 0
    skipped: int = 0
    ended: int = 0
    failed: int = 0
    channels: list[str] = field(default_factory=list)
    auth_error: str | None = None  # the tick stopped at the first post: Slack refused the bot's token


class _AuthStop(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def replica_id() -> str:
    return f"{socket.gethostname()[:40]}-{uuid.uuid4().hex[:8]}"


def run_once(store: Store, post: Poster, now: dt.datetime, owner: str, *, limit: int = BATCH) -> Tally:
    """One tick at `now`: every due reminder this replica could lease is posted once, or ends its watch."""
    tally = Tally()
    by_watch: dict[int, list[int]] = {}
    for watch_id, days in store.claim(now, owner, LEASE, limit):
        by_watch.setdefault(watch_id, []).append(days)
    pending = list(by_watch.items())
    for index, (watch_id, due) in enumerate(pending):
        watch = store.get(watch_id)
        if watch is None:
            continue  # unwatched between claim and now
        urgent = min(due)
        try:
            _send(store, post, watch, urgent, now, owner, tally)
        except _AuthStop as stop:
            _stop_tick(store, owner, pending[index:], stop.error, tally)
            return tally
        for stale in due:  # after the send: a token failure must not have skipped them for nothing
            if stale != urgent and store.finish(watch_id, stale, owner, now, "skipped"):
                tally.skipped += 1
    return tally


def _stop_tick(store: Store, owner: str, rest: list[tuple[int, list[int]]], error: str, tally: Tally) -> None:
    """Every post would fail the same way: give all leases back uncounted, and say so once."""
    for watch_id, due in rest:
        for days in due:
            store.release(watch_id, days, owner, refund=True)
    tally.auth_error = error
    log.error(
        "reminders stopped for this tick: Slack answered %s (the bot token is not valid); "
        "%d watches wait for the next tick. Check SLACK_BOT_TOKEN with: "
        'curl -s -H "Authorization: Bearer $SLACK_BOT_TOKEN" https://slack.com/api/auth.test',
        error,
        len(rest),
    )


def _send(store: Store, post: Poster, watch: Watch, days: int, now: dt.datetime, owner: str, tally: Tally) -> None:
    text, blocks = messages.reminder(watch, days, now)
    try:
        post(watch.channel_id, text, blocks)
    except SlackApiError as exc:
        error = str(exc.response.get("error", "")) if exc.response is not None else ""
        if error in AUTH_ERRORS:
            raise _AuthStop(error) from None
        if error in ENDING_ERRORS:
            store.end(watch.id)
            log.warning(
                "watch #%d ended: Slack answered %s for its channel (the bot cannot post there)", watch.id, error
            )
            tally.ended += 1
            return
        _retry_later(store, watch, days, owner, f"Slack error {error or 'unknown'}", now, tally)
        return
    except OSError as exc:
        _retry_later(store, watch, days, owner, type(exc).__name__, now, tally)
        return
    if store.finish(watch.id, days, owner, now, "sent"):
        tally.sent += 1
        tally.channels.append(watch.channel_id)


def _retry_later(store: Store, watch: Watch, days: int, owner: str, why: str, now: dt.datetime, tally: Tally) -> None:
    attempts = store.release(watch.id, days, owner)
    if attempts >= MAX_ATTEMPTS:
        store.finish(watch.id, days, owner, now, "failed")
        log.error("reminder for watch #%d (%d days) given up after %d attempts: %s", watch.id, days, attempts, why)
    else:
        log.warning("reminder for watch #%d (%d days) not sent (%s); retrying on a later tick", watch.id, days, why)
    tally.failed += 1


class ReminderThread:
    """Runs `run_once` every `interval` seconds on `clock()` in a daemon thread until `stop()`.

    A database that is down (at start or mid-run) pauses reminders with one log line and
    they resume, schema first, when it is back; the bot's diagnoses never wait on it.
    """

    def __init__(
        self,
        store: Store,
        post: Poster,
        *,
        interval: float = 60.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.store, self.post, self.interval, self.clock = store, post, interval, clock
        self.owner = replica_id()
        self.ready = False
        self.down = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fixcheck-reminders", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def tick(self) -> Tally | None:
        try:
            if not self.ready:
                self.store.migrate()
                self.ready = True
            tally = run_once(self.store, self.post, self.clock(), self.owner)
        except SQLAlchemyError as exc:
            if not self.down:
                log.error(
                    "watch database unavailable (%s): reminders paused, diagnoses go on; retrying every %g s",
                    type(exc).__name__,
                    self.interval,
                )
            self.down = True
            return None
        if self.down:
            log.info("watch database reachable again: reminders resume")
            self.down = False
        if tally.sent or tally.ended or tally.failed:
            log.info(
                "reminders: sent=%d skipped=%d ended=%d failed=%d", tally.sent, tally.skipped, tally.ended, tally.failed
            )
        return tally

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the thread must outlive one bad tick
                log.exception("reminder tick failed")
            self._stop.wait(self.interval)

"""The watches as the Slack front end uses them: every answer is a ready message, never an exception.

A database that is down gives a clear reply and one log line; the diagnosis it was
attached to goes out anyway (with the button, which needs no database until clicked).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.engine import Report
from bot.watches import messages
from bot.watches.facts import BadFacts, CertFacts, from_report
from bot.watches.messages import Rendered
from bot.watches.store import Duplicate, Store, TooMany, describe_url

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
# After the database failed under a diagnosis, diagnoses skip it this long (no connect timeout on each reply).
DOWN_BACKOFF = 30.0

DB_DOWN = (
    ":warning: The watch database is not reachable right now, so watches cannot be read or changed. "
    "Diagnoses still work; please try again in a few minutes (the bot's operator sees why in its log)."
)
NO_CERT = (
    "There is no diagnosed client certificate to watch. Upload `fix.itbit.pem` (or paste the certificate) in this "
    "channel, then press *Remind this channel before it expires* under my reply, or run `/fixcheck watch`. "
    "Check the file yourself with `openssl x509 -noout -subject -enddate -in fix.itbit.pem`."
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class WatchService:
    def __init__(self, store: Store, clock: Clock = utcnow) -> None:
        self.store, self.clock = store, clock
        self._ready = False
        self._lock = threading.Lock()
        self._skip_until = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WatchService:
        store = Store.from_env(env)
        log.info("expiry watches stored in %s", describe_url(store.url))
        return cls(store)

    def start(self) -> None:
        """Apply the schema now if the database is there; a database that is down is only logged."""
        try:
            self._schema()
        except SQLAlchemyError as exc:
            log.error(
                "watch database unavailable at start (%s): watches wait for it, diagnoses go on", type(exc).__name__
            )

    def _schema(self) -> None:
        with self._lock:
            if not self._ready:
                self.store.migrate()
                self._ready = True

    def _guard(self, what: str, work: Callable[[], Rendered]) -> Rendered:
        try:
            self._schema()
            return work()
        except SQLAlchemyError as exc:
            log.error("watch database unavailable during %s (%s)", what, type(exc).__name__)
            return messages._simple(DB_DOWN)

    # --- under a diagnosis ------------------------------------------------------------
    def offer(self, report: Report, channel: str | None) -> list[dict[str, Any]]:
        """The blocks to add under a diagnosis: the button (or a replace offer), or none without a client certificate."""
        facts = from_report(report)
        if facts is None:
            return []
        related = None
        if channel and time.monotonic() >= self._skip_until:
            try:
                self._schema()
                self.store.remember(channel, facts, self.clock())
                related = self.store.related(channel, facts)
            except SQLAlchemyError as exc:
                self._skip_until = time.monotonic() + DOWN_BACKOFF
                log.warning("watch database unavailable; offering the button without history (%s)", type(exc).__name__)
        return [b.to_dict() for b in messages.offer_blocks(facts, related)]

    # --- commands and clicks -------------------------------------------------------------
    def add(self, team: str, channel: str, user: str, value: str) -> Rendered:
        """A click on a watch button: `value` is the facts (or a replace offer) the button carries."""
        replace: int | None = None
        try:
            data = json.loads(value)
            if isinstance(data, dict) and "replace" in data:
                replace, value = int(data["replace"]), json.dumps(data["facts"])
            facts = CertFacts.from_json(value)
        except (ValueError, TypeError, KeyError, BadFacts):
            return messages._simple(NO_CERT)
        return self.add_facts(team, channel, user, facts, replace=replace)

    def add_facts(
        self, team: str, channel: str, user: str, facts: CertFacts, *, replace: int | None = None
    ) -> Rendered:
        def work() -> Rendered:
            now = self.clock()
            if facts.deadline <= now:  # documented choice: no watch that could only ever say "expired"
                return messages.already_expired(facts, now)
            try:
                watch = self.store.add(team, channel, facts, user, now, replace=replace)
            except Duplicate as dup:
                which = f" as #{dup.existing}" if dup.existing else ""
                return messages._simple(
                    f":bell: This certificate is already watched in this channel{which}. `/fixcheck watches` lists them."
                )
            except TooMany as exc:
                return messages._simple(
                    f":no_entry: {exc}. Remove old ones with `/fixcheck unwatch ID` (see `/fixcheck watches`)."
                )
            log.info("watch #%d added (replaces=%s)", watch.id, replace)
            return messages.confirmation(watch, now, replaced=replace)

        return self._guard("add", work)

    def add_report(self, team: str, channel: str, user: str, report: Report) -> Rendered:
        """A certificate pasted in the watch modal, diagnosed by the engine."""
        facts = from_report(report)
        if facts is None:
            return messages._simple(NO_CERT)
        return self.add_facts(team, channel, user, facts)

    def choices(self, channel: str) -> Rendered:
        return self._guard("watch", lambda: messages.recent_choices(self.store.recent(channel, self.clock())))

    def listing(self, channel: str, arg: str) -> Rendered:
        page = int(arg) if arg.isdigit() and 0 < int(arg) < 100_000 else 1

        def work() -> Rendered:
            total = self.store.count(channel)
            pages = max(1, (total + messages.PAGE_SIZE - 1) // messages.PAGE_SIZE)
            shown = min(page, pages)
            rows = self.store.page(channel, (shown - 1) * messages.PAGE_SIZE, messages.PAGE_SIZE)
            return messages.watch_list(rows, total, shown, self.clock())

        return self._guard("watches", work)

    def home(self, user: str) -> dict[str, Any]:
        """The App Home view: this person's watches, or why there are none to show."""
        try:
            self._schema()
            mine = self.store.by_user(user, messages.HOME_LIMIT)
        except SQLAlchemyError as exc:
            log.error("watch database unavailable for the Home tab (%s)", type(exc).__name__)
            return messages.home_view(None, self.clock())
        return messages.home_view(mine, self.clock())

    def unwatch(self, channel: str, arg: str) -> Rendered:
        text = arg.strip().lstrip("#")
        if not text.isdigit() or len(text) > 12:
            return messages._simple(
                "Say which watch to remove: `/fixcheck unwatch ID` (the `#ID` from `/fixcheck watches`)."
            )

        def work() -> Rendered:
            if self.store.remove(channel, int(text)):
                log.info("watch #%s removed", text)
                return messages._simple(f"Watch #{text} removed: no more reminders for it, and its row is deleted.")
            return messages._simple(f"There is no watch #{text} in this channel. `/fixcheck watches` lists them.")

        return self._guard("unwatch", work)

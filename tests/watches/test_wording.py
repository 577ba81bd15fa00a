"""What watches say about time: singular days, "today", "expired N days ago", replacements and expired certificates."""

from __future__ import annotations

import datetime as dt
import json

from bot.watches import messages
from bot.watches.service import WatchService
from bot.watches.store import Store, Watch
from tests.watches.helpers import T0, facts

H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def _watch(store: Store, deadline: dt.datetime, channel: str = "C_W") -> Watch:
    return store.add("T1", channel, facts("wording", deadline), "U1", T0)


def test_left_words() -> None:
    deadline = dt.datetime(2027, 3, 10, 14, 0, tzinfo=dt.UTC)
    assert messages.left_words(deadline, deadline - 3 * DAY) == "3 days left"
    assert messages.left_words(deadline, deadline - DAY) == "1 day left"
    assert messages.left_words(deadline, deadline - 5 * H) == "expires today at 14:00 UTC"
    assert messages.left_words(deadline, deadline + 2 * H) == "expired today at 14:00 UTC"
    assert messages.left_words(deadline, deadline + DAY) == "expired 1 day ago"
    assert messages.left_words(deadline, deadline + 12 * DAY) == "expired 12 days ago"


def test_reminders_and_listings_say_day_today_and_ago(store: Store) -> None:
    deadline = T0 + 40 * DAY + 5 * H  # 14:00 UTC
    w = _watch(store, deadline)
    text, blocks = messages.reminder(w, 1, deadline - DAY)
    shown = text + json.dumps(blocks)
    assert "1 day left" in shown and "1 days" not in shown and "Next reminder on the day itself" in shown
    late, _ = messages.reminder(w, 0, deadline + 2 * H)  # a tick after the not-after time, same day
    late_blocks = json.dumps(messages.reminder(w, 0, deadline + 2 * H)[1])
    assert "expired *today* at 14:00 UTC" in late_blocks and "expires *today*" not in late_blocks
    assert "expired today at 14:00 UTC" in late and "(0 days)" not in late
    listing = json.dumps(messages.watch_list([w], 1, 1, deadline + 12 * DAY)[1])
    assert "expired 12 days ago" in listing and "-12 days" not in listing
    home = json.dumps(messages.home_view([w], deadline - DAY))
    assert "1 day left" in home and "1 days" not in home
    confirm = messages.confirmation(w, deadline - 3 * DAY)[0]
    assert "(1 day before)" in confirm and "1 days" not in confirm


def test_a_replacement_that_keeps_its_id_is_worded_right(store: Store) -> None:
    old = _watch(store, T0 + 40 * DAY)
    renewed = facts("wording", T0 + 400 * DAY)
    service = WatchService(store, clock=lambda: T0)
    text = service.add("T1", "C_W", "U1", json.dumps({"replace": old.id, "facts": json.loads(renewed.to_json())}))[0]
    new_id = int(text.split("Watch #", 1)[1].split(" ", 1)[0].rstrip(":"))
    assert f"replaces #{new_id}" not in text
    if new_id == old.id:  # SQLite reuses the id of the row it has just deleted
        assert "now follows this certificate" in text
    else:
        assert f"replaces #{old.id}" in text


def test_an_expired_certificate_gets_no_watch_and_says_what_to_do(store: Store) -> None:
    service = WatchService(store, clock=lambda: T0)
    gone = facts("gone", T0 - 12 * DAY)
    text = service.add("T1", "C_X", "U1", gone.to_json())[0]
    assert "No watch added" in text and "expired 12 days ago" in text and "What to do" in text
    assert "openssl" in text  # the guide's renewal commands
    assert service.listing("C_X", "")[0].startswith("No watches")

"""One scheduler replica for the exactly-once test: ticks every 3 hours over 60 days of injected time.

    python -c "from tests.watches.ticker import main; main()" DATABASE_URL SLACK_API_URL NAME PEER FOLDER

Replicas share one clock in production (NTP); here the two processes keep the same
injected clock by meeting at a file barrier in FOLDER before each tick. Prints `sent N`.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

from slack_sdk import WebClient

from bot.slack.reminders import slack_poster
from bot.watches.scheduler import run_once
from bot.watches.store import Store
from tests.slack.fakeslack import BOT_TOKEN
from tests.watches.helpers import T0

STEP = dt.timedelta(hours=3)
TICKS = 60 * 8


def meet(folder: Path, name: str, peer: str, tick: int) -> None:
    (folder / f"{name}.{tick}").touch()
    deadline = time.monotonic() + 60
    while not (folder / f"{peer}.{tick}").exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{peer} did not reach tick {tick}")
        time.sleep(0.001)


def main() -> None:
    url, api_url, name, peer, folder = sys.argv[1:6]
    store = Store(url)
    post = slack_poster(WebClient(token=BOT_TOKEN, base_url=api_url, timeout=10))
    sent = 0
    for tick in range(TICKS):
        meet(Path(folder), name, peer, tick)
        sent += run_once(store, post, T0 + tick * STEP, name).sent
    store.close()
    print(f"sent {sent}")

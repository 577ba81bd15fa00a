"""Socket Mode under load, on 127.0.0.1: ack latency, reply latency, reconnect time.

Starts the fake Slack Web API, the WebSocket fake of Slack (tests/slack/fakesocket.py),
a stalled "FIX server", and the bot itself (`python -m bot`, Socket Mode), then:

1. a burst of 50 envelopes at once: 25 `/fixcheck 127.0.0.1:<stalled>` (each starts a
   probe that hangs until the probe timeout) and 25 uploads of an onboarding (each a
   full diagnosis); acknowledgement latency p50/p99/max (envelope sent -> ack received),
   against a same-process baseline of 50 `help` commands on an idle bot;
2. the reply to an uploaded onboarding: envelope sent -> chat.postMessage received,
   median over sequential uploads;
3. reconnects after a TCP drop without a close frame: drop -> a new connection whose
   first envelope is acknowledged, max over several drops.

    PYTHONPATH=. python3 bench/socket_mode.py [--uploads 15] [--drops 5]

Targets (issue 13): ack p99 <= 200 ms; reply median <= 1 s; reconnect <= 15 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.lab.onboarding import make_client, make_server  # noqa: E402
from tests.slack.fakeslack import APP_TOKEN, TEAM_ID, FakeSlack, event_body  # noqa: E402
from tests.slack.fakesocket import FakeSocketMode  # noqa: E402
from tests.slack.localservers import LOOPBACK, StallServer, bot_env, free_port, start_bot, stop_bot  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def command(slack: FakeSlack, text: str, n: int) -> dict[str, Any]:
    return {
        "team_id": TEAM_ID, "channel_id": "CBENCH", "user_id": f"UBENCH{n}", "command": "/fixcheck", "text": text,
        "api_app_id": "AFIXCHECK", "response_url": slack.response_url(f"bench{n}"), "trigger_id": f"t{n}",
    }  # fmt: skip


def upload(slack: FakeSlack, files: dict[str, bytes], n: int) -> tuple[dict[str, Any], str]:
    objs = [slack.add_file(f"F{n}X{i}", name, data).obj(slack.base) for i, (name, data) in enumerate(files.items())]
    channel = f"CUP{n}"
    event = {
        "type": "message", "subtype": "file_share", "channel": channel, "channel_type": "channel",
        "user": f"UUP{n}", "text": "", "ts": f"{time.time():.6f}", "files": objs,
    }  # fmt: skip
    return json.loads(event_body(event, f"EvBENCH{n}")), channel


def burst(sm: FakeSocketMode, envelopes: list[tuple[str, dict[str, Any]]]) -> list[float]:
    ids = [sm.send(kind, payload) for kind, payload in envelopes]
    acks = [sm.wait_ack(i, 30) for i in ids]
    return [a.acked_at - a.sent_at for a in acks]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=15)
    parser.add_argument("--drops", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack, FakeSocketMode() as sm:
        client, server = make_client(Path(tmp) / "client"), make_server(Path(tmp) / "server")
        files = {
            "fix.itbit.pem": client.bundle.read_bytes(), "ca.crt": client.ca_crt.read_bytes(),
            "itbit-ca.pem": server.ca_pem.read_bytes(),
        }  # fmt: skip
        stall = StallServer()
        slack.socket_urls = sm.new_url
        env = bot_env(
            slack, free_port(), f"{LOOPBACK}:{stall.port}", SLACK_APP_TOKEN=APP_TOKEN, FIXCHECK_PROBE_TIMEOUT="3",
            FIXCHECK_PROBES_PER_MINUTE="1000", FIXCHECK_JOBS_PER_MINUTE="10000",
        )  # fmt: skip
        bot = start_bot(env, Path(tmp) / "bot.log")
        try:
            sm.wait_connected(1, 20)
            burst(sm, [("slash_commands", command(slack, "help", 10_000 + n)) for n in range(50)])  # warm-up
            idle = burst(sm, [("slash_commands", command(slack, "help", 20_000 + n)) for n in range(50)])
            mixed: list[tuple[str, dict[str, Any]]] = []
            for n in range(25):
                mixed.append(("slash_commands", command(slack, f"{LOOPBACK}:{stall.port}", n)))
                mixed.append(("events_api", upload(slack, files, 1000 + n)[0]))
            loaded = burst(sm, mixed)
            print(f"ack, 50 envelopes, idle bot (baseline): p50 {statistics.median(idle)*1000:.1f} ms  "
                  f"p99 {percentile(idle, 99)*1000:.1f} ms")
            print(f"ack, 50 envelopes, 25 probes + 25 diagnoses: p50 {statistics.median(loaded)*1000:.1f} ms  "
                  f"p99 {percentile(loaded, 99)*1000:.1f} ms  max {max(loaded)*1000:.1f} ms  "
                  f"(p99 ratio to baseline {percentile(loaded, 99)/percentile(idle, 99):.2f}x; target p99 <= 200 ms)")
            time.sleep(4)  # let the probes time out

            replies = []
            for n in range(args.uploads):
                payload, channel = upload(slack, files, 5000 + n)
                sent = time.monotonic()
                sm.send("events_api", payload)
                post = slack.wait_for(lambda c, ch=channel: c.api == "chat.postMessage" and c.params.get("channel") == ch)
                replies.append(post[0].at - sent)
            print(f"reply to an uploaded onboarding ({args.uploads} uploads): median {statistics.median(replies)*1000:.0f} ms  "
                  f"max {max(replies)*1000:.0f} ms (target median <= 1000 ms)")

            reconnects = []
            for n in range(args.drops):
                count = len(sm.connections)
                start = time.monotonic()
                sm.drop()
                sm.wait_connected(count + 1, 30)
                sm.wait_ack(sm.send("slash_commands", command(slack, "help", 30_000 + n)), 10)
                reconnects.append(time.monotonic() - start)
                time.sleep(1)
            print(f"reconnect after a dropped TCP connection ({args.drops} drops): median "
                  f"{statistics.median(reconnects):.2f} s  max {max(reconnects):.2f} s (target <= 15 s)")
        finally:
            stop_bot(bot)
            stall.close()


if __name__ == "__main__":
    main()

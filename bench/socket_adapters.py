"""Measure slack_sdk's Socket Mode clients against the three behaviours the bot needs.

Run: PYTHONPATH=. python3 bench/socket_adapters.py  (everything on 127.0.0.1; ~1-2 minutes)

Each client (built-in, websocket-client, websockets, aiohttp) connects to the WebSocket
fake of Slack (tests/slack/fakesocket.py) through the fake Web API's
apps.connections.open, with a listener that only acknowledges. Then:

1. health: after the connection drops and apps.connections.open keeps failing for 8 s,
   does the client's own `is_connected()` say so?
2. dropped TCP (no close frame): seconds until a new connection, and CPU seconds burned
   in that window (a busy loop shows as CPU close to wall time);
3. refresh_requested: latency of the acknowledgement of the first envelope sent as soon
   as the new connection is up;
4. a silent connection (frozen: no FIN, no RST, no pongs): seconds until a new one.

The bot's own watchdog (bot/slack/socket_mode.py) is then measured the same way on the
chosen client, so the README's numbers come from this one script.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_sdk import WebClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from tests.slack.fakeslack import APP_TOKEN, FakeSlack
from tests.slack.fakesocket import FakeSocketMode

DROP_WAIT = 20.0  # seconds we wait for a reconnect before calling it "not within 20 s"
SILENT_WAIT = 30.0


@dataclass
class Result:
    name: str
    health_sees_drop: str
    reconnect_s: float | None
    cpu_s: float
    refresh_ack_s: float | None
    silent_s: float | None = None


def _payload() -> dict[str, Any]:
    return {"command": "/fixcheck", "text": "help", "user_id": "UBENCH", "response_url": "http://127.0.0.1:9/x"}


def _wait(pred: Callable[[], bool], timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred():
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def measure(name: str, start: Callable[[FakeSlack], Callable[[], bool]], stop: Callable[[], None]) -> Result:
    with FakeSlack() as slack, FakeSocketMode() as sm:
        slack.socket_urls = sm.new_url
        is_connected = start(slack)
        sm.wait_connected(1, 20)
        # 1. health while the socket is down and apps.connections.open fails
        slack.connections_open_failures = 10_000
        sm.drop()
        time.sleep(8)
        health = "yes" if not is_connected() else "no (still says connected)"
        slack.connections_open_failures = 0
        sm.wait_connected(2, 30)
        time.sleep(1)
        # 2. a dropped TCP connection: time to reconnect, CPU burned meanwhile
        before = len(sm.connections)
        cpu0 = time.process_time()
        sm.drop()
        took = _wait(lambda: len(sm.connections) > before, DROP_WAIT)
        cpu = time.process_time() - cpu0  # the fake is idle meanwhile: this is the client's CPU
        # 3. refresh_requested, then the first envelope on the new connection
        refresh: float | None = None
        try:
            sm.wait_connected(before + 1, 30)
            time.sleep(0.5)
            n = len(sm.connections)
            sm.disconnect("refresh_requested")
            sm.wait_connected(n + 1, 20)
            envelope = sm.send("slash_commands", _payload())
            ack = sm.wait_ack(envelope, 10)
            refresh = ack.acked_at - ack.sent_at
        except AssertionError:
            refresh = None
        # 4. a connection that goes silent
        n = len(sm.connections)
        sm.freeze()
        silent = _wait(lambda: len(sm.connections) > n, SILENT_WAIT)
        stop()
        return Result(name, health, took, cpu, refresh, silent)


def _sync_client(kind: str) -> tuple[Callable[[FakeSlack], Callable[[], bool]], Callable[[], None]]:
    holder: dict[str, Any] = {}

    def start(slack: FakeSlack) -> Callable[[], bool]:
        web = WebClient(token="xoxb-unused", base_url=slack.api_url)
        if kind == "builtin":
            from slack_sdk.socket_mode.builtin import SocketModeClient as Builtin

            client: Any = Builtin(app_token=APP_TOKEN, web_client=web)
        else:
            from slack_sdk.socket_mode.websocket_client import SocketModeClient as WsClient

            client = WsClient(app_token=APP_TOKEN, web_client=web)

        def ack(c: Any, req: SocketModeRequest) -> None:
            c.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

        client.socket_mode_request_listeners.append(ack)
        client.connect()
        holder["c"] = client
        return lambda: bool(client.is_connected())

    return start, lambda: holder["c"].close()


def _async_client(kind: str) -> tuple[Callable[[FakeSlack], Callable[[], bool]], Callable[[], None]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    holder: dict[str, Any] = {}

    def start(slack: FakeSlack) -> Callable[[], bool]:
        async def go() -> Any:
            from slack_sdk.web.async_client import AsyncWebClient

            web = AsyncWebClient(token="xoxb-unused", base_url=slack.api_url)
            if kind == "websockets":
                from slack_sdk.socket_mode.websockets import SocketModeClient as Ws
            else:
                from slack_sdk.socket_mode.aiohttp import SocketModeClient as Ws  # type: ignore[assignment]
            client = Ws(app_token=APP_TOKEN, web_client=web)

            async def ack(c: Any, req: SocketModeRequest) -> None:
                await c.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

            client.socket_mode_request_listeners.append(ack)
            await client.connect()
            return client

        client = asyncio.run_coroutine_threadsafe(go(), loop).result(20)
        holder["c"] = client
        return lambda: bool(asyncio.run_coroutine_threadsafe(client.is_connected(), loop).result(5))

    def stop() -> None:
        try:
            asyncio.run_coroutine_threadsafe(holder["c"].close(), loop).result(10)
        except Exception:
            pass
        loop.call_soon_threadsafe(loop.stop)

    return start, stop


def _bot_handler() -> tuple[Callable[[FakeSlack], Callable[[], bool]], Callable[[], None]]:
    """The bot's own Socket Mode runner (chosen client + watchdog), with a Bolt app that only acks."""
    from slack_bolt import App

    from bot.slack.socket_mode import SocketRunner

    holder: dict[str, Any] = {}

    def start(slack: FakeSlack) -> Callable[[], bool]:
        app = App(
            client=WebClient(token="xoxb-unused", base_url=slack.api_url),
            token_verification_enabled=False,
            request_verification_enabled=False,
        )
        app.command("/fixcheck")(lambda ack: ack())
        runner = SocketRunner(app, APP_TOKEN)
        runner.start()
        holder["r"] = runner
        return lambda: bool(runner.state.connected)

    return start, lambda: holder["r"].close()


def main() -> None:
    logging.basicConfig(level=logging.CRITICAL)
    which = sys.argv[1:] or ["builtin", "websocket_client", "websockets", "aiohttp", "bot"]
    results = []
    for name in which:
        if name in ("builtin", "websocket_client"):
            start, stop = _sync_client(name)
        elif name == "bot":
            start, stop = _bot_handler()
        else:
            start, stop = _async_client(name)
        results.append(measure(name, start, stop))
        print(f"measured {name}", file=sys.stderr, flush=True)
    print(f"{'client':18} {'is_connected() sees drop':28} {'reconnect (s)':>14} {'CPU in window (s)':>18} {'ack after refresh (s)':>22} {'silent: reconnect (s)':>22}")
    for r in results:
        rec = f"{r.reconnect_s:.2f}" if r.reconnect_s is not None else f">{DROP_WAIT:.0f}"
        ref = f"{r.refresh_ack_s:.3f}" if r.refresh_ack_s is not None else "no ack"
        sil = f"{r.silent_s:.2f}" if r.silent_s is not None else f">{SILENT_WAIT:.0f}"
        print(f"{r.name:18} {r.health_sees_drop:28} {rec:>14} {r.cpu_s:>18.2f} {ref:>22} {sil:>22}")


if __name__ == "__main__":
    main()

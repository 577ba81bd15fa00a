"""Socket Mode that survives the network: the websocket-client adapter plus a watchdog.

Why this client (measured with bench/socket_adapters.py against the WebSocket fake of
Slack; numbers in the README): slack_sdk's built-in client never noticed a TCP drop
without a close frame (no reconnect in 20 s, 9-19 s of CPU in a `recv()` busy loop),
kept reporting itself connected, and acknowledged the first envelope after a
`refresh_requested` disconnect in ~3.07 s. The `websocket-client` adapter reconnected
in ~0.5 s with no CPU to speak of and acked in ~1 ms; it is also the only other one
that runs the bot's synchronous Bolt `App` (`websockets` and `aiohttp` need `AsyncApp`).
What it does not do, the bot does here:

- a connection that goes silent (no FIN, no RST: a NAT entry or a firewall that
  forgot it) was never noticed (no reconnect in 30 s): the client pings every
  PING_INTERVAL s and the watchdog shuts the socket down after STALE_AFTER s with no
  pong or message, so the client's own reconnect runs;
- `/healthz` needs "down for how long", which no client tracks: `SocketState`;
- while `apps.connections.open` fails, the watchdog retries with capped backoff.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.slack import metrics

log = logging.getLogger(__name__)

PING_INTERVAL = 3.0  # seconds between the client's pings
STALE_AFTER = 9.0  # no pong or message for this long: the connection is dead (< 15 s with the check interval)
CHECK_EVERY = 1.0
BACKOFF_MAX = 30.0
# The client logs every envelope, payload included, at DEBUG. By default it uses the Bolt
# app's logger, which Bolt sets to the root level (DEBUG when FIXCHECK_LOG_LEVEL=DEBUG);
# a logger under `slack_sdk` is held at INFO by logs.configure, so payloads never reach the log.
CLIENT_LOGGER = "slack_sdk.socket_mode.fixcheck"
FATAL_ERRORS = ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "not_allowed_token_type")


@dataclass
class SocketState:
    """What /healthz and /readyz read: is the socket up, and since when is it down."""

    connected: bool = False
    down_since: float = field(default_factory=time.monotonic)
    opened: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def up(self) -> None:
        with self.lock:
            if not self.connected:
                self.opened += 1
                if self.opened > 1:
                    metrics.socket_reconnects.inc()
            self.connected = True
        metrics.socket_connected.set(1)

    def down(self) -> None:
        with self.lock:
            if self.connected:
                self.down_since = time.monotonic()
            self.connected = False
        metrics.socket_connected.set(0)

    def down_for(self) -> float:
        with self.lock:
            return 0.0 if self.connected else time.monotonic() - self.down_since


_KINDS = {"slash_commands": "command", "events_api": "event", "interactive": "interactive"}


class _TimedHandler(SocketModeHandler):
    """Bolt's handler, observing `fixcheck_ack_seconds` (Bolt's dispatch until the ack is sent).

    Time the envelope waits in the client's queue is not in it; bench/socket_mode.py
    measures the whole path from Slack's side.
    """

    def handle(self, client: Any, req: SocketModeRequest) -> None:
        start = time.monotonic()
        super().handle(client, req)
        metrics.ack_seconds.labels(_KINDS.get(req.type, "other")).observe(time.monotonic() - start)


class SocketRunner:
    """Bolt's websocket-client Socket Mode handler, watched."""

    def __init__(self, app: App, app_token: str) -> None:
        self.state = SocketState()
        self.handler = _TimedHandler(
            app, app_token, web_client=app.client, ping_interval=PING_INTERVAL, logger=logging.getLogger(CLIENT_LOGGER)
        )
        client = self.handler.client
        client.on_open_listeners.append(self._on_open)
        client.on_close_listeners.append(lambda ws: self._on_lost("closed", ws))
        client.on_error_listeners.append(lambda ws, err: self._on_lost(type(err).__name__, ws))
        client.on_message_listeners.append(self._on_message)
        self._last_seen = time.time()
        self._stop = threading.Event()
        self._backoff = 1.0
        self._next_try = 0.0
        self._watchdog = threading.Thread(target=self._watch, name="fixcheck-socket-watchdog", daemon=True)

    def start(self) -> None:
        """Connect once (raising on a rejected app token), then keep the connection up in the background."""
        try:
            self.handler.connect()  # type: ignore[no-untyped-call]
        except SlackApiError as exc:
            if _slack_error(exc) in FATAL_ERRORS:
                raise
            log.error("Socket Mode: apps.connections.open failed (%s); retrying in the background", _slack_error(exc))
        except OSError as exc:
            log.error("Socket Mode: cannot reach Slack (%s); retrying in the background", type(exc).__name__)
        self._watchdog.start()

    def close(self) -> None:
        self._stop.set()
        self.handler.client.close()
        self.state.down()

    # --- listeners (run on the client's threads) ------------------------------------------
    def _on_open(self, _ws: Any) -> None:
        self._last_seen = time.time()
        self._backoff = 1.0
        self.state.up()
        log.info("Socket Mode: connected")

    def _on_message(self, _ws: Any, _message: str) -> None:
        self._last_seen = time.time()

    def _on_lost(self, why: str, ws: Any = None) -> None:
        if ws is not None and ws is not self.handler.client.current_session:
            # An old session closing after its replacement opened (a refresh_requested
            # disconnect): the connection is up; marking it down would make the watchdog
            # force yet another connection and drop envelopes sent on the new one.
            return
        if self.state.connected:
            log.warning("Socket Mode: connection lost (%s); reconnecting", why)
        self.state.down()

    # --- the watchdog ----------------------------------------------------------------------
    def _watch(self) -> None:
        while not self._stop.wait(CHECK_EVERY):
            try:
                self._check()
            except Exception as exc:  # noqa: BLE001 - the watchdog must outlive any one failure
                log.error("Socket Mode watchdog: %s", type(exc).__name__)

    def _check(self) -> None:
        session = self.handler.client.current_session
        pong = float(getattr(session, "last_pong_tm", 0.0) or 0.0)
        silent = time.time() - max(self._last_seen, pong)
        if self.state.connected and silent > STALE_AFTER:
            log.warning("Socket Mode: no pong or message for %.0f s; opening a new connection", silent)
            self.state.down()
            # Shut the dead socket down rather than close it politely (a close frame would wait
            # 3 s for an answer that never comes): the client's own on_close reconnects at once.
            _shutdown(session)
            self._next_try = time.monotonic() + 2 * CHECK_EVERY
        elif not self.state.connected and time.monotonic() >= self._next_try:
            self._reconnect()

    def _reconnect(self) -> None:
        # Until on_open says so, a new connection is only on its way: wait before forcing another.
        self._next_try = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)
        try:
            self.handler.client.connect_to_new_endpoint(force=True)
            self._last_seen = time.time()
        except SlackApiError as exc:
            self._retry_later(_slack_error(exc))
        except Exception as exc:  # noqa: BLE001 - network errors of any kind: retry later
            self._retry_later(type(exc).__name__)

    def _retry_later(self, why: str) -> None:
        log.error(
            "Socket Mode: reconnect failed (%s); next try in %.0f s (/readyz is 503 until connected)",
            why,
            self._next_try - time.monotonic(),
        )
        metrics.slack_api_errors.labels("apps.connections.open", metrics.label(why)).inc()


def _shutdown(session: Any) -> None:
    raw = getattr(getattr(session, "sock", None), "sock", None)
    if isinstance(raw, socket.socket):
        try:
            raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "error")) if exc.response is not None else "error"

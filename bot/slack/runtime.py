"""The running bot's operational state: health, readiness, the shared store, shutdown.

- `/healthz`: 200 while the process serves; in Socket Mode 503 once the socket has been
  down longer than FIXCHECK_SOCKET_GRACE (a container restart is then the fix).
- `/readyz`: 200 while the replica takes work: not shutting down and, in Socket Mode,
  connected. A shared store that is down never makes a replica unready (it degrades to
  memory and says so in the log and in `fixcheck_shared_store_up`).
- SIGTERM (`shutdown()`): refuse new work, give jobs in flight FIXCHECK_SHUTDOWN_GRACE
  seconds, post "please retry" for each unfinished one, and exit 0 within grace + 5 s.
  The HTTP port stays open meanwhile: /healthz 200, /readyz and POST /slack/events 503.
- With Redis, a small thread renews this replica's job leases and answers "please
  retry" for jobs whose replica died (see `store.JobBook`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient

from bot.slack import render
from bot.slack.services import Services
from bot.slack.socket_mode import SocketRunner
from bot.slack.store import LEASE, JobBook, RedisStore, SharedRateLimiter, SharedSeenEvents
from bot.slack.work import RETRY_TEXT, run_safely
from bot.watches.scheduler import ReminderThread

log = logging.getLogger(__name__)

RETRY_POST_BUDGET = 4.0  # seconds for posting the "please retry" replies after the grace


@dataclass
class Runtime:
    services: Services
    socket: SocketRunner | None = None
    store: RedisStore | None = None
    book: JobBook | None = None
    reminders: ReminderThread | None = None  # expiry watches' scheduler (bot.slack.reminders)
    stopping: threading.Event = field(default_factory=threading.Event)
    stop_requested_at: float | None = None
    _shutdown_lock: threading.Lock = field(default_factory=threading.Lock)
    _shut_down: bool = False

    @property
    def mode(self) -> str:
        return "socket" if self.services.settings.socket_mode else "http"

    def health(self) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"ok": True, "mode": self.mode}
        if self.socket is not None:
            down = self.socket.state.down_for()
            body["socket_connected"] = self.socket.state.connected
            if down > self.services.settings.socket_grace:
                body.update(
                    ok=False,
                    error=f"Socket Mode connection down for {down:.0f} s",
                    fix="check outbound HTTPS/WSS to slack.com and that SLACK_APP_TOKEN has connections:write "
                    "(the log says why apps.connections.open failed)",
                )
        return (200 if body["ok"] else 503), body

    def ready(self) -> tuple[int, dict[str, Any]]:
        reasons = []
        if self.stopping.is_set():
            reasons.append("shutting down")
        if self.socket is not None and not self.socket.state.connected:
            reasons.append("Socket Mode not connected")
        body: dict[str, Any] = {"ready": not reasons, "mode": self.mode}
        if reasons:
            body["reasons"] = reasons
        if self.store is not None:
            body["shared_store"] = "up" if self.store.up else "down (using this replica's memory)"
        return (200 if not reasons else 503), body

    def request_stop(self) -> None:
        """SIGTERM: from now on, no new work (Socket Mode stops reading envelopes)."""
        if self.stopping.is_set():
            return
        self.stop_requested_at = time.monotonic()
        self.stopping.set()
        log.info(
            "shutdown requested (SIGTERM): taking no new work; jobs in flight get %.0f s",
            self.services.settings.shutdown_grace,
        )
        if self.socket is not None:
            threading.Thread(target=self.socket.close, name="fixcheck-socket-close", daemon=True).start()

    def shutdown(self) -> None:
        """Drain the workers, tell the unfinished jobs' users to retry, close what is open.

        Runs once: the drain thread (HTTP keeps serving meanwhile) and the exit path both call it,
        and the second caller waits for the first instead of posting the retries again.
        """
        with self._shutdown_lock:
            if not self._shut_down:
                self._drain()
                self._shut_down = True

    def _drain(self) -> None:
        self.request_stop()
        started = self.stop_requested_at or time.monotonic()
        grace = max(0.0, self.services.settings.shutdown_grace - (time.monotonic() - started))
        unfinished = self.services.workers.drain(grace)
        if unfinished:
            log.warning("shutdown: %d job(s) unfinished after the grace; asking their users to retry", len(unfinished))
            _run_bounded(unfinished, RETRY_POST_BUDGET)
        if self.book is not None:
            self.book.close_all()
        log.info("shutdown complete")


def attach_store(services: Services, url: str) -> tuple[RedisStore, JobBook]:
    """Swap the in-memory de-duplication and limits for shared ones, and record jobs in flight."""
    store = RedisStore(url)
    settings = services.settings
    services.seen = SharedSeenEvents(store)
    services.probe_limiter = SharedRateLimiter(store, "probes", settings.probes_per_minute)
    services.job_limiter = SharedRateLimiter(store, "jobs", settings.jobs_per_minute)
    services.flood_notices = SharedRateLimiter(store, "notices", 1)
    book = JobBook(store, uuid.uuid4().hex[:12])
    services.workers.hooks = book
    if not store.ping():
        log.error("shared store (Redis) not reachable at start-up; using this replica's memory until it is")
    return store, book


def start_fleet_thread(runtime: Runtime, client: WebClient) -> threading.Thread:
    """Renew this replica's leases; answer for the jobs of replicas that died."""
    assert runtime.book is not None and runtime.store is not None
    book, store = runtime.book, runtime.store

    def loop() -> None:
        while not runtime.stopping.wait(LEASE / 3):
            try:
                store.ping()  # keeps fixcheck_shared_store_up true even when no event arrives
                book.renew()
                for target in book.orphans():
                    _post_retry(runtime.services, client, target)
            except Exception as exc:  # noqa: BLE001 - this thread must outlive any one failure
                log.error("shared job bookkeeping failed: %s", type(exc).__name__)

    thread = threading.Thread(target=loop, name="fixcheck-fleet", daemon=True)
    thread.start()
    return thread


def _post_retry(services: Services, client: WebClient, target: Mapping[str, str]) -> None:
    message = render.render_text(RETRY_TEXT)

    def post(_: render.Message) -> None:
        if "response_url" in target:
            services.post_response(target["response_url"], message.text, message.blocks)
        elif "channel" in target and "thread_ts" in target:
            client.chat_postMessage(
                channel=target["channel"], thread_ts=target["thread_ts"], text=message.text, blocks=message.blocks
            )

    log.warning("a job of a replica that stopped was not answered; asking its user to retry")
    run_safely(post, lambda: post(message))


def _run_bounded(calls: list[Callable[[], None]], budget: float) -> None:
    """Run `calls` at once in threads; return after `budget` seconds whatever they do."""
    threads = [threading.Thread(target=c, daemon=True) for c in calls]
    for t in threads:
        t.start()
    deadline = time.monotonic() + budget
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))

"""Background work: a bounded worker pool, a per-user probe rate limit, event de-duplication.

Listeners acknowledge Slack at once and hand the real work (downloads, diagnosis,
network probes, replies) to `Workers`; Bolt's own listener threads are never held up,
so acknowledgements stay fast while slow probes run.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from bot.slack import metrics

log = logging.getLogger(__name__)


class JobHooks(Protocol):
    """Where in-flight jobs are also recorded (the shared store's `JobBook`, with Redis)."""

    def open(self, job_id: str, target: Mapping[str, str]) -> None: ...

    def close(self, job_id: str) -> None: ...


class Workers:
    """A fixed number of threads and a bounded queue in front of them.

    Every accepted job is remembered until it ends, with what to do if it never does
    (`abandon`: post "please retry"), so that `drain()` can keep SIGTERM's promise.
    """

    def __init__(self, size: int, *, queue_limit: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="fixcheck-job")
        self._limit = queue_limit if queue_limit is not None else size * 16
        self._inflight: dict[str, Callable[[], None] | None] = {}
        self._accepting = True
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.hooks: JobHooks | None = None

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._inflight)

    @property
    def accepting(self) -> bool:
        with self._lock:
            return self._accepting

    def submit(
        self,
        fn: Callable[[], None],
        *,
        abandon: Callable[[], None] | None = None,
        target: Mapping[str, str] | None = None,
    ) -> bool:
        """Queue `fn`; False when the queue is full or the process is shutting down."""
        job_id = uuid.uuid4().hex
        with self._lock:
            if not self._accepting or len(self._inflight) >= self._limit:
                metrics.jobs_refused.inc()
                return False
            self._inflight[job_id] = abandon
            metrics.jobs_queued.set(len(self._inflight))
        hooks = self.hooks
        if hooks is not None and target is not None:
            hooks.open(job_id, target)
        future = self._pool.submit(fn)
        future.add_done_callback(lambda f: self._done(job_id, f))
        return True

    def _done(self, job_id: str, future: Future[None]) -> None:
        with self._lock:
            self._inflight.pop(job_id, None)
            metrics.jobs_queued.set(len(self._inflight))
            self._idle.notify_all()
        if self.hooks is not None:
            self.hooks.close(job_id)
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:  # jobs handle their own errors; this is a last resort
            log.error("background job crashed: %s", type(exc).__name__)

    def drain(self, grace: float) -> list[Callable[[], None]]:
        """Refuse new jobs, wait up to `grace` s for the rest; return the `abandon` of each unfinished one."""
        deadline = time.monotonic() + grace
        with self._lock:
            self._accepting = False
            while self._inflight and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)
            unfinished = [a for a in self._inflight.values() if a is not None]
        self._pool.shutdown(wait=False, cancel_futures=True)
        return unfinished

    def shutdown(self, wait: bool = False) -> None:
        with self._lock:
            self._accepting = False
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


class RateLimiter:
    """At most `limit` events per `window` seconds per key (a sliding window)."""

    def __init__(self, limit: int, window: float = 60.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= self._window:
                hits.popleft()
            if len(hits) >= self._limit:
                return False
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle users
                for k in [k for k, v in self._hits.items() if not v]:
                    del self._hits[k]
            return True

    def retry_after(self, key: str) -> int:
        with self._lock:
            hits = self._hits.get(key)
            if not hits:
                return 0
            return max(1, int(self._window - (self._clock() - hits[0])) + 1)


class SeenEvents:
    """Remembers event ids for `ttl` seconds so that Slack's retries run nothing twice."""

    def __init__(self, ttl: float = 3600.0, max_size: int = 50_000) -> None:
        self._ttl = ttl
        self._max = max_size
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, event_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._seen:
                oldest, at = next(iter(self._seen.items()))
                if now - at < self._ttl and len(self._seen) < self._max:
                    break
                del self._seen[oldest]
            if event_id in self._seen:
                return False
            self._seen[event_id] = now
            return True

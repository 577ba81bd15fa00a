"""Background work: a bounded worker pool, a per-user probe rate limit, event de-duplication.

Listeners acknowledge Slack at once and hand the real work (downloads, diagnosis,
network probes, replies) to `Workers`; Bolt's own listener threads are never held up,
so acknowledgements stay fast while slow probes run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger(__name__)


class Workers:
    """A fixed number of threads and a bounded queue in front of them."""

    def __init__(self, size: int, *, queue_limit: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="fixcheck-job")
        self._limit = queue_limit if queue_limit is not None else size * 16
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def submit(self, fn: Callable[[], None]) -> bool:
        """Queue `fn`; False when the queue is full (the caller says "busy, try again")."""
        with self._lock:
            if self._pending >= self._limit:
                return False
            self._pending += 1
        future = self._pool.submit(fn)
        future.add_done_callback(self._done)
        return True

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending -= 1
        exc = future.exception()
        if exc is not None:  # jobs handle their own errors; this is a last resort
            log.error("background job crashed: %s", type(exc).__name__)

    def shutdown(self, wait: bool = False) -> None:
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

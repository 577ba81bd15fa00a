"""The optional shared store: Redis (FIXCHECK_REDIS_URL) behind the in-memory classes.

Several replicas share, through one Redis:
- event de-duplication: `SET NX` of the event id, so a Slack retry that lands on
  another replica (or after a restart) runs nothing twice;
- replay protection: `SET NX` of each signed request's signature for twice Slack's
  5-minute window, so a captured request replayed to another replica is refused too;
- per-user limits: one sorted set per user and limit, trimmed and counted in a Lua
  script on Redis's clock, so the window is the same whichever replica counts;
- the jobs in flight: a record per job (where to answer) plus a lease that its
  replica renews; when a replica dies, another one finds the expired lease and tells
  the user "please retry" (exactly one replica wins the `HDEL`).

Redis is never allowed to take the bot down. Every call has a short timeout; on the
first failure the store logs one line, sets `fixcheck_shared_store_up 0` and the
classes fall back to their in-memory parent for `RETRY_AFTER` seconds before trying
Redis again (so a dead Redis costs one timeout per 5 s, not one per event).
Records hold ids and reply targets only, never message text or file contents.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import redis

from bot.slack import metrics
from bot.slack.jobs import RateLimiter, SeenEvents
from bot.slack.signature import ReplayGuard

log = logging.getLogger(__name__)

T = TypeVar("T")
PREFIX = "fixcheck:"
RETRY_AFTER = 5.0  # seconds of in-memory behaviour after a Redis failure before trying again
TIMEOUT = 0.5  # seconds per Redis call: these run in Slack's 3-second acknowledgement path
LEASE = 15  # seconds a job's lease lives unless its replica renews it (every LEASE / 3 s)
EVENT_TTL = 3600  # Slack retries an event for at most about an hour

# Sliding window on Redis's own clock (TIME), atomic, so that two replicas counting at
# once cannot both let the limit+1-th request through. Returns {allowed, retry_after}.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if ARGV[3] == '1' and redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #oldest == 0 then return {0, 0} end
return {0, math.floor(window - (now - tonumber(oldest[2]))) + 1}
"""


# An orphan's claim in one step: no lease and the record still there (its job unanswered).
# Only the replica whose HDEL removes the record posts the "please retry".
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('HDEL', KEYS[2], ARGV[1])
"""


class RedisStore:
    """A Redis connection with a breaker: `call()` answers None while Redis is down."""

    def __init__(self, url: str) -> None:
        self.client: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry_on_timeout=False
        )
        self._hit = self.client.register_script(_HIT)
        self._lock = threading.Lock()
        self._up = True
        self._retry_at = 0.0
        self._recovered_at: float | None = None  # monotonic time Redis last came back
        self.on_recover: list[Callable[[], None]] = []  # run once per outage, when Redis answers again
        metrics.shared_store_up.set(1)

    @property
    def up(self) -> bool:
        with self._lock:
            return self._up

    def call(self, fn: Callable[[redis.Redis], T]) -> T | None:
        """`fn(client)`, or None (and in-memory behaviour) while Redis is failing."""
        with self._lock:
            if not self._up and time.monotonic() < self._retry_at:
                return None
        try:
            result = fn(self.client)
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return None
        self._recovered()
        return result

    def since_recovery(self) -> float:
        """Seconds since Redis last came back after an outage (infinity when it never went away)."""
        with self._lock:
            at = self._recovered_at
        return float("inf") if at is None else time.monotonic() - at

    def ping(self) -> bool:
        return self.call(lambda r: bool(r.ping())) is True

    def hit(self, key: str, limit: int, window: float, *, record: bool, member: str) -> tuple[bool, int] | None:
        def run(r: redis.Redis) -> tuple[bool, int]:
            allowed, wait = self._hit(keys=[key], args=[limit, window, "1" if record else "0", member], client=r)
            return bool(allowed), int(wait)

        return self.call(run)

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            was_up, self._up = self._up, False
            self._retry_at = time.monotonic() + RETRY_AFTER
        metrics.shared_store_up.set(0)
        if was_up:  # one line per outage, not one per event
            log.error(
                "shared store (Redis) unavailable: %s; falling back to this replica's memory "
                "(de-duplication and limits are per replica until it is back). "
                'Check it with: redis-cli -u "$FIXCHECK_REDIS_URL" ping',
                type(exc).__name__,
            )

    def _recovered(self) -> None:
        with self._lock:
            was_down, self._up = not self._up, True
            if was_down:
                self._recovered_at = time.monotonic()
        metrics.shared_store_up.set(1)
        if was_down:
            log.warning("shared store (Redis) is back; de-duplication and limits are shared again")
            for hook in self.on_recover:
                hook()

    def close(self) -> None:
        self.client.close()


class SharedSeenEvents(SeenEvents):
    """`SeenEvents` across replicas; each replica also remembers locally for when Redis is down."""

    def __init__(self, store: RedisStore, ttl: float = EVENT_TTL) -> None:
        super().__init__(ttl)
        self._store = store
        self._ttl_s = int(ttl)

    def first_time(self, event_id: str) -> bool:
        local = super().first_time(event_id)
        # SET NX answers None (not False) when the key exists: make it a bool inside the call,
        # where None would mean "Redis is down".
        shared = self._store.call(lambda r: bool(r.set(f"{PREFIX}event:{event_id}", b"1", nx=True, ex=self._ttl_s)))
        return local if shared is None else shared


class SharedReplayGuard(ReplayGuard):
    """`ReplayGuard` across replicas and restarts; each replica also remembers locally for when Redis is down."""

    def __init__(self, store: RedisStore) -> None:
        super().__init__()
        self._store = store

    def first_time(self, signature: str, now: float) -> bool:
        local = super().first_time(signature, now)
        ttl = int(2 * self.window)  # the timestamp may be up to one window ahead
        shared = self._store.call(lambda r: bool(r.set(f"{PREFIX}replay:{signature}", b"1", nx=True, ex=ttl)))
        return local if shared is None else local and shared


class SharedRateLimiter(RateLimiter):
    """`RateLimiter` across replicas (named so that the job, probe and notice limits stay apart)."""

    def __init__(self, store: RedisStore, name: str, limit: int, window: float = 60.0) -> None:
        super().__init__(limit, window)
        self._store = store
        self._name = name
        self._limit_n = limit
        self._window_s = window
        self._seq = 0
        self._seq_lock = threading.Lock()

    def _key(self, key: str) -> str:
        return f"{PREFIX}limit:{self._name}:{key}"

    def allow(self, key: str) -> bool:
        local = super().allow(key)  # kept in step, for when Redis goes away
        with self._seq_lock:
            self._seq += 1
            member = f"{time.time_ns()}-{id(self)}-{self._seq}"
        shared = self._store.hit(self._key(key), self._limit_n, self._window_s, record=True, member=member)
        return local if shared is None else shared[0]

    def retry_after(self, key: str) -> int:
        shared = self._store.hit(self._key(key), self._limit_n, self._window_s, record=False, member="")
        return super().retry_after(key) if shared is None else max(1, shared[1])


class JobBook:
    """Jobs in flight in Redis: where to answer, and a lease that says the replica still works on it."""

    def __init__(self, store: RedisStore, replica: str) -> None:
        self._store = store
        self._replica = replica
        self._mine: dict[str, str] = {}
        # Jobs this replica answered while Redis was away: their records must go before another
        # replica's sweeper takes them for orphans and asks the user to retry after the answer.
        self._unclosed: set[str] = set()
        self._lock = threading.Lock()
        self._claim = store.client.register_script(_CLAIM)
        store.on_recover.append(self.reconcile)

    def open(self, job_id: str, target: Mapping[str, str]) -> None:
        record = json.dumps(dict(target))
        with self._lock:
            self._mine[job_id] = record

        def run(r: redis.Redis) -> None:
            pipe = r.pipeline()
            pipe.hset(f"{PREFIX}jobs", job_id, record)
            pipe.set(f"{PREFIX}lease:{job_id}", self._replica, ex=LEASE)
            pipe.execute()

        self._store.call(run)

    def close(self, job_id: str) -> None:
        with self._lock:
            self._mine.pop(job_id, None)
            self._unclosed.add(job_id)
        self._delete([job_id])

    def _delete(self, job_ids: list[str]) -> None:
        def run(r: redis.Redis) -> bool:
            pipe = r.pipeline()
            for job_id in job_ids:
                pipe.hdel(f"{PREFIX}jobs", job_id)
                pipe.delete(f"{PREFIX}lease:{job_id}")
            pipe.execute()
            return True

        if self._store.call(run):
            with self._lock:
                self._unclosed.difference_update(job_ids)

    def reconcile(self) -> None:
        """Redis is back: delete the records of jobs answered meanwhile, renew the leases of running ones."""
        with self._lock:
            done = list(self._unclosed)
        if done:
            self._delete(done)
        self.renew()

    def close_all(self) -> None:
        """At shutdown, after this replica has asked its users to retry: no other replica must ask again."""
        with self._lock:
            mine = list(self._mine)
        for job_id in mine:
            self.close(job_id)

    def renew(self) -> None:
        """Extend this replica's leases; re-adds records lost while Redis was down."""
        with self._lock:
            mine = dict(self._mine)
            done = list(self._unclosed)
        if done:  # a reconcile that failed half-way: try the deletes again
            self._delete(done)
        if not mine:
            return

        def run(r: redis.Redis) -> None:
            pipe = r.pipeline()
            for job_id, record in mine.items():
                pipe.hset(f"{PREFIX}jobs", job_id, record)
                pipe.set(f"{PREFIX}lease:{job_id}", self._replica, ex=LEASE)
            pipe.execute()

        self._store.call(run)

    def orphans(self) -> Iterator[dict[str, str]]:
        """Reply targets of jobs whose replica stopped renewing; each is handed to one replica only.

        Right after an outage every lease may have run out while its replica was alive but cut
        off: wait one full lease after this replica's own reconnect, so that the others have
        reconnected, renewed their leases and deleted the jobs they answered meanwhile.
        """
        if self._store.since_recovery() < LEASE:
            return
        records = self._store.call(lambda r: r.hgetall(f"{PREFIX}jobs")) or {}
        for raw_id, raw in records.items():
            job_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            with self._lock:
                if job_id in self._mine or job_id in self._unclosed:
                    continue
            if self._claim_orphan(job_id):
                target = _target(raw)
                if target is not None:
                    yield target


    def _claim_orphan(self, job_id: str) -> bool:
        """True for the one replica whose HDEL removes a job whose lease has expired."""

        def run(r: redis.Redis) -> bool:
            return bool(self._claim(keys=[f"{PREFIX}lease:{job_id}", f"{PREFIX}jobs"], args=[job_id], client=r))

        return self._store.call(run) is True


def _target(raw: Any) -> dict[str, str] | None:
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if not isinstance(value, dict):
        return None
    return {str(k): str(v) for k, v in value.items()}

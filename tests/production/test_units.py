"""Unit checks of the production pieces: settings, the Redis breaker, JSON logs, metric labels, draining."""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bot.slack import metrics
from bot.slack import store as store_module
from bot.slack.jobs import Workers
from bot.slack.logs import JsonFormatter
from bot.slack.settings import ConfigError, Settings
from bot.slack.store import RedisStore, SharedRateLimiter, SharedSeenEvents
from tests.production.conftest import RedisServer
from tests.slack.localservers import LOOPBACK, free_port

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


def test_production_settings_are_read_and_validated() -> None:
    s = Settings.from_env({**BASE, "FIXCHECK_REDIS_URL": "redis://r:6379/0", "FIXCHECK_SOCKET_GRACE": "5",
                           "FIXCHECK_SHUTDOWN_GRACE": "2", "FIXCHECK_LOG_FORMAT": "JSON", "FIXCHECK_LOG_LEVEL": "debug"})  # fmt: skip
    assert (s.redis_url, s.socket_grace, s.shutdown_grace, s.log_format, s.log_level) == (
        "redis://r:6379/0", 5.0, 2.0, "json", "DEBUG",
    )
    defaults = Settings.from_env(BASE)
    assert (defaults.redis_url, defaults.socket_grace, defaults.shutdown_grace, defaults.log_format) == (
        None, 30.0, 10.0, "text",
    )
    for name, value in (("FIXCHECK_REDIS_URL", "http://user:secret@r"), ("FIXCHECK_LOG_FORMAT", "xml"),
                        ("FIXCHECK_SOCKET_GRACE", "0"), ("FIXCHECK_SHUTDOWN_GRACE", "soon")):  # fmt: skip
        with pytest.raises(ConfigError, match=name) as raised:
            Settings.from_env({**BASE, name: value})
        assert "secret" not in str(raised.value)


def test_a_dead_redis_degrades_to_memory_with_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    store = RedisStore(f"redis://{LOOPBACK}:{free_port()}/0")  # nothing listens there
    seen, limiter = SharedSeenEvents(store), SharedRateLimiter(store, "t", 2)
    with caplog.at_level(logging.ERROR, logger="bot.slack.store"):
        assert seen.first_time("Ev1") and not seen.first_time("Ev1")
        assert limiter.allow("U") and limiter.allow("U") and not limiter.allow("U")
    assert not store.up
    assert metrics.REGISTRY.get_sample_value("fixcheck_shared_store_up") == 0
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "unavailable" in caplog.records[0].getMessage()


def test_the_shared_limit_is_atomic_across_clients(redis_server: RedisServer) -> None:
    stores = [RedisStore(redis_server.url) for _ in range(4)]
    limiters = [SharedRateLimiter(s, "atomic", 5) for s in stores]
    allowed: list[bool] = []
    lock = threading.Lock()

    def hit(limiter: SharedRateLimiter) -> None:
        for _ in range(5):
            ok = limiter.allow("USAME")
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=hit, args=(lim,)) for lim in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert allowed.count(True) == 5, "four replicas together let exactly the limit through"
    assert 1 <= limiters[0].retry_after("USAME") <= 61


def test_json_lines_redact_and_carry_the_error_id() -> None:
    marker = "-----BEGIN " + "PRIVATE KEY-----"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "job failed error_id=%s: %s", ("0123456789", f"{marker}\nAAAA"), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["error_id"] == "0123456789" and "BEGIN" not in entry["message"]


def test_labels_fold_free_text_into_other() -> None:
    assert metrics.label("chat.postMessage") == "chat.postMessage"
    assert metrics.label("tls.handshake_failed") == "tls.handshake_failed"
    assert metrics.label(None) == "none"
    for value in ("C0123 U999", "fix.itbit.com:443", "127.0.0.1", "[::1]", "x" * 100, "a/b", "Bad request: x"):
        assert metrics.label(value) == "other", value


def test_drain_returns_the_retry_of_each_unfinished_job_and_refuses_new_ones() -> None:
    gate = threading.Event()
    retried: list[str] = []
    pool = Workers(1)
    assert pool.submit(gate.wait, abandon=lambda: retried.append("running"))
    assert pool.submit(lambda: None, abandon=lambda: retried.append("queued"))
    for abandon in pool.drain(0.2):
        abandon()
    assert sorted(retried) == ["queued", "running"]
    assert not pool.submit(lambda: None) and not pool.accepting
    gate.set()


def test_redis_coming_back_is_used_again(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setattr(store_module, "RETRY_AFTER", 0.2)
    store = RedisStore(redis_server.url)
    seen = SharedSeenEvents(store)
    assert seen.first_time("EvBack1")
    redis_server.kill()
    assert seen.first_time("EvBack2") and not store.up
    again = subprocess.Popen(
        ["redis-server", "--bind", LOOPBACK, "--port", str(redis_server.port), "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with caplog.at_level(logging.WARNING, logger="bot.slack.store"):
            deadline = time.monotonic() + 10
            while not store.ping() and time.monotonic() < deadline:
                time.sleep(0.1)
        assert store.up and metrics.REGISTRY.get_sample_value("fixcheck_shared_store_up") == 1
        assert any("is back" in r.getMessage() for r in caplog.records)
        assert seen.first_time("EvBack3") and not seen.first_time("EvBack3")
    finally:
        again.terminate()
        again.wait(5)

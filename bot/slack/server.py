"""Run the bot: HTTP (Starlette under uvicorn) or Socket Mode, chosen by the environment.

- HTTP (no SLACK_APP_TOKEN): `POST /slack/events` takes events, slash commands and
  interactivity, with signatures checked by Bolt; `GET /healthz` answers 200.
- Socket Mode (SLACK_APP_TOKEN set): Slack's WebSocket; `GET /healthz` is still served on
  PORT so that the same container health check works.

Bolt's synchronous `App.dispatch` waits for `ack()`; it runs in a worker thread so the
event loop keeps accepting requests while it does.

Production (see bot.slack.runtime): `GET /healthz` answers 503 in Socket Mode once the
socket has been down longer than FIXCHECK_SOCKET_GRACE; `GET /readyz` and
`GET /metrics` are served in both modes; SIGTERM gives jobs in flight
FIXCHECK_SHUTDOWN_GRACE seconds, then each unfinished one gets a "please retry".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

import httpx
import uvicorn
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import SlackRequestHandler, to_bolt_request, to_starlette_response
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.slack import logs, metrics, reminders, shapes, signature
from bot.slack.app import create_app
from bot.slack.runtime import Runtime, attach_store, start_fleet_thread
from bot.slack.services import Services
from bot.slack.settings import ConfigError, Settings
from bot.slack.socket_mode import SocketRunner
from bot.slack.store import SharedReplayGuard

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
# Slack's payloads are far smaller: a message is at most 40,000 characters and 50 blocks, a modal
# 100 blocks; URL-encoding (`payload=`) at most triples that. A larger body is not Slack.
MAX_BODY_BYTES = 512 * 1024
# Slack sends its whole request at once; a body still arriving after this is an attack that
# holds a connection (200 connections at 1 byte / 2.5 s all stayed open before).
BODY_DEADLINE = 10.0
MAX_BODY_READS = 64  # bodies read at the same time; more is answered 503 at once (Slack retries those)
LIMIT_CONCURRENCY = 256  # uvicorn: connections + tasks beyond this get 503 before any body is read
_body_reads = asyncio.Semaphore(MAX_BODY_READS)  # created unbound: binds to uvicorn's loop at first use


class ThreadedSlackRequestHandler(SlackRequestHandler):
    """Bolt's Starlette adapter, dispatching in a thread instead of on the event loop."""

    async def handle(self, req: Request, addition_context_properties: dict[str, Any] | None = None) -> Response:
        if req.method != "POST":
            return await super().handle(req, addition_context_properties)
        if _body_reads.locked():
            log.warning("too many request bodies being read at once (%d); answered 503", MAX_BODY_READS)
            return Response(status_code=503, content="busy")
        async with _body_reads:
            body = await read_capped(req, MAX_BODY_BYTES)
        if isinstance(body, Response):
            return body
        # In a worker thread: with Redis, the replay check is a network call.
        if (refused := await run_in_threadpool(signature.refusal, self.app, req.headers, body)) is not None:
            return refused  # unsigned: never parsed, dispatched or logged
        try:
            bolt_request = to_bolt_request(req, body, addition_context_properties)
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError):
            # Invalid or too deeply nested JSON (or `payload=`), undecodable bytes, or a payload of the wrong shape, on which
            # Bolt's request parsing raised: uvicorn answered 500 (which Slack retries) with a traceback.
            return Response(status_code=400, content="malformed request body")
        if not well_formed(bolt_request.body):
            return Response(status_code=400, content="malformed request body")
        start = time.monotonic()
        bolt_response = await run_in_threadpool(self.app.dispatch, bolt_request)
        metrics.ack_seconds.labels(metrics.kind_of(bolt_request.body)).observe(time.monotonic() - start)
        return to_starlette_response(bolt_response)


async def read_capped(req: Request, limit: int, deadline: float = BODY_DEADLINE) -> bytes | Response:
    """The request body, or the answer to give instead: 413 as soon as it is known to exceed `limit`
    bytes (never read whole), 408 when it is not all there within `deadline` seconds, and 400
    when the client hung up half-way (starlette's ClientDisconnect logged a 40-line traceback)."""
    declared = req.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return Response(status_code=413, content="payload too large")
    chunks: list[bytes] = []
    total = 0
    try:
        async with asyncio.timeout(deadline):
            async for chunk in req.stream():
                total += len(chunk)
                if total > limit:
                    return Response(status_code=413, content="payload too large")
                chunks.append(chunk)
    except TimeoutError:
        log.warning("a request body was not complete after %g s (%d bytes); answered 408", deadline, total)
        return Response(status_code=408, content="request body too slow", headers={"Connection": "close"})
    except ClientDisconnect:
        log.info("a client hung up while sending its request body (%d bytes read)", total)
        return Response(status_code=400, content="incomplete request body")
    return b"".join(chunks)


def well_formed(body: object) -> bool:
    """What Bolt's middleware assumes of a payload: a JSON object whose `event` (if any) is an object.

    Anything else made Bolt's authorization middleware raise, answered 500 (Slack retries
    those) and logged a traceback per request.
    """
    if not isinstance(body, dict) or not isinstance(body.get("type", ""), str | None):
        return False
    event = body.get("event")
    if shapes.problem(body) is not None:  # interactivity payloads Bolt would index blindly
        return False
    return event is None or (isinstance(event, dict) and isinstance(event.get("type", ""), str | None))


def build_asgi(app: App | None, runtime: Runtime | None = None) -> Starlette:
    """The ASGI app: the Slack endpoint (unless `app` is None, in Socket Mode), health, readiness, metrics."""

    async def healthz(_: Request) -> Response:
        if runtime is None:
            return JSONResponse({"ok": True, "mode": "http" if app is not None else "socket"})
        status, body = runtime.health()
        return JSONResponse(body, status_code=status)

    async def readyz(_: Request) -> Response:
        if runtime is None:
            return JSONResponse({"ready": True})
        status, body = runtime.ready()
        return JSONResponse(body, status_code=status)

    async def metrics_page(_: Request) -> Response:
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)

    routes = [
        Route(HEALTH_PATH, healthz, methods=["GET"]),
        Route(READY_PATH, readyz, methods=["GET"]),
        Route(METRICS_PATH, metrics_page, methods=["GET"]),
    ]
    if app is not None:
        handler = ThreadedSlackRequestHandler(app)

        async def events(req: Request) -> Response:
            if runtime is not None and runtime.stopping.is_set():
                # Shutting down: Slack retries a 503, so the event reaches a replica that stays.
                return Response(status_code=503, content="shutting down")
            return await handler.handle(req)

        routes.append(Route(EVENTS_PATH, events, methods=["POST"]))
    return Starlette(routes=routes)


# The environment the bot reads (bot.slack.settings validates it); README's table says the same.
ENVIRONMENT = (
    ("SLACK_BOT_TOKEN", "required", "bot token xoxb-...; checked with auth.test at start-up"),
    ("SLACK_APP_TOKEN", "unset", "app-level token xapp-...; when set, the bot uses Socket Mode"),
    ("SLACK_SIGNING_SECRET", "required in HTTP mode", "verifies Slack's request signatures"),
    ("SLACK_API_URL", "https://slack.com/api/", "Web API base URL (tests point it at a local fake)"),
    ("PORT", "3000", "HTTP port (/slack/events, /healthz)"),
    ("FIXCHECK_BIND", "0.0.0.0", "address to listen on"),
    ("FIXCHECK_ALLOWED_ENDPOINTS", "*.itbit.com:*,*.paxos.com:*", "host:port patterns the bot may probe"),
    ("FIXCHECK_MAX_FILE_BYTES", "262144", "per-file download cap (at most 1048576)"),
    ("FIXCHECK_WORKERS", "16", "background worker threads"),
    ("FIXCHECK_PROBES_PER_MINUTE", "6", "connection checks per user per minute"),
    ("FIXCHECK_PROBE_TIMEOUT", "10", "seconds allowed for the TCP/TLS probe"),
    ("FIXCHECK_JOBS_PER_MINUTE", "20", "uploads/commands answered per user per minute"),
    ("FIXCHECK_DB", "./fixcheck-watches.db", "SQLite file of expiry watches (public certificate facts only)"),
    ("FIXCHECK_DATABASE_URL", "unset", "PostgreSQL URL for expiry watches shared by several replicas (overrides FIXCHECK_DB)"),
    ("FIXCHECK_REMINDER_INTERVAL", "300", "seconds between the expiry-reminder scheduler's ticks"),
    ("FIXCHECK_REDIS_URL", "unset", "Redis shared by replicas: de-duplication, rate limits, job records"),
    ("FIXCHECK_SOCKET_GRACE", "30", "Socket Mode: seconds the socket may be down before /healthz answers 503"),
    ("FIXCHECK_SHUTDOWN_GRACE", "10", "SIGTERM: seconds jobs in flight get before their users are asked to retry"),
    ("FIXCHECK_LOG_FORMAT", "text", "text, or json (one object per line)"),
    ("FIXCHECK_LOG_LEVEL", "INFO", "log level (LOG_LEVEL is read too); logs never contain keys, PEM blocks or tokens"),
    ("LOG_LEVEL", "INFO", "log level; logs never contain keys, PEM blocks or tokens"),
)
MODES = """modes (chosen by the environment):
  Socket Mode  SLACK_APP_TOKEN set: Slack's WebSocket, no public URL needed; GET /healthz is still
               served on FIXCHECK_BIND:PORT for the container health check.
  HTTP mode    SLACK_APP_TOKEN unset: POST /slack/events, GET /healthz /readyz /metrics on FIXCHECK_BIND:PORT.
               This is plain HTTP: put an HTTPS reverse proxy in front (Slack calls https:// only).
  reminders    `fixcheck-bot reminders --now 2027-01-01T09:00:00Z`: run the expiry-reminder scheduler
               once at that UTC instant and exit (see `fixcheck-bot reminders --help`)."""


def build_parser() -> argparse.ArgumentParser:
    width = max(len(name) for name, _, _ in ENVIRONMENT)
    variables = "\n".join(f"  {name:<{width}}  {meaning} (default: {default})" for name, default, meaning in ENVIRONMENT)
    parser = argparse.ArgumentParser(
        prog="fixcheck-bot",
        description="Run the fixcheck Slack bot. It is configured by environment variables only.",
        epilog=f"{MODES}\n\nenvironment variables:\n{variables}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--healthcheck",
        action="store_true",
        help="ask the running bot's GET /healthz on FIXCHECK_BIND:PORT and exit 0 if it answers (the Docker HEALTHCHECK)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m bot` and `fixcheck-bot`. Returns the exit status."""
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "reminders":  # one expiry-reminder tick (bot.slack.reminders), then exit
        return reminders.main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        print(f"fixcheck-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.healthcheck:
        return healthcheck(settings)
    # Bolt falls back to $SLACK_BOT_TOKEN when it is given no `token`, and then warns at every
    # start that the `client` we give it (our base URL, retries) wins. From here on the token
    # lives in `settings`: nothing else in the process should find it in the environment.
    os.environ.pop("SLACK_BOT_TOKEN", None)
    logs.configure(settings.log_level, settings.log_format)
    services = Services.create(settings)
    runtime = Runtime(services)
    if settings.redis_url:
        runtime.store, runtime.book = attach_store(services, settings.redis_url)
        signature.use_replay_guard(SharedReplayGuard(runtime.store))  # replays across replicas and restarts
    try:
        app = create_app(settings, services=services)
    except (BoltError, SlackApiError) as exc:
        print(
            f"fixcheck-bot: Slack rejected SLACK_BOT_TOKEN (auth.test failed): {logs.redact(str(exc)).replace(chr(10), ' ')[:200]}",
            file=sys.stderr,
        )
        return 2
    except OSError as exc:
        print(f"fixcheck-bot: cannot reach Slack at {settings.api_url}: {type(exc).__name__}", file=sys.stderr)
        return 1
    if runtime.store is not None:
        start_fleet_thread(runtime, app.client)
    runtime.reminders = reminders.start(services, os.environ)
    if settings.socket_mode:
        return _run_socket_mode(app, settings, runtime)
    log.info(
        "fixcheck bot: HTTP mode on %s:%d (POST %s, GET %s %s %s)",
        settings.bind, settings.port, EVENTS_PATH, HEALTH_PATH, READY_PATH, METRICS_PATH,
    )  # fmt: skip
    _serve(build_asgi(app, runtime), settings, runtime)
    return _finish(runtime)


def healthcheck(settings: Settings) -> int:
    """GET /healthz where the bot listens: the configured address, or loopback for a wildcard bind."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(settings.bind, settings.bind)
    url = f"http://{f'[{host}]' if ':' in host else host}:{settings.port}{HEALTH_PATH}"
    try:
        status = httpx.get(url, timeout=4).status_code
    except httpx.HTTPError as exc:
        print(f"fixcheck-bot: unhealthy: {url}: {type(exc).__name__}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"fixcheck-bot: unhealthy: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


class _Server(uvicorn.Server):
    """uvicorn that keeps serving through the drain: the first SIGTERM/SIGINT starts the drain
    in a thread (readiness and events answer 503, health 200) and stops uvicorn when it is done;
    a second signal stops uvicorn at once (the drain still finishes before the exit)."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self.runtime = runtime

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.runtime.stopping.is_set():
            super().handle_exit(sig, frame)
            return
        self.runtime.request_stop()

        def drain_then_stop() -> None:
            try:
                self.runtime.shutdown()
            finally:
                self.should_exit = True  # uvicorn's main loop polls this flag

        threading.Thread(target=drain_then_stop, name="fixcheck-drain", daemon=True).start()


def _serve(asgi: Starlette, settings: Settings, runtime: Runtime) -> None:
    config = uvicorn.Config(
        logs.AccessLog(asgi),
        access_log=False,  # uvicorn's line holds the raw query string: logs.AccessLog writes our own
        limit_concurrency=LIMIT_CONCURRENCY,
        timeout_keep_alive=5,
        host=settings.bind,
        port=settings.port,
        log_config=logs.uvicorn_log_config(settings.log_level, settings.log_format),
        proxy_headers=False,
        server_header=False,
        # By the time uvicorn stops, the jobs have drained: only health checks may be left open.
        timeout_graceful_shutdown=1,
    )
    # uvicorn re-raises the signal it caught once it has stopped; with this handler in place
    # that lands here (a no-op) instead of killing the process before the jobs are drained.
    previous = signal.signal(signal.SIGTERM, _ignore)
    try:
        _Server(config, runtime).run()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _ignore(_sig: int, _frame: FrameType | None) -> None:
    return None


def _finish(runtime: Runtime) -> int:
    """After uvicorn stopped: drain (SIGTERM's promise), then leave without waiting for stuck threads."""
    runtime.shutdown()
    if runtime.reminders is not None:
        runtime.reminders.stop()
    runtime.services.downloader.close()
    if runtime.store is not None:
        runtime.store.close()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # A job still stuck in a probe would make the interpreter wait for its thread at exit;
    # its user has been asked to retry, so exit now, within grace + 5 s as promised.
    os._exit(0)


def _run_socket_mode(app: App, settings: Settings, runtime: Runtime) -> int:
    assert settings.app_token is not None
    runner = SocketRunner(app, settings.app_token)
    try:
        runner.start()
    except SlackApiError as exc:
        print(
            f"fixcheck-bot: Slack rejected SLACK_APP_TOKEN (apps.connections.open failed): {logs.redact(str(exc)).replace(chr(10), ' ')[:200]}",
            file=sys.stderr,
        )
        return 2
    runtime.socket = runner
    log.info(
        "fixcheck bot: Socket Mode; %s %s %s on %s:%d", HEALTH_PATH, READY_PATH, METRICS_PATH, settings.bind, settings.port
    )
    _serve(build_asgi(None, runtime), settings, runtime)
    return _finish(runtime)


if __name__ == "__main__":
    raise SystemExit(main())

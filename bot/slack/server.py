"""Run the bot: HTTP (Starlette under uvicorn) or Socket Mode, chosen by the environment.

- HTTP (no SLACK_APP_TOKEN): `POST /slack/events` takes events, slash commands and
  interactivity, with signatures checked by Bolt; `GET /healthz` answers 200.
- Socket Mode (SLACK_APP_TOKEN set): Slack's WebSocket; `GET /healthz` is still served on
  PORT so that the same container health check works.

Bolt's synchronous `App.dispatch` waits for `ack()`; it runs in a worker thread so the
event loop keeps accepting requests while it does.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import httpx
import uvicorn
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import SlackRequestHandler, to_bolt_request, to_starlette_response
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.slack import logs, reminders, shapes, signature
from bot.slack.app import create_app
from bot.slack.services import Services
from bot.slack.settings import ConfigError, Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAX_BODY_BYTES = 1024 * 1024  # Slack's payloads are far smaller; a larger body is not Slack


class ThreadedSlackRequestHandler(SlackRequestHandler):
    """Bolt's Starlette adapter, dispatching in a thread instead of on the event loop."""

    async def handle(self, req: Request, addition_context_properties: dict[str, Any] | None = None) -> Response:
        if req.method != "POST":
            return await super().handle(req, addition_context_properties)
        body = await read_capped(req, MAX_BODY_BYTES)
        if body is None:
            return Response(status_code=413, content="payload too large")
        if (refused := signature.refusal(self.app, req.headers, body)) is not None:
            return refused  # unsigned: never parsed, dispatched or logged
        try:
            bolt_request = to_bolt_request(req, body, addition_context_properties)
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError):
            # Invalid or too deeply nested JSON (or `payload=`), undecodable bytes, or a payload of the wrong shape, on which
            # Bolt's request parsing raised: uvicorn answered 500 (which Slack retries) with a traceback.
            return Response(status_code=400, content="malformed request body")
        if not well_formed(bolt_request.body):
            return Response(status_code=400, content="malformed request body")
        bolt_response = await run_in_threadpool(self.app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)


async def read_capped(req: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed `limit` bytes (never read whole)."""
    declared = req.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    total = 0
    async for chunk in req.stream():
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
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


def build_asgi(app: App | None) -> Starlette:
    """The ASGI app: the Slack endpoint (unless `app` is None, in Socket Mode) and the health check."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True, "mode": "http" if app is not None else "socket"})

    routes = [Route(HEALTH_PATH, healthz, methods=["GET"])]
    if app is not None:
        handler = ThreadedSlackRequestHandler(app)

        async def events(req: Request) -> Response:
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
    ("LOG_LEVEL", "INFO", "log level; logs never contain keys, PEM blocks or tokens"),
)
MODES = """modes (chosen by the environment):
  Socket Mode  SLACK_APP_TOKEN set: Slack's WebSocket, no public URL needed; GET /healthz is still
               served on FIXCHECK_BIND:PORT for the container health check.
  HTTP mode    SLACK_APP_TOKEN unset: POST /slack/events and GET /healthz on FIXCHECK_BIND:PORT.
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
    logs.configure(settings.log_level)
    services = Services.create(settings)
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
    reminder_thread = reminders.start(services, os.environ)
    try:
        if settings.socket_mode:
            return _run_socket_mode(app, settings)
        log.info(
            "fixcheck bot: HTTP mode on %s:%d (POST %s, GET %s)", settings.bind, settings.port, EVENTS_PATH, HEALTH_PATH
        )
        _serve(build_asgi(app), settings)
        return 0
    finally:
        if reminder_thread is not None:
            reminder_thread.stop()
        services.close()


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


def _serve(asgi: Starlette, settings: Settings) -> None:
    uvicorn.run(
        asgi,
        host=settings.bind,
        port=settings.port,
        log_config=logs.uvicorn_log_config(settings.log_level),
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )


def _run_socket_mode(app: App, settings: Settings) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    assert settings.app_token is not None
    handler = SocketModeHandler(app, settings.app_token, web_client=app.client)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except (SlackApiError, OSError) as exc:
        print(
            f"fixcheck-bot: cannot open a Socket Mode connection (check SLACK_APP_TOKEN): {logs.redact(str(exc)).replace(chr(10), ' ')[:200]}",
            file=sys.stderr,
        )
        return 2
    log.info("fixcheck bot: Socket Mode connected; health check on %s:%d%s", settings.bind, settings.port, HEALTH_PATH)
    try:
        _serve(build_asgi(None), settings)
    finally:
        handler.close()  # type: ignore[no-untyped-call]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

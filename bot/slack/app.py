"""The app factory: a Bolt `App` wired to fixcheck's services and listeners.

    app = create_app(Settings.from_env(os.environ))

The WebClient talks to SLACK_API_URL and retries rate limits and server errors.
Listeners only acknowledge and queue work; see `bot.slack.work`. No listener makes a
network call before it returns, so Slack's 3-second limit holds even when Slack is slow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient

from bot.slack import logs, render, signature
from bot.slack.listeners import register_listeners
from bot.slack.services import CONTEXT_KEY, Services, new_error_id, refuse_redirects, retry_handlers
from bot.slack.settings import Settings

log = logging.getLogger(__name__)


def create_web_client(settings: Settings) -> WebClient:
    return WebClient(
        token=settings.bot_token,
        base_url=settings.api_url,
        timeout=15,
        retry_handlers=retry_handlers(),
    )


def create_app(settings: Settings, *, services: Services | None = None, token_verification: bool = True) -> App:
    """Build the Bolt app. `services` defaults to fresh ones made from `settings`.

    With `token_verification` (the default) the bot token is checked with auth.test at
    once, so a wrong token fails at start-up rather than at the first message.
    """
    services = services or Services.create(settings)
    refuse_redirects()
    app = App(
        name="fixcheck",
        client=create_web_client(settings),
        signing_secret=settings.signing_secret or "",
        # Socket Mode frames are authenticated by the connection, not by signatures.
        request_verification_enabled=not settings.socket_mode,
        token_verification_enabled=token_verification,
        # Listeners only acknowledge and queue work (see bot.slack.work), so running them
        # before responding costs microseconds and spares Bolt's wait-for-ack polling.
        process_before_response=True,
    )
    logs.protect_bolt_loggers()
    if not settings.socket_mode:
        signature.protect(app, settings.signing_secret or "")
    app.use(_inject(services))
    app.use(_dedupe(services))
    app.error(
        _on_error(services, lambda request: settings.socket_mode or signature.verified_by_bolt_request(app, request))
    )
    register_listeners(app)
    return app


def _inject(services: Services) -> Callable[..., Any]:
    def inject_services(context: Any, next: Callable[[], Any]) -> Any:
        context[CONTEXT_KEY] = services
        return next()

    return inject_services


def _dedupe(services: Services) -> Callable[..., Any]:
    def dedupe_events(body: dict[str, Any], request: BoltRequest, next: Callable[[], Any]) -> Any:
        """Slack re-sends an event (X-Slack-Retry-Num) when it thinks we missed it: answer once."""
        if body.get("type") == "event_callback":
            event_id = str(body.get("event_id") or "")
            if event_id and not services.seen.first_time(event_id):
                retry = (request.headers.get("x-slack-retry-num") or ["-"])[0]
                log.info("ignoring duplicate event %s (retry %s)", event_id, retry)
                return BoltResponse(status=200, body="")
        return next()

    return dedupe_events


def _on_error(services: Services, verified: Callable[[BoltRequest], bool]) -> Callable[..., Any]:
    def on_error(error: Exception, body: dict[str, Any], request: BoltRequest, client: WebClient) -> None:
        """A listener failed: log it with an id (no payloads) and tell the user briefly.

        Never for a request Slack did not sign: its body (channel, response_url) is the
        sender's, not Slack's, so nothing in it is acted on.
        """
        error_id = new_error_id()
        if not verified(request):
            log.warning(
                "error on an unverified request error_id=%s: %s (nothing posted)", error_id, type(error).__name__
            )
            return
        log.error("listener failed error_id=%s: %s", error_id, type(error).__name__, exc_info=error)
        message = render.render_text(
            f":warning: Something went wrong on fixcheck's side (error id `{error_id}`). Please try again; "
            "if it keeps failing, give the error id to the bot's operator."
        )
        try:
            response_url = body.get("response_url")
            event = body.get("event") or {}
            if isinstance(response_url, str):
                services.post_response(response_url, message.text, message.blocks)
            elif isinstance(event, dict) and event.get("channel") and event.get("ts"):
                client.chat_postMessage(
                    channel=str(event["channel"]),
                    thread_ts=str(event.get("thread_ts") or event["ts"]),
                    text=message.text,
                    blocks=message.blocks,
                )
        except Exception as again:  # noqa: BLE001 - the original error is already logged
            log.error("could not report error_id=%s: %s", error_id, type(again).__name__)

    return on_error

"""What the listeners share: settings, worker pool, rate limiter, seen events, downloader.

One `Services` per app, put into every request's context by a global middleware, so
that each listener package keeps the plain `register(app)` shape of Bolt samples.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.webhook import WebhookClient

from bot.engine import Report, diagnose
from bot.slack.downloads import Downloader
from bot.slack.jobs import RateLimiter, SeenEvents, Workers
from bot.slack.settings import Settings
from bot.watches.service import WatchService

log = logging.getLogger(__name__)

CONTEXT_KEY = "fixcheck"
RESPONSE_URL_HOSTS = ("hooks.slack.com",)

DiagnoseFn = Callable[..., Report]


def retry_handlers() -> list[RetryHandler]:
    """Slack's rate limits (429 + Retry-After) and transient server errors are retried."""
    return [RateLimitErrorRetryHandler(max_retry_count=3), ServerErrorRetryHandler(max_retry_count=2)]


@dataclass
class Services:
    settings: Settings
    workers: Workers
    probe_limiter: RateLimiter
    seen: SeenEvents
    downloader: Downloader
    diagnose: DiagnoseFn = diagnose
    # Diagnoses per user and minute: one user's flood cannot fill the pool that serves everyone.
    job_limiter: RateLimiter | None = None
    # At most one "slow down" reply per user and minute, so that a flood does not become a reply flood.
    flood_notices: RateLimiter | None = None
    # Expiry watches (FIXCHECK_DB / FIXCHECK_DATABASE_URL); None: the bot offers no watch button.
    watches: WatchService | None = None

    @classmethod
    def create(cls, settings: Settings, *, diagnose_fn: DiagnoseFn | None = None) -> Services:
        return cls(
            settings=settings,
            workers=Workers(settings.workers),
            probe_limiter=RateLimiter(settings.probes_per_minute, 60.0),
            seen=SeenEvents(),
            downloader=Downloader(settings),
            diagnose=diagnose_fn or diagnose,
            job_limiter=RateLimiter(settings.jobs_per_minute, 60.0),
            flood_notices=RateLimiter(1, 60.0),
        )

    def close(self) -> None:
        self.workers.shutdown(wait=False)
        self.downloader.close()

    def post_response(self, response_url: str, text: str, blocks: Sequence[dict[str, Any]] | None = None) -> None:
        """Answer a slash command or modal through its response_url (ephemeral)."""
        if not self.response_url_ok(response_url):
            log.warning("refusing to post to a response_url outside Slack")
            return
        client = WebhookClient(url=response_url, timeout=10, retry_handlers=retry_handlers())
        response = client.send(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        if response.status_code != 200:
            log.warning("response_url answered HTTP %d", response.status_code)

    def response_url_ok(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme == "https" and (parts.hostname or "").lower() in RESPONSE_URL_HOSTS:
            return True
        return parts.netloc.lower() == self.settings.api_host and parts.scheme == self.settings.api_scheme


def services_of(context: Any) -> Services:
    services = context[CONTEXT_KEY]
    assert isinstance(services, Services)
    return services


def new_error_id() -> str:
    return uuid.uuid4().hex[:10]

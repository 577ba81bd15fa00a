"""What the listeners share: settings, worker pool, rate limiter, seen events, downloader.

One `Services` per app, put into every request's context by a global middleware, so
that each listener package keeps the plain `register(app)` shape of Bolt samples.
"""

from __future__ import annotations

import logging
import random
import time
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Unpack
from urllib.parse import urlsplit

from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from bot.engine import OptionChanges, Options, Report, diagnose
from bot.slack.downloads import Downloader
from bot.slack.jobs import RateLimiter, SeenEvents, Workers
from bot.slack.settings import Settings
from bot.watches.service import WatchService

log = logging.getLogger(__name__)

CONTEXT_KEY = "fixcheck"
RESPONSE_URL_HOSTS = ("hooks.slack.com",)


class DiagnoseFn(Protocol):
    """`bot.engine.diagnose`'s signature: tests hand `Services` a stand-in of the same shape."""

    def __call__(
        self, files: Sequence[tuple[str, bytes]], options: Options | None = None, /, **changes: Unpack[OptionChanges]
    ) -> Report: ...


MAX_RETRY_AFTER = 30.0  # seconds: a worker never sleeps longer than this on one 429


def retry_handlers(max_wait: float = MAX_RETRY_AFTER) -> list[RetryHandler]:
    """Slack's rate limits (429 + Retry-After, capped) and transient server errors are retried."""
    return [
        CappedRateLimitRetryHandler(max_retry_count=3, max_wait=max_wait),
        GatewayErrorRetryHandler(max_retry_count=2),
    ]


RETRIED_STATUSES = (500, 502, 503, 504)  # a proxy in front of Slack answers 502/504 when Slack is slow


class GatewayErrorRetryHandler(ServerErrorRetryHandler):
    """slack_sdk's server-error handler retries 500 and 503 only: 502 and 504 too (same backoff, same bound)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in RETRIED_STATUSES


class CappedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, but `Retry-After` is capped (and an unreadable one means 1 s).

    Obeyed without a bound, one `Retry-After: 86400` (or a hostile response_url host) held
    a worker for a day; a non-numeric value raised ValueError inside the SDK.
    """

    def __init__(self, max_retry_count: int = 3, max_wait: float = MAX_RETRY_AFTER) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error or RuntimeError("no response to retry")
        asked = _retry_after(response.headers)
        wait = min(asked + random.random(), self.max_wait)
        if asked > self.max_wait:
            log.warning("Slack asked to retry after %d s (Retry-After); capped at %g s", asked, self.max_wait)
        state.next_attempt_requested = True
        time.sleep(wait)
        state.increment_current_attempt()


def _retry_after(headers: Mapping[str, Any]) -> int:
    """Retry-After in seconds; 1 when it is missing or not a number of seconds."""
    for key, value in headers.items():
        if key.lower() == "retry-after":
            text = str(value[0] if isinstance(value, list) and value else value).strip()
            return int(text) if text.isdigit() and len(text) <= 9 else 1
    return 1


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


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None  # urllib then raises HTTPError: the SDK sees the 3xx as the answer


def refuse_redirects() -> None:
    """Make slack_sdk's clients (plain urllib) stop at a redirect instead of following it.

    Followed, a 3xx from a response_url or SLACK_API_URL sent the bot's request (with its
    Authorization header) to any address the Location named, internal ones included.
    Process-wide on purpose: the SDK builds its requests with urllib's installed opener.
    """
    urllib.request.install_opener(urllib.request.build_opener(_NoRedirects()))


def services_of(context: Any) -> Services:
    services = context[CONTEXT_KEY]
    assert isinstance(services, Services)
    return services


def new_error_id() -> str:
    return uuid.uuid4().hex[:10]

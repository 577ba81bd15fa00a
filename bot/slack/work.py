"""The work behind a reply, run in the worker pool after Slack has been acknowledged.

`Job` collects what one message or command asked for; `run_job` downloads the files,
applies the endpoint rules, runs the engine once and renders that one Report. Errors
end in a short reply with an error id; nothing here logs message text or file bytes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.engine import FixLogon, Options, Report
from bot.slack import endpoints, exposure, metrics, render
from bot.slack.downloads import DownloadError, is_relevant
from bot.slack.render import Message
from bot.slack.services import Services, new_error_id

log = logging.getLogger(__name__)

Reply = Callable[[Message], None]
# Failures of Slack's API or of the network to it: expected in operation, logged without a traceback.
SLACK_FAILURES = (SlackClientError, URLError, HTTPException, ConnectionError, TimeoutError)

# Posted for each job that a stopping (SIGTERM) or dead replica could not finish.
RETRY_TEXT = (
    ":arrows_counterclockwise: fixcheck was restarted before it could answer this request. "
    "Please send it again (upload, paste or command) in a minute."
)
BUSY_TEXT = ":hourglass: fixcheck is busy right now; please try again in a minute."


@dataclass
class Job:
    """One diagnosis request, whatever front door it came through."""

    user: str
    reply: Reply
    files: list[Mapping[str, Any]] = field(default_factory=list)  # Slack file objects to download
    pasted: list[tuple[str, bytes]] = field(default_factory=list, repr=False)
    target: endpoints.Target | None = None
    stunnel: tuple[str, bytes] | None = field(default=None, repr=False)
    notices: list[str] = field(default_factory=list)
    title: str = "fixcheck"
    logon: FixLogon | None = None  # `HOST:PORT logon SENDER:TARGET`: a FIX Logon after the handshake
    # Everything else the user shared, scanned for key material only (bot.slack.exposure):
    # the message text outside complete PEM blocks, and names of files that were not downloaded.
    shared_text: str = field(default="", repr=False)
    unread_files: list[str] = field(default_factory=list)
    channel: str | None = None  # where the reply goes, when known: a diagnosed certificate can be watched there
    received: float = field(default_factory=time.monotonic)  # for fixcheck_reply_seconds

    @property
    def kind(self) -> str:
        """A bounded label for the reply-latency histogram."""
        if self.stunnel is not None:
            return "stunnel"
        if self.target is not None:
            return "probe"
        return "upload" if self.files else "paste"


class PostReply:
    """A reply that also says where it goes (`target`), so that another replica can answer for a dead one."""

    def __init__(self, post: Callable[[Message], None], target: Mapping[str, str]) -> None:
        self._post = post
        self.target = dict(target)

    def __call__(self, message: Message) -> None:
        self._post(message)


def thread_reply(client: WebClient, channel: str, thread_ts: str) -> PostReply:
    def post(message: Message) -> None:
        client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=message.text,
            blocks=message.blocks,
            unfurl_links=False,
            unfurl_media=False,
        )

    return PostReply(post, {"channel": channel, "thread_ts": thread_ts})


def response_url_reply(services: Services, response_url: str) -> PostReply:
    def post(message: Message) -> None:
        services.post_response(response_url, message.text, message.blocks)

    return PostReply(post, {"response_url": response_url})


def _error_name(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "error")) if exc.response is not None else "error"


def count_slack_error(exc: BaseException) -> None:
    """`fixcheck_slack_api_errors_total{method,error}` for a failed Web API call (the method from its URL)."""
    if isinstance(exc, SlackApiError):
        url = str(getattr(exc.response, "api_url", "") or "")
        method = url.rstrip("/").rsplit("/", 1)[-1] if url else "unknown"
        metrics.slack_api_errors.labels(metrics.label(method), metrics.label(_error_name(exc))).inc()


def _abandon(reply: Reply) -> Callable[[], None]:
    return lambda: run_safely(reply, lambda: reply(render.render_text(RETRY_TEXT)))


def submit(services: Services, job: Job, *, client: WebClient | None = None) -> bool:
    """Queue `job`; when the pool is full, say so at once instead."""

    def run() -> None:
        run_safely(job.reply, lambda: run_job(services, job, client))

    if flooding(services, job.user, job.reply):
        return False
    target = getattr(job.reply, "target", None)
    if services.workers.submit(run, abandon=_abandon(job.reply), target=target):
        return True
    stopping = not services.workers.accepting
    log.warning("%s; refusing a job", "shutting down" if stopping else "worker queue full")
    text = RETRY_TEXT if stopping else BUSY_TEXT
    run_safely(job.reply, lambda: job.reply(render.render_text(text)))
    return False


def submit_call(services: Services, reply: Reply, call: Callable[[], object], *, user: str | None = None) -> bool:
    """Queue a single Slack call (open a modal, post help) that must not run in the ack path.

    With `user`, the call counts against that user's FIXCHECK_JOBS_PER_MINUTE like a diagnosis.
    """

    def run() -> None:
        run_safely(reply, lambda: _discard(call()))

    if user is not None and flooding(services, user, reply):
        return False
    if services.workers.submit(run):
        return True
    log.warning("worker queue full; dropping a reply")
    return False


def flooding(services: Services, user: str, reply: Reply) -> bool:
    """True when `user` is over FIXCHECK_JOBS_PER_MINUTE: the request is dropped.

    The first refused request in a minute gets a polite reply (queued, never in the ack
    path); the rest of the flood is dropped silently, so that it costs no Slack calls.
    """
    limiter = services.job_limiter
    if limiter is None or limiter.allow(user):
        return False
    wait = limiter.retry_after(user)
    metrics.jobs_refused.inc()
    log.info("per-user limit reached; dropping a request (retry in %d s)", wait)
    if services.flood_notices is None or services.flood_notices.allow(user):
        text = (
            f":raised_hand: You have sent more than {services.settings.jobs_per_minute} requests in a minute "
            f"(FIXCHECK_JOBS_PER_MINUTE), so I am skipping new ones for about {wait} s. "
            "Please wait for my answers to the earlier ones."
        )
        services.workers.submit(lambda: run_safely(reply, lambda: reply(render.render_text(text))))
    return True


def run_safely(reply: Reply, work: Callable[[], None]) -> None:
    """Run `work`; any exception becomes a logged error id and a short reply."""
    try:
        work()
    except Exception as exc:
        count_slack_error(exc)
        error_id = new_error_id()
        if isinstance(exc, SLACK_FAILURES) or _raised_in_slack_sdk(exc):  # Slack's trouble: one line, no traceback
            log.error("a call to Slack failed error_id=%s: %s", error_id, slack_failure(exc))
        else:
            log.error("job failed error_id=%s: %s", error_id, type(exc).__name__, exc_info=True)
        try:
            reply(
                render.render_text(
                    f":warning: Something went wrong on fixcheck's side (error id `{error_id}`). "
                    "Please try again; if it keeps failing, give the error id to the bot's operator."
                )
            )
        except Exception as again:  # noqa: BLE001 - nothing more we can do than log it
            count_slack_error(again)
            log.error("could not report error_id=%s: %s", error_id, type(again).__name__)


def slack_failure(exc: BaseException) -> str:
    """What went wrong with a Slack call, in a few words (Slack's error code and HTTP status, no payload)."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    data = getattr(response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    details = ", ".join(
        p for p in (f"error={str(error)[:60]}" if error else "", f"HTTP {status}" if status else "") if p
    )
    return f"{type(exc).__name__}" + (f" ({details})" if details else "")


def _raised_in_slack_sdk(exc: BaseException) -> bool:
    """The SDK choked on what Slack answered (a JSON list where it expects an object raised AttributeError)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and "/slack_sdk/" in tb.tb_frame.f_code.co_filename.replace("\\", "/")


def run_job(services: Services, job: Job, client: WebClient | None) -> None:
    inputs: list[tuple[str, bytes]] = []
    notices = list(job.notices)
    for file in job.files:
        try:
            full = _file_info(client, file)
            got = services.downloader.fetch(full)
        except DownloadError as exc:
            notices.append(str(exc))
            continue
        inputs.append((got.name, got.data))
    inputs.extend(job.pasted)
    exposed = _exposed(job, inputs)

    endpoint = None
    addresses: tuple[str, ...] = ()
    if job.target is not None:
        refusal, addresses = check_target(services, job.target, job.user)
        if refusal:
            notices.append(refusal)
        else:
            endpoint = str(job.target)

    if not inputs and endpoint is None and job.stunnel is None:
        text = "\n".join(f":information_source: {render.escape(n)}" for n in notices) or "Nothing to diagnose."
        warning = render.key_warning(Report((), ()), exposed)
        job.reply(render.render_text(f"{warning}\n{text}" if warning else text))
        return
    if job.logon is not None and endpoint is None and job.target is None:
        notices.append("No FIX Logon sent: put the FIX server's HOST:PORT in the same message as `logon SENDER:TARGET`.")
    options = Options(
        endpoint=endpoint,
        stunnel=job.stunnel,
        timeout=services.settings.probe_timeout,
        # Exactly the addresses check_target vetted (no second lookup), and a Logon only to an
        # endpoint the allow-list let through.
        addresses=addresses if endpoint is not None else None,
        logon=job.logon if endpoint is not None else None,
    )
    started = time.monotonic()
    report = services.diagnose(inputs, options)
    _observe(report.verdict.value, report.to_dict()["first_failure"], endpoint, time.monotonic() - started)
    log.info(
        "diagnosed inputs=%d endpoint=%s verdict=%s first_failure=%s",
        len(inputs),
        "yes" if endpoint else "no",
        report.verdict.value,
        report.to_dict()["first_failure"],
    )
    message = render.render_report(report, notices=notices, title=job.title, exposed=exposed)
    watches = getattr(services, "watches", None)  # stand-in Services in some tests have none
    if watches is not None:  # "Remind this channel before it expires" under a diagnosed client certificate
        message = render.with_blocks(message, watches.offer(report, job.channel))
    job.reply(message)
    metrics.reply_seconds.labels(job.kind).observe(time.monotonic() - job.received)


def _observe(verdict: str, first_failure: object, endpoint: str | None, seconds: float) -> None:
    metrics.diagnoses.labels(metrics.label(verdict), metrics.label(first_failure)).inc()
    if endpoint is not None:  # outcome only: the endpoint itself never becomes a label
        metrics.probe_seconds.labels(metrics.label(verdict)).observe(seconds)


def _exposed(job: Job, inputs: Sequence[tuple[str, bytes]]) -> list[str]:
    """Which shared inputs hold key material, by a scan of every byte (not only what the engine reads)."""
    shared = [*inputs, *([job.stunnel] if job.stunnel else [])]
    if job.shared_text.strip():
        shared.append(("your message", job.shared_text.encode("utf-8", "replace")))
    return exposure.exposed(shared) + exposure.key_file_names(job.unread_files)


def check_target(services: Services, target: endpoints.Target, user: str) -> tuple[str | None, tuple[str, ...]]:
    """Why `target` may not be probed for `user` (or None), and the vetted addresses to connect to.

    Runs before any connection; the name is resolved here once and the probe uses exactly
    the returned addresses.
    """
    patterns = services.settings.allowed_endpoints
    try:
        endpoints.allowed(target, patterns)
        addresses = endpoints.resolve_check(target, patterns, timeout=services.settings.probe_timeout)
    except endpoints.Refused as exc:
        log.info("endpoint refused: %s", target)
        return str(exc), ()
    if not services.probe_limiter.allow(user):
        wait = services.probe_limiter.retry_after(user)
        return (
            f"{target} was not probed: you have reached the limit of {services.settings.probes_per_minute} "
            f"connection checks per minute (FIXCHECK_PROBES_PER_MINUTE). Try again in about {wait} s."
        ), ()
    return None, addresses


def _file_info(client: WebClient | None, file: Mapping[str, Any]) -> Mapping[str, Any]:
    """Slack Connect files arrive as stubs (`file_access: check_file_info`): ask files.info."""
    if file.get("file_access") != "check_file_info" and (file.get("url_private_download") or file.get("url_private")):
        return file
    if client is None or not file.get("id"):
        raise DownloadError("a shared file could not be looked up")
    try:
        response = client.files_info(file=str(file["id"]))
    except SlackApiError as exc:
        error = _error_name(exc)
        metrics.slack_api_errors.labels("files.info", metrics.label(error)).inc()
        if error in ("missing_scope", "not_allowed_token_type", "no_permission"):
            raise DownloadError("Slack refused files.info: the app lacks the files:read scope.") from None
        raise DownloadError(f"Slack could not describe a shared file ({error}).") from None
    info = response.get("file")
    if not isinstance(info, Mapping):
        raise DownloadError("Slack's files.info gave no file")
    return info


def files_to_fetch(files: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Shared files that may hold onboarding material (Slack Connect stubs are looked up later)."""
    return [f for f in files if f.get("file_access") == "check_file_info" or is_relevant(f)]


def _discard(_: object) -> None:
    return None

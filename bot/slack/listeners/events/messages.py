"""Messages: uploaded files, pasted PEM blocks and a HOST:PORT, answered in the thread.

Acted on: a message with onboarding-looking files or pasted PEM blocks, anywhere the
bot is; a message with only a `HOST:PORT` in a DM or when it mentions the bot. The bot's
own messages, other bots and deletions are ignored; an edit is only scanned for key
material (a key added by editing gets the warning). Forwarded messages' text
(`attachments[].text`) is scanned too. The key warning is never dropped: when the user is
over FIXCHECK_JOBS_PER_MINUTE, the diagnosis is refused but the warning is still posted.
Events are acknowledged by Bolt before this runs; the work happens in the worker pool.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient

from bot.engine import FixLogon, Report
from bot.slack import endpoints, exposure
from bot.slack.parsing import find_logon, mentions, pasted_pem, plain_text, strip_pem
from bot.slack.render import key_warning, render_text
from bot.slack.services import Services, services_of
from bot.slack.usage import usage
from bot.slack.work import Job, files_to_fetch, run_safely, submit, submit_call, thread_reply

log = logging.getLogger(__name__)

HANDLED_SUBTYPES = (None, "file_share", "thread_broadcast")
MAX_FILES_PER_MESSAGE = 20
MAX_ATTACHMENTS = 20  # forwarded / unfurled attachments scanned per message
ATTACHMENT_FIELDS = ("text", "fallback", "pretext")


def handle_message(event: dict[str, Any], context: Any, client: WebClient) -> None:
    """Answer a person's message in its thread: diagnose what it shares, or say how when it asks."""
    subtype = event.get("subtype")
    if subtype == "message_changed":  # Slack marks edits `hidden`: checked before that filter
        _edited(event, context, client)
        return
    if subtype not in HANDLED_SUBTYPES or event.get("bot_id") or event.get("hidden"):
        return
    sender = _sender(event, context.get("bot_user_id"))
    if sender is None:
        return
    user, channel, ts = sender
    services = services_of(context)
    raw_text = event.get("text")
    text = raw_text if isinstance(raw_text, str) else ""
    is_dm = event.get("channel_type") == "im"
    addressed = is_dm or mentions(text, context.get("bot_user_id"))
    contents = _contents(event, text)
    thread_ts = event.get("thread_ts")
    reply = thread_reply(client, channel, thread_ts if isinstance(thread_ts, str) and thread_ts else ts)

    notices: list[str] = [contents.logon_problem] if contents.logon_problem else []
    if contents.shared and not contents.files and not contents.exposed:
        if not addressed:
            return  # screenshots and documents in a channel are none of our business
        notices.append("None of the shared files looks like a certificate, key, CSR or stunnel configuration.")
    if not contents.files and not contents.pasted and not contents.exposed and not (contents.target and addressed):
        if addressed:
            message = render_text("\n".join([*notices, usage(services.settings)]))
            submit_call(services, reply, lambda: reply(message), user=user)
        return
    if len(contents.shared) > MAX_FILES_PER_MESSAGE:
        notices.append(f"Only the first {MAX_FILES_PER_MESSAGE} files were read.")
    job = Job(
        user=user,
        reply=reply,
        files=contents.files,
        pasted=contents.pasted,
        target=contents.target,
        notices=notices,
        logon=contents.logon,
        channel=channel,
    )
    _submit(services, client, job, contents, is_dm=is_dm)


def _sender(event: dict[str, Any], bot_user_id: object) -> tuple[str, str, str] | None:
    """`(user, channel, ts)` of a message a person sent; None for anything else (or what Slack would not send)."""
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if not (isinstance(user, str) and isinstance(channel, str) and isinstance(ts, str)):
        return None
    if not user or user == bot_user_id or not channel or not ts:
        return None
    return user, channel, ts


@dataclass(frozen=True)
class _Contents:
    """What a message brings: files to fetch, pasted PEM blocks, an endpoint and a Logon, and key exposure."""

    shared: list[dict[str, Any]]  # every file shared with it
    files: list[Mapping[str, Any]]  # those that may be onboarding material, to download (bounded)
    pasted: list[tuple[str, bytes]]  # complete PEM blocks in the text
    outside: str  # the text outside those blocks, with forwarded attachments' text: scanned for keys only
    unread: list[str]  # names of shared files that are not downloaded
    exposed: bool  # key material the diagnosis will not read (bot.slack.exposure)
    target: endpoints.Target | None
    logon: FixLogon | None  # `HOST:PORT logon SENDER:TARGET`
    logon_problem: str | None  # why a `logon ...` cannot be sent


def _contents(event: dict[str, Any], text: str) -> _Contents:
    """Read what the message shares, without downloading anything."""
    raw_files = event.get("files")
    # A malformed `files` (not a list of objects) made files_to_fetch raise: a 500 and a retry.
    shared = [f for f in raw_files if isinstance(f, dict)] if isinstance(raw_files, list) else []
    files = files_to_fetch(shared)[:MAX_FILES_PER_MESSAGE]
    outside = "\n".join(filter(None, (strip_pem(text), attachment_text(event))))
    unread, exposed = _exposure(shared, files, outside)
    clean = plain_text(outside)
    logon, logon_problem = find_logon(clean)
    return _Contents(
        shared=shared,
        files=files,
        pasted=pasted_pem(text),
        outside=outside,
        unread=unread,
        exposed=exposed,
        target=endpoints.find_endpoint(clean),
        logon=logon,
        logon_problem=logon_problem,
    )


def _submit(services: Services, client: WebClient, job: Job, contents: _Contents, *, is_dm: bool) -> None:
    """Queue the diagnosis; when it is refused, the key warning is posted all the same."""
    log.info(
        "message event: files=%d pasted_blocks=%d endpoint=%s dm=%s",
        len(contents.files),
        len(contents.pasted),
        "yes" if contents.target else "no",
        is_dm,
    )
    job.shared_text, job.unread_files = contents.outside, contents.unread
    if not submit(services, job, client=client) and (
        contents.exposed or any(exposure.scan(n, d) for n, d in contents.pasted)
    ):
        # Refused (per-user limit, busy pool): the diagnosis may wait, the key warning may not.
        names = ["your message"] + [n for n in contents.unread if exposure.KEY_FILE_NAMES.search(n)]
        _warn(job.reply, names)


def _edited(event: dict[str, Any], context: Any, client: WebClient) -> None:
    """An edit that adds key material gets the key warning in the message's thread (no diagnosis)."""
    message = event.get("message")
    channel = event.get("channel")
    if not isinstance(message, dict) or not isinstance(channel, str) or not channel:
        return
    user, ts = message.get("user"), message.get("ts")
    if not (isinstance(user, str) and user and isinstance(ts, str) and ts) or message.get("bot_id"):
        return
    if user == context.get("bot_user_id"):
        return
    previous = event.get("previous_message")
    if not _holds_key(message) or (isinstance(previous, dict) and _holds_key(previous)):
        return  # no key, or one the original message had (already warned): an unfurl or a typo fix
    thread_ts = message.get("thread_ts")
    log.info("edited message holds key material: warning posted")
    _warn(
        thread_reply(client, channel, thread_ts if isinstance(thread_ts, str) and thread_ts else ts),
        ["your edited message"],
    )


def _holds_key(message: dict[str, Any]) -> bool:
    raw = message.get("text")
    text = "\n".join(filter(None, (raw if isinstance(raw, str) else "", attachment_text(message))))
    return exposure.scan("your message", text.encode("utf-8", "replace")) is not None


def _warn(reply: Any, names: list[str]) -> None:
    """Post the key warning now (this runs after Bolt's acknowledgement, outside the rate limit)."""
    warning = key_warning(Report((), ()), names)
    if warning:
        run_safely(reply, lambda: reply(render_text(warning)))


def attachment_text(message: dict[str, Any]) -> str:
    """The text of forwarded messages and other attachments (bounded), for the key scan only."""
    attachments = message.get("attachments")
    if not isinstance(attachments, list):
        return ""
    parts = [
        value
        for a in attachments[:MAX_ATTACHMENTS]
        if isinstance(a, dict)
        for value in (a.get(f) for f in ATTACHMENT_FIELDS)
        if isinstance(value, str)
    ]
    return "\n".join(parts)


def _exposure(shared: list[dict[str, Any]], fetched: list[Any], outside: str) -> tuple[list[str], bool]:
    """Names of the files not downloaded, and whether anything shared outside the diagnosis holds a key.

    Key material the diagnosis will not read (a key with no END line, a key file that is
    not downloaded) still gets the warning: the scan looks at every byte and every file name.
    """
    unread = [str(f.get("name") or f.get("title") or "") for f in shared if not any(f is g for g in fetched)]
    in_text = exposure.scan("your message", outside.encode("utf-8", "replace")) is not None
    return unread, in_text or bool(exposure.key_file_names(unread))

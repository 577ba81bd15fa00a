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
from typing import Any

from slack_sdk import WebClient

from bot.engine import Report
from bot.slack import endpoints, exposure
from bot.slack.parsing import find_logon, mentions, pasted_pem, plain_text, strip_pem
from bot.slack.render import key_warning, render_text
from bot.slack.services import services_of
from bot.slack.usage import usage
from bot.slack.work import Job, files_to_fetch, run_safely, submit, submit_call, thread_reply

log = logging.getLogger(__name__)

HANDLED_SUBTYPES = (None, "file_share", "thread_broadcast")
MAX_FILES_PER_MESSAGE = 20
MAX_ATTACHMENTS = 20  # forwarded / unfurled attachments scanned per message
ATTACHMENT_FIELDS = ("text", "fallback", "pretext")


def handle_message(event: dict[str, Any], context: Any, client: WebClient) -> None:
    subtype = event.get("subtype")
    if subtype == "message_changed":  # Slack marks edits `hidden`: checked before that filter
        _edited(event, context, client)
        return
    if subtype not in HANDLED_SUBTYPES or event.get("bot_id") or event.get("hidden"):
        return
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if not (isinstance(user, str) and isinstance(channel, str) and isinstance(ts, str)):
        return  # not a message a person sent (or not one Slack would send)
    if not user or user == context.get("bot_user_id") or not channel or not ts:
        return
    services = services_of(context)
    raw_text = event.get("text")
    text = raw_text if isinstance(raw_text, str) else ""
    is_dm = event.get("channel_type") == "im"
    addressed = is_dm or mentions(text, context.get("bot_user_id"))

    raw_files = event.get("files")
    # A malformed `files` (not a list of objects) made files_to_fetch raise: a 500 and a retry.
    shared = [f for f in raw_files if isinstance(f, dict)] if isinstance(raw_files, list) else []
    files = files_to_fetch(shared)[:MAX_FILES_PER_MESSAGE]
    pasted = pasted_pem(text)
    outside = "\n".join(filter(None, (strip_pem(text), attachment_text(event))))
    unread, exposed = _exposure(shared, files, outside)
    clean = plain_text(outside)
    target = endpoints.find_endpoint(clean)
    logon, logon_problem = find_logon(clean)  # `HOST:PORT logon SENDER:TARGET`
    thread_ts = event.get("thread_ts")
    reply = thread_reply(client, channel, thread_ts if isinstance(thread_ts, str) and thread_ts else ts)

    notices: list[str] = [logon_problem] if logon_problem else []
    if shared and not files and not exposed:
        if not addressed:
            return  # screenshots and documents in a channel are none of our business
        notices.append("None of the shared files looks like a certificate, key, CSR or stunnel configuration.")
    if not files and not pasted and not exposed and not (target and addressed):
        if addressed:
            message = render_text("\n".join([*notices, usage(services.settings)]))
            submit_call(services, reply, lambda: reply(message), user=user)
        return
    if len(shared) > MAX_FILES_PER_MESSAGE:
        notices.append(f"Only the first {MAX_FILES_PER_MESSAGE} files were read.")
    log.info(
        "message event: files=%d pasted_blocks=%d endpoint=%s dm=%s",
        len(files),
        len(pasted),
        "yes" if target else "no",
        is_dm,
    )
    job = Job(
        user=user,
        reply=reply,
        files=files,
        pasted=pasted,
        target=target,
        notices=notices,
        logon=logon,
        channel=channel,
    )
    job.shared_text, job.unread_files = outside, unread
    if not submit(services, job, client=client) and (exposed or any(exposure.scan(n, d) for n, d in pasted)):
        # Refused (per-user limit, busy pool): the diagnosis may wait, the key warning may not.
        names = ["your message"] + [n for n in unread if exposure.KEY_FILE_NAMES.search(n)]
        _warn(reply, names)


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

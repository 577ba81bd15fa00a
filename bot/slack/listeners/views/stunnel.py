"""The stunnel modal: paste a configuration (and optionally the endpoint); step 7 on submit."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, PlainTextObject, SectionBlock
from slack_sdk.models.blocks.basic_components import MarkdownTextObject
from slack_sdk.models.views import View

from bot.slack import endpoints
from bot.slack.parsing import pasted_pem, plain_text
from bot.slack.render import Message
from bot.slack.services import services_of
from bot.slack.work import Job, Reply, response_url_reply, submit

log = logging.getLogger(__name__)

STUNNEL_CALLBACK_ID = "fixcheck_stunnel"
CONFIG_BLOCK = "config"
ENDPOINT_BLOCK = "endpoint"
INPUT_ACTION = "value"


def stunnel_modal(private_metadata: str) -> View:
    return View(
        type="modal",
        callback_id=STUNNEL_CALLBACK_ID,
        title=PlainTextObject(text="Check stunnel config"),
        submit=PlainTextObject(text="Check"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=private_metadata[:3000],
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text="Paste your stunnel configuration (the file with `client = yes`, `cert =`, `connect =` …). "
                    "Paths are checked for what they should hold; do *not* paste keys."
                )
            ),
            InputBlock(
                block_id=CONFIG_BLOCK,
                label=PlainTextObject(text="stunnel configuration"),
                element=PlainTextInputElement(action_id=INPUT_ACTION, multiline=True, max_length=3000),
            ),
            InputBlock(
                block_id=ENDPOINT_BLOCK,
                optional=True,
                label=PlainTextObject(text="FIX server HOST:PORT (optional)"),
                element=PlainTextInputElement(
                    action_id=INPUT_ACTION, placeholder=PlainTextObject(text="sandbox-fix.itbit.com:4490")
                ),
            ),
        ],
    )


def handle_stunnel_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: Any, client: WebClient
) -> None:
    services = services_of(context)
    # Every level of a submission is checked for its type: one of the wrong shape (a string
    # where Slack sends an object) raised in here, answered 500 and logged a traceback.
    config = _text(view, "state", "values", CONFIG_BLOCK, INPUT_ACTION, "value")
    endpoint_text = _text(view, "state", "values", ENDPOINT_BLOCK, INPUT_ACTION, "value").strip()

    errors: dict[str, str] = {}
    if not config.strip():
        errors[CONFIG_BLOCK] = "Paste your stunnel configuration."
    target = None
    if endpoint_text:
        target = endpoints.parse_target(plain_text(endpoint_text))
        if target is None:
            errors[ENDPOINT_BLOCK] = "Not HOST:PORT, e.g. sandbox-fix.itbit.com:4490"
        else:
            try:
                endpoints.allowed(target, services.settings.allowed_endpoints)
            except endpoints.Refused:
                errors[ENDPOINT_BLOCK] = f"{target} is not in FIXCHECK_ALLOWED_ENDPOINTS"
    if errors:
        ack(response_action="errors", errors=errors)
        return
    ack()

    user = _text(body, "user", "id") or "unknown"
    try:
        metadata = json.loads(_text(view, "private_metadata") or "{}")
    except (ValueError, RecursionError):
        metadata = {}
    response_url = metadata.get("response_url") if isinstance(metadata, dict) else None
    reply: Reply
    if isinstance(response_url, str) and services.response_url_ok(response_url):
        reply = response_url_reply(services, response_url)
    else:
        reply = _direct_message(client, user)
    submit(
        services,
        Job(
            user=user,
            reply=reply,
            pasted=pasted_pem(config),
            stunnel=("stunnel.conf", config.encode()),
            target=target,
            title="fixcheck stunnel",
        ),
        client=client,
    )


def _text(value: object, *path: str) -> str:
    """The string at `path` in nested objects, or "" when any level is missing or of another type."""
    for key in path:
        if not isinstance(value, dict):
            return ""
        value = value.get(key)
    return value if isinstance(value, str) else ""


def _direct_message(client: WebClient, user: str) -> Reply:
    def post(message: Message) -> None:
        client.chat_postMessage(channel=user, text=message.text, blocks=message.blocks)

    return post

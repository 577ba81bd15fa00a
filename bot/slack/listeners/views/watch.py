"""The watch modal: paste a client certificate (and its CA) to be reminded before they expire.

The pasted text is diagnosed by the engine in memory and only its public facts are kept:
a key pasted by mistake is never stored, and the reply says it must be treated as exposed.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, PlainTextObject, SectionBlock
from slack_sdk.models.blocks.basic_components import MarkdownTextObject
from slack_sdk.models.views import View

from bot.slack.render import Message, key_warning, render_text
from bot.slack.services import services_of
from bot.slack.work import Reply, response_url_reply, submit_call
from bot.watches.messages import STORED

log = logging.getLogger(__name__)

WATCH_CALLBACK_ID = "fixcheck_watch_paste"
CERT_BLOCK = "cert"
CA_BLOCK = "ca"
INPUT_ACTION = "value"


def watch_modal(private_metadata: str) -> View:
    return View(
        type="modal",
        callback_id=WATCH_CALLBACK_ID,
        title=PlainTextObject(text="Watch a certificate"),
        submit=PlainTextObject(text="Watch"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=private_metadata[:3000],
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text="Paste the client certificate (the `CERTIFICATE` block of `fix.itbit.pem`) and, optionally, "
                    f"`ca.crt`. *Never paste a key.* {STORED}"
                )
            ),
            InputBlock(
                block_id=CERT_BLOCK,
                label=PlainTextObject(text="Client certificate (PEM)"),
                element=PlainTextInputElement(action_id=INPUT_ACTION, multiline=True, max_length=3000),
            ),
            InputBlock(
                block_id=CA_BLOCK,
                optional=True,
                label=PlainTextObject(text="Client CA, ca.crt (PEM, optional)"),
                element=PlainTextInputElement(action_id=INPUT_ACTION, multiline=True, max_length=3000),
            ),
        ],
    )


def _value(view: dict[str, Any], block: str) -> str:
    values = view.get("state", {}).get("values", {})
    return str((values.get(block, {}).get(INPUT_ACTION) or {}).get("value") or "")


def handle_watch_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: Any, client: WebClient) -> None:
    cert, ca = _value(view, CERT_BLOCK), _value(view, CA_BLOCK)
    if "-----BEGIN" not in cert:
        ack(response_action="errors", errors={CERT_BLOCK: "Paste the certificate's PEM block (-----BEGIN CERTIFICATE-----)."})
        return
    ack()
    services = services_of(context)
    user = str(body.get("user", {}).get("id") or "unknown")
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    metadata = metadata if isinstance(metadata, dict) else {}
    channel, team = str(metadata.get("channel") or ""), str(metadata.get("team") or "")
    response_url = metadata.get("response_url")
    reply: Reply
    if isinstance(response_url, str) and services.response_url_ok(response_url):
        reply = response_url_reply(services, response_url)
    else:
        reply = _direct_message(client, user)
    inputs = [("pasted-certificate.pem", cert.encode())] + ([("ca.crt", ca.encode())] if ca.strip() else [])
    watches = services.watches

    def work() -> None:
        report = services.diagnose(inputs)  # offline: no endpoint, nothing leaves the process
        warning = key_warning(report)
        if watches is None or not channel:
            reply(render_text("Expiry watches are not enabled on this bot, or the channel is unknown."))
            return
        text, blocks = watches.add_report(team, channel, user, report)
        if warning:  # the key is never stored; the person must still renew
            text, blocks = warning + "\n" + text, [render_text(warning).blocks[0], *blocks]
        reply(Message(text, blocks))

    submit_call(services, reply, work, user=user)


def _direct_message(client: WebClient, user: str) -> Reply:
    def post(message: Message) -> None:
        client.chat_postMessage(channel=user, text=message.text, blocks=message.blocks)

    return post

"""What watches say in Slack, as Block Kit (slack_sdk models): the button, confirmations, lists, reminders.

Slack-shaped but free of Bolt and of the bot's services: each function returns
`(fallback text, blocks)`. Subjects come from certificates, i.e. from users: escaped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.watches.facts import CertFacts
from bot.watches.rules import RENEWAL_ADVICE, THRESHOLD_DAYS, days_left, thresholds_ahead
from bot.watches.store import Watch

WATCH_ACTION = "fixcheck_watch_add"
REPLACE_ACTION = "fixcheck_watch_replace"
PASTE_ACTION = "fixcheck_watch_paste"
BUTTON_TEXT = "Remind this channel before it expires"
PAGE_SIZE = 20
HOME_LIMIT = 40  # a Home view holds at most 100 blocks

Rendered = tuple[str, list[dict[str, Any]]]

STORED = (
    "Stored: this channel's and team's ids, the certificate's SHA-256 fingerprint, subject, issuer and not-after, "
    "its CA's fingerprint and not-after, which renewal applies, who added the watch and when, and which reminders "
    "were sent. No key, no file, no message text."
)


def esc(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def day(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d")


def plural(n: int, unit: str = "day") -> str:
    return f"{n} {unit}{'s' * (n != 1)}"


def left_words(deadline: dt.datetime, now: dt.datetime) -> str:
    """How long is left, in words: `3 days left`, `1 day left`, `expires today at 14:00 UTC`, `expired 12 days ago`."""
    left = days_left(deadline, now)
    if left > 0:
        return f"{plural(left)} left"
    if left < 0:
        return f"expired {plural(-left)} ago"
    verb = "expires" if deadline > now else "expired"
    return f"{verb} today at {deadline.astimezone(dt.UTC):%H:%M} UTC"


def describe(facts: CertFacts) -> str:
    ca = ""
    if facts.ca_not_after is not None:
        ca = f", CA `{esc(facts.ca_subject or '?')}` until {day(facts.ca_not_after)}"
    return f"*{esc(facts.common_name)}* (`{facts.fingerprint[:23]}…`), not after {day(facts.not_after)}{ca}"


def offer_blocks(facts: CertFacts, related: Watch | None) -> list[Block]:
    """The button under a diagnosis; a renewal of a watched subject offers to replace that watch."""
    if related is not None and related.facts.fingerprint == facts.fingerprint:
        note = f":bell: This certificate is already watched in this channel as #{related.id}."
        return [ContextBlock(block_id="fixcheck_watch", elements=[MarkdownTextObject(text=note)])]
    if related is not None:
        text = f"Replace watch #{related.id} ({related.facts.fingerprint[:11]}…) with this certificate"
        value = f'{{"replace":{related.id},"facts":{facts.to_json()}}}'
        button = ButtonElement(
            text=PlainTextObject(text=text[:75]), action_id=REPLACE_ACTION, value=value, style="primary"
        )
    else:
        button = ButtonElement(text=PlainTextObject(text=BUTTON_TEXT), action_id=WATCH_ACTION, value=facts.to_json())
    return [ActionsBlock(block_id="fixcheck_watch", elements=[button])]


def confirmation(watch: Watch, now: dt.datetime, replaced: int | None = None) -> Rendered:
    facts = watch.facts
    ahead = thresholds_ahead(facts.deadline, now)
    when = ", ".join(f"{day(at)} ({plural(d)} before)" if d else f"{day(at)} (the day itself)" for d, at in ahead)
    # SQLite may give the new watch the id of the one it replaced: then say what happened, not "#1 replaces #1".
    if replaced == watch.id:
        replacing = " now follows this certificate instead of the one it watched"
    else:
        replacing = f" replaces #{replaced}" if replaced else ""
    lines = [
        f":bell: Watch #{watch.id}{replacing}: {describe(facts)}.",
        f"Reminders in this channel: {when or 'none left (the date is too close or past)'}.",
        STORED,
        f"`/fixcheck watches` lists this channel's watches; `/fixcheck unwatch {watch.id}` stops this one.",
    ]
    return _simple("\n".join(lines))


def watch_list(watches: list[Watch], total: int, page: int, now: dt.datetime) -> Rendered:
    """One page of a channel's watches: at most PAGE_SIZE, whatever the channel holds."""
    if not total:
        return _simple("No watches in this channel. Diagnose a client certificate here, or run `/fixcheck watch`.")
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*Watches in this channel* ({total}, page {page} of {pages})"))
    ]
    for w in watches:
        ca_first = f", its CA {day(w.facts.deadline)}" if w.facts.applied_renewal == "ca" else ""
        text = (
            f"*#{w.id}* {esc(w.facts.common_name)} · `{w.facts.fingerprint}`\n"
            f"not after {day(w.facts.not_after)}{ca_first} ({left_words(w.facts.deadline, now)}) · "
            f"added by <@{esc(w.added_by)}> on {day(w.added_at)}"
        )
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text[:3000])))
    if page < pages:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"More: `/fixcheck watches {page + 1}`")]))
    return f"{total} watches in this channel (page {page} of {pages})", [b.to_dict() for b in blocks]


def home_view(mine: list[Watch] | None, now: dt.datetime) -> dict[str, Any]:
    """The App Home tab: the watches this person added (None: the database is unreachable)."""
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text="*Expiry watches you added*"))]
    if mine is None:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=DOWN_NOTE)))
    elif not mine:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=NONE_NOTE)))
    for w in mine or []:
        text = (
            f"*#{w.id}* in <#{esc(w.channel_id)}>: {esc(w.facts.common_name)} · `{w.facts.fingerprint[:23]}…`\n"
            f"expires {day(w.facts.deadline)} ({left_words(w.facts.deadline, now)}) · "
            f"`/fixcheck unwatch {w.id}` in that channel"
        )
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text[:3000])))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=STORED)]))
    return {"type": "home", "blocks": [b.to_dict() for b in blocks]}


DOWN_NOTE = ":warning: The watch database is not reachable right now; please look again in a few minutes."
NONE_NOTE = (
    "None yet. Under a diagnosis of a client certificate, press *Remind this channel before it expires*, "
    "or run `/fixcheck watch` in a channel."
)


def recent_choices(recent: list[CertFacts]) -> Rendered:
    """`/fixcheck watch`: the channel's recent diagnoses to pick from, or paste a certificate."""
    blocks: list[Block] = []
    if recent:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="*Recently diagnosed in this channel:*")))
        for n, facts in enumerate(recent):
            button = ButtonElement(
                text=PlainTextObject(text="Watch"), action_id=f"{WATCH_ACTION}_{n}", value=facts.to_json()
            )
            blocks.append(SectionBlock(text=MarkdownTextObject(text=describe(facts)[:3000]), accessory=button))
    else:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="No client certificate was diagnosed here recently.")))
    paste = ButtonElement(text=PlainTextObject(text="Paste a certificate"), action_id=PASTE_ACTION, value="paste")
    blocks.append(ActionsBlock(elements=[paste]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=STORED)]))
    return "Choose a certificate to watch", [b.to_dict() for b in blocks]


def reminder(watch: Watch, days: int, now: dt.datetime) -> Rendered:
    """The reminder in the channel: which certificate, when, which renewal, and the guide's commands."""
    facts = watch.facts
    left = days_left(facts.deadline, now)
    what = "The client CA" if facts.applied_renewal == "ca" else "The FIX client certificate"
    name = esc(facts.common_name)
    if left > 0:
        head = f":alarm_clock: {what} for *{name}* expires on {day(facts.deadline)}: {plural(left)} left."
    elif left == 0 and facts.deadline > now:
        head = f":rotating_light: {what} for *{name}* expires *today* ({day(facts.deadline)}, {facts.deadline:%H:%M} UTC)."
    elif left == 0:  # a late tick (the bot was down): the time has passed
        head = f":rotating_light: {what} for *{name}* expired *today* at {facts.deadline:%H:%M} UTC."
    else:
        head = f":rotating_light: {what} for *{esc(facts.common_name)}* expired on {day(facts.deadline)}."
    advice, commands = RENEWAL_ADVICE.get(facts.applied_renewal, RENEWAL_ADVICE["other"])
    body = f"{head}\nWatch #{watch.id}: {describe(facts)}.\n*What to do:* {advice}"
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=body[:3000]))]
    if commands:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=("```" + "\n".join(commands) + "```")[:3000])))
    later = [d for d in THRESHOLD_DAYS if d < days and left > d]
    note = (
        f"Next reminder {plural(later[0])} before."
        if later and later[0]
        else "Next reminder on the day itself."
        if later
        else ""
    )
    blocks.append(
        ContextBlock(elements=[MarkdownTextObject(text=f"{note} `/fixcheck unwatch {watch.id}` stops these.".strip())])
    )
    text = f"{what} for {facts.common_name}, not after {day(facts.deadline)}: {left_words(facts.deadline, now)}. {advice}"
    return text[:3000], [b.to_dict() for b in blocks]


def already_expired(facts: CertFacts, now: dt.datetime) -> Rendered:
    """No watch for a certificate past its date: there is nothing left to remind about, only to renew."""
    what = "Its CA" if facts.applied_renewal == "ca" else "This certificate"
    advice, commands = RENEWAL_ADVICE.get(facts.applied_renewal, RENEWAL_ADVICE["other"])
    lines = [
        f":rotating_light: No watch added: {describe(facts)}. {what} {left_words(facts.deadline, now)} "
        f"({day(facts.deadline)}), so no reminder is left to send; the exchange refuses it now.",
        f"*What to do:* {advice}",
        "Then diagnose the new certificate in this channel and press *Remind this channel before it expires*.",
    ]
    if commands:
        lines.append("```" + "\n".join(commands) + "```")
    return _simple("\n".join(lines))


def _simple(text: str) -> Rendered:
    return text[:3000], [SectionBlock(text=MarkdownTextObject(text=text[:3000])).to_dict()]

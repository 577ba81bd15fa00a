"""Read what a Slack message says: its plain text, a `HOST:PORT`, pasted PEM blocks.

Slack sends message text with `&`, `<`, `>` escaped and links marked up as
`<http://host:4490|host:4490>`; both are undone before looking for anything.
"""

from __future__ import annotations

import re

from bot.engine import FixLogon, LogonError

_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
# A block ends at its END line, never past the next BEGIN line or MAX_PEM_BLOCK characters: the
# search stays linear in the text (`.*?` up to a missing END made it quadratic: a 200 KB message
# of BEGIN lines held the acknowledgement for minutes).
MAX_PEM_BLOCK = 64 * 1024  # an RSA 16384 key is about 13 KB of PEM
_PEM_BLOCK = re.compile(
    rf"-----BEGIN ([A-Z0-9 ]{{1,40}})-----(?:(?!-----BEGIN )[\s\S]){{0,{MAX_PEM_BLOCK}}}?-----END \1-----"
)
_MENTION = re.compile(r"<@[A-Z0-9]+>")
_LOGON = re.compile(r"(?<![\w-])logon\s+(\S{1,200})", re.IGNORECASE)
# Between two blocks of one paste there is only white space or code-fence back-ticks.
_GLUE = re.compile(r"^[\s`]*$")


def plain_text(text: str) -> str:
    """Message text without Slack's link markup and entity escapes."""

    def link(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith(("@", "#", "!")):
            return ""
        value = label if label else target
        for scheme in ("http://", "https://", "tcp://"):
            if value.lower().startswith(scheme):
                value = value[len(scheme) :]
        return value.rstrip("/")

    text = _MENTION.sub(" ", text or "")
    text = _LINK.sub(link, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mentions(text: str, user_id: str | None) -> bool:
    return bool(user_id) and f"<@{user_id}>" in (text or "")


def pasted_pem(text: str) -> list[tuple[str, bytes]]:
    """PEM blocks pasted in `text`, as `(name, bytes)` inputs for the engine.

    Blocks pasted together (separated by nothing but white space or a code fence) stay
    together in one input, as they would be in one file (`fix.itbit.pem` is a certificate
    followed by its key); blocks separated by other text become separate inputs.
    """
    groups: list[list[str]] = []
    last_end: int | None = None
    for m in _PEM_BLOCK.finditer(text):
        between = text[last_end : m.start()] if last_end is not None else None
        block = "\n".join(line.strip() for line in m.group(0).replace("\r", "").split("\n") if line.strip())
        if between is not None and _GLUE.match(between) and groups:
            groups[-1].append(block)
        else:
            groups.append([block])
        last_end = m.end()
    return [(f"pasted-{n}.pem", ("\n".join(g) + "\n").encode()) for n, g in enumerate(groups, 1)]


def strip_pem(text: str) -> str:
    """`text` with every PEM block removed (so a key's base64 is never searched or logged)."""
    return _PEM_BLOCK.sub(" ", text)


def find_logon(text: str) -> tuple[FixLogon | None, str | None]:
    """`logon SENDER:TARGET` in a message (plain text): the Logon to send, or why it cannot be sent."""
    m = _LOGON.search(text)
    if m is None:
        return None, None
    try:
        return FixLogon.parse(m.group(1).strip("`*_,;.")), None
    except LogonError as exc:
        return None, f"No FIX Logon sent: {exc}."

"""Logging that cannot leak secrets: PEM blocks, base64 runs and Slack tokens are redacted.

The bot never logs file contents, message text or request bodies on purpose; redaction
is the second line of defence, applied to every record and traceback that reaches a
handler (`RedactingFilter`, usable under any formatter). Keys are found in every
encoding they can arrive in: raw, JSON-escaped (`\\n`, `\\/`, `\\u002b`), form/URL-encoded
(`+`, `%2B`, `%2F`, `%0A`) and with Slack's HTML escapes. Bolt's own records that
would carry a request body are replaced by a line without it. Slack's libraries log
request and event payloads at DEBUG, so their loggers are held at INFO whatever
LOG_LEVEL says.
"""

from __future__ import annotations

import html
import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_plus

# What separates or encodes base64 (and base64url) characters in the encodings above: a run
# of 40+ of these "units" with an upper-case letter in it is key-shaped however it was
# escaped (a word never gets that long; a file path is lower case or full of slashes).
_UNIT = (
    r"(?:[A-Za-z0-9+/=_\-]|%2[BbFf]|%3[Dd]|%0[AaDd]|%20|\\[nr/]|\\u00(?:2[bBfF]|3[dD]|0[aAdD])"
    r"|&#(?:43|47|61|x2[bBfF]|x3[dD]);|\r?\n)"
)
# Every maximal run, each found once (possessive: no backtracking into a run, so a text of
# 39-character words costs one pass, not 40); `_long` keeps the short and the path-like ones.
_ENCODED_RUN = re.compile(rf"{_UNIT}++")
MIN_RUN = 40
PATH_SLASHES = 16  # a path has a slash every few characters; base64 one in 64 on average
_DASHES = r"(?:-|%2[Dd]){5}"
_GAP = r"(?:\s|\+|%20)"
_LABEL = r"(?:[^-%]|%20){0,60}?"
# A BEGIN line in any encoding, and everything up to its END line (or the end of the text).
_PEM = re.compile(rf"{_DASHES}BEGIN{_GAP}{_LABEL}{_DASHES}.*?(?:{_DASHES}END{_GAP}{_LABEL}{_DASHES}|$)", re.DOTALL)
_TOKEN = re.compile(r"\b(?:xox[abposr]|xapp|xoxe(?:\.xox[bp])?)-[A-Za-z0-9\-]+")
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)
# Key bytes as `openssl pkey -text` (or asn1parse) prints them: 20+ colon-separated hex bytes,
# across line breaks and indentation.
_COLON_HEX = re.compile(r"[0-9A-Fa-f]{2}(?::[ \t]*(?:\r?\n[ \t]*)?[0-9A-Fa-f]{2}){19,}:?")
# A "word" long enough to hide a key once decoded (percent-, HTML- or JSON-escaped, byte by byte).
_WORD = re.compile(r"[^\s\"'<>]{40,}")
_JSON_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")
# slack_sdk turns a non-JSON answer into an error message quoting its first 100 characters.
_NON_JSON = re.compile(r"(Received a response in a non-JSON format):[^\n]*?(?=, HTTP \d{3}\)$|$)", re.MULTILINE)

# Records that would carry a whole request body (Bolt's failed-signature line, its
# "unhandled request" suggestion, a skipped middleware): (message start, replacement).
BODY_RECORDS = (
    ("Invalid request signature detected", "Invalid request signature detected (request body not logged)"),
    ("Unhandled request", "Unhandled request (request body not logged)"),
    ("A global middleware", "A global middleware skipped next() (request body not logged)"),
    ("request body:", "request body not logged"),
    ("Request body:", "request body not logged"),
    # slack_sdk quotes a non-JSON answer (an HTML error page, over two lines) in full.
    ("Failed to decode Slack API response", "Failed to decode Slack API response: not JSON (response body not logged)"),
)


def redact(text: str) -> str:
    """`text` without key material, tokens or bearer secrets, in any encoding listed above.

    Linear time: each pattern is one pass, and an encoded word is decoded once.
    """
    return _plain(_WORD.sub(_decoded_word, text))


def _plain(text: str) -> str:
    text = _PEM.sub("[redacted PEM block]", text)
    text = _TOKEN.sub("[redacted token]", text)
    text = _BEARER.sub(r"\1[redacted]", text)
    text = _COLON_HEX.sub("[redacted]", text)
    text = _NON_JSON.sub(r"\1 (response body not logged)", text)
    return _ENCODED_RUN.sub(_long, text)


def _decoded_word(m: re.Match[str]) -> str:
    """A word whose decoded copy (percent, HTML, JSON escapes) holds key material is redacted whole.

    `%2D%2D%2D%2D%2D%42%45%47…` (every byte percent-encoded) is not key-shaped until decoded.
    """
    word = m.group(0)
    if not any(c in word for c in "%&\\"):
        return word
    decoded = _JSON_ESCAPE.sub(lambda e: chr(int(e.group(1), 16)), html.unescape(unquote_plus(word)))
    return "[redacted]" if decoded != word and _plain(decoded) != decoded else word


def _long(m: re.Match[str]) -> str:
    run = m.group(0)
    if len(run) < MIN_RUN or run.count("/") * PATH_SLASHES > len(run):
        return run
    # Lower case, digits, `_` and `-` only: an identifier, a hex digest or a path part, not base64.
    return "[redacted]" if any(c.isupper() for c in run) else run


class RedactingFilter(logging.Filter):
    """Rewrites every record it passes: no request body, no key material, no token.

    On a handler it covers every logger (including uvicorn's and Bolt's app logger, which
    is named after the app, not `slack_bolt`); the record's message and traceback are
    rendered once, redacted, and the arguments dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: log it as given, redacted
            message = str(record.msg)
        for start, replacement in BODY_RECORDS:
            if message.lstrip().startswith(start):
                message = replacement
                break
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record.msg, record.args = redact(message), None
        return True


# Bolt's loggers whose records can carry a request body: the failed-signature line and the
# "unhandled request" warning. Filtered on the logger itself, so the records are clean
# whatever handler receives them (pytest's caplog, another formatter, an embedding app).
BOLT_BODY_LOGGERS = ("slack_bolt.App", "slack_bolt.RequestVerification")


def protect_bolt_loggers() -> None:
    """Put `RedactingFilter` on Bolt's body-carrying loggers (once)."""
    for name in BOLT_BODY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())


class RedactingFormatter(logging.Formatter):
    """Belt and braces: the formatted line is redacted again (a formatter may add fields)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


_ERROR_ID = re.compile(r"\berror_id=([0-9a-f]{6,32})\b")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """FIXCHECK_LOG_FORMAT=json: one JSON object per line, every string through `redact`.

    The request's error id (logged as `error_id=...`) gets its own field, so that an
    operator can find the line a user quotes. Tracebacks are reduced to the exception
    type: their messages may quote what a user sent.
    """

    def format(self, record: logging.LogRecord) -> str:
        message = redact(record.getMessage())
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        found = _ERROR_ID.search(message)
        if found:
            entry["error_id"] = found.group(1)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


def formatter(log_format: str = "text") -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else RedactingFormatter(TEXT_FORMAT)


def configure(level: str = "INFO", log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    numeric = logging.getLevelName(level)
    quiet = max(numeric if isinstance(numeric, int) else logging.INFO, logging.INFO)
    for name in ("slack_bolt", "slack_sdk", "websocket", "httpx", "httpcore", "urllib3"):
        logging.getLogger(name).setLevel(
            max(quiet, logging.WARNING) if name.startswith(("httpx", "httpcore", "urllib3")) else quiet
        )


def uvicorn_log_config(level: str, log_format: str = "text") -> dict[str, object]:
    """uvicorn's loggers through the same redacting handler (and the same format)."""
    fmt: dict[str, object] = (
        {"()": JsonFormatter} if log_format == "json" else {"()": RedactingFormatter, "fmt": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"redacting": fmt},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "redacting",
                "filters": ["redacting"],
                "stream": "ext://sys.stderr",
            }
        },
        "filters": {"redacting": {"()": RedactingFilter}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]
ACCESS_PATHS = ("/slack/events", "/healthz", "/readyz", "/metrics")
access_log = logging.getLogger("fixcheck.access")


class AccessLog:
    """One access line per HTTP request: method, path, status, duration. Never the query string.

    uvicorn's own access line quoted the raw query (`POST /slack/events?text=%2D%2D%2D…`
    logged a whole key, percent-encoded); a path the bot does not serve is not echoed either.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = [0]

        async def sending(message: Message) -> None:
            if message.get("type") == "http.response.start":
                status[0] = int(message.get("status", 0))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = scope.get("path", "")
            shown = path if path in ACCESS_PATHS else "(other path)"
            method = str(scope.get("method", ""))[:10]
            took = (time.monotonic() - started) * 1000
            access_log.info("%s %s %d %.0fms", method, shown, status[0] or 500, took)

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

import json
import logging
import re
import sys
import time

# What separates or encodes base64 characters in the encodings above: a run of 40+ of these
# "units" is key-shaped however it was escaped (a plain English word never gets that long).
_UNIT = (
    r"(?:[A-Za-z0-9+/=]|%2[BbFf]|%3[Dd]|%0[AaDd]|%20|\\[nr/]|\\u00(?:2[bBfF]|3[dD]|0[aAdD])"
    r"|&#(?:43|47|61|x2[bBfF]|x3[dD]);|\r?\n)"
)
# Every maximal run, each found once (possessive: no backtracking into a run, so a text of
# 39-character words costs one pass, not 40); `_long` keeps the short ones.
_ENCODED_RUN = re.compile(rf"{_UNIT}++")
MIN_RUN = 40
_DASHES = r"(?:-|%2[Dd]){5}"
_GAP = r"(?:\s|\+|%20)"
_LABEL = r"(?:[^-%]|%20){0,60}?"
# A BEGIN line in any encoding, and everything up to its END line (or the end of the text).
_PEM = re.compile(rf"{_DASHES}BEGIN{_GAP}{_LABEL}{_DASHES}.*?(?:{_DASHES}END{_GAP}{_LABEL}{_DASHES}|$)", re.DOTALL)
_TOKEN = re.compile(r"\b(?:xox[abposr]|xapp|xoxe(?:\.xox[bp])?)-[A-Za-z0-9\-]+")
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)

# Records that would carry a whole request body (Bolt's failed-signature line, its
# "unhandled request" suggestion, a skipped middleware): (message start, replacement).
BODY_RECORDS = (
    ("Invalid request signature detected", "Invalid request signature detected (request body not logged)"),
    ("Unhandled request", "Unhandled request (request body not logged)"),
    ("A global middleware", "A global middleware skipped next() (request body not logged)"),
    ("request body:", "request body not logged"),
    ("Request body:", "request body not logged"),
)


def redact(text: str) -> str:
    text = _PEM.sub("[redacted PEM block]", text)
    text = _TOKEN.sub("[redacted token]", text)
    text = _BEARER.sub(r"\1[redacted]", text)
    return _ENCODED_RUN.sub(_long, text)


def _long(m: re.Match[str]) -> str:
    return "[redacted]" if len(m.group(0)) >= MIN_RUN else m.group(0)


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

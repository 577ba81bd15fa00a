"""Logging that cannot leak secrets: PEM blocks, base64 runs and Slack tokens are redacted.

The bot never logs file contents or message text on purpose; this formatter is the
second line of defence, applied to every record and traceback that reaches the handler.
Slack's own libraries log request and event payloads at DEBUG, so their loggers are
held at INFO whatever LOG_LEVEL says.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

_PEM = re.compile(r"-----BEGIN [^-]{1,40}-----.*?(?:-----END [^-]{1,40}-----|$)", re.DOTALL)
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")
_TOKEN = re.compile(r"\b(?:xox[abposr]|xapp|xoxe(?:\.xox[bp])?)-[A-Za-z0-9\-]+")
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)


def redact(text: str) -> str:
    text = _PEM.sub("[redacted PEM block]", text)
    text = _TOKEN.sub("[redacted token]", text)
    text = _BEARER.sub(r"\1[redacted]", text)
    return _BASE64_RUN.sub("[redacted]", text)


class RedactingFormatter(logging.Formatter):
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
            "stderr": {"class": "logging.StreamHandler", "formatter": "redacting", "stream": "ext://sys.stderr"}
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }

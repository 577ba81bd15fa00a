"""Logging that cannot leak secrets: PEM blocks, base64 runs and Slack tokens are redacted.

The bot never logs file contents or message text on purpose; this formatter is the
second line of defence, applied to every record and traceback that reaches the handler.
Slack's own libraries log request and event payloads at DEBUG, so their loggers are
held at INFO whatever LOG_LEVEL says.
"""

from __future__ import annotations

import logging
import re
import sys

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


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    numeric = logging.getLevelName(level)
    quiet = max(numeric if isinstance(numeric, int) else logging.INFO, logging.INFO)
    for name in ("slack_bolt", "slack_sdk", "httpx", "httpcore", "urllib3"):
        logging.getLogger(name).setLevel(
            max(quiet, logging.WARNING) if name.startswith(("httpx", "httpcore", "urllib3")) else quiet
        )


def uvicorn_log_config(level: str) -> dict[str, object]:
    """uvicorn's loggers through the same redacting handler."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "redacting": {"()": RedactingFormatter, "fmt": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
        },
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "redacting", "stream": "ext://sys.stderr"}
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }

"""TLS alerts in stunnel's log: their names as OpenSSL prints them, and the lines that name one."""

from __future__ import annotations

import re

# TLS alert names as OpenSSL prints them, and their numbers (RFC 8446 section 6).
ALERTS: dict[str, int] = {
    "handshake failure": 40,
    "bad certificate": 42,
    "unsupported certificate": 43,
    "certificate revoked": 44,
    "certificate expired": 45,
    "certificate unknown": 46,
    "illegal parameter": 47,
    "unknown ca": 48,
    "access denied": 49,
    "decrypt error": 51,
    "protocol version": 70,
    "insufficient security": 71,
    "internal error": 80,
    "certificate required": 116,
    "unrecognized name": 112,
}


def alert_line(numbers: set[int]) -> re.Pattern[str]:
    """An SSL_connect/read/write error that names one of these alerts ('... sslv3 alert bad certificate')."""
    names = "|".join(re.escape(n) for n, num in ALERTS.items() if num in numbers)
    return re.compile(
        rf"^(?=(?P<call>SSL_(?:connect|read|write)[^:]*)).*?alert [a-z ]*?(?P<alert>{names})\s*(?:$|:|\()"
    )

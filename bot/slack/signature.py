"""Slack's request signature, checked before a request's body is parsed or dispatched.

Bolt checks signatures too, but only after parsing the body, and a malformed
`X-Slack-Request-Timestamp` made its check raise: the request reached the error
handler, which acted on the unverified body (posting to its channel or response_url).
Here any request that is not provably Slack's gets 401 and nothing else happens: the
body is never parsed, logged or answered.

    refusal = signature.refusal(app, req.headers, body)   # None: Slack signed it
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Mapping

from slack_bolt import App
from slack_sdk.signature import SignatureVerifier
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"
# Slack's formats exactly: seconds since the epoch, and `v0=` + a hex SHA-256. Anything else
# (text, signs, spaces, a second header) is refused before arithmetic or HMAC is tried.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")

_verifiers: weakref.WeakKeyDictionary[App, SignatureVerifier] = weakref.WeakKeyDictionary()


def protect(app: App, signing_secret: str) -> None:
    """Require `signing_secret`'s signature on every HTTP request `app` is given."""
    if signing_secret.strip():
        _verifiers[app] = SignatureVerifier(signing_secret)


def problem(verifier: SignatureVerifier | None, headers: Mapping[str, str], body: bytes) -> str | None:
    """Why the request is not Slack's (for the log: never the body), or None when it is."""
    if verifier is None:
        return "no signing secret is configured"
    values = [_all(headers, TIMESTAMP_HEADER), _all(headers, SIGNATURE_HEADER)]
    if any(len(v) != 1 for v in values):
        return "a signature header is missing or repeated"
    timestamp, sig = values[0][0], values[1][0]
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(sig):
        return "a signature header is malformed"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if abs(verifier.clock.now() - int(timestamp)) > 60 * 5:
        return "the timestamp is more than 5 minutes away (clock skew or a replay)"
    if not verifier.is_valid(text, timestamp, sig):
        return "the signature does not match (wrong or rotated SLACK_SIGNING_SECRET?)"
    return None


def refusal(app: App, headers: Mapping[str, str], body: bytes) -> Response | None:
    """None for a request Slack signed; otherwise the 401 to answer (and one log line without the body)."""
    why = problem(_verifiers.get(app), headers, body)
    if why is None:
        return None
    log.warning("refused an unsigned or badly signed request (%d bytes): %s", len(body), why)
    return JSONResponse({"error": "invalid request"}, status_code=401)


def _all(headers: Mapping[str, str], name: str) -> list[str]:
    getlist = getattr(headers, "getlist", None)
    if callable(getlist):
        return [str(v) for v in getlist(name)]
    value = headers.get(name)
    return [] if value is None else [value]

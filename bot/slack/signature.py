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
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"
# Slack's formats exactly: seconds since the epoch, and `v0=` + a hex SHA-256. Anything else
# (text, signs, spaces, a second header) is refused before arithmetic or HMAC is tried.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")

WINDOW = 60 * 5  # Slack's: a signed request older (or newer) than this is refused
MAX_REMEMBERED = 100_000  # signatures kept for replay detection: about 10 MB at worst

_verifiers: weakref.WeakKeyDictionary[App, SignatureVerifier] = weakref.WeakKeyDictionary()


class ReplayGuard:
    """Signatures seen within the window: the same signed request a second time is a replay.

    A replayed slash command (captured and re-sent within Slack's 5 minutes) ran its work
    again; Slack's own retries of events are signed anew and deduplicated by event id.
    This one is per process: a replay sent to another replica, or after a restart, is not
    caught unless FIXCHECK_REDIS_URL is set (then `bot.slack.store.SharedReplayGuard`).
    """

    def __init__(self, window: float = WINDOW, limit: int = MAX_REMEMBERED) -> None:
        self._seen: dict[str, float] = {}  # signature -> when it may be forgotten (insertion-ordered)
        self._window, self._limit = window, limit
        self._lock = threading.Lock()  # checks run in worker threads (a shared guard may wait on Redis)

    @property
    def window(self) -> float:
        return self._window

    def first_time(self, signature: str, now: float) -> bool:
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) < now or len(self._seen) >= self._limit):
                del self._seen[next(iter(self._seen))]
            if signature in self._seen:
                return False
            self._seen[signature] = now + 2 * self._window  # the timestamp may be up to one window ahead
            return True


_replays = ReplayGuard()


def use_replay_guard(guard: ReplayGuard) -> None:
    """Check replays with `guard` from now on (the shared one when Redis is configured)."""
    global _replays
    _replays = guard


def protect(app: App, signing_secret: str) -> None:
    """Require `signing_secret`'s signature on every HTTP request `app` is given."""
    if signing_secret.strip():
        _verifiers[app] = SignatureVerifier(signing_secret)


def problem(verifier: SignatureVerifier | None, headers: Mapping[str, Any], body: bytes) -> str | None:
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
    if abs(verifier.clock.now() - int(timestamp)) > WINDOW:
        return "the timestamp is more than 5 minutes away (a replay, or this host's clock is off: check `date -u`)"
    if not verifier.is_valid(text, timestamp, sig):
        return "the signature does not match (SLACK_SIGNING_SECRET wrong or rotated? compare it with the app's Basic Information page)"
    return None


def refusal(app: App, headers: Mapping[str, str], body: bytes) -> Response | None:
    """None for a request Slack signed, seen for the first time; otherwise the answer to give.

    Unverified: 401 and one log line without the body. A replay of a verified request:
    200 (Slack must not retry it) and no action.
    """
    verifier = _verifiers.get(app)
    why = problem(verifier, headers, body)
    if why is not None:
        log.warning("refused an unsigned or badly signed request (%d bytes): %s", len(body), why)
        return JSONResponse({"error": "invalid request"}, status_code=401)
    assert verifier is not None  # problem() said so
    if not _replays.first_time(_all(headers, SIGNATURE_HEADER)[0], verifier.clock.now()):
        log.warning("ignored a replayed request (a signature already seen within %d s)", WINDOW)
        return Response(status_code=200)
    return None


def verified_by_bolt_request(app: App, request: BoltRequest) -> bool:
    """Did Slack sign this request (as Bolt holds it: lower-case headers, lists of values)?

    For the error handler, which must not act on an unverified body when a request reaches
    Bolt some other way than through the HTTP front end's check.
    """
    body = request.raw_body.encode("utf-8", "surrogateescape") if request.raw_body else b""
    return problem(_verifiers.get(app), request.headers, body) is None


def _all(headers: Mapping[str, Any], name: str) -> list[str]:
    """Every value of header `name` (Starlette's multi-dict, or Bolt's dict of lists)."""
    getlist = getattr(headers, "getlist", None)
    if callable(getlist):
        return [str(v) for v in getlist(name)]
    value = headers.get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]

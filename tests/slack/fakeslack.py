"""A fake Slack on 127.0.0.1: Web API methods, response URLs and file downloads.

It records every request the bot makes (method, path, headers, body) so tests can
assert on replies and scan every payload for leaked key material. Behaviour can be
scripted: 429s with Retry-After, HTML login pages instead of files, oversized files.
Also here: Slack's v0 request signing, and helpers to send signed requests to the bot.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.slack import hostile

BOT_TOKEN = "xoxb-1111-2222-faketokenfortests"
APP_TOKEN = "xapp-1-AFIXCHECK-3333-faketokenfortests"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_USER_ID = "UFIXBOT"
BOT_ID = "BFIXBOT"
TEAM_ID = "T0FIXTEST"
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    params: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    @property
    def api(self) -> str:
        return self.path.removeprefix("/api/") if self.path.startswith("/api/") else ""

    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")

    def blocks(self) -> list[dict[str, Any]]:
        value = self.params.get("blocks")
        if isinstance(value, str):
            return list(json.loads(value))
        return list(value or [])

    def all_text(self) -> str:
        """Text and every block's text, for assertions."""
        parts = [str(self.params.get("text") or "")]
        parts.extend(json.dumps(b) for b in self.blocks())
        return "\n".join(parts)


@dataclass
class FakeFile:
    id: str
    name: str
    data: bytes
    mode: str = "ok"  # ok | html | redirect | chunked (no Content-Length) | trickle | silent | endless (see hostile.py)

    def obj(self, base: str, *, stub: bool = False) -> dict[str, Any]:
        if stub:  # what a Slack Connect message event carries
            return {"id": self.id, "mode": "file_access", "file_access": "check_file_info"}
        return {
            "id": self.id,
            "name": self.name,
            "title": self.name,
            "mimetype": "text/plain",
            "filetype": "text",
            "size": len(self.data) if self.mode != "chunked" else 10,
            "url_private": f"{base}files/{self.id}/{self.name}",
            "url_private_download": f"{base}files/{self.id}/download/{self.name}",
        }


class FakeSlack:
    """`with FakeSlack() as slack:` serves on 127.0.0.1 until the block ends."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.files: dict[str, FakeFile] = {}
        self.cond = threading.Condition()
        self._rate_limits: dict[str, list[Any]] = {}  # method -> [remaining 429s, Retry-After value]
        self._ts = 0
        self._failing: dict[str, tuple[int, bytes, str]] = {}  # channel -> (status, body, content type)

        # channel -> [Slack error, how many more times]: chat.postMessage to it fails (e.g. not_in_channel)
        self.post_errors: dict[str, list[Any]] = {}

        # Socket Mode: what hands out a new single-use ws:// URL for apps.connections.open
        # (FakeSocketMode.new_url), and how many of the next apps.connections.open calls fail.
        self.socket_urls: Callable[[], str] | None = None
        self.connections_open_failures = 0
        self.connections_open_error = "internal_error"
        self.revoked_bot_token = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            timeout = hostile.MAX_SILENCE  # no request holds a handler thread longer (the slow download modes)

            def log_message(self, *_: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}/"
        self.api_url = f"{self.base}api/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- scripting ---------------------------------------------------------------
    def add_file(self, file_id: str, name: str, data: bytes, mode: str = "ok") -> FakeFile:
        f = FakeFile(file_id, name, data, mode)
        self.files[file_id] = f
        return f

    def rate_limit(self, method: str, times: int, retry_after: int | str = 1) -> None:
        self._rate_limits[method] = [times, retry_after]

    def fail_posts(self, channel: str, status: int, body: bytes, ctype: str = "application/json") -> None:
        """Every chat.postMessage to `channel` gets this answer (status 0: the connection is closed unanswered)."""
        self._failing[channel] = (status, body, ctype)

    def response_url(self, key: str) -> str:
        return f"{self.base}response/{key}"

    # --- queries -------------------------------------------------------------------
    def find(self, pred: Callable[[Call], bool]) -> list[Call]:
        with self.cond:
            return [c for c in self.calls if pred(c)]

    def wait_for(self, pred: Callable[[Call], bool], count: int = 1, timeout: float = 15.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [c for c in self.calls if pred(c)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {count} matching call(s); got {len(found)}")
                self.cond.wait(left)

    def posts_to(self, channel: str) -> list[Call]:
        return self.find(lambda c: c.api == "chat.postMessage" and c.params.get("channel") == channel)

    # --- serving -------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        path = urllib.parse.urlsplit(h.path).path
        call = Call(method, path, {k.lower(): v for k, v in h.headers.items()}, raw, _params(h.headers, raw))
        if path.startswith("/api/") and call.api in self._rate_limits and self._rate_limits[call.api][0] > 0:
            self._rate_limits[call.api][0] -= 1
            self._record(call)
            retry_after = self._rate_limits[call.api][1]
            body = json.dumps({"ok": False, "error": "ratelimited"}).encode()
            self._send(h, 429, body, "application/json", {"Retry-After": str(retry_after)})
            return
        self._record(call)
        if path.startswith("/api/"):
            self._api(h, call)
        elif path.startswith("/response/"):
            self._send(h, 200, b"ok", "text/plain")
        elif path.startswith("/redirect/"):  # a response_url that answers 302 to /response/followed-<key>
            target = f"{self.base}response/followed-{path.removeprefix('/redirect/')}"
            self._send(h, 302, b"", "text/plain", {"Location": target})
        elif path.startswith("/files/"):
            self._download(h, call)
        else:
            self._send(h, 404, b"not found", "text/plain")

    def _record(self, call: Call) -> None:
        with self.cond:
            self.calls.append(call)
            self.cond.notify_all()

    def _api(self, h: BaseHTTPRequestHandler, call: Call) -> None:
        if call.api == "apps.connections.open":
            self._connections_open(h, call)
            return
        if call.headers.get("authorization") != f"Bearer {BOT_TOKEN}":
            self._json(h, {"ok": False, "error": "invalid_auth"})
            return
        if self.revoked_bot_token and call.api != "auth.test":
            self._json(h, {"ok": False, "error": "token_revoked"})
            return
        name = call.api
        failing = self._failing.get(str(call.params.get("channel")))
        if name == "chat.postMessage" and failing is not None:
            status, body, ctype = failing
            if status == 0:
                h.close_connection = True
                return
            self._send(h, status, body, ctype)
            return
        if name == "auth.test":
            self._json(
                h,
                {
                    "ok": True,
                    "url": "https://fixcheck-test.slack.com/",
                    "team": "test",
                    "user": "fixcheck",
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "bot_id": BOT_ID,
                    "is_enterprise_install": False,
                },
            )
        elif name == "chat.postMessage" and self._post_error(str(call.params.get("channel"))):
            self._json(h, {"ok": False, "error": self._post_error(str(call.params.get("channel")), consume=True)})
        elif name in ("chat.postMessage", "chat.postEphemeral"):
            with self.cond:
                self._ts += 1
                ts = f"1700000000.{self._ts:06d}"
            self._json(h, {"ok": True, "channel": call.params.get("channel"), "ts": ts, "message_ts": ts})
        elif name == "files.info":
            f = self.files.get(str(call.params.get("file")))
            if f is None:
                self._json(h, {"ok": False, "error": "file_not_found"})
            else:
                self._json(h, {"ok": True, "file": f.obj(self.base)})
        elif name == "views.open":
            self._json(h, {"ok": True, "view": {"id": "V123"}})
        elif name == "views.publish":
            self._json(h, {"ok": True, "view": {"id": "VHOME"}})
        else:
            self._json(h, {"ok": False, "error": "unknown_method"})

    def _post_error(self, channel: str, *, consume: bool = False) -> str | None:
        with self.cond:
            scripted = self.post_errors.get(channel)
            if not scripted or scripted[1] <= 0:
                return None
            if consume:
                scripted[1] -= 1
            return str(scripted[0])

    def _connections_open(self, h: BaseHTTPRequestHandler, call: Call) -> None:
        if call.headers.get("authorization") != f"Bearer {APP_TOKEN}":
            self._json(h, {"ok": False, "error": "invalid_auth"})
            return
        with self.cond:
            failing = self.connections_open_failures > 0
            if failing:
                self.connections_open_failures -= 1
        if failing or self.socket_urls is None:
            self._json(h, {"ok": False, "error": self.connections_open_error})
            return
        self._json(h, {"ok": True, "url": self.socket_urls()})

    def _download(self, h: BaseHTTPRequestHandler, call: Call) -> None:
        parts = call.path.split("/")
        f = self.files.get(parts[2]) if len(parts) > 2 else None
        if f is None:
            self._send(h, 404, b"not found", "text/plain")
            return
        if call.headers.get("authorization") != f"Bearer {BOT_TOKEN}" or f.mode == "html":
            self._send(h, 200, LOGIN_PAGE, "text/html; charset=utf-8")
            return
        if f.mode == "redirect":
            self._send(h, 302, b"", "text/plain", {"Location": "https://slack.com/signin"})
            return
        if f.mode in hostile.MODES:
            hostile.serve(h, f.mode, f.data)
            return
        if f.mode == "chunked":
            h.send_response(200)
            h.send_header("Content-Type", "application/octet-stream")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            try:
                for i in range(0, len(f.data), 16384):
                    chunk = f.data[i : i + 16384]
                    h.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                h.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        self._send(h, 200, f.data, "application/octet-stream")

    @staticmethod
    def _json(h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        FakeSlack._send(h, 200, json.dumps(body).encode(), "application/json; charset=utf-8")

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
    ) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _params(headers: Any, raw: bytes) -> dict[str, Any]:
    ctype = (headers.get("Content-Type") or "").lower()
    text = raw.decode("utf-8", "replace")
    if "json" in ctype:
        try:
            value = json.loads(text or "{}")
            return value if isinstance(value, dict) else {}
        except ValueError:
            return {}
    if "x-www-form-urlencoded" in ctype:
        return {k: v[-1] for k, v in urllib.parse.parse_qs(text, keep_blank_values=True).items()}
    return {}


# --- Slack's request signing and senders ----------------------------------------------


def signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: str, *, content_type: str, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(secret, ts, body),
    }


def event_body(event: dict[str, Any], event_id: str) -> str:
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "AFIXCHECK",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
    )


def command_body(
    text: str,
    *,
    user: str,
    response_url: str,
    channel: str = "C0CMD",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
) -> str:
    return urllib.parse.urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "fixcheck-test",
            "channel_id": channel,
            "channel_name": "support",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/fixcheck",
            "text": text,
            "api_app_id": "AFIXCHECK",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def interaction_body(payload: dict[str, Any]) -> str:
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def send_event(
    client: httpx.Client, url: str, event: dict[str, Any], event_id: str, retry: int | None = None
) -> httpx.Response:
    body = event_body(event, event_id)
    headers = signed_headers(body, content_type="application/json")
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return client.post(url, content=body, headers=headers)


def send_command(
    client: httpx.Client, url: str, text: str, *, user: str, response_url: str, **kw: Any
) -> httpx.Response:
    body = command_body(text, user=user, response_url=response_url, **kw)
    return client.post(
        url, content=body, headers=signed_headers(body, content_type="application/x-www-form-urlencoded")
    )


def send_interaction(client: httpx.Client, url: str, payload: dict[str, Any]) -> httpx.Response:
    body = interaction_body(payload)
    return client.post(
        url, content=body, headers=signed_headers(body, content_type="application/x-www-form-urlencoded")
    )

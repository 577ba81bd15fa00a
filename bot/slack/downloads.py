"""Download files shared in Slack, carefully.

Only from `files.slack.com` (https, port 443) or the host and port of SLACK_API_URL,
with the bot token, never following redirects, and with the size cap enforced while
streaming. Each download also has an overall deadline covering connect, headers and body
(a watchdog shuts the socket down when it passes: httpx's timeout is per read, so a
server sending one header byte every 2 s held a worker for 95 s) and a minimum rate for
the body. The bytes stay in memory: nothing is written to disk, logged or echoed.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from bot.slack import exposure
from bot.slack.settings import Settings

log = logging.getLogger(__name__)

SLACK_FILES_HOST = "files.slack.com"

# Files worth reading: PEM/DER material and text (a stunnel configuration, a log), and key
# containers (PKCS#12, PuTTY, Java keystores), read only to warn that the key is exposed.
RELEVANT_EXTENSIONS = (
    ".pem", ".crt", ".cer", ".cert", ".key", ".csr", ".req", ".der", ".p7b", ".ca", ".conf", ".cfg", ".txt", ".log",
    ".p12", ".pfx", ".ppk", ".jks", ".keystore", ".p8", ".pk8",
    # Read only for the key scan: a Kubernetes Secret (`tls.key:`), a service account's `private_key`.
    ".json", ".yaml", ".yml", ".env", ".properties",
)  # fmt: skip
RELEVANT_FILETYPES = ("text", "pem", "crt", "key", "csr", "cer", "der", "binary", "config", "log")


# A shared certificate file is a few KiB: from Slack it arrives in well under a second.
DEADLINE = 20.0  # seconds for one whole download
MIN_RATE = 1024  # bytes per second on average, checked once GRACE seconds have passed
GRACE = 3.0
READ_TIMEOUT = 5.0  # the longest silence between two chunks (also bounds how late a check can run)


# What a login page starts with (whatever Content-Type it came with: Slack sends its sign-in page
# instead of the file when the app lacks files:read). No certificate, key or config starts so.
_HTML_STARTS = (b"<!--", b"<!doctype", b"<html", b"<head", b"<body", b"<meta", b"<script", b"<title")


class _Watchdog:
    """Shuts the download's socket down when the overall deadline passes, whatever phase it is in.

    The socket comes from httpx's trace hook once TCP connects; a deadline that passes before
    that shuts it down as soon as it appears. Shutting down wakes the worker blocked in recv().
    """

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sock, fired = sock, self.fired
            if fired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired, sock = True, self._sock
        if sock is not None:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: the download is over anyway


def looks_like_html(data: bytes) -> bool:
    """A web page (Slack's sign-in page), not a file: judged by its first bytes, not its Content-Type."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(_HTML_STARTS)


class DownloadError(Exception):
    """A file could not be fetched; the message is safe to show to the user."""


@dataclass(frozen=True)
class Downloaded:
    name: str
    data: bytes


def is_relevant(file: Mapping[str, Any]) -> bool:
    """Could this shared file be part of an mTLS onboarding (not a screenshot or a PDF)?"""
    name = str(file.get("name") or file.get("title") or "").lower()
    if name.endswith(RELEVANT_EXTENSIONS):
        return True
    mimetype = str(file.get("mimetype") or "").lower()
    if mimetype.startswith("text/") or mimetype in (
        "application/x-pem-file",
        "application/x-x509-ca-cert",
        "application/pkix-cert",
        "application/pkcs10",
        "application/x-x509-user-cert",
        "application/json",
        "application/x-yaml",
        "application/yaml",
    ):
        return True
    filetype = str(file.get("filetype") or "").lower()
    return filetype in RELEVANT_FILETYPES and not mimetype.startswith(("image/", "video/", "audio/"))


class Downloader:
    """Fetches `url_private_download` URLs under the rules above (thread-safe)."""

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = 10.0,
        deadline: float = DEADLINE,
        min_rate: float = MIN_RATE,
        grace: float = GRACE,
    ) -> None:
        self._token = settings.bot_token
        self._max = settings.max_file_bytes
        self._api_host = settings.api_host
        self._api_scheme = settings.api_scheme
        self._deadline, self._min_rate, self._grace = deadline, min_rate, grace
        read = min(timeout, READ_TIMEOUT, deadline)
        # No kept-alive connections: each download opens its own socket, which its watchdog may shut.
        self._client = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(min(timeout, deadline), read=read),
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def close(self) -> None:
        self._client.close()

    def check_url(self, url: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise DownloadError("the file has no usable download link") from None
        host = (parsed.host or "").lower()
        netloc = parsed.netloc.decode("ascii", "replace").lower()
        if parsed.userinfo:
            raise DownloadError("the file's download link is not a Slack file link")
        # The port is pinned: `files.slack.com:8443` (or `:0`) is not Slack's file server.
        if host == SLACK_FILES_HOST and parsed.scheme == "https" and parsed.port in (None, 443):
            return parsed
        if netloc == self._api_host and parsed.scheme == self._api_scheme:
            return parsed
        raise DownloadError(
            f"the file's download link points to {netloc or 'nowhere'}, not to {SLACK_FILES_HOST} (port 443)"
        )

    def fetch(self, file: Mapping[str, Any]) -> Downloaded:
        name = str(file.get("name") or file.get("title") or file.get("id") or "file")
        # A file over the cap is still read up to the cap: those bytes are scanned for a key (_read).
        url = file.get("url_private_download") or file.get("url_private")
        if not isinstance(url, str):
            raise DownloadError(f"{name}: Slack gave no download link for this file")
        target = self.check_url(url)
        headers = {"Authorization": f"Bearer {self._token}"}
        started = time.monotonic()
        with _Watchdog(self._deadline) as watchdog:
            data = self._get(name, target, headers, watchdog, started)
        if looks_like_html(data):
            raise DownloadError(self._no_scope(name))
        log.info("downloaded file id=%s bytes=%d", file.get("id"), len(data))
        return Downloaded(name, data)

    def _get(self, name: str, target: httpx.URL, headers: dict[str, str], watchdog: _Watchdog, started: float) -> bytes:
        """The file's bytes; every failure (including the watchdog's cut) becomes a DownloadError."""
        try:
            with self._client.stream("GET", target, headers=headers, extensions={"trace": watchdog.trace}) as response:
                if response.is_redirect:
                    raise DownloadError(self._no_scope(name))
                if response.status_code in (401, 403):
                    raise DownloadError(self._no_scope(name))
                if response.status_code != 200:
                    raise DownloadError(f"{name}: Slack answered HTTP {response.status_code} to the download")
                ctype = response.headers.get("content-type", "").lower()
                if "text/html" in ctype:
                    raise DownloadError(self._no_scope(name))
                return b"".join(self._read(name, response, started, watchdog))
        except httpx.TimeoutException:
            raise DownloadError(self._too_slow(name, None, time.monotonic() - started)) from None
        except httpx.HTTPError as exc:
            if watchdog.fired:
                raise DownloadError(self._too_slow(name, None, time.monotonic() - started)) from None
            raise DownloadError(f"{name}: the download from Slack failed ({type(exc).__name__})") from None

    def _read(self, name: str, response: httpx.Response, started: float, watchdog: _Watchdog) -> list[bytes]:
        """The body, within the size cap, the deadline and the minimum rate.

        Over the cap, the first cap's worth is still scanned for key material (in memory, then
        dropped): a key at the top of a too-large file is exposed all the same.
        """
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > self._max:
                    chunks.append(chunk[: len(chunk) - (total - self._max)])
                    raise DownloadError(self._too_big(name, None) + _key_note(name, b"".join(chunks)))
                chunks.append(chunk)
                elapsed = time.monotonic() - started
                slow = elapsed > self._grace and total < self._min_rate * elapsed
                if elapsed > self._deadline or slow:
                    raise DownloadError(self._too_slow(name, total, elapsed) + _key_note(name, b"".join(chunks)))
        except httpx.HTTPError:
            if watchdog.fired:
                raise DownloadError(self._too_slow(name, total, time.monotonic() - started)) from None
            raise
        return chunks

    def _too_slow(self, name: str, got: int | None, elapsed: float) -> str:
        so_far = f"{got} bytes in {elapsed:.0f} s" if got is not None else f"nothing for {elapsed:.0f} s"
        return (
            f"{name}: the download from Slack was too slow ({so_far}; each file must arrive within "
            f"{self._deadline:g} s at {self._min_rate:g} bytes/s or more), so it was stopped and not checked. "
            "Upload the file again; if this keeps happening, the bot's network to files.slack.com is the problem "
            "(its operator can measure it with `curl -sS -o /dev/null -w '%{speed_download}\\n' https://files.slack.com/`)."
        )

    def _too_big(self, name: str, size: int | None) -> str:
        got = f" ({size} bytes)" if size else ""
        return (
            f"{name} is too large{got}: the limit is {self._max} bytes (FIXCHECK_MAX_FILE_BYTES). "
            "Certificates and keys are a few KiB; share only the onboarding files."
        )

    @staticmethod
    def _no_scope(name: str) -> str:
        return (
            f"{name}: Slack sent a login page instead of the file, which means the app lacks the files:read scope. "
            "Add files:read to the app (see manifest.yml) and reinstall it to the workspace."
        )


def _key_note(name: str, data: bytes) -> str:
    """The key warning for a file that was not diagnosed (too large, too slow) but partly read."""
    what = exposure.scan(name, data)
    if what is None:
        return ""
    return (
        f" :rotating_light: Its first {len(data)} bytes hold {what}: treat that key as compromised, "
        "generate a new one with `openssl genrsa -out new.key 2048` and delete this message."
    )

"""Download files shared in Slack, carefully.

Only from `files.slack.com` (https) or the host of SLACK_API_URL, with the bot token,
never following redirects, and with the size cap enforced while streaming. The bytes
stay in memory: nothing is written to disk, logged or echoed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from bot.slack.settings import Settings

log = logging.getLogger(__name__)

SLACK_FILES_HOST = "files.slack.com"

# Files worth reading: PEM/DER material and text (a stunnel configuration, a log).
RELEVANT_EXTENSIONS = (
    ".pem", ".crt", ".cer", ".cert", ".key", ".csr", ".req", ".der", ".p7b", ".ca", ".conf", ".cfg", ".txt", ".log",
)  # fmt: skip
RELEVANT_FILETYPES = ("text", "pem", "crt", "key", "csr", "cer", "der", "binary", "config", "log")


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
    ):
        return True
    filetype = str(file.get("filetype") or "").lower()
    return filetype in RELEVANT_FILETYPES and not mimetype.startswith(("image/", "video/", "audio/"))


class Downloader:
    """Fetches `url_private_download` URLs under the rules above (thread-safe)."""

    def __init__(self, settings: Settings, *, timeout: float = 10.0) -> None:
        self._token = settings.bot_token
        self._max = settings.max_file_bytes
        self._api_host = settings.api_host
        self._api_scheme = settings.api_scheme
        self._client = httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False)

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
        if host == SLACK_FILES_HOST and parsed.scheme == "https":
            return parsed
        if netloc == self._api_host and parsed.scheme == self._api_scheme:
            return parsed
        raise DownloadError(f"the file's download link points to {host or 'nowhere'}, not to {SLACK_FILES_HOST}")

    def fetch(self, file: Mapping[str, Any]) -> Downloaded:
        name = str(file.get("name") or file.get("title") or file.get("id") or "file")
        size = file.get("size")
        if isinstance(size, int) and size > self._max:
            raise DownloadError(self._too_big(name, size))
        url = file.get("url_private_download") or file.get("url_private")
        if not isinstance(url, str):
            raise DownloadError(f"{name}: Slack gave no download link for this file")
        target = self.check_url(url)
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            with self._client.stream("GET", target, headers=headers) as response:
                if response.is_redirect:
                    raise DownloadError(self._no_scope(name))
                if response.status_code in (401, 403):
                    raise DownloadError(self._no_scope(name))
                if response.status_code != 200:
                    raise DownloadError(f"{name}: Slack answered HTTP {response.status_code} to the download")
                ctype = response.headers.get("content-type", "").lower()
                if "text/html" in ctype:
                    raise DownloadError(self._no_scope(name))
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self._max:
                    raise DownloadError(self._too_big(name, int(declared)))
                chunks: list[bytes] = []
                total = 0
                for chunk in response.iter_bytes():
                    total += len(chunk)
                    if total > self._max:
                        raise DownloadError(self._too_big(name, None))
                    chunks.append(chunk)
        except httpx.TimeoutException:
            raise DownloadError(f"{name}: the download from Slack timed out") from None
        except httpx.HTTPError as exc:
            raise DownloadError(f"{name}: the download from Slack failed ({type(exc).__name__})") from None
        data = b"".join(chunks)
        head = data[:512].lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html")):
            raise DownloadError(self._no_scope(name))
        log.info("downloaded file id=%s bytes=%d", file.get("id"), len(data))
        return Downloaded(name, data)

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

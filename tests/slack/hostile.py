"""File servers that misbehave, for the fake Slack's downloads: trickle, silent, endless, slow headers, login page as text.

Each is bounded in bytes and time, and stops as soon as the client (the bot) hangs up.
"""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

MODES = ("trickle", "silent", "endless", "slow-headers", "login-text")
LOGIN_COMMENT_PAGE = b"<!-- sign in -->\n<div>Sign in to Slack</div>\n"
MAX_ENDLESS = 64 << 20  # bytes: far past any download cap
MAX_SILENCE = 60  # seconds (the fake Slack's handler timeout ends the wait)


def serve(h: BaseHTTPRequestHandler, mode: str, data: bytes) -> None:
    """`trickle`: 1 byte every 2 s; `silent`: headers, then nothing; `endless`: `data` again and again, chunked;
    `slow-headers`: a header line trickled 1 byte every 2 s (never ending the headers); `login-text`: an
    HTML sign-in page that starts with a comment, sent as text/plain."""
    if mode == "slow-headers":
        _slow_headers(h)
        return
    if mode == "login-text":
        h.send_response(200)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(LOGIN_COMMENT_PAGE)))
        h.end_headers()
        h.wfile.write(LOGIN_COMMENT_PAGE)
        return
    h.send_response(200)
    h.send_header("Content-Type", "application/octet-stream")
    if mode == "endless":
        h.send_header("Transfer-Encoding", "chunked")
    else:
        h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    try:
        h.wfile.flush()
        if mode == "silent":
            h.rfile.read(1)  # returns when the client closes, or at the handler's socket timeout
        elif mode == "trickle":
            for i in range(len(data)):
                time.sleep(2.0)
                h.wfile.write(data[i : i + 1])
                h.wfile.flush()
        else:
            chunk = b"%x\r\n%s\r\n" % (len(data), data)
            for _ in range(MAX_ENDLESS // max(1, len(data))):
                h.wfile.write(chunk)
    except OSError:
        pass


def _slow_headers(h: BaseHTTPRequestHandler) -> None:
    """The status line, then `X-Pad: ` and one byte every 2 s: the headers never end (at most MAX_SILENCE s)."""
    try:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Pad: ")
        h.wfile.flush()
        for _ in range(MAX_SILENCE // 2):
            time.sleep(2.0)
            h.wfile.write(b"a")
            h.wfile.flush()
    except OSError:
        pass
    h.close_connection = True

"""File servers that misbehave, for the fake Slack's downloads: trickle, silent, endless.

Each is bounded in bytes and time, and stops as soon as the client (the bot) hangs up.
"""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

MODES = ("trickle", "silent", "endless")
MAX_ENDLESS = 64 << 20  # bytes: far past any download cap
MAX_SILENCE = 60  # seconds (the fake Slack's handler timeout ends the wait)


def serve(h: BaseHTTPRequestHandler, mode: str, data: bytes) -> None:
    """`trickle`: 1 byte every 2 s; `silent`: headers, then nothing; `endless`: `data` again and again, chunked."""
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

"""A WebSocket fake of Slack's Socket Mode on 127.0.0.1 (a real `websockets` server, not a patched client).

`FakeSlack.apps.connections.open` hands out this server's ws:// URL with a new ticket; as
with Slack, a ticket opens one connection only (a client that reconnects to an old URL
instead of asking apps.connections.open again is refused). The fake speaks the
real envelopes: `hello` on connect, `slash_commands`, `events_api` and `interactive`
envelopes that wait for the bot's `{"envelope_id": ...}` acknowledgement, and
`disconnect` (e.g. `refresh_requested`). It can also fail the network: `drop()` ends
the TCP connection without a WebSocket close frame, as a dying load balancer does, and
`freeze()` turns the live connection into a black hole (nothing passes either way, no
FIN, no RST: a NAT entry or a firewall that forgot it), through a TCP relay in front.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve


@dataclass
class Ack:
    envelope_id: str
    sent_at: float
    acked_at: float
    payload: dict[str, Any] | None


@dataclass
class _Conn:
    ws: ServerConnection
    opened_at: float = field(default_factory=time.monotonic)


class FakeSocketMode:
    """`with FakeSocketMode() as sm:`; the bot connects through `FakeSlack.apps.connections.open`."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.connections: list[_Conn] = []  # every connection ever opened, newest last
        self.sent: dict[str, float] = {}  # envelope_id -> when it was sent
        self.acks: dict[str, Ack] = {}
        self.tickets: set[str] = set()
        self._server: Server = serve(
            self._handle, "127.0.0.1", 0, compression=None, ping_interval=None, process_request=self._check_ticket
        )
        self._relay = _Relay(int(self._server.socket.getsockname()[1]))
        self.port = self._relay.port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._relay.close()
        self._server.shutdown()

    def new_url(self) -> str:
        ticket = uuid.uuid4().hex
        with self.cond:
            self.tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}"

    # --- serving ---------------------------------------------------------------------
    def _check_ticket(self, ws: ServerConnection, request: Request) -> Response | None:
        ticket = parse_qs(urlsplit(request.path).query).get("ticket", [""])[0]
        with self.cond:
            if ticket in self.tickets:
                self.tickets.discard(ticket)
                return None
        return ws.respond(401, "ticket unknown or already used\n")

    def _handle(self, ws: ServerConnection) -> None:
        conn = _Conn(ws)
        hello = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "AFIXCHECK"}}
        ws.send(json.dumps(hello))
        with self.cond:
            self.connections.append(conn)
            self.cond.notify_all()
        try:
            for message in ws:
                self._on_ack(message)
        except ConnectionClosed:
            pass
        except OSError:
            pass

    def _on_ack(self, message: str | bytes) -> None:
        try:
            body = json.loads(message)
        except ValueError:
            return
        envelope_id = str(body.get("envelope_id") or "")
        with self.cond:
            if envelope_id in self.sent and envelope_id not in self.acks:
                self.acks[envelope_id] = Ack(envelope_id, self.sent[envelope_id], time.monotonic(), body.get("payload"))
                self.cond.notify_all()

    # --- the current connection ---------------------------------------------------------
    def connected(self) -> _Conn | None:
        with self.cond:
            live = [c for c in self.connections if c.ws.close_code is None and c.ws.socket.fileno() != -1]
            return live[-1] if live else None

    def wait_connected(self, count: int = 1, timeout: float = 20.0) -> _Conn:
        """Wait until at least `count` connections have ever been opened and one is live."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if len(self.connections) >= count:
                    live = [c for c in self.connections if c.ws.close_code is None and c.ws.socket.fileno() != -1]
                    if live:
                        return live[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no Socket Mode connection #{count} within {timeout} s")
                self.cond.wait(min(left, 0.2))

    def live(self) -> list[_Conn]:
        """Every open connection (several bots, or several replicas, may be connected at once)."""
        with self.cond:
            return [c for c in self.connections if c.ws.close_code is None and c.ws.socket.fileno() != -1]

    def send(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        envelope_id: str | None = None,
        conn: _Conn | None = None,
    ) -> str:
        """Send one envelope (`slash_commands`, `events_api`, `interactive`) on `conn` or the newest live connection."""
        conn = conn or self.wait_connected()
        envelope_id = envelope_id or uuid.uuid4().hex
        envelope = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": kind,
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = "timeout" if retry_attempt else ""
        with self.cond:
            self.sent[envelope_id] = time.monotonic()
        conn.ws.send(json.dumps(envelope))
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> Ack:
        deadline = time.monotonic() + timeout
        with self.cond:
            while envelope_id not in self.acks:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"envelope {envelope_id} was not acknowledged within {timeout} s")
                self.cond.wait(left)
            return self.acks[envelope_id]

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's own `disconnect` message: the client should open a new connection."""
        conn = self.wait_connected()
        conn.ws.send(json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}))

    def drop(self) -> None:
        """End the live connection's TCP stream with no WebSocket close frame (a network drop)."""
        conn = self.wait_connected()
        try:
            conn.ws.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def freeze(self) -> None:
        """Silence every connection open now: bytes are swallowed both ways, the sockets stay open."""
        self._relay.freeze()


class _Relay:
    """A TCP relay on 127.0.0.1 in front of the WebSocket server, whose links can be frozen."""

    def __init__(self, upstream: int) -> None:
        self._upstream = upstream
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self._links: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self._upstream), timeout=5)
            server.settimeout(None)
            frozen = threading.Event()
            with self._lock:
                self._links.append((client, server, frozen))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b, frozen), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, frozen: threading.Event) -> None:
        try:
            while data := src.recv(65536):
                if not frozen.is_set():
                    dst.sendall(data)
        except OSError:
            pass
        if not frozen.is_set():
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def freeze(self) -> None:
        with self._lock:
            for _, _, frozen in self._links:
                frozen.set()

    def close(self) -> None:
        self._sock.close()
        with self._lock:
            for client, server, _ in self._links:
                client.close()
                server.close()

"""A small local mTLS server standing in for the exchange's FIX server (demo and tests).

    with local_mtls_server(server_files, client_ca_pem) as (host, port):
        report = diagnose(files, Options(endpoint=f"{host}:{port}"))

It listens on 127.0.0.1 on an ephemeral port, requires a client certificate issued by
`client_ca_pem` (the client's `ca.crt`, as the exchange registers it), and, like a FIX
acceptor, says nothing after the handshake: it waits for the client to speak or leave.
Every connection is bounded in time; leaving the `with` block stops everything.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.lab.onboarding import ClientFiles, ServerFiles, make_client

TlsVersion = Literal["1.2", "1.3"]

_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@contextlib.contextmanager
def local_mtls_server(
    server_files: ServerFiles,
    client_ca_pem: bytes,
    *,
    tls_version: TlsVersion = "1.3",
    host: str = "127.0.0.1",
    idle_seconds: float = 10.0,
) -> Iterator[tuple[str, int]]:
    """Run the server for the duration of the `with` block; yield `(host, port)`.

    `server_files` comes from `bot.lab.onboarding.make_server` (its certificate is for
    localhost/127.0.0.1/::1). `client_ca_pem` is the PEM of the CA(s) whose client
    certificates are accepted; their names are not sent in the CertificateRequest (like
    Python's ssl module, which cannot send them). `tls_version` pins the protocol.
    A connection is closed after `idle_seconds` without data from the client.
    """
    context = _server_context(server_files, client_ca_pem, tls_version)
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    listener.listen(16)
    listener.settimeout(0.1)  # the accept loop looks at `stop` this often
    port = int(listener.getsockname()[1])
    server = _Server(context, listener, idle_seconds)
    acceptor = threading.Thread(target=server.accept_loop, name="fixcheck-demo-server", daemon=True)
    acceptor.start()
    try:
        yield host, port
    finally:
        server.stop.set()
        acceptor.join(2.0)
        listener.close()
        for worker in server.workers:
            worker.join(1.0)


def _server_context(server_files: ServerFiles, client_ca_pem: bytes, tls_version: TlsVersion) -> ssl.SSLContext:
    """The exchange's side of mTLS: its certificate, one TLS version, a client certificate required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = context.maximum_version = _VERSIONS[tls_version]
    context.load_cert_chain(str(server_files.crt), str(server_files.key))
    context.load_verify_locations(cadata=client_ca_pem.decode("ascii", "replace"))
    context.verify_mode = ssl.CERT_REQUIRED
    return context


@dataclass
class _Server:
    """The accept loop and one worker thread a connection; setting `stop` ends them all."""

    context: ssl.SSLContext
    listener: socket.socket
    idle_seconds: float
    stop: threading.Event = field(default_factory=threading.Event)
    workers: list[threading.Thread] = field(default_factory=list)

    def accept_loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _addr = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=self.serve, args=(conn,), name="fixcheck-demo-conn", daemon=True)
            worker.start()
            self.workers.append(worker)

    def serve(self, conn: socket.socket) -> None:
        """Handshake, then read and ignore whatever the client sends until it leaves or idles out."""
        conn.settimeout(min(self.idle_seconds, 5.0))
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(0.2)
                waited = 0.0
                while not self.stop.is_set() and waited < self.idle_seconds:
                    try:
                        data = tls.recv(4096)
                    except TimeoutError:
                        waited += 0.2
                        continue
                    if not data:
                        break
                    waited = 0.0
        except (OSError, ssl.SSLError, ValueError):
            pass  # a refused client certificate ends here; the client sees the alert
        finally:
            conn.close()


@dataclass(frozen=True)
class NetworkCase:
    """One network scenario of the demo: files, the endpoint to test, and the code it must lead to."""

    title: str
    explanation: str
    files: list[tuple[str, bytes]]
    endpoint: str
    step: int  # the step whose first finding is `expected`
    expected: str  # tcp.* or tls.* finding code


@contextlib.contextmanager
def network_cases(client: ClientFiles, server: ServerFiles, work: Path) -> Iterator[list[NetworkCase]]:
    """Start a local mTLS server trusting `client`'s CA and yield the demo's network scenarios.

    The working setup; a client whose CA the exchange never registered; `itbit-ca.pem`
    replaced by the client's own `ca.crt` (the classic mix-up); a closed port. Makes one
    extra client (two RSA keys) in `work / "unregistered"`.
    """
    stranger = make_client(work / "unregistered", ca_cn="unregistered-client-ca", cn="fix-client")
    bundle, ca_crt, server_ca = client.bundle.read_bytes(), client.ca_crt.read_bytes(), server.ca_pem.read_bytes()
    good = [("fix.itbit.pem", bundle), ("ca.crt", ca_crt), ("itbit-ca.pem", server_ca)]
    with local_mtls_server(server, ca_crt) as (host, port):
        endpoint = f"{host}:{port}"
        yield [
            NetworkCase(
                "Working setup, live",
                "The guide's files against a local mTLS server that has registered the client's ca.crt.",
                good,
                endpoint,
                4,
                "tls.ok",
            ),
            NetworkCase(
                "Client CA not registered",
                "A new ca.crt the exchange has not installed: under TLS 1.3 the refusal comes after the handshake.",
                [
                    ("fix.itbit.pem", stranger.bundle.read_bytes()),
                    ("ca.crt", stranger.ca_crt.read_bytes()),
                    ("itbit-ca.pem", server_ca),
                ],
                endpoint,
                4,
                "tls.client_cert_rejected",
            ),
            NetworkCase(
                "Wrong itbit-ca.pem",
                "itbit-ca.pem holds the client's own ca.crt instead of the exchange's CA.",
                [("fix.itbit.pem", bundle), ("ca.crt", ca_crt), ("itbit-ca.pem", ca_crt)],
                endpoint,
                4,
                "tls.server_cert_untrusted",
            ),
            NetworkCase(
                "Closed port",
                "Nothing listens on the port: wrong server:port, or a firewall that rejects.",
                good,
                f"{host}:{_closed_port(host)}",
                3,
                "tcp.refused",
            ),
        ]


def _closed_port(host: str) -> int:
    """A port on `host` that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])

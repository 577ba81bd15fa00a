"""Real servers on 127.0.0.1 for the network tests: Python ssl, openssl s_server, stunnel, and misbehaving TCP servers.

Every server binds 127.0.0.1 on an ephemeral port, every wait is bounded, and every
process or thread is stopped when its context manager exits.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from OpenSSL import SSL

HOST = "127.0.0.1"
HOST6 = "::1"


# How much longer than its timeout a diagnosis that ends in a network fault may take
# (the offline steps, thread start-up, a loaded machine).
FAULT_MARGIN = 0.4


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, seconds: float = 10.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {seconds} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def need_tool(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    message = f"{' / '.join(names)} is not installed"
    if os.environ.get("CI"):
        pytest.fail(message + " (required in CI)")
    pytest.skip(message)
    raise AssertionError  # unreachable


@contextlib.contextmanager
def openssl_s_server(
    cert: Path, key: Path, client_ca: Path, tls_version: str, *, chain: Path | None = None
) -> Iterator[tuple[str, int]]:
    """`openssl s_server -Verify 1 -verify_return_error`: sends the acceptable CA names of `client_ca`."""
    exe = need_tool("openssl")
    args = [
        exe, "s_server", "-accept", f"{HOST}:0", "-cert", str(cert), "-key", str(key),
        "-CAfile", str(client_ca), "-Verify", "1", "-verify_return_error",
        "-tls1_3" if tls_version == "1.3" else "-tls1_2",
    ]
    if chain is not None:
        args += ["-cert_chain", str(chain)]
    # stdin stays open (a closed stdin makes s_server hang up after each handshake).
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        port = _read_accept_port(proc)
        yield HOST, port
    finally:
        stop(proc)


def _read_accept_port(proc: subprocess.Popen[bytes]) -> int:
    assert proc.stdout is not None
    box: dict[str, int] = {}

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("ACCEPT"):
                box["port"] = int(line.rsplit(":", 1)[1])
                break
        # keep draining so s_server never blocks on a full pipe
        for _ in proc.stdout:
            pass

    threading.Thread(target=read, daemon=True).start()
    end = time.monotonic() + 10
    while "port" not in box:
        if time.monotonic() > end or proc.poll() is not None:
            raise RuntimeError("openssl s_server did not start")
        time.sleep(0.02)
    return box["port"]


@contextlib.contextmanager
def echo_server() -> Iterator[tuple[str, int]]:
    """Plain TCP echo: the service behind stunnel, and a not-TLS port."""

    def handle(conn: socket.socket) -> None:
        conn.settimeout(10)
        with contextlib.suppress(OSError), conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    with tcp_server(handle) as address:
        yield address


@contextlib.contextmanager
def stunnel_server(
    folder: Path, cert: Path, key: Path, client_ca: Path, tls_version: str
) -> Iterator[tuple[str, int]]:
    """stunnel in server mode (verifyChain, requireCert) in front of a local echo service."""
    exe = need_tool("stunnel4", "stunnel")
    folder.mkdir(parents=True, exist_ok=True)
    with echo_server() as (_h, echo_port):
        port = free_port()
        version = "TLSv1.3" if tls_version == "1.3" else "TLSv1.2"
        conf = folder / f"stunnel-{tls_version}-{port}.conf"
        conf.write_text(
            "foreground = yes\n"
            "pid =\n"
            f"output = {folder / f'stunnel-{port}.log'}\n"
            "debug = 5\n"
            "[fix]\n"
            f"accept = {HOST}:{port}\n"
            f"connect = {HOST}:{echo_port}\n"
            f"cert = {cert}\n"
            f"key = {key}\n"
            f"CAfile = {client_ca}\n"
            "verifyChain = yes\n"
            "requireCert = yes\n"
            f"sslVersionMin = {version}\n"
            f"sslVersionMax = {version}\n"
        )
        proc = subprocess.Popen([exe, str(conf)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            wait_listening(port, 10, proc)
            yield HOST, port
        finally:
            stop(proc)


@contextlib.contextmanager
def python_tls_server(cert_chain: Path, key: Path, *, tls_version: str = "1.3") -> Iterator[tuple[str, int]]:
    """A Python ssl server that does not ask for a client certificate (presents `cert_chain`)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    v = ssl.TLSVersion.TLSv1_3 if tls_version == "1.3" else ssl.TLSVersion.TLSv1_2
    context.minimum_version = context.maximum_version = v
    context.load_cert_chain(str(cert_chain), str(key))

    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)

    with tcp_server(handle) as address:
        yield address


@contextlib.contextmanager
def tcp_server(
    handle: Callable[[socket.socket], None], *, backlog: int = 16, host: str = HOST
) -> Iterator[tuple[str, int]]:
    """A threaded TCP server on `host` (127.0.0.1, or ::1) calling `handle(conn)` for each connection."""
    if host not in (HOST, HOST6):
        raise ValueError(f"test servers listen on loopback only, not {host}")
    listener = socket.socket(socket.AF_INET6 if host == HOST6 else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    listener.listen(backlog)
    listener.settimeout(0.1)
    halt = threading.Event()
    threads: list[threading.Thread] = []

    def loop() -> None:
        while not halt.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=handle, args=(conn,), daemon=True)
            t.start()
            threads.append(t)

    acceptor = threading.Thread(target=loop, daemon=True)
    acceptor.start()
    try:
        yield host, int(listener.getsockname()[1])
    finally:
        halt.set()
        acceptor.join(2)
        listener.close()
        for t in threads:
            t.join(3)


@contextlib.contextmanager
def silent_server(seconds: float = 5.0) -> Iterator[tuple[str, int]]:
    """Accepts and says nothing."""

    def handle(conn: socket.socket) -> None:
        conn.settimeout(seconds)
        with contextlib.suppress(OSError), conn:
            while conn.recv(4096):
                pass

    with tcp_server(handle) as address:
        yield address


@contextlib.contextmanager
def trickle_server(
    seconds: float = 5.0, *, interval: float = 0.2, header: bytes = b"\x16\x03\x03\x40\x00"
) -> Iterator[tuple[str, int]]:
    """Answers the hello with `header`, then trickles one byte every `interval` s for at most `seconds`.

    By default a TLS handshake record header arrives at once and its body trickles; with
    `header=b""` the record header itself trickles too (the first bytes still look like TLS).
    """
    stream = header + b"\x02" * 4096 if header else b"\x16\x03\x03\x40\x00" + b"\x02" * 4096
    halt = threading.Event()

    def handle(conn: socket.socket) -> None:
        end = time.monotonic() + seconds
        with contextlib.suppress(OSError), conn:
            conn.settimeout(seconds)
            conn.recv(4096)
            if header:
                conn.sendall(header)
            for byte in stream[len(header) :]:
                conn.sendall(bytes([byte]))
                if halt.wait(interval) or time.monotonic() >= end:
                    break

    with tcp_server(handle) as address:
        try:
            yield address
        finally:
            halt.set()


@contextlib.contextmanager
def banner_server(banner: bytes) -> Iterator[tuple[str, int]]:
    """Sends `banner` as soon as it has read something, then waits."""

    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        with contextlib.suppress(OSError), conn:
            conn.recv(4096)
            conn.sendall(banner)
            conn.recv(4096)

    with tcp_server(handle) as address:
        yield address


@contextlib.contextmanager
def reset_server(host: str = HOST) -> Iterator[tuple[str, int]]:
    """Accepts, then resets at once (SO_LINGER 0): an IP allow-list at work."""

    def handle(conn: socket.socket) -> None:
        _rst(conn)

    with tcp_server(handle, host=host) as address:
        yield address


def _rst(conn: socket.socket) -> None:
    """Close `conn` with a TCP reset (SO_LINGER 0) instead of a FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def read_client_hello(conn: socket.socket, seconds: float = 5.0) -> bytes:
    """Read one whole TLS record (the client's hello) from `conn`, within `seconds`."""
    conn.settimeout(seconds)
    data = b""
    while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@contextlib.contextmanager
def scripted_server(
    answer: bytes, *, then: str = "close", hold: float = 5.0, host: str = HOST
) -> Iterator[tuple[str, int]]:
    """Reads the client's hello, sends `answer`, then `then`: "close" (FIN), "reset" (RST) or "hold" (stay
    open and silent for at most `hold` s, or until the `with` block ends)."""
    if then not in ("close", "reset", "hold"):
        raise ValueError(then)
    halt = threading.Event()

    def handle(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            read_client_hello(conn)
            if answer:
                conn.sendall(answer)
            if then == "reset":
                _rst(conn)
            elif then == "hold":
                halt.wait(hold)

    with tcp_server(handle, host=host) as address:
        try:
            yield address
        finally:
            halt.set()


@contextlib.contextmanager
def tls_then_close_server(
    cert: Path, key: Path, client_ca: Path, *, tls_version: str = "1.3", how: str = "fin"
) -> Iterator[tuple[str, int]]:
    """Completes the mTLS handshake (client certificate required and accepted), then hangs up at once:
    `how` is "close_notify" (a TLS close_notify, then FIN), "fin" (FIN, no close_notify) or "reset" (RST).

    pyOpenSSL, so that the hang-up follows the server's last handshake flight with no Python work between.
    """
    if how not in ("close_notify", "fin", "reset"):
        raise ValueError(how)
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    version = SSL.TLS1_3_VERSION if tls_version == "1.3" else SSL.TLS1_2_VERSION
    context.set_min_proto_version(version)
    context.set_max_proto_version(version)
    context.use_certificate_file(str(cert))
    context.use_privatekey_file(str(key))
    context.load_verify_locations(str(client_ca))
    context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)

    def handle(conn: socket.socket) -> None:
        conn.setblocking(False)
        end = time.monotonic() + 5
        with contextlib.suppress(OSError, SSL.Error), conn:
            tls = SSL.Connection(context, conn)
            tls.set_accept_state()
            while True:
                try:
                    tls.do_handshake()
                    break
                except SSL.WantReadError:
                    if not select.select([conn], [], [], max(0.0, end - time.monotonic()))[0]:
                        return
            if how == "close_notify":
                tls.shutdown()  # sends close_notify; does not wait for the answer
            elif how == "reset":
                _rst(conn)

    with tcp_server(handle) as address:
        yield address


@contextlib.contextmanager
def closed_port(host: str = HOST) -> Iterator[tuple[str, int]]:
    yield host, free_port(host)


@contextlib.contextmanager
def black_hole() -> Iterator[tuple[str, int]]:
    """A listener whose accept queue is full: further SYNs are dropped, so connects time out."""
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    try:
        s = socket.socket()  # fills the queue of length 0 (one pending connection)
        s.settimeout(1)
        s.connect((HOST, port))
        fillers.append(s)
        yield HOST, port
    finally:
        for s in fillers:
            s.close()
        listener.close()

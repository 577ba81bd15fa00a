"""Real processes for the stunnel tests: a local mTLS echo server and a stunnel runner.

Everything listens on 127.0.0.1 only, on ephemeral ports, with bounded waits.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

LOCAL = "127.0.0.1"


def stunnel_exe() -> str:
    exe = shutil.which("stunnel") or shutil.which("stunnel4")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("stunnel is not installed (apt-get install stunnel4); CI must run these tests")
        pytest.skip("stunnel is not installed")
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


class EchoServer:
    """A TLS server on 127.0.0.1 that requires a client certificate and echoes what it reads."""

    def __init__(self, cert: Path, key: Path, client_ca: Path, *, max_tls12: bool = False) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        self.ctx.load_verify_locations(str(client_ca))
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        if max_tls12:
            self.ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.sock = socket.socket()
        self.sock.bind((LOCAL, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                while data := tls.recv(4096):
                    tls.sendall(data)
        except ssl.SSLError:
            # The alert is on its way: keep the socket open a moment so that the client
            # reads it instead of a reset (as a real server's slower close allows).
            time.sleep(0.3)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@dataclass
class StunnelRun:
    started: bool  # stunnel got as far as accepting connections
    echoed: bool  # a plain TCP client's bytes came back through the tunnel
    log: str
    returncode: int | None


def run_stunnel(
    config_text: str, folder: Path, accept_port: int, *, payload: bytes = b"8=FIX.4.4|35=0|\n"
) -> StunnelRun:
    """Start stunnel with `config_text`, send `payload` to 127.0.0.1:`accept_port`, stop it.

    Bounded: at most ~5 s to start and ~3 s for the round trip.
    """
    exe = stunnel_exe()
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / f"stunnel-{accept_port}.conf"
    conf.write_text(config_text)
    log_path = folder / f"stunnel-{accept_port}.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen([exe, str(conf)], stdout=log_file, stderr=subprocess.STDOUT, cwd=folder)
    try:
        started = False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            if proc.poll() is not None or "Configuration failed" in text:
                break
            # "bound to" is stunnel's info-level line (debug = info); no probe connection is made,
            # since a probe would be a tunnel connection of its own.
            if f"bound to {LOCAL}:{accept_port}" in text or "Accepting new connections" in text:
                started = True
                break
            time.sleep(0.05)
        echoed = started and _round_trip(accept_port, payload)
        time.sleep(0.1)  # let stunnel log the end of the connection
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=3)
    return StunnelRun(started, echoed, log_path.read_text(errors="replace"), proc.returncode)


def _round_trip(port: int, payload: bytes) -> bool:
    try:
        with socket.create_connection((LOCAL, port), timeout=3) as s:
            s.settimeout(3)
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            return got == payload
    except OSError:
        return False

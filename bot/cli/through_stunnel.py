"""`fixcheck diagnose --stunnel FILE --through-stunnel`: one real run of the user's own stunnel.

The engine starts no process, so this front-end module does the run and hands the
engine a `TunnelRun` (steps 7 and 4 turn it into findings):

1. copy the configuration into a private temporary folder (mode 0700), changed for a test
   run by `bot.cli.stunnel_copy.prepare_config`: `foreground = yes`, `pid =` (none),
   `debug = info`, `syslog = no`, the tested service's `accept` moved to a free port on
   127.0.0.1 (the user's own stunnel may hold the real one), relative paths made absolute
   from the configuration's folder, `output`/`setuid`/`setgid`/`chroot` dropped, other
   services left out. Only the configuration is copied: `cert`, `key` and `CAfile` keep
   pointing at the user's files where they are;
2. start the real `stunnel` binary with it, its log (stderr) captured into the folder;
3. wait (bounded) until stunnel says it listens, or exits;
4. connect to the accept port over plain TCP exactly as the FIX client does, and either
   send the FIX Logon (`bot.engine.net.fix.FixSession`: Logon, Heartbeats, Logout, nothing
   else) or wait for stunnel's TLS handshake with the exchange;
5. stop stunnel (SIGTERM, then SIGKILL), read its log, remove the folder.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bot.cli.stunnel_copy import LOCAL, prepare_config
from bot.engine import FixLogon, TunnelRun
from bot.engine.net import FixSession

STUNNEL_NAMES = ("stunnel", "stunnel4", "stunnel5")
START_WAIT_MIN, START_WAIT_MAX = 3.0, 10.0  # seconds for stunnel to read its configuration and listen
AFTER_TLS_WAIT = 0.7  # after "TLS connected", time for a TLS 1.3 server's refusal to arrive
LOG_SETTLE = 1.0  # after our connection ends, time for stunnel to log the end of it
STOP_WAIT = 3.0


class StunnelMissingError(RuntimeError):
    """The stunnel binary is not installed."""


def find_stunnel() -> str | None:
    for name in STUNNEL_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _stop(proc: subprocess.Popen[bytes]) -> int | None:
    """Stop stunnel; returns its exit code when it had already exited by itself."""
    code = proc.poll()
    if code is not None:
        return code
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_WAIT)
    return None


def _version(log: str) -> str | None:
    m = re.search(r"stunnel (\d+\.\d+\S*) on ", log)
    return m.group(1) if m else None


def run(
    config_path: Path,
    config_data: bytes,
    *,
    timeout: float = 10.0,
    logon: FixLogon | None = None,
    endpoint: str | None = None,
) -> TunnelRun:
    """Run the user's stunnel once; raises `StunnelMissingError` when it is not installed."""
    exe = find_stunnel()
    if exe is None:
        raise StunnelMissingError(
            "--through-stunnel needs the stunnel program, which is not installed here "
            "(Debian/Ubuntu: apt-get install stunnel4; macOS: brew install stunnel)"
        )
    started_at = time.monotonic()
    name = config_path.name
    folder = Path(tempfile.mkdtemp(prefix="fixcheck-stunnel-"))
    try:
        os.chmod(folder, 0o700)
        port = _free_port()
        prepared = prepare_config(config_data.decode("utf-8", "replace"), config_path.absolute().parent, port, endpoint)
        session = FixSession(logon, timeout, via="stunnel") if logon is not None else None
        if prepared.error is not None:
            return TunnelRun(name, False, error=prepared.error, fix=session.result if session else None)
        outcome = _run_once(exe, folder, prepared.text, port, session, timeout)
        return TunnelRun(
            config_name=name,
            started=outcome.listening,
            log=outcome.log,
            service=prepared.service,
            accept=f"{LOCAL}:{port}",
            original_accept=prepared.original_accept,
            connect=prepared.connect,
            exit_code=outcome.exit_code if not outcome.listening else None,
            connected=outcome.connected,
            bytes_sent=session.result.bytes_sent if session else 0,
            bytes_received=session.result.bytes_received if session else 0,
            fix=session.result if session else None,
            changes=prepared.changes,
            seconds=time.monotonic() - started_at,
            error=outcome.error,
            stunnel_version=_version(outcome.log),
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class _Outcome:
    """What one run of stunnel showed: did it listen, did our connection get through, its log."""

    listening: bool
    connected: bool
    error: str | None
    exit_code: int | None  # stunnel's own, when it had exited before it was stopped
    log: str


def _run_once(
    exe: str, folder: Path, config_text: str, port: int, session: FixSession | None, timeout: float
) -> _Outcome:
    """Start stunnel with the test copy in `folder`, connect through it once, stop it (steps 2-5 above)."""
    conf = folder / "stunnel.conf"
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(config_text)
    log_path = folder / "stunnel.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [exe, str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=folder,
            start_new_session=True,
        )
    connected = False
    error: str | None = None
    try:
        listening = _wait_listening(proc, log_path, port, max(START_WAIT_MIN, min(timeout, START_WAIT_MAX)))
        if not listening:
            if proc.poll() is None:
                error = "stunnel neither listened nor exited in time"
        else:
            connected, error = _connect_through(port, session, log_path, timeout)
            time.sleep(0.05)
            _wait_for(log_path, ("Connection closed", "Connection reset"), LOG_SETTLE, proc)
    finally:
        exit_code = _stop(proc)
    return _Outcome(listening, connected, error, exit_code, _read(log_path))


def _wait_listening(proc: subprocess.Popen[bytes], log_path: Path, port: int, seconds: float) -> bool:
    """Until stunnel logs that it listens on `port` (no probe connection: that would be a tunnel of its own)."""
    end = time.monotonic() + seconds
    bound = f"bound to {LOCAL}:{port}"
    while time.monotonic() < end:
        text = _read(log_path)
        if bound in text:
            return True
        if proc.poll() is not None or "Configuration failed" in text:
            return False
        time.sleep(0.02)
    return bound in _read(log_path)


def _wait_for(log_path: Path, needles: tuple[str, ...], seconds: float, proc: subprocess.Popen[bytes]) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end and proc.poll() is None:
        text = _read(log_path)
        if any(n in text for n in needles):
            return True
        time.sleep(0.02)
    return False


def _connect_through(
    port: int, session: FixSession | None, log_path: Path, timeout: float
) -> tuple[bool, str | None]:
    try:
        sock = socket.create_connection((LOCAL, port), timeout=min(timeout, 5.0))
    except OSError as exc:
        if session is not None:
            session.failed(exc.strerror or str(exc))
        return False, exc.strerror or str(exc)
    with sock:
        if session is not None:
            drive(sock, session, timeout)
        else:
            _await_tls(sock, log_path, timeout)
    return True, None


def _await_tls(sock: socket.socket, log_path: Path, timeout: float) -> None:
    """No Logon: hold the connection until stunnel's TLS handshake is done (or failed), bounded."""
    end = time.monotonic() + timeout
    tls_at: float | None = None
    while time.monotonic() < end:
        if tls_at is None and "TLS connected" in _read(log_path):
            tls_at = time.monotonic()
        if tls_at is not None and time.monotonic() - tls_at >= AFTER_TLS_WAIT:
            return
        sock.settimeout(0.05)
        try:
            if not sock.recv(4096):
                return  # stunnel closed the client's side: its TLS connection failed
        except TimeoutError:
            continue
        except OSError:
            return


def drive(sock: socket.socket, session: FixSession, timeout: float, logout_wait: float = 2.0) -> None:
    """Run `session` over a plain connected socket, bounded: the answer within `timeout`, the Logout's in `logout_wait`."""
    until = session.deadlines(timeout, logout_wait)

    def send(data: bytes) -> bool:
        if not data:
            return True
        sock.settimeout(max(0.01, until() - time.monotonic()))
        try:
            sock.sendall(data)
        except (ConnectionResetError, BrokenPipeError) as exc:
            session.closed(reset=isinstance(exc, ConnectionResetError))
            return False
        except TimeoutError:
            session.timed_out()
            return False
        except OSError as exc:
            session.failed(exc.strerror or str(exc))
            return False
        return True

    if not send(session.start()):
        return
    while not session.done:
        remaining = until() - time.monotonic()
        if remaining <= 0:
            session.timed_out()
            return
        sock.settimeout(remaining)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            session.timed_out()
            return
        except ConnectionResetError:
            session.closed(reset=True)
            return
        except OSError as exc:
            session.failed(exc.strerror or str(exc))
            return
        if not data:
            session.closed()
            return
        if not send(session.feed(data)):
            return

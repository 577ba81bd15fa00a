"""Local processes for the tests and the benchmark, on 127.0.0.1 only: the bot itself and a stalled FIX server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.slack.fakeslack import BOT_TOKEN, SIGNING_SECRET, FakeSlack

LOOPBACK = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


class StallServer:
    """Accepts TCP connections on 127.0.0.1 and never says a word (a stalled FIX server)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(128)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        self._stop = True
        for c in self._held:
            c.close()
        self.sock.close()


@dataclass
class Bot:
    url: str
    events_url: str
    log_path: Path
    proc: subprocess.Popen[bytes]

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def bot_env(fake: FakeSlack, port: int, allowed: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FIXCHECK_"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url,
        PORT=str(port),
        FIXCHECK_BIND=LOOPBACK,
        FIXCHECK_ALLOWED_ENDPOINTS=allowed,
        PYTHONPATH=str(REPO),
        # Expiry watches' SQLite file in a fresh temporary folder, never in the repository
        # (the bot's cwd).
        FIXCHECK_DB=str(Path(tempfile.mkdtemp(prefix="fixcheck-db-")) / "watches.db"),
    )
    env.update(extra)
    return env


def start_bot(env: dict[str, str], log_path: Path, module: str = "bot") -> Bot:
    """Start `python -m <module>` (the bot, or a test wrapper around it) and wait until it is healthy."""
    # Expiry watches' SQLite file next to the log, never in the repository (the bot's cwd).
    env = {"FIXCHECK_DB": str(log_path.with_name("watches.db")), **env}
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", module], cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    url = f"http://{LOOPBACK}:{env['PORT']}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the bot exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                return Bot(url, f"{url}/slack/events", log_path, proc)
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the bot did not become healthy within 20 s")


def stop_bot(bot: Bot) -> None:
    bot.proc.terminate()
    try:
        bot.proc.wait(10)
    except subprocess.TimeoutExpired:
        bot.proc.kill()

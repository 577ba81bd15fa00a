"""A real PostgreSQL 15 server for the tests: initdb + pg_ctl into a temp folder, on a free 127.0.0.1 port.

PostgreSQL refuses to run as root, so under root it runs as the `postgres` (or `nobody`)
user through runuser. Nothing listens beyond 127.0.0.1 and its own Unix socket folder.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

from tests.slack.localservers import LOOPBACK, free_port

# Debian's layout; 15 is what the project is tested with, a newer one works as well.
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
             default=Path("/usr/lib/postgresql/15/bin"))  # fmt: skip


def available() -> bool:
    return (PG_BIN / "initdb").exists() and (os.geteuid() != 0 or shutil.which("runuser") is not None)


def _as_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"]
    raise RuntimeError("running as root and no postgres/nobody user to run PostgreSQL as")


class Postgres:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fixcheck-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            user = _as_user()[2]
            shutil.chown(self.dir, user)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "fixcheck", "--no-sync", "-E", "UTF8")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        proc = subprocess.run(
            [*_as_user(), str(PG_BIN / tool), *args], capture_output=True, text=True, timeout=60, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed: {proc.stderr[-800:]}")

    def start(self) -> None:
        options = f"-h {LOOPBACK} -p {self.port} -k {self.dir} -F -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "-t", "30", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://fixcheck@{LOOPBACK}:{self.port}/{database}"

    def new_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

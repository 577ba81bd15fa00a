"""Fixtures: watch stores on SQLite and on a real PostgreSQL server; test certificates made with openssl."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.lab.onboarding import ClientFiles, make_client
from bot.watches.store import Store, database_url
from tests.watches.pg import Postgres, available


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    if not available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL (/usr/lib/postgresql/*/bin) is needed: apt-get install postgresql")
        pytest.skip("PostgreSQL 15 is not installed")
    server = Postgres()
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return database_url({"FIXCHECK_DB": str(tmp_path / "watches.db")})
    pg: Postgres = request.getfixturevalue("postgres")
    return database_url({"FIXCHECK_DATABASE_URL": pg.new_database()})


@pytest.fixture()
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    s.migrate()
    yield s
    s.close()


@pytest.fixture(scope="session")
def client_files(tmp_path_factory: pytest.TempPathFactory) -> ClientFiles:
    """The guide's onboarding, host certificate valid 45 days, CA 1000 days (real openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make test certificates")
    return make_client(tmp_path_factory.mktemp("watch-pki") / "client", host_days=45)


@pytest.fixture(scope="session")
def short_ca_files(tmp_path_factory: pytest.TempPathFactory) -> ClientFiles:
    """A client CA that runs out (20 days) before its host certificate (500 days)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make test certificates")
    return make_client(tmp_path_factory.mktemp("watch-pki-ca") / "client", ca_days=20, host_days=500, cn="ca-first")

"""Fixtures for the FIX Logon tests: one onboarding (client + exchange) per session, 2048-bit."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.lab.onboarding import ClientFiles, ServerFiles, make_client, make_server
from tests.fix.acceptor import server_context


@dataclass(frozen=True)
class FixPki:
    client: ClientFiles
    server: ServerFiles

    def files(self) -> list[tuple[str, bytes]]:
        return [
            ("fix.itbit.pem", self.client.bundle.read_bytes()),
            ("ca.crt", self.client.ca_crt.read_bytes()),
            ("itbit-ca.pem", self.server.ca_pem.read_bytes()),
        ]

    def context(self, tls_version: str = "1.3") -> ssl.SSLContext:
        return server_context(self.server.crt, self.server.key, self.client.ca_crt, tls_version)


@pytest.fixture(scope="session")
def fixpki(tmp_path_factory: pytest.TempPathFactory) -> FixPki:
    root = tmp_path_factory.mktemp("fixpki")
    return FixPki(make_client(root / "client"), make_server(root / "server"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.lab.onboarding import ClientFiles, ServerFiles, make_client, make_server
from tests.stunnel.helpers import EchoServer


@dataclass(frozen=True)
class StunnelPki:
    client: ClientFiles
    server: ServerFiles
    other: ClientFiles  # an unrelated client onboarding (its CA is not trusted by the server)


@pytest.fixture(scope="session")
def stunnel_pki(tmp_path_factory: pytest.TempPathFactory) -> StunnelPki:
    root = tmp_path_factory.mktemp("stunnel-pki")
    return StunnelPki(make_client(root / "client"), make_server(root / "server"), make_client(root / "other"))


@pytest.fixture(scope="session")
def mtls_server(stunnel_pki: StunnelPki) -> Iterator[EchoServer]:
    """The stand-in FIX server: trusts the client's ca.crt (as the exchange does after onboarding)."""
    server = EchoServer(stunnel_pki.server.crt, stunnel_pki.server.key, stunnel_pki.client.ca_crt)
    yield server
    server.close()


def read(path: Path) -> tuple[str, bytes]:
    return path.name, path.read_bytes()

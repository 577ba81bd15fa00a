"""Fixtures for the network tests: one PKI per session (2048-bit keys), servers per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.engine import net
from tests.network.pkis import Pki, build


@pytest.fixture(scope="session")
def netpki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return build(tmp_path_factory.mktemp("netpki"))


@pytest.fixture(autouse=True)
def _real_resolver() -> Iterator[None]:
    net.set_resolver(None)
    yield
    net.set_resolver(None)

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pki import Pki, build


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The guide's onboarding and its broken variants, made once with the openssl CLI."""
    return build(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def pki4096(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real-size (RSA 4096, as the guide makes it) onboarding."""
    from bot.lab.onboarding import make_client

    folder = tmp_path_factory.mktemp("pki4096")
    make_client(folder, bits=4096)
    return folder

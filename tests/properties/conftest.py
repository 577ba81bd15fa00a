"""Hypothesis profiles and the session's PEM corpus for the property tests.

Profiles: `fixcheck-ci` (the default: derandomized, no example database, so every run
of `.ci/run` tries the same inputs) and `fixcheck-dev` (random, remembers failures).
Choose with HYPOTHESIS_PROFILE; scale the number of examples with FIXCHECK_PROPERTY_SCALE.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.properties.fuzzlib import Corpus, build_corpus

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    "print_blob": True,
}
settings.register_profile("fixcheck-ci", derandomize=True, database=None, **_COMMON)
settings.register_profile("fixcheck-dev", **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixcheck-ci"))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The guide's files, the exchange's, and other forms of them, made with the openssl CLI."""
    return build_corpus(Path(tmp_path_factory.mktemp("property-corpus")))

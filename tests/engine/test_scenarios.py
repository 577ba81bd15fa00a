"""Every scenario: the step statuses and finding codes the spec's table asks for."""

from __future__ import annotations

import pytest

from bot.engine import diagnose
from tests.engine.scenarios import SCENARIOS, Scenario
from tests.pki import Pki


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(pki: Pki, scenario: Scenario) -> None:
    report = diagnose(scenario.files(pki))
    assert [s.step for s in report.steps] == list(range(1, 9))
    for number, (status, codes) in scenario.expect.items():
        step = report.step(number)
        found = [f.code for f in step.findings]
        assert step.status.value == status, f"step {number}: {step.status} {found}"
        for code in codes:
            assert code in found, f"step {number}: {code} not in {found}"
    if any(status == "fail" for status, _ in scenario.expect.values()):
        assert report.to_dict()["first_failure"] is not None


def test_enough_distinct_scenarios() -> None:
    assert len({s.name for s in SCENARIOS}) >= 25

"""The result of a diagnosis: one `Report` holding eight `StepResult`s of `Finding`s.

This module is the JSON contract of SPEC §3. It only grows: never rename or remove a
key that `to_dict()` emits, because other tools consume it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1
# Kinds of content (InputSummary.kinds) that mean a secret was shared: a private key in
# any form, an ssh-keygen key, a .p12 that holds a key or is locked. Every key-exposure
# warning tests this one set.
KEY_MATERIAL_KINDS = frozenset({"private-key", "encrypted-private-key", "openssh-private-key", "pkcs12"})


class Status(StrEnum):
    """A finding's or a step's outcome, ordered from best to worst by `rank`."""

    PASS = "pass"
    SKIP = "skip"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Status.PASS: 0, Status.SKIP: 1, Status.WARN: 2, Status.FAIL: 3}


def worst(statuses: Sequence[Status]) -> Status:
    """The worst of `statuses`; `skip` when there are none (nothing was checked)."""
    if not statuses:
        return Status.SKIP
    # A step that passed some checks and skipped others still passed what it checked.
    checked = [s for s in statuses if s is not Status.SKIP]
    if not checked:
        return Status.SKIP
    return max(checked, key=lambda s: s.rank)


@dataclass(frozen=True)
class Finding:
    """One thing a step found, with what to do about it and how to see it yourself.

    `evidence` holds only public facts (subjects, issuers, dates, fingerprints, error
    numbers) and must be JSON-serialisable. It never holds key material.
    """

    code: str
    status: Status
    message: str
    remediation: str | None = None
    commands: tuple[str, ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "status": self.status.value,
            "message": self.message,
            "remediation": self.remediation,
            "commands": list(self.commands),
            "evidence": _jsonable(self.evidence),
        }


@dataclass(frozen=True)
class StepResult:
    """One guide step: its number, title, status (worst finding) and findings."""

    step: int
    title: str
    findings: tuple[Finding, ...]
    summary: str

    @property
    def status(self) -> Status:
        return worst([f.status for f in self.findings])

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "title": self.title,
            "status": self.status.value,
            "summary": self.summary,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class InputSummary:
    """What one input file was recognised as: its kinds of content and its role."""

    name: str
    kinds: tuple[str, ...]
    role: str

    @property
    def holds_key_material(self) -> bool:
        """The input holds a private key (or may: a locked .p12), so sharing it exposed a secret."""
        return any(k in KEY_MATERIAL_KINDS for k in self.kinds)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kinds": list(self.kinds), "role": self.role}


@dataclass(frozen=True)
class Report:
    """A whole diagnosis. `steps` always holds the eight guide steps, in order."""

    inputs: tuple[InputSummary, ...]
    steps: tuple[StepResult, ...]

    @property
    def verdict(self) -> Status:
        """`fail` if any step failed, `warn` if any warned, else `pass` (or `skip`)."""
        return worst([s.status for s in self.steps])

    @property
    def first_failure(self) -> tuple[StepResult, Finding] | None:
        """The first failing finding in step order: the likely root cause.

        Steps that only suffer the consequence of an earlier problem report `skip`
        and point at it, so the first `fail` is the one to fix first.
        """
        for step in self.steps:
            for finding in step.findings:
                if finding.status is Status.FAIL:
                    return step, finding
        return None

    @property
    def skipped_steps(self) -> tuple[StepResult, ...]:
        """Steps that checked nothing (all `skip`): the headline says how many ran."""
        return tuple(s for s in self.steps if s.status is Status.SKIP)

    @property
    def private_key_roles(self) -> tuple[str, ...]:
        """Roles of the inputs that hold a private key (used to warn about exposure)."""
        return tuple(i.role for i in self.inputs if i.holds_key_material)

    def step(self, number: int) -> StepResult:
        return self.steps[number - 1]

    def to_dict(self) -> dict[str, Any]:
        first = self.first_failure
        return {
            "schema": SCHEMA_VERSION,
            "verdict": self.verdict.value,
            "first_failure": None if first is None else {"step": first[0].step, "code": first[1].code},
            "inputs": [i.to_dict() for i in self.inputs],
            "steps": [s.to_dict() for s in self.steps],
        }


def _jsonable(value: Any) -> Any:
    """Copy `value` into plain JSON types (tuples become lists, keys become strings)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)

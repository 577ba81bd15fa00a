"""What step 5's modules share: the failing finding about one file."""

from __future__ import annotations

from bot.engine.inputs import InputFile
from bot.engine.report import Finding, Status


def fail(
    code: str,
    f: InputFile,
    message: str,
    remediation: str,
    commands: tuple[str, ...],
    evidence: dict[str, object] | None = None,
) -> Finding:
    """A `fail` finding about `f`; its evidence names the file first."""
    return Finding(code, Status.FAIL, message, remediation, commands, {"file": f.name, **(evidence or {})})

"""A Report as terminal text: one line per step with a mark, details under the bad ones."""

from __future__ import annotations

import json
import textwrap

from bot.cli.render.coverage import steps_ran, to_run_the_rest
from bot.engine import Finding, Report, Status

MARKS = {Status.PASS: "✔", Status.WARN: "!", Status.FAIL: "✘", Status.SKIP: "-"}
WORDS = {Status.PASS: "PASS", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.SKIP: "SKIP"}
_COLOURS = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.SKIP: "2"}
WIDTH = 100


def render_text(report: Report, *, colour: bool = False, verbose: bool = False) -> str:
    """Render for a terminal. Passing and skipped steps get one line unless `verbose`."""

    def paint(status: Status, text: str) -> str:
        return f"\033[{_COLOURS[status]}m{text}\033[0m" if colour else text

    lines: list[str] = []
    first = report.first_failure
    if first is not None:
        step, finding = first
        lines.append(paint(Status.FAIL, f"✘ FAIL — start with step {step.step} ({step.title}): {finding.code}"))
    elif report.verdict is Status.WARN:
        lines.append(paint(Status.WARN, f"! WARN — {steps_ran(report)} and none failed, but see the warnings below"))
    elif report.verdict is Status.SKIP:
        lines.append(paint(Status.SKIP, "- SKIP — no step could run, so nothing was checked"))
    else:
        lines.append(paint(Status.PASS, f"✔ PASS — {steps_ran(report)} and none failed"))
    rest = to_run_the_rest(report)
    if first is None and rest:
        lines.append(f"  {rest}")
    if report.inputs:
        lines.append("  inputs: " + ", ".join(f"{i.name} ({i.role})" for i in report.inputs))
    lines.append("")
    for step in report.steps:
        status = step.status
        head = f"{MARKS[status]} {WORDS[status]}  {step.step}. {step.title}"
        lines.append(paint(status, head) + f" — {step.summary}")
        shown = [f for f in step.findings if verbose or f.status in (Status.FAIL, Status.WARN)]
        for finding in shown:
            lines.extend(_finding_lines(finding, paint, verbose))
    return "\n".join(lines).rstrip() + "\n"


def _finding_lines(finding: Finding, paint: object, verbose: bool) -> list[str]:
    out: list[str] = []
    mark = MARKS[finding.status]
    out.extend(_wrap(f"{mark} [{finding.code}] {finding.message}", "      ", "        "))
    if finding.remediation:
        out.extend(_wrap(f"What to do: {finding.remediation}", "        ", "          "))
    if finding.commands:
        out.append("        Check it yourself:")
        out.extend(f"          $ {c}" for c in finding.commands)
    if verbose and finding.evidence:
        for line in json.dumps(finding.evidence, indent=2, ensure_ascii=False).splitlines():
            out.append("        " + line)
    return out


def _wrap(text: str, first: str, rest: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False) or [first]

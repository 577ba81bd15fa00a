"""Which steps did not run for lack of an input, and what to add to run them.

A `PASS` after three of eight steps is not a working link: the headline says how many
steps ran and what would run the rest. The table maps the `skip` finding that each step
reports when an input is missing to the CLI's words for that input.
"""

from __future__ import annotations

from bot.engine import Report

ADD_TO_RUN = {
    "files.none": "the onboarding files",
    "verify.no_certificate": "fix.itbit.pem",
    "keymatch.no_certificate": "fix.itbit.pem",
    "expiry.no_certificate": "fix.itbit.pem",
    "verify.no_ca": "ca.crt",
    "chain.no_ca_file": "ca.crt",
    "tcp.no_endpoint": "--connect HOST:PORT",
    "tls.no_endpoint": "--connect HOST:PORT",
    "stunnel.no_config": "--stunnel FILE",
}


def steps_ran(report: Report) -> str:
    """`5 of 8 steps ran` or `all 8 steps ran`."""
    total, skipped = len(report.steps), len(report.skipped_steps)
    return f"all {total} steps ran" if not skipped else f"{total - skipped} of {total} steps ran"


def to_run_the_rest(report: Report) -> str | None:
    """`add ca.crt (steps 1, 2), --connect HOST:PORT (steps 3, 4)`; None when every step ran."""
    wanted: dict[str, list[int]] = {}
    other: list[int] = []
    for step in report.skipped_steps:
        hint = next((ADD_TO_RUN[f.code] for f in step.findings if f.code in ADD_TO_RUN), None)
        if hint is None:
            other.append(step.step)  # skipped for another reason, which the step itself says
        else:
            wanted.setdefault(hint, []).append(step.step)
    parts = [f"{hint} ({_steps(numbers)})" for hint, numbers in wanted.items()]
    if not parts and not other:
        return None
    text = f"to run the rest, add: {', '.join(parts)}" if parts else ""
    if other:
        text += ("; " if text else "") + f"{_steps(other)} did not run: see why below"
    return text


def _steps(numbers: list[int]) -> str:
    return ("step " if len(numbers) == 1 else "steps ") + ", ".join(str(n) for n in numbers)

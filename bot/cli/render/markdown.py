"""A Report as Markdown, for tickets, e-mail and chat tools other than Slack."""

from __future__ import annotations

from bot.cli.render.coverage import steps_ran, to_run_the_rest
from bot.engine import Report, Status

_ICONS = {Status.PASS: "✅", Status.WARN: "⚠️", Status.FAIL: "❌", Status.SKIP: "⏭️"}


def render_markdown(report: Report) -> str:
    out: list[str] = ["# fixcheck report", ""]
    first = report.first_failure
    if first is not None:
        out.append(
            f"**Verdict: {report.verdict.value.upper()}** — start with step {first[0].step} "
            f"({first[0].title}): `{first[1].code}`"
        )
    else:
        rest = to_run_the_rest(report)
        out.append(f"**Verdict: {report.verdict.value.upper()}** — {steps_ran(report)}" + (f"; {rest}" if rest else ""))
    out.append("")
    if report.inputs:
        out.append("| file | role | holds |")
        out.append("|---|---|---|")
        for i in report.inputs:
            out.append(f"| `{_cell(i.name)}` | {i.role} | {', '.join(i.kinds) or '—'} |")
        out.append("")
    for step in report.steps:
        out.append(f"## {_ICONS[step.status]} {step.step}. {step.title} — {step.status.value}")
        out.append("")
        for f in step.findings:
            out.append(f"- {_ICONS[f.status]} **{f.code}**: {f.message}")
            if f.remediation:
                out.append(f"  - *What to do:* {f.remediation}")
            if f.commands:
                out.append("  - *Check it yourself:*")
                out.append("")
                out.append("    ```sh")
                out.extend(f"    {c}" for c in f.commands)
                out.append("    ```")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")

"""Render a `Report` as a Slack message: Block Kit blocks plus a plain-text fallback.

Layout: the private-key warning (when a key was shared), notices (refused endpoint,
failed downloads), a header with the verdict and the first failing step, the inputs
read, then one section per guide step with its status mark, findings, remediation and
commands in code formatting. Slack's limits hold for any report: at most 50 blocks,
3000 characters a section, header text 150; passing steps collapse when space runs out.
Every piece of user-controlled text is escaped for mrkdwn. Nothing here ever sees key
material: only the Report's public findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.engine import Finding, Report, Status, StepResult

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_TOTAL = 12_000  # keep the whole message comfortably inside Slack's payload limits
MAX_FALLBACK = 3000

MARK = {
    Status.PASS: ":white_check_mark:",
    Status.WARN: ":warning:",
    Status.FAIL: ":x:",
    Status.SKIP: ":heavy_minus_sign:",
}

# The engine's skip findings speak to the CLI user; in Slack the remedy is different.
SLACK_WORDING = {
    "tcp.no_endpoint": "No endpoint given: add the FIX server's HOST:PORT to your message (or run `/fixcheck HOST:PORT`).",
    "tls.no_endpoint": "No endpoint given: add the FIX server's HOST:PORT to your message to test the handshake.",
    "stunnel.no_config": "No stunnel configuration given: run `/fixcheck stunnel` to paste it, or upload your stunnel.conf.",
}

NETWORK_STEPS = (3, 4)
# Evidence worth a line in Slack, most useful first; the noise is left to `--format json`.
EVIDENCE_FIRST = (
    "acceptable_client_ca_names",
    "client_certificate_required",
    "client_certificate_requested",
    "client_certificate_sent",
    "alert",
    "verify_errors",
    "tls_version",
    "cipher",
    "server_chain",
    "addresses",
)
EVIDENCE_NOISE = frozenset(
    {
        "endpoint",
        "timeout_s",
        "dns_ms",
        "connect_ms",
        "handshake_ms",
        "bytes_received",
        "sha256_fingerprint",
        "not_before",
        "ms",
    }
)

HOST_KEY_ROLES = ("client-bundle", "client-key")
CA_KEY_ROLES = ("ca-key",)

RENEW_HOST = (
    "openssl genrsa -out host.key 4096\n"
    "openssl req -new -key host.key -out host.csr\n"
    "openssl x509 -req -in host.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out host.crt -days 500 -sha256\n"
    "cat host.crt host.key > fix.itbit.pem\n"
    "openssl verify -CAfile ca.crt fix.itbit.pem"
)


@dataclass(frozen=True)
class Message:
    """A ready-to-post reply: blocks (as dicts) and the fallback text."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def escape(text: object) -> str:
    """Escape Slack's control characters so user text cannot form links or mentions."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """A code block that no content can break out of."""
    return "```" + escape(text).replace("```", "`\u200b``") + "```"


def key_warning(report: Report, exposed: Sequence[str] = ()) -> str | None:
    """The warning that opens a reply whenever a private key arrived through Slack.

    `exposed`: names of shared inputs in which the Slack layer's own byte scan
    (`bot.slack.exposure`) found key material, whether or not the engine read them.
    """
    keyed = [i for i in report.inputs if i.holds_key_material]
    named = {i.name for i in keyed}
    unread = [n for n in dict.fromkeys(exposed) if n not in named]  # seen by the scan only
    if not keyed and not unread:
        return None
    host = [i.name for i in keyed if i.role in HOST_KEY_ROLES]
    ca = [i.name for i in keyed if i.role in CA_KEY_ROLES]
    other = [i.name for i in keyed if i.role not in HOST_KEY_ROLES + CA_KEY_ROLES] + unread
    lines = [":rotating_light: *A private key was shared in Slack. Treat it as compromised.*"]
    if host:
        lines.append(
            f"• *Host (client) key* in {_names(host)}: anyone who can read this conversation can now act as your FIX client."
        )
    if ca:
        lines.append(
            f"• *CA key* in {_names(ca)}: anyone who can read this conversation can now sign client certificates the exchange trusts."
        )
    if other:
        lines.append(f"• *A private key* in {_names(other)}.")
    lines.append("*What to do (guide step 8):*")
    if ca:
        lines.append(
            "• CA key exposed: make a new CA (new `ca.key` and `ca.crt`), issue a new host certificate with it, and "
            "*send the new `ca.crt` to the exchange*; the old CA must no longer be trusted."
        )
    if host or other:
        lines.append(
            "• Host key exposed: generate a new host key and certificate and update `fix.itbit.pem` on the FIX client; "
            "no change is needed on the exchange's side"
            + (" (but your CA key must be replaced too, above)." if ca else ".")
        )
    lines.append(
        "• *Please delete your message with the key now* (a bot cannot delete another user's file). Next time share "
        "only certificates, or run `fixcheck diagnose` on your own machine, where keys never leave it."
    )
    text = "\n".join(lines)
    if host and not ca:
        text += "\n" + code(RENEW_HOST)
    return _fit(text)


def render_report(
    report: Report, *, notices: Sequence[str] = (), title: str = "fixcheck", exposed: Sequence[str] = ()
) -> Message:
    """The whole reply for one diagnosis (`exposed`: see `key_warning`)."""
    warning = key_warning(report, exposed)
    head: list[Block] = []
    if warning:
        head.append(SectionBlock(block_id="key_warning", text=MarkdownTextObject(text=warning)))
    for n, notice in enumerate(notices[:5]):
        head.append(
            SectionBlock(
                block_id=f"notice_{n}", text=MarkdownTextObject(text=_fit(f":information_source: {escape(notice)}"))
            )
        )
    head.append(HeaderBlock(block_id="verdict", text=PlainTextObject(text=_header(report, title), emoji=True)))
    if report.inputs:
        read = ", ".join(f"{i.name} ({i.role})" for i in report.inputs[:20])
        more = f" and {len(report.inputs) - 20} more" if len(report.inputs) > 20 else ""
        head.append(ContextBlock(elements=[MarkdownTextObject(text=_fit(f"Read: {escape(read)}{more}", 2000))]))
    head.append(DividerBlock())

    steps: list[Block] = [
        SectionBlock(block_id=f"step_{s.step}", text=MarkdownTextObject(text=_step_text(s, full=True)))
        for s in report.steps
    ]
    total = sum(len(_section_text(b)) for b in head + steps)
    if total > MAX_TOTAL or len(head) + len(steps) + 1 > MAX_BLOCKS:
        steps = _collapsed(report.steps)
    footer = ContextBlock(
        elements=[
            MarkdownTextObject(
                text="Steps follow the exchange's FIX mTLS troubleshooting guide. Private keys never need to leave your machine: run `fixcheck diagnose` there."
            )
        ]
    )
    blocks = [*head, *steps, footer][:MAX_BLOCKS]
    return Message(text=fallback_text(report, warning is not None, notices), blocks=[b.to_dict() for b in blocks])


def with_blocks(message: Message, extra: Sequence[Mapping[str, Any]]) -> Message:
    """`message` with `extra` blocks (a watch button) before its footer, inside Slack's 50-block limit."""
    if not extra or not message.blocks:
        return message
    body = message.blocks[:-1][: MAX_BLOCKS - 1 - len(extra)]
    return Message(text=message.text, blocks=[*body, *(dict(b) for b in extra), message.blocks[-1]])


def render_text(text: str, *, warning: bool = False) -> Message:
    """A short reply that is not a report (help, refusals, errors)."""
    block = SectionBlock(text=MarkdownTextObject(text=_fit(text)))
    prefix = ":rotating_light: " if warning else ""
    return Message(text=_plain(prefix + text)[:MAX_FALLBACK], blocks=[block.to_dict()])


def fallback_text(report: Report, key_shared: bool, notices: Sequence[str] = ()) -> str:
    """The notification / screen-reader text: the key warning first, then the verdict."""
    parts: list[str] = []
    if key_shared:
        parts.append("WARNING: a private key was shared in Slack; treat it as compromised and delete the message.")
    parts.extend(escape(n) for n in notices[:3])
    first = report.first_failure
    if first is None:
        parts.append(f"fixcheck: {report.verdict.value.upper()}: no step failed.")
    else:
        step, finding = first
        parts.append(f"fixcheck: FAIL at step {step.step} ({escape(step.title)}): {escape(_message(finding))}")
    return "\n".join(parts)[:MAX_FALLBACK]


def _header(report: Report, title: str) -> str:
    first = report.first_failure
    verdict = report.verdict.value.upper()
    if first is not None:
        text = f"{title}: {verdict} - first failure at step {first[0].step}: {first[0].title}"
    elif report.verdict is Status.WARN:
        worst = next(s for s in report.steps if s.status is Status.WARN)
        text = f"{title}: WARN - check step {worst.step}: {worst.title}"
    else:
        text = f"{title}: {verdict} - no step failed"
    return text if len(text) <= MAX_HEADER else text[: MAX_HEADER - 1] + "…"


def _step_text(step: StepResult, *, full: bool) -> str:
    lines = [f"{MARK[step.status]} *Step {step.step} · {escape(step.title)}* `{step.status.value}`"]
    if step.step in NETWORK_STEPS:
        # What the server said is the point of these steps, whatever their status.
        shown = list(step.findings)
    elif step.status is Status.PASS:
        shown = []
    else:
        shown = [f for f in step.findings if f.status is not Status.PASS]
    if not shown or not full:
        lines.append(escape(_summary(step)))
    if full:
        lines.extend(_finding_text(finding, step.step) for finding in shown)
    return _fit("\n".join(lines))


def _finding_text(finding: Finding, step: int) -> str:
    out = [f"{MARK[finding.status]} {escape(_message(finding))}"]
    if finding.remediation and finding.code not in SLACK_WORDING:
        out.append(f"*Fix:* {escape(finding.remediation)}")
    if finding.status is not Status.SKIP:
        ev = _evidence(finding.evidence)
        if ev:
            out.append(ev)
    if finding.commands and finding.status is not Status.SKIP:
        out.append("*See it yourself:*\n" + code("\n".join(finding.commands)))
    return "\n".join(out)


def _message(finding: Finding) -> str:
    return SLACK_WORDING.get(finding.code, finding.message)


def _summary(step: StepResult) -> str:
    for finding in step.findings:
        if finding.code in SLACK_WORDING and finding.status is step.status:
            return SLACK_WORDING[finding.code]
    return step.summary


def _evidence(evidence: Mapping[str, Any], limit: int = 900) -> str:
    """Public facts (CA names, subjects, issuers, TLS version, alerts) as short `key: value` lines."""
    keys = [k for k in EVIDENCE_FIRST if k in evidence]
    keys += [k for k in evidence if k not in EVIDENCE_FIRST and k not in EVIDENCE_NOISE]
    lines: list[str] = []
    for key in keys:
        rendered = _value(evidence[key])
        if rendered:
            lines.append(f"_{escape(str(key).replace('_', ' '))}:_ {escape(rendered)}")
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value(value: Any, depth: int = 0) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, Mapping):
        if depth > 1:
            return "…"
        parts = ((k, _value(v, depth + 1)) for k, v in value.items() if k not in EVIDENCE_NOISE)
        return "; ".join(f"{k}={v}" for k, v in parts if v)
    if isinstance(value, (list, tuple)):
        return " | ".join(_value(v, depth + 1) for v in value[:12]) + (" | …" if len(value) > 12 else "")
    return str(value)[:300]


def _collapsed(steps: Iterable[StepResult]) -> list[Block]:
    """When space is short: failing and warning steps in full, the rest in one line each."""
    out: list[Block] = []
    quiet: list[str] = []
    for step in steps:
        if step.status in (Status.FAIL, Status.WARN):
            out.append(
                SectionBlock(
                    block_id=f"step_{step.step}", text=MarkdownTextObject(text=_step_text(step, full=True)[:2500])
                )
            )
        else:
            quiet.append(f"{MARK[step.status]} Step {step.step} · {escape(step.title)}: {escape(_summary(step))}")
    if quiet:
        out.append(SectionBlock(block_id="steps_other", text=MarkdownTextObject(text=_fit("\n".join(quiet)))))
    return out


def _section_text(block: Block) -> str:
    data = block.to_dict()
    text = data.get("text")
    return str(text.get("text", "")) if isinstance(text, dict) else ""


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"`{escape(n)}`" for n in names[:6])


def _fit(text: str, limit: int = MAX_SECTION) -> str:
    """Cut `text` to `limit` characters, closing an open code block and saying so."""
    if len(text) <= limit:
        return text
    note = "\n… (cut to fit Slack; run `fixcheck diagnose` for the full text)"
    cut = text[: limit - len(note) - 4]
    if cut.count("```") % 2 == 1:
        cut += "```"
    return cut + note


def _plain(text: str) -> str:
    return text.replace("*", "").replace("`", "")

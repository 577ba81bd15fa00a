"""`diagnose()`: read the inputs, sort them into roles, run the eight steps, return a Report."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Unpack

from bot.engine.certs import diagnosis_cache
from bot.engine.context import Context, EndpointError, parse_endpoint
from bot.engine.inputs import MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES, FileFormat, InputFile, read_file
from bot.engine.keyinfo import reset_cli_openssl_version, set_cli_openssl_version
from bot.engine.options import OptionChanges, Options, with_changes
from bot.engine.report import Finding, InputSummary, Report, Status, StepResult, worst
from bot.engine.roles import Onboarding, assign_roles
from bot.engine.steps import STEPS
from bot.engine.steps.stunnel.run import log_reading
from bot.engine.tunnel import TunnelLogReading, TunnelRun


def diagnose(
    files: Sequence[tuple[str, bytes]], options: Options | None = None, /, **changes: Unpack[OptionChanges]
) -> Report:
    """Diagnose an mTLS onboarding from its files, as the guide's eight steps do.

    `files` are `(name, bytes)` pairs; names only help to tell roles apart. `options`
    says what else to use (an endpoint to test, a stunnel configuration, what the front
    end saw...; see `Options`). Keywords are shorthand for its fields and replace them:
    `diagnose(files, endpoint="host:4490")` is `diagnose(files, Options(endpoint="host:4490"))`.
    Network access happens only in steps 3 and 4, bounded by `options.timeout`.
    """
    chosen = with_changes(options, changes)
    token = set_cli_openssl_version(chosen.openssl_cli_version)
    try:
        with diagnosis_cache():
            return _diagnose(files, chosen)
    finally:
        reset_cli_openssl_version(token)


def _diagnose(files: Sequence[tuple[str, bytes]], options: Options) -> Report:
    inputs, unread = _read_all(files, options.file_modes or {})
    tunnel_run, addresses = options.tunnel_run, options.addresses
    context = Context(
        onboarding=_roles(inputs),
        timeout=max(0.1, float(options.timeout)),
        now=options.now or dt.datetime.now(dt.UTC),
        unread_files=unread,
        logon=options.logon,
        tunnel_run=tunnel_run,
        # Step 7 reads stunnel's log once; step 4 reports the handshake it shows.
        tunnel_log=None if tunnel_run is None else _tunnel_log(tunnel_run),
        addresses=None if addresses is None else tuple(str(a) for a in addresses),
    )
    if options.stunnel is not None:
        context.stunnel = _read_one(_clean_name(options.stunnel[0]), bytes(options.stunnel[1]))
    if options.stunnel_unreadable is not None:
        context.stunnel_unreadable = {str(k): str(v)[:200] for k, v in options.stunnel_unreadable.items()}
    if options.endpoint is not None:
        try:
            context.endpoint = parse_endpoint(options.endpoint)
        except EndpointError as exc:
            context.endpoint_error = str(exc)
    for step in STEPS:
        findings = _run_step(step, context)
        status = worst([f.status for f in findings])
        summary = _summary(findings, status)
        context.results[step.NUMBER] = StepResult(step.NUMBER, step.TITLE, tuple(findings), summary)
    summaries = [InputSummary(f.name, f.kinds, context.onboarding.roles.get(f.name, "unknown")) for f in inputs]
    if context.stunnel is not None:
        kind = "stunnel-log" if context.stunnel.looks_like == "stunnel-log" else "stunnel-config"
        summaries.append(InputSummary(context.stunnel.name, (kind,), kind))
    return Report(tuple(summaries), tuple(context.results[n] for n in sorted(context.results)))


def _read_all(files: Sequence[tuple[str, bytes]], modes: Mapping[str, int]) -> tuple[list[InputFile], list[str]]:
    """Read the inputs, up to MAX_FILES and MAX_TOTAL_BYTES; return them and the names left unread."""
    out: list[InputFile] = []
    unread: list[str] = []
    seen: dict[str, int] = {}
    total = 0
    for name, data in files:
        if len(out) >= MAX_FILES or total + min(len(data), MAX_FILE_BYTES) > MAX_TOTAL_BYTES:
            unread.append(_clean_name(name))
            continue
        total += min(len(data), MAX_FILE_BYTES)
        clean = _clean_name(name)
        # Two uploads may share a name; keep both, distinguishable.
        seen[clean] = seen.get(clean, 0) + 1
        if seen[clean] > 1:
            clean = f"{clean} ({seen[clean]})"
        read = _read_one(clean, bytes(data))
        mode = modes.get(name)
        out.append(read if not isinstance(mode, int) else dataclasses.replace(read, mode=mode))
    return out, unread


def _read_one(name: str, data: bytes) -> InputFile:
    """`read_file`, guarded: whatever a file holds, the diagnosis goes on and step 5 says why."""
    try:
        return read_file(name, data)
    except Exception as exc:  # noqa: BLE001 - no input may stop the diagnosis with a traceback
        return InputFile(name, len(data), FileFormat.BINARY, internal_error=type(exc).__name__)


def _tunnel_log(run: TunnelRun) -> TunnelLogReading:
    """Step 7's reading of stunnel's log, guarded: a bug there leaves step 4 with an empty reading."""
    try:
        return log_reading(run)
    except Exception:  # noqa: BLE001 - step 7 reports the same log and its own internal error
        return TunnelLogReading()


def _roles(inputs: list[InputFile]) -> Onboarding:
    """`assign_roles`, guarded: on an unexpected error no file gets a part, and step 5 says so."""
    try:
        return assign_roles(inputs)
    except Exception as exc:  # noqa: BLE001 - the steps still run and report what they can
        return Onboarding(files=inputs, error=type(exc).__name__)


def _clean_name(name: object) -> str:
    """A printable, bounded file name: names come from users and end up in messages."""
    text = str(name)
    text = "".join(ch if (ch.isprintable() and ch not in "`*_~<>|") or ch in "_" else "?" for ch in text)
    # Long enough for a path as typed (the commands must work where the user stands).
    return (text.strip() or "unnamed")[:240]


def _run_step(step: object, context: Context) -> list[Finding]:
    """Run one step; an unexpected error becomes a finding instead of a traceback."""
    try:
        return list(step.run(context))  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - a bug in one step must not hide the others
        return [
            Finding(
                f"step{step.NUMBER}.internal_error",  # type: ignore[attr-defined]
                Status.FAIL,
                f"fixcheck could not complete this step ({type(exc).__name__}). The other steps are unaffected. "
                "Please report this with the command you ran (never attach private keys).",
            )
        ]


def _summary(findings: list[Finding], status: Status) -> str:
    """One line for the step: the opening sentences of the first finding with its status."""
    message = next((f.message for f in findings if f.status is status), findings[0].message if findings else "")
    sentences = message.split(". ")
    summary = sentences[0]
    for sentence in sentences[1:]:
        if len(summary) + len(sentence) > 160:
            break
        summary += ". " + sentence
    return summary.rstrip(".") + "."

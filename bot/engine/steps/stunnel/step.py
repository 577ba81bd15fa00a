"""Step 7: is the stunnel configuration right for these files and this endpoint?

The configuration comes from `--stunnel FILE` (`ctx.stunnel`) or is recognised among the
inputs; a stunnel log (given either way) is read too. A run of the real stunnel made by the
front end (`ctx.tunnel_run`, `--through-stunnel`) adds what it showed. The checks live in
the `checks_*` modules, the readers in `config` and `log`, all in this package.
"""

from __future__ import annotations

from bot.engine.context import Context
from bot.engine.inputs import InputFile
from bot.engine.report import Finding, Status
from bot.engine.steps._common import skip
from bot.engine.steps.stunnel import cross, cross_log, once
from bot.engine.steps.stunnel.checks_config import check_config
from bot.engine.steps.stunnel.checks_log import check_log
from bot.engine.steps.stunnel.config import Option, StunnelConfig, parse, parse_address
from bot.engine.steps.stunnel.run import run_findings

NUMBER = 7
TITLE = "stunnel configuration"


def run(ctx: Context) -> list[Finding]:
    configs: list[InputFile] = []
    logs: list[InputFile] = []
    if ctx.stunnel is not None:
        (logs if ctx.stunnel.looks_like == "stunnel-log" else configs).append(ctx.stunnel)
    ob = ctx.onboarding
    if ob.stunnel_config is not None and not configs:
        configs.append(ob.stunnel_config)
    if ob.stunnel_log is not None and ob.stunnel_log not in logs:
        logs.append(ob.stunnel_log)
    if not configs and not logs and ctx.tunnel_run is None:
        return [
            skip(
                "stunnel.no_config",
                "No stunnel configuration was given: add --stunnel FILE if the FIX client connects through stunnel.",
            )
        ]
    findings: list[Finding] = []
    for conf in configs:
        if conf.text is None:
            findings.append(
                skip("stunnel.unreadable", f"{conf.name} is not a text file, so it is not a stunnel configuration.")
            )
        else:
            findings.extend(_config(ctx, conf))
    for log in logs:
        findings.extend(check_log(log.text or "", log.name))
    if ctx.tunnel_run is not None:
        findings.extend(run_findings(ctx.tunnel_run))
    cafiles = [o.value for c in configs if c.text for o in _options(parse(c.text), "cafile")]
    connects = {o.value.strip() for c in configs if c.text for o in _options(parse(c.text), "connect")}
    return once.fill_endpoint(cross_log.reconcile(ctx, findings, cafiles), _known_endpoint(ctx, connects))


def _known_endpoint(ctx: Context, connects: set[str]) -> str | None:
    """Where stunnel connects, when known: --connect, the tunnel run's, or the one `connect` written.

    The guide template's example host is not the user's endpoint, so it is never filled in.
    """
    if ctx.endpoint is not None:
        return str(ctx.endpoint)
    if ctx.tunnel_run is not None and ctx.tunnel_run.connect:
        return ctx.tunnel_run.connect
    if len(connects) == 1:
        (only,) = connects
        port = parse_address(only).port_number
        if only.lower() != cross.TEMPLATE_CONNECT and port is not None and ":" in only:
            return only
    return None


def _config(ctx: Context, conf: InputFile) -> list[Finding]:
    """The configuration's own checks, and those that need the front end or step 4 (`cross`)."""
    config = parse(conf.text or "")
    own = cross.name_advice(ctx, config, check_config(ctx, conf))
    more = cross.config_findings(ctx, config, conf.name)
    if any(f.status in (Status.FAIL, Status.WARN) for f in more):
        own = [f for f in own if f.code != "stunnel.ok"]  # not "correct" while a finding says otherwise
    return [*own, *more]


def _options(config: StunnelConfig, key: str) -> list[Option]:
    return [o for section in (config.globals, *config.services) for o in section.options if o.key == key]

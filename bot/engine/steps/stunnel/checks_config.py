"""Step 7: the checks of a whole stunnel configuration file.

`check_config` reads one file as stunnel would (`config.parse`) and gathers the findings:
lines stunnel refuses, template text left in, duplicated options, each service
(`checks_service`), the `connect` against the endpoint under test, the files it names
(`checks_files`), and where stunnel's log will be.
"""

from __future__ import annotations

from bot.engine.context import Context
from bot.engine.inputs import InputFile
from bot.engine.report import Finding, Status
from bot.engine.steps.stunnel.checks_files import file_findings
from bot.engine.steps.stunnel.checks_service import service_findings
from bot.engine.steps.stunnel.config import (
    Option,
    StunnelConfig,
    is_ip,
    is_loopback,
    parse,
    parse_address,
    placeholder_in,
)
from bot.engine.steps.stunnel.options import MAX_LINES, REPEATABLE, debug_level

_PROBLEM_CODES = {
    "syntax": "stunnel.syntax",
    "unknown_option": "stunnel.unknown_option",
    "wrong_section": "stunnel.wrong_section",
    "bad_value": "stunnel.bad_value",
    "bad_socket": "stunnel.bad_socket",
    "inline_comment": "stunnel.inline_comment",
    "pem_data": "stunnel.pem_data",
}
_TEST_CMD = "stunnel /path/to/your.conf   # with foreground = yes, the log appears in the terminal"


def check_config(ctx: Context, conf: InputFile) -> list[Finding]:
    """All findings about one configuration file."""
    config = parse(conf.text or "")
    name = conf.name
    out = [*_too_long(conf), *_problems(config, name), *_placeholders(config, name), *_duplicates(config, name)]
    if not config.services:
        out.append(
            Finding(
                "stunnel.no_service",
                Status.FAIL,
                f"{name} has no [service] section, so stunnel opens no tunnel "
                "(it says \"'accept' option is only allowed in a [section]\").",
                "Put the tunnel's options under a section name, e.g.\n[itbit]\nclient = yes\naccept = 127.0.0.1:1234\n"
                "connect = HOST:PORT",
            )
        )
    for service in config.services:
        out.extend(service_findings(ctx, config, service, name))
    out.extend(_connect_vs_endpoint(ctx, config, name))
    out.extend(file_findings(ctx, config, name))
    if config.includes:
        dirs = ", ".join(o.value for o in config.includes)
        out.append(
            Finding(
                "stunnel.include",
                Status.SKIP,
                f"{name} includes {dirs}: options in those files could not be checked here.",
                "Give the included files' contents too (or paste them into one file) to check them.",
            )
        )
    out.append(_log_location(config, name))
    if not any(f.status in (Status.FAIL, Status.WARN) for f in out):
        out.insert(0, _ok(ctx, name))
    return out


def _ok(ctx: Context, name: str) -> Finding:
    return Finding(
        "stunnel.ok",
        Status.PASS,
        f"{name} is a correct stunnel client configuration for these files"
        + (f" and {ctx.endpoint}" if ctx.endpoint else "")
        + ".",
        None,
        (f"stunnel {name}",),
    )


def _too_long(conf: InputFile) -> list[Finding]:
    line_count = (conf.text or "").count("\n") + 1
    if line_count <= MAX_LINES:
        return []
    return [
        Finding(
            "stunnel.too_long",
            Status.WARN,
            f"{conf.name} has {line_count:,} lines; only the first {MAX_LINES:,} were read. A stunnel "
            "configuration has dozens: is this the right file?",
            "Give the configuration file stunnel is started with (e.g. /etc/stunnel/itbit.conf).",
            (f"wc -l {conf.name}",),
        )
    ]


def _problems(config: StunnelConfig, name: str) -> list[Finding]:
    """The lines stunnel refuses (`config.parse`'s problems), one finding per kind of problem."""
    out: list[Finding] = []
    for kind, code in _PROBLEM_CODES.items():
        problems = [p for p in config.problems if p.kind == kind]
        if not problems:
            continue
        fixes = "; ".join(f"line {p.line}: {p.fix}" for p in problems if p.fix)
        out.append(
            Finding(
                code,
                Status.FAIL,
                f"{name}: " + "; ".join(f"line {p.line} ({p.raw[:80]}): {p.message}" for p in problems[:5]),
                "Fix these lines"
                + (": " + fixes if any(p.fix for p in problems) else "")
                + ". stunnel stops at the first such line and starts no service ('Configuration failed').",
                (f"stunnel {name}",),
                {"lines": [p.line for p in problems]},
            )
        )
    return out


def _placeholders(config: StunnelConfig, name: str) -> list[Finding]:
    found = [(o, placeholder_in(o.value)) for _, o in config.all_options()]
    hits = [(o, p) for o, p in found if p]
    if not hits:
        return []
    fixes = []
    for option, text in hits:
        example = option.value.replace(text or "", "/home/you/fix" if "{" in (text or "") else "/home/you/fix/")
        fixes.append(f"{option.canonical} = {example.replace('//', '/')}")
    return [
        Finding(
            "stunnel.placeholder",
            Status.FAIL,
            f"{name} still has the guide's template text: "
            + "; ".join(f"line {o.line}: {o.raw[:90]}" for o, _ in hits)
            + ". stunnel looks for a file literally named so and fails ('No such file or directory').",
            "Replace the placeholder with the real folder of your files, e.g.: " + "; ".join(fixes),
            ("ls -l " + " ".join(o.value for o, _ in hits if o.key in ("cert", "key", "cafile")),),
            {"lines": [o.line for o, _ in hits]},
        )
    ]


def _duplicates(config: StunnelConfig, name: str) -> list[Finding]:
    out: list[Finding] = []
    for section in (config.globals, *config.services):
        seen: dict[str, Option] = {}
        for option in section.options:
            if option.key in REPEATABLE or option.key == "include":
                continue
            first = seen.get(option.key)
            if first is not None and first.value != option.value:
                out.append(
                    Finding(
                        "stunnel.duplicate_option",
                        Status.WARN,
                        f"{name}: {option.canonical} is set twice in {section.label} (lines {first.line} and "
                        f"{option.line}); stunnel uses the last one, '{option.value}'.",
                        f"Keep one line: {option.canonical} = {option.value}",
                    )
                )
            seen[option.key] = option
    return out


def _connect_vs_endpoint(ctx: Context, config: StunnelConfig, name: str) -> list[Finding]:
    if ctx.endpoint is None:
        return []
    targets: list[Option] = []
    for svc in config.services:
        targets.extend(config.effective_all(svc, "connect"))
    if not targets:
        return []
    want_host, want_port = ctx.endpoint.host.lower(), ctx.endpoint.port
    maybe = False
    for option in targets:
        address = parse_address(option.value)
        host = (address.host or "localhost").lower()
        if address.port_number != want_port:
            continue
        if host == want_host or (is_loopback(host) and is_loopback(want_host)):
            return []
        if is_ip(host) != is_ip(want_host):
            maybe = True  # an IP and a name: they may be the same machine
    listed = ", ".join(f"{o.value} (line {o.line})" for o in targets)
    return [
        Finding(
            "stunnel.connect_mismatch",
            Status.WARN if maybe else Status.FAIL,
            f"{name} connects to {listed}, not to {ctx.endpoint}, the endpoint under test"
            + (" (an address and a name: check they are the same machine)." if maybe else "."),
            f"Use the FIX server address and port from onboarding: connect = {ctx.endpoint}",
        )
    ]


def _log_location(config: StunnelConfig, name: str) -> Finding:
    g = config.globals
    foreground = g.get("foreground")
    output = g.get("output")
    debug = g.get("debug")
    pid = g.get("pid")
    parts: list[str] = []
    if output is not None:
        parts.append(f"stunnel writes its log to {output.value} (output)")
    if foreground is not None and foreground.value.lower() == "yes":
        parts.append("with foreground = yes it also prints the log in the terminal it was started from")
    elif foreground is not None and foreground.value.lower() == "quiet":
        parts.append("foreground = quiet keeps it in the terminal but prints nothing there")
    else:
        parts.append("it runs in the background")
    if output is None:
        parts.append("and logs to syslog (journalctl -t stunnel, or /var/log/syslog)")
    level = debug_level(debug.value) if debug is not None else 5
    if level is not None and level < 5:
        parts.append(f"debug = {debug.value if debug else ''} hides the notices that show each connection")
    if pid is not None and pid.value:
        parts.append(f"its process id is in {pid.value} (that folder must exist and be writable)")
    return Finding(
        "stunnel.log_location",
        Status.PASS,
        f"{name}: where to find stunnel's log: " + "; ".join(parts) + ".",
        "To troubleshoot, start it by hand with 'foreground = yes' and 'debug = info' in the global section, "
        "then paste its output into fixcheck.",
        (_TEST_CMD,),
        {"foreground": foreground.value if foreground else None, "output": output.value if output else None},
    )

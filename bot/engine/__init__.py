"""fixcheck's diagnostic engine: pure, Slack-free, and the same under every front end.

    >>> from bot.engine import Options, diagnose
    >>> report = diagnose([("fix.itbit.pem", data), ("ca.crt", ca)])
    >>> report.to_dict()["verdict"]
    >>> live = diagnose(files, Options(endpoint="fix.example.com:4490", timeout=5.0))

`diagnose(files, options)` is the whole interface: `Options` holds everything besides the
files (keywords such as `endpoint=` are shorthand for its fields, typed by `OptionChanges`),
and a `Report` comes back. Only these and the types below are public; the modules behind
them are not.
"""

from bot.engine.context import Endpoint, EndpointError, parse_endpoint
from bot.engine.diagnosis import diagnose
from bot.engine.inputs import MAX_FILE_BYTES, FileFormat, read_file
from bot.engine.net.fix import FixLogon, FixResult, LogonError
from bot.engine.options import OptionChanges, Options
from bot.engine.report import Finding, InputSummary, Report, Status, StepResult
from bot.engine.tunnel import TunnelRun

__all__ = [
    "MAX_FILE_BYTES",
    "Endpoint",
    "EndpointError",
    "FileFormat",
    "Finding",
    "FixLogon",
    "FixResult",
    "InputSummary",
    "LogonError",
    "OptionChanges",
    "Options",
    "Report",
    "Status",
    "StepResult",
    "TunnelRun",
    "diagnose",
    "parse_endpoint",
    "read_file",
]

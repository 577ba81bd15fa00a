"""Step 7 — the stunnel configuration, its log, and a run through the user's own stunnel.

Everything the engine knows about stunnel lives in this package:

- `step`: the step itself (`NUMBER`, `TITLE`, `run`);
- `config`: the reader of configuration files (stunnel's own syntax), and `options`: stunnel's
  options and the table of what each one's value must be (`VALUE_RULES`);
- `checks_config`: the findings about a whole configuration file, with `checks_service` (each
  `[service]`), `verification` (is the server's certificate checked) and `checks_files` (what
  the files behind cert, key and CAfile hold);
- `log`: the reader of stunnel's log output; `log_rules`: the table of known log lines and
  their findings (`LOG_RULES`), with `tls_alerts` (the alerts those lines name);
  `checks_log`: the findings of a log;
- `cross`: checks of the configuration against the front end's view and step 4, and
  `cross_log`: log findings read with the rest of the log and with step 4;
- `once`: findings said once per report, however many services repeat them;
- `run`: findings from a run through the real stunnel (`TunnelRun`, made by the CLI);
- `generate`: the known-good client configuration (`fixcheck stunnel-config`).

Front ends use the names exported here; the modules behind them are the step's own.
"""

from bot.engine.steps.stunnel.config import Option, Section, StunnelConfig, parse, referenced_paths
from bot.engine.steps.stunnel.cross import PID_NO_FOLDER, PID_NOT_WRITABLE
from bot.engine.steps.stunnel.generate import (
    DEFAULT_ACCEPT_PORT,
    DEFAULT_SERVICE,
    ChosenFiles,
    GeneratedConfig,
    StunnelConfigError,
    choose_files,
    client_config,
    config_for_files,
    server_certificate,
)
from bot.engine.steps.stunnel.step import NUMBER, TITLE, run

__all__ = [
    "DEFAULT_ACCEPT_PORT",
    "DEFAULT_SERVICE",
    "NUMBER",
    "PID_NOT_WRITABLE",
    "PID_NO_FOLDER",
    "TITLE",
    "ChosenFiles",
    "GeneratedConfig",
    "Option",
    "Section",
    "StunnelConfig",
    "StunnelConfigError",
    "choose_files",
    "client_config",
    "config_for_files",
    "parse",
    "referenced_paths",
    "run",
    "server_certificate",
]

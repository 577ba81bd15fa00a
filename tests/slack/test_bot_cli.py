"""`fixcheck-bot` as an operator meets it: --help, a clean start-up log, the container health check."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.slack.conftest import Bot
from tests.slack.fakeslack import FakeSlack
from tests.slack.localservers import bot_env, free_port

REPO = Path(__file__).resolve().parents[2]


def _bot_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_help_lists_the_modes_and_every_environment_variable(fake_slack: FakeSlack) -> None:
    proc = _bot_cli("--help", env=bot_env(fake_slack, free_port(), ""))
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: fixcheck-bot")
    assert "Socket Mode" in proc.stdout and "HTTP mode" in proc.stdout and "HTTPS reverse proxy" in proc.stdout
    # The variables are the README's configuration table, every one of them.
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("### Configuration") :]
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", table, flags=re.M))
    assert documented and documented <= set(re.findall(r"^  ([A-Z_]+) ", proc.stdout, flags=re.M))


def test_start_up_log_has_no_bolt_warning(bot: Bot) -> None:
    # The session's bot started with SLACK_BOT_TOKEN set and a client of our own.
    logs = bot.logs()
    assert "fixcheck bot: HTTP mode on" in logs
    assert "will be unused" not in logs and "WARNING slack_bolt" not in logs


def test_healthcheck_asks_the_configured_address_and_port(bot: Bot, fake_slack: FakeSlack) -> None:
    port = bot.url.rsplit(":", 1)[1]
    healthy = _bot_cli("--healthcheck", env=bot_env(fake_slack, int(port), ""))
    assert healthy.returncode == 0, healthy.stderr
    # Nothing listens on this port: unhealthy, one line, no traceback.
    down = _bot_cli("--healthcheck", env=bot_env(fake_slack, free_port(), ""))
    assert down.returncode == 1
    assert down.stderr.startswith("fixcheck-bot: unhealthy: http://127.0.0.1:") and "Traceback" not in down.stderr
    # A wildcard bind is asked on loopback.
    wildcard = _bot_cli("--healthcheck", env=bot_env(fake_slack, int(port), "", FIXCHECK_BIND="0.0.0.0"))
    assert wildcard.returncode == 0, wildcard.stderr


def test_dockerfile_health_check_is_the_bot_s_own() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert 'CMD ["fixcheck-bot", "--healthcheck"]' in dockerfile

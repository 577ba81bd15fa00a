"""The README documents every finding code the engine can emit, and its two commands stay true."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFIXES = "verify|chain|tcp|tls|files|keymatch|stunnel|expiry|fix"


def _code_literals() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "bot" / "engine").rglob("*.py"):
        codes |= set(re.findall(rf"[\"']((?:{PREFIXES})\.[a-z0-9_]+)[\"']", path.read_text()))
    # Step 8 builds its codes from a subject and an outcome.
    for subject in ("client_cert", "client_ca", "server_ca"):
        for outcome in ("expired", "expiring", "not_yet_valid"):
            codes.add(f"expiry.{subject}_{outcome}")
    codes |= {"expiry.client_cert_valid", "expiry.client_ca_valid"}
    # Prefixes that are only ever completed elsewhere are not codes themselves.
    return {c for c in codes if c not in ("expiry.client_cert", "expiry.client_ca", "expiry.server_ca", "keymatch.ca")}


def test_every_finding_code_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = sorted(c for c in _code_literals() if f"`{c}`" not in readme and c not in readme)
    assert not missing, f"document these finding codes in README.md: {missing}"


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("## Using the CLI")]
    assert "pip install . && fixcheck demo" in head
    assert "python3 -m pytest" in head
    ci = (ROOT / ".ci" / "run").read_text()
    # .ci/run runs the README's test command.
    assert "ruff check . && mypy && hadolint Dockerfile && python3 -m pytest" in ci
    assert "ruff check . && mypy && hadolint Dockerfile && python3 -m pytest" in head


def test_readme_installs_system_packages_without_upgrading_them() -> None:
    # `apt-get install openssl` on a machine that has it upgrades the system's openssl.
    readme = (ROOT / "README.md").read_text()
    installs = [line for line in readme.splitlines() if "apt-get install" in line and not line.lstrip().startswith("#")]
    assert installs, "the README's command 2 installs openssl and stunnel4"
    for line in installs:
        for command in line.split("&&"):
            if "apt-get install" in command and ("openssl" in command or "stunnel4" in command):
                assert "--no-upgrade" in command, command

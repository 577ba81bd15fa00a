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


def _architecture_tree() -> list[str]:
    """The paths drawn in the README's architecture tree (`bot/engine/steps/tls/`, `bot/engine/diagnosis.py`...)."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Architecture") :]
    block = section[section.index("```\nbot/") + 4 : section.index("\n```", section.index("```\nbot/") + 4)]
    paths: list[str] = []
    stack: list[str] = []
    for line in block.splitlines():
        m = re.match(r"^([│ ]*)[├└]── (\S+)", line)
        if line.startswith("bot/"):
            stack = ["bot/"]
        elif m:
            depth = len(m.group(1)) // 4 + 1
            stack = [*stack[:depth], m.group(2)]
            paths.append("".join(stack))
    return paths


def test_the_readme_tree_matches_the_code() -> None:
    drawn = _architecture_tree()
    assert len(drawn) > 20, "the tree was not found under '## Architecture'"
    missing = [p for p in drawn if not (ROOT / p).exists()]
    assert not missing, f"the README's tree names what the code does not have: {missing}"
    # Every room of bot/ and bot/engine/, and every guide step, is drawn.
    rooms = [p for p in (ROOT / "bot").iterdir() if p.is_dir() and p.name != "__pycache__"]
    rooms += [p for p in (ROOT / "bot" / "engine").iterdir() if p.is_dir() and p.name != "__pycache__"]
    steps = [p for p in (ROOT / "bot" / "engine" / "steps").iterdir() if not p.name.startswith("_")]
    expected = {str(p.relative_to(ROOT)) + ("/" if p.is_dir() else "") for p in rooms + steps}
    assert not expected - set(drawn), f"draw these in the README's tree: {sorted(expected - set(drawn))}"

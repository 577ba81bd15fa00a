"""The layout tells the architecture, and these rules keep it that way (README, "Architecture").

Read from the code's own `import` statements (module level and inside functions), so a
rule that is broken fails here with the module and the line that broke it:

- the engine imports no front end, no Slack library and no process runner;
- a guide step imports no other step (shared wording lives in `steps/_common.py`; the engine
  hands one step's facts to another through the context);
- outside the engine, front ends use only its public surfaces;
- the CLI, the Slack bot, the lab and the watches do not import each other except as listed;
- only the CLI and the lab start processes;
- no module is over MAX_MODULE_LINES lines and no function over MAX_FUNCTION_LINES.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot"

# What a module outside the engine may import of it: the packages that say what they offer.
ENGINE_PUBLIC = {"bot.engine", "bot.engine.net", "bot.engine.certs", "bot.engine.steps.stunnel"}
# Third-party libraries the engine may use: it is pure and knows nothing of Slack or HTTP.
ENGINE_LIBRARIES = {"cryptography", "OpenSSL", "pyasn1", "simplefix"}
# Which front end may import which (beyond the engine's public surfaces).
MAY_IMPORT = {
    "bot.cli": {"bot.lab", "bot.watches"},
    "bot.slack": {"bot.watches"},
    "bot.lab": set(),
    "bot.watches": set(),
}
PROCESS_STARTERS = {"bot.cli", "bot.lab"}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # what it imports, dotted (`from a import b` gives `a.b` when b is a module)
    line: int

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _exported(package: str) -> set[str]:
    """The names a package's `__init__` lists in `__all__` (`from bot.engine import diagnose` is the function)."""
    init = ROOT.joinpath(*package.split("."), "__init__.py")
    if not init.is_file():
        return set()
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return {str(name) for name in ast.literal_eval(node.value)}
    return set()


def _imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted(BOT.rglob("*.py")):
        module = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [Import(module, alias.name, node.lineno) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    module_named = _is_module(candidate) and alias.name not in _exported(node.module)
                    target = candidate if module_named else node.module
                    found.append(Import(module, target, node.lineno))
    return found


IMPORTS = _imports()


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _step_of(name: str) -> str | None:
    """`bot.engine.steps.tls.close` -> `tls`; None for the steps package itself and `_common`."""
    parts = name.split(".")
    if len(parts) < 4 or parts[:3] != ["bot", "engine", "steps"] or parts[3].startswith("_"):
        return None
    return parts[3]


def test_the_rules_see_the_imports() -> None:
    # A rule over no imports cannot fail: make sure the reader finds the known ones.
    assert any(i.module == "bot.engine.diagnosis" and i.target == "bot.engine.steps" for i in IMPORTS)
    assert any(i.module == "bot.cli.commands" and i.target == "bot.cli.stunnel_config" for i in IMPORTS)
    assert _step_of("bot.engine.steps.tls.close") == "tls" and _step_of("bot.engine.steps._common") is None


def test_the_engine_imports_no_front_end_and_no_slack() -> None:
    stdlib = set(sys.stdlib_module_names) - {"subprocess"}
    broken = [
        str(i)
        for i in IMPORTS
        if _within(i.module, "bot.engine")
        and not _within(i.target, "bot.engine")
        and i.target.split(".")[0] not in stdlib | ENGINE_LIBRARIES | {"__future__"}
    ]
    assert not broken, "the engine must stay pure and Slack-free:\n" + "\n".join(broken)


def test_no_step_imports_another_step() -> None:
    broken = [
        str(i)
        for i in IMPORTS
        if _step_of(i.module) is not None and _step_of(i.target) not in (None, _step_of(i.module))
    ]
    assert not broken, "a step may not import another step (pass facts through the context):\n" + "\n".join(broken)


def test_only_diagnose_runs_the_steps() -> None:
    # The engine's core does not reach into a step: only diagnose() runs them (and asks step 7
    # for its reading of a tunnel run's log, which step 4 then gets from the context).
    broken = [
        str(i)
        for i in IMPORTS
        if _within(i.module, "bot.engine")
        and not _within(i.module, "bot.engine.steps")
        and _within(i.target, "bot.engine.steps")
        and i.module != "bot.engine.diagnosis"
    ]
    assert not broken, "\n".join(broken)


def test_front_ends_use_only_the_engines_public_surfaces() -> None:
    broken = [
        str(i)
        for i in IMPORTS
        if not _within(i.module, "bot.engine") and _within(i.target, "bot.engine") and i.target not in ENGINE_PUBLIC
    ]
    assert not broken, f"import the engine through {sorted(ENGINE_PUBLIC)}:\n" + "\n".join(broken)


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_front_ends_keep_to_their_own_package(package: str) -> None:
    others = [p for p in MAY_IMPORT if p != package and p not in MAY_IMPORT[package]]
    broken = [str(i) for i in IMPORTS if _within(i.module, package) and any(_within(i.target, o) for o in others)]
    assert not broken, "\n".join(broken)


def test_only_the_cli_and_the_lab_start_processes() -> None:
    broken = [
        str(i)
        for i in IMPORTS
        if i.target == "subprocess" and not any(_within(i.module, p) for p in PROCESS_STARTERS)
    ]
    assert not broken, "\n".join(broken)


def test_no_module_or_function_is_too_long() -> None:
    too_long: list[str] = []
    for path in sorted(BOT.rglob("*.py")):
        text = path.read_text()
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}(): {length} lines")
    assert not too_long, f"split these (modules <= {MAX_MODULE_LINES}, functions <= {MAX_FUNCTION_LINES}):\n" + "\n".join(
        too_long
    )

"""The guide's eight steps. Each is one module, or one package whose `__init__` re-exports
the step (verify/, tls/, files/, stunnel/), of the same shape:

- ``NUMBER``: the guide's step number;
- ``TITLE``: what the step checks, in the guide's words;
- ``run(ctx) -> list[Finding]``: the findings; the step's status is the worst of them.

A step that lacks its input returns one ``skip`` finding that names the input.
A step never imports another step: what one learns and another needs travels in the
``Context`` (``tests/test_layout.py`` holds the rule). Wording steps share is in ``_common``.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Protocol

from bot.engine.context import Context
from bot.engine.report import Finding
from bot.engine.steps import chain, expiry, files, keymatch, stunnel, tcp, tls, verify


class Step(Protocol):
    NUMBER: int
    TITLE: str

    def run(self, ctx: Context) -> Sequence[Finding]: ...


STEPS: tuple[ModuleType, ...] = (verify, chain, tcp, tls, files, keymatch, stunnel, expiry)

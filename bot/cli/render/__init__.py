"""Renderers turn one `Report` into text for a reader; none of them diagnoses anything.

- `render_text`: one line a step for a terminal (`colour` when `use_colour()` says so);
- `render_markdown`: for a ticket or an e-mail.
"""

import os
import sys

from bot.cli.render.markdown import render_markdown
from bot.cli.render.text import render_text

__all__ = ["render_markdown", "render_text", "use_colour"]


def use_colour() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"

"""Renderers turn one `Report` into text for a reader; none of them diagnoses anything."""

from bot.cli.render.markdown import render_markdown
from bot.cli.render.text import render_text

__all__ = ["render_markdown", "render_text"]

"""Step 5 — do the files hold what the guide expects (formats, bundles, keys, permissions)?

- `step`: the step itself (`NUMBER`, `TITLE`, `run`);
- `checks`: checks across files (the bundle's order, a world-readable key, CA confusions);
- `objects`: findings about one object in a file (a certificate, a key, a PKCS#12 store).
"""

from bot.engine.steps.files.step import NUMBER, TITLE, run

__all__ = ["NUMBER", "TITLE", "run"]

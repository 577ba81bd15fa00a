"""Step 5 — do the files hold what the guide expects (formats, bundles, keys, permissions)?

- `step`: the step itself (`NUMBER`, `TITLE`, `run`);
- `form`: findings about one file as a whole (the tables of unread formats and of BEGIN
  lines OpenSSL will not see), then each of its blocks;
- `blocks`: findings about one PEM block (unreadable, encrypted, a CSR for a certificate);
- `objects`: findings about one object in a file (a certificate, a key, a PKCS#12 store);
- `composition`: the onboarding as a whole (the bundle complete, the CA files not confused);
- `checks`: checks across files (weak keys, the bundle's order, a world-readable key);
- `common`: the failing finding about one file that the modules share.
"""

from bot.engine.steps.files.step import NUMBER, TITLE, run

__all__ = ["NUMBER", "TITLE", "run"]

"""The `fixcheck` command line: the engine, run locally, so private keys never leave the machine.

- `main`: argument parsing and `fixcheck diagnose` (the entry point is `main()`);
- `demo`: `fixcheck demo`, the guide's failures made in the lab and diagnosed;
- `stunnel_config`: `fixcheck stunnel-config`, a known-good stunnel configuration;
- `through_stunnel`: `--through-stunnel`, a run of the user's own stunnel (the one place
  fixcheck starts a process of the user's);
- `expiry`: `fixcheck expiry`, the expiry check of certificates for cron and CI;
- `render`: the CLI's text and Markdown renderings of a report.
"""

from bot.cli.main import main

__all__ = ["main"]

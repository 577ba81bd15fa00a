"""The `fixcheck` command line: the engine, run locally, so private keys never leave the machine.

`main()` is the entry point (`fixcheck`, `python -m bot.cli`). Behind it, one module a command:

- `commands`: the table of subcommands and `main()`; usage errors exit 2;
- `diagnose`: `fixcheck diagnose`, files (and an endpoint, a stunnel configuration) into
  one `Options` and one diagnosis, rendered as text, JSON or Markdown;
- `files`: reading the paths and folders the user names (`InputError` when one cannot be read);
- `demo`: `fixcheck demo`, the guide's failures made in the lab (bot.lab) and diagnosed;
- `stunnel_config`: `fixcheck stunnel-config`, a known-good stunnel configuration;
- `through_stunnel`: `--through-stunnel`, a run of the user's own stunnel (the one place
  fixcheck starts a process of the user's), with the copy of its configuration that
  `stunnel_copy` prepares;
- `expiry`: `fixcheck expiry`, the expiry check of certificates for cron and CI;
- `render`: the CLI's text and Markdown renderings of a report.
"""

from bot.cli.commands import main

__all__ = ["main"]

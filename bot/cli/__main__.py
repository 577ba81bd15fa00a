"""`python -m bot.cli ...` is the `fixcheck` command."""

from bot.cli.commands import main

if __name__ == "__main__":
    raise SystemExit(main())

"""The CLI's modules (issue 15): one module a command, the names others import, the test copy of a stunnel config."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.cli import commands, files, stunnel_copy, through_stunnel


def test_every_command_is_registered_by_its_own_module() -> None:
    parser = commands.build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(subcommands.choices) == ["diagnose", "demo", "stunnel-config", "expiry"]
    handlers = {name: p.get_default("handler") for name, p in subcommands.choices.items()}
    assert handlers["diagnose"].__module__ == "bot.cli.diagnose"
    assert handlers["demo"].__module__ == "bot.cli.demo"
    assert handlers["stunnel-config"].__module__ == "bot.cli.stunnel_config"


def test_an_unreadable_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(files.InputError, match="no such file"):
        files.read_one(tmp_path / "absent.pem")
    assert through_stunnel.prepare_config is stunnel_copy.prepare_config  # tests patch and call it there


def test_the_test_copy_keeps_the_globals_and_the_chosen_service_and_says_what_it_changed(tmp_path: Path) -> None:
    text = (
        "output = /var/log/stunnel.log\n"
        "CAfile = certs/itbit-ca.pem\n"
        "[first]\nclient = yes\naccept = 1111\nconnect = a.example.com:1\n"
        "[fix]\nclient = yes\naccept = 127.0.0.1:4490\naccept = 4491\nconnect = fix.example.com:4490\n"
        "cert = fix.itbit.pem\nsetuid = stunnel4\n"
    )
    prepared = stunnel_copy.prepare_config(text, tmp_path, 5555, "fix.example.com:4490")
    assert prepared.error is None and prepared.service == "fix"
    assert prepared.original_accept == "127.0.0.1:4490" and prepared.connect == "fix.example.com:4490"
    lines = prepared.text.splitlines()
    assert lines[:4] == ["foreground = yes", "pid =", "debug = info", "syslog = no"]
    # One accept, moved; the user's second accept would listen on a real port too.
    assert [line for line in lines if line.startswith("accept")] == ["accept = 127.0.0.1:5555"]
    assert f"CAfile = {tmp_path / 'certs/itbit-ca.pem'}" in lines and f"cert = {tmp_path / 'fix.itbit.pem'}" in lines
    assert "[first]" not in lines and "connect = a.example.com:1" not in lines
    assert prepared.changes == (
        "foreground = yes",
        "pid = (none)",
        "debug = info",
        "syslog = no",
        "accept 127.0.0.1:4490 -> 127.0.0.1:5555",
        "left out: output, setuid",
        "relative paths made absolute: CAfile, cert",
        "other services left out: [first]",
    )

"""`diagnose(files, options)`: one typed `Options` value, and keywords as a checked shorthand for it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import textwrap
import typing
from pathlib import Path

import pytest

from bot.engine import OptionChanges, Options, diagnose
from tests.pki import Pki

ROOT = Path(__file__).resolve().parents[2]
STUNNEL_CONF = b"[itbit]\nclient = yes\naccept = 127.0.0.1:4490\nconnect = fix.example.com:4490\ncert = fix.itbit.pem\n"


def test_option_changes_has_exactly_the_fields_of_options() -> None:
    fields = typing.get_type_hints(Options)
    keywords = typing.get_type_hints(OptionChanges)
    assert list(keywords) == [f.name for f in dataclasses.fields(Options)]
    assert keywords == fields
    assert OptionChanges.__total__ is False, "every keyword may be left out"


def test_an_unknown_keyword_is_refused_with_the_names_of_the_options() -> None:
    with pytest.raises(TypeError) as raised:
        diagnose([], tiemout=5.0)  # type: ignore[call-arg]
    message = str(raised.value)
    assert "'tiemout'" in message
    for field in dataclasses.fields(Options):
        assert field.name in message


def test_options_must_be_an_options_value() -> None:
    with pytest.raises(TypeError, match="Options"):
        diagnose([], "fix.example.com:4490")  # type: ignore[arg-type]


def _offline_files(pki: Pki) -> list[tuple[str, bytes]]:
    client = pki.client
    return [("fix.itbit.pem", client.bundle.read_bytes()), ("ca.crt", client.ca_crt.read_bytes())]


def test_an_options_value_and_the_keywords_give_the_same_report(pki: Pki) -> None:
    files = _offline_files(pki)
    values = OptionChanges(
        stunnel=("itbit.conf", STUNNEL_CONF),
        timeout=3.0,
        now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        stunnel_unreadable={"missing.pem": "not found"},
        file_modes={"fix.itbit.pem": 0o100644},
        openssl_cli_version="OpenSSL 3.0.2 15 Mar 2022",
    )
    by_value = diagnose(files, Options(**values)).to_dict()
    assert by_value == diagnose(files, **values).to_dict()
    assert by_value != diagnose(files).to_dict(), "the options change the report (else this test proves nothing)"


def test_keywords_replace_the_fields_of_an_options_value(pki: Pki) -> None:
    files = _offline_files(pki)
    today, later = dt.datetime.now(dt.UTC), dt.datetime.now(dt.UTC) + dt.timedelta(days=3000)
    replaced = diagnose(files, Options(now=today, stunnel=("itbit.conf", STUNNEL_CONF)), now=later).to_dict()
    assert replaced == diagnose(files, Options(now=later, stunnel=("itbit.conf", STUNNEL_CONF))).to_dict()
    assert replaced != diagnose(files, Options(now=today, stunnel=("itbit.conf", STUNNEL_CONF))).to_dict()


def test_the_type_checker_rejects_a_keyword_that_is_not_an_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = pytest.importorskip("mypy.api")
    monkeypatch.chdir(ROOT)  # mypy finds `bot` in the current folder: this checkout's, not an installed one
    snippet = tmp_path / "calls.py"
    snippet.write_text(
        textwrap.dedent(
            """\
            from bot.engine import Options, diagnose
            diagnose([], endpoint="fix.example.com:4490", timeout=2.0)
            diagnose([], Options(timeout=2.0), endpoint=None)
            diagnose([], tiemout=2.0)
            diagnose([], timeout="2")
            """
        )
    )
    out, _err, status = api.run(
        ["--strict", "--python-version", "3.11", "--cache-dir", str(tmp_path / "cache"), str(snippet)]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1
    assert [line.split(":")[1] for line in errors] == ["4", "5"], out
    assert 'Unexpected keyword argument "tiemout"' in errors[0]


def test_options_by_keyword_says_where_it_goes() -> None:
    with pytest.raises(TypeError, match=r"second argument: diagnose\(files, Options\(\.\.\.\)\)"):
        diagnose([], options=Options(timeout=1.0))  # type: ignore[call-arg]

"""Every input gives a Report of eight valid steps, explains what it could not read, never
crashes a step and never shows a line of any private key (JSON, text, Markdown, Block Kit).

Inputs: arbitrary bytes; the real onboarding files (made with openssl) mutated in every
way a paste, an editor or a tool damages them; random combinations of files and names;
random stunnel configurations. No network: no endpoint is ever given.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.engine import Report
from tests.properties.fuzzlib import (
    MUTATOR_NAMES,
    MUTATORS,
    NAMES,
    Corpus,
    Pick,
    examples,
    mutate,
    run_engine,
    stunnel_text,
    truncate,
)

names = st.one_of(st.sampled_from(NAMES), st.text(max_size=40))


def picker(data: st.DataObject) -> Pick:
    return lambda lo, hi: data.draw(st.integers(lo, hi))


@settings(max_examples=examples(150))
@given(name=names, blob=st.binary(max_size=4096))
def test_arbitrary_bytes(corpus: Corpus, name: str, blob: bytes) -> None:
    run_engine([(name, blob)], None, corpus.secret_lines)


@settings(max_examples=examples(60))
@given(name=names, text=st.text(max_size=2000))
def test_arbitrary_text(corpus: Corpus, name: str, text: str) -> None:
    run_engine([(name, text.encode("utf-8", "surrogatepass"))], None, corpus.secret_lines)


@pytest.mark.parametrize("mutator", MUTATOR_NAMES)
@settings(max_examples=examples(40))
@given(data=st.data())
def test_each_mutation_of_real_files(corpus: Corpus, mutator: str, data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(corpus.names), label="source")
    name = data.draw(st.sampled_from((source, *NAMES)), label="name")
    mutated = MUTATORS[mutator](corpus.files[source], picker(data))
    run_engine([(name, mutated)], None, corpus.secret_lines)


@settings(max_examples=examples(150))
@given(data=st.data())
def test_combined_mutations_in_an_onboarding(corpus: Corpus, data: st.DataObject) -> None:
    """Several files, each intact or mutated, under guide names or others: any roles can result."""
    pick = picker(data)
    files = []
    for _ in range(data.draw(st.integers(1, 6), label="files")):
        source = data.draw(st.sampled_from(corpus.names), label="source")
        content = corpus.files[source]
        if data.draw(st.booleans(), label="mutate"):
            content = mutate(content, pick)
        files.append((data.draw(st.sampled_from((source, *NAMES)), label="name"), content))
    run_engine(files, None, corpus.secret_lines)


@settings(max_examples=examples(60))
@given(data=st.data())
def test_merged_and_reordered_files(corpus: Corpus, data: st.DataObject) -> None:
    """Users merge files (`cat a b > c`) in any order, sometimes twice."""
    parts = data.draw(st.lists(st.sampled_from(corpus.names), min_size=1, max_size=5), label="parts")
    joiner = data.draw(st.sampled_from((b"", b"\n", b"\r\n", b"\n\n", b"garbage\n")), label="joiner")
    merged = joiner.join(corpus.files[p] for p in parts)
    run_engine([(data.draw(names, label="name"), merged)], None, corpus.secret_lines)


@settings(max_examples=examples(100))
@given(data=st.data())
def test_random_stunnel_configuration(corpus: Corpus, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(("generated", "bytes", "text")), label="kind")
    if kind == "generated":
        conf = stunnel_text(picker(data))
    elif kind == "bytes":
        conf = data.draw(st.binary(max_size=2048), label="conf")
    else:
        conf = data.draw(st.text(max_size=1000), label="conf").encode("utf-8", "surrogatepass")
    files = [(n, corpus.files[n]) for n in data.draw(st.lists(st.sampled_from(corpus.names), max_size=3), label="files")]
    stunnel_name = data.draw(st.sampled_from(("stunnel.conf", "fix.conf", "", "x" * 300)), label="stunnel name")
    run_engine(files, (stunnel_name, conf), corpus.secret_lines)


@pytest.mark.parametrize("source", ["fix.itbit.pem", "key-first.pem", "chain.pem", "host.key", "ec.sec1.key"])
def test_truncation_at_every_position_class(corpus: Corpus, source: str) -> None:
    """Cut inside each BEGIN and END line byte by byte, at each block boundary, and through the bodies."""
    data = corpus.files[source]
    positions: set[int] = set(range(0, len(data), 23))
    start = 0
    while (begin := data.find(b"-----", start)) != -1:
        end = data.index(b"\n", begin) + 1 if b"\n" in data[begin:] else len(data)
        positions.update(range(begin, end + 1))  # every byte of a BEGIN or END line, and just after it
        start = end
    for cut in sorted(positions):
        run_engine([(source, data[:cut])], None, corpus.secret_lines)


@pytest.mark.parametrize("position_class", range(5))
def test_truncate_mutator_covers_its_classes(corpus: Corpus, position_class: int) -> None:
    """The mutator the fuzzers use hits each class (0 BEGIN, 1 body, 2 END, 3 between, 4 anywhere)."""
    calls = iter([position_class])

    def pick(lo: int, hi: int) -> int:
        value = next(calls, None)
        return value if value is not None else (lo + hi) // 2

    cut = truncate(corpus.files["chain.pem"], pick)
    assert len(cut) < len(corpus.files["chain.pem"])
    run_engine([("chain.pem", cut)], None, corpus.secret_lines)


def test_private_keys_alone_and_in_bundles_never_leak(corpus: Corpus) -> None:
    """Every key of the corpus, alone, after a certificate, and before one."""
    for name, key in corpus.key_files.items():
        run_engine([(name, key)], None, corpus.secret_lines)
        run_engine([("fix.itbit.pem", corpus.files["host.crt"] + key)], None, corpus.secret_lines)
        run_engine([("fix.itbit.pem", key + corpus.files["host.crt"])], None, corpus.secret_lines)


def test_private_key_given_as_stunnel_configuration_never_leaks(corpus: Corpus) -> None:
    for name, key in corpus.key_files.items():
        run_engine([("ca.crt", corpus.files["ca.crt"])], (name, key), corpus.secret_lines)
        conf = b"client = yes\ncert = fix.itbit.pem\n" + key
        run_engine([("ca.crt", corpus.files["ca.crt"])], ("stunnel.conf", conf), corpus.secret_lines)


def test_report_renderers_listed(corpus: Corpus) -> None:
    """The leak check covers the Block Kit renderer when the Slack front end has one."""
    from tests.properties.fuzzlib import slack_renderer

    renderer: Callable[[Report], object] | None = slack_renderer()
    try:
        import bot.slack.render  # noqa: F401
    except ImportError:
        assert renderer is None
    else:
        assert renderer is not None

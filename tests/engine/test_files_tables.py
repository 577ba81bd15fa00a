"""Step 5's tables: a file that was not read as PEM, and a BEGIN line OpenSSL will not see.

Each row is reached by a real input here (read as the front ends read it), and the test
fails if a row is removed, changed or added without a case.
"""

from __future__ import annotations

import shlex

import pytest

from bot.engine.inputs import MAX_FILE_BYTES, FileFormat, read_file
from bot.engine.pem import PemProblem
from bot.engine.report import Status
from bot.engine.roles import Role
from bot.engine.steps.files import form

# One input per row of form.UNREAD: (file name, bytes, the format read, the finding's code).
UNREAD_CASES = [
    ("big file.pem", b"A" * (MAX_FILE_BYTES + 1), FileFormat.TOO_LARGE, "files.too_large"),
    ("empty.pem", b"  \n", FileFormat.EMPTY, "files.empty"),
    ("photo.jpg", bytes(range(256)) * 4, FileFormat.BINARY, "files.binary"),
]

BODY = "MIIB\n"
# One BEGIN line per problem of form.MARKER_PROBLEMS (and one for the other problems).
MARKER_CASES = [
    (f"  -----BEGIN CERTIFICATE-----\n{BODY}  -----END CERTIFICATE-----\n", PemProblem.INDENTED, "is indented"),
    (
        f"\u2013\u2013\u2013\u2013\u2013BEGIN CERTIFICATE\u2013\u2013\u2013\u2013\u2013\n{BODY}",
        PemProblem.LOOKALIKE_DASHES,
        "uses look-alike dashes",
    ),
    (f"----BEGIN CERTIFICATE-----\n{BODY}", PemProblem.BAD_MARKER, "is not a well-formed"),
]


@pytest.mark.parametrize(("name", "data", "fmt", "code"), UNREAD_CASES, ids=[c[3] for c in UNREAD_CASES])
def test_each_unread_format_gets_its_finding(name: str, data: bytes, fmt: FileFormat, code: str) -> None:
    f = read_file(name, data)
    assert f.format is fmt
    [finding] = form.file_findings(f, Role.UNKNOWN)
    assert (finding.code, finding.status) == (code, Status.FAIL)
    assert finding.message.startswith(f"{name} is ")
    assert finding.evidence["file"] == name
    assert all("{" not in c for c in finding.commands) and shlex.quote(name) in finding.commands[-1]


def test_every_unread_row_has_a_case() -> None:
    assert set(form.UNREAD) == {fmt for _, _, fmt, _ in UNREAD_CASES}


def test_the_size_limit_is_said_in_full() -> None:
    [finding] = form.file_findings(read_file("big.pem", b"A" * (MAX_FILE_BYTES + 1)), Role.UNKNOWN)
    assert f"larger than the {MAX_FILE_BYTES:,}-byte limit" in finding.message


@pytest.mark.parametrize(("text", "problem", "words"), MARKER_CASES, ids=[c[1].value for c in MARKER_CASES])
def test_each_marker_problem_is_worded(text: str, problem: PemProblem, words: str) -> None:
    f = read_file("host.crt", text.encode())
    markers = [x for x in form.file_findings(f, Role.UNKNOWN) if x.code == "files.pem_marker"]
    assert markers, "the reader saw no near-miss marker"
    assert markers[0].evidence["problem"] == problem.value
    assert f"line 1: the CERTIFICATE marker {words}" in markers[0].message


def test_every_marker_row_has_a_case() -> None:
    assert set(form.MARKER_PROBLEMS) | {PemProblem.BAD_MARKER} == {p for _, p, _ in MARKER_CASES}

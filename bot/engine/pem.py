"""Find PEM blocks in text the way OpenSSL's PEM reader does, and notice near misses.

OpenSSL reads a file line by line (lines end at LF; a CR before it is dropped), and a
block starts only at a line that begins exactly with ``-----BEGIN <LABEL>-----``.
`cryptography` is more lenient (it accepts an indented BEGIN line, or CR-only line
ends), so a file it reads may still be refused by OpenSSL, stunnel and the FIX client.
This module follows OpenSSL and reports each near miss as a `PemProblem` so that step 5
can say exactly what is wrong.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from enum import StrEnum

# OpenSSL stops looking after this many blocks; we do the same to bound the work.
MAX_BLOCKS = 500
# Near misses reported per file; the rest are only counted (`PemScan.more_near_misses`).
MAX_NEAR_MISSES = 20

_BEGIN = re.compile(r"^-----BEGIN ([A-Z0-9 ]+)-----[ \t]*$")
_END = re.compile(r"^-----END ([A-Z0-9 ]+)-----[ \t]*$")
# A BEGIN/END line that OpenSSL would not recognise: leading blanks, wrong dash count,
# Unicode look-alike dashes (en dash, em dash, minus sign, ...), lower-case labels.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_LOOSE_MARKER = re.compile(
    rf"^(?P<indent>\s*)(?P<lead>[{_DASHES}]{{2,}})\s*(?P<kind>BEGIN|END)\s+(?P<label>[A-Za-z0-9 ]+?)\s*(?P<trail>[{_DASHES}]{{2,}})\s*$",
    re.IGNORECASE,
)
_BASE64_LINE = re.compile(r"^[A-Za-z0-9+/=]*$")
_HEADER_LINE = re.compile(r"^[A-Za-z-]+:\s")
_NO_WHITESPACE = str.maketrans("", "", " \t\r\f\v")


class PemProblem(StrEnum):
    """Why a block, or something that looks like one, is not what OpenSSL reads."""

    INDENTED = "indented"  # BEGIN/END line does not start in the first column
    LOOKALIKE_DASHES = "lookalike-dashes"  # Unicode dashes pasted from a word processor
    BAD_MARKER = "bad-marker"  # wrong number of dashes, lower case, extra text
    CR_LINE_ENDS = "cr-line-ends"  # old Mac line ends: OpenSSL sees one long line
    NO_END = "no-end"  # BEGIN without a matching END (truncated paste)
    END_MISMATCH = "end-mismatch"  # END label differs from BEGIN label
    ELIDED = "elided"  # '...' inside the body: copied from documentation
    BAD_BASE64 = "bad-base64"  # characters that are not base64, or wrong padding
    EMPTY_BODY = "empty-body"


@dataclass(frozen=True)
class PemBlock:
    """One block OpenSSL would find. `body` is the decoded DER, or None if undecodable."""

    label: str
    first_line: int  # 1-based line number of the BEGIN line
    text: str  # the block as OpenSSL reads it, BEGIN to END, LF line ends
    body: bytes | None
    headers: tuple[tuple[str, str], ...] = ()
    problems: tuple[PemProblem, ...] = ()


@dataclass(frozen=True)
class NearMiss:
    """A line that looks like a PEM marker but that OpenSSL will not accept."""

    line: int
    problem: PemProblem
    label: str


@dataclass
class PemScan:
    """Every block in a text, the near misses, and text-level facts."""

    blocks: list[PemBlock] = field(default_factory=list)
    near_misses: list[NearMiss] = field(default_factory=list)
    crlf: bool = False
    cr_only: bool = False
    text_outside_blocks: bool = False
    truncated_at_limit: bool = False
    more_near_misses: int = 0  # near misses past MAX_NEAR_MISSES, not listed


def scan(text: str) -> PemScan:
    """Split `text` into PEM blocks following OpenSSL's line rules."""
    result = PemScan()
    result.crlf = "\r\n" in text
    if "\r" in text and "\n" not in text:
        # OpenSSL splits lines at LF only: a CR-only file is one line with no BEGIN at
        # its start, so OpenSSL finds nothing. Say so precisely.
        result.cr_only = True
        for piece in text.split("\r"):
            m = _LOOSE_MARKER.match(piece)
            if m and m.group("kind").upper() == "BEGIN":
                result.near_misses.append(NearMiss(1, PemProblem.CR_LINE_ENDS, m.group("label").upper()))
                break
        return result
    lines = text.split("\n")
    if "\r" in text:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    # Only lines that start with five dashes can open or close a block: find them once,
    # so that body lines are never looked at one by one in Python.
    markers = [n for n, line in enumerate(lines) if line.startswith("-----")]
    i = 0
    while i < len(lines):
        after = bisect.bisect_left(markers, i)
        next_marker = markers[after] if after < len(markers) else len(lines)
        begin = None
        if next_marker < len(lines):
            begin = _BEGIN.match(lines[next_marker])
        _outside(lines, i, next_marker if begin else next_marker + 1, result)
        if begin is None:
            i = next_marker + 1
            continue
        if len(result.blocks) >= MAX_BLOCKS:
            result.truncated_at_limit = True
            break
        block, i = _read_block(lines, next_marker, begin.group(1), markers, after)
        result.blocks.append(block)
    return result


def _outside(lines: list[str], start: int, stop: int, result: PemScan) -> None:
    """Lines between blocks: near-miss markers are named; any other text is noted."""
    for number in range(start, min(stop, len(lines))):
        line = lines[number]
        if not line.strip():
            continue
        miss = _near_miss(line, number + 1) if "BEGIN" in line.upper() else None
        if miss is not None and len(result.near_misses) >= MAX_NEAR_MISSES:
            result.more_near_misses += 1
        elif miss is not None:
            result.near_misses.append(miss)
        else:
            result.text_outside_blocks = True


def _near_miss(line: str, number: int) -> NearMiss | None:
    """A BEGIN line OpenSSL would not see. (Stray END lines belong to such a block.)"""
    m = _LOOSE_MARKER.match(line)
    if not m or m.group("kind").upper() != "BEGIN":
        return None
    label = m.group("label").upper()
    if m.group("indent"):
        problem = PemProblem.INDENTED
    elif any(ch != "-" for ch in m.group("lead") + m.group("trail")):
        problem = PemProblem.LOOKALIKE_DASHES
    else:
        problem = PemProblem.BAD_MARKER
    return NearMiss(number, problem, label)


def _read_block(
    lines: list[str], start: int, label: str, markers: list[int], at: int
) -> tuple[PemBlock, int]:
    """Read from the BEGIN line at `start` (= markers[at]) to its END; return the block and the next index."""
    problems: list[PemProblem] = []
    # The block ends at the next line starting with five dashes: its END, or a new BEGIN
    # when this block was cut short.
    stop = markers[at + 1] if at + 1 < len(markers) else len(lines)
    inside = lines[start + 1 : stop]
    end = _END.match(lines[stop]) if stop < len(lines) else None
    if end is None:
        problems.append(PemProblem.NO_END)
        after = stop
    else:
        if end.group(1) != label:
            problems.append(PemProblem.END_MISMATCH)
        after = stop + 1
    # RFC 1421 headers (Proc-Type, DEK-Info) come first, in legacy encrypted keys.
    headers: list[tuple[str, str]] = []
    while inside and ":" in inside[0] and _HEADER_LINE.match(inside[0]):
        key, _, value = inside.pop(0).partition(":")
        headers.append((key.strip(), value.strip()))
    body = _decode_body(inside, problems)
    text = "\n".join(lines[start:after]) + "\n"
    return PemBlock(label, start + 1, text, body, tuple(headers), tuple(problems)), after


def _decode_body(body_lines: list[str], problems: list[PemProblem]) -> bytes | None:
    import base64
    import binascii

    joined = "".join(body_lines).translate(_NO_WHITESPACE)
    if "..." in joined or "\u2026" in joined:
        problems.append(PemProblem.ELIDED)
        return None
    if not joined:
        problems.append(PemProblem.EMPTY_BODY)
        return None
    if not _BASE64_LINE.match(joined):
        problems.append(PemProblem.BAD_BASE64)
        return None
    try:
        return base64.b64decode(joined, validate=True)
    except (binascii.Error, ValueError):
        problems.append(PemProblem.BAD_BASE64)
        return None

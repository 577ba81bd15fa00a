"""A few lines of DER surgery for making odd objects at test time (tests only).

Certificates, CSRs and keys are taken apart into their TLV elements, one element is
changed, and the whole is put back together (re-signed where a signature covers it).
"""

from __future__ import annotations


def _header(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the TLV at `pos`."""
    tag = data[pos]
    first = data[pos + 1]
    if first < 0x80:
        return tag, pos + 2, pos + 2 + first
    n = first & 0x7F
    length = int.from_bytes(data[pos + 2 : pos + 2 + n], "big")
    start = pos + 2 + n
    return tag, start, start + length


def split(data: bytes) -> tuple[int, list[bytes]]:
    """The tag of the element `data` and its children, each a whole TLV."""
    tag, start, end = _header(data, 0)
    children = []
    pos = start
    while pos < end:
        _, _, child_end = _header(data, pos)
        children.append(data[pos:child_end])
        pos = child_end
    return tag, children


def content(data: bytes) -> bytes:
    _, start, end = _header(data, 0)
    return data[start:end]


def encode(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def join(tag: int, children: list[bytes]) -> bytes:
    return encode(tag, b"".join(children))


def integer(value: int) -> bytes:
    raw = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    return encode(0x02, raw)

"""How deep and how wide a raw message's MIME structure is, measured without parsing it.

The ``email`` package parses every part of a message before anyone can look at
it: 50,000 small parts cost about a minute of CPU, 2,000 nested multiparts
exhaust the recursion limit.  This scanner reads the raw bytes line by line,
following the boundaries (RFC 2046 section 5.1.1) and the part headers only,
and stops as soon as a limit is passed, so a hostile structure costs a single
pass over its bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONTENT_TYPE_RE = re.compile(rb"^content-type[ \t]*:[ \t]*([^;\s]*)(.*)$", re.IGNORECASE | re.DOTALL)
_BOUNDARY_RE = re.compile(rb"""boundary[ \t]*=[ \t]*(?:"([^"]*)"|([^\s;"]+))""", re.IGNORECASE)


@dataclass(frozen=True)
class Shape:
    """Nesting depth (the top-level message is 1) and number of parts seen before stopping."""

    depth: int
    parts: int


def _content_type(header_lines: list[bytes]) -> tuple[bytes, bytes | None]:
    """(type/subtype lower-cased, multipart boundary) of one header block."""
    unfolded: list[bytes] = []
    for line in header_lines:
        if line[:1] in (b" ", b"\t") and unfolded:
            unfolded[-1] += b" " + line.strip()  # RFC 5322 section 2.2.3: unfolding
        else:
            unfolded.append(line)
    for line in unfolded:
        found = _CONTENT_TYPE_RE.match(line)
        if found:
            kind = found.group(1).strip().lower()
            boundary = _BOUNDARY_RE.search(found.group(2))
            value = (boundary.group(1) if boundary.group(1) is not None else boundary.group(2)) if boundary else None
            return kind, value.rstrip(b" \t") if value else None
    return b"", None


def measure(raw: bytes, max_depth: int, max_parts: int) -> Shape:
    """The depth and part count of ``raw``, counting until either passes its limit.

    A multipart's children and an attached message (``message/*``) each add a
    level, as in the tree the ``email`` package builds.  Bodies are skipped at
    the speed of ``bytes.find``: only lines starting with "--" are read.
    """
    # Bare CRs end lines for the email package too.
    data = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    # The open multiparts: their delimiter ("--" + boundary) and their children's level.
    stack: list[tuple[bytes, int]] = []
    depth = parts = 1
    headers: list[bytes] | None = []  # the header block being read, else None (in a body)
    level = 1  # the level of the part whose header block is being read
    pos = 0
    while pos < len(data) and depth <= max_depth and parts <= max_parts:
        if headers is None:
            if not stack:
                break  # a leaf body, or the epilogue of the outermost multipart: no more parts
            found = data.find(b"\n--", pos - 1)
            if found < 0:
                break
            pos = found + 1
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        line, pos = data[pos:end], end + 1
        if headers is not None:
            if line.strip():
                headers.append(line)
                continue
            kind, boundary = _content_type(headers)
            headers = None
            if kind.startswith(b"multipart/") and boundary:
                stack.append((b"--" + boundary, level + 1))
            elif kind.startswith(b"message/"):
                level += 1  # the attached message, a part of its own, whose header block follows
                parts += 1
                depth = max(depth, level)
                headers = []
            continue
        stripped = line.rstrip(b" \t")
        for i in range(len(stack) - 1, -1, -1):
            delimiter, child_level = stack[i]
            if stripped == delimiter + b"--":  # the close-delimiter: this multipart ends
                del stack[i:]
                break
            if stripped == delimiter:  # a new part of the multipart at stack[i]
                del stack[i + 1:]
                parts += 1
                level = child_level
                depth = max(depth, level)
                headers = []
                break
    return Shape(depth=depth, parts=parts)

"""How deep and how wide a raw message's MIME structure is, measured without parsing it.

The ``email`` package parses every part of a message before anyone can look at
it: 50,000 small parts cost about a minute of CPU, 2,000 nested multiparts
exhaust the recursion limit.  This scanner follows the boundaries (RFC 2046
section 5.1.1) and reads the part headers only, with the rules of the
``email`` package's own parser (``email.feedparser``) so that it sees the
structure that parser would build, and stops as soon as a limit is passed.
Everything else is skipped by regular expressions, in C: a hostile structure
costs a pass over its bytes, never a Python loop per line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .rawheader import HEADER_BLOCK_RE as _HEADER_BLOCK_RE

_CONTENT_TYPE_RE = re.compile(rb"(?:^|\n)content-type[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)", re.IGNORECASE)
_BOUNDARY_RE = re.compile(rb"""boundary[ \t]*=[ \t]*(?:"([^"]*)"|([^\s;"]+))""", re.IGNORECASE)


@dataclass(frozen=True)
class Shape:
    """Nesting depth (the top-level message is 1) and number of parts seen before stopping."""

    depth: int
    parts: int


def _content_type(block: bytes) -> tuple[bytes, bytes | None]:
    """(type/subtype lower-cased, multipart boundary) of one header block; the first field wins."""
    found = _CONTENT_TYPE_RE.search(block)
    if not found:
        return b"", None
    value = b" ".join(found.group(1).split())  # RFC 5322 section 2.2.3: unfolding
    kind, _, params = value.partition(b";")
    boundary = _BOUNDARY_RE.search(params)
    if not boundary:
        return kind.strip().lower(), None
    if boundary.group(1) is not None:  # quoted: may even be empty, as email.message accepts
        return kind.strip().lower(), boundary.group(1).rstrip(b" \t")
    return kind.strip().lower(), boundary.group(2)


def _delimiters(stack: list[tuple[bytes, int]]) -> re.Pattern[bytes]:
    """A delimiter or close-delimiter line of any open multipart (email.feedparser's boundaryre)."""
    names = sorted({re.escape(b) for b, _ in stack}, key=len, reverse=True)
    return re.compile(rb"\n--(" + b"|".join(names) + rb")(--)?[ \t]*(?=\n|\Z)")


def measure(raw: bytes, max_depth: int, max_parts: int) -> Shape:
    """The depth and part count of ``raw``, counting until either passes its limit.

    A multipart's children and an attached message (``message/*``) each add a
    level, as in the tree the ``email`` package builds.
    """
    # Bare CRs end lines for the email package too; the leading newline lets
    # every line, the first included, be found as "\n" + line.
    data = b"\n" + raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    stack: list[tuple[bytes, int]] = []  # open multiparts: boundary, their children's level
    delimiters: re.Pattern[bytes] | None = None
    depth = parts = 1
    level, pos = 1, 1  # the level of the header block that starts at pos
    while depth <= max_depth and parts <= max_parts:
        # A header block, then the blank line that ends it (a non-header line
        # ends it too and is the first line of the body, as in email.feedparser).
        block = _HEADER_BLOCK_RE.match(data, pos)  # always matches, if only the empty string
        end = block.end() if block else pos
        kind, boundary = _content_type(data[pos:end])
        pos = end + 1 if data.startswith(b"\n", end) else end
        if kind.startswith(b"message/"):
            level += 1  # the attached message, a part of its own, whose header block follows
            parts += 1
            depth = max(depth, level)
            continue
        if kind.startswith(b"multipart/") and boundary is not None:
            stack.append((boundary, level + 1))
            delimiters = _delimiters(stack)
        if not stack or delimiters is None:
            break  # a leaf with no multipart open: nothing follows but its body (or an epilogue)
        found = delimiters.search(data, pos - 1)
        while found is not None and found.group(2):  # close-delimiters: those multiparts end
            index = max(i for i, (b, _) in enumerate(stack) if b == found.group(1))
            del stack[index:]
            if not stack:
                return Shape(depth=depth, parts=parts)
            delimiters = _delimiters(stack)
            found = delimiters.search(data, found.end())
        if found is None:
            break
        index = max(i for i, (b, _) in enumerate(stack) if b == found.group(1))
        if index + 1 < len(stack):
            del stack[index + 1:]
            delimiters = _delimiters(stack)
        parts += 1
        level = stack[index][1]
        depth = max(depth, level)
        pos = found.end() + 1
    return Shape(depth=depth, parts=parts)

"""The top header block of a raw message, measured before anything parses it.

CPython's structured header parser (``email._header_value_parser``) is
quadratic on some shapes: a ``From`` of 20,000 dots costs 25 s of CPU, one of
280 KB of encoded words 95 s, and every email's header is read, a stranger's
too.  So the header block and each of its fields are measured here, on the
bytes, by regular expressions (in C, one pass): an email whose header block
or one of whose fields passes its limit is refused before any of it is
parsed, and only the fields within the limits are parsed at all (for the
record and to find a member to tell).

The limits, by what real mail holds: RFC 5322 section 2.1.1 bounds a line to
998 characters, but a field may be folded over many lines, and long
``References`` (RFC 5322 section 3.6.4: one id per message of the thread),
``Received`` trails, DKIM and ARC signatures (1-3 KB each) and address lists
are normal.  Postfix refuses a header block over 100 KB (its
``header_size_limit``, 102400): what passes it is what we can receive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_HEADER_BYTES = 102400  # the header block (Postfix's header_size_limit)
MAX_FIELD_BYTES = 16384  # one field, folded lines and all: ~300 addresses, ~200 References ids
# The top Content-Type is parsed by email.feedparser itself, whatever we ask
# for: 16 KB of ";" cost 7 s, 300 nested comments exhaust Python's recursion
# limit (and the whole header is lost).  A real one fits a line (RFC 5322
# section 2.1.1), with few comments if any.
MAX_CONTENT_TYPE_BYTES = 1024
MAX_CONTENT_TYPE_COMMENTS = 50

# The lines email.feedparser takes as header lines (its headerRE): a field
# name and a colon, a continuation (RFC 5322 section 2.2.3), or a Unix "From ".
HEADER_BLOCK_RE = re.compile(rb"(?:(?:From |[\x21-\x39\x3b-\x7e]*:|[\t ])[^\n]*(?:\n|\Z))*")
# One field: its first line and its continuation lines.
_FIELD_RE = re.compile(rb"^(From |[\x21-\x39\x3b-\x7e]*:)[^\n]*(?:\n|\Z)(?:[\t ][^\n]*(?:\n|\Z))*", re.MULTILINE)
# A field name as RFC 5322 section 2.2 has it, short enough to name in a reason.
_NAME_RE = re.compile(r"[\x21-\x39\x3b-\x7e]{1,40}")


@dataclass(frozen=True)
class Oversize:
    """What passed a limit: one field (``field`` its name) or the whole block (``field`` empty)."""

    field: str
    size: int  # bytes (for the block: at least this many)
    limit: int


@dataclass(frozen=True)
class Head:
    """The verdict on a raw header block; ``kept`` is what may be parsed when something is over."""

    oversize: Oversize | None
    kept: bytes = b""


def measure(raw: bytes, max_header_bytes: int = MAX_HEADER_BYTES,
            max_field_bytes: int = MAX_FIELD_BYTES) -> Head:
    """Measure the header block of ``raw`` against the limits, reading at most ``max_header_bytes + 1`` bytes.

    Within the limits: ``Head(None)``, and ``raw`` may be parsed as it is.
    Over one: the first field over its limit (else the block), and ``kept``,
    a header block of the fields within the limits (the block cut at the
    last whole field that fits), which costs milliseconds to parse.
    """
    stop = max_header_bytes + 1
    block = HEADER_BLOCK_RE.match(raw, 0, stop)
    end = block.end() if block else 0
    if stop < len(raw) and raw.find(b"\n", end, stop) < 0:
        # The limit cut a line before its colon, so it was not seen as a header
        # line: the block does not end within the limit.
        end = stop
    within = min(end, max_header_bytes)
    too_long: Oversize | None = None
    kept: list[bytes] = []
    for found in _FIELD_RE.finditer(raw, 0, within):
        field = found.group(0)
        limit = max_field_bytes
        if found.group(1).lower().rstrip(b" \t:") == b"content-type":
            limit = MAX_CONTENT_TYPE_BYTES if field.count(b"(") <= MAX_CONTENT_TYPE_COMMENTS else 0
        if len(field) > limit:
            too_long = too_long or Oversize(_name(found.group(1)), len(field), limit)
        elif field.endswith(b"\n") or within == end:  # not the field the block limit cut
            kept.append(field)
    oversize = too_long or (Oversize("", end, max_header_bytes) if end > max_header_bytes else None)
    if oversize is None:
        return Head(None)
    return Head(oversize, b"".join(kept) + b"\r\n")


def _name(prefix: bytes) -> str:
    name = prefix.rstrip(b":").strip().decode("ascii", "replace")
    return name if _NAME_RE.fullmatch(name) else "(a name that is not one)"

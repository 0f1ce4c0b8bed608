"""Plain-text output for manage.py: aligned tables, local times, human ages.

No external package: an administrator reads this in a terminal or in a mail
from cron, so it is plain text that lines up in a fixed-width font.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from .logs import escape, redact


def when(value: datetime | None) -> str:
    """A timestamp in local time, to the second (``2026-11-21 10:04:31``); ``-`` for none."""
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def age(seconds: float) -> str:
    """A duration for people: ``45 s``, ``12 min``, ``3 h 12 min``, ``2 d 3 h``."""
    s = max(0, int(seconds))
    if s < 60:
        return "%d s" % s
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 3600:
        return "%d min" % minutes
    if s < 86400:
        rest = minutes % 60
        return "%d h %d min" % (hours, rest) if rest else "%d h" % hours
    rest = hours % 24
    return "%d d %d h" % (days, rest) if rest else "%d d" % days


def one_line(value: object, limit: int = 0) -> str:
    """Any value as one line of text (``-`` for none), cut to ``limit`` characters with an ellipsis.

    Control characters are shown escaped (``\\r\\n``), not folded away: an
    address with a line break in it must look like what it is.
    """
    if value is None or value == "":
        return "-"
    text = re.sub(r"\s+", " ", escape(str(value))).strip()
    if limit and len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Rows under their headers, columns two spaces apart; numbers aligned right.

    The last column is not padded (it is the long one: an error, a reason),
    so no line ends in spaces.
    """
    raw = [list(row) for row in rows]
    cells = [[one_line(v) for v in row] for row in raw]
    # A column of whole numbers (ids, attempts) is aligned right.
    numeric = [bool(raw) and all(isinstance(row[i], int) for row in raw) for i in range(len(headers))]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = []
    for row in [list(headers), *cells]:
        out = []
        for i, text in enumerate(row):
            if numeric[i]:
                out.append(text.rjust(widths[i]))
            else:
                out.append(text if i == len(row) - 1 else text.ljust(widths[i]))
        lines.append("  ".join(out).rstrip())
    return redact("\n".join(lines))


def counts(label: str, values: dict[str, int]) -> str:
    """``label: 3 pending, 0 sending, 120 sent``."""
    return "%s: %s" % (label, ", ".join("%d %s" % (n, name) for name, n in values.items()))

"""What a line of a reply is, for the trimmer: quoted, blank, text, a rule, an
"Original Message" line.  Invisible characters (zero-width spaces, BOMs) do not count.
"""

from __future__ import annotations

from forummail import quote_patterns as qp


def extend_over_rule(lines: list[str], index: int, floor: int) -> int:
    """Move a cut up over the rule or "Original Message" line (and blanks) above it."""
    k = index - 1
    while k >= floor and is_blank(lines[k]):
        k -= 1
    if k >= floor and (is_rule(lines[k]) or is_original_line(lines[k])):
        return k
    return index


def join_soft_breaks(lines: list[str]) -> list[str]:
    """Undo quoted-printable soft breaks left raw inside quoted lines.

    Some clients quote the still-encoded original, so "> ... Wednesda=" is followed by an
    unquoted "y": that fragment would otherwise look like an inline answer.
    """
    out: list[str] = []
    for line in lines:
        if out and is_quoted(out[-1]) and out[-1].endswith("=") and line.strip() and not is_quoted(line):
            out[-1] = out[-1][:-1] + line
        else:
            out.append(line)
    return out


def clean_line(line: str) -> str:
    """``line`` without invisible characters and surrounding space."""
    return qp.INVISIBLE_RE.sub("", line).strip()


def join_lines(lines: list[str]) -> str:
    """Join wrapped lines; a quoted-printable soft break ("w=" + "rote:") joins without space."""
    out = ""
    for line in lines:
        part = clean_line(line)
        if out.endswith("="):
            out = out[:-1] + part
        elif out:
            out = out + " " + part
        else:
            out = part
    return out


def is_quoted(line: str) -> bool:
    """Whether ``line`` is quoted: up to three spaces, then ">" (or the full-width "＞")."""
    return bool(qp.QUOTED_RE.match(line))


def is_blank(line: str) -> bool:
    """Whether ``line`` shows nothing the person wrote (a tracking mark alone counts as nothing)."""
    return not clean_line(line).strip(qp.TRACKING_MARKS)


def is_text(line: str) -> bool:
    """Whether ``line`` is the person's own text: neither blank nor quoted."""
    return not is_blank(line) and not is_quoted(line)


def is_rule(line: str) -> bool:
    """Whether ``line`` is a rule alone ("-----", "_____", "* * * * *")."""
    return bool(qp.SEPARATOR_LINE_RE.fullmatch(clean_line(line)))


def is_original_line(line: str) -> bool:
    """Whether ``line`` is an unquoted "-----Original Message-----" (in any language)."""
    return not is_quoted(line) and bool(qp.ORIGINAL_MESSAGE_RE.fullmatch(clean_line(line)))


def has_text(lines: list[str]) -> bool:
    """Whether any of ``lines`` shows something."""
    return any(not is_blank(x) for x in lines)


def first_text(lines: list[str], lo: int, hi: int) -> int | None:
    """Index of the first text line in [lo, hi), if any."""
    return next((k for k in range(lo, hi) if is_text(lines[k])), None)


def first_nonblank(lines: list[str], lo: int, hi: int) -> int | None:
    """Index of the first line in [lo, hi) that is not blank, if any."""
    return next((k for k in range(lo, hi) if not is_blank(lines[k])), None)

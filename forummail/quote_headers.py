"""Where a quoted original begins in a reply: the attribution ("On <date>, X wrote:",
in many languages, wrapped over up to four lines), Outlook's "From: / Sent: / To:"
header block, and the "-----Original Message-----" line.
"""

from __future__ import annotations

from dataclasses import dataclass

from forummail import quote_patterns as qp
from forummail.reply_lines import clean_line, is_blank, is_original_line, is_quoted, is_rule, join_lines

_MAX_WINDOW = 500  # longest attribution we try to match, in characters


@dataclass(frozen=True)
class Span:
    start: int  # first line of the quote header
    end: int  # line after it
    kind: str  # attribution | header | original
    weak: bool  # only trusted when quoted lines follow


def find_spans(lines: list[str], start: int, limit: int) -> list[Span]:
    """Quote headers among the unquoted lines in [start, limit), in order."""
    spans: list[Span] = []
    i = start
    while i < limit:
        if is_quoted(lines[i]) or is_blank(lines[i]):
            i += 1
            continue
        if is_original_line(lines[i]):
            spans.append(Span(i, i + 1, "original", False))
            i += 1
            continue
        end = header_block_end(lines, i, limit, ruled=_under_rule(lines, i, start))
        if end is not None:
            spans.append(Span(i, end, "header", False))
            i = end
            continue
        found = _attribution_ending_at(lines, i, spans[-1].end if spans else start)
        if found is not None and not _ends_a_sentence(lines, found[0], i):
            first, weak = found
            spans.append(Span(first, i + 1, "attribution", weak))
        i += 1
    return spans


def _ends_a_sentence(lines: list[str], first: int, last: int) -> bool:
    """Whether an attribution with neither a date nor an address ("Bob wrote:") at lines
    [first, last] ends the person's sentence ("I agree with what\nBob wrote:"): the line
    above is their text, where clients put theirs under a blank line, a rule or a quote."""
    window = join_lines(lines[first:last + 1])
    if qp.DIGIT_RE.search(window) or qp.EMAIL_RE.search(window) or first == 0:
        return False
    if qp.ATTRIBUTION_LEADS_RE.match(clean_line(lines[first])):
        return False  # "On Mon, A wrote:" opens like a client's, wherever it stands
    above = lines[first - 1]
    return not (is_quoted(above) or is_blank(above) or is_rule(above))


def _attribution_ending_at(lines: list[str], e: int, floor: int) -> tuple[int, bool] | None:
    """If an attribution ("On ..., X wrote:") ends at line ``e``, its first line and weakness."""
    last = clean_line(lines[e])
    if not last or len(last) > _MAX_WINDOW or last[-1] not in ":：-–—":
        return None
    matches: list[tuple[int, bool]] = []
    for s in range(e, max(floor, e - 3) - 1, -1):
        if s < e and (is_quoted(lines[s]) or is_blank(lines[s])):
            break
        window = join_lines(lines[s:e + 1])
        if len(window) > _MAX_WINDOW:
            break
        weak = _attribution_strength(window)
        if weak is not None:
            matches.append((s, weak))
    if not matches:
        return None
    # The attribution starts at a line that looks like a start ("On ...", "Am ...", a
    # date), or at the line with the address when the client wrapped after it ("Ann
    # <ann@example.com>, 3 Haz 2024, 10:00 tarihinde\nşunu yazdı:"); without either, the
    # shortest window wins, so no text above is eaten.
    for s, weak in matches:
        if qp.ATTRIBUTION_LEADS_RE.match(clean_line(lines[s])):
            return s, weak
    for s, weak in matches:
        if s < e and qp.EMAIL_RE.search(lines[s]) and not weak:
            return s, weak
    return matches[0]


def _attribution_strength(window: str) -> bool | None:
    """None if ``window`` is no attribution; else whether it is weak (needs a quote after)."""
    has_date_or_address = bool(qp.DIGIT_RE.search(window) or qp.EMAIL_RE.search(window))
    if (
        qp.ATTRIBUTION_RE.fullmatch(window)
        or qp.CJK_ATTRIBUTION_RE.fullmatch(window)
        or qp.QUOTING_RE.fullmatch(window)
        or qp.DASHED_ATTRIBUTION_RE.fullmatch(window)
    ):
        return not has_date_or_address
    if len(window) <= 250 and qp.EMAIL_RE.search(window) and qp.DATE_OR_TIME_RE.search(window):
        return True
    return None


def _under_rule(lines: list[str], i: int, floor: int) -> bool:
    """Whether the nearest line above ``i`` that shows something is a rule or "-----Original Message-----"."""
    k = i - 1
    while k >= floor and is_blank(lines[k]):
        k -= 1
    return k >= floor and (is_rule(lines[k]) or is_original_line(lines[k]))


def header_block_end(lines: list[str], i: int, limit: int, *, ruled: bool = False) -> int | None:
    """If an Outlook-style header block starts at line ``i``, the line after it.

    A block under a rule or "-----Original Message-----" (``ruled``) is where Outlook puts
    one; elsewhere it must carry what a client writes there (an address, a date with
    digits, or all of From, Sent, To and Subject), so that "From: the team\nSent:
    yesterday" written in prose is not a cut."""
    if i >= limit or is_quoted(lines[i]) or not qp.HEADER_LINE_RE.fullmatch(clean_line(lines[i])):
        return None
    roles: set[str] = set()
    evidence = ruled
    j = i
    last = i
    while j < limit:
        if is_quoted(lines[j]) or is_blank(lines[j]):
            break
        match = qp.HEADER_LINE_RE.fullmatch(clean_line(lines[j]))
        if match:
            role = qp.HEADER_LABELS.get(match.group("label").lower(), "other")
            roles.add(role)
            value = match.group("value") or ""
            evidence = evidence or bool(qp.EMAIL_RE.search(value) or (role == "sent" and qp.DIGIT_RE.search(value)))
            last = j
            j += 1
            continue
        # A wrapped value ("To: a <\nb@c>"): continuation lines between two header lines.
        ahead = next(
            (k for k in range(j + 1, min(j + 3, limit)) if qp.HEADER_LINE_RE.fullmatch(clean_line(lines[k]))), None
        )
        if ahead is None:
            break
        j = ahead
    # Four labels (From, Sent, To, Subject) are a whole block even without digits.
    evidence = evidence or len(roles) >= 4
    if evidence and "from" in roles and (len(roles) >= 3 or "sent" in roles):
        return last + 1
    return None

"""Cut an email reply down to the new text the person wrote.

The input is the plain text of a reply (from the text/plain part, or HTML converted by
``html2text``).  What goes, in this order:

1. our own separator line (``-- Write your reply above this line --``) and everything
   after it, found even when the client quoted it ("> -- Write ...") or wrapped it;
2. a banner the sender's mail server put on top ("CAUTION: This email originated from
   outside ...");
3. the quoted original: from the first quote header on ("On <date>, X wrote:" in many
   languages, Outlook's "From: / Sent: / To: / Subject:" block, "-----Original
   Message-----"), or a trailing block of ">" lines;
4. the signature: the "-- " delimiter, "Sent from my iPhone" and kin, mailing-list
   footers, legal disclaimers, a rule followed by a block of contact details.

Decisions worth knowing:

* Inline answers (the person's text interleaved between ">" quoted lines) keep the quoted
  lines they answer, because cutting them would lose the meaning; only the attribution
  line ("On ... wrote:", which carries a private address) and the quoted lines after the
  last answer go.  A single quoted block followed by the answer (bottom posting) is not an
  inline answer: the quote goes and the answer stays.
* Forwarded messages ("---------- Forwarded message ---------", "Begin forwarded
  message:") are never cut: the forwarded content is what the person sends.
* A line of "---" or "___" alone is not a cut; it only extends a cut that follows it.
* Valedictions and names ("Thanks,\\nJohn") are the person's words and stay.
* When the cuts would leave nothing, the whole text is kept (minus our separator and
  what follows it), reason ``guard``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from forummail import quote_patterns as qp

log = logging.getLogger(__name__)

_MAX_WINDOW = 500  # longest attribution we try to match, in characters
_MAX_SIGNATURE_LINES = 15  # a "--" (without the space) followed by more than this is not a signature
_WORD_RE = re.compile(r"\w+")
_UNQUOTE_RE = re.compile(r"^[\s>＞]+")


@dataclass(frozen=True)
class TrimResult:
    """The new text of a reply and a short word saying where it was cut.

    ``reason`` is one of: ``separator`` (our separator line), ``quote-header`` (an
    attribution or header block), ``quote`` (a block of ">" lines), ``signature``,
    ``inline`` (inline answers kept with their quotes), ``guard`` (cutting would leave
    nothing, so nothing was cut), ``empty`` (nothing but our separator and below), ``none``.
    """

    text: str
    reason: str


@dataclass(frozen=True)
class _Span:
    start: int  # first line of the quote header
    end: int  # line after it
    kind: str  # attribution | header | original
    weak: bool  # only trusted when quoted lines follow


def trim_reply(text: str, separator: str | None = None, *, forward: bool = False) -> TrimResult:
    """Return the new text of the reply ``text`` and where it was cut.

    ``separator`` is the line our notifications put on top of the message; it and
    everything after it goes.  ``forward`` (the subject says "Fwd:") disables the cutting
    of quoted originals, since a forwarded message is the content.
    """
    lines = _join_soft_breaks(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    reason = "none"
    if separator and separator.strip():
        index = _find_separator(lines, separator)
        if index is not None:
            above = lines[:index]
            if _has_text(above):
                lines, reason = above, "separator"
            else:
                # The person wrote below the quoted notification (bottom posting): what
                # follows the quoted notification is the answer, if anything.
                below = lines[index + 1:]
                result = _trim_core(below, forward)
                if result is None:
                    return TrimResult("", "empty")
                return TrimResult(_finish(result[0]), "separator")
    base = lines
    lines = _drop_banner(lines)
    result = _trim_core(lines, forward)
    if result is None:
        if _only_attribution(lines):
            # Nothing but the client's "On ... wrote:" line and the quote: the
            # person wrote nothing (an empty reply is refused, not posted).
            return TrimResult("", "empty")
        return TrimResult(_finish(base), "guard")
    kept, core_reason = result
    if reason == "none":
        reason = core_reason
    return TrimResult(_finish(kept), reason)


def _only_attribution(lines: list[str]) -> bool:
    """Only quoted lines and at most a short quote header ("On ... wrote:") above them."""
    text = [line.strip() for line in lines if line.strip() and not _is_quoted(line)]
    return len(text) <= 3 and (not text or text[-1].endswith(":"))


# --- separator -------------------------------------------------------------------------


def _find_separator(lines: list[str], separator: str) -> int | None:
    """Index of the first line where our separator starts, quoted or wrapped or not."""
    words = _WORD_RE.findall(separator.lower())
    if not words:
        target = " ".join(separator.split())
        for i, line in enumerate(lines):
            if " ".join(_UNQUOTE_RE.sub("", line).split()) == target:
                return i
        return None
    for i, line in enumerate(lines):
        first = _WORD_RE.findall(_UNQUOTE_RE.sub("", line).lower())
        if not first or not (set(first) & set(words)):
            continue
        combined = list(first)
        for extra in lines[i + 1:i + 4]:
            if len(combined) >= len(first) + len(words):
                break
            combined.extend(_WORD_RE.findall(_UNQUOTE_RE.sub("", extra).lower()))
        for start in range(len(first)):
            if combined[start:start + len(words)] == words:
                return i
    return None


# --- the core --------------------------------------------------------------------------


def _trim_core(lines: list[str], forward: bool) -> tuple[list[str], str] | None:
    """The kept lines and the reason, or None when nothing would be left."""
    n = len(lines)
    limit = 0 if forward else _find_forward(lines)
    drop: set[int] = set()
    reasons: list[str] = []

    start = 0
    first = _first_nonblank(lines, 0, limit)
    if first is not None:
        # A header block on the very first line is this message's own header pasted in,
        # or a forward without comment: drop the header, keep the text under it.
        head = first
        if _is_original_line(lines[head]):
            nxt = _first_text(lines, head + 1, limit)
            head = nxt if nxt is not None else head
        end = _header_block_end(lines, head, limit)
        if end is not None:
            drop.update(range(first, end))
            start = end

    hi = limit
    cut = False
    spans = _find_spans(lines, start, limit)
    for idx, span in enumerate(spans):
        followed_by_quote = _next_is_quoted(lines, span.end, limit)
        if span.weak and not followed_by_quote:
            continue
        if span.kind == "attribution" and idx == len(spans) - 1 and _answers_follow(lines, span.end, limit):
            drop.update(range(span.start, span.end))
            continue
        hi = _extend_over_rule(lines, span.start, start)
        cut = True
        reasons.append("quote-header")
        break

    for _ in range(3):
        before = hi
        sig = _signature_start(lines, start, hi)
        if sig is not None:
            hi = sig
            reasons.append("signature")
        hi = _drop_trailing_quote(lines, start, hi, reasons)
        while hi > start and (_is_blank(lines[hi - 1]) or _is_rule(lines[hi - 1]) or hi - 1 in drop):
            hi -= 1
        if hi == before:
            break

    # Quoted lines left: a single leading block is a bottom-posted quote; anything else
    # is inline answering and stays.
    quoted = [k for k in range(start, hi) if k not in drop and _is_quoted(lines[k])]
    if quoted:
        first_q = quoted[0]
        text_before = any(_is_text(lines[k]) for k in range(start, first_q) if k not in drop)
        blocks = 0
        inside = False
        last_q = first_q
        for k in range(first_q, hi):
            if k in drop or _is_blank(lines[k]):
                continue
            if _is_quoted(lines[k]):
                if not inside:
                    blocks += 1
                inside = True
                last_q = k
            else:
                inside = False
        if not text_before and blocks == 1:
            drop.update(range(start, last_q + 1))
            reasons.append("quote")
        elif not reasons or reasons[0] == "quote":
            reasons.insert(0, "inline")

    kept = [lines[k] for k in range(0, hi) if k not in drop]
    if not cut and limit < n:
        gap = lines[hi:limit]
        kept.extend(gap if not _has_text(gap) else [""])
        kept.extend(lines[limit:])
    if not _has_text(kept):
        return None
    return kept, (reasons[0] if reasons else "none")


def _find_spans(lines: list[str], start: int, limit: int) -> list[_Span]:
    """Quote headers among the unquoted lines in [start, limit), in order."""
    spans: list[_Span] = []
    i = start
    while i < limit:
        if _is_quoted(lines[i]) or _is_blank(lines[i]):
            i += 1
            continue
        if _is_original_line(lines[i]):
            spans.append(_Span(i, i + 1, "original", False))
            i += 1
            continue
        end = _header_block_end(lines, i, limit)
        if end is not None:
            spans.append(_Span(i, end, "header", False))
            i = end
            continue
        found = _attribution_ending_at(lines, i, spans[-1].end if spans else start)
        if found is not None:
            first, weak = found
            spans.append(_Span(first, i + 1, "attribution", weak))
        i += 1
    return spans


def _attribution_ending_at(lines: list[str], e: int, floor: int) -> tuple[int, bool] | None:
    """If an attribution ("On ..., X wrote:") ends at line ``e``, its first line and weakness."""
    last = _clean(lines[e])
    if not last or len(last) > _MAX_WINDOW or last[-1] not in ":：":
        return None
    matches: list[tuple[int, bool]] = []
    for s in range(e, max(floor, e - 3) - 1, -1):
        if s < e and (_is_quoted(lines[s]) or _is_blank(lines[s])):
            break
        window = _join(lines[s:e + 1])
        if len(window) > _MAX_WINDOW:
            break
        weak = _attribution_strength(window)
        if weak is not None:
            matches.append((s, weak))
    if not matches:
        return None
    # The attribution starts at a line that looks like a start ("On ...", "Am ...", a
    # date); without one, the shortest window wins, so no text above is eaten.
    for s, weak in matches:
        if qp.ATTRIBUTION_LEADS_RE.match(_clean(lines[s])):
            return s, weak
    return matches[0]


def _attribution_strength(window: str) -> bool | None:
    """None if ``window`` is no attribution; else whether it is weak (needs a quote after)."""
    has_date_or_address = bool(qp.DIGIT_RE.search(window) or qp.EMAIL_RE.search(window))
    if (
        qp.ATTRIBUTION_RE.fullmatch(window)
        or qp.CJK_ATTRIBUTION_RE.fullmatch(window)
        or qp.QUOTING_RE.fullmatch(window)
    ):
        return not has_date_or_address
    if len(window) <= 250 and qp.EMAIL_RE.search(window) and qp.DIGIT_RE.search(window):
        return True
    return None


def _header_block_end(lines: list[str], i: int, limit: int) -> int | None:
    """If an Outlook-style header block starts at line ``i``, the line after it."""
    if i >= limit or _is_quoted(lines[i]) or not qp.HEADER_LINE_RE.fullmatch(_clean(lines[i])):
        return None
    roles: set[str] = set()
    j = i
    last = i
    while j < limit:
        if _is_quoted(lines[j]) or _is_blank(lines[j]):
            break
        match = qp.HEADER_LINE_RE.fullmatch(_clean(lines[j]))
        if match:
            roles.add(qp.HEADER_LABELS.get(match.group("label").lower(), "other"))
            last = j
            j += 1
            continue
        # A wrapped value ("To: a <\nb@c>"): continuation lines between two header lines.
        ahead = next(
            (k for k in range(j + 1, min(j + 3, limit)) if qp.HEADER_LINE_RE.fullmatch(_clean(lines[k]))), None
        )
        if ahead is None:
            break
        j = ahead
    if "from" in roles and (len(roles) >= 3 or "sent" in roles):
        return last + 1
    return None


def _answers_follow(lines: list[str], end: int, limit: int) -> bool:
    """Whether quoted lines follow ``end`` and then new text that is not a signature."""
    j = _first_nonblank(lines, end, limit)
    if j is None or not _is_quoted(lines[j]):
        return False
    sig = _signature_start(lines, j, limit)
    stop = sig if sig is not None else limit
    return any(_is_text(lines[k]) for k in range(j, stop))


def _next_is_quoted(lines: list[str], end: int, limit: int) -> bool:
    j = _first_nonblank(lines, end, limit)
    return j is not None and _is_quoted(lines[j])


def _extend_over_rule(lines: list[str], index: int, floor: int) -> int:
    """Move a cut up over the rule or "Original Message" line (and blanks) above it."""
    k = index - 1
    while k >= floor and _is_blank(lines[k]):
        k -= 1
    if k >= floor and (_is_rule(lines[k]) or _is_original_line(lines[k])):
        return k
    return index


def _drop_trailing_quote(lines: list[str], start: int, hi: int, reasons: list[str]) -> int:
    """Cut a block of quoted lines (and blanks) at the end of [start, hi)."""
    k = hi
    first_quoted = None
    while k > start and (_is_blank(lines[k - 1]) or _is_quoted(lines[k - 1])):
        k -= 1
        if _is_quoted(lines[k]):
            first_quoted = k
    if first_quoted is None:
        return hi
    reasons.append("quote")
    return first_quoted


def _signature_start(lines: list[str], lo: int, hi: int) -> int | None:
    """The first line of a signature among the unquoted lines of [lo, hi), if any."""
    seen_text = False
    for k in range(lo, hi):
        raw = lines[k]
        if _is_quoted(raw):
            continue
        line = _clean(raw)
        if not line:
            continue
        if line == "--":
            rest = sum(1 for x in lines[k + 1:hi] if _is_text(x))
            if raw.rstrip("\n") == "-- " or rest <= _MAX_SIGNATURE_LINES:
                return k
        if _is_mobile_signature(line) and all(_is_blank(x) or _is_quoted(x) for x in lines[k + 1:hi]):
            return k
        if seen_text and _is_rule(raw):
            following = [_clean(x) for x in lines[k + 1:min(hi, k + 12)] if _is_text(x)][:8]
            if any(qp.LIST_FOOTER_RE.match(x) for x in following[:2]):
                return k
            if any(qp.PHONE_LINE_RE.search(x) and len(qp.DIGIT_RE.findall(x)) >= 7 for x in following):
                return k
        if seen_text and qp.DISCLAIMER_RE.match(line) and (_is_blank(lines[k - 1]) or _is_rule(lines[k - 1])):
            return _extend_over_rule(lines, k, lo)
        seen_text = True
    return None


def _is_mobile_signature(line: str) -> bool:
    # "Sent from my desk, is much easier than my mobile phone." is a sentence, not a
    # signature: signatures are short and have no clause after a comma.
    if len(line.split()) > 10 or ", " in line:
        return False
    return bool(qp.MOBILE_SIGNATURE_RE.fullmatch(line))


def _drop_banner(lines: list[str]) -> list[str]:
    """Remove an "originated from outside" banner paragraph from the top."""
    first = _first_nonblank(lines, 0, len(lines))
    if first is None:
        return lines
    end = first
    while end < len(lines) and not _is_blank(lines[end]):
        end += 1
    paragraph = " ".join(_clean(x) for x in lines[first:end])
    if len(paragraph) < 600 and qp.BANNER_RE.match(paragraph):
        return lines[end:]
    return lines


def _find_forward(lines: list[str]) -> int:
    """Index of the first forwarded-message marker (quoted or not), else len(lines)."""
    for i, line in enumerate(lines):
        if qp.FORWARD_RE.fullmatch(_clean(_UNQUOTE_RE.sub("", line))):
            # A quoted forward starts with its quote block.
            while _is_quoted(line) and i > 0 and _is_quoted(lines[i - 1]):
                i -= 1
            return i
    return len(lines)


# --- small helpers ---------------------------------------------------------------------


def _join_soft_breaks(lines: list[str]) -> list[str]:
    """Undo quoted-printable soft breaks left raw inside quoted lines.

    Some clients quote the still-encoded original, so "> ... Wednesda=" is followed by an
    unquoted "y": that fragment would otherwise look like an inline answer.
    """
    out: list[str] = []
    for line in lines:
        if out and _is_quoted(out[-1]) and out[-1].endswith("=") and line.strip() and not _is_quoted(line):
            out[-1] = out[-1][:-1] + line
        else:
            out.append(line)
    return out


def _clean(line: str) -> str:
    return qp.INVISIBLE_RE.sub("", line).strip()


def _join(lines: list[str]) -> str:
    """Join wrapped lines; a quoted-printable soft break ("w=" + "rote:") joins without space."""
    out = ""
    for line in lines:
        part = _clean(line)
        if out.endswith("="):
            out = out[:-1] + part
        elif out:
            out = out + " " + part
        else:
            out = part
    return out


def _is_quoted(line: str) -> bool:
    return bool(qp.QUOTED_RE.match(line))


def _is_blank(line: str) -> bool:
    return not _clean(line)


def _is_text(line: str) -> bool:
    return not _is_blank(line) and not _is_quoted(line)


def _is_rule(line: str) -> bool:
    return bool(qp.SEPARATOR_LINE_RE.fullmatch(_clean(line)))


def _is_original_line(line: str) -> bool:
    return not _is_quoted(line) and bool(qp.ORIGINAL_MESSAGE_RE.fullmatch(_clean(line)))


def _has_text(lines: list[str]) -> bool:
    return any(not _is_blank(x) for x in lines)


def _first_text(lines: list[str], lo: int, hi: int) -> int | None:
    return next((k for k in range(lo, hi) if _is_text(lines[k])), None)


def _first_nonblank(lines: list[str], lo: int, hi: int) -> int | None:
    return next((k for k in range(lo, hi) if not _is_blank(lines[k])), None)


def _finish(lines: list[str]) -> str:
    """Strip trailing whitespace on lines and blank lines at both ends."""
    out = [line.rstrip() for line in lines]
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)

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
   footers, legal disclaimers, a rule followed by a block of contact details; never above
   a postscript, never right under the person's line that ends with a colon.

Decisions worth knowing:

* Inline answers (the person's text interleaved between ">" quoted lines) keep the quoted
  lines they answer, because cutting them would lose the meaning; only the attribution
  line ("On ... wrote:", which carries a private address, or Outlook's header block when
  its original is quoted with ">") and the quoted lines after the
  last answer go; text between two quoted blocks is an answer even when the second block
  is that trailing quote.  A single quoted block followed by the answer (bottom posting)
  is not an inline answer: the quote goes and the answer stays.
* Forwarded messages ("---------- Forwarded message ---------", "Begin forwarded
  message:") are never cut: the forwarded content is what the person sends.
* A line of "---" or "___" alone is not a cut; it only extends a cut that follows it.
* A trailing block of ">" lines under the person's own line ending in a colon ("Run
  this:") is what they quote on purpose, and stays.
* Valedictions and names ("Thanks,\\nJohn") are the person's words and stay.
* Nothing but the quote (at most the client's attribution or header block and an app's
  "Sent from my iPhone" around it) is an empty reply, reason ``empty``: refused, not posted.
* When the cuts would otherwise leave nothing, the whole text is kept (minus our
  separator and what follows it), reason ``guard``: more, never less.

This module holds the order of the cuts; the steps that need more than a few lines
live beside it: ``quote_headers`` (where a quoted original begins), ``signatures``,
and ``reply_lines`` (what a line is: quoted, blank, a rule...), with the patterns of
all of them in ``quote_patterns``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from forummail import quote_patterns as qp
from forummail.quote_headers import find_spans, header_block_end
from forummail.reply_lines import (
    clean_line,
    extend_over_rule,
    first_nonblank,
    first_text,
    has_text,
    is_blank,
    is_original_line,
    is_quoted,
    is_rule,
    is_text,
    join_soft_breaks,
)
from forummail.signatures import is_mobile_signature, signature_start

log = logging.getLogger(__name__)

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


def trim_reply(text: str, separator: str | None = None, *, forward: bool = False) -> TrimResult:
    """Return the new text of the reply ``text`` and where it was cut.

    ``separator`` is the line our notifications put on top of the message; it and
    everything after it goes.  ``forward`` (the subject says "Fwd:") disables the cutting
    of quoted originals, since a forwarded message is the content.
    """
    lines = join_soft_breaks(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    reason = "none"
    if separator and separator.strip():
        index = _find_separator(lines, separator)
        if index is not None:
            above = lines[:index]
            if _trim_core(above, forward, quote_follows=True) is None:
                # Nothing of the sender's above the notification (at most the client's
                # "On ... wrote:"): the answers are below it, after the quote (bottom
                # posting) or between its quoted lines (inline answering), if anywhere.
                result = _trim_core(lines[index + 1:], forward)
                if result is not None:
                    # A line that only looks like an attribution ("ask ann@x.org about
                    # 2019:") may be the sender's: it stays, unless it is a sure one.
                    head = _trim_core(above, forward)
                    parts = [_finish(head[0])] if head else []
                    return TrimResult("\n\n".join(parts + [_finish(result[0])]), "separator")
                if not has_text(above):
                    return TrimResult("", "empty")
            lines, reason = above, "separator"
    base = lines
    lines = _drop_banner(lines)
    result = _trim_core(lines, forward, quote_follows=reason == "separator")
    if result is None and reason == "separator":
        result = _trim_core(lines, forward)  # the same: more, never less
    if result is None:
        if _only_quote(lines):
            # Nothing but the quoted original and what the client put around it: the
            # person wrote nothing (an empty reply is refused, not posted).
            return TrimResult("", "empty")
        return TrimResult(_finish(base), "guard")
    kept, core_reason = result
    if reason == "none":
        reason = core_reason
    return TrimResult(_finish(kept), reason)


def _only_quote(lines: list[str]) -> bool:
    """Only the quoted original: quoted lines under at most a short quote header ("On ...
    wrote:") and an app's "Sent from my ..." line, or a header block under a rule."""
    first = first_nonblank(lines, 0, len(lines))
    if first is not None and _original_below_rule(lines, first, len(lines)) is not None:
        return True
    text = [clean_line(line) for line in lines if is_text(line)]
    text = [line for line in text if not is_mobile_signature(line)]
    return len(text) <= 3 and (not text or text[-1].endswith(":"))


def _original_below_rule(lines: list[str], first: int, limit: int) -> int | None:
    """If a rule or "-----Original Message-----" at ``first`` heads a header block (what
    Outlook and Samsung put above the quoted original), the line after the block."""
    if not (is_rule(lines[first]) or is_original_line(lines[first])):
        return None
    head = first_text(lines, first + 1, limit)
    return None if head is None else header_block_end(lines, head, limit, ruled=True)


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


def _trim_core(lines: list[str], forward: bool, quote_follows: bool = False) -> tuple[list[str], str] | None:
    """The kept lines and the reason, or None when nothing would be left.

    ``quote_follows``: ``lines`` end where our separator was cut, so the quoted
    notification follows them, and an attribution on their last lines heads it.
    """
    n = len(lines)
    limit = 0 if forward else _find_forward(lines)
    drop: set[int] = set()
    reasons: list[str] = []

    start = 0
    first = first_nonblank(lines, 0, limit)
    if first is not None:
        # A header block under a rule on top heads the original: nothing was written above
        # it; unless the person answers between its quoted lines, nothing is left.
        end = _original_below_rule(lines, first, limit)
        if end is not None and not _next_is_quoted(lines, end, limit):
            return None
        # A header block on the very first line is this message's own header pasted in,
        # or a forward without comment: drop the header, keep the text under it.
        if end is None:
            end = header_block_end(lines, first, limit)
        if end is not None:
            drop.update(range(first, end))
            start = end

    hi = limit
    cut = False
    spans = find_spans(lines, start, limit)
    for idx, span in enumerate(spans):
        followed_by_quote = _next_is_quoted(lines, span.end, limit) or (
            quote_follows and limit == n and first_nonblank(lines, span.end, n) is None)
        if span.weak and not followed_by_quote:
            continue
        # The last quote header (an attribution, or Outlook's "-----Original Message-----"
        # and header block, with its rule) followed by questions and their answers: it
        # goes, with the blank lines under it, and the answers are read below.
        last = idx
        while last + 1 < len(spans) and first_nonblank(lines, spans[last].end, limit) == spans[last + 1].start:
            last += 1
        if last == len(spans) - 1 and _answers_follow(lines, spans[last].end, limit):
            end = spans[last].end
            while end < limit and is_blank(lines[end]):
                end += 1
            drop.update(range(span.start if span.kind == "attribution" else extend_over_rule(lines, span.start, start),
                              end))
            break
        hi = extend_over_rule(lines, span.start, start)
        cut = True
        reasons.append("quote-header")
        break

    # Text between two quoted blocks answers the first one (inline answering), even when
    # the second is a trailing quote that is cut below: the questions must stay.
    answered = _answers_between_quotes(lines, start, hi, drop)
    for _ in range(3):
        before = hi
        sig = signature_start(lines, start, hi)
        if sig is not None:
            hi = sig
            reasons.append("signature")
        hi = _drop_trailing_quote(lines, start, hi, reasons, drop)
        while hi > start and (is_blank(lines[hi - 1]) or is_rule(lines[hi - 1]) or hi - 1 in drop):
            hi -= 1
        if hi == before:
            break

    # Quoted lines left: a single leading block is a bottom-posted quote; anything else
    # is inline answering and stays.
    quoted = [k for k in range(start, hi) if k not in drop and is_quoted(lines[k])]
    if quoted:
        first_q = quoted[0]
        text_before = any(is_text(lines[k]) for k in range(start, first_q) if k not in drop)
        blocks = 0
        inside = False
        last_q = first_q
        for k in range(first_q, hi):
            if k in drop or is_blank(lines[k]):
                continue
            if is_quoted(lines[k]):
                if not inside:
                    blocks += 1
                inside = True
                last_q = k
            else:
                inside = False
        if not text_before and blocks == 1 and not answered:
            drop.update(range(start, last_q + 1))
            reasons.append("quote")
        elif not reasons or reasons[0] == "quote":
            reasons.insert(0, "inline")

    kept = [lines[k] for k in range(0, hi) if k not in drop]
    if not cut and limit < n:
        gap = lines[hi:limit]
        kept.extend(gap if not has_text(gap) else [""])
        kept.extend(lines[limit:])
    if not has_text(kept):
        return None
    return kept, (reasons[0] if reasons else "none")


def _answers_follow(lines: list[str], end: int, limit: int) -> bool:
    """Whether quoted lines follow ``end`` and then new text that is not a signature."""
    j = first_nonblank(lines, end, limit)
    if j is None or not is_quoted(lines[j]):
        return False
    sig = signature_start(lines, j, limit)
    stop = sig if sig is not None else limit
    return any(is_text(lines[k]) for k in range(j, stop))


def _answers_between_quotes(lines: list[str], start: int, hi: int, drop: set[int]) -> bool:
    """Whether, in [start, hi), text that is not a signature lies between two quoted blocks."""
    sig = signature_start(lines, start, hi)
    stop = sig if sig is not None else hi
    state = "before"  # before the first quote, in a quote, text after a quote
    for k in range(start, hi):
        if k in drop or is_blank(lines[k]):
            continue
        if is_quoted(lines[k]):
            if state == "answer":
                return True
            state = "quote"
        elif state == "quote" and k < stop:
            state = "answer"
    return False


def _next_is_quoted(lines: list[str], end: int, limit: int) -> bool:
    j = first_nonblank(lines, end, limit)
    return j is not None and is_quoted(lines[j])


def _drop_trailing_quote(lines: list[str], start: int, hi: int, reasons: list[str], drop: set[int]) -> int:
    """Cut a block of quoted lines (and blanks) at the end of [start, hi), unless the
    person's own line above it introduces it (``drop``: lines already cut)."""
    k = hi
    first_quoted = None
    while k > start and (is_blank(lines[k - 1]) or is_quoted(lines[k - 1])):
        k -= 1
        if is_quoted(lines[k]):
            first_quoted = k
    if first_quoted is None:
        return hi
    intro = next((j for j in range(first_quoted - 1, start - 1, -1) if not is_blank(lines[j]) and j not in drop), None)
    if intro is not None and clean_line(lines[intro]).endswith((":", "：")):
        # "Run this:" / "As the manual says:" above it: the person quotes on purpose (code,
        # a command, a passage); a client's attribution would have been cut already.
        return hi
    reasons.append("quote")
    return first_quoted


def _drop_banner(lines: list[str]) -> list[str]:
    """Remove an "originated from outside" banner paragraph from the top."""
    first = first_nonblank(lines, 0, len(lines))
    if first is None:
        return lines
    end = first
    while end < len(lines) and not is_blank(lines[end]):
        end += 1
    paragraph = " ".join(clean_line(x) for x in lines[first:end])
    if len(paragraph) < 600 and qp.BANNER_RE.match(paragraph):
        return lines[end:]
    return lines


def _find_forward(lines: list[str]) -> int:
    """Index of the first forwarded-message marker (quoted or not), else len(lines)."""
    for i, line in enumerate(lines):
        if qp.FORWARD_RE.fullmatch(clean_line(_UNQUOTE_RE.sub("", line))):
            # A quoted forward starts with its quote block.
            while is_quoted(line) and i > 0 and is_quoted(lines[i - 1]):
                i -= 1
            return i
    return len(lines)


def _finish(lines: list[str]) -> str:
    """Strip trailing whitespace on lines, empty ">" lines at the edges of a quoted block
    (kept questions of an inline answer), and blank lines at both ends."""
    out = [line.rstrip() for line in _trim_quote_edges(lines)]
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _trim_quote_edges(lines: list[str]) -> list[str]:
    """``lines`` without the empty quoted lines (">" alone) that open or close a quoted
    block: inside a block they part paragraphs, at its edges they only pad it."""
    keep = [True] * len(lines)
    i = 0
    while i < len(lines):
        if not is_quoted(lines[i]):
            i += 1
            continue
        j = i
        while j < len(lines) and is_quoted(lines[j]):
            j += 1
        full = [k for k in range(i, j) if _UNQUOTE_RE.sub("", lines[k]).strip()]
        lo, hi = (full[0], full[-1] + 1) if full else (j, j)
        for k in [*range(i, lo), *range(hi, j)]:
            keep[k] = False
        i = j
    return [line for line, kept in zip(lines, keep, strict=True) if kept]

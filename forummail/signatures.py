"""Where the signature of a reply begins: the "-- " delimiter, "Sent from my iPhone"
and kin, mailing-list footers, legal disclaimers, a rule followed by contact details.

A legal disclaimer is recognised by its signals (see ``quote_patterns.DISCLAIMER_WORDS``)
and by what follows it: only more disclaimer, a signature or the quote.
"""

from __future__ import annotations

import re

from forummail import quote_patterns as qp
from forummail.reply_lines import clean_line, extend_over_rule, is_blank, is_quoted, is_rule, is_text

_DELIMITERS = ("--", "__")
_MAX_SIGNATURE_LINES = 15  # a "--" (without the space) followed by more than this is not a signature
_MAX_DISCLAIMER_PARAGRAPHS = 12  # paragraphs after a disclaimer (the longest we have seen has 4)
_MAX_CONTACT_WORDS = 4  # words on a phone line of a signature ("Direct: ... Mobile: ..." has 2)
_WORD_RE = re.compile(r"[^\W\d_]{2,}")


def signature_start(lines: list[str], lo: int, hi: int) -> int | None:
    """The first line of a signature among the unquoted lines of [lo, hi), if any.

    A signature never starts above a postscript ("P.S. the rails are late" under "-- \nBob"
    is the person's), nor right under the person's line that ends with a colon ("Options:\n
    --\nA) rails": what a colon announces follows it)."""
    postscript = _last_postscript(lines, lo, hi)
    seen_text = postscript is not None
    announced = False  # the person's last line ends with a colon
    for k in range(postscript + 1 if postscript is not None else lo, hi):
        raw = lines[k]
        if is_quoted(raw):
            announced = False  # the colon announced the quote
            continue
        line = clean_line(raw)
        if not line:
            continue
        # "-- " (RFC 3676 section 4.3) and the forms clients and people make of it.
        if line in _DELIMITERS:
            rest = sum(1 for x in lines[k + 1:hi] if is_text(x))
            if raw.rstrip("\n") == "-- " or (rest <= _MAX_SIGNATURE_LINES and not announced):
                return k
        if not announced and is_mobile_signature(line) and all(is_blank(x) or is_quoted(x) for x in lines[k + 1:hi]):
            return k
        if seen_text and not announced and is_rule(raw):
            following = [clean_line(x) for x in lines[k + 1:min(hi, k + 12)] if is_text(x)][:8]
            if any(qp.LIST_FOOTER_RE.match(x) for x in following[:2]):
                return k
            if any(_is_contact_line(x) for x in following):
                return k
        if (seen_text and not announced and (is_blank(lines[k - 1]) or is_rule(lines[k - 1]))
                and _disclaimer_at(lines, k, hi)):
            return extend_over_rule(lines, k, lo)
        seen_text = True
        announced = line.endswith((":", "："))
    return None


def _is_contact_line(line: str) -> bool:
    """A signature's phone line ("T: +1 555 010 0100 | M: ..."): a label, a number, and
    hardly any words; "Tel: +1 555 010 0100 is my desk, call me after ten." is a sentence."""
    return bool(
        qp.PHONE_LINE_RE.search(line)
        and len(qp.DIGIT_RE.findall(line)) >= 7
        and len(_WORD_RE.findall(line)) <= _MAX_CONTACT_WORDS
    )


def _last_postscript(lines: list[str], lo: int, hi: int) -> int | None:
    """The last unquoted line of [lo, hi) that starts a postscript ("P.S.", "PS:", "P.D."...)."""
    found = None
    for k in range(lo, hi):
        if not is_quoted(lines[k]) and qp.POSTSCRIPT_RE.match(clean_line(lines[k])):
            found = k
    return found


def is_mobile_signature(line: str) -> bool:
    """Whether the cleaned ``line`` is an app's "Sent from my iPhone" line (any language)."""
    # "Sent from my desk, is much easier than my mobile phone." is a sentence, not a
    # signature: signatures are short and have no clause (after a comma, or opened by
    # "because", "while"...).
    if len(line.split()) > 10 or ", " in line or qp.CLAUSE_WORD_RE.search(line):
        return False
    return bool(qp.MOBILE_SIGNATURE_RE.fullmatch(line))


def _disclaimer_at(lines: list[str], k: int, hi: int) -> bool:
    """Whether the paragraph at ``k`` is a legal disclaimer and only more of the same (or a
    signature, or the quote) follows it up to ``hi``: a sentence that merely sounds legal
    ("This message is confidential per our NDA ...") in the middle of a reply is the
    person's, and so is everything after it."""
    end = _paragraph_end(lines, k, hi)
    text = _paragraph_text(lines, k, end)
    titled = bool(qp.DISCLAIMER_TITLE_RE.match(text))
    if titled and qp.DISCLAIMER_TITLE_RE.fullmatch(text):
        # A title alone on its line ("Disclaimer"): the text is the next paragraph.
        body = next((j for j in range(end, hi) if is_text(lines[j]) and not is_rule(lines[j])), None)
        if body is None:
            return False
        end = _paragraph_end(lines, body, hi)
        text = _paragraph_text(lines, body, end)
    if not is_disclaimer(text, titled):
        return False
    j = end
    paragraphs = 0
    while j < hi:
        if not is_text(lines[j]) or is_rule(lines[j]):
            j += 1
            continue
        paragraphs += 1
        if paragraphs > _MAX_DISCLAIMER_PARAGRAPHS:
            return False  # bounds the work per paragraph: a hostile mail of many stays linear
        line = clean_line(lines[j])
        if line in _DELIMITERS or is_mobile_signature(line) or qp.LIST_FOOTER_RE.match(line):
            return True  # a signature or a list's footer: the rest is theirs
        end = _paragraph_end(lines, j, hi)
        text = _paragraph_text(lines, j, end)
        more = qp.DISCLAIMER_MESSAGE_RE.search(text) and (
            qp.DISCLAIMER_SECRET_RE.search(text) or qp.DISCLAIMER_ADDRESSEE_RE.search(text)
            or qp.DISCLAIMER_MORE_RE.search(text)
        )
        if not (more or is_disclaimer(text, False)):
            return False  # a paragraph of prose: what came before was the person's too
        j = end
    return True


def is_disclaimer(text: str, titled: bool) -> bool:
    """Whether the paragraph ``text`` carries the signals of a legal disclaimer: secrecy,
    a word to a wrong addressee, and a reference to this message (or a title above it)."""
    return bool(
        qp.DISCLAIMER_SECRET_RE.search(text)
        and qp.DISCLAIMER_ADDRESSEE_RE.search(text)
        and (titled or qp.DISCLAIMER_MESSAGE_RE.search(text))
    )


def _paragraph_end(lines: list[str], k: int, hi: int) -> int:
    """The line after the paragraph that starts at ``k`` (it ends at a blank, quoted or rule line)."""
    j = k + 1
    while j < hi and is_text(lines[j]) and not is_rule(lines[j]):
        j += 1
    return j


def _paragraph_text(lines: list[str], k: int, end: int) -> str:
    return " ".join(clean_line(x) for x in lines[k:end])

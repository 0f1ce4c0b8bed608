"""Where the signature of a reply begins: the "-- " delimiter, "Sent from my iPhone"
and kin, mailing-list footers, legal disclaimers, a rule followed by contact details.
"""

from __future__ import annotations

from forummail import quote_patterns as qp
from forummail.reply_lines import clean_line, extend_over_rule, is_blank, is_quoted, is_rule, is_text

_DELIMITERS = ("--", "__")
_MAX_SIGNATURE_LINES = 15  # a "--" (without the space) followed by more than this is not a signature


def signature_start(lines: list[str], lo: int, hi: int) -> int | None:
    """The first line of a signature among the unquoted lines of [lo, hi), if any."""
    seen_text = False
    for k in range(lo, hi):
        raw = lines[k]
        if is_quoted(raw):
            continue
        line = clean_line(raw)
        if not line:
            continue
        # "-- " (RFC 3676 section 4.3) and the forms clients and people make of it.
        if line in _DELIMITERS:
            rest = sum(1 for x in lines[k + 1:hi] if is_text(x))
            if raw.rstrip("\n") == "-- " or rest <= _MAX_SIGNATURE_LINES:
                return k
        if is_mobile_signature(line) and all(is_blank(x) or is_quoted(x) for x in lines[k + 1:hi]):
            return k
        if seen_text and is_rule(raw):
            following = [clean_line(x) for x in lines[k + 1:min(hi, k + 12)] if is_text(x)][:8]
            if any(qp.LIST_FOOTER_RE.match(x) for x in following[:2]):
                return k
            if any(qp.PHONE_LINE_RE.search(x) and len(qp.DIGIT_RE.findall(x)) >= 7 for x in following):
                return k
        if seen_text and qp.DISCLAIMER_RE.match(line) and (is_blank(lines[k - 1]) or is_rule(lines[k - 1])):
            return extend_over_rule(lines, k, lo)
        seen_text = True
    return None


def is_mobile_signature(line: str) -> bool:
    """Whether the cleaned ``line`` is an app's "Sent from my iPhone" line (any language)."""
    # "Sent from my desk, is much easier than my mobile phone." is a sentence, not a
    # signature: signatures are short and have no clause after a comma.
    if len(line.split()) > 10 or ", " in line:
        return False
    return bool(qp.MOBILE_SIGNATURE_RE.fullmatch(line))

"""From a raw reply email to the text to post: choose the body, cut the quote, drop our address.

``parse`` gives the plain and the HTML body as they came; this module alone decides
which one is the reply, converts HTML (once, after cutting the quote where the
client marked it), and trims.  This is what ``fetch_replies.py --extract FILE`` prints.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote

from forummail.html2text import html_to_text
from forummail.htmlquote import strip_html_quote
from forummail.parse import ParsedMail, parse_message
from forummail.trim import trim_reply

log = logging.getLogger(__name__)

# Subject prefixes of a forward, in the languages clients use.
_FORWARD_SUBJECT_RE = re.compile(
    r"\s*(?:\[[^\]]*\]\s*)?(?:fwd?|fw|wg|tr|rv|enc|doorst|vs|vb|vl|pd|i|přeposlat|továbbítás|пересл|転送)\s*:",
    re.IGNORECASE,
)
_SPACES_BEFORE_NEWLINE_RE = re.compile(r"[ \t]+\n")


def extract_reply(raw: bytes, separator: str | None = None, strip_addresses: Iterable[str] = ()) -> str:
    """The new text of the reply in ``raw``, ready to post.

    The body is the text/plain part when there is one, else the HTML (cut at the quote
    markers of known clients, then converted).  ``separator`` is the line our
    notifications put on top; ``strip_addresses`` (our reply address with its token) are
    removed wherever they still appear, so a reply token is never posted.
    """
    mail = parse_message(raw)
    return extract_from_parsed(mail, separator, strip_addresses)


def extract_from_parsed(mail: ParsedMail, separator: str | None = None,
                        strip_addresses: Iterable[str] = ()) -> str:
    """``extract_reply`` for a message already parsed."""
    forward = bool(_FORWARD_SUBJECT_RE.match(mail.subject))
    result = trim_reply(body_text(mail), separator, forward=forward).text
    return _finish(remove_addresses(result.replace("\u00a0", " "), strip_addresses))


def body_text(mail: ParsedMail) -> str:
    """The text of the reply before trimming.

    The plain part, unless it is empty or blank (some clients send an empty one beside
    the HTML); else the HTML, cut before the quoted original where the client marked it
    (``gmail_quote``, ``divRplyFwdMsg``, ``blockquote type=cite``...), then converted.
    """
    if mail.plain.strip() or mail.html is None:
        return mail.plain
    try:
        html = strip_html_quote(mail.html)
    except Exception:  # it is defensive already; belt and braces: convert the whole HTML
        log.warning("html quote strip failed", exc_info=True)
        html = mail.html
    return html_to_text(html)


def remove_addresses(text: str, addresses: Iterable[str]) -> str:
    """Remove every occurrence of ``addresses`` (any case, also url-encoded, and the token
    after "+" alone) from ``text``, with the brackets or "mailto:" around them."""
    probe = _folded(text)
    for address in addresses:
        address = address.strip()
        if not address:
            continue
        forms = {address, quote(address, safe=""), quote(address, safe="@")}
        local = address.split("@", 1)[0]
        token = local.split("+", 1)[1] if "+" in local else ""
        if len(token) >= 8:
            forms.add(token)
            secret = token.rsplit(".", 1)[-1]
            if len(secret) >= 12:  # the signature part alone is as secret as the token
                forms.add(secret)
        for form in sorted(forms, key=len, reverse=True):
            if form.isascii() and _folded(form) not in probe:
                continue  # neither pattern can match: skip compiling two patterns per token
            pattern = r"(?:mailto:)?" + re.escape(form)
            before = text
            text = re.sub(r"[<\[(]\s*" + pattern + r"\s*[>\])]", "", text, flags=re.IGNORECASE)
            text = re.sub(pattern, "", text, flags=re.IGNORECASE)
            if text != before:  # a removal may join what surrounded it
                probe = _folded(text)
    return text


# The characters outside ASCII that re.IGNORECASE matches to an ASCII letter:
# U+0130 and U+212A by their simple lower case (i, k), U+0131 and U+017F as
# the regular expression engine's own equivalents of i and s.
_TO_ASCII = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _folded(text: str) -> str:
    """``text`` as re.IGNORECASE sees it against an ASCII pattern: a form absent here matches nowhere."""
    return text.translate(_TO_ASCII).lower()


def _finish(text: str) -> str:
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)

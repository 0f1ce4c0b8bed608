"""Cut the quoted original out of an HTML reply, where the mail client marked it.

Clients mark the quote in the HTML (Gmail's ``gmail_quote``, Apple's ``blockquote
type=cite``, Outlook's ``divRplyFwdMsg``, Thunderbird's ``moz-cite-prefix``, Yahoo's
``yahoo_quoted``...), a surer sign than any text pattern; ``extract`` cuts there
before converting to text, and the plain-text trimmer runs afterwards anyway.
"""

from __future__ import annotations

import logging
import re

from forummail import quote_patterns as qp
from forummail.html2text import VisibleParser

log = logging.getLogger(__name__)

_MARKER_CLASSES = frozenset(
    "gmail_quote gmail_attr gmail_quote_container moz-cite-prefix protonmail_quote tutanota_quote zmail_extra "
    "outlookmessageheader".split()
)
_MARKER_IDS = frozenset(
    "divrplyfwdmsg appendonsend olk_src_body_section mail-editor-reference-message-container stopspelling zwchr"
    .split()
)


class _Event:
    __slots__ = ("kind", "offset", "tag", "attrs", "text")

    def __init__(self, kind: str, offset: int, tag: str = "", attrs: dict[str, str] | None = None,
                 text: str = "") -> None:
        self.kind = kind
        self.offset = offset
        self.tag = tag
        self.attrs = attrs or {}
        self.text = text


class _EventCollector(VisibleParser):
    """Start tags, end tags and visible text, with their offsets in the source."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.events: list[_Event] = []
        self.line_starts = [0]
        for match in re.finditer("\n", source):
            self.line_starts.append(match.end())

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_starts[min(line, len(self.line_starts)) - 1] + col

    def visible_start(self, tag: str, attrs: dict[str, str]) -> None:
        self.events.append(_Event("start", self._offset(), tag, attrs))

    def visible_end(self, tag: str) -> None:
        self.events.append(_Event("end", self._offset(), tag))

    def visible_text(self, data: str) -> None:
        if data.strip():
            self.events.append(_Event("text", self._offset(), text=data))


def _is_marker(event: _Event, following_text: str) -> bool:
    classes = {c.lower().removeprefix("x_") for c in event.attrs.get("class", "").split()}
    ident = event.attrs.get("id", "").lower().removeprefix("x_")
    if classes & _MARKER_CLASSES or any(c.endswith("yahoo_quoted") for c in classes):
        return True
    if ident in _MARKER_IDS:
        return True
    if event.tag == "blockquote" and event.attrs.get("type", "").lower() == "cite":
        return True
    # Outlook and Windows Mail: a rule or a top-bordered div, then "From: ..." (any language).
    starts_with_header = bool(qp.HEADER_LINE_RE.match(following_text[:200]))
    if event.tag == "hr" and starts_with_header:
        return True
    style = event.attrs.get("style", "").lower().replace(" ", "")
    return event.tag == "div" and "border-top:" in style and "none" not in style.split("border-top:")[1][:6] \
        and starts_with_header


def strip_html_quote(html: str) -> str:
    """Return ``html`` cut before the first quoted-original marker of a known mail client.

    The cut is skipped (the HTML returned whole) when nothing would be left before it,
    when the marked part is a forwarded message, or when the person's text follows a
    quoted block inside it (inline answers, bottom posting): the plain-text trimmer
    decides those.
    """
    collector = _EventCollector(html)
    try:
        collector.feed(html)
        collector.close()
    except Exception:
        log.warning("html parser failed; not cutting the quote at the html level", exc_info=True)
        return html
    events = collector.events
    if _answers_inside(events, 0):
        return html  # inline answers or bottom posting: the questions stay, the text trimmer decides
    texts_before: list[str] = []
    for index, event in enumerate(events):
        if event.kind == "text":
            texts_before.append(event.text)
            continue
        if event.kind != "start":
            continue
        following = " ".join(" ".join(e.text.split()) for e in events[index + 1:index + 40] if e.kind == "text")
        following = qp.INVISIBLE_RE.sub("", following).replace("\u00a0", " ").strip()
        if not _is_marker(event, following):
            continue
        if not "".join(texts_before).strip():
            continue
        if qp.FORWARD_RE.search(following[:300]):
            continue
        if _answers_inside(events, index):
            continue
        return html[:event.offset]
    return html


def _answers_inside(events: list[_Event], index: int) -> bool:
    """Whether text outside any blockquote follows the first blockquote from ``index`` on."""
    depth = 0
    seen_quote = False
    for event in events[index:]:
        if event.kind == "start" and event.tag == "blockquote":
            depth += 1
            seen_quote = True
        elif event.kind == "end" and event.tag == "blockquote":
            depth = max(0, depth - 1)
        elif event.kind == "text" and seen_quote and depth == 0 and event.text.strip():
            return True
    return False

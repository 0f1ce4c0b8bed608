"""HTML email bodies to plain text, with the stdlib ``html.parser`` only.

``html_to_text`` renders roughly as a browser would and a person would copy it: block
elements start new lines, paragraphs are separated by a blank line, lists become
"- item" (or "1. item"), links "text (url)" when the text is not the url itself,
``<blockquote>`` content is prefixed with "> " per line so the plain-text trimmer sees
the quote, ``<hr>`` becomes a rule line, and ``<style>``, ``<script>``, ``<head>`` and
comments are dropped.

``strip_html_quote`` cuts the quoted original at the HTML level, where mail clients
mark it (Gmail's ``gmail_quote``, Apple's ``blockquote type=cite``, Outlook's
``divRplyFwdMsg``, Thunderbird's ``moz-cite-prefix``, Yahoo's ``yahoo_quoted``...),
before the conversion; the plain-text trimmer runs afterwards anyway.
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

from forummail import quote_patterns as qp

log = logging.getLogger(__name__)

_BLOCK = frozenset(
    "address article aside blockquote caption center dd details dialog dir div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hgroup hr legend li main menu nav ol p pre section summary table "
    "tbody tfoot thead tr ul".split()
)
# Elements with a margin in a browser: a blank line before and after.
_PARAGRAPH = frozenset("p h1 h2 h3 h4 h5 h6 ul ol dl pre table figure".split())
_SKIP = frozenset("style script head title template xml object iframe svg".split())
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_SPACE_RE = re.compile(r"[ \t\n\r\f]+")
_RULE = "-" * 10


class _Renderer(HTMLParser):
    """Collects lines of (quote depth, text) while parsing."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []
        self.cur: list[str] = []
        self.cur_depth = 0
        self.depth = 0  # blockquote nesting
        self.pending = 0  # 1: start a new line, 2: leave a blank line
        self.space = False
        self.skip = 0
        self.pre = 0
        self.links: list[tuple[str, list[str]]] = []
        self.lists: list[list[int]] = []  # [ordered (0/1), counter]
        self.blocks: list[tuple[str, int, int]] = []  # open blocks: tag, break level, writes when opened
        self.written = 0  # count of writes, to tell an empty paragraph

    # -- output primitives ------------------------------------------------------------

    def _request(self, level: int) -> None:
        self.pending = max(self.pending, level)

    def _end_line(self) -> None:
        self.lines.append((self.cur_depth, "".join(self.cur)))
        self.written += 1
        self.cur = []
        self.space = False

    def _flush(self) -> None:
        if self.pending and self.cur:
            self._end_line()
        if self.pending >= 2 and self.lines and self.lines[-1][1].strip():
            self.lines.append((self.depth, ""))
        self.pending = 0

    def _write(self, text: str) -> None:
        if not text:
            return
        self._flush()
        if not self.cur:
            self.cur_depth = self.depth
        elif self.space:
            self.cur.append(" ")
        self.space = False
        self.cur.append(text)
        self.written += 1
        for _href, buf in self.links:
            buf.append(text)

    def _break(self) -> None:
        """A <br>: end the current line, even an empty one."""
        self._flush()
        if not self.cur:
            self.cur_depth = self.depth
        self._end_line()

    # -- parser callbacks -------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if "@" in tag:
            # An unescaped address ("Jane <jane@example.com> wrote:") parses as a tag.
            self.handle_data(self.get_starttag_text() or "")
            return
        if tag == "body":
            self.skip = 0
        if self.skip or tag in _SKIP:
            if tag in _SKIP and tag not in _VOID:
                self.skip += 1
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag in _BLOCK:
            # Outlook writes every line as <p class=MsoNormal> without margins.
            mso = tag == "p" and a.get("class", "").lower().startswith("mso")
            level = 2 if tag in _PARAGRAPH and not mso and not self.lists else 1
            self._request(level)
            if tag not in _VOID:
                # An empty Outlook paragraph is a blank line (Word shows it so); -1: not Outlook's.
                self.blocks.append((tag, level, self.written if mso else -1))
        if tag == "br":
            self._break()
        elif tag == "hr":
            self._request(2)
            self._write(_RULE)
            self._request(2)
        elif tag == "blockquote":
            self.depth += 1
        elif tag == "pre":
            self.pre += 1
        elif tag in ("ul", "ol", "dir", "menu"):
            self.lists.append([1 if tag == "ol" else 0, 0])
        elif tag == "li":
            self._request(1)
            if self.lists:
                item = self.lists[-1]
                item[1] += 1
                marker = "%d." % item[1] if item[0] else "-"
                self._write("  " * (len(self.lists) - 1) + marker)
                self.space = True
            else:
                self._write("-")
                self.space = True
        elif tag in ("td", "th"):
            if self.cur:
                self.space = True
        elif tag == "a":
            self.links.append((a.get("href", "").strip(), []))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.skip = 0
            return
        if self.skip:
            if tag in _SKIP:
                self.skip -= 1
            return
        if tag == "blockquote" and self.depth:
            self._request(1)
            self.depth -= 1
        elif tag == "pre" and self.pre:
            self.pre -= 1
        elif tag in ("ul", "ol", "dir", "menu") and self.lists:
            self.lists.pop()
        elif tag == "a" and self.links:
            href, buf = self.links.pop()
            self._link_suffix(href, " ".join("".join(buf).split()))
        if tag in _BLOCK:
            level = 1
            for i in range(len(self.blocks) - 1, -1, -1):
                if self.blocks[i][0] == tag:
                    level, written = self.blocks[i][1], self.blocks[i][2]
                    del self.blocks[i:]
                    if written == self.written:
                        self._break()
                    break
            self._request(level)

    def _link_suffix(self, href: str, text: str) -> None:
        lowered = href.lower()
        if not href or not text or lowered.startswith(("mailto:", "#", "javascript:", "cid:", "tel:")):
            return

        def bare(s: str) -> str:
            s = s.strip().lower()
            s = re.sub(r"^[a-z][a-z0-9+.-]*://", "", s)
            return s.removeprefix("www.").rstrip("/")

        if bare(text) != bare(href) and href not in text:
            self.space = True
            self._write("(%s)" % href)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            parts = data.replace("\r\n", "\n").split("\n")
            for i, part in enumerate(parts):
                if i:
                    self._break()
                if part:
                    self._flush()
                    if not self.cur:
                        self.cur_depth = self.depth
                    self.cur.append(part)
            return
        text = _SPACE_RE.sub(" ", data)
        if not text.strip(" "):
            if text and self.cur:
                self.space = True
            return
        if text.startswith(" ") and self.cur:
            self.space = True
        self._write(text.strip(" "))
        if text.endswith(" "):
            self.space = True

    def result(self) -> str:
        if self.cur:
            self._end_line()
        out: list[str] = []
        for depth, text in self.lines:
            text = text.replace("\u00a0", " ").rstrip()
            out.append(("> " * depth + text).rstrip())
        while out and not out[0].strip("> "):
            out.pop(0)
        while out and not out[-1].strip("> "):
            out.pop()
        # Collapse runs of blank lines a browser would show as a large gap.
        text = "\n".join(out)
        return re.sub(r"\n{4,}", "\n\n\n", text)


def html_to_text(html: str) -> str:
    """Render an HTML mail body as plain text (see the module docstring)."""
    parser = _Renderer()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient, but must never take the mail down
        log.warning("html parser failed; falling back to tag stripping", exc_info=True)
        return _strip_tags(html)
    return parser.result()


def _strip_tags(html: str) -> str:
    import html as html_module

    text = re.sub(r"(?is)<(style|script|head)\b.*?</\1\s*>", " ", html)
    text = re.sub(r"(?i)<br\s*/?>|</(p|div|li|tr|h\d)\s*>", "\n", text)
    text = re.sub(r"<[^>]*>", " ", text)
    text = html_module.unescape(text).replace("\u00a0", " ")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- cutting the quote at the HTML level ------------------------------------------------

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


class _EventCollector(HTMLParser):
    """Start tags, end tags and visible text, with their offsets in the source."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[_Event] = []
        self.skip = 0
        self.line_starts = [0]
        for match in re.finditer("\n", source):
            self.line_starts.append(match.end())

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_starts[min(line, len(self.line_starts)) - 1] + col

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if "@" in tag:
            self.handle_data(self.get_starttag_text() or "")
            return
        if tag == "body":
            self.skip = 0
        if tag in _SKIP and tag not in _VOID:
            self.skip += 1
        if self.skip:
            return
        self.events.append(_Event("start", self._offset(), tag, {k.lower(): (v or "") for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.skip = 0
            return
        if tag in _SKIP and self.skip:
            self.skip -= 1
            return
        if not self.skip:
            self.events.append(_Event("end", self._offset(), tag))

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
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

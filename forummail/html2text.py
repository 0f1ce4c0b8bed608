"""HTML email bodies to plain text, with the stdlib ``html.parser`` only.

``html_to_text`` renders roughly as a browser would and a person would copy it: block
elements start new lines, paragraphs are separated by a blank line, lists become
"- item" (or "1. item"), links "text (url)" when the text is not the url itself,
``<blockquote>`` content is prefixed with "> " per line so the plain-text trimmer sees
the quote, ``<hr>`` becomes a rule line, and ``<style>``, ``<script>``, ``<head>`` and
comments are dropped.

``VisibleParser`` decides what a reader sees (no ``<style>``, ``<head>``...), for the
renderer here and for the quote cutter in ``htmlquote``.
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

log = logging.getLogger(__name__)

_BLOCK = frozenset(
    "address article aside blockquote caption center dd details dialog dir div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hgroup hr legend li main menu nav ol p pre section summary table "
    "tbody tfoot thead tr ul".split()
)
# Elements with a margin in a browser: a blank line before and after.
_PARAGRAPH = frozenset("p h1 h2 h3 h4 h5 h6 ul ol dl pre table figure".split())
# Never shown; none is a void element, so each start has an end that closes it.
_SKIP = frozenset("style script head title template xml object iframe svg".split())
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_SPACE_RE = re.compile(r"[ \t\n\r\f]+")
_RULE = "-" * 10


class VisibleParser(HTMLParser):
    """An ``HTMLParser`` that passes on only what a mail reader shows.

    The one place that decides what is hidden, for both the renderer and the quote
    cutter: the content of ``_SKIP`` elements is dropped, and an unescaped address
    ("Jane <jane@example.com> wrote:") is text, not a tag.  Subclasses implement
    ``visible_start``, ``visible_end`` and ``visible_text``.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip = 0  # depth inside _SKIP elements

    def visible_start(self, tag: str, attrs: dict[str, str]) -> None:
        raise NotImplementedError

    def visible_end(self, tag: str) -> None:
        raise NotImplementedError

    def visible_text(self, data: str) -> None:
        raise NotImplementedError

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if "@" in tag:
            self.handle_data(self.get_starttag_text() or "")
            return
        if tag == "body":
            self.skip = 0  # a <head> or <style> left open must not hide the whole body
        if tag in _SKIP:
            self.skip += 1
        if not self.skip:
            self.visible_start(tag, {k.lower(): (v or "") for k, v in attrs})

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # "<div/>" opens and closes; a void element ("<br/>") has no end to close.
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
        self.visible_end(tag)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.visible_text(data)


class _Renderer(VisibleParser):
    """Collects lines of (quote depth, text) while parsing."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[int, str]] = []
        self.cur: list[str] = []
        self.cur_depth = 0
        self.depth = 0  # blockquote nesting
        self.pending = 0  # 1: start a new line, 2: leave a blank line
        self.space = False
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

    def visible_start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag in _BLOCK:
            # Outlook writes every line as <p class=MsoNormal> without margins.
            mso = tag == "p" and attrs.get("class", "").lower().startswith("mso")
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
            self.links.append((attrs.get("href", "").strip(), []))

    def visible_end(self, tag: str) -> None:
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

    def visible_text(self, data: str) -> None:
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

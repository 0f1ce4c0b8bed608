"""html_to_text and strip_html_quote on small inline documents."""

from __future__ import annotations

import pytest

from forummail.html2text import html_to_text
from forummail.htmlquote import strip_html_quote
from forummail.trim import trim_reply


def test_blocks_breaks_and_paragraphs() -> None:
    html = "<div>One</div><div>Two<br>Three</div><p>Para one</p><p>Para two</p>tail"
    assert html_to_text(html) == "One\nTwo\nThree\n\nPara one\n\nPara two\n\ntail"


def test_empty_div_with_br_is_a_blank_line() -> None:
    assert html_to_text("<div>a</div><div><br></div><div>b</div>") == "a\n\nb"


def test_whitespace_collapses_like_a_browser() -> None:
    assert html_to_text("<p>  Hello \n\t  <b>big</b>\n world  </p>") == "Hello big world"


def test_entities_and_nbsp() -> None:
    assert html_to_text("<p>a &amp; b &lt;c&gt; &eacute; &#8364;&nbsp;5</p>") == "a & b <c> é € 5"


def test_lists() -> None:
    html = "<p>Items:</p><ul><li>one</li><li>two<ul><li>inner</li></ul></li></ul><ol><li>first</li><li>second</li></ol>"
    assert html_to_text(html) == "Items:\n\n- one\n- two\n  - inner\n\n1. first\n2. second"


def test_links() -> None:
    html = (
        '<a href="https://example.com/x">the docs</a>, <a href="https://example.com/">https://example.com</a>, '
        '<a href="mailto:bob@example.com">Bob</a>, <a href="#top">top</a>'
    )
    assert html_to_text(html) == "the docs (https://example.com/x), https://example.com, Bob, top"


def test_blockquote_prefixed() -> None:
    html = "<div>Answer</div><blockquote>Quoted<br>two<blockquote>deeper</blockquote></blockquote><div>after</div>"
    assert html_to_text(html) == "Answer\n> Quoted\n> two\n> > deeper\nafter"


def test_dropped_elements() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body><!-- comment -->"
        "<script>alert(1)</script><p>Visible</p><!--[if gte mso 9]><xml>junk</xml><![endif]--></body></html>"
    )
    assert html_to_text(html) == "Visible"


def test_hr_becomes_a_rule_line() -> None:
    text = html_to_text("<div>Reply</div><hr><b>From:</b> Bob<br><b>Sent:</b> Mon<br><b>To:</b> Al<br>"
                        "<b>Subject:</b> Hi<br><br>Old")
    assert text.split("\n")[:4] == ["Reply", "", "----------", ""]
    assert trim_reply(text).text == "Reply"


def test_pre_keeps_whitespace() -> None:
    assert html_to_text("<pre>a  b\n  c</pre>") == "a  b\n  c"


def test_table_cells_and_rows() -> None:
    assert html_to_text("<table><tr><th>Subject:</th><td>Hi</td></tr><tr><td>a</td><td>b</td></tr></table>") == \
        "Subject: Hi\na b"


def test_outlook_paragraphs() -> None:
    html = ('<p class=MsoNormal>Line one<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>'
            '<p class=MsoNormal>Line two</p><p class=MsoNormal></p><p class=MsoNormal>Line three</p>')
    assert html_to_text(html) == "Line one\n\nLine two\n\nLine three"


def test_unescaped_address_survives() -> None:
    html = "<div>On Sep 4, 2025, Jane Roe <jane@example.com> wrote:</div>"
    assert html_to_text(html) == "On Sep 4, 2025, Jane Roe <jane@example.com> wrote:"


@pytest.mark.parametrize("html", ["", "<", "<<>>", "<p", "</div></div>", "<![if x]>a", "&#xffffffff;", "<a href>x"])
def test_broken_html_does_not_raise(html: str) -> None:
    assert isinstance(html_to_text(html), str)
    assert isinstance(strip_html_quote(html), str)


# --- strip_html_quote ------------------------------------------------------------------

REPLY = "<div>My answer</div>"
QUOTED = [
    '<div class="gmail_quote"><div class="gmail_attr">On Mon, A wrote:<br></div>'
    '<blockquote class="gmail_quote">old</blockquote></div>',
    '<blockquote type="cite"><div>On 2016-03-25, John wrote:</div><div>old</div></blockquote>',
    '<div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>From:</b> Bob<br>old</div><div>old body</div>',
    '<div id="x_divRplyFwdMsg"><b>From:</b> Bob</div><div>old</div>',
    '<span id="OLK_SRC_BODY_SECTION"><div>From: Bob</div><div>old</div></span>',
    '<div class="moz-cite-prefix">On 26.06.2014 14:41, A wrote:<br></div><blockquote type="cite">old</blockquote>',
    '<div class="ydp9b1f0a55yahoo_quoted"><div>On Thursday, Jane wrote:</div><div>old</div></div>',
    '<div style="border:none;border-top:solid #B5C4DF 1.0pt"><p><b>From:</b> Bob<br><b>Sent:</b> Mon</p></div>'
    '<p>old</p>',
    '<div style="border-top: 1px solid"><b>От:</b> Bob<br><b>Отправлено:</b> Mon</div><div>old</div>',
    '<hr id="stopSpelling">Date: Mon<br>From: Bob<br>old',
    '<div class="protonmail_quote">On Mon, A wrote:<blockquote>old</blockquote></div>',
]


@pytest.mark.parametrize("quoted", QUOTED)
def test_client_markers_cut(quoted: str) -> None:
    cut = strip_html_quote("<html><body>" + REPLY + quoted + "</body></html>")
    assert "old" not in cut
    assert trim_reply(html_to_text(cut)).text == "My answer"


def test_forward_in_gmail_quote_is_kept() -> None:
    html = REPLY + '<div class="gmail_quote">---------- Forwarded message ---------<br>From: Bob<br>Body</div>'
    assert strip_html_quote(html) == html


def test_apple_forward_blockquote_is_kept() -> None:
    html = REPLY + '<blockquote type="cite"><div>Begin forwarded message:</div><div>Body</div></blockquote>'
    assert strip_html_quote(html) == html


def test_inline_answers_are_left_to_the_text_trimmer() -> None:
    html = ('<div>Hi</div><div class="gmail_quote"><div class="gmail_attr">On Mon, A wrote:</div>'
            '<blockquote class="gmail_quote">Question?</blockquote><div>Answer.</div>'
            '<blockquote class="gmail_quote">Second?</blockquote><div>Second answer.</div></div>')
    assert strip_html_quote(html) == html
    assert trim_reply(html_to_text(html)).text == "Hi\n> Question?\nAnswer.\n> Second?\nSecond answer."


def test_marker_with_nothing_before_is_not_cut() -> None:
    html = '<div class="gmail_quote">On Mon, A wrote:<blockquote>old</blockquote></div><div>Bottom answer</div>'
    assert strip_html_quote(html) == html
    assert trim_reply(html_to_text(html)).text == "Bottom answer"


def test_what_the_renderer_hides_the_cutter_ignores() -> None:
    """One rule of what is hidden (html2text.VisibleParser), for the renderer and the cutter alike."""
    hidden_marker = "<template><div class=\"gmail_quote\">draft</div></template>"
    html = ("<head><title>Title only</title></head>" + hidden_marker + "<div>Answer</div>"
            '<div class="gmail_quote">On Mon, A wrote:<blockquote>old</blockquote></div>')
    cut = strip_html_quote(html)
    assert cut.endswith("<div>Answer</div>")  # the hidden marker is no cut, the visible one is
    assert html_to_text(cut) == "Answer"
    # A hidden <title> is not text before the marker: nothing visible precedes it, so no cut.
    only_hidden = ("<head><title>Title only</title><style>p{}</style></head>"
                   '<div class="gmail_quote">On Mon, A wrote:<blockquote>old</blockquote></div><div>Bottom</div>')
    assert strip_html_quote(only_hidden) == only_hidden
    assert "Title only" not in html_to_text(only_hidden)
    # An open <head> ends at <body>: the rest is visible to both.
    broken = "<head><title>T<body><div>Answer</div><div class=\"gmail_quote\">On Mon, A wrote:<br>old</div>"
    assert html_to_text(strip_html_quote(broken)) == "Answer"

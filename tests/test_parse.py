"""parse_message and extract_reply on messages built inline; neither ever raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forummail import html2text
from forummail.extract import body_text, extract_from_parsed, extract_reply, remove_addresses
from forummail.parse import parse_message

SEP = "-- Write your reply above this line --"
REPLY_ADDR = "replies+1f.2a.4e20.abcdefghijklmnop@example.com"


def simple(body: bytes, headers: bytes = b"", content_type: bytes = b"text/plain; charset=utf-8",
           cte: bytes = b"8bit") -> bytes:
    return (
        b"From: Alice Example <alice@example.com>\r\nTo: " + REPLY_ADDR.encode() + b"\r\n"
        b"Subject: Re: Task 42\r\nMessage-ID: <abc@mail.example.com>\r\n"
        b"Date: Mon, 03 Jun 2024 10:00:00 +0200\r\nMIME-Version: 1.0\r\n"
        + headers + b"Content-Type: " + content_type + b"\r\nContent-Transfer-Encoding: " + cte + b"\r\n\r\n" + body
    )


def test_simple_message_fields() -> None:
    raw = simple(
        b"Hello there\r\n",
        b"Cc: Bob <bob@example.com>, carol@example.com\r\nDelivered-To: " + REPLY_ADDR.encode() + b"\r\n"
        b"X-Original-To: replies@example.com\r\nIn-Reply-To: <n42.tok@example.com>\r\n"
        b"References: <a@x> <n42.tok@example.com>\r\n",
    )
    mail = parse_message(raw)
    assert mail.from_addr == "alice@example.com"
    assert mail.from_name == "Alice Example"
    assert mail.subject == "Re: Task 42"
    assert mail.message_id == "<abc@mail.example.com>"
    assert mail.to == [REPLY_ADDR]
    assert mail.cc == ["bob@example.com", "carol@example.com"]
    assert mail.delivered_to == [REPLY_ADDR]
    assert mail.x_original_to == ["replies@example.com"]
    assert mail.in_reply_to == "<n42.tok@example.com>"
    assert mail.references == ["<a@x>", "<n42.tok@example.com>"]
    assert mail.date == datetime(2024, 6, 3, 8, 0, tzinfo=UTC)
    assert mail.date is not None and mail.date.utcoffset() == timedelta(hours=2)
    assert mail.plain == "Hello there\n"
    assert mail.html is None
    assert mail.attachments == []
    assert mail.header("Subject") == "Re: Task 42"
    assert mail.headers["From"] == "Alice Example <alice@example.com>"


def test_encoded_words_decoded() -> None:
    raw = (
        b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\r\n"
        b"Subject: =?iso-8859-1?q?R=E9ponse_=E0_la_t=E2che?=\r\n\r\nbody"
    )
    mail = parse_message(raw)
    assert mail.from_name == "Jürgen Müller"
    assert mail.subject == "Réponse à la tâche"


def test_raw_utf8_headers() -> None:
    mail = parse_message("From: Zoë <zoe@example.com>\r\nSubject: Über café\r\n\r\nbody".encode())
    assert mail.from_name == "Zoë"
    assert mail.subject == "Über café"


def test_header_crlf_tricks_stay_on_one_line() -> None:
    raw = b"From: a@example.com\r\nSubject: =?utf-8?q?hi=0D=0ABcc:_evil@example.com?=\r\n\r\nbody"
    mail = parse_message(raw)
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert mail.subject.startswith("hi")
    assert "Bcc" not in mail.message


def test_missing_headers() -> None:
    mail = parse_message(b"\r\njust a body\r\n")
    assert mail.from_addr == "" and mail.subject == "" and mail.to == [] and mail.date is None
    assert mail.message_id == "" and mail.references == []
    assert "just a body" in mail.plain


def test_dates() -> None:
    assert parse_message(b"Date: garbage\r\n\r\nx").date is None
    minus_zero = parse_message(b"Date: Mon, 03 Jun 2024 10:00:00 -0000\r\n\r\nx").date
    assert minus_zero == datetime(2024, 6, 3, 10, 0, tzinfo=UTC)
    assert minus_zero is not None and minus_zero.tzinfo is not None
    est = parse_message(b"Date: Mon, 3 Jun 2024 10:00:00 -0500 (EST)\r\n\r\nx").date
    assert est is not None and est.utcoffset() == timezone(timedelta(hours=-5)).utcoffset(None)


def test_charset_fallbacks() -> None:
    # Declared us-ascii but really utf-8; declared utf-8 but really cp1252; unknown charset.
    assert parse_message(simple("Grüße".encode(), content_type=b"text/plain; charset=us-ascii")).plain == "Grüße"
    assert parse_message(simple("“smart” café".encode("cp1252"))).plain == "“smart” café"
    assert parse_message(simple(b"caf\xe9", content_type=b"text/plain; charset=x-unknown")).plain == "café"
    assert parse_message(simple("Привет".encode("koi8-r"), content_type=b"text/plain; charset=koi8-r")).plain \
        == "Привет"
    assert parse_message(simple(b"x", content_type=b"text/plain; charset=base64")).plain == "x"


def test_bad_transfer_encodings() -> None:
    assert isinstance(parse_message(simple(b"SGVsbG8=!!!notbase64\r\n===", cte=b"base64")).plain, str)
    assert parse_message(simple(b"caf=C3=A9 =ZZ bad=\r\nend", cte=b"quoted-printable")).plain.startswith("café")


def test_multipart_alternative_prefers_plain_and_keeps_html() -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg.set_content("Plain reply\n")
    msg.add_alternative("<p>HTML reply</p>", subtype="html")
    mail = parse_message(msg.as_bytes())
    assert mail.plain == "Plain reply\n"
    assert body_text(mail) == "Plain reply\n"
    assert mail.html is not None and "HTML reply" in mail.html
    assert mail.attachments == []


def test_html_only_is_converted() -> None:
    mail = parse_message(simple(b"<div>Hi<br>there</div>", content_type=b"text/html; charset=utf-8"))
    assert mail.plain == "" and mail.html == "<div>Hi<br>there</div>"  # parse gives the part as it is
    assert body_text(mail) == "Hi\nthere"


def test_empty_plain_falls_back_to_html() -> None:
    msg = EmailMessage()
    msg.set_content("  \n")
    msg.add_alternative("<p>Real text</p>", subtype="html")
    mail = parse_message(msg.as_bytes())
    assert body_text(mail) == "Real text"


def test_attachments_inline_images_and_named_text_parts() -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg.set_content("See attached\n")
    msg.add_alternative('<p>See <img src="cid:logo1"></p>', subtype="html")
    html_part = msg.get_payload()[1]
    html_part.add_related(b"\x89PNG...", maintype="image", subtype="png", cid="<logo1>", filename="logo.png")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="../../report.pdf")
    msg.add_attachment("log line\n", subtype="plain", filename="log.txt")
    inner = EmailMessage()
    inner["Subject"] = "forwarded"
    inner.set_content("inner body")
    msg.add_attachment(inner)
    mail = parse_message(msg.as_bytes())
    assert mail.plain == "See attached\n"
    by_name = {a.filename: a for a in mail.attachments}
    assert set(by_name) == {"logo.png", "report.pdf", "log.txt", "message.eml"}
    assert by_name["logo.png"].content_id == "logo1" and by_name["logo.png"].inline
    assert by_name["logo.png"].data == b"\x89PNG..."
    assert by_name["report.pdf"].data == b"%PDF-1.4" and by_name["report.pdf"].content_type == "application/pdf"
    assert by_name["log.txt"].data == b"log line\n"
    assert b"inner body" in by_name["message.eml"].data


def test_broken_mime() -> None:
    raw = (b"Content-Type: multipart/mixed; boundary=zzz\r\n\r\n--zzz\r\nContent-Type: text/plain\r\n\r\n"
           b"part one\r\n--zzz\r\nContent-Type: image/png\r\n")  # no closing boundary, truncated part
    mail = parse_message(raw)
    assert "part one" in mail.plain


def test_format_flowed_unwrapped() -> None:
    body = b"This is a long \r\nline that wraps.\r\n> quoted \r\n> more\r\n-- \r\nsig"
    mail = parse_message(simple(body, content_type=b"text/plain; charset=utf-8; format=flowed"))
    assert mail.plain.split("\n")[:3] == ["This is a long line that wraps.", "> quoted more", "-- "]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    mail = parse_message(raw)
    assert isinstance(mail.plain, str)
    assert isinstance(extract_reply(raw, SEP, [REPLY_ADDR]), str)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([
    b"From: ", b"Subject: =?utf-8?b?", b"?=", b"Content-Type: multipart/mixed; boundary=b", b"--b", b"--b--",
    b"Content-Transfer-Encoding: base64", b"Content-Type: text/html; charset=", b"<div>", b"</blockquote>",
    b"\r\n", b"\n", b"\r\n\r\n", b"\xff\xfe", b"=C3", b"> ", b"On Mon, X wrote:", b"Date: ", b"\x00",
    b"Content-Type: message/rfc822", b"utf-8", b"x-bogus", b"=?", b"Content-Disposition: attachment; filename*=",
]), max_size=60))
def test_mime_shaped_noise_never_raises(chunks: list[bytes]) -> None:
    raw = b"".join(chunks)
    assert isinstance(parse_message(raw).plain, str)
    assert isinstance(extract_reply(raw, SEP, [REPLY_ADDR]), str)


# --- extract_reply ---------------------------------------------------------------------


def test_extract_cuts_separator_and_strips_token() -> None:
    body = (
        "Fixed in r123.\r\n\r\nOn Mon, 3 Jun 2024 at 10:00, Forum <" + REPLY_ADDR + "> wrote:\r\n"
        "> " + SEP + "\r\n> Alice commented on task 42\r\n"
    ).encode()
    assert extract_reply(simple(body), SEP, [REPLY_ADDR]) == "Fixed in r123."


def test_extract_never_posts_the_token() -> None:
    body = ("Please write to " + REPLY_ADDR.upper() + " or mailto:" + REPLY_ADDR + " (or abcdefghijklmnop).\r\n")
    result = extract_reply(simple(body.encode()), SEP, [REPLY_ADDR])
    assert "abcdefghijklmnop" not in result.lower()
    assert result.startswith("Please write to")


def test_remove_addresses_forms() -> None:
    text = "a <%s> b [mailto:%s] c %s d" % (REPLY_ADDR, REPLY_ADDR, REPLY_ADDR.replace("+", "%2B").replace("@", "%40"))
    assert remove_addresses(text, [REPLY_ADDR]) == "a  b  c  d"


def test_extract_html_only_reply() -> None:
    html = (
        '<div dir="ltr">Works for me.</div><div class="gmail_quote"><div class="gmail_attr">On Mon, Forum &lt;'
        + REPLY_ADDR + '&gt; wrote:</div><blockquote class="gmail_quote"><p>' + SEP + '</p>Alice said hi'
        '</blockquote></div>'
    )
    raw = simple(html.encode(), content_type=b"text/html; charset=utf-8")
    assert extract_reply(raw, SEP, [REPLY_ADDR]) == "Works for me."


def test_extract_converts_html_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parse hands the HTML over as it is; extract cuts the quote and converts it, once."""
    renders: list[str] = []
    real_result = html2text._Renderer.result

    def counting_result(self: html2text._Renderer) -> str:  # a spy on the pure converter
        text = real_result(self)
        renders.append(text)
        return text

    monkeypatch.setattr(html2text._Renderer, "result", counting_result)
    html = (
        '<div dir="ltr">Works for me.</div><div id="divRplyFwdMsg"><b>From:</b> Forum<br><b>Sent:</b> Monday'
        '<br><b>To:</b> Alice</div><div>Alice said hi</div>'
    )
    for raw in (simple(html.encode(), content_type=b"text/html; charset=utf-8"),
                _alternative(" \r\n", html)):  # a blank plain part counts as none
        renders.clear()
        assert extract_reply(raw, SEP, [REPLY_ADDR]) == "Works for me."
        assert renders == ["Works for me."]  # converted once, after the quote was cut


def _alternative(plain: str, html: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "alice@example.com"
    msg["Subject"] = "Re: Task 42"
    msg.set_content(plain)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def test_extract_forward_subject_keeps_forwarded_content() -> None:
    body = b"FYI\r\n\r\nFrom: Bob\r\nSent: Monday\r\nTo: Alice\r\nSubject: Plan\r\n\r\nThe plan."
    raw = simple(body).replace(b"Subject: Re: Task 42", b"Subject: Fwd: Plan")
    assert extract_reply(raw) == "FYI\n\nFrom: Bob\nSent: Monday\nTo: Alice\nSubject: Plan\n\nThe plan."
    assert extract_reply(simple(body)) == "FYI"


def test_extract_nbsp_normalised() -> None:
    raw = simple("Hi\u00a0there\u00a0\r\n".encode())
    assert extract_reply(raw) == "Hi there"


def _gmail_reply() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Alice Example <alice@example.com>"
    msg["To"] = "Forum reply <%s>" % REPLY_ADDR
    msg["Subject"] = "Re: [#42] Task =?utf-8?q?=E2=80=93?= phase 2"
    msg["Date"] = "Mon, 03 Jun 2024 10:00:00 +0200"
    msg["Message-ID"] = "<abc@mail.example.com>"
    msg["In-Reply-To"] = "<n42.tok@example.com>"
    msg["References"] = "<task.42@example.com> <n42.tok@example.com>"
    msg.set_content("Fixed.\n\nOn Mon, Forum wrote:\n> " + SEP + "\n")
    msg.add_alternative("<div>Fixed.</div><blockquote>" + SEP + "</blockquote>", subtype="html")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="r\u00e9sum\u00e9.pdf")
    return msg.as_bytes()


def test_each_header_value_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14: the fetcher read a reply through 44 header parses, Content-Type alone a dozen times.

    Every read still gives what policy.default gives (test below), but no
    (name, value) of one email is run through the header parser twice, though
    the header is parsed first alone, then with the body.
    """
    from email import headerregistry

    from forummail import autoreply, reports

    raw = _gmail_reply()  # built before the spy: building parses headers too
    parsed: list[tuple[str, str]] = []
    real_call = headerregistry.HeaderRegistry.__call__

    def counting_call(self: headerregistry.HeaderRegistry, name: str, value: str) -> object:  # a spy
        parsed.append((name.lower(), value))
        return real_call(self, name, value)

    monkeypatch.setattr(headerregistry.HeaderRegistry, "__call__", counting_call)
    mail = parse_message(raw)
    assert autoreply.why_automatic(mail, []) is None and not reports.candidate(mail)
    assert mail.header("From") == "Alice Example <alice@example.com>" and mail.from_sole
    assert extract_from_parsed(mail, SEP, [REPLY_ADDR]) == "Fixed."
    assert [a.filename for a in mail.attachments] == ["r\u00e9sum\u00e9.pdf"]
    assert len(parsed) == len(set(parsed)), sorted(p for p in parsed if parsed.count(p) > 1)


@pytest.mark.parametrize(("name", "value"), [
    ("From", "bob@example.com <mallory@evil.example>"),
    ("From", '"=?utf-8?q?Bob?=" <bob@example.com>'),  # an encoded word inside a quoted string
    ("From", "=?utf-8?q?Eve=0D=0ABcc:_victim@example.org?= <eve@example.org>"),
    ("From", "Bob\r\n <bob@example.com>"),  # folded
    ("From", "J\udcc3\udcbcrgen <j@example.de>"),  # raw 8-bit bytes, as the parser keeps them
    ("To", "a@example.com, (comment <c@example.com>) b@example.com, Group: d@example.com;"),
    ("Subject", "=?utf-8?q?caf=C3=A9?= =?utf-8?q?_au_lait?="),
    ("Date", "Mon, 03 Jun 2024 10:00:00 -0000"),
    ("Date", "yesterday"),
    ("Content-Type", 'text/plain; charset="utf-8"; format=flowed (a comment)'),
    ("Content-Disposition", 'attachment; filename="=?utf-8?q?r=C3=A9sum=C3=A9.pdf?="'),
    ("Message-ID", "<a@b> trailing"),
])
def test_read_once_policy_reads_as_policy_default(name: str, value: str) -> None:
    """The remembered header object is the very one policy.default builds: same text, class, defects, fields."""
    from email import policy

    from forummail.parsepolicy import read_once

    def read(policy_: Any) -> tuple[object, ...]:
        try:
            header = policy_.header_fetch_parse(name, value)
        except Exception as exc:  # policy.default gives up on some: so must we, alike
            return (type(exc), str(exc))
        # A registry makes a class per read (_UniqueAddressHeader...): compare what it derives from.
        return (str(header), type(header).__name__, type(header).__bases__, [type(d) for d in header.defects],
                *[getattr(header, a, None) for a in ("addresses", "datetime", "content_type", "params",
                                                      "content_disposition")])

    expected = read(policy.default)
    read_once_policy = read_once()
    assert read(read_once_policy) == expected  # parsed
    assert read(read_once_policy) == expected  # remembered


def test_remove_addresses_forms_in_any_case() -> None:
    """re.IGNORECASE matches U+017F to s and U+212A to k: the token is removed in those spellings too."""
    text = "write to " + REPLY_ADDR.replace("s", "\u017f").replace("k", "\u212a") + " please"
    assert remove_addresses(text, [REPLY_ADDR]) == "write to  please"
    text = "the code ABCDEFGHIJ\u212aLMNOP and \u00e9"
    assert remove_addresses(text, [REPLY_ADDR]) == "the code  and \u00e9"

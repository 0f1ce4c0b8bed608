"""Poison: mail built to break what reads it (issue 15), beside hostile.py's random mail.

Not random: every kind is listed, so a failure names the kind.  Text that
decodes to lone surrogates or NULs (encoded words in utf-7, utf-16, utf-32,
CESU-style UTF-8), raw bytes that are no charset at all, controls and
bidirectional overrides, put in every header the fetcher reads and in the
body, from a stranger and from a member with a valid token (so that the
posting path sees it too); and broken structure: deep, wide, unclosed,
without boundaries, bare CRs; and header fields too long for the header
parser, or for PostgreSQL's index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

# Header values (raw bytes) that decode to something a database, a log or an answer may refuse.
VALUES: tuple[bytes, ...] = (
    b"=?utf-7?Q?+2AA-?=",                 # U+D800
    b"=?utf-7?Q?+3/8-?=",                 # U+DFFF
    b"=?utf-7?B?KzJBQS0=?=",              # U+D800, base64 of the utf-7
    b"=?UTF-7?q?a+2AA-b+AAA-c?=",         # a surrogate and a NUL in one word
    b"=?unicode-1-1-utf-7?q?+2AA-?=",     # an alias of utf-7
    b"=?utf-7*en?q?+2AA-?=",              # RFC 2231 language in an encoded word
    b"=?utf-8?b?AA==?=",                  # NUL
    b"=?utf-8?q?a=00b?=",                 # NUL, quoted-printable
    b"=?utf-8?q?=ED=A0=80?=",             # a surrogate encoded in UTF-8 (invalid UTF-8)
    b"=?utf-16-le?b?ANg=?=",              # a lone surrogate in UTF-16
    b"=?utf-16?b?2AA=?=",                 # the same, big-endian, no BOM
    b"=?utf-32-le?b?ANgAAA==?=",          # a surrogate code point in UTF-32
    b"=?utf-8?b?4oCuZXhlLnBkZg==?=",      # U+202E RIGHT-TO-LEFT OVERRIDE
    b"=?x-unknown?q?=FF=FE?=",            # an unknown charset
    b"=?utf-8?q?=0D=0ABcc:_x@y.example?=",  # a line break in a word
    b"a\x00b",                            # a raw NUL
    b"\xed\xa0\x80",                      # a raw surrogate in UTF-8
    b"\xc0\x80",                          # an overlong NUL
    b"\xff\xfe\xfd",                      # no charset at all
    b"\x1b[31mred\x1b[0m \x7f",           # terminal escapes
    b"=?utf-7?Q?+2AA-?=" * 40,            # many
)

HEADERS: tuple[bytes, ...] = (b"Subject", b"Message-ID", b"From-name", b"From-local", b"To", b"Cc",
                              b"References", b"In-Reply-To", b"Date", b"X-Mailer", b"Content-ID",
                              b"filename")

# Bodies: (Content-Type, body bytes).
BODIES: tuple[tuple[bytes, bytes], ...] = (
    (b"text/plain; charset=utf-7", b"Text +2AA- with a surrogate\n"),
    (b"text/plain; charset=utf-7", b"Text +AAA- with a NUL\n"),
    (b"text/plain; charset=utf-8", b"Raw NUL \x00 and surrogate \xed\xa0\x80\n"),
    (b"text/plain; charset=utf-16-le", b"\x00\xd8A\x00"),
    (b"text/plain; charset=utf-32", b"\x00\xd8\x00\x00"),
    (b"text/html; charset=utf-7", b"<p>HTML +2AA- surrogate</p>"),
    (b"text/html; charset=utf-8", b"<p>&#xD800; &#0; &#x202E;exe.pdf</p>"),
    (b"text/plain; charset=\"+2AA-\"", b"a charset name that is poison\n"),
    (b"text/plain; charset=utf-8; format=flowed", b"flowed \x00 \n\xff\n"),
    (b"text/plain\x00; charset=utf-8", b"NUL in the content type\n"),
)


@dataclass(frozen=True)
class Poison:
    kind: str
    raw: bytes


def _mail(sender: bytes, to: bytes, *, subject: bytes = b"Re: poison", message_id: bytes = b"",
          extra: bytes = b"", content_type: bytes = b"text/plain; charset=utf-8",
          body: bytes = b"Some words.\n") -> bytes:
    head = (b"From: " + sender + b"\r\nTo: " + to + b"\r\nSubject: " + subject
            + (b"\r\nMessage-ID: " + message_id if message_id else b"")
            + b"\r\nMIME-Version: 1.0\r\n" + extra + b"Content-Type: " + content_type + b"\r\n\r\n")
    return head + body


def _in_header(header: bytes, value: bytes, sender: bytes, to: bytes, n: int) -> bytes:
    msgid = b"<poison.%d@poison.example>" % n
    if header == b"From-name":
        return _mail(value + b" <" + sender + b">", to, message_id=msgid)
    if header == b"From-local":
        return _mail(value + sender, to, message_id=msgid)
    if header == b"Subject":
        return _mail(sender, to, subject=value, message_id=msgid)
    if header == b"Message-ID":
        return _mail(sender, to, message_id=value)
    if header == b"To":
        return _mail(sender, to + b", " + value, message_id=msgid)
    if header == b"filename":
        body = (b"--p\r\nContent-Type: text/plain\r\n\r\nSee the file.\r\n--p\r\nContent-Type: application/pdf\r\n"
                b"Content-Disposition: attachment; filename=\"" + value + b"\"\r\n\r\n%PDF\r\n"
                b"--p\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment;"
                b" filename*=utf-7''%2B2AA-" + value.replace(b" ", b"%20")[:40] + b"\r\n\r\n%PDF\r\n--p--\r\n")
        return _mail(sender, to, message_id=msgid, content_type=b"multipart/mixed; boundary=p", body=body)
    return _mail(sender, to, message_id=msgid, extra=header + b": " + value + b"\r\n")


def _structures(sender: bytes, to: bytes) -> Iterator[tuple[str, bytes]]:
    def nested(depth: int) -> bytes:
        opens = b"".join(b"--d%d\r\nContent-Type: multipart/mixed; boundary=d%d\r\n\r\n" % (i - 1, i)
                         for i in range(1, depth))
        return opens + b"--d%d\r\nContent-Type: text/plain\r\n\r\nDeep.\r\n" % (depth - 1)
    for depth in (19, 21, 60, 2000):
        yield "nested %d" % depth, _mail(sender, to, content_type=b"multipart/mixed; boundary=d0", body=nested(depth))
    for parts in (150, 201, 5000):
        body = b"".join(b"--w\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(parts)) + b"--w--\r\n"
        yield "%d parts" % parts, _mail(sender, to, content_type=b"multipart/mixed; boundary=w", body=body)
    messages = b"Content-Type: text/plain\r\n\r\nInner.\r\n"
    for _ in range(40):
        messages = b"Content-Type: message/rfc822\r\n\r\nFrom: x@y.example\r\n" + messages
    yield "40 attached messages", _mail(sender, to, content_type=b"message/rfc822",
                                        body=b"From: x@y.example\r\n" + messages)
    yield "unclosed boundary", _mail(sender, to, content_type=b"multipart/mixed; boundary=u",
                                     body=b"--u\r\nContent-Type: text/plain\r\n\r\nOpen.\r\n--u\r\n")
    yield "no boundary", _mail(sender, to, content_type=b"multipart/mixed", body=b"--x\r\n\r\nNone.\r\n")
    yield "empty boundary", _mail(sender, to, content_type=b'multipart/mixed; boundary=""',
                                  body=b"--\r\n\r\nEmpty.\r\n----\r\n")
    yield "bare CRs", _mail(sender, to, content_type=b"multipart/mixed; boundary=c",
                            body=b"--c\rContent-Type: text/plain\r\rCR.\r--c--\r").replace(b"\r\n", b"\r")
    yield "no header end", b"From: " + sender + b"\r\nTo: " + to + b"\r\nSubject: x\r\nno colon here\x00\xff"
    yield "only NULs", b"\x00" * 500
    # Headers that cost CPython's header parser minutes (a From of 50,000 dots: over a minute),
    # or its recursion (nested comments in the Content-Type it parses itself): refused by
    # their size, measured on the bytes, before any parsing.
    def fold(value: bytes) -> bytes:
        return b"\r\n ".join(value[i:i + 900] for i in range(0, len(value), 900))
    yield "a From of 50,000 dots", _mail(fold(b"." * 50000), to)
    yield "a To of 280 KB of encoded words", _mail(sender, fold(b" ".join([b"=?utf-8?q?a?="] * 20000)))
    yield "a header of 2,000 small fields", _mail(sender, to, extra=b"".join(
        b"X-Filler-%d: %s\r\n" % (i, b"x" * 60) for i in range(2000)))
    yield "a Content-Type of 600 comments", _mail(sender, to, content_type=b"text/plain; " + b"(" * 600)
    yield "a Message-ID of 1,000 characters of U+20000", _mail(sender, to, message_id=(
        "<" + "".join(chr(0x20000 + i) for i in range(1000)) + "@evil.example>").encode())
    yield "base64 of a surrogate", _mail(sender, to, extra=b"Content-Transfer-Encoding: base64\r\n",
                                         content_type=b"text/plain; charset=utf-7", body=b"KzJBQS0=\r\n")


def poison(member: bytes, member_to: bytes, stranger: bytes = b"mallory@elsewhere.example",
           stranger_to: bytes = b"replies@forum.test") -> Iterator[Poison]:
    """Every kind, from a stranger and from a member (``member_to``: a reply address with a valid token)."""
    n = 0
    for who, sender, to in (("stranger", stranger, stranger_to), ("member", member, member_to)):
        for header in HEADERS:
            for i, value in enumerate(VALUES):
                n += 1
                yield Poison("%s, %s, value %d" % (who, header.decode(), i), _in_header(header, value, sender, to, n))
        for i, (content_type, body) in enumerate(BODIES):
            n += 1
            yield Poison("%s, body %d" % (who, i), _mail(sender, to, content_type=content_type, body=body,
                                                         message_id=b"<poison.%d@poison.example>" % n))
        for kind, raw in _structures(sender, to):
            yield Poison("%s, %s" % (who, kind), raw)

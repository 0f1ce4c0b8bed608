"""A small MIME writer for the one shape of mail we send.

``email.message.EmailMessage`` parses and refolds every header it is given
and builds a header object per header per message: measured in bench/, that
was about 80% of the sender's CPU.  Our mail always has the same shape (a
few headers, a text part, an HTML part, rarely one attachment), so we write
the bytes directly, with the C encoders of ``binascii`` for the bodies.

Header values must already be single lines (``compose.header_text``).
Non-ASCII values are RFC 2047-encoded; long ones folded (RFC 5322 section
2.2.3).  Bodies are quoted-printable (text stays readable in any viewer,
and no line exceeds 76 characters whatever the input).
"""

from __future__ import annotations

import binascii
import secrets
from email.utils import formataddr

CRLF = b"\r\n"


# Their values come from address(), which has encoded the display names
# already: written as they are (folded between addresses when long).
ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "sender"})


def header(name: str, value: str, utf8: bool = False) -> bytes:
    """One header line (folded as needed), CRLF-terminated.

    ``utf8``: the message goes with SMTPUTF8, so an address may have a
    non-ASCII local part, written as UTF-8 (RFC 6532 section 3.2).  Without
    it such an address is a bug upstream (UnicodeEncodeError), never 8-bit
    bytes sent to a server that did not agree to them.
    """
    line = "%s: %s" % (name, value)
    if name.lower() in ADDRESS_HEADERS:
        encoding = "utf-8" if utf8 else "ascii"
        return line.replace(", ", ",\r\n ").encode(encoding) + CRLF if len(line) > 78 \
            else line.encode(encoding) + CRLF
    looks_encoded = "=?" in value
    if value.isascii() and len(line) <= 78 and not looks_encoded:
        return line.encode("ascii") + CRLF
    if value.isascii() and not looks_encoded:
        return _fold(name, value)
    # Non-ASCII, or a value that only looks like an RFC 2047 encoded word
    # ("=?utf-8?q?=0D=0A...?=", typed by a user into a name or subject): encoded
    # itself, so mail clients show it as typed instead of decoding it into
    # line breaks.
    return ("%s: %s" % (name, encoded_words(value, "\r\n "))).encode("ascii") + CRLF


def encoded_words(text: str, separator: str = " ") -> str:
    """RFC 2047 base64 encoded words for ``text``, each within the 75-character limit.

    ``email.header.Header`` does this in pure Python, character by character:
    measured in bench/, it was most of the cost of rendering a notification.
    Each word holds whole UTF-8 characters (RFC 2047 section 5: a character
    is never split across words).
    """
    data = text.encode("utf-8")
    words = []
    start = 0
    while start < len(data):
        end = min(start + 45, len(data))  # 45 bytes -> 60 base64 chars + 12 = 72
        while end < len(data) and 0x80 <= data[end] < 0xC0:
            end -= 1  # never cut inside a character
        words.append("=?utf-8?b?%s?=" % binascii.b2a_base64(data[start:end], newline=False).decode("ascii"))
        start = end
    return separator.join(words)


def _fold(name: str, value: str) -> bytes:
    """An ASCII header folded at spaces to lines of about 78 characters."""
    lines: list[str] = []
    line = name + ":"
    for word in value.split(" "):
        if len(line) + 1 + len(word) > 78 and line.strip() and line != name + ":":
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return "\r\n".join(lines).encode("ascii") + CRLF


def address(name: str, addr: str) -> str:
    """``Name <addr>``: the name quoted or RFC 2047-encoded as needed."""
    if not name:
        return addr
    if "=?" in name or not name.isascii():  # see header(): shown as typed, never decoded into something else
        # One encoded word, as email.utils.formataddr writes it: parsers put a
        # space between adjacent words of a display name.  Only a name too long
        # for one line (over 600 bytes) is split.
        raw = name.encode("utf-8")
        if len(raw) <= 600:
            return "=?utf-8?b?%s?= <%s>" % (binascii.b2a_base64(raw, newline=False).decode("ascii"), addr)
        return "%s <%s>" % (encoded_words(name), addr)
    if not addr.isascii():
        # A UTF-8 local part (SMTPUTF8): formataddr() refuses it, but still
        # quotes the name for us.
        return formataddr((name, "_@_"))[: -len(" <_@_>")] + " <%s>" % addr
    return formataddr((name, addr))


def _qp(text: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True).replace(b"\n", CRLF)


def _part(content_type: str, text: str) -> bytes:
    return (b"Content-Type: " + content_type.encode("ascii") + b'; charset="utf-8"' + CRLF
            + b"Content-Transfer-Encoding: quoted-printable" + CRLF + CRLF + _qp(text))


def _base64(data: bytes) -> bytes:
    lines = [binascii.b2a_base64(data[i:i + 57], newline=False) for i in range(0, len(data), 57)]
    return CRLF.join(lines) + CRLF


def _boundary() -> bytes:
    # "=_" cannot occur in quoted-printable or base64 output: no clash possible.
    return b"=_fm_" + secrets.token_hex(12).encode("ascii")


def body(text: str, html: str | None = None, attachment: tuple[str, bytes] | None = None) -> bytes:
    """The MIME part of a message: its Content-Type header(s), a blank line, the parts.

    Separate from the headers so that one forum message rendered once serves
    all its recipients, who differ only in headers.
    """
    part = _part("text/plain", text)
    head = b"Content-Type: text/plain; charset=\"utf-8\"" + CRLF
    if html is not None:
        b = _boundary()
        part = (b"--" + b + CRLF + part + CRLF + b"--" + b + CRLF + _part("text/html", html)
                + CRLF + b"--" + b + b"--" + CRLF)
        head = b'Content-Type: multipart/alternative; boundary="' + b + b'"' + CRLF
    else:
        part = part.split(CRLF + CRLF, 1)[1]
        head += b"Content-Transfer-Encoding: quoted-printable" + CRLF
    if attachment is not None:
        filename, data = attachment
        b = _boundary()
        part = (b"--" + b + CRLF + head + CRLF + part + CRLF + b"--" + b + CRLF
                + b"Content-Type: application/octet-stream" + CRLF
                + header("Content-Disposition", 'attachment; filename="%s"' % filename.replace('"', ""))
                + b"Content-Transfer-Encoding: base64" + CRLF + CRLF + _base64(data)
                + b"--" + b + b"--" + CRLF)
        head = b'Content-Type: multipart/mixed; boundary="' + b + b'"' + CRLF
    return b"MIME-Version: 1.0" + CRLF + head + CRLF + part


def build(headers: list[tuple[str, str]], text: str, html: str | None = None,
          attachment: tuple[str, bytes] | None = None, utf8: bool = False) -> bytes:
    """The whole message: headers, then text (and HTML alternative, and one attachment)."""
    return assemble(headers, body(text, html, attachment), utf8)


def assemble(headers: list[tuple[str, str]], mime_body: bytes, utf8: bool = False) -> bytes:
    """Headers in front of a ``body()`` (``utf8``: see :func:`header`)."""
    return b"".join(header(name, value, utf8) for name, value in headers) + mime_body

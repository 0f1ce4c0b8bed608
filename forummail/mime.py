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
from email.header import Header
from email.utils import formataddr

CRLF = b"\r\n"


# Their values come from address(), which has encoded the display names
# already: written as they are (folded between addresses when long).
ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "sender"})


def header(name: str, value: str) -> bytes:
    """One header line (folded as needed), CRLF-terminated."""
    line = "%s: %s" % (name, value)
    if name.lower() in ADDRESS_HEADERS:
        return line.replace(", ", ",\r\n ").encode("ascii") + CRLF if len(line) > 78 \
            else line.encode("ascii") + CRLF
    looks_encoded = "=?" in value
    if value.isascii() and len(line) <= 78 and not looks_encoded:
        return line.encode("ascii") + CRLF
    # A value that only looks like an RFC 2047 encoded word ("=?utf-8?q?=0D=0A...?=",
    # typed by a user into a name or subject) is encoded itself, so mail clients
    # show it as typed instead of decoding it into line breaks.
    charset = "us-ascii" if value.isascii() and not looks_encoded else "utf-8"
    encoded = Header(value, charset, header_name=name).encode(linesep="\r\n")
    return ("%s: %s" % (name, encoded)).encode("ascii") + CRLF


def address(name: str, addr: str) -> str:
    """``Name <addr>``: the name quoted or RFC 2047-encoded as needed."""
    if not name:
        return addr
    if "=?" in name:  # see header(): shown as typed, never decoded into something else
        return "%s <%s>" % (Header(name, "utf-8").encode(linesep="\r\n"), addr)
    return formataddr((name, addr), charset="utf-8")


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


def build(headers: list[tuple[str, str]], text: str, html: str | None = None,
          attachment: tuple[str, bytes] | None = None) -> bytes:
    """The whole message: headers, then text (and HTML alternative, and one attachment)."""
    out = [header(name, value) for name, value in headers]
    out.append(b"MIME-Version: 1.0" + CRLF)
    body = _part("text/plain", text)
    head = b"Content-Type: text/plain; charset=\"utf-8\"" + CRLF
    if html is not None:
        b = _boundary()
        body = (b"--" + b + CRLF + body + CRLF + b"--" + b + CRLF + _part("text/html", html)
                + CRLF + b"--" + b + b"--" + CRLF)
        head = b'Content-Type: multipart/alternative; boundary="' + b + b'"' + CRLF
    else:
        body = body.split(CRLF + CRLF, 1)[1]
        head += b"Content-Transfer-Encoding: quoted-printable" + CRLF
    if attachment is not None:
        filename, data = attachment
        b = _boundary()
        body = (b"--" + b + CRLF + head + CRLF + body + CRLF + b"--" + b + CRLF
                + b"Content-Type: application/octet-stream" + CRLF
                + header("Content-Disposition", 'attachment; filename="%s"' % filename.replace('"', ""))
                + b"Content-Transfer-Encoding: base64" + CRLF + CRLF + _base64(data)
                + b"--" + b + b"--" + CRLF)
        head = b'Content-Type: multipart/mixed; boundary="' + b + b'"' + CRLF
    return b"".join(out) + head + CRLF + body

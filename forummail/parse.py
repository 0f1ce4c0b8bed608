"""Parse a raw RFC 5322 message into what the reply fetcher needs.

In two steps, so that a hostile body costs nothing before the sender is known:
``parse_headers`` reads the header block only (sender, recipients, thread ids);
``parse_body`` adds the plain and the HTML body as they came, and the
attachments (choosing between the two, converting and trimming is ``extract``'s
work); ``mimeshape.measure`` counts the nesting and the parts on the raw bytes,
cheaply, in between.  ``parse_message`` does both steps.  None of them raises:
whatever the bytes, the result has best-effort values (empty strings and lists
where nothing could be read), and every string in it is valid for PostgreSQL and
UTF-8 output (``safetext.clean``).  It uses the modern ``email`` API
(``policy.default``, each header value parsed once: ``parsepolicy``;
``get_body``, ``iter_parts``) and decodes text itself
(``textpart``), so an unknown or lying charset falls back to utf-8, cp1252, then
latin-1 instead of failing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage, Message
from email.parser import BytesParser

from forummail.headerfields import (
    addresses,
    clean_header,
    date_sent,
    first_msgid,
    header_text,
    header_texts,
    msgids,
    sole_from,
)
from forummail.parsepolicy import read_once
from forummail.rawheader import MAX_FIELD_BYTES, MAX_HEADER_BYTES, Oversize, measure
from forummail.safetext import clean, file_name
from forummail.textpart import decode as _decode  # also for raw 8-bit headers
from forummail.textpart import part_text

log = logging.getLogger(__name__)

_MAX_DEPTH = 30  # MIME nesting we follow; deeper parts are ignored


@dataclass(frozen=True)
class Attachment:
    """A part that is not the body: a file, an inline image (``content_id`` set), an attached mail."""

    filename: str | None
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True)
class ParsedMail:
    """The parts of a message the reply fetcher uses; ``message`` gives every header."""

    message: EmailMessage
    message_id: str = ""
    from_addr: str = ""  # the address mail clients show; see from_sole before trusting it
    from_name: str = ""
    # True only when there is one From header naming one address, read the same by
    # every reading (headerfields.sole_from): only then can from_addr be anybody's identity.
    from_sole: bool = False
    subject: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    delivered_to: list[str] = field(default_factory=list)
    x_original_to: list[str] = field(default_factory=list)
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    date: datetime | None = None
    plain: str = ""  # the text/plain body (or a lone text part), decoded, unflowed; "" when none
    html: str | None = None  # the text/html body, decoded, unconverted
    attachments: list[Attachment] = field(default_factory=list)
    oversize: Oversize | None = None  # the header block or a field over its limit (rawheader)

    @property
    def headers(self) -> EmailMessage:
        """The parsed message, for header access (``mail.headers["X-Mailer"]``)."""
        return self.message

    def header(self, name: str) -> str:
        """The first ``name`` header decoded to one line, or "" (never raises)."""
        return header_text(self.message, name)

    def header_all(self, name: str) -> list[str]:
        """Every ``name`` header decoded to one line each (never raises)."""
        return header_texts(self.message, name)


def parse_message(raw: bytes) -> ParsedMail:
    """Parse ``raw`` (a whole RFC 5322 message) into a ``ParsedMail``; never raises."""
    return parse_body(parse_headers(raw), raw)


def parse_headers(raw: bytes, max_header_bytes: int = MAX_HEADER_BYTES,
                  max_field_bytes: int = MAX_FIELD_BYTES) -> ParsedMail:
    """The header fields of ``raw`` (the body left unparsed: no text, no attachments).

    Cheap whatever the body holds, so the sender and the task are known before
    any of it is parsed; ``message`` gives every header and the top content type.
    Cheap whatever the header holds too: when the block or a field is over
    its limit (``rawheader.measure``), ``oversize`` says which, and only the
    fields within the limits are parsed.
    """
    head = measure(bytes(raw), max_header_bytes, max_field_bytes)
    mail = _parse_header_block(bytes(raw) if head.oversize is None else head.kept)
    return replace(mail, oversize=head.oversize) if head.oversize else mail


def _parse_header_block(raw: bytes) -> ParsedMail:
    try:
        message = BytesParser(policy=read_once()).parsebytes(raw, headersonly=True)
    except Exception:
        log.warning("unparseable message header", exc_info=True)
        return ParsedMail(message=EmailMessage())
    if not isinstance(message, EmailMessage):  # the policy always gives one; for mypy
        return ParsedMail(message=EmailMessage())
    try:
        return _parse_headers(message)
    except Exception:  # a bug or a header nobody foresaw: degrade, do not fail the fetch
        log.warning("message header only partly parsed", exc_info=True)
        return ParsedMail(message=message, subject=header_text(message, "Subject"))


def parse_body(mail: ParsedMail, raw: bytes) -> ParsedMail:
    """``mail`` (from ``parse_headers(raw)``) with the body texts and attachments of ``raw``; never raises.

    The header fields stay those of ``mail``: a body that cannot be parsed
    costs its text, never the sender.
    """
    try:
        message = BytesParser(policy=read_once(mail.message.policy)).parsebytes(bytes(raw))
    except Exception:  # RecursionError on a deep structure among others
        log.warning("unparseable message body; using it as plain text", exc_info=True)
        return replace(mail, plain=clean(_decode(bytes(raw), None).replace("\r\n", "\n")))
    if not isinstance(message, EmailMessage):  # the policy always gives one; for mypy
        return mail
    try:
        return _with_body(mail, message)
    except Exception:  # a bug or a message nobody foresaw: degrade, do not fail the fetch
        log.warning("message only partly parsed", exc_info=True)
        return replace(mail, message=message)


def _parse_headers(message: EmailMessage) -> ParsedMail:
    from_list = addresses(message, "From")
    from_addr, from_name = from_list[0] if from_list else ("", "")
    return ParsedMail(
        message=message,
        message_id=first_msgid(header_text(message, "Message-ID")),
        from_addr=from_addr,
        from_name=from_name,
        from_sole=bool(from_addr) and sole_from(message, from_addr),
        subject=header_text(message, "Subject"),
        to=[a for a, _ in addresses(message, "To")],
        cc=[a for a, _ in addresses(message, "Cc")],
        delivered_to=[a for a, _ in addresses(message, "Delivered-To")],
        x_original_to=[a for a, _ in addresses(message, "X-Original-To")],
        in_reply_to=first_msgid(header_text(message, "In-Reply-To")),
        references=msgids(" ".join(header_texts(message, "References"))),
        date=date_sent(message),
    )


def _with_body(mail: ParsedMail, message: EmailMessage) -> ParsedMail:
    body = _body_part(message)
    plain, html = _alternatives(message, body)
    return replace(mail, message=message, plain=plain or "", html=html,
                   attachments=_attachments(message, body, html or ""))


# --- body and attachments ----------------------------------------------------------------


def _body_part(message: EmailMessage) -> Message | None:
    try:
        body = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        body = None
    if body is None and not message.is_multipart() and message.get_content_maintype() == "text":
        # get_body refuses a text part that says "attachment"; a lone text is still the body.
        body = message
    return body


def _alternatives(message: EmailMessage, body: Message | None) -> tuple[str | None, str | None]:
    """The plain and the HTML text of the body (either may be None)."""
    if body is None:
        return None, None
    plain = html = None
    if body.get_content_subtype() == "html":
        html = part_text(body)
    else:
        plain = part_text(body)
    try:
        html_part = message.get_body(preferencelist=("html",))
    except Exception:
        html_part = None
    if html is None and html_part is not None and html_part is not body:
        html = part_text(html_part)
    return plain, html


def _attachments(message: EmailMessage, body: Message | None, html: str) -> list[Attachment]:
    found: list[Attachment] = []
    _collect(message, body, html, found, 0)
    return found


def _collect(part: Message, body: Message | None, html: str, found: list[Attachment], depth: int) -> None:
    if depth > _MAX_DEPTH or part is body:
        return
    try:
        content_type = part.get_content_type()
    except Exception:
        content_type = "application/octet-stream"
    if content_type == "message/rfc822":
        inner = part.get_payload()
        data = b""
        try:
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                data = inner[0].as_bytes()
        except Exception:
            data = b""
        found.append(Attachment(_filename(part) or "message.eml", content_type, data))
        return
    if part.is_multipart():
        try:
            children = list(part.iter_parts()) if isinstance(part, EmailMessage) else part.get_payload()
        except Exception:
            children = []
        for child in children if isinstance(children, list) else []:
            if isinstance(child, Message):
                _collect(child, body, html, found, depth + 1)
        return
    filename = _filename(part)
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:  # e.g. an RFC 2231 name in utf-7 that decodes to a lone surrogate
        disposition = "attachment" if filename else ""
    if part.get_content_maintype() == "text" and content_type in ("text/plain", "text/html"):
        # The other alternative of the body, or a text part without a name: not a file.
        if not filename and disposition != "attachment":
            return
    payload: object
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    content_id = header_text(part, "Content-ID").strip("<>") or None
    found.append(Attachment(
        filename=filename,
        content_type=clean(content_type),
        data=payload if isinstance(payload, bytes) else b"",
        content_id=content_id,
        # Inline: shown in the body, whatever the disposition says, when the HTML refers to it.
        inline=disposition == "inline" or (content_id is not None and ("cid:" + content_id) in html),
    ))


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        return None
    # A label, never a path, and shown as it really is (safetext.file_name).
    safe = file_name(clean_header(str(name)), fallback="")
    return safe or None

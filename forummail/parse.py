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
(``policy.default``, ``get_body``, ``iter_parts``) and decodes text itself
(``textpart``), so an unknown or lying charset falls back to utf-8, cp1252, then
latin-1 instead of failing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from forummail.rawheader import MAX_FIELD_BYTES, MAX_HEADER_BYTES, Oversize, measure
from forummail.safetext import clean, file_name
from forummail.textpart import decode as _decode  # also for raw 8-bit headers
from forummail.textpart import part_text

log = logging.getLogger(__name__)

_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]+")
_MSGID_RE = re.compile(r"<[^<>\s]+>")
_ANGLE_RE = re.compile(r"<\s*([^<>\s@]+@[^<>\s@]+)\s*>")
_QUOTED_RE = re.compile(r'"(?:[^"\\]|\\.)*"')
_MAX_DEPTH = 30  # MIME nesting we follow; deeper parts are ignored
# Longer values skip the email package's structured parser, quadratic on some
# shapes (1,000 dots in From: 40 ms; 20,000: 25 s), for our own linear reading
# (the fallbacks below, which also serve values that parser gives up on).
# One mailbox, one Message-ID, one date fits; a list of recipients may not,
# and only its addresses are used.  Every field we read at 1 KB cost 0.2 s
# with the structured parser; with this bound, 20-85 ms.
_STRUCTURED_MAX = 256


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
    # every reading (parse._sole_from): only then can from_addr be anybody's identity.
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
        return _header_text(self.message, name)

    def header_all(self, name: str) -> list[str]:
        """Every ``name`` header decoded to one line each (never raises)."""
        return _header_texts(self.message, name)


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
        message = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
    except Exception:
        log.warning("unparseable message header", exc_info=True)
        return ParsedMail(message=EmailMessage())
    if not isinstance(message, EmailMessage):  # policy.default always gives one; for mypy
        return ParsedMail(message=EmailMessage())
    try:
        return _parse_headers(message)
    except Exception:  # a bug or a header nobody foresaw: degrade, do not fail the fetch
        log.warning("message header only partly parsed", exc_info=True)
        return ParsedMail(message=message, subject=_header_text(message, "Subject"))


def parse_body(mail: ParsedMail, raw: bytes) -> ParsedMail:
    """``mail`` (from ``parse_headers(raw)``) with the body texts and attachments of ``raw``; never raises.

    The header fields stay those of ``mail``: a body that cannot be parsed
    costs its text, never the sender.
    """
    try:
        message = BytesParser(policy=policy.default).parsebytes(bytes(raw))
    except Exception:  # RecursionError on a deep structure among others
        log.warning("unparseable message body; using it as plain text", exc_info=True)
        return replace(mail, plain=clean(_decode(bytes(raw), None).replace("\r\n", "\n")))
    if not isinstance(message, EmailMessage):  # policy.default always gives one; for mypy
        return mail
    try:
        return _with_body(mail, message)
    except Exception:  # a bug or a message nobody foresaw: degrade, do not fail the fetch
        log.warning("message only partly parsed", exc_info=True)
        return replace(mail, message=message)


def _parse_headers(message: EmailMessage) -> ParsedMail:
    from_list = _addresses(message, "From")
    from_addr, from_name = from_list[0] if from_list else ("", "")
    return ParsedMail(
        message=message,
        message_id=_first_msgid(_header_text(message, "Message-ID")),
        from_addr=from_addr,
        from_name=from_name,
        from_sole=bool(from_addr) and _sole_from(message, from_addr),
        subject=_header_text(message, "Subject"),
        to=[a for a, _ in _addresses(message, "To")],
        cc=[a for a, _ in _addresses(message, "Cc")],
        delivered_to=[a for a, _ in _addresses(message, "Delivered-To")],
        x_original_to=[a for a, _ in _addresses(message, "X-Original-To")],
        in_reply_to=_first_msgid(_header_text(message, "In-Reply-To")),
        references=_msgids(" ".join(_header_texts(message, "References"))),
        date=_date(message),
    )


def _with_body(mail: ParsedMail, message: EmailMessage) -> ParsedMail:
    body = _body_part(message)
    plain, html = _alternatives(message, body)
    return replace(mail, message=message, plain=plain or "", html=html,
                   attachments=_attachments(message, body, html or ""))


# --- headers -----------------------------------------------------------------------------


def _clean_header(value: str) -> str:
    if re.search("[\udc80-\udcff]", value):
        # Raw 8-bit bytes in a header come back as surrogates: decode them for real.
        value = _decode(value.encode("utf-8", "surrogateescape"), None)
    # Decoded encoded-words may smuggle CR/LF or other controls: one line, always;
    # and lone surrogates (from =?utf-7?...?= among others) or NULs: never.
    return clean(" ".join(_CONTROL_RE.sub(" ", value).split()))


def _raw_values(message: Message, name: str) -> list[str]:
    return [str(v) for k, v in message.raw_items() if k.lower() == name.lower()]


def _long(message: Message, name: str) -> bool:
    """Is a ``name`` field too long for the structured parser (``_STRUCTURED_MAX``)?"""
    return any(len(v) > _STRUCTURED_MAX for v in _raw_values(message, name))


def _header_texts(message: Message, name: str) -> list[str]:
    values: list[str] = []
    try:
        if _long(message, name):
            raise ValueError("read by _decode_words")
        values = [str(v) for v in message.get_all(name) or []]
    except Exception:
        # Too long for the structured header parser, or it gave up: decode the raw value ourselves.
        for key, raw in message.raw_items():
            if key.lower() == name.lower():
                values.append(_decode_words(str(raw)))
    return [_clean_header(v) for v in values]


def _header_text(message: Message, name: str) -> str:
    values = _header_texts(message, name)
    return values[0] if values else ""


def _decode_words(raw: str) -> str:
    try:
        return str(make_header(decode_header(raw)))
    except Exception:
        return raw


def _addresses(message: Message, name: str) -> list[tuple[str, str]]:
    """(address, display name) pairs of every ``name`` header; only values with an "@"."""
    found: list[tuple[str, str]] = []
    try:
        if _long(message, name):
            raise ValueError("read by the linear fallback below")
        raws = [str(v) for k, v in message.raw_items() if k.lower() == name.lower()]
        for header, raw in zip(message.get_all(name) or [], raws, strict=False):
            found += _angle_addresses(_structured(header), raw)
        if found:
            return found
    except Exception:
        found = []
    # Parse the raw value and decode only the display names (RFC 2047 section 5):
    # decoding first would let an encoded word in a name ("=?utf-8?q?Eve=0D=0ABcc:
    # _victim@example.org?=") add an address of its own.
    raws = [str(v) for k, v in message.raw_items() if k.lower() == name.lower()]
    for value in (_clean_header(v) for v in raws):
        angles = _angles(value)
        if angles:  # a malformed header: the <addresses> are what clients show and answer
            found += [(_clean_header(a), "") for a in angles]
            continue
        for display, spec in _legacy(value):
            found.append((spec, _clean_header(_decode_words(display))))
    return found


def _structured(header: object) -> list[tuple[str, str]]:
    """The email package's reading (RFC 5322 grammar, comments and all) of one address header."""
    pairs = []
    for address in getattr(header, "addresses", ()):
        spec = _clean_header(str(address.addr_spec or ""))
        if "@" in spec.strip("@"):
            pairs.append((spec, _clean_header(str(address.display_name or ""))))
    return pairs


def _legacy(value: str) -> list[tuple[str, str]]:
    """``email.utils.getaddresses``'s reading: (display name, address) with an "@", not decoded."""
    try:
        pairs = getaddresses([value])
    except Exception:
        return []
    return [(display, _clean_header(spec)) for display, spec in pairs
            if spec and "@" in spec and "=?" not in spec]


def strip_comments(value: str) -> str | None:
    """``value`` with each (nested) comment replaced by a space; None when one does not close.

    RFC 5322 section 3.2.2: a comment is free text in parentheses, may nest and
    may hold quoted-pairs; parentheses inside a quoted string are text.
    Nothing in a comment is ever an address or an authserv-id.
    """
    out: list[str] = []
    depth = 0
    quoted = escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and (quoted or depth):
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == "(":
            depth += 1
            continue
        elif ch == ")":
            if depth == 0:
                return None
            depth -= 1
            ch = " "
        elif depth == 0 and ch == '"':
            quoted = True
        if depth == 0:
            out.append(ch)
    return None if depth or quoted else "".join(out)


def _angles(raw: str) -> list[str]:
    """The ``<addresses>`` of a header as mail clients find them: outside comments and quoted strings."""
    text = strip_comments(raw)
    # An unclosed comment or quote: a malformed header, read as best we can;
    # from_sole never believes it (_sole_from).
    return _ANGLE_RE.findall(_QUOTED_RE.sub("", raw if text is None else text))


def _angle_addresses(pairs: list[tuple[str, str]], raw: str) -> list[tuple[str, str]]:
    """Trust the address in angle brackets, as mail clients do.

    ``From: bob@example.com <mallory@evil.example>`` (a display name that looks
    like an address, unquoted) is parsed by ``email`` as bob's address, while
    every client shows, and answers, mallory's: a forged sender that passes
    DMARC.  Where each parsed address has its ``<...>``, those are the addresses.
    An address inside a comment (``(<bob@example.com>) mallory@example.com``)
    is text, never an address.
    """
    angles = _angles(raw)
    if len(angles) != len(pairs) or [a.lower() for a in angles] == [p.lower() for p, _ in pairs]:
        return pairs
    return [(_clean_header(angle), display or (spec if spec.lower() != angle.lower() else ""))
            for angle, (spec, display) in zip(angles, pairs, strict=True)]


def _sole_from(message: Message, from_addr: str) -> bool:
    """Does From name exactly ``from_addr`` and nothing else, whoever reads it?

    Three readings of the one raw From header must each find exactly that one
    address, character for character: the email package's (RFC 5322 grammar),
    the ``<address>`` outside comments and quoted strings that mail clients
    show, and ``getaddresses``.  A header they read differently
    (``bob@example.com <mallory@evil.example>``), with several addresses, or
    with a comment or quote that does not close proves nobody: a proof of
    one reading must not post as the member of another.
    """
    try:
        raws = [str(v) for k, v in message.raw_items() if k.lower() == "from"]
        headers = message.get_all("From") or []
        if len(raws) != 1 or len(headers) != 1 or strip_comments(raws[0]) is None:
            return False
        structured = [spec for spec, _ in _structured(headers[0])]
        angles = [_clean_header(a) for a in _angles(raws[0])]
        legacy = [spec for _, spec in _legacy(raws[0])]
    except Exception:
        return False
    return structured == [from_addr] and angles in ([], [from_addr]) and legacy == [from_addr]


def _first_msgid(value: str) -> str:
    ids = _msgids(value)
    return ids[0] if ids else value.strip()


def _msgids(value: str) -> list[str]:
    ids = _MSGID_RE.findall(value)
    return ids if ids else value.split()


def _date(message: Message) -> datetime | None:
    if _long(message, "Date"):
        return None  # no date is that long: a trap for the structured parser
    try:
        header = message.get("Date")
        parsed = getattr(header, "datetime", None)
        if parsed is None and header is not None:
            parsed = parsedate_to_datetime(str(header))
    except Exception:
        return None
    if not isinstance(parsed, datetime):
        return None
    if parsed.tzinfo is None:
        # "-0000" means UTC with the sender's zone unknown (RFC 5322 3.3).
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


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
    content_id = _header_text(part, "Content-ID").strip("<>") or None
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
    safe = file_name(_clean_header(str(name)), fallback="")
    return safe or None

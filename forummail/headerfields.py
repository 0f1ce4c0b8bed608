"""Header fields of a received email, read safely: decoded, on one line, cheap.

Every value is decoded (encoded words, raw 8-bit bytes), folded to one line
with control characters removed, and valid for PostgreSQL (``safetext.clean``).
Addresses are read one way or not at all: comments never yield an address,
and ``sole_from`` says whether every reading of ``From`` names the same one
address (match.py proves nobody otherwise).  Long values skip the email
package's structured parser, which is quadratic on some shapes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from forummail.safetext import clean
from forummail.textpart import decode as _decode  # also for raw 8-bit headers

_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]+")
_MSGID_RE = re.compile(r"<[^<>\s]+>")
_ANGLE_RE = re.compile(r"<\s*([^<>\s@]+@[^<>\s@]+)\s*>")
_QUOTED_RE = re.compile(r'"(?:[^"\\]|\\.)*"')
# Longer values skip the email package's structured parser, quadratic on some
# shapes (1,000 dots in From: 40 ms; 20,000: 25 s), for our own linear reading
# (the fallbacks below, which also serve values that parser gives up on).
# One mailbox, one Message-ID, one date fits; a list of recipients may not,
# and only its addresses are used.  Every field we read at 1 KB cost 0.2 s
# with the structured parser; with this bound, 20-85 ms.
_STRUCTURED_MAX = 256


# --- headers -----------------------------------------------------------------------------


def clean_header(value: str) -> str:
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


def header_texts(message: Message, name: str) -> list[str]:
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
    return [clean_header(v) for v in values]


def header_text(message: Message, name: str) -> str:
    values = header_texts(message, name)
    return values[0] if values else ""


def _decode_words(raw: str) -> str:
    try:
        return str(make_header(decode_header(raw)))
    except Exception:
        return raw


def addresses(message: Message, name: str) -> list[tuple[str, str]]:
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
    for value in (clean_header(v) for v in raws):
        angles = _angles(value)
        if angles:  # a malformed header: the <addresses> are what clients show and answer
            found += [(clean_header(a), "") for a in angles]
            continue
        for display, spec in _legacy(value):
            found.append((spec, clean_header(_decode_words(display))))
    return found


def _structured(header: object) -> list[tuple[str, str]]:
    """The email package's reading (RFC 5322 grammar, comments and all) of one address header."""
    pairs = []
    for address in getattr(header, "addresses", ()):
        spec = clean_header(str(address.addr_spec or ""))
        if "@" in spec.strip("@"):
            pairs.append((spec, clean_header(str(address.display_name or ""))))
    return pairs


def _legacy(value: str) -> list[tuple[str, str]]:
    """``email.utils.getaddresses``'s reading: (display name, address) with an "@", not decoded."""
    try:
        pairs = getaddresses([value])
    except Exception:
        return []
    return [(display, clean_header(spec)) for display, spec in pairs
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
    # from_sole never believes it (sole_from).
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
    return [(clean_header(angle), display or (spec if spec.lower() != angle.lower() else ""))
            for angle, (spec, display) in zip(angles, pairs, strict=True)]


def sole_from(message: Message, from_addr: str) -> bool:
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
        angles = [clean_header(a) for a in _angles(raws[0])]
        legacy = [spec for _, spec in _legacy(raws[0])]
    except Exception:
        return False
    return structured == [from_addr] and angles in ([], [from_addr]) and legacy == [from_addr]


def first_msgid(value: str) -> str:
    ids = msgids(value)
    return ids[0] if ids else value.strip()


def msgids(value: str) -> list[str]:
    ids = _MSGID_RE.findall(value)
    return ids if ids else value.split()


def date_sent(message: Message) -> datetime | None:
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

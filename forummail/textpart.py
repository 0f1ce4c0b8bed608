"""The text of a MIME text part, whatever its charset and line format claim.

A charset that is unknown or lies falls back to utf-8, cp1252, then latin-1 (which
always decodes), so a body is never lost to a bad label; ``format=flowed`` soft line
breaks are joined (RFC 3676).
"""

from __future__ import annotations

from email.message import Message

from forummail.safetext import clean

FALLBACK_CHARSETS = ("utf-8", "cp1252", "latin-1")


def part_text(part: Message) -> str:
    """The text of ``part``: decoded (see ``decode``), one kind of line end, no NUL, unflowed."""
    payload: object
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text = clean(decode(payload, charset).replace("\r\n", "\n").replace("\r", "\n").replace("\x00", ""))
    if part.get_content_subtype() == "plain":
        params = {k.lower(): v.lower() for k, v in _params(part)}
        if params.get("format") == "flowed":
            text = unflow(text, params.get("delsp") == "yes")
    return text


def _params(part: Message) -> list[tuple[str, str]]:
    try:
        return [(str(k), str(v)) for k, v in part.get_params() or [] if v is not None]
    except Exception:
        return []


def decode(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, then utf-8, cp1252, latin-1 (which always works)."""
    candidates = ([charset] if charset else []) + list(FALLBACK_CHARSETS)
    for name in candidates:
        try:
            return data.decode(name)
        except (LookupError, UnicodeError, ValueError, TypeError):
            continue
    return data.decode("latin-1")


def unflow(text: str, delsp: bool) -> str:
    """Join format=flowed soft line breaks: a line ending in a space continues (RFC 3676 section 4.2).

    Lines join only at the same quote depth (section 4.5); ``delsp=yes`` drops the
    joining space (section 4.2); the signature line "-- " never flows (section 4.3).
    """
    out: list[tuple[str, int]] = []
    joining = False
    for line in text.split("\n"):
        quote = len(line) - len(line.lstrip(">"))
        content = line[quote:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing (section 4.4)
        prefix = "> " * quote if quote else ""
        if joining and out and out[-1][1] == quote:
            out[-1] = (out[-1][0] + content, quote)
        else:
            out.append((prefix + content, quote) if quote else (content, quote))
        joining = content.endswith(" ") and content != "-- "
        if joining and delsp:
            out[-1] = (out[-1][0][:-1], quote)
    return "\n".join(line for line, _ in out)

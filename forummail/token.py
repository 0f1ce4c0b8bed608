"""The reply token: who may answer which task, until when, signed.

A token looks like ``1f.2a.5121.k3j9x2mq7hd4a8vn``: the recipient's user id,
the task id and the last valid day (days since 1970-01-01), in lower-case
hex, then an 80-bit HMAC-SHA256 in lower-case base32.  Lower case only,
because some mail servers fold the local part of an address; dots only,
because ``+`` is the sub-address delimiter and ``-`` is another's.

It travels in the reply address (``replies+TOKEN@example.com``) and in our
``Message-ID`` (``<n42.TOKEN@example.com>``), which the reply's
``In-Reply-To`` and ``References`` carry back where a mail server drops
sub-addresses.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

_EPOCH = date(1970, 1, 1)
_SIG_BYTES = 10
# user id, task id, last day (hex), signature (base32): the shape, one place.
_FIELDS = (r"[0-9a-f]{1,16}", r"[0-9a-f]{1,16}", r"[0-9a-f]{1,8}", r"[a-z2-7]{16}")
TOKEN_RE = re.compile(r"(?<![0-9a-z])" + r"\.".join("(%s)" % f for f in _FIELDS) + r"(?![0-9a-z])")


class InvalidToken(ValueError):
    """A token that must not be trusted; ``reason`` says why, for the sender's answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Token:
    user_id: int
    task_id: int
    expires: date


def _sign(secret: str, user_id: int, task_id: int, day: int) -> str:
    payload = b"v1:%d:%d:%d" % (user_id, task_id, day)
    digest = hmac.digest(secret.encode(), payload, "sha256")[:_SIG_BYTES]
    return base64.b32encode(digest).decode().lower()


def make(secret: str, user_id: int, task_id: int, expires: date) -> str:
    """A signed token for ``user_id`` answering ``task_id`` until ``expires`` (inclusive)."""
    day = (expires - _EPOCH).days
    return "%x.%x.%x.%s" % (user_id, task_id, day, _sign(secret, user_id, task_id, day))


def find(text: str) -> str | None:
    """The first token-shaped string in an address or Message-ID, else None."""
    match = TOKEN_RE.search(text.lower())
    return match.group(0) if match else None


def verify(secrets: Iterable[str], token: str, today: date) -> Token:
    """Check a token against the current (and any previous) secret.

    Raises InvalidToken with reason ``malformed``, ``forged`` or ``expired``.
    Several secrets allow rotating the secret without breaking replies to
    mail already sent.
    """
    match = TOKEN_RE.fullmatch(token.strip().lower())
    if not match:
        raise InvalidToken("malformed")
    user_id, task_id, day = (int(match.group(i), 16) for i in (1, 2, 3))
    signature = match.group(4)
    if not any(hmac.compare_digest(_sign(s, user_id, task_id, day), signature) for s in secrets if s):
        raise InvalidToken("forged")
    expires = date.fromordinal(_EPOCH.toordinal() + day)
    if expires < today:
        raise InvalidToken("expired")
    return Token(user_id=user_id, task_id=task_id, expires=expires)


def reply_address(replier_addr: str, token: str) -> str:
    """``replies@example.com`` + token -> ``replies+TOKEN@example.com``."""
    local, _, domain = replier_addr.rpartition("@")
    return "%s+%s@%s" % (local, token, domain)


def reply_address_re(replier_addr: str) -> re.Pattern[str]:
    """Any reply address of ours (``replies+TOKEN@example.com``, any token, any case), whole.

    With the ``mailto:`` and the angle brackets around it, and one space before
    it, so that removing it leaves the sentence readable.  Only whole
    addresses: ``myreplies+...`` or ``...@example.com.evil`` are not ours.
    """
    local, _, domain = replier_addr.rpartition("@")
    token = r"\.".join(_FIELDS)
    address = r"(?<![\w.%%+-])(?:mailto:)?%s\+%s@%s(?![\w-])(?!\.[\w-])" % (
        re.escape(local), token, re.escape(domain))
    return re.compile(r"[ \t]?(?:<\s*%s\s*>|%s)" % (address, address), re.IGNORECASE)

"""Signed address tags other than the reply token: the bounce tag and the unsubscribe token.

* The bounce tag (VERP) names one notification in its envelope sender,
  ``replies+bounces-<id>.<sig>@example.com``: a delivery report sent back to
  it says which notification it is about, even when the report quotes
  nothing of the mail.
* The unsubscribe token names a user and a task in the ``List-Unsubscribe``
  address, ``replies+unsub-<user>.<task>.<sig>@example.com`` (RFC 2369).

Both are HMAC-SHA256 under the reply-signing secrets (forummail.signing),
each with a purpose of its own in the signed text, so that no reply token is
a valid tag or unsubscribe token and no tag is any other: a signature made
for one purpose never verifies for another.  Lower case and dots only, for
the reasons the reply token gives (forummail.token).  An unsubscribe token
does not expire: a user may find an old mail and still leave (RFC 8058
section 3.1 asks for links that keep working).
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

BOUNCES = "bounces"
UNSUBSCRIBE = "unsub"
_SIG_BYTES = 10
_SIG = r"[a-z2-7]{16}"
_BOUNCE_RE = re.compile(r"bounces-([0-9a-f]{1,16})\.(%s)" % _SIG)
_UNSUB_RE = re.compile(r"unsub-([0-9a-f]{1,16})\.([0-9a-f]{1,16})\.(%s)" % _SIG)


def _sign(secret: str, purpose: str, *numbers: int) -> str:
    payload = ("%s:v1:" % purpose + ":".join(str(n) for n in numbers)).encode()
    digest = hmac.digest(secret.encode(), payload, "sha256")[:_SIG_BYTES]
    return base64.b32encode(digest).decode().lower()


def _valid(secrets: Iterable[str], signature: str, purpose: str, *numbers: int) -> bool:
    return any(hmac.compare_digest(_sign(s, purpose, *numbers), signature) for s in secrets if s)


def _address(replier_addr: str, sub: str) -> str:
    local, _, domain = replier_addr.rpartition("@")
    return "%s+%s@%s" % (local, sub, domain)


def _sub_addresses(replier_addr: str, addresses: Iterable[str]) -> list[str]:
    """The sub-address parts (after ``local+``) of the addresses at our reply mailbox."""
    local, _, domain = replier_addr.lower().rpartition("@")
    found = []
    for addr in addresses:
        a_local, _, a_domain = addr.strip().lower().rpartition("@")
        if a_domain == domain and a_local.startswith(local + "+"):
            found.append(a_local[len(local) + 1:])
    return found


def bounce_address(replier_addr: str, secret: str, notification_id: int | None) -> str:
    """The envelope sender for one notification (untagged without a secret or an id)."""
    if not secret or notification_id is None:
        return _address(replier_addr, BOUNCES)
    return _address(replier_addr, "%s-%x.%s" % (BOUNCES, notification_id, _sign(secret, BOUNCES, notification_id)))


def bounce_notification(replier_addr: str, secrets: Iterable[str], addresses: Iterable[str]) -> int | None:
    """The notification id a correctly signed bounce tag among ``addresses`` names, else None."""
    keys = list(secrets)
    for sub in _sub_addresses(replier_addr, addresses):
        match = _BOUNCE_RE.fullmatch(sub)
        if match:
            notification_id = int(match.group(1), 16)
            if _valid(keys, match.group(2), BOUNCES, notification_id):
                return notification_id
    return None


@dataclass(frozen=True)
class Unsubscribe:
    user_id: int
    task_id: int


def unsubscribe_token(secret: str, user_id: int, task_id: int) -> str:
    """``<user>.<task>.<signature>``: what the mailto address and the forum's URL carry."""
    return "%x.%x.%s" % (user_id, task_id, _sign(secret, UNSUBSCRIBE, user_id, task_id))


def unsubscribe_address(replier_addr: str, token: str) -> str:
    return _address(replier_addr, "%s-%s" % (UNSUBSCRIBE, token))


def verify_unsubscribe(secrets: Iterable[str], token: str) -> Unsubscribe | None:
    """The user and task of a correctly signed unsubscribe token, else None."""
    match = _UNSUB_RE.fullmatch(UNSUBSCRIBE + "-" + token.strip().lower())
    if not match:
        return None
    user_id, task_id = int(match.group(1), 16), int(match.group(2), 16)
    return Unsubscribe(user_id, task_id) if _valid(secrets, match.group(3), UNSUBSCRIBE, user_id, task_id) else None


def find_unsubscribe(replier_addr: str, secrets: Iterable[str], addresses: Iterable[str]) -> Unsubscribe | None:
    """The unsubscribe request a correctly signed address among ``addresses`` makes, else None."""
    keys = list(secrets)
    for sub in _sub_addresses(replier_addr, addresses):
        if sub.startswith(UNSUBSCRIBE + "-"):
            found = verify_unsubscribe(keys, sub[len(UNSUBSCRIBE) + 1:])
            if found:
                return found
    return None


def is_unsubscribe_address(replier_addr: str, addresses: Iterable[str]) -> bool:
    """Is any of ``addresses`` shaped like our unsubscribe address (signed or not)?"""
    return any(s.startswith(UNSUBSCRIBE + "-") for s in _sub_addresses(replier_addr, addresses))

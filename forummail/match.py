"""Match: which task a reply answers, and whether its sender may post there.

The task is found, in order, by the reply token in a recipient address (To,
Cc, Delivered-To, X-Original-To), by the token in In-Reply-To/References
(for mail servers without sub-addressing), by our own ids in those headers,
then by the ``[#N]`` tag in the subject.  The sender must be the user the
token was issued to (compared by ``identity.address_key``), active, in a
universe that allows email replies, and still a follower of the task.

``From`` is free text: without a valid token issued to its address, only
the administrator's own receiving server can vouch for it (authresults.py).
The thread and subject fallbacks serve only mail it vouches for.  A From
that does not name exactly one address, read the same by every reading
(``ParsedMail.from_sole``), proves nobody on any path: a token or a proof
for one reading must not post as the member of another.  A refusal names
the member the proof ties the mail to, if any: only they are answered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import psycopg

from . import authresults, store
from . import token as reply_token
from .identity import address_key
from .parse import ParsedMail
from .settings import Settings

_SUBJECT_TAG = re.compile(r"\[#(\d{1,18})\]")
NOT_PROVEN = "the sender's address could not be verified"
DMARC_FAILED = "the sender's domain failed its DMARC check"
FROM_UNCLEAR = "the From header does not name exactly one address"


class Refusal(Exception):
    """The reply cannot be posted.  ``reason`` is stable (one explanation per reason
    per day); ``detail`` adds what only the administrator needs."""

    def __init__(self, reason: str, detail: str = "", member: store.inbound.Replier | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail
        # The member the proof ties this email to (the user of a valid token, or a
        # DMARC-proven address): the only one who may be told, at their own address.
        self.member = member


@dataclass(frozen=True)
class Match:
    task_id: int
    user_id: int
    how: str  # 'token', 'thread' or 'subject'
    token: str | None = None
    member: store.inbound.Replier | None = None


def recipient_tokens(mail: ParsedMail, replier_addr: str) -> list[str]:
    """Tokens in addresses of the form ``<replier local part>+TOKEN@...``."""
    local = replier_addr.partition("@")[0].lower()
    found = []
    for addr in [*mail.to, *mail.cc, *mail.delivered_to, *mail.x_original_to]:
        addr_local = addr.partition("@")[0].lower()
        if addr_local.startswith(local + "+"):
            tok = reply_token.find(addr_local[len(local) + 1:])
            if tok and tok not in found:
                found.append(tok)
    return found


def thread_ids(mail: ParsedMail) -> list[str]:
    ids = [mail.in_reply_to] if mail.in_reply_to else []
    return ids + [r for r in reversed(mail.references) if r != mail.in_reply_to]


def thread_tokens(mail: ParsedMail) -> list[str]:
    found: list[str] = []
    for msgid in thread_ids(mail):
        tok = reply_token.find(msgid)
        if tok and tok not in found:
            found.append(tok)
    return found


def thread_task(conn: psycopg.Connection, mail: ParsedMail, domain: str) -> int | None:
    """A task from our own ids in the thread headers (``<task.N@domain>``, ``<nID...@domain>``)."""
    domain = domain.lower()
    for msgid in thread_ids(mail):
        local, _, dom = msgid.strip("<>").lower().rpartition("@")
        if dom != domain:
            continue
        root = re.fullmatch(r"task\.(\d{1,18})", local)
        if root:
            return int(root.group(1))
        ours = re.search(r"(?:^|\.)n(\d{1,18})\.[a-z2-7]{8}$", local)
        if ours:
            found = store.inbound.notification_task(conn, int(ours.group(1)))
            if found:
                return found[0]
    return None


def subject_task(subject: str) -> int | None:
    tag = _SUBJECT_TAG.search(subject)
    return int(tag.group(1)) if tag else None


def find(conn: psycopg.Connection, mail: ParsedMail, settings: Settings,
         secrets: Iterable[str], today: date | None = None) -> Match:
    """Find the task and check the sender; raise Refusal saying why not."""
    today = today or date.today()
    proof = authresults.check(mail, settings.replies.replier_authserv_id)
    tokens = recipient_tokens(mail, settings.replies.replier_from_addr) or thread_tokens(mail)
    sender = address_key(mail.from_addr) if mail.from_sole else ""
    unclear = "From: %s" % mail.header("From")[:200]
    if tokens:
        problem: Refusal | None = None
        for tok in tokens:
            try:
                data = reply_token.verify(list(secrets), tok, today)
            except reply_token.InvalidToken as exc:
                # The token itself stays out of the detail: details reach the logs.
                if exc.reason == "expired":
                    problem = Refusal("the reply address has expired", "expired token of user %s" % tok.split(".")[0])
                else:
                    problem = Refusal("the reply address is not valid", "token is %s" % exc.reason)
                continue
            replier = store.inbound.replier_by_id(conn, data.user_id, data.task_id)
            if replier is not None and not sender:
                # Bob's token beside an unclear From (two addresses, or one read two
                # ways): the token is Bob's, the author may not be.  Bob is told.
                problem = Refusal(FROM_UNCLEAR, "token for user %d; %s" % (data.user_id, unclear), replier)
                continue
            if replier is None or address_key(replier.email) != sender:
                # A forwarded notification or a forged From: the token's user is told.
                problem = Refusal(
                    "the reply came from an address the notification was not sent to",
                    "token for user %d; From is %s" % (data.user_id, mail.from_addr), replier)
                continue
            if proof.verdict == authresults.FAIL:
                raise Refusal(DMARC_FAILED, proof.detail, replier)
            return _check(replier, "token", tok)
        assert problem is not None
        raise problem
    if proof.verdict == authresults.FAIL:
        raise Refusal(DMARC_FAILED, proof.detail)
    if not sender:
        raise Refusal(FROM_UNCLEAR, unclear)
    task_id = thread_task(conn, mail, settings.domain)
    how = "thread"
    if task_id is None:
        task_id = subject_task(mail.subject)
        how = "subject"
    proven = proof.verdict == authresults.PASS
    member = store.inbound.replier_by_email(conn, sender, task_id or 0) if proven else None
    if task_id is None:
        raise Refusal("the email does not answer a forum notification",
                      "no reply token, no thread id of ours, no [#N] in the subject", member)
    if not proven:
        raise Refusal(NOT_PROVEN, "no valid reply token; %s; From: %s" % (proof.detail, mail.from_addr))
    if member is None:
        raise Refusal("the sender is not a user of this forum", "From: %s" % mail.from_addr)
    return _check(member, how, None)


def _check(replier: store.inbound.Replier, how: str, tok: str | None) -> Match:
    if not replier.task_exists:
        raise Refusal("the task no longer exists", "task %d" % replier.task_id, replier)
    if not replier.active:
        raise Refusal("the user account is not active", "user %d" % replier.user_id, replier)
    if not replier.allow_email_reply:
        raise Refusal("replies by email are not allowed in this universe", "task %d" % replier.task_id, replier)
    if not replier.follows:
        raise Refusal("the sender no longer follows the task",
                      "user %d, task %d" % (replier.user_id, replier.task_id), replier)
    return Match(task_id=replier.task_id, user_id=replier.user_id, how=how, token=tok, member=replier)

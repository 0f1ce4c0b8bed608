"""What a delivery report, a complaint or an unsubscribe may change, and what it did.

A report is a claim like any email: it changes something only when it
proves which notification it is about, by the bounce tag we signed for that
notification (its envelope sender, forummail.tags) or by quoting the
``Message-ID`` we sent it with (unguessable: it carries a hash keyed with
the signing secret).  Even then it suppresses only an address that
notification was sent to: a report naming anyone else, or quoting a
Message-ID that is not ours, changes nothing, and the record says why.

* a permanent failure (RFC 3464 ``Action: failed``, a 5.x.x Status) marks
  the notification ``bounced`` and suppresses the address at once;
* temporary ones (``delayed``, 4.x.x) are counted per address: only
  ``SOFT_BOUNCE_LIMIT`` of them spread over at least ``SOFT_BOUNCE_DAYS``
  days (within ``SOFT_BOUNCE_WINDOW_DAYS``) suppress;
* a complaint (RFC 5965) suppresses the address;
* a mail to a correctly signed unsubscribe address stops that task's mail
  for that user, and the user gets one short confirmation at their stored
  address (never at the sender's, which proves nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg

from . import addresses, store, tags
from .parse import ParsedMail
from .reports import COMPLAINT, Recipient, Report
from .safetext import clean
from .store.suppressions import Sent

log = logging.getLogger(__name__)

# Soft bounces alone suppress an address only when they keep coming: a
# mailbox over quota for a weekend, or a server down for a day, recovers.
SOFT_BOUNCE_LIMIT = 5
SOFT_BOUNCE_DAYS = 3
SOFT_BOUNCE_WINDOW_DAYS = 30
_REASON_LIMIT = 2000


@dataclass
class Effect:
    """What one report or unsubscribe did: the record's ``report`` column, its reason, new suppressions."""

    report: str  # bounce, delay, delivery, complaint, unsubscribe
    reason: str
    suppressed: list[str] = field(default_factory=list)
    confirm_to: str = ""  # the user's stored address, for the unsubscribe confirmation
    task_id: int | None = None
    task_name: str = ""


def envelope_addresses(mail: ParsedMail) -> list[str]:
    """Where the email was delivered to: the addresses a bounce tag or unsubscribe token travels in."""
    return [*mail.delivered_to, *mail.x_original_to, *mail.to, *mail.cc]


def on_report(conn: psycopg.Connection, report: Report, mail: ParsedMail, replier_addr: str,
              secrets: Iterable[str], inbound_id: int, debug: bool = False) -> Effect:
    """Apply a report to the notifications it proves it is about; say what it did.

    ``debug``: DEBUG is on, so our mail went to MAIL_ADMIN, not to the
    recipient a row names.
    """
    kind = _kind(report)
    what = report.describe()
    notes: dict[int, Sent] = {}
    tagged = tags.bounce_notification(replier_addr, secrets, envelope_addresses(mail)) if replier_addr else None
    if tagged is not None:
        sent = store.suppressions.by_id(conn, tagged)
        for row in store.suppressions.same_mail(conn, sent) if sent else []:
            notes[row.id] = row
    for row in store.suppressions.by_message_ids(conn, report.message_ids):
        notes[row.id] = row
    if not notes:
        quoted = ", ".join(report.message_ids[:3]) or "none"
        return Effect(kind, _bound("%s matches no notification of ours (quoted Message-ID: %s; no valid bounce "
                                   "tag): nothing changed" % (what, quoted)))
    recipients = report.recipients
    if report.kind == COMPLAINT and not recipients and debug:
        return Effect(kind, _bound("%s names nobody; with DEBUG on the mail went to MAIL_ADMIN, whose complaint "
                                   "it is: nothing changed" % what))
    if report.kind == COMPLAINT and not recipients:
        # The complaint names nobody (redacted): it is about whom the quoted mail went to.
        # An empty recipient is system mail to MAIL_ADMIN (enqueue_email): the
        # administrators' own alerts are never theirs to stop this way.
        recipients = [Recipient(address=a, action="complained")
                      for a in dict.fromkeys(n.recipient.strip().lower() for n in notes.values()) if a]
    lines: list[str] = []
    suppressed: list[str] = []
    # One report speaks once for each address: a report listing it five times
    # must not count as five soft bounces (SOFT_BOUNCE_LIMIT counts reports).
    once: dict[str, Recipient] = {}
    for recipient in recipients:
        once.setdefault(_same(recipient.address), recipient)
    for recipient in once.values():
        lines.append(_apply(conn, report, recipient, list(notes.values()), inbound_id, suppressed))
    if not lines:
        lines.append("names no recipient (a mail to MAIL_ADMIN names none): nothing changed")
    return Effect(kind, _bound("%s: %s" % (what, "; ".join(lines))), suppressed)


def _kind(report: Report) -> str:
    if report.kind == COMPLAINT:
        return "complaint"
    if any(r.permanent for r in report.recipients):
        return "bounce"
    if any(r.temporary for r in report.recipients):
        return "delay"
    return "delivery"


def _apply(conn: psycopg.Connection, report: Report, recipient: Recipient, notes: list[Sent], inbound_id: int,
           suppressed: list[str]) -> str:
    reported = clean(recipient.address.strip().lower())
    key = _same(recipient.address)
    mine = [n for n in notes if _same(n.recipient) == key] if key else []
    ids = ", ".join(str(n.id) for n in notes)
    if not mine:
        # A forged report naming someone else, or our mail forwarded on: never theirs to stop.
        return "names %s, to whom notification %s was not sent: nothing changed" % (reported, ids)
    # Suppressed as the forum stores it, lower-cased by the database as the
    # sender's check does (texts are made safe by _bound).
    address = mine[0].recipient.strip()
    first = mine[0].id
    cleared = store.suppressions.sent_before_clear(conn, address, max(n.id for n in mine))
    if cleared is not None and (report.kind == COMPLAINT or recipient.permanent or recipient.temporary):
        # A late or replayed report about mail from before the administrator's
        # --clear: it must not undo that decision (a new bounce of new mail will).
        return "about notification %d to %s, sent before the administrator cleared the address (%s): " \
               "nothing changed" % (first, address, cleared)
    said = clean(" ".join(x for x in (recipient.status, recipient.diagnostic) if x)) or "no diagnostic"
    if report.kind == COMPLAINT:
        reason = "complaint about notification %d (%s)" % (first, report.feedback_type or "abuse")
        return _suppress(conn, address, "complaint", reason, first, inbound_id, suppressed)
    if recipient.undelivered:
        store.suppressions.mark_bounced(conn, [n.id for n in mine], said[:1000])
    if recipient.permanent:
        reason = "notification %d bounced: %s" % (first, said[:300])
        return _suppress(conn, address, "bounce", reason, first, inbound_id, suppressed)
    if recipient.temporary:
        count, days = store.suppressions.add_soft_bounce(conn, address, first, inbound_id, SOFT_BOUNCE_WINDOW_DAYS)
        text = "notification %d to %s: temporary failure (%s), %d in %d days" % (
            first, address, said[:200], count, SOFT_BOUNCE_WINDOW_DAYS)
        if count >= SOFT_BOUNCE_LIMIT and days >= SOFT_BOUNCE_DAYS:
            reason = "%d temporary failures over %.0f days, the last: %s" % (count, days, said[:200])
            return text + "; " + _suppress(conn, address, "soft-bounces", reason, first, inbound_id, suppressed)
        return text
    return "notification %d to %s: %s (%s), nothing to do" % (first, address, recipient.action or "no action",
                                                               said[:200])


def _same(address: str) -> str:
    """What two spellings of one mailbox share: its wire form (IDNA domain), lower-cased."""
    try:
        return addresses.mailbox(address).address.lower()
    except addresses.InvalidAddress:
        return address.strip().lower()


def _suppress(conn: psycopg.Connection, address: str, kind: str, reason: str, notification_id: int,
              inbound_id: int, suppressed: list[str]) -> str:
    if store.suppressions.suppress(conn, address, kind, reason, notification_id, inbound_id):
        suppressed.append(address.lower())
        log.info("address %s suppressed: %s", address, reason)
        return "%s; %s suppressed" % (reason, address)
    return "%s; %s was suppressed already" % (reason, address)


def on_unsubscribe(conn: psycopg.Connection, replier_addr: str, secrets: Iterable[str], mail: ParsedMail,
                   inbound_id: int) -> Effect | None:
    """Act on a mail to an unsubscribe address of ours; None when it was sent to none."""
    addresses = envelope_addresses(mail)
    if not replier_addr or not tags.is_unsubscribe_address(replier_addr, addresses):
        return None
    request = tags.find_unsubscribe(replier_addr, secrets, addresses)
    if request is None:
        return Effect("unsubscribe", "sent to an unsubscribe address whose signature is not ours: nothing changed")
    found = store.suppressions.member(conn, request.user_id, request.task_id)
    if found is None:
        return Effect("unsubscribe", "unsubscribe for user %d from task %d, one of which no longer exists: "
                                     "nothing changed" % (request.user_id, request.task_id))
    email, task_name = found
    if not store.suppressions.unsubscribe(conn, request.user_id, request.task_id, inbound_id):
        return Effect("unsubscribe", "user %d had already stopped the mail of task %d"
                      % (request.user_id, request.task_id))
    log.info("user %d unsubscribed from task %d", request.user_id, request.task_id)
    return Effect("unsubscribe", "user %d stopped the mail of task %d" % (request.user_id, request.task_id),
                  confirm_to=email, task_id=request.task_id, task_name=task_name)


def apply_requests(conn: psycopg.Connection, secrets: Iterable[str]) -> int:
    """Apply the one-click unsubscribes the forum's endpoint stored; return how many took effect.

    No confirmation mail: the person clicked in their mail program, which
    already showed them the result (RFC 8058 section 3.2).  The endpoint
    stores whatever anyone on the web posts to it: all of the table is read
    (a flood must not hold back the real request behind it, which must stop
    the very next mail), in batches of their own transaction, and a token
    that is not ours is one line of the log file each, with one warning for
    the run (cron mails stderr: a flood must not become a flood of mail).
    """
    keys = list(secrets)
    done = dropped = 0
    while True:
        with conn.transaction():
            batch = store.suppressions.take_requests(conn)
            for request_id, token in batch:
                request = tags.verify_unsubscribe(keys, token)
                if request is None:
                    log.info("one-click unsubscribe request %d: the token is not ours: dropped", request_id)
                    dropped += 1
                elif store.suppressions.member(conn, request.user_id, request.task_id) is None:
                    log.info("one-click unsubscribe request %d: user %d or task %d no longer exists",
                             request_id, request.user_id, request.task_id)
                elif store.suppressions.unsubscribe(conn, request.user_id, request.task_id, None):
                    log.info("user %d unsubscribed from task %d (one-click)", request.user_id, request.task_id)
                    done += 1
        if not batch:
            break
    if dropped:
        log.warning("%d one-click unsubscribe request(s) carried a token that is not ours and were dropped; if "
                    "none ever works, check that the forum's endpoint stores the token alone (docs/guide.md)",
                    dropped)
    return done


def confirmation(task_id: int | None, task_name: str) -> tuple[str, str]:
    """Subject and text of the one short confirmation of an unsubscribe."""
    name = " ".join(task_name.split())[:200]
    return ("You will get no more email about a task",
            "You asked to stop email about task #%s (%s), and you will get no more of it.\n\n"
            "You still get email about your other tasks. To get this task's email again, ask the forum's "
            "administrator.\n\nThis is an automatic message.\n" % (task_id if task_id is not None else "?", name))


def _bound(text: str) -> str:
    return clean(text)[:_REASON_LIMIT]

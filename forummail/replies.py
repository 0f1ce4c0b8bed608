"""Replies: each fetched email becomes a forum message, or a recorded refusal.

Every email is handled in its own transaction, which records it in
``inbound_emails`` and posts it (or refuses it) together; only after that
commit is it deleted from the mailbox.  One bad email never stops the
batch: an unexpected error records it as ``error`` with its raw bytes and
goes on.  A server or database failure stops the run with nothing deleted.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

from . import autoreply, db, feedback, match, mimeshape, rawheader, reports, safetext, signing, store
from . import token as reply_token
from .answers import explanation
from .errors import TemporaryFailure
from .extract import extract_from_parsed
from .parse import Attachment, ParsedMail, parse_body, parse_headers
from .safetext import clean, cut_bytes, file_name
from .settings import Settings

log = logging.getLogger(__name__)

# Parts that are never the content a person meant to share (signatures,
# Outlook's TNEF wrapper, business cards).
_JUNK_NAMES = ("smime.p7s", "winmail.dat", "signature.asc", "signature.asc.sig")
_JUNK_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature",
               "application/ms-tnef", "application/vnd.ms-tnef", "text/vcard", "text/x-vcard",
               "text/directory")
_SMALL_INLINE = 8 * 1024  # inline images below this are signature logos and spacers
_MAX_REASON = 2000  # characters of an error's text kept as its reason
# The reason of the record written when even recording the error failed: fixed,
# so that nothing of the email can make it fail too.
LAST_RESORT_REASON = "internal error: the email could not be recorded; its raw bytes and sha256 are kept"


@dataclass
class Decision:
    """What happened to one email; ``delete`` says whether it may leave the mailbox."""

    status: str
    reason: str = ""
    delete: bool = True
    inbound_id: int | None = None
    message_id: int | None = None
    task_id: int | None = None
    user_id: int | None = None
    text: str = ""
    sender: str = ""
    detail: str = ""  # what only the administrator needs (the summary, the log)
    report: str = ""  # a delivery report, complaint or unsubscribe: what it was (forummail.feedback)
    suppressed: list[str] = field(default_factory=list)  # addresses it suppressed

    def line(self, label: str) -> str:
        where = " to task %s as user %s" % (self.task_id, self.user_id) if self.task_id else ""
        what = {"posted": "posted", "duplicate": "duplicate (already handled)", "ignored": "ignored",
                "rejected": "rejected", "error": "error"}[self.status]
        text = "%s: %s%s" % (label, what, where)
        return text + (": " + self.reason if self.reason else "")


@dataclass
class FetchSummary:
    counts: dict[str, int] = field(default_factory=dict)
    left: int = 0
    refused: list[str] = field(default_factory=list)
    reports: dict[str, int] = field(default_factory=dict)  # bounce, delay, complaint, unsubscribe, ...
    suppressed: list[str] = field(default_factory=list)

    def add(self, decision: Decision) -> None:
        self.counts[decision.status] = self.counts.get(decision.status, 0) + 1
        if decision.report:
            self.reports[decision.report] = self.reports.get(decision.report, 0) + 1
        self.suppressed += decision.suppressed
        if decision.status in ("rejected", "error"):
            self.refused.append("inbound email %s from %s: %s%s" % (
                decision.inbound_id, decision.sender or "unknown sender", decision.reason,
                " (%s)" % decision.detail if decision.detail else ""))

    def line(self) -> str:
        parts = ["%s %d" % (k, v) for k, v in sorted(self.counts.items())]
        if self.left:
            parts.append("left in the mailbox %d" % self.left)
        return "replies: " + (", ".join(parts) if parts else "none")


class _DryRun(Exception):
    """Raised inside the transaction to roll back a dry run's work."""


def message_key(mail: ParsedMail, raw: bytes) -> str:
    """The key that makes a re-fetched email a duplicate: its Message-ID, or the hash of its bytes.

    Bounded in bytes, not characters (1,000 characters of U+20000 are 4,000
    bytes, over PostgreSQL's btree limit): a long Message-ID becomes the
    hash of itself (``safetext.key``), the same on every fetch.
    """
    if mail.message_id:
        return safetext.key(mail.message_id, "message-id-sha256:")
    return "sha256:" + hashlib.sha256(raw).hexdigest()


class Intake:
    """Decides and records one email at a time on one database connection."""

    def __init__(self, settings: Settings, conn: psycopg.Connection, dry_run: bool = False,
                 source: str = "pop3", now: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.conn = conn
        self.dry_run = dry_run
        self.source = source
        self.now = now or (lambda: datetime.now(UTC))
        s = settings
        self.own_addresses = [a for a in (s.mail_from_addr, s.replies.replier_from_addr) if a]
        self.secrets = list(signing.required(s, conn).verify)

    def handle(self, raw: bytes, uidl: str | None = None) -> Decision:
        """Record and decide one email in one transaction (rolled back in a dry run).

        Only the header is parsed here: the body waits until the sender may post
        (``_decide``), so a hostile body costs nothing for a stranger's mail.
        """
        mail = parse_headers(raw, self.settings.replies.replier_max_header_bytes,
                             self.settings.replies.replier_max_header_field_bytes)
        key = message_key(mail, raw)
        decision = self._handle(mail, raw, key, uidl)
        decision.sender = clean(mail.from_addr)
        return decision

    def _handle(self, mail: ParsedMail, raw: bytes, key: str, uidl: str | None) -> Decision:
        result: list[Decision] = []
        try:
            with self.conn.transaction():
                result.append(self._decide(mail, raw, key, uidl))
                if self.dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        except Exception as exc:  # one bad email never stops the batch
            if isinstance(exc, psycopg.Error) and db.connection_lost(self.conn, exc):
                raise  # the database is gone: stop, delete nothing
            log.exception("email %s: internal error", key)
            return self._record_error(mail, raw, key, uidl, "%s: %s" % (type(exc).__name__, exc))
        return result[0]

    def _fields(self, mail: ParsedMail, raw: bytes, uidl: str | None) -> dict[str, object]:
        # Everything of the email that reaches the record goes through clean():
        # one lone surrogate or NUL would fail this record and the error's too.
        # Bounded in bytes: ``sender`` is indexed (a btree entry must stay under 2704 bytes).
        return {"message_id_header": cut_bytes(mail.message_id, 998) or None, "pop_uidl": uidl,
                "source": self.source, "sent_at": mail.date, "sender": cut_bytes(mail.from_addr, 320) or None,
                "subject": cut_bytes(mail.subject, 2000) or None, "raw_size": len(raw)}

    def _decide(self, mail: ParsedMail, raw: bytes, key: str, uidl: str | None) -> Decision:
        s = self.settings
        fields = self._fields(mail, raw, uidl)
        inbound_id = store.inbound.claim(self.conn, key, fields)
        if inbound_id is None:
            previous = store.inbound.previous(self.conn, key)
            logged = store.inbound.record(self.conn, key, {
                **fields, "status": "duplicate",
                "reason": "already handled as email %s" % (previous[0] if previous else "?")})
            return Decision("duplicate", "already handled", inbound_id=logged)

        def finish(decision: Decision, **extra: object) -> Decision:
            decision.inbound_id = inbound_id
            decision.reason = clean(decision.reason)
            store.inbound.finish(self.conn, inbound_id, {
                "status": decision.status, "reason": decision.reason or None, "task_id": decision.task_id,
                "user_id": decision.user_id, "message_id": decision.message_id, **extra})
            return decision

        r = s.replies
        if len(raw) > r.replier_max_message_bytes:
            return self._refuse(finish, inbound_id, mail, raw, match.Refusal(
                "the email is too large", "%d bytes, limit %d" % (len(raw), r.replier_max_message_bytes),
                self._member(mail)))
        if mail.oversize is not None:
            return self._refuse(finish, inbound_id, mail, raw, self._header_refusal(mail, mail.oversize))
        if self.source == "pop3" and mail.date and mail.date < self.now() - timedelta(days=r.replier_max_age_days):
            # A first run on a mailbox full of old mail must not flood the forum.
            return finish(Decision("ignored", "older than %d days: left in the mailbox" % r.replier_max_age_days,
                                   delete=False), left_in_mailbox=True)
        # Reports and unsubscribes first: none is a reply, none may be matched,
        # posted or answered as one.
        handled = self._feedback(finish, mail, raw, inbound_id)
        if handled is not None:
            return handled
        automatic = autoreply.why_automatic(mail, self.own_addresses)
        if automatic:
            return finish(Decision("ignored", automatic))
        try:
            found = match.find(self.conn, mail, s, self.secrets, self.now().date())
        except match.Refusal as refusal:
            return self._refuse(finish, inbound_id, mail, raw, refusal)
        too_complex = self._mime_limits(raw, found.member)
        if too_complex is not None:
            return self._refuse(finish, inbound_id, mail, raw, too_complex)
        mail = parse_body(mail, raw)  # only now: the sender may post here, the structure is sane
        text, notes, kept = self._content(mail, found)
        if not text.strip() and not kept:
            return self._refuse(finish, inbound_id, mail, raw, match.Refusal(
                "the reply is empty", "nothing was left after removing the quoted original", found.member))
        body = clean(text + ("\n\n" + "\n".join(notes) if notes else "")).strip()
        # The post and its record's outcome in one statement (finish's work for "posted").
        message_id = store.inbound.post_reply(self.conn, inbound_id, found.task_id, found.user_id, body)
        for part in kept:
            store.inbound.add_attachment(self.conn, message_id, file_name(part.filename), clean(part.content_type),
                                 part.data, hashlib.sha256(part.data).hexdigest())
        return Decision("posted", "", inbound_id=inbound_id, message_id=message_id, task_id=found.task_id,
                        user_id=found.user_id, text=body)

    def _feedback(self, finish: Callable[..., Decision], mail: ParsedMail, raw: bytes,
                  inbound_id: int) -> Decision | None:
        """A delivery report, complaint or unsubscribe, recorded as ``ignored`` with what it did; else None."""
        r = self.settings.replies
        report = None
        if reports.candidate(mail) and self._mime_limits(raw, None) is None:
            report = reports.read(raw, reports.from_mail_system(mail))
        answered = False
        if report is not None:
            effect = feedback.on_report(self.conn, report, mail, r.replier_from_addr, self.secrets, inbound_id,
                                        debug=self.settings.debug)
        else:
            found = feedback.on_unsubscribe(self.conn, r.replier_from_addr, self.secrets, mail, inbound_id)
            if found is None:
                return None
            effect = found
            # One confirmation, at the user's stored address, never to automatic mail (RFC 3834 section 2).
            if effect.confirm_to and not autoreply.never_answer(effect.confirm_to) \
                    and not autoreply.why_automatic(mail, self.own_addresses):
                subject, body = feedback.confirmation(effect.task_id, effect.task_name)
                store.outgoing.enqueue(self.conn, effect.confirm_to, subject, body, "unsubscribed")
                answered = True
        log.info("email %s: %s", mail.message_id or "without Message-ID", effect.reason)
        return finish(Decision("ignored", effect.reason, report=effect.report, suppressed=effect.suppressed),
                      report=effect.report, answered=answered)

    def _header_refusal(self, mail: ParsedMail, oversize: rawheader.Oversize) -> match.Refusal:
        """Why an email whose header passed a limit is refused (only its fields within the limits were parsed)."""
        member = self._member(mail)
        if not oversize.field:
            return match.Refusal("the email's header is larger than %d bytes" % oversize.limit,
                                 "over the limit OPTS['replier_max_header_bytes'] = %d" % oversize.limit, member)
        if oversize.field.lower() == "content-type":
            return match.Refusal(
                "the email's Content-Type header is longer than %d bytes or has more than %d comments"
                % (rawheader.MAX_CONTENT_TYPE_BYTES, rawheader.MAX_CONTENT_TYPE_COMMENTS),
                "%d bytes; a fixed limit: the email package parses it whatever we ask" % oversize.size, member)
        return match.Refusal("the email's header field %s is longer than %d bytes" % (oversize.field, oversize.limit),
                             "%d bytes, over the limit OPTS['replier_max_header_field_bytes'] = %d"
                             % (oversize.size, oversize.limit), member)

    def _mime_limits(self, raw: bytes, member: store.inbound.Replier | None) -> match.Refusal | None:
        """A refusal when the MIME structure passes a limit, measured without parsing it."""
        r = self.settings.replies
        shape = mimeshape.measure(raw, r.replier_max_mime_depth, r.replier_max_mime_parts)
        if shape.depth > r.replier_max_mime_depth:
            return match.Refusal("the email's parts are nested more than %d levels deep" % r.replier_max_mime_depth,
                                 "over the limit OPTS['replier_max_mime_depth'] = %d" % r.replier_max_mime_depth,
                                 member)
        if shape.parts > r.replier_max_mime_parts:
            return match.Refusal("the email has more than %d parts" % r.replier_max_mime_parts,
                                 "over the limit OPTS['replier_max_mime_parts'] = %d" % r.replier_max_mime_parts,
                                 member)
        return None

    def _content(self, mail: ParsedMail, found: match.Match) -> tuple[str, list[str], list[Attachment]]:
        s = self.settings
        r = s.replies
        text = reply_text(mail, s, found.token)
        notes: list[str] = []
        kept: list[Attachment] = []
        for part in mail.attachments:
            name = (part.filename or "").strip()
            if name.lower() in _JUNK_NAMES or part.content_type in _JUNK_TYPES or name.lower().endswith(".vcf"):
                continue
            if part.inline and part.content_id and len(part.data) < _SMALL_INLINE:
                continue
            label = file_name(name, fallback=clean(part.content_type))
            if len(part.data) > r.replier_max_attachment_bytes:
                notes.append("[attachment %s dropped: %d KB is over the %d KB limit]"
                             % (label, len(part.data) // 1024, r.replier_max_attachment_bytes // 1024))
            elif len(kept) >= r.replier_max_attachments:
                notes.append("[attachment %s dropped: more than %d attachments]" % (label, r.replier_max_attachments))
            else:
                kept.append(part)
        return text, notes, kept

    def _member(self, mail: ParsedMail) -> store.inbound.Replier | None:
        """The member this email is tied to by proof, if any (for an email refused before matching)."""
        try:
            return match.find(self.conn, mail, self.settings, self.secrets, self.now().date()).member
        except match.Refusal as refusal:
            return refusal.member

    def _refuse(self, finish: Callable[..., Decision], inbound_id: int, mail: ParsedMail, raw: bytes,
                refusal: match.Refusal) -> Decision:
        """Keep the raw email; explain, once a day, only to the member the proof ties it to.

        Never to the address in From: unproven, it may be anyone's, and answering
        it would mail strangers whatever a forger wrote (backscatter).  The
        administrator hears of refusals in the hourly summary (alerts.py).
        """
        member = refusal.member
        answered = False
        # Never answer automatic mail (RFC 3834 section 2), whatever the refusal:
        # an oversized bounce is refused before the automatic check runs.
        automatic = autoreply.why_automatic(mail, self.own_addresses)
        address = member.email.strip() if member else ""
        if member and address and not automatic and not autoreply.never_answer(address) \
                and not store.inbound.explained_recently(self.conn, member.user_id, refusal.reason):
            store.outgoing.enqueue(self.conn, address, "Your email was not posted",
                          explanation(refusal.reason, mail.date, inbound_id), "reply-rejected")
            answered = True
        log.info("email %s refused: %s (%s)", mail.message_id or "without Message-ID", refusal.reason,
                 refusal.detail or "-")
        return finish(Decision("rejected", refusal.reason, user_id=member.user_id if member else None,
                               detail=refusal.detail), raw=raw[: self.settings.replies.replier_keep_raw_bytes],
                      answered=answered)

    def _record_error(self, mail: ParsedMail, raw: bytes, key: str, uidl: str | None, detail: str) -> Decision:
        """Record the email as ``error`` with its raw bytes; never fails on what failed the first try.

        Should even that fail (the record itself is what the database refuses),
        a last-resort record of the raw bytes and their hash, whose fields hold
        nothing the email chose, lets it leave the mailbox.  A database that is
        gone (``db.connection_lost``) still stops the run with nothing deleted.
        """
        reason = clean("internal error: " + detail)[:_MAX_REASON]
        if self.dry_run:
            return Decision("error", reason)
        try:
            with self.conn.transaction():
                previous = store.inbound.previous(self.conn, key)
                status = "duplicate" if previous else "error"
                inbound_id = store.inbound.record(self.conn, key, {
                    **self._fields(mail, raw, uidl), "status": status, "reason": reason,
                    "raw": raw[: self.settings.replies.replier_keep_raw_bytes]})
        except Exception as exc:
            if isinstance(exc, psycopg.Error) and db.connection_lost(self.conn, exc):
                raise
            log.exception("email %s: recording the error failed too; keeping a last-resort record", key)
            return self._last_resort(raw, uidl)
        return Decision("error", reason, inbound_id=inbound_id)

    def _last_resort(self, raw: bytes, uidl: str | None) -> Decision:
        """A record of nothing but the raw bytes: when even this fails, the database is at fault.

        Then the email stays in the mailbox and the run stops (exit 75): a
        database that refuses every record (read-only, disk full) must not
        see the mailbox emptied into nothing.
        """
        key = "sha256:" + hashlib.sha256(raw).hexdigest()
        try:
            return self._last_resort_record(raw, uidl, key)
        except psycopg.Error as exc:
            if db.connection_lost(self.conn, exc):
                raise
            raise TemporaryFailure("the database refuses even the last-resort record of email %s: %s;"
                                   " it stays in the mailbox" % (key, db.first_line(exc))) from None

    def _last_resort_record(self, raw: bytes, uidl: str | None, key: str) -> Decision:
        with self.conn.transaction():
            previous = store.inbound.previous(self.conn, key)
            inbound_id = store.inbound.record(self.conn, key, {
                "pop_uidl": clean(uidl) if uidl else None, "source": self.source,
                "status": "duplicate" if previous else "error", "reason": LAST_RESORT_REASON,
                "raw": raw[: self.settings.replies.replier_keep_raw_bytes], "raw_size": len(raw)})
        return Decision("error", LAST_RESORT_REASON, inbound_id=inbound_id)


def reply_text(mail: ParsedMail, settings: Settings, token: str | None = None) -> str:
    """The new text of a reply: quote and signature cut, our reply addresses removed."""
    ours = [settings.replies.replier_from_addr] if settings.replies.replier_from_addr else []
    if token:
        ours.insert(0, reply_token.reply_address(settings.replies.replier_from_addr, token))
    text = extract_from_parsed(mail, settings.replies.replier_separator, ours)
    if settings.replies.replier_from_addr:
        # Belt and braces: no reply address of ours (any token) is ever posted,
        # whatever the client quoted; other token-shaped text is the person's own words.
        text = reply_token.reply_address_re(settings.replies.replier_from_addr).sub("", text)
    return clean(text).strip()

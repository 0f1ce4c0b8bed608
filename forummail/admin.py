"""The administration commands behind manage.py.

Each returns what to print (``check`` lives in :mod:`forummail.check`, the
formatting in :mod:`forummail.report`, the SQL in :mod:`forummail.store.admin`).
Errors are raised as the exceptions of :mod:`forummail.errors`, so that
:func:`forummail.cli.run` turns them into the documented exit codes.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate, make_msgid
from typing import Any

import psycopg

from . import db, mime, report, signing, store
from .addresses import InvalidAddress, mailbox
from .compose import header_text
from .errors import ItemError, TemporaryFailure, UsageError
from .logs import escape
from .reply_codes import LOST, Stage, Verdict
from .settings import Settings
from .transport import Answer, Transport, transact, utf8_refusal

SUMMARY_ROWS = 5


@dataclass
class Done:
    """What a command that changes rows did (stdout) and could not do (stderr, exit 1)."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def init_db(settings: Settings) -> str:
    """Create or upgrade the schema, and the first reply-signing secret; say what was done."""
    conn = db.connect(settings, "init-db", autocommit=True)  # each step is its own transaction
    try:
        applied = db.migrate(conn, settings.db.schema)
        version = db.schema_version(conn, settings.db.schema)
        created = store.keys.create_first_reply_secret(conn, signing.new_secret())
    finally:
        conn.close()
    where = "schema %r in %s" % (settings.db.schema, db.describe(settings))
    if applied:
        line = "%s: applied %s; now at version %s" % (where, ", ".join(applied), version)
    else:
        line = "%s: up to date at version %s" % (where, version)
    if created:
        line += "\ncreated the reply-signing secret, kept in the database for every host that uses it"
        if settings.replies.reply_secret:
            line += " (REPLY_TOKEN_SECRET, set in the environment or .env, signs instead while it is set)"
    return line


def rotate_secret(settings: Settings, forget_older: bool = False) -> str:
    """Add a new reply-signing secret to the database; with ``forget_older``, delete the others."""
    conn = db.connect(settings, "manage", autocommit=True)
    try:
        db.require_schema(conn, settings)
        deleted = store.keys.add_reply_secret(conn, signing.new_secret(), forget_older)
    finally:
        conn.close()
    lines = ["a new reply-signing secret is kept in the database and signs from now on"]
    if forget_older:
        lines.append("%d earlier secret(s) deleted: replies to mail sent before now are refused as forged"
                     % deleted)
    else:
        lines.append("earlier secrets still verify replies for OPTS['reply_token_days'] = %d days"
                     % settings.replies.reply_token_days)
    if settings.replies.reply_secret:
        lines.append("note: REPLY_TOKEN_SECRET is set in the environment or .env and signs instead; to "
                     "rotate it, move its value to REPLY_TOKEN_SECRET_PREVIOUS and set a new one, or remove "
                     "it to sign with the database's secret")
    return "\n".join(lines)


@contextmanager
def _database(settings: Settings) -> Iterator[psycopg.Connection]:
    # Autocommit: every change is one statement, committed at once.
    conn = db.connect(settings, "manage", autocommit=True)
    try:
        db.require_schema(conn, settings)
        yield conn
    finally:
        conn.close()


# --- test-email ------------------------------------------------------------

def send_test_email(settings: Settings, address: str, say: Callable[[str], None] = print) -> str:
    """Send one test message to ``address``; return the server's final answer, or raise.

    Exit codes through the exceptions: unreachable (or a 4xx) 75, a 5xx
    refusal 1.  DEBUG does not divert it: the administrator named the address.
    """
    try:
        box = mailbox(address.strip())
    except InvalidAddress as exc:
        raise UsageError(str(exc)) from None
    address = box.address
    if settings.debug:
        say("DEBUG is on: notifications go to MAIL_ADMIN, but this test goes to %s as asked" % address)
    transport = Transport(settings.sending.smtp_servers, db.connector(settings, "manage"))
    server = transport.open()  # ServerDown (75) when no server can be used
    try:
        msgid = make_msgid("test", domain=settings.domain)
        data = _test_message(settings, address, server.name, msgid, box.smtputf8)
        assert transport.smtp is not None
        refusal = utf8_refusal(transport.smtp, server.name, [address])
        if refusal:
            raise ItemError(refusal)
        answer = transact(transport.smtp, settings.mail_from_addr, [address], data, box.smtputf8)
    finally:
        transport.close()
    if answer.code == LOST:
        raise TemporaryFailure("SMTP server %s: the connection was lost before it answered: %s"
                               % (server.name, answer.text))
    words = _test_answer(answer, settings.mail_from_addr)
    verdict = answer.verdict
    if verdict.retry:
        raise TemporaryFailure("SMTP server %s did not take the test message for now: %s" % (server.name, words))
    if verdict is not Verdict.ACCEPTED:
        raise ItemError("SMTP server %s refused the test message: %s" % (server.name, words))
    return "SMTP server %s accepted the test message for %s: %s\nMessage-ID: %s" % (
        server.name, address, words, msgid)


def _test_answer(answer: Answer, sender: str) -> str:
    """The server's answer, prefixed with what it refused."""
    if answer.stage is Stage.MAIL:
        return "MAIL FROM <%s> refused: %s (check MAIL_FROM)" % (sender, answer.text)
    if answer.stage is Stage.RCPT:
        return "; ".join("RCPT TO <%s> refused: %s" % item for item in answer.refused.items())
    if answer.stage is Stage.DATA:
        return "DATA refused: %s" % answer.text
    return answer.text


def _test_message(settings: Settings, address: str, server: str, msgid: str, utf8: bool) -> bytes:
    host = header_text(socket.gethostname(), 100) or "localhost"
    now = datetime.now().astimezone()
    headers = [
        ("From", mime.address(settings.mail_from_name, settings.mail_from_addr)),
        ("To", address),
        ("Subject", "Forum mailer test from %s" % host),
        ("Date", formatdate(localtime=True)),
        ("Message-ID", msgid),
        # Our usual headers: auto-responders stay quiet, filters can sort.
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
        ("X-Notification-Type", "test"),
    ]
    text = ("This is a test message from the forum mailer (manage.py test-email), sent from %s\n"
            "at %s through SMTP server %s.\n\n"
            "If you can read it, notifications can reach %s. Nothing else to do.\n"
            % (host, report.when(now), server, address))
    return mime.build(headers, text, utf8=utf8)


# --- queue -----------------------------------------------------------------

def _recipient(value: Any) -> str:
    # enqueue_email() with an empty recipient means the administrators.
    return escape(str(value)) if value else "(MAIL_ADMIN)"


def queue_summary(settings: Settings) -> str:
    """Counts by status, the oldest waiting row, the next retries, the most recent errors."""
    with _database(settings) as conn:
        counts = store.admin.notification_counts(conn)
        oldest = store.admin.oldest_waiting(conn)
        retries = store.admin.next_retries(conn, SUMMARY_ROWS)
        failures = store.admin.recent_failures(conn, SUMMARY_ROWS)
    lines = [report.counts("notifications", counts)]
    if oldest:
        lines.append("oldest pending: #%d to %s, queued %s (%s ago)" % (
            oldest["id"], _recipient(oldest["recipient"]), report.when(oldest["created_at"]),
            report.age(oldest["age"])))
    else:
        lines.append("oldest pending: none, the queue is empty")
    lines.append("")
    if retries:
        lines.append("next retries:")
        lines.append(report.table(["id", "recipient", "attempts", "next attempt", "last error"], [
            [r["id"], _recipient(r["recipient"]), r["attempts"], report.when(r["next_attempt_at"]),
             r["last_error"]] for r in retries]))
    else:
        lines.append("next retries: none")
    lines.append("")
    if failures:
        lines.append("recent errors (failed; manage.py retry sends them again):")
        lines.append(report.table(["id", "recipient", "last attempt", "last error"], [
            [r["id"], _recipient(r["recipient"]), report.when(r["last_attempt_at"]), r["last_error"]]
            for r in failures]))
    else:
        lines.append("recent errors: none")
    return "\n".join(lines)


def queue_list(settings: Settings, status: str | None, recipient: str | None, limit: int) -> str:
    """The rows matching, as a table."""
    with _database(settings) as conn:
        rows = store.admin.list_notifications(conn, status, recipient, limit)
    if not rows:
        return "no notifications match"
    waiting = ("pending", "sending")
    table = report.table(
        ["id", "recipient", "kind", "status", "attempts", "last attempt", "next attempt", "last error"],
        [[r["id"], _recipient(r["recipient"]), r["kind"], r["status"], r["attempts"],
          report.when(r["last_attempt_at"]),
          report.when(r["next_attempt_at"]) if r["status"] in waiting else "-", r["last_error"]]
         for r in rows])
    return table + _more(len(rows), limit)


def _more(shown: int, limit: int) -> str:
    return "\n(only the first %d shown: --limit N for more)" % limit if shown >= limit else ""


# --- inbound ---------------------------------------------------------------

def inbound_summary(settings: Settings) -> str:
    """Counts by status and the most recent refusals."""
    with _database(settings) as conn:
        counts = store.admin.inbound_counts(conn)
        refusals = store.admin.inbound_refusals(conn, SUMMARY_ROWS)
    lines = [report.counts("inbound emails", counts), ""]
    if refusals:
        lines.append("recent refusals (manage.py inbound --show ID prints the email):")
        lines.append(report.table(["id", "received", "sender", "status", "reason"], [
            [r["id"], report.when(r["received_at"]), r["sender"], r["status"], r["reason"]] for r in refusals]))
    else:
        lines.append("recent refusals: none")
    return "\n".join(lines)


def inbound_list(settings: Settings, status: str | None, sender: str | None, limit: int) -> str:
    """The inbound records matching, as a table."""
    with _database(settings) as conn:
        rows = store.admin.list_inbound(conn, status, sender, limit)
    if not rows:
        return "no inbound emails match"
    table = report.table(["id", "received", "sender", "subject", "status", "message", "reason"], [
        [r["id"], report.when(r["received_at"]), r["sender"], report.one_line(r["subject"], 40), r["status"],
         r["message_id"] if r["message_id"] is not None else "-", r["reason"]] for r in rows])
    return table + _more(len(rows), limit)


def readable_email(raw: bytes) -> str:
    """A stored email made safe for a terminal, with its lines and tabs as they are.

    The email is a stranger's: ``ESC ] 0 ; ... BEL`` would set the terminal's
    title, ``ESC [ 2 J`` clear the screen, a bare CR overwrite a line.  Every
    control character but the line breaks and tabs is escaped as in the logs
    (``logs.escape``: ``\\x1b``), and bytes that are not UTF-8 as ``\\xff``.
    """
    text = raw.decode("utf-8", "backslashreplace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the email's last line break, not a line of its own
    return "".join("\t".join(escape(part) for part in line.removesuffix("\r").split("\t")) + "\n"
                   for line in lines)


def inbound_show(settings: Settings, inbound_id: int) -> bytes:
    """The stored raw email of one record (kept for refused ones), as received."""
    with _database(settings) as conn:
        row = store.admin.inbound_email(conn, inbound_id)
    if row is None:
        raise UsageError("there is no inbound email %d (manage.py inbound --list shows them)" % inbound_id)
    if row["raw"] is None:
        raise UsageError("inbound email %d (%s) has no stored copy: only refused emails keep theirs"
                         % (inbound_id, row["status"]))
    return bytes(row["raw"])


# --- retry, cancel, purge --------------------------------------------------

def _unchanged(ids: list[int], before: dict[int, str], allowed: tuple[str, ...], verb: str) -> list[str]:
    problems = []
    for i in ids:
        if i not in before:
            problems.append("#%d not %s: there is no such notification" % (i, verb))
        elif before[i] not in allowed:
            problems.append("#%d not %s: it is %s (only %s ones can be)" % (i, verb, before[i], " or ".join(allowed)))
    return problems


def retry(settings: Settings, ids: list[int], recipient: str | None = None) -> Done:
    """Failed rows (all, one recipient's, or by id: failed or cancelled) back to pending, due now."""
    done = Done()
    with _database(settings) as conn:
        if ids:
            before = store.admin.notification_statuses(conn, ids)
            n = store.admin.retry_notifications(conn, ids=ids)
            done.problems = _unchanged(ids, before, ("failed", "cancelled"), "retried")
            what = "notification(s)"
        else:
            n = store.admin.retry_notifications(conn, recipient=recipient)
            what = "failed notification(s)" + (" to %s" % recipient if recipient else "")
    done.lines.append("%d %s back to pending, attempts reset; the next send_notifications.py run sends them"
                      % (n, what) if n else "nothing to retry: no %s" % what)
    return done


def cancel(settings: Settings, ids: list[int], recipient: str | None = None) -> Done:
    """Rows by id (pending or failed), or every pending row of one recipient, to cancelled."""
    done = Done()
    with _database(settings) as conn:
        if ids:
            before = store.admin.notification_statuses(conn, ids)
            n = store.admin.cancel_notifications(conn, ids=ids)
            done.problems = _unchanged(ids, before, ("pending", "failed"), "cancelled")
            what = "notification(s)"
        else:
            n = store.admin.cancel_notifications(conn, recipient=recipient)
            what = "pending notification(s) to %s" % recipient
    done.lines.append("%d %s cancelled" % (n, what) if n else "nothing to cancel: no %s" % what)
    return done


def purge(settings: Settings, days: int, dry_run: bool = False) -> str:
    """Delete finished notifications and inbound records older than ``days``; say how many."""
    # An inbound record is what stops an email still in the mailbox from
    # being posted twice; mail older than replier_max_age_days is never
    # posted, so records are kept at least that long.
    inbound_days = max(days, settings.replies.replier_max_age_days)
    with _database(settings) as conn:
        before = store.admin.cutoff(conn, days)
        inbound_before = store.admin.cutoff(conn, inbound_days)
        if dry_run:
            n, m = store.admin.purge_counts(conn, before, inbound_before)
        else:
            n, m = store.admin.purge(conn, before, inbound_before)
    verb = "would delete" if dry_run else "deleted"
    lines = ["%s%s %d notification(s) (sent, failed, cancelled) queued before %s" % (
                 "dry run: " if dry_run else "", verb, n, report.when(before)),
             "%s%s %d inbound email record(s) received before %s" % (
                 "dry run: " if dry_run else "", verb, m, report.when(inbound_before))]
    if inbound_days != days:
        lines.append("(inbound records are kept at least OPTS['replier_max_age_days'] = %d days: they keep an "
                     "email still in the mailbox from being posted twice)" % inbound_days)
    return "\n".join(lines)

"""The job of ``fetch_replies.py``: one fetcher per mailbox, every email handled once.

One fetcher per mailbox at a time, across machines: a PostgreSQL advisory
lock keyed on the mailbox (host and login).  Finding it taken is normal:
another run is busy, this one exits 0 in silence.
"""

from __future__ import annotations

import hashlib
import logging
import poplib
import time
from collections.abc import Callable

import psycopg

from . import alerts, db, metrics, store
from .errors import MailerError, TemporaryFailure
from .mailbox import MailboxDown, Pop3Mailbox, error_text, read_one
from .parse import parse_message
from .replies import Decision, FetchSummary, Intake, reply_text
from .settings import Settings

log = logging.getLogger(__name__)


def _lock_key(settings: Settings) -> int:
    r = settings.replies
    digest = hashlib.sha256(("forummail-fetch:%s:%s" % (r.pop_host.lower(), r.replier_pop_login)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def fetch_mailbox(settings: Settings, dry_run: bool = False,
                  show: Callable[[str], None] = print) -> FetchSummary:
    """Fetch and handle every email in the POP3 mailbox, then report (metrics, alerts)."""
    summary = FetchSummary()
    if not settings.replies.pop_configured:
        log.debug("no reply mailbox configured: nothing to do")
        return summary
    started = time.time()
    exit_code = 1
    conn: psycopg.Connection | None = None
    try:
        conn = db.connect(settings, "fetcher", autocommit=True)
        _fetch(settings, conn, summary, dry_run, show)
        exit_code = 0
        if summary.refused and not dry_run:
            alerts.notify(settings, "refused-replies", "%d email repl(ies) refused" % len(summary.refused),
                          summary.refused, conn)
        if not dry_run:
            tell_suppressions(settings, conn)
        return summary
    except MailerError as exc:
        exit_code = exc.exit_code
        if isinstance(exc, TemporaryFailure) and not dry_run:
            kind = "pop3-down" if isinstance(exc, MailboxDown) else "database-down"
            alerts.notify(settings, kind, "fetch_replies.py could not run", [str(exc)], conn)
        raise
    finally:
        if not dry_run:
            metrics.write(settings.metrics_dir, "fetch", exit_code, started, summary.counts,
                          {"mailbox_left": summary.left, **report_gauges(summary, conn)})
        if conn is not None:
            conn.close()


def _fetch(settings: Settings, conn: psycopg.Connection, summary: FetchSummary, dry_run: bool,
           show: Callable[[str], None]) -> None:
    mailbox = Pop3Mailbox(settings, timeout=settings.replies.replier_pop_timeout,
                          connect=db.connector(settings, "fetcher"))
    quitting = False
    try:
        db.require_schema(conn, settings)
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (_lock_key(settings),)).fetchone()
        if not got or not got[0]:
            log.info("another fetch_replies run holds the mailbox %s: exiting", settings.replies.replier_pop_login)
            return
        intake = Intake(settings, conn, dry_run=dry_run)  # before the mailbox: it may find no secret
        mailbox.open()
        left = store.inbound.left_in_mailbox(conn)
        for item in mailbox.listing():
            if item.uidl and item.uidl in left:
                summary.left += 1
                continue
            raw = mailbox.retrieve(item.number)
            decision = intake.handle(raw, item.uidl)
            summary.add(decision)
            _log(decision, "email %d" % item.number, dry_run, show)
            if decision.delete and not dry_run:
                mailbox.delete(item.number)
            if not decision.delete:
                summary.left += 1
        quitting = True
        mailbox.commit()  # QUIT: the deletes happen now, after every commit
    except psycopg.OperationalError as exc:
        raise TemporaryFailure("lost the connection to %s: %s" % (db.describe(settings), db.first_line(exc))) from None
    except MailboxDown:
        raise
    except (OSError, EOFError, poplib.error_proto) as exc:
        # A dropped session reads as EOF, which poplib reports as error_proto
        # ("-ERR EOF"), not OSError.  Before QUIT nothing was deleted; at QUIT
        # only emails whose outcome was committed may have been.
        what = "at QUIT (only handled emails may have been deleted)" if quitting else "(nothing was deleted)"
        raise MailboxDown("POP3 session with %s broke off: %s %s" % (mailbox.name, error_text(exc), what)) from None
    finally:
        mailbox.abort()  # no-op after QUIT; otherwise hang up so nothing is deleted


def fetch_file(settings: Settings, path: str, dry_run: bool = False,
               show: Callable[[str], None] = print) -> Decision:
    """Run the same pipeline on one email from a file or standard input (``-``)."""
    raw = read_one(path, settings.replies.replier_max_message_bytes + 1)
    conn = db.connect(settings, "fetcher", autocommit=True)
    try:
        db.require_schema(conn, settings)
        decision = Intake(settings, conn, dry_run=dry_run, source="stdin" if path == "-" else "file").handle(raw)
        _log(decision, path, dry_run, show)
        summary = FetchSummary()
        summary.add(decision)
        if summary.refused and not dry_run:
            # Piped one at a time, refusals still reach MAIL_ADMIN only in the hourly summary.
            alerts.notify(settings, "refused-replies", "1 email repl(ies) refused", summary.refused, conn)
        if not dry_run:
            tell_suppressions(settings, conn)
        return decision
    except psycopg.OperationalError as exc:
        raise TemporaryFailure("lost the connection to %s: %s" % (db.describe(settings), db.first_line(exc))) from None
    finally:
        conn.close()


def tell_suppressions(settings: Settings, conn: psycopg.Connection) -> None:
    """New suppressions to MAIL_ADMIN in the hourly summary; those not yet told wait for the next one."""
    rows = store.suppressions.not_alerted(conn)
    if not rows:
        return
    lines = ["%s: %s (%s, %s)" % (r["address"], r["reason"], r["kind"], r["created_at"].strftime("%Y-%m-%d %H:%M"))
             for r in rows]
    lines.append("\nNo more mail goes to these addresses; manage.py suppressions --clear ADDRESS lifts one.")
    if alerts.notify(settings, "suppressions", "%d address(es) suppressed after delivery reports or complaints"
                     % len(rows), lines, conn):
        store.suppressions.mark_alerted(conn, [r["address"] for r in rows])


def report_gauges(summary: FetchSummary, conn: psycopg.Connection | None) -> dict[str, float]:
    """Reports handled by this run, and the addresses suppressed now (for the metrics file)."""
    gauges: dict[str, float] = {
        "bounces": summary.reports.get("bounce", 0), "soft_bounces": summary.reports.get("delay", 0),
        "complaints": summary.reports.get("complaint", 0), "unsubscribes": summary.reports.get("unsubscribe", 0)}
    if conn is not None and not conn.closed:
        try:
            gauges["suppressed_addresses"] = store.suppressions.count(conn)
        except psycopg.Error:
            pass
    return gauges


def extract_file(settings: Settings, path: str) -> str:
    """The text that would be posted from one email; touches no database, no mailbox."""
    return reply_text(parse_message(read_one(path, settings.replies.replier_max_message_bytes + 1)), settings)


def _log(decision: Decision, label: str, dry_run: bool, show: Callable[[str], None]) -> None:
    if dry_run:
        show("would be " + decision.line(label) if decision.status != "duplicate" else decision.line(label))
        if decision.text:
            show("  " + decision.text.replace("\n", "\n  "))
        return
    # A refused reply is routine (the member it is tied to is told by mail, and
    # MAIL_ADMIN in the hourly summary);
    # an internal error is not, and cron should mail it.
    level = logging.ERROR if decision.status == "error" else logging.INFO
    log.log(level, "%s (inbound %s)", decision.line(label), decision.inbound_id)

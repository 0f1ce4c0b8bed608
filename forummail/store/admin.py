"""Queries for ``manage.py``: a person at a terminal.

Small answers, each through an index (schema/003_admin.sql) even when the
queue holds millions of rows; only the counts by status read the whole
table.  Retry, cancel and purge change rows in bulk, each in one statement.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

log = logging.getLogger(__name__)
# --- Administration (manage.py) ---
#
# Queries for a person at a terminal: small answers, each through an index
# (schema/003_admin.sql) even when the queue holds millions of rows; only the
# counts by status read the whole table.

NOTIFICATION_STATUSES = ("pending", "sending", "sent", "failed", "cancelled", "bounced")
INBOUND_STATUSES = ("posted", "duplicate", "ignored", "rejected", "error")

# Waiting rows are indexed by two partial indexes, one per class (urgent or
# not, schema/005): naming both classes lets the planner combine them
# (BitmapOr) instead of reading the whole table.
_EITHER_CLASS = "(urgent OR NOT urgent)"
_NOTIFICATION_ROW = ("id, recipient, kind, status, attempts, created_at, last_attempt_at, next_attempt_at,"
                     " last_error")
# Listing order per status, chosen so that LIMIT stops early on an index:
# what goes next for waiting rows, the newest failure for failed ones.
_LIST_ORDER = {"pending": "next_attempt_at, id", "sending": "next_attempt_at, id",
               "failed": "last_attempt_at DESC", None: "id DESC", "sent": "id DESC", "cancelled": "id DESC"}


def _dicts(conn: psycopg.Connection, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()


def notification_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Notifications per status, every status listed (zeros included)."""
    counts = dict.fromkeys(NOTIFICATION_STATUSES, 0)
    for status, n in conn.execute("SELECT status, count(*) FROM notifications GROUP BY status"):
        counts[str(status)] = int(n)
    return counts


def oldest_waiting(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The oldest row not sent yet (pending or sending), with its age in seconds."""
    # MATERIALIZED: read the waiting rows through their partial index and sort
    # them, instead of letting LIMIT 1 walk the created_at index through every
    # row already sent.
    rows = _dicts(conn, "WITH waiting AS MATERIALIZED ("
                  " SELECT id, recipient, created_at FROM notifications"
                  " WHERE status IN ('pending', 'sending') AND " + _EITHER_CLASS + ")"
                  " SELECT id, recipient, created_at, extract(epoch FROM now() - created_at)::float8 AS age"
                  " FROM waiting ORDER BY created_at, id LIMIT 1", {})
    return rows[0] if rows else None


def next_retries(conn: psycopg.Connection, limit: int) -> list[dict[str, Any]]:
    """Pending rows that failed before (attempts > 0), the next due first."""
    return _dicts(conn, "SELECT " + _NOTIFICATION_ROW + " FROM notifications"
                  " WHERE status = 'pending' AND " + _EITHER_CLASS + " AND attempts > 0"
                  " ORDER BY next_attempt_at LIMIT %(limit)s",
                  {"limit": limit})


def recent_failures(conn: psycopg.Connection, limit: int) -> list[dict[str, Any]]:
    """Failed rows, the most recent failure first."""
    return _dicts(conn, "SELECT " + _NOTIFICATION_ROW + " FROM notifications"
                  " WHERE status = 'failed' ORDER BY last_attempt_at DESC LIMIT %(limit)s", {"limit": limit})


def list_notifications(conn: psycopg.Connection, status: str | None = None, recipient: str | None = None,
                       limit: int = 50) -> list[dict[str, Any]]:
    """Rows by status and/or recipient (case-insensitive).

    For one recipient: the newest first (index on lower(recipient),
    created_at).  Otherwise waiting rows in the order they will go, failed
    ones by their last attempt, others the newest first.
    """
    where = []
    if status:
        where.append("status = %(status)s")
        if status in ("pending", "sending"):
            where.append(_EITHER_CLASS)
    if recipient:
        where.append("lower(recipient) = lower(%(recipient)s)")
    order = "created_at DESC, id DESC" if recipient else _LIST_ORDER.get(status, "id DESC")
    query = "SELECT " + _NOTIFICATION_ROW + " FROM notifications"
    if where:
        query += " WHERE " + " AND ".join(where)
    query += " ORDER BY " + order + " LIMIT %(limit)s"
    return _dicts(conn, query, {"status": status, "recipient": recipient, "limit": limit})


def notification_statuses(conn: psycopg.Connection, ids: list[int]) -> dict[int, str]:
    """The status of each of these rows that exists."""
    rows = conn.execute("SELECT id, status FROM notifications WHERE id = ANY(%s)", (ids,))
    return {int(i): str(s) for i, s in rows}


def retry_notifications(conn: psycopg.Connection, ids: list[int] | None = None,
                        recipient: str | None = None) -> int:
    """Failed rows back to pending: attempts 0, due now; how many.

    All failed rows, those of one recipient, or the rows named by id (which
    may also be cancelled ones).  The Message-ID is kept, so a message that
    did arrive after all is recognised as the same by mail clients.
    """
    query = ("UPDATE notifications SET status = 'pending', attempts = 0, next_attempt_at = now(),"
             " claimed_by = NULL WHERE ")
    if ids:
        query += "id = ANY(%(ids)s) AND status IN ('failed', 'cancelled')"
    elif recipient:
        query += "lower(recipient) = lower(%(recipient)s) AND status = 'failed'"
    else:
        query += "status = 'failed'"
    return conn.execute(query, {"ids": ids, "recipient": recipient}).rowcount


def cancel_notifications(conn: psycopg.Connection, ids: list[int] | None = None,
                         recipient: str | None = None) -> int:
    """Rows named by id (pending or failed), or every pending row of one recipient, to cancelled.

    Never a 'sending' row: its run may be talking to the server right now,
    and its outcome must not be overwritten.  The old error is kept in the
    new last_error.
    """
    query = ("UPDATE notifications SET status = 'cancelled', next_attempt_at = now(),"
             " last_error = 'cancelled by manage.py cancel' || coalesce(' (was: ' || last_error || ')', '')"
             " WHERE ")
    if ids:
        query += "id = ANY(%(ids)s) AND status IN ('pending', 'failed')"
    elif recipient:
        query += "lower(recipient) = lower(%(recipient)s) AND status = 'pending'"
    else:
        raise ValueError("cancel_notifications needs ids or a recipient")
    return conn.execute(query, {"ids": ids, "recipient": recipient}).rowcount


def cutoff(conn: psycopg.Connection, days: int) -> datetime:
    """The database's now() minus ``days``: one fixed instant for a whole purge."""
    row = conn.execute("SELECT now() - make_interval(days => %s)", (days,)).fetchone()
    assert row is not None
    value: datetime = row[0]
    return value


# Finished notifications only; inbound records still attached to a mail that
# waits to go out (an administrator's copy of a refused reply) are kept.
_PURGE_NOTIFICATIONS = ("FROM notifications WHERE created_at < %(before)s"
                        " AND status IN ('sent', 'failed', 'cancelled', 'bounced')")
_PURGE_INBOUND = ("FROM inbound_emails i WHERE received_at < %(before)s AND NOT EXISTS ("
                  "SELECT 1 FROM notifications n WHERE n.inbound_email_id = i.id"
                  " AND n.status IN ('pending', 'sending'))")


def purge_counts(conn: psycopg.Connection, before: datetime, inbound_before: datetime) -> tuple[int, int]:
    """How many notifications and inbound records a purge with these cut-offs would delete."""
    counts = []
    for where, when in ((_PURGE_NOTIFICATIONS, before), (_PURGE_INBOUND, inbound_before)):
        row = conn.execute("SELECT count(*) " + where, {"before": when}).fetchone()
        counts.append(int(row[0]) if row else 0)
    return counts[0], counts[1]


def purge(conn: psycopg.Connection, before: datetime, inbound_before: datetime,
          batch: int = 5000) -> tuple[int, int]:
    """Delete finished notifications and inbound records older than the cut-offs; how many of each.

    In batches: on an autocommit connection each batch is its own short
    transaction, so a purge of millions of rows never holds locks for long
    and can be interrupted at any point.
    """
    done = []
    for table, where, when in (("notifications", _PURGE_NOTIFICATIONS, before),
                               ("inbound_emails", _PURGE_INBOUND, inbound_before)):
        query = "DELETE FROM %s WHERE id IN (SELECT id %s LIMIT %%(batch)s)" % (table, where)
        total = 0
        while True:
            n = conn.execute(query, {"before": when, "batch": batch}).rowcount
            total += n
            if n < batch:
                break
        done.append(total)
    return done[0], done[1]


def inbound_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Inbound email records per status, every status listed."""
    counts = dict.fromkeys(INBOUND_STATUSES, 0)
    for status, n in conn.execute("SELECT status, count(*) FROM inbound_emails GROUP BY status"):
        counts[str(status)] = int(n)
    return counts


_INBOUND_ROW = "id, received_at, sender, subject, status, reason, message_id, raw IS NOT NULL AS has_raw"


def inbound_refusals(conn: psycopg.Connection, limit: int) -> list[dict[str, Any]]:
    """The most recent rejected and failed (error) emails."""
    return _dicts(conn, "SELECT " + _INBOUND_ROW + " FROM inbound_emails WHERE status IN ('rejected', 'error')"
                  " ORDER BY received_at DESC LIMIT %(limit)s", {"limit": limit})


def list_inbound(conn: psycopg.Connection, status: str | None = None, sender: str | None = None,
                 limit: int = 50) -> list[dict[str, Any]]:
    """Inbound records by status and/or sender (case-insensitive), the newest first."""
    where = []
    if status:
        where.append("status = %(status)s")
    if sender:
        where.append("lower(sender) = lower(%(sender)s)")
    query = "SELECT " + _INBOUND_ROW + " FROM inbound_emails"
    if where:
        query += " WHERE " + " AND ".join(where)
    query += " ORDER BY received_at DESC, id DESC LIMIT %(limit)s"
    return _dicts(conn, query, {"status": status, "sender": sender, "limit": limit})


def inbound_email(conn: psycopg.Connection, inbound_id: int) -> dict[str, Any] | None:
    """One inbound record with its stored raw bytes (kept for refused emails only)."""
    rows = _dicts(conn, "SELECT " + _INBOUND_ROW + ", raw, raw_size FROM inbound_emails WHERE id = %(id)s",
                  {"id": inbound_id})
    return rows[0] if rows else None

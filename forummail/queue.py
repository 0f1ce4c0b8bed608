"""All SQL of the outgoing queue (the ``notifications`` table).

Design for speed and safety:

* one statement claims a batch *and* returns everything needed to render
  it (claim + joins + attachment list): one round trip per batch;
* one short autocommitted statement records each outcome, right after the
  SMTP server answered, so a run killed at any moment re-sends at most the
  one message it was sending; ``synchronous_commit = off`` keeps that cheap
  (only a crash of PostgreSQL itself could forget the last fraction of a
  second of outcomes, which would then be sent again, never lost);
* every outcome is guarded by ``claimed_by``: a run that lost its lease can
  never overwrite the row of the run that took it over.
"""

from __future__ import annotations

import json
import logging
import select
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.pq import ExecStatus
from psycopg.rows import dict_row

from .settings import SmtpServer

log = logging.getLogger(__name__)

# The row a batch renders from.  {source} is either the claiming CTE or, for
# --dry-run, a plain SELECT of the same rows.
_JOB_SELECT = """
SELECT c.id, c.kind, c.recipient, c.attempts, c.last_error, c.created_at, c.digest, c.subject, c.body AS system_body,
       c.message_id_header, c.user_id, ru.name AS recipient_name,
       coalesce(ru.active, true) AS recipient_active,
       c.task_id, t.name AS task_name, un.id AS universe_id, un.name AS universe_name,
       coalesce(un.allow_email_reply, false) AS allow_email_reply, c.urgent,
       un.mail_from_addr AS universe_from_addr, un.mail_from_name AS universe_from_name,
       un.smtp_server AS universe_smtp_server,
       c.message_id, m.body AS message_body, m.created_at AS message_created_at,
       m.author_id, au.name AS author_name,
       (SELECT i.raw FROM inbound_emails i WHERE i.id = c.inbound_email_id) AS attached_email,
       (SELECT coalesce(json_agg(json_build_array(a.file_name, a.file_hash, a.file_size)
                                 ORDER BY a.id), '[]')
          FROM message_attachments a WHERE a.message_id = c.message_id) AS attachments
  FROM {source} c
  LEFT JOIN users ru ON ru.id = c.user_id
  LEFT JOIN tasks t ON t.id = c.task_id
  LEFT JOIN universes un ON un.id = coalesce(t.universe_id, ru.universe_id)
  LEFT JOIN messages m ON m.id = c.message_id
  LEFT JOIN users au ON au.id = m.author_id
 ORDER BY c.urgent DESC, c.id
"""

# A 'sending' row whose lease ended belongs to a run that died: the attempt
# it was making counts, and says so.
_CLAIM = """
WITH hi AS (
    SELECT id FROM notifications
     WHERE status IN ('pending', 'sending') AND urgent AND next_attempt_at <= now()
     ORDER BY next_attempt_at
     LIMIT %(limit)s
     FOR UPDATE SKIP LOCKED
), lo AS (
    SELECT id FROM notifications
     WHERE status IN ('pending', 'sending') AND NOT urgent AND next_attempt_at <= now()
     ORDER BY next_attempt_at
     LIMIT greatest(%(limit)s - (SELECT count(*) FROM hi), 0)
     FOR UPDATE SKIP LOCKED
), due AS (
    SELECT id FROM hi UNION ALL SELECT id FROM lo
), claimed AS (
    UPDATE notifications n
       SET status = 'sending',
           next_attempt_at = now() + make_interval(secs => %(lease)s),
           claimed_by = %(run)s,
           attempts = n.attempts + (n.status = 'sending')::int,
           last_error = CASE WHEN n.status = 'sending'
                        THEN 'the run that was sending it stopped (' || coalesce(n.claimed_by, '?') || ')'
                        ELSE n.last_error END
      FROM due
     WHERE n.id = due.id
 RETURNING n.*
)
""" + _JOB_SELECT.format(source="claimed")

_PEEK = """
WITH due AS (
    SELECT * FROM notifications
     WHERE status IN ('pending', 'sending') AND next_attempt_at <= now()
     ORDER BY urgent DESC, next_attempt_at
     LIMIT %(limit)s
)
""" + _JOB_SELECT.format(source="due")

# Outcomes use $n placeholders: OutcomeWriter sends them through libpq
# directly, so that a worker need not wait for one before its next mail.
_GUARD = b" WHERE id = $1 AND status = 'sending' AND claimed_by = $2"
_SENT = (
    b"UPDATE notifications SET status = 'sent', sent_at = now(), last_attempt_at = now(),"
    b" attempts = attempts + 1, last_error = NULL, next_attempt_at = now(),"
    b" message_id_header = coalesce(message_id_header, $3)" + _GUARD
)
_RETRY = (
    b"UPDATE notifications SET status = 'pending', last_attempt_at = now(),"
    b" attempts = attempts + 1, last_error = $4,"
    b" next_attempt_at = now() + make_interval(secs => $5::float8),"
    b" message_id_header = coalesce(message_id_header, $3)" + _GUARD
)
_FAILED = (
    b"UPDATE notifications SET status = $5, last_attempt_at = now(),"
    b" attempts = attempts + $6::int, last_error = $4, next_attempt_at = now(),"
    b" message_id_header = coalesce(message_id_header, $3)" + _GUARD
)
_RELEASE = (
    "UPDATE notifications SET status = 'pending', next_attempt_at = now() + make_interval(secs => %(delay)s)"
    " WHERE id = ANY(%(ids)s) AND status = 'sending' AND claimed_by = %(run)s"
)


@dataclass
class Job:
    """One claimed notification and what rendering it needs."""

    id: int
    kind: str
    recipient: str
    attempts: int
    last_error: str | None = None
    created_at: datetime | None = None
    digest: bool = False
    subject: str | None = None
    system_body: str | None = None
    message_id_header: str | None = None
    user_id: int | None = None
    recipient_name: str | None = None
    recipient_active: bool = True
    task_id: int | None = None
    task_name: str | None = None
    universe_id: int | None = None
    universe_name: str | None = None
    allow_email_reply: bool = False
    urgent: bool = False
    universe_from_addr: str | None = None
    universe_from_name: str | None = None
    universe_smtp_server: str | None = None
    message_id: int | None = None
    message_body: str | None = None
    message_created_at: datetime | None = None
    author_id: int | None = None
    author_name: str | None = None
    attached_email: bytes | None = None
    attachments: list[tuple[str, str | None, int | None]] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        atts = row.pop("attachments")
        if isinstance(atts, str):
            atts = json.loads(atts)
        return cls(attachments=[tuple(a) for a in atts or []], **row)


def prepare_sender_session(conn: psycopg.Connection) -> None:
    """Make per-message outcome commits cheap (see the module docstring)."""
    conn.execute("SET synchronous_commit = off")


def claim(conn: psycopg.Connection, run_id: str, limit: int, lease_seconds: int) -> list[Job]:
    """Take up to ``limit`` due rows for this run, with a lease; never blocks on another run."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_CLAIM, {"limit": limit, "lease": lease_seconds, "run": run_id})
        return [Job.from_row(r) for r in cur.fetchall()]


def peek(conn: psycopg.Connection, limit: int) -> list[Job]:
    """The rows a run would claim now, without claiming them (for --dry-run)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_PEEK, {"limit": limit})
        return [Job.from_row(r) for r in cur.fetchall()]


_DIGEST_SIBLINGS = """
WITH mine AS (
    SELECT id FROM notifications
     WHERE user_id = %(user)s AND digest AND status = 'pending'
     FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE notifications n
       SET status = 'sending', next_attempt_at = now() + make_interval(secs => %(lease)s),
           claimed_by = %(run)s
      FROM mine WHERE n.id = mine.id
 RETURNING n.*
)
""" + _JOB_SELECT.format(source="claimed")


def claim_digest(conn: psycopg.Connection, run_id: str, user_id: int, lease_seconds: int) -> list[Job]:
    """Take every waiting digest row of one user (the rest of that user's digest)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_DIGEST_SIBLINGS, {"user": user_id, "lease": lease_seconds, "run": run_id})
        return [Job.from_row(r) for r in cur.fetchall()]


def budget_take(conn: psycopg.Connection, server: SmtpServer, recipients: int) -> str | None:
    """Count one message to ``recipients`` against the server's budgets; the limit it
    would break instead (then nothing is counted)."""
    row = conn.execute("SELECT smtp_budget_take(%s, %s, %s, %s, %s, %s)", (
        server.name, recipients, server.per_minute, server.per_day, server.recipients_per_minute,
        server.recipients_per_day)).fetchone()
    return str(row[0]) if row and row[0] else None


def set_aside(conn: psycopg.Connection, server: str, seconds: int, error: str) -> None:
    """Every run leaves this server alone for ``seconds``."""
    conn.execute(
        "INSERT INTO smtp_server_state AS s (server, aside_until, last_error)"
        " VALUES (%s, now() + make_interval(secs => %s), %s)"
        " ON CONFLICT (server) DO UPDATE SET aside_until = excluded.aside_until, last_error = excluded.last_error",
        (server, seconds, error))


def servers_aside(conn: psycopg.Connection) -> dict[str, str]:
    """Servers some run found down lately: name -> why."""
    return {r[0]: r[1] or "" for r in conn.execute(
        "SELECT server, last_error FROM smtp_server_state WHERE aside_until > now()")}


def forget_old_usage(conn: psycopg.Connection) -> None:
    """Budgets look back one day; older counts only take room."""
    conn.execute("DELETE FROM smtp_usage WHERE minute < now() - interval '2 days'")


def due_count(conn: psycopg.Connection) -> int:
    """How many rows a run would take now (through the partial index)."""
    row = conn.execute("SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')"
                       " AND next_attempt_at <= now()").fetchone()
    return int(row[0]) if row else 0


def queue_depth(conn: psycopg.Connection) -> tuple[int, float]:
    """Rows waiting (pending or being sent) and the age in seconds of the oldest one."""
    row = conn.execute("SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)"
                       " FROM notifications WHERE status IN ('pending', 'sending')").fetchone()
    return (int(row[0]), float(row[1])) if row else (0, 0.0)


def alert_due(conn: psycopg.Connection, kind: str, minutes: int = 60) -> bool:
    """True (and the time noted) when no alert of this kind went out in the last ``minutes``."""
    row = conn.execute(
        "INSERT INTO admin_alerts (kind, last_sent_at) VALUES (%(kind)s, now())"
        " ON CONFLICT (kind) DO UPDATE SET last_sent_at = now()"
        " WHERE admin_alerts.last_sent_at < now() - make_interval(mins => %(minutes)s) RETURNING 1",
        {"kind": kind, "minutes": minutes}).fetchone()
    return row is not None


class OutcomeWriter:
    """Records outcomes without waiting for each: one UPDATE at most in flight.

    ``record()`` puts the UPDATE on the wire and returns; ``flush()`` waits
    for it.  A worker flushes just before the DATA of its next mail, so the
    database works while the next MAIL FROM and RCPT TO are exchanged, and
    still no more than one sent mail is ever unrecorded: a run killed at any
    instant re-sends at most one.  Once on the wire, the UPDATE is committed
    by the server even if this process dies (autocommit).  Nothing else may
    use the connection between ``record()`` and ``flush()``.
    """

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.pending: int | None = None  # the job id whose outcome is in flight

    def record(self, sql: bytes, params: list[object], job_id: int) -> None:
        self.flush()
        pg = self.conn.pgconn
        pg.send_query_params(sql, [None if p is None else str(p).encode() for p in params])
        while pg.flush() == 1:
            select.select([], [pg.socket], [])
        self.pending = job_id

    def flush(self) -> bool:
        """Wait for the UPDATE in flight; False when this run no longer held that row."""
        if self.pending is None:
            return True
        job_id, self.pending = self.pending, None
        pg = self.conn.pgconn
        pg.consume_input()
        while pg.is_busy():
            select.select([pg.socket], [], [])
            pg.consume_input()
        last = None
        while (result := pg.get_result()) is not None:
            last = result
        if last is None or last.status != ExecStatus.COMMAND_OK:
            if last is None:
                raise psycopg.OperationalError("no answer to the outcome of notification %d" % job_id)
            raise psycopg.errors.error_from_result(last)
        if int(last.command_tuples or 0) != 1:
            log.warning("notification %d: its outcome came after its lease passed to another run", job_id)
            return False
        return True

    def sent(self, run_id: str, job_id: int, msgid: str) -> None:
        self.record(_SENT, [job_id, run_id, msgid], job_id)

    def retry(self, run_id: str, job_id: int, error: str, delay: float, msgid: str | None) -> None:
        """Count an attempt and schedule the next one ``delay`` seconds from now."""
        self.record(_RETRY, [job_id, run_id, msgid, error, delay], job_id)

    def failed(self, run_id: str, job_id: int, error: str, msgid: str | None, status: str = "failed",
               counted: bool = True) -> None:
        """A permanent failure (or, with ``status='cancelled'``, a row with nothing to send)."""
        self.record(_FAILED, [job_id, run_id, msgid, error, status, int(counted)], job_id)


def mark_failed(conn: psycopg.Connection, run_id: str, job_id: int, error: str, msgid: str | None,
                status: str = "failed", counted: bool = True) -> bool:
    """Record a permanent failure (or a cancellation) now."""
    writer = OutcomeWriter(conn)
    writer.failed(run_id, job_id, error, msgid, status, counted)
    return writer.flush()


def release(conn: psycopg.Connection, run_id: str, job_ids: list[int], delay: float = 0) -> int:
    """Give back claimed rows untouched (no attempt counted), due again after ``delay`` seconds.

    A delay when the rows cannot go now (their server is aside or out of
    budget) also keeps this very run from claiming them straight back.
    """
    if not job_ids:
        return 0
    return conn.execute(_RELEASE, {"ids": job_ids, "run": run_id, "delay": delay}).rowcount


# --- The inbound log (inbound_emails) and what a reply touches -------------

_INBOUND_COLUMNS = ("message_key", "message_id_header", "pop_uidl", "source", "sent_at", "sender",
                    "subject", "status", "reason", "task_id", "user_id", "message_id", "raw", "raw_size",
                    "answered", "left_in_mailbox")


def inbound_claim(conn: psycopg.Connection, key: str, fields: dict[str, Any]) -> int | None:
    """Record a fetched email as ours to handle; None when it was handled before.

    The unique index on ``message_key`` makes this the guard against posting
    twice: a message fetched again after a crash between COMMIT and DELE
    finds its record and is a duplicate.
    """
    row = conn.execute(
        "INSERT INTO inbound_emails (message_key, message_id_header, pop_uidl, source, sent_at, sender,"
        " subject, status, raw_size) VALUES (%(key)s, %(message_id_header)s, %(pop_uidl)s, %(source)s,"
        " %(sent_at)s, %(sender)s, %(subject)s, 'error', %(raw_size)s)"
        " ON CONFLICT (message_key) WHERE status <> 'duplicate' DO NOTHING RETURNING id",
        {"key": key, **fields}).fetchone()
    return int(row[0]) if row else None


def inbound_log(conn: psycopg.Connection, key: str, fields: dict[str, Any]) -> int:
    """Insert a record that is not the handling one (a duplicate, a crash report)."""
    values = {c: fields.get(c) for c in _INBOUND_COLUMNS}
    values["message_key"] = key
    values["answered"] = bool(values["answered"])
    values["left_in_mailbox"] = bool(values["left_in_mailbox"])
    if values["source"] is None:
        values["source"] = "pop3"
    cols = ", ".join(_INBOUND_COLUMNS)
    params = ", ".join("%%(%s)s" % c for c in _INBOUND_COLUMNS)
    row = conn.execute("INSERT INTO inbound_emails (%s) VALUES (%s) RETURNING id" % (cols, params),
                       values).fetchone()
    assert row is not None
    return int(row[0])


def inbound_finish(conn: psycopg.Connection, inbound_id: int, fields: dict[str, Any]) -> None:
    """Set the outcome of a claimed record."""
    allowed = {"status", "reason", "task_id", "user_id", "message_id", "raw", "answered", "left_in_mailbox"}
    sets = ", ".join("%s = %%(%s)s" % (k, k) for k in fields if k in allowed)
    conn.execute("UPDATE inbound_emails SET %s WHERE id = %%(id)s" % sets, {**fields, "id": inbound_id})


def inbound_previous(conn: psycopg.Connection, key: str) -> tuple[int, str] | None:
    row = conn.execute("SELECT id, status FROM inbound_emails WHERE message_key = %s AND status <> 'duplicate'",
                       (key,)).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def inbound_left_in_mailbox(conn: psycopg.Connection) -> set[str]:
    """UIDLs of messages we decided to leave alone (too old): not fetched again."""
    return {r[0] for r in conn.execute(
        "SELECT pop_uidl FROM inbound_emails WHERE left_in_mailbox AND pop_uidl IS NOT NULL")}


def explained_recently(conn: psycopg.Connection, user_id: int, reason: str, hours: int = 24) -> bool:
    """Did this member already get an explanation for this reason lately?"""
    row = conn.execute(
        "SELECT 1 FROM inbound_emails WHERE user_id = %s AND reason = %s AND answered"
        " AND received_at > now() - make_interval(hours => %s) LIMIT 1", (user_id, reason, hours)).fetchone()
    return row is not None


@dataclass(frozen=True)
class Replier:
    """A user as seen from a task: may they post there by email?"""

    user_id: int
    email: str
    active: bool
    task_id: int
    task_exists: bool
    allow_email_reply: bool
    follows: bool


_REPLIER = """
SELECT u.id, coalesce(u.email, ''), u.active, t.id, t.id IS NOT NULL,
       coalesce(un.allow_email_reply, false),
       EXISTS (SELECT 1 FROM task_followers f WHERE f.task_id = t.id AND f.user_id = u.id)
  FROM users u
  LEFT JOIN tasks t ON t.id = %(task)s
  LEFT JOIN universes un ON un.id = t.universe_id
"""


def replier_by_id(conn: psycopg.Connection, user_id: int, task_id: int) -> Replier | None:
    row = conn.execute(_REPLIER + " WHERE u.id = %(user)s", {"user": user_id, "task": task_id}).fetchone()
    return _replier(row, task_id)


def replier_by_email(conn: psycopg.Connection, email: str, task_id: int) -> Replier | None:
    """The user with this address, preferring one who follows the task and is active."""
    row = conn.execute(
        _REPLIER + " WHERE lower(btrim(u.email)) = lower(%(email)s)"
        " ORDER BY 7 DESC, u.active DESC, u.id LIMIT 1", {"email": email, "task": task_id}).fetchone()
    return _replier(row, task_id)


def _replier(row: Any, task_id: int) -> Replier | None:
    if row is None:
        return None
    return Replier(user_id=int(row[0]), email=str(row[1]), active=bool(row[2]), task_id=task_id,
                   task_exists=bool(row[4]), allow_email_reply=bool(row[5]), follows=bool(row[6]))


def notification_task(conn: psycopg.Connection, notification_id: int) -> tuple[int, int | None] | None:
    """(task, user) of one of our notifications, found by id from its Message-ID."""
    row = conn.execute("SELECT task_id, user_id FROM notifications WHERE id = %s", (notification_id,)).fetchone()
    return (int(row[0]), row[1]) if row and row[0] is not None else None


def post_message(conn: psycopg.Connection, task_id: int, author_id: int, body: str) -> int:
    """Insert the forum message (its trigger queues the other followers' notifications)."""
    row = conn.execute("INSERT INTO messages (task_id, author_id, body) VALUES (%s, %s, %s) RETURNING id",
                       (task_id, author_id, body)).fetchone()
    assert row is not None
    return int(row[0])


def add_attachment(conn: psycopg.Connection, message_id: int, name: str, content_type: str,
                   data: bytes, file_hash: str) -> None:
    conn.execute(
        "INSERT INTO message_attachments (message_id, file_name, file_hash, file_size, content_type, content)"
        " VALUES (%s, %s, %s, %s, %s, %s)", (message_id, name, file_hash, len(data), content_type, data))


def enqueue(conn: psycopg.Connection, recipient: str, subject: str, body: str, kind: str,
            inbound_id: int | None = None) -> int:
    """Queue system mail from inside a transaction of ours (same rules as enqueue_email())."""
    row = conn.execute("SELECT enqueue_email(%s, %s, %s, %s)", (recipient, subject, body, kind)).fetchone()
    assert row is not None
    if inbound_id is not None:
        conn.execute("UPDATE notifications SET inbound_email_id = %s WHERE id = %s", (inbound_id, row[0]))
    return int(row[0])


# --- Administration (manage.py) ---
#
# Queries for a person at a terminal: small answers, each through an index
# (schema/003_admin.sql) even when the queue holds millions of rows; only the
# counts by status read the whole table.

NOTIFICATION_STATUSES = ("pending", "sending", "sent", "failed", "cancelled")
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
                        " AND status IN ('sent', 'failed', 'cancelled')")
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


# --- reply-signing secrets (forummail.signing decides which sign and verify) -----------

def create_first_reply_secret(conn: psycopg.Connection, secret: str) -> bool:
    """Keep ``secret`` unless a secret exists already; True when it was kept.

    The table lock (which conflicts with itself) makes several init-db at
    once, on several hosts, agree on one secret.
    """
    with conn.transaction():
        conn.execute("LOCK TABLE reply_secrets IN SHARE ROW EXCLUSIVE MODE")
        row = conn.execute("INSERT INTO reply_secrets (secret) SELECT %s"
                           " WHERE NOT EXISTS (SELECT 1 FROM reply_secrets) RETURNING id", (secret,)).fetchone()
    return row is not None


def add_reply_secret(conn: psycopg.Connection, secret: str, forget_older: bool = False) -> int:
    """Keep a new signing secret (the newest signs); with ``forget_older``, delete the
    others at once.  Returns how many were deleted."""
    with conn.transaction():
        conn.execute("LOCK TABLE reply_secrets IN SHARE ROW EXCLUSIVE MODE")
        new_id = conn.execute("INSERT INTO reply_secrets (secret) VALUES (%s) RETURNING id",
                              (secret,)).fetchone()
        assert new_id is not None
        if not forget_older:
            return 0
        return conn.execute("DELETE FROM reply_secrets WHERE id <> %s", (new_id[0],)).rowcount


# A secret replaced by a newer one still verifies for this many days (tokens
# signed with it live that long); the newest always does.
_LIVE_SECRETS = """
SELECT id, secret, created_at, replaced_at FROM (
    SELECT id, secret, created_at, lead(created_at) OVER (ORDER BY created_at, id) AS replaced_at
    FROM reply_secrets) s
WHERE replaced_at IS NULL OR replaced_at > now() - make_interval(days => %(days)s)
ORDER BY created_at DESC, id DESC
"""


def reply_secrets(conn: psycopg.Connection, keep_days: int) -> list[str]:
    """The secrets that verify, newest (the one that signs) first."""
    return [str(r[1]) for r in conn.execute(_LIVE_SECRETS, {"days": keep_days})]


def reply_secret_dates(conn: psycopg.Connection, keep_days: int) -> list[tuple[datetime, datetime | None]]:
    """(created, replaced) of the secrets that verify, newest first: never the values."""
    return [(r[2], r[3]) for r in conn.execute(_LIVE_SECRETS, {"days": keep_days})]

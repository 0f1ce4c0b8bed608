"""The outgoing queue (``notifications``): claims, leases, outcomes, budgets.

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

System mail of ours (explanations, alerts) is queued here too, through the
host's own ``enqueue_email()``.
"""

from __future__ import annotations

import json
import logging
import select
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.pq import ExecStatus
from psycopg.rows import dict_row

from ..settings import SmtpServer

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
       (SELECT s.kind || ': ' || s.reason FROM suppressions s
         WHERE s.address = lower(btrim(c.recipient))) AS suppressed,
       EXISTS (SELECT 1 FROM unsubscriptions us
                WHERE us.user_id = c.user_id AND us.task_id = c.task_id) AS unsubscribed,
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
_OUTCOMES = (_SENT, _RETRY, _FAILED)
_PREPARED: weakref.WeakKeyDictionary[psycopg.Connection, set[bytes]] = weakref.WeakKeyDictionary()
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
    suppressed: str | None = None  # the suppression of the recipient's address: its kind and reason
    unsubscribed: bool = False  # the recipient stopped this task's mail (List-Unsubscribe)

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
    for it.  A worker flushes once the server said 354 to its next mail's
    DATA, just before the message goes, so the database works while the
    next envelope is exchanged, and still no more than one sent mail is
    ever unrecorded: a run killed at any
    instant re-sends at most one.  Once on the wire, the UPDATE is committed
    by the server even if this process dies (autocommit).  Nothing else may
    use the connection between ``record()`` and ``flush()``.
    """

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.pending: int | None = None  # the job id whose outcome is in flight
        # A prepared statement belongs to the session: kept per connection,
        # since several writers may use one (mark_failed makes one each time).
        self.prepared = _PREPARED.setdefault(conn, set())

    def record(self, sql: bytes, params: list[object], job_id: int) -> None:
        self.flush()
        pg = self.conn.pgconn
        # Prepared once per connection: PostgreSQL then skips parsing and
        # planning an UPDATE of a table with a dozen indexes for every mail,
        # CPU it would otherwise take from the sender on a small machine.
        name = b"forummail_outcome_%d" % _OUTCOMES.index(sql)
        if name not in self.prepared:
            result = pg.prepare(name, sql)
            if result.status != ExecStatus.COMMAND_OK:
                raise psycopg.errors.error_from_result(result)
            self.prepared.add(name)
        pg.send_query_prepared(name, [None if p is None else str(p).encode() for p in params])
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


def enqueue(conn: psycopg.Connection, recipient: str, subject: str, body: str, kind: str,
            inbound_id: int | None = None) -> int:
    """Queue system mail from inside a transaction of ours (same rules as enqueue_email())."""
    row = conn.execute("SELECT enqueue_email(%s, %s, %s, %s)", (recipient, subject, body, kind)).fetchone()
    assert row is not None
    if inbound_id is not None:
        conn.execute("UPDATE notifications SET inbound_email_id = %s WHERE id = %s", (inbound_id, row[0]))
    return int(row[0])

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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

# The row a batch renders from.  {source} is either the claiming CTE or, for
# --dry-run, a plain SELECT of the same rows.
_JOB_SELECT = """
SELECT c.id, c.kind, c.recipient, c.attempts, c.last_error, c.subject, c.body AS system_body,
       c.message_id_header, c.user_id, ru.name AS recipient_name,
       coalesce(ru.active, true) AS recipient_active,
       c.task_id, t.name AS task_name, un.id AS universe_id, un.name AS universe_name,
       coalesce(un.allow_email_reply, false) AS allow_email_reply,
       c.message_id, m.body AS message_body, m.created_at AS message_created_at,
       m.author_id, au.name AS author_name,
       (SELECT coalesce(json_agg(json_build_array(a.file_name, a.file_hash, a.file_size)
                                 ORDER BY a.id), '[]')
          FROM message_attachments a WHERE a.message_id = c.message_id) AS attachments
  FROM {source} c
  LEFT JOIN users ru ON ru.id = c.user_id
  LEFT JOIN tasks t ON t.id = c.task_id
  LEFT JOIN universes un ON un.id = coalesce(t.universe_id, ru.universe_id)
  LEFT JOIN messages m ON m.id = c.message_id
  LEFT JOIN users au ON au.id = m.author_id
 ORDER BY c.id
"""

# A 'sending' row whose lease ended belongs to a run that died: the attempt
# it was making counts, and says so.
_CLAIM = """
WITH due AS (
    SELECT id FROM notifications
     WHERE status IN ('pending', 'sending') AND next_attempt_at <= now()
     ORDER BY next_attempt_at
     LIMIT %(limit)s
     FOR UPDATE SKIP LOCKED
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
     ORDER BY next_attempt_at
     LIMIT %(limit)s
)
""" + _JOB_SELECT.format(source="due")

_GUARD = " WHERE id = %(id)s AND status = 'sending' AND claimed_by = %(run)s"

_SENT = (
    "UPDATE notifications SET status = 'sent', sent_at = now(), last_attempt_at = now(),"
    " attempts = attempts + 1, last_error = NULL, next_attempt_at = now(),"
    " message_id_header = coalesce(message_id_header, %(msgid)s)" + _GUARD
)
_RETRY = (
    "UPDATE notifications SET status = 'pending', last_attempt_at = now(),"
    " attempts = attempts + 1, last_error = %(error)s,"
    " next_attempt_at = now() + make_interval(secs => %(delay)s),"
    " message_id_header = coalesce(message_id_header, %(msgid)s)" + _GUARD
)
_FAILED = (
    "UPDATE notifications SET status = %(status)s, last_attempt_at = now(),"
    " attempts = attempts + %(counted)s, last_error = %(error)s, next_attempt_at = now(),"
    " message_id_header = coalesce(message_id_header, %(msgid)s)" + _GUARD
)
_RELEASE = (
    "UPDATE notifications SET status = 'pending', next_attempt_at = now()"
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
    message_id: int | None = None
    message_body: str | None = None
    message_created_at: datetime | None = None
    author_id: int | None = None
    author_name: str | None = None
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


def mark_sent(conn: psycopg.Connection, run_id: str, job_id: int, msgid: str) -> bool:
    """Record a 2xx; False when this run no longer held the row."""
    return conn.execute(_SENT, {"id": job_id, "run": run_id, "msgid": msgid}).rowcount == 1


def mark_retry(
    conn: psycopg.Connection, run_id: str, job_id: int, error: str, delay: float, msgid: str | None
) -> bool:
    """Count an attempt and schedule the next one ``delay`` seconds from now."""
    params = {"id": job_id, "run": run_id, "error": error, "delay": delay, "msgid": msgid}
    return conn.execute(_RETRY, params).rowcount == 1


def mark_failed(
    conn: psycopg.Connection,
    run_id: str,
    job_id: int,
    error: str,
    msgid: str | None,
    status: str = "failed",
    counted: bool = True,
) -> bool:
    """Record a permanent failure (or, with ``status='cancelled'``, a row with nothing to send)."""
    params = {"id": job_id, "run": run_id, "error": error, "msgid": msgid,
              "status": status, "counted": int(counted)}
    return conn.execute(_FAILED, params).rowcount == 1


def release(conn: psycopg.Connection, run_id: str, job_ids: list[int]) -> int:
    """Give back claimed rows untouched (no attempt counted): the server was down."""
    if not job_ids:
        return 0
    return conn.execute(_RELEASE, {"ids": job_ids, "run": run_id}).rowcount

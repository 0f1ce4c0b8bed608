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
SELECT c.id, c.kind, c.recipient, c.attempts, c.last_error, c.created_at, c.subject, c.body AS system_body,
       c.message_id_header, c.user_id, ru.name AS recipient_name,
       coalesce(ru.active, true) AS recipient_active,
       c.task_id, t.name AS task_name, un.id AS universe_id, un.name AS universe_name,
       coalesce(un.allow_email_reply, false) AS allow_email_reply,
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
    created_at: datetime | None = None
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


def answered_recently(conn: psycopg.Connection, sender: str, reason: str, hours: int = 24) -> bool:
    """Did this sender already get an explanation for this reason lately?"""
    row = conn.execute(
        "SELECT 1 FROM inbound_emails WHERE lower(sender) = lower(%s) AND reason = %s AND answered"
        " AND received_at > now() - make_interval(hours => %s) LIMIT 1", (sender, reason, hours)).fetchone()
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

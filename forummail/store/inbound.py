"""The inbound log (``inbound_emails``) and what a reply touches.

Every fetched email is claimed by its key (a unique index makes a re-fetch a
duplicate), decided, and finished in the same transaction as the forum
message it becomes.  The repliers' view of users, tasks and followers is read
here too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg

log = logging.getLogger(__name__)

_INBOUND_COLUMNS = ("message_key", "message_id_header", "pop_uidl", "source", "sent_at", "sender",
                    "subject", "status", "reason", "task_id", "user_id", "message_id", "raw", "raw_size",
                    "answered", "left_in_mailbox")


def claim(conn: psycopg.Connection, key: str, fields: dict[str, Any]) -> int | None:
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


def record(conn: psycopg.Connection, key: str, fields: dict[str, Any]) -> int:
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


def finish(conn: psycopg.Connection, inbound_id: int, fields: dict[str, Any]) -> None:
    """Set the outcome of a claimed record."""
    allowed = {"status", "reason", "task_id", "user_id", "message_id", "raw", "answered", "left_in_mailbox",
               "report"}
    sets = ", ".join("%s = %%(%s)s" % (k, k) for k in fields if k in allowed)
    conn.execute("UPDATE inbound_emails SET %s WHERE id = %%(id)s" % sets, {**fields, "id": inbound_id})


def previous(conn: psycopg.Connection, key: str) -> tuple[int, str] | None:
    row = conn.execute("SELECT id, status FROM inbound_emails WHERE message_key = %s AND status <> 'duplicate'",
                       (key,)).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def left_in_mailbox(conn: psycopg.Connection) -> set[str]:
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
    """The user with this address, preferring one who follows the task and is active.

    ``email`` is an ``identity.address_key``; the column is folded the same way,
    in ASCII only: PostgreSQL's ``lower()`` follows the database's locale, in
    which U+212A KELVIN SIGN may become ``k``.
    """
    row = conn.execute(
        _REPLIER + " WHERE translate(btrim(u.email, E' \\t'), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',"
        " 'abcdefghijklmnopqrstuvwxyz') = %(email)s"
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


def post_reply(conn: psycopg.Connection, inbound_id: int, task_id: int, author_id: int, body: str) -> int:
    """Post a claimed email as a forum message and record it ``posted``, in one statement; the message's id.

    The forum message (whose trigger queues the other followers'
    notifications) and the outcome of its record go in one round trip: the
    UPDATE reads the new id from the INSERT's RETURNING.  The caller's
    transaction still holds the claim, the post and its attachments together.
    """
    row = conn.execute(
        "WITH posted AS (INSERT INTO messages (task_id, author_id, body) VALUES (%(task)s, %(author)s, %(body)s)"
        " RETURNING id)"
        " UPDATE inbound_emails SET status = 'posted', reason = NULL, task_id = %(task)s, user_id = %(author)s,"
        " message_id = (SELECT id FROM posted) WHERE id = %(inbound)s RETURNING message_id",
        {"task": task_id, "author": author_id, "body": body, "inbound": inbound_id}).fetchone()
    if row is None or row[0] is None:  # the claim is not there: roll the post back with the transaction
        raise RuntimeError("inbound email %s: no claimed record to post from" % inbound_id)
    return int(row[0])


def add_attachment(conn: psycopg.Connection, message_id: int, name: str, content_type: str,
                   data: bytes, file_hash: str) -> None:
    conn.execute(
        "INSERT INTO message_attachments (message_id, file_name, file_hash, file_size, content_type, content)"
        " VALUES (%s, %s, %s, %s, %s, %s)", (message_id, name, file_hash, len(data), content_type, data))

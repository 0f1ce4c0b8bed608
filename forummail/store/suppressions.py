"""What delivery reports, complaints and unsubscribes change: suppressions, soft bounces, unsubscriptions.

Addresses are compared lower-cased (``lower(btrim())``), on both sides: the
sender's check (store.outgoing's claim) and every statement here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row


@dataclass(frozen=True)
class Sent:
    """A notification a report may be about."""

    id: int
    recipient: str
    status: str
    message_id_header: str | None
    user_id: int | None
    task_id: int | None


_SENT_SELECT = ("SELECT id, recipient, status, message_id_header, user_id, task_id FROM notifications")


def by_id(conn: psycopg.Connection, notification_id: int) -> Sent | None:
    row = conn.execute(_SENT_SELECT + " WHERE id = %s", (notification_id,)).fetchone()
    return Sent(*row) if row else None


def by_message_ids(conn: psycopg.Connection, message_ids: list[str]) -> list[Sent]:
    """Our notifications sent with one of these Message-IDs (a digest's rows share one)."""
    if not message_ids:
        return []
    rows = conn.execute(_SENT_SELECT + " WHERE message_id_header = ANY(%s) ORDER BY id", (message_ids,)).fetchall()
    return [Sent(*r) for r in rows]


def same_mail(conn: psycopg.Connection, sent: Sent) -> list[Sent]:
    """Every row that went out in the one mail ``sent`` went out in (a digest)."""
    if not sent.message_id_header:
        return [sent]
    return by_message_ids(conn, [sent.message_id_header]) or [sent]


def mark_bounced(conn: psycopg.Connection, ids: list[int], diagnostic: str) -> int:
    """``sent`` rows become ``bounced`` with the report's words; rows in any other state are left."""
    return conn.execute("UPDATE notifications SET status = 'bounced', last_error = %s"
                        " WHERE id = ANY(%s) AND status = 'sent'", (diagnostic, ids)).rowcount


def suppress(conn: psycopg.Connection, address: str, kind: str, reason: str, notification_id: int | None,
             inbound_id: int | None) -> bool:
    """Add the address to the suppression list; False when it is there already (kept as it was)."""
    row = conn.execute(
        "INSERT INTO suppressions (address, kind, reason, notification_id, inbound_email_id)"
        " VALUES (lower(btrim(%s)), %s, %s, %s, %s) ON CONFLICT (address) DO NOTHING RETURNING 1",
        (address, kind, reason, notification_id, inbound_id)).fetchone()
    return row is not None


def suppressed(conn: psycopg.Connection, address: str) -> bool:
    return conn.execute("SELECT 1 FROM suppressions WHERE address = lower(btrim(%s))", (address,)).fetchone() \
        is not None


def add_soft_bounce(conn: psycopg.Connection, address: str, notification_id: int | None, inbound_id: int | None,
                    window_days: int) -> tuple[int, float]:
    """Count one temporary failure; return the count and the days they span within the window.

    Counts older than the window are dropped here: the table stays as small as the window.
    """
    conn.execute("DELETE FROM soft_bounces WHERE address = lower(btrim(%s))"
                 " AND reported_at <= now() - make_interval(days => %s)", (address, window_days))
    conn.execute("INSERT INTO soft_bounces (address, notification_id, inbound_email_id)"
                 " VALUES (lower(btrim(%s)), %s, %s)", (address, notification_id, inbound_id))
    row = conn.execute(
        "SELECT count(*), coalesce(extract(epoch FROM max(reported_at) - min(reported_at)) / 86400, 0)"
        " FROM soft_bounces WHERE address = lower(btrim(%s)) AND reported_at > now() - make_interval(days => %s)",
        (address, window_days)).fetchone()
    assert row is not None
    return int(row[0]), float(row[1])


def unsubscribe(conn: psycopg.Connection, user_id: int, task_id: int, inbound_id: int | None) -> bool:
    """Stop the task's mail for the user; False when it was stopped already."""
    row = conn.execute("INSERT INTO unsubscriptions (user_id, task_id, inbound_email_id) VALUES (%s, %s, %s)"
                       " ON CONFLICT DO NOTHING RETURNING 1", (user_id, task_id, inbound_id)).fetchone()
    return row is not None


def take_requests(conn: psycopg.Connection, limit: int = 1000) -> list[tuple[int, str]]:
    """One-click unsubscribe tokens the forum inserted, removed as they are read (inside a transaction)."""
    rows = conn.execute("DELETE FROM unsubscribe_requests WHERE id IN (SELECT id FROM unsubscribe_requests"
                        " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id, token", (limit,)).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]


def member(conn: psycopg.Connection, user_id: int, task_id: int) -> tuple[str, str] | None:
    """The user's stored address and the task's name, when both exist."""
    row = conn.execute("SELECT u.email, t.name FROM users u, tasks t WHERE u.id = %s AND t.id = %s",
                       (user_id, task_id)).fetchone()
    return (str(row[0] or ""), str(row[1] or "")) if row else None


# --- the administrator's side (manage.py suppressions, the alert summary, metrics) ---

def listing(conn: psycopg.Connection, limit: int) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT address, kind, reason, created_at, notification_id, inbound_email_id"
                    " FROM suppressions ORDER BY created_at DESC, address LIMIT %s", (limit,))
        return cur.fetchall()


def unsubscriptions(conn: psycopg.Connection, limit: int) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT u.email AS address, s.user_id, s.task_id, t.name AS task_name, s.created_at,"
                    " s.inbound_email_id FROM unsubscriptions s JOIN users u ON u.id = s.user_id"
                    " JOIN tasks t ON t.id = s.task_id ORDER BY s.created_at DESC LIMIT %s", (limit,))
        return cur.fetchall()


def clear(conn: psycopg.Connection, spellings: list[str]) -> int:
    """Lift the suppression of an address (any of its spellings) and forget its soft bounces; rows removed.

    When it was suppressed, the time is kept: reports about mail sent before
    it change nothing (``sent_before_clear``).
    """
    conn.execute("DELETE FROM soft_bounces WHERE address IN (SELECT lower(btrim(x)) FROM unnest(%s::text[]) x)",
                 (spellings,))
    removed = [r[0] for r in conn.execute(
        "DELETE FROM suppressions WHERE address IN (SELECT lower(btrim(x)) FROM unnest(%s::text[]) x)"
        " RETURNING address", (spellings,))]
    for address in removed:
        conn.execute("INSERT INTO suppression_clears (address) VALUES (%s)"
                     " ON CONFLICT (address) DO UPDATE SET cleared_at = now()", (address,))
    return len(removed)


def sent_before_clear(conn: psycopg.Connection, address: str, notification_id: int) -> str | None:
    """When the address was cleared, if the notification went out (or was queued) before that; else None."""
    row = conn.execute(
        "SELECT to_char(c.cleared_at, 'YYYY-MM-DD HH24:MI') FROM suppression_clears c, notifications n"
        " WHERE c.address = lower(btrim(%s)) AND n.id = %s"
        " AND coalesce(n.sent_at, n.created_at) <= c.cleared_at", (address, notification_id)).fetchone()
    return str(row[0]) if row else None


def resubscribe(conn: psycopg.Connection, address: str, task_id: int) -> int:
    """Lift the unsubscriptions from a task of the users with this address; rows removed."""
    return conn.execute("DELETE FROM unsubscriptions s USING users u WHERE u.id = s.user_id"
                        " AND lower(btrim(u.email)) = lower(btrim(%s)) AND s.task_id = %s",
                        (address, task_id)).rowcount


def not_alerted(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT address, kind, reason, created_at FROM suppressions WHERE NOT alerted"
                    " ORDER BY created_at, address LIMIT 500")
        return cur.fetchall()


def mark_alerted(conn: psycopg.Connection, addresses: list[str]) -> None:
    conn.execute("UPDATE suppressions SET alerted = true WHERE address = ANY(%s)", (addresses,))


def count(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM suppressions").fetchone()
    return int(row[0]) if row else 0

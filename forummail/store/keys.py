"""The reply-signing secrets kept in the database (``reply_secrets``).

:mod:`forummail.signing` decides which one signs and which ones verify; this
module only reads and writes them.
"""

from __future__ import annotations

import logging

import psycopg

log = logging.getLogger(__name__)

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


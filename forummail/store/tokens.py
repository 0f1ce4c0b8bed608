"""OAuth2 access tokens kept for every run on every host (``oauth2_tokens``).

:mod:`forummail.oauth2.cache` decides when a token is fresh and when to
fetch one; this module only reads, locks and writes the rows.  Times are
the database's clock (``clock_timestamp()``), which every host shares.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenRow:
    """A grant's row: the access token if still fresh, and the refresh token lineage."""

    access_token: str = field(repr=False)  # empty: none, or due for refresh
    refresh_token: str = field(repr=False)
    refresh_origin: str


def fresh_token(conn: psycopg.Connection, key: str) -> str:
    """The access token of ``key`` if it is not yet due for refresh, else ""."""
    with conn.transaction():
        row = conn.execute("SELECT access_token FROM oauth2_tokens WHERE grant_key = %s"
                           " AND refresh_at > clock_timestamp()", (key,)).fetchone()
    return str(row[0]) if row and row[0] else ""


def lock_grant(conn: psycopg.Connection, key: str, setting: str) -> TokenRow:
    """Lock the row of ``key`` (created if missing) until the caller's transaction ends, and read it.

    A second host asking at the same time waits here, then finds the token
    the first one fetched.
    """
    conn.execute("INSERT INTO oauth2_tokens (grant_key, setting) VALUES (%s, %s)"
                 " ON CONFLICT (grant_key) DO NOTHING", (key, setting))
    row = conn.execute(
        "SELECT CASE WHEN refresh_at > clock_timestamp() THEN access_token END, refresh_token, refresh_origin"
        " FROM oauth2_tokens WHERE grant_key = %s FOR UPDATE", (key,)).fetchone()
    assert row is not None
    return TokenRow(row[0] or "", row[1] or "", row[2] or "")


def save_token(conn: psycopg.Connection, key: str, access_token: str, lifetime: int, early: int,
               refresh_token: str, refresh_origin: str) -> None:
    """Keep a new access token living ``lifetime`` seconds, to be replaced ``early`` seconds before."""
    conn.execute(
        "UPDATE oauth2_tokens SET access_token = %s,"
        " expires_at = clock_timestamp() + make_interval(secs => %s),"
        " refresh_at = clock_timestamp() + make_interval(secs => %s),"
        " refresh_token = %s, refresh_origin = %s, updated_at = clock_timestamp() WHERE grant_key = %s",
        (access_token, lifetime, lifetime - early, refresh_token or None, refresh_origin, key))


def drop_token(conn: psycopg.Connection, key: str, access_token: str) -> bool:
    """Forget ``access_token`` (a server refused it), unless the row already holds another."""
    with conn.transaction():
        cur = conn.execute("UPDATE oauth2_tokens SET access_token = NULL, refresh_at = NULL, expires_at = NULL"
                           " WHERE grant_key = %s AND access_token = %s", (key, access_token))
    return cur.rowcount > 0


def seconds_left(conn: psycopg.Connection, key: str, access_token: str) -> int | None:
    """How long ``access_token`` of ``key`` stays valid, in seconds (None: not the one kept), for check."""
    row = conn.execute("SELECT extract(epoch FROM expires_at - clock_timestamp())::int FROM oauth2_tokens"
                       " WHERE grant_key = %s AND access_token = %s", (key, access_token)).fetchone()
    return int(row[0]) if row and row[0] is not None else None

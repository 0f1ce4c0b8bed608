"""Database connections and schema migrations.

Every connection has ``search_path`` set to ``DB_SCHEMA``, so the SQL in
:mod:`forummail.store` names tables without a schema.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from .errors import ConfigError, TemporaryFailure
from .settings import Settings

log = logging.getLogger(__name__)

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
_MIGRATION = re.compile(r"^(\d+)_[\w-]+\.sql$")
# pg_advisory_xact_lock key: one init-db at a time, whatever the machine.
_MIGRATE_LOCK = 0x666D6D69  # "fmmi"


def describe(settings: Settings) -> str:
    """Where the database is, for messages (never with the password)."""
    host = settings.db.host or "local socket"
    return "database %r at %s:%d as %s" % (settings.db.name, host, settings.db.port, settings.db.user)


def connection_lost(conn: psycopg.Connection, exc: BaseException) -> bool:
    """Is the connection gone (stop the run), rather than one statement refused?

    Only a broken or closed connection, or an error of SQLSTATE class 08
    (connection exception), is the database gone.  psycopg also raises
    ``OperationalError`` for a statement the server refuses while the
    connection stays fine (class 54 "program limit exceeded", 53 disk full,
    57014 statement timeout): that is the error of the item being handled.
    """
    sqlstate = getattr(exc, "sqlstate", None) or ""
    return bool(conn.broken or conn.closed or sqlstate.startswith("08"))


def connect(settings: Settings, purpose: str, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection, or raise TemporaryFailure saying which database and why."""
    params = {
        "dbname": settings.db.name,
        "user": settings.db.user,
        "port": settings.db.port,
        "connect_timeout": 10,
        "application_name": "forummail-" + purpose,
        "options": "-c search_path=%s" % settings.db.schema,
    }
    if settings.db.host:
        params["host"] = settings.db.host
    if settings.db.password:
        params["password"] = settings.db.password
    try:
        conn = psycopg.connect(autocommit=autocommit, **params)  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        reason = first_line(exc, settings.db.password)
        raise TemporaryFailure("cannot connect to %s: %s" % (describe(settings), reason)) from None
    return conn


Connector = Callable[[], psycopg.Connection]


def connector(settings: Settings, purpose: str) -> Connector:
    """Something that opens a new autocommit connection each time it is called.

    For the OAuth2 token cache, which every run on every host shares: the
    sign-in code opens a connection only when it needs a token.
    """
    return lambda: connect(settings, purpose, autocommit=True)


def first_line(exc: BaseException | str, secret: str = "") -> str:
    """The first line of a libpq message: they run over several lines ("server
    closed the connection unexpectedly\n\tThis probably means..."), and what a
    cron job says on stderr is one line."""
    line = next((part.strip() for part in str(exc).splitlines() if part.strip()), "no reason given")
    return line.replace(secret, "***") if secret else line


def migrations() -> list[tuple[int, Path]]:
    """The shipped migrations, in order."""
    found = []
    for path in SCHEMA_DIR.iterdir():
        match = _MIGRATION.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def schema_version(conn: psycopg.Connection, schema: str) -> int | None:
    """The newest applied migration, or None where init-db never ran."""
    # Quoted like every other place that names the schema (sql.Identifier):
    # an unquoted name here would be folded to lower case and find another schema.
    row = conn.execute(
        "SELECT to_regclass(format('%%I.schema_migrations', %s::text)) IS NOT NULL", (schema,)
    ).fetchone()
    if not row or not row[0]:
        return None
    row = conn.execute(
        sql.SQL("SELECT max(version) FROM {}.schema_migrations").format(sql.Identifier(schema))
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def require_schema(conn: psycopg.Connection, settings: Settings) -> None:
    """Stop with a clear word when init-db has not run or is behind the code."""
    version = schema_version(conn, settings.db.schema)
    newest = migrations()[-1][0]
    if version is None:
        raise ConfigError(
            "schema %r in %s has no tables of ours: run manage.py init-db"
            % (settings.db.schema, describe(settings))
        )
    if version < newest:
        raise ConfigError(
            "schema %r is at version %d, this code needs %d: run manage.py init-db"
            % (settings.db.schema, version, newest)
        )


def migrate(conn: psycopg.Connection, schema: str) -> list[str]:
    """Create or upgrade ``schema``; return the migrations applied (none: up to date).

    One transaction under an advisory lock: two init-db at once, or one
    interrupted half way, leave the schema either before or after.
    """
    applied: list[str] = []
    ident = sql.Identifier(schema)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(ident))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        for version, path in migrations():
            if version in done:
                continue
            log.info("applying migration %s to schema %s", path.name, schema)
            conn.execute(path.read_text(encoding="utf-8").encode())
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (version, path.name),
            )
            applied.append(path.name)
    return applied

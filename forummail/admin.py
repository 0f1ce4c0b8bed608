"""The administration commands behind manage.py."""

from __future__ import annotations

from . import db
from .settings import Settings


def init_db(settings: Settings) -> str:
    """Create or upgrade the schema; return one line saying what was done."""
    conn = db.connect(settings, "init-db")
    try:
        applied = db.migrate(conn, settings.db_schema)
        version = db.schema_version(conn, settings.db_schema)
    finally:
        conn.close()
    where = "schema %r in %s" % (settings.db_schema, db.describe(settings))
    if applied:
        return "%s: applied %s; now at version %s" % (where, ", ".join(applied), version)
    return "%s: up to date at version %s" % (where, version)

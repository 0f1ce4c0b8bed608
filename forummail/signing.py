"""The reply-signing secrets: which one signs reply tokens, which ones verify them.

Every part that makes or checks a reply token (the composer, the intake of
replies, ``manage.py check``) asks :func:`keys`, so the rule lives here:

* ``REPLY_TOKEN_SECRET`` (environment or ``.env``) signs when it is set;
* otherwise the newest secret kept in the database signs: ``manage.py
  init-db`` creates one, so every host sharing the database signs alike;
* verification accepts ``REPLY_TOKEN_SECRET``, the secrets listed in
  ``REPLY_TOKEN_SECRET_PREVIOUS``, and every database secret that is the
  newest or was replaced less than ``reply_token_days`` ago, so a rotation
  (``manage.py rotate-secret``, or a new ``REPLY_TOKEN_SECRET``) keeps the
  reply addresses of mail already sent valid.

No secret value ever leaves this module but to sign or verify; database
secrets join the log filter as soon as they are read.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import psycopg

from . import logs, store
from .errors import ConfigError
from .settings import Settings

ENVIRONMENT, DATABASE = "environment", "database"


@dataclass(frozen=True)
class Keys:
    """The secret that signs new tokens and every secret that verifies one."""

    sign: str = field(repr=False)
    verify: tuple[str, ...] = field(repr=False)
    source: str  # ENVIRONMENT, DATABASE or "" (none anywhere)
    stored: int = 0  # database secrets that verify


def keys(settings: Settings, conn: psycopg.Connection | None) -> Keys:
    """The signing keys from the environment and, given a connection, the database."""
    stored = store.keys.reply_secrets(conn, settings.replies.reply_token_days) if conn is not None else []
    logs.add_secrets(stored)
    env = settings.replies.reply_secret
    sign = env or (stored[0] if stored else "")
    verify = tuple(dict.fromkeys(v for v in (env, *settings.replies.reply_secrets_previous, *stored) if v))
    source = ENVIRONMENT if env else DATABASE if stored else ""
    return Keys(sign=sign, verify=verify, source=source, stored=len(stored))


def required(settings: Settings, conn: psycopg.Connection) -> Keys:
    """The keys for a run that makes or checks reply tokens; ConfigError (78) when none exists."""
    found = keys(settings, conn)
    if settings.replies.enabled and not found.sign:
        raise ConfigError(missing(settings))
    return found


def missing(settings: Settings) -> str:
    """What to do when replies are on and no secret exists anywhere."""
    return ("OPTS['replier_from_addr'] is set but no reply-signing secret exists: run manage.py init-db "
            "(it keeps one in the database %r, schema %r), or set REPLY_TOKEN_SECRET in the .env beside %s"
            % (settings.db.name, settings.db.schema, settings.path.name))


def new_secret() -> str:
    """32 random bytes, URL-safe text (a secret kept in the database)."""
    return secrets.token_urlsafe(32)

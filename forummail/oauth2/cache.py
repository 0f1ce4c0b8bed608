"""Access tokens reused until shortly before they expire: in the database, or in memory without one.

The database cache is shared by every run on every host (forummail.store.tokens):
a run every minute asks the provider once an hour, not once a minute.
Fetching happens with the grant's row locked, so two hosts at once do not
both spend a rotating refresh token (RFC 6749 section 10.4: a used one may
be refused, and with it the whole lineage).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field

import psycopg

from .. import logs, store
from ..settingtypes import OAuth2
from .errors import OAuth2Refused, OAuth2Unreachable, count_failure
from .http import Grant

log = logging.getLogger(__name__)

# A token is replaced this long before it expires: 5 minutes, or 10% of its
# life when that is less, so a run that starts with it can still sign in.
EARLY_SECONDS = 300

Fetch = Callable[[OAuth2, str], Grant]


def early(lifetime: int) -> int:
    """Seconds before expiry at which a token of ``lifetime`` seconds is replaced."""
    return min(EARLY_SECONDS, lifetime // 10)


def grant_key(config: OAuth2) -> str:
    """What identifies the grant, hashed: never a secret in clear.

    The settings' refresh token counts (by its hash): two settings of one
    client and mailbox with refresh tokens of their own are two grants, and
    with a provider that rotates, sharing a row would spend each other's.
    """
    parts = [config.provider, config.token_url, config.authority, config.tenant, config.client_id,
             config.scope, config.subject, config.service_account_file, origin(config.refresh_token)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def origin(refresh_token: str) -> str:
    """The hash of the settings' refresh token that a rotated one descends from ("" for none)."""
    return hashlib.sha256(refresh_token.encode()).hexdigest() if refresh_token else ""


@dataclass
class _Memory:
    access_token: str = field(default="", repr=False)
    refresh_at: float = 0.0
    refresh_token: str = field(default="", repr=False)
    refresh_origin: str = ""


# Without a database: one cache for the process, so several sources of one grant share it.
_memory: dict[str, _Memory] = {}
_memory_lock = threading.Lock()


class CachedSource:
    """A TokenSource that keeps tokens (forummail.oauth2.TokenSource)."""

    def __init__(self, config: OAuth2, connect: Callable[[], psycopg.Connection] | None, fetch: Fetch) -> None:
        self.config = config
        self.setting = config.setting
        self._connect = connect
        self._fetch = fetch
        self._key = grant_key(config)

    def token(self) -> str:
        try:
            return self._database_token() if self._connect else self._memory_token()
        except (OAuth2Refused, OAuth2Unreachable) as exc:
            count_failure(exc)
            raise

    def refused(self, token: str) -> str:
        if self._connect:
            with closing(self._connect()) as conn:
                store.tokens.drop_token(conn, self._key, token)
        else:
            with _memory_lock:
                entry = _memory.get(self._key)
                if entry and entry.access_token == token:
                    entry.access_token, entry.refresh_at = "", 0.0
        log.info("%s: the server refused the access token; getting a new one", self.setting)
        return self.token()

    def _new(self, kept_refresh: str, kept_origin: str) -> tuple[Grant, str, str]:
        """Fetch a token: the rotated refresh token when it descends from the settings' one."""
        configured = self.config.refresh_token
        lineage = origin(configured)
        use = kept_refresh if kept_refresh and kept_origin == lineage else configured
        logs.add_secrets([use])  # a rotated one, from the database, is as secret as the settings' one
        if configured and use == configured and kept_refresh and kept_origin != lineage:
            log.info("%s: the refresh token in the settings changed; the rotated one kept is dropped",
                     self.setting)
        grant = self._fetch(self.config, use)
        logs.add_secrets([grant.refresh_token])
        log.info("%s: new access token for %s, valid %d s", self.setting, self.config.subject or "the app",
                 grant.expires_in)
        return grant, grant.refresh_token or use, lineage

    def _database_token(self) -> str:
        assert self._connect is not None
        with closing(self._connect()) as conn:
            token = store.tokens.fresh_token(conn, self._key)
            if token:
                return token
            with conn.transaction():
                row = store.tokens.lock_grant(conn, self._key, self.setting)
                if row.access_token:  # another run fetched it while we waited for the lock
                    return row.access_token
                grant, refresh, lineage = self._new(row.refresh_token, row.refresh_origin)
                store.tokens.save_token(conn, self._key, grant.access_token, grant.expires_in,
                                        early(grant.expires_in), refresh, lineage)
        return grant.access_token

    def _memory_token(self) -> str:
        with _memory_lock:
            entry = _memory.setdefault(self._key, _Memory())
            if entry.access_token and entry.refresh_at > time.time():
                return entry.access_token
            grant, refresh, lineage = self._new(entry.refresh_token, entry.refresh_origin)
            entry.access_token = grant.access_token
            entry.refresh_at = time.time() + grant.expires_in - early(grant.expires_in)
            entry.refresh_token, entry.refresh_origin = refresh, lineage
            return grant.access_token

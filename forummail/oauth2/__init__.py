"""OAuth2 access tokens for signing in to SMTP and POP3: where a run gets one.

The sign-in side (forummail.sasl, transport, mailbox) needs only this::

    source = oauth2.token_source(server.oauth2, connect)
    token = source.token()              # cached (database) or new
    ...the server refuses it...
    token = source.refused(token)       # dropped from the cache, a new one (once)

Providers, each in its own module: ``microsoft`` (MSAL, client secret or
certificate), ``google`` (refresh token by our RFC 6749 code, or a service
account by google-auth), ``generic`` (RFC 6749), ``command`` (a program
that prints a token; getmail6's convention).  Failures raise
:class:`OAuth2Unreachable` or :class:`OAuth2Refused` (both exit 75), and
count in :func:`failures` for the metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import psycopg

from ..settingtypes import OAuth2
from .cache import CachedSource
from .describe import describe
from .errors import OAuth2Refused, OAuth2Unreachable, failures
from .http import Grant

PROVIDERS = ("microsoft", "google", "generic", "command")


class TokenSource(Protocol):
    """Where one mailbox's access tokens come from."""

    setting: str  # the OPTS name to fix, for messages

    def token(self) -> str:
        """A valid access token: cached (database) or new."""
        ...

    def refused(self, token: str) -> str:
        """The server refused ``token``: drop it from the cache (only if the cache still holds
        that one) and return a new one.  Call it once: a second refusal is the caller's to report."""
        ...


def _fetch(config: OAuth2, refresh_token: str) -> Grant:
    """A new token from the provider of ``config``; its library imported only when it is used."""
    if config.provider == "microsoft":
        from . import microsoft

        return microsoft.fetch(config)
    if config.provider == "google" and config.service_account_file:
        from . import google

        return google.fetch(config)
    from . import rfc6749

    return rfc6749.fetch(config, refresh_token)


def token_source(config: OAuth2, connect: Callable[[], psycopg.Connection] | None) -> TokenSource:
    """The token source of ``config``.

    ``connect`` opens a database connection (closed after each use) for the
    cache every run on every host shares; None (``fetch_replies.py
    --extract``, tests): a cache in this process's memory.  A ``command``
    is not cached: the tool it runs keeps its own tokens.
    """
    if config.provider == "command":
        from .command import CommandSource

        return CommandSource(config)
    return CachedSource(config, connect, _fetch)


__all__ = ["PROVIDERS", "OAuth2", "OAuth2Refused", "OAuth2Unreachable", "TokenSource", "describe", "failures",
           "token_source"]

"""The two ways getting a token fails; each failure is counted in the run's metrics.

Both are temporary failures (exit 75): the work waits, nothing is lost.  A
refused credential is nonetheless the administrator's to fix, so its one
line names the setting, what the provider said and what to check.  No text
built here holds a secret: the provider's words are cut to one line and
every secret of the setting is masked in them.
"""

from __future__ import annotations

import urllib.parse

from .. import metrics
from ..errors import TemporaryFailure
from ..settingtypes import OAuth2

_MAX_WORDS = 300  # characters of a provider's description kept: one readable line

class OAuth2Unreachable(TemporaryFailure):
    """The token endpoint (or the token command) could not be used now: down, timeout, 5xx."""


class OAuth2Refused(TemporaryFailure):
    """The provider refused our credential; the message names the setting to fix."""


def count_failure(exc: OAuth2Refused | OAuth2Unreachable) -> None:
    """One failed token request, in the run's metrics (forummail_oauth2_token_failures)."""
    metrics.note_token_failure("endpoint_refused" if isinstance(exc, OAuth2Refused) else "endpoint_unreachable")


def failures() -> int:
    """How many token requests of this process failed (unreachable or refused)."""
    counts = metrics.token_failures()
    return counts.get("endpoint_refused", 0) + counts.get("endpoint_unreachable", 0)


def one_line(text: str, config: OAuth2, extra: tuple[str, ...] = ()) -> str:
    """A provider's words as one short line, with every secret of ``config`` masked."""
    line = " ".join(part.strip() for part in str(text).splitlines()[:1]).strip()
    for secret in (*config.secrets, *extra):
        # A provider that echoes our request writes a secret as the form or
        # the URL did: "1//0g..." as "1%2F%2F0g..." (RFC 3986 section 2.1).
        for written in sorted({secret, urllib.parse.quote_plus(secret), urllib.parse.quote(secret, safe="")},
                              key=len, reverse=True):
            if written:
                line = line.replace(written, "***")
    if len(line) > _MAX_WORDS:
        line = line[:_MAX_WORDS].rstrip() + " ..."
    return line or "no reason given"


def _check(config: OAuth2, error: str) -> str:
    """What the administrator should look at for an RFC 6749 section 5.2 error code."""
    secret = "client_secret" + (" / %s" % config.secret_env if config.secret_env else "")
    if config.provider == "microsoft" and config.certificate:
        secret = "certificate and private_key (and that the certificate is uploaded to the app registration)"
    refresh = "refresh_token" + (" / %s" % config.refresh_env if config.refresh_env else "")
    return {
        "invalid_client": "check client_id and %s" % secret,
        "unauthorized_client": "check that the app registration %r may use this grant and has the "
                               "permission (admin consent given)" % config.client_id,
        "invalid_grant": "check %s: it may have expired or been revoked; get a new one" % refresh
                         if config.refresh_token or config.provider == "google" and not config.service_account_file
                         else "check the grant: tenant, client_id, consent, the mailbox's permission",
        "invalid_scope": "check scope (now %r)" % config.scope,
        "access_denied": "check the app's permissions and that an administrator consented",
    }.get(error, "check %s" % config.setting)


def refused(config: OAuth2, error: str, description: str, extra: tuple[str, ...] = ()) -> OAuth2Refused:
    """The one-line error for a token endpoint's refusal (RFC 6749 section 5.2 ``error``)."""
    words = one_line(description, config, extra)
    error = one_line(error, config, extra) if error else "refused"
    return OAuth2Refused("%s: the token endpoint refused client %r: %s: %s (%s)"
                         % (config.setting, config.client_id, error, words, _check(config, error)))


def unreachable(config: OAuth2, where: str, reason: str, extra: tuple[str, ...] = ()) -> OAuth2Unreachable:
    """The one-line error for an endpoint that could not be used (``extra``: secrets sent, to mask)."""
    return OAuth2Unreachable("%s: the token endpoint %s could not be used: %s (the next run tries again)"
                             % (config.setting, where, one_line(reason, config, extra)))

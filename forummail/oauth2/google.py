"""Google service accounts with domain-wide delegation, through google-auth.

google-auth rather than our own code: it reads the key file Google issues,
signs the JWT-bearer assertion (RFC 7523) as Google expects, and takes the
``token_uri`` from the file, used as given.  The mailbox is the subject.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from ..settingtypes import OAuth2
from .errors import refused, unreachable
from .http import DEFAULT_LIFETIME, Grant, requests_verify

log = logging.getLogger(__name__)


def fetch(config: OAuth2) -> Grant:
    """A new access token for the mailbox ``config.subject``."""
    import requests
    from google.auth import exceptions
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    try:
        credentials = service_account.Credentials.from_service_account_file(
            config.service_account_file, scopes=[config.scope], subject=config.subject or None)
    except (OSError, ValueError) as exc:
        raise refused(config, "service_account_file", str(exc)) from None
    session = requests.Session()
    session.verify = requests_verify()
    transport = Request(session)

    def request(*args: Any, **kwargs: Any) -> Any:
        # google-auth asks with its own default timeout (120 s) unless told:
        # the setting's timeout holds here too.
        kwargs["timeout"] = config.timeout
        return transport(*args, **kwargs)

    try:
        credentials.refresh(request)
    except exceptions.TransportError as exc:
        raise unreachable(config, credentials._token_uri, str(exc)) from None
    except exceptions.RefreshError as exc:
        error, description = _words(exc)
        if getattr(exc, "retryable", False):
            raise unreachable(config, credentials._token_uri, "%s: %s" % (error, description)) from None
        raise refused(config, error, description) from None
    finally:
        session.close()
    expires = DEFAULT_LIFETIME
    if credentials.expiry is not None:
        expires = int((credentials.expiry.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds())
    return Grant(str(credentials.token), max(expires, 1))


def _words(exc: Exception) -> tuple[str, str]:
    """google-auth's RefreshError carries ("error: description", the answer): the code and the words."""
    answer = exc.args[1] if len(exc.args) > 1 else None
    if isinstance(answer, dict) and "error" in answer:
        return str(answer["error"]), str(answer.get("error_description", ""))
    text = str(exc.args[0]) if exc.args else str(exc)
    code, _, rest = text.partition(":")
    return (code.strip(), rest.strip()) if rest else ("refused", text)

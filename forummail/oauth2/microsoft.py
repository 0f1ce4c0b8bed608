"""Microsoft Entra ID app-only tokens (client credentials) through MSAL.

MSAL rather than our own code: it builds and signs the certificate's
client assertion (x5t#S256, x5c) as Entra ID wants it, and follows
Microsoft's changes to it.  The authority is used as given
(``instance_discovery=False``): a national cloud, a closed network or a
test endpoint is asked, and no other host.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..settingtypes import OAuth2
from .errors import refused, unreachable
from .http import Grant, lifetime, requests_verify

log = logging.getLogger(__name__)

# Codes of RFC 6749 section 5.2 that mean "our credential": anything else
# (server_error, temporarily_unavailable, an odd answer) is the service unwell.
_REFUSALS = {"invalid_client", "unauthorized_client", "invalid_grant", "invalid_scope", "invalid_request",
             "unsupported_grant_type", "access_denied", "invalid_resource"}


def credential(config: OAuth2) -> Any:
    """The client secret, or the certificate and its key as MSAL takes them."""
    if config.certificate:
        return {"private_key": Path(config.private_key).read_text(),
                "public_certificate": Path(config.certificate).read_text()}
    return config.client_secret


def fetch(config: OAuth2) -> Grant:
    """A new app-only access token for ``config.scope``."""
    import msal  # only where a microsoft provider is configured
    import requests
    from msal.exceptions import MsalServiceError

    authority = "%s/%s" % (config.authority.rstrip("/"), config.tenant)
    session = requests.Session()
    session.verify = requests_verify()
    try:
        app = msal.ConfidentialClientApplication(
            config.client_id, client_credential=credential(config), authority=authority,
            instance_discovery=False, http_client=session, timeout=config.timeout, token_cache=None)
        result = app.acquire_token_for_client(scopes=[config.scope])
    except (requests.RequestException, MsalServiceError) as exc:  # MsalServiceError: a 5xx answer
        raise unreachable(config, authority, str(exc)) from None
    except ValueError as exc:  # MSAL: the authority's configuration could not be read
        raise refused(config, "authority", "%s (check tenant %r and authority %r)"
                      % (exc, config.tenant, config.authority)) from None
    finally:
        session.close()
    if "access_token" in result:
        return Grant(result["access_token"], lifetime(result.get("expires_in")))
    error = str(result.get("error", ""))
    if error in _REFUSALS:
        raise refused(config, error, str(result.get("error_description", "")))
    raise unreachable(config, authority, "%s: %s" % (error or "no access token", result.get("error_description", "")))

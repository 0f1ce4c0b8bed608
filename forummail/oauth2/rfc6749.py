"""The two RFC 6749 grants we speak ourselves: refresh token (section 6) and client credentials (4.4).

Used by the ``generic`` provider and by ``google`` with a refresh token:
a form POST and a JSON answer are less code than a library would bring.
"""

from __future__ import annotations

from ..settingtypes import OAuth2
from .http import Grant, post_form


def fetch(config: OAuth2, refresh_token: str) -> Grant:
    """A new access token: refresh grant with ``refresh_token``, else client credentials."""
    fields: dict[str, str] = {}
    if refresh_token:
        fields = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    else:
        fields = {"grant_type": "client_credentials"}
    if config.scope:
        fields["scope"] = config.scope
    basic: tuple[str, str] | None = None
    if config.client_secret and config.provider == "generic":
        # Section 2.3.1: servers MUST support HTTP Basic; credentials in the
        # body are NOT RECOMMENDED.
        basic = (config.client_id, config.client_secret)
    else:
        # Google documents the secret in the body; a public client
        # (no secret) names itself there (section 3.2.1).
        fields["client_id"] = config.client_id
        if config.client_secret:
            fields["client_secret"] = config.client_secret
    return post_form(config, config.token_url, fields, basic)

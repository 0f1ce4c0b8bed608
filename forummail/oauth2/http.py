"""HTTPS to a token endpoint: certificate verification, one POST, the answer read as RFC 6749 says.

Certificates are verified against the system's store, or the bundle named
by ``REQUESTS_CA_BUNDLE`` or ``SSL_CERT_FILE`` (installations with their own
CA); the libraries that speak HTTP through requests (MSAL, google-auth) get
the same bundle from :func:`requests_verify`.  Redirects are not followed:
a token endpoint is used as given, and a POST carrying a secret goes to no
other host.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..settingtypes import OAuth2
from .errors import OAuth2Refused, refused, unreachable

log = logging.getLogger(__name__)

# When the provider does not say how long a token lives (RFC 6749 section
# 5.1 makes expires_in optional): assume a short life rather than a long one.
DEFAULT_LIFETIME = 600
# Entra ID's and Google's tokens live an hour or so: a provider that says
# years (or Infinity) is not believed, and the token is kept a day at most.
MAX_LIFETIME = 86400


@dataclass(frozen=True)
class Grant:
    """What a token endpoint gave: the access token, its lifetime, maybe a new refresh token."""

    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str = field(default="", repr=False)


def ca_files() -> list[str]:
    """The CA files the administrator named: REQUESTS_CA_BUNDLE, SSL_CERT_FILE (set ones, in that order)."""
    named = [os.environ.get("REQUESTS_CA_BUNDLE", ""), os.environ.get("SSL_CERT_FILE", "")]
    return [f for i, f in enumerate(named) if f and f not in named[:i]]


def ca_bundle() -> str | None:
    """The one CA file to give a library that takes one (requests), else None."""
    files = ca_files()
    return files[0] if files else None


def ssl_context() -> ssl.SSLContext:
    """A verifying context: the system's store and every bundle named."""
    context = ssl.create_default_context()
    for cafile in ca_files():
        context.load_verify_locations(cafile=cafile)
    return context


def requests_verify() -> str | bool:
    """``verify=`` for requests: the named bundle, else the system's store (not certifi's copy)."""
    named = ca_bundle()
    if named:
        return named
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return candidate
    return True


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx becomes an HTTPError: the endpoint is used as given


def post_form(config: OAuth2, url: str, fields: dict[str, str], basic: tuple[str, str] | None = None) -> Grant:
    """POST ``fields`` to the token endpoint ``url`` and read the access token answer.

    ``basic``: client id and secret sent as HTTP Basic, form-encoded first
    as RFC 6749 section 2.3.1 requires.
    """
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if basic:
        pair = "%s:%s" % (urllib.parse.quote_plus(basic[0]), urllib.parse.quote_plus(basic[1]))
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), headers=headers,
                                     method="POST")
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ssl_context()), _NoRedirect)
    # What must not be echoed back in a message: the secrets sent (not "refresh_token", the grant's name).
    secrets = tuple(fields.get(k, "") for k in ("refresh_token", "client_secret", "client_assertion", "assertion"))
    if basic:  # an error page may echo the request's headers too
        secrets += (basic[1], headers["Authorization"].split()[1])
    try:
        with opener.open(request, timeout=config.timeout) as response:
            body = response.read(1 << 20)
    except urllib.error.HTTPError as exc:
        text = exc.read(1 << 20).decode("utf-8", "replace")
        raise http_error(config, url, exc.code, text, secrets) from None
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise unreachable(config, url, str(reason) or type(reason).__name__) from None
    return read_grant(config, url, body.decode("utf-8", "replace"), secrets)


def http_error(config: OAuth2, url: str, status: int, text: str, secrets: tuple[str, ...]) -> Exception:
    """An error answer: a refusal (4xx, RFC 6749 section 5.2) or the endpoint unwell (5xx, 429)."""
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if status >= 500 or status == 429 or not isinstance(answer, dict) or "error" not in answer:
        return unreachable(config, url, "HTTP %d %s" % (status, text if answer is None else ""), secrets)
    return refused(config, str(answer["error"]), str(answer.get("error_description", "")), secrets)


def read_grant(config: OAuth2, url: str, text: str, secrets: tuple[str, ...] = ()) -> Grant:
    """A successful answer (RFC 6749 section 5.1) as a Grant; anything else refused."""
    try:
        answer = json.loads(text)
    except ValueError:
        raise unreachable(config, url, "the answer is not JSON") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str) \
            or not answer["access_token"]:
        error = answer.get("error", "") if isinstance(answer, dict) else ""
        raise refused(config, str(error or "no access_token"), "the answer holds no access token", secrets)
    return Grant(answer["access_token"], lifetime(answer.get("expires_in")), str(answer.get("refresh_token") or ""))


def lifetime(value: Any) -> int:
    """``expires_in`` as seconds (some endpoints send it as a string); missing or odd: a short default."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return DEFAULT_LIFETIME
    if not math.isfinite(seconds) or seconds <= 0:  # JSON's Infinity and NaN parse as floats
        return DEFAULT_LIFETIME
    return int(min(seconds, MAX_LIFETIME))


__all__ = ["DEFAULT_LIFETIME", "MAX_LIFETIME", "Grant", "OAuth2Refused", "ca_bundle", "lifetime", "post_form",
           "read_grant", "requests_verify", "ssl_context", "ca_files"]

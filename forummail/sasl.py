"""SASL sign-in with an OAuth2 access token: XOAUTH2 and OAUTHBEARER (RFC 7628).

Pure functions: what the client says, and what the server's error
challenge means.  SMTP (forummail.transport) and POP3 (forummail.mailbox)
both build their responses here, so the strings exist once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable

XOAUTH2 = "XOAUTH2"
OAUTHBEARER = "OAUTHBEARER"
# Best first: OAUTHBEARER is the standard (RFC 7628); XOAUTH2 is what
# Microsoft 365 and Google offer everywhere.
PREFERENCE = (OAUTHBEARER, XOAUTH2)

_SEP = "\x01"  # kvsep of RFC 7628 section 3.1; XOAUTH2 uses the same byte


def choose(offered: Iterable[str]) -> str | None:
    """The mechanism to use among those the server offers (any case); None: no OAuth2 one."""
    upper = {m.upper() for m in offered}
    return next((m for m in PREFERENCE if m in upper), None)


def _saslname(user: str) -> str:
    # RFC 5801 section 4 (the GS2 header RFC 7628 section 3.1 uses):
    # "," and "=" in the authzid are written =2C and =3D.
    return user.replace("=", "=3D").replace(",", "=2C")


def client_response(mechanism: str, user: str, token: str, host: str = "", port: int = 0) -> bytes:
    """The initial client response, not yet base64-encoded."""
    if mechanism == XOAUTH2:
        # Google's and Microsoft's XOAUTH2: user=...^Aauth=Bearer ...^A^A
        text = "user=%s%sauth=Bearer %s%s%s" % (user, _SEP, token, _SEP, _SEP)
    elif mechanism == OAUTHBEARER:
        # RFC 7628 section 3.1: gs2-header "n,a=user," then key=value pairs
        # each ended by ^A, and a final ^A.  host and port are optional.
        pairs = []
        if host:
            pairs.append("host=" + host)
        if port:
            pairs.append("port=%d" % port)
        pairs.append("auth=Bearer " + token)
        text = "n,a=%s,%s%s%s%s" % (_saslname(user), _SEP, _SEP.join(pairs), _SEP, _SEP)
    else:
        raise ValueError("not an OAuth2 SASL mechanism: %r" % mechanism)
    return text.encode("utf-8")


def encoded_response(mechanism: str, user: str, token: str, host: str = "", port: int = 0) -> str:
    """The initial client response as sent on the wire (base64, RFC 4954 section 4, RFC 5034 section 4)."""
    return base64.b64encode(client_response(mechanism, user, token, host, port)).decode("ascii")


def after_error(mechanism: str) -> str:
    """What the client sends (base64) after a server's error challenge, to get the final refusal.

    RFC 7628 section 3.2.3: an OAUTHBEARER client answers the error
    challenge with a single ^A ("AQ==").  Google's XOAUTH2 protocol page:
    the XOAUTH2 client sends an empty response (an empty line).
    """
    return base64.b64encode(_SEP.encode()).decode("ascii") if mechanism == OAUTHBEARER else ""


def read_error(challenge: bytes | str) -> str:
    """The server's error challenge (base64 JSON, RFC 7628 section 3.2.2) as one line.

    ``{"status":"invalid_token","scope":"https://mail.google.com/"}`` reads
    ``status invalid_token, scope https://mail.google.com/``.  Anything that is
    not base64 JSON is shown as it came, on one line, cut short.
    """
    raw = challenge.encode("ascii", "replace") if isinstance(challenge, str) else challenge
    raw = raw.strip()
    try:
        decoded = base64.b64decode(raw, validate=True)
        data = json.loads(decoded.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        text = raw.decode("utf-8", "replace")
        return " ".join(text.split())[:200]
    if not isinstance(data, dict):
        return " ".join(str(data).split())[:200]
    parts = ["%s %s" % (key, data[key]) for key in ("status", "scope") if data.get(key)]
    return ", ".join(parts) or "an error challenge without a status"

"""Signing in to an SMTP server: a password, or an OAuth2 access token; and why a sign-in failed.

:func:`authenticator` picks how a server's settings sign in; the
:class:`Authenticator` it returns runs after EHLO (and STARTTLS).
:mod:`forummail.transport` opens connections with it and turns a refusal
into :class:`LoginRefused`, whose one line names the setting to fix.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from . import logs, metrics, oauth2, sasl
from .errors import TemporaryFailure
from .reply_codes import sign_in_meaning, token_refused
from .settings import SmtpServer

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)


class ServerDown(TemporaryFailure):
    """No configured SMTP server can be used now."""


class LoginRefused(ServerDown):
    """The server refused our AUTH: the login or password in the settings is wrong."""


class Authenticator(Protocol):
    """Signs a connection in, after EHLO (and STARTTLS): the one seam for kinds of sign-in.

    Raises ``smtplib.SMTPAuthenticationError`` when the server refuses it;
    ``who`` and ``hint`` name the account and the settings to check.
    """

    @property
    def who(self) -> str: ...

    @property
    def hint(self) -> str: ...

    def __call__(self, smtp: smtplib.SMTP) -> None: ...


@dataclass(frozen=True)
class PasswordLogin:
    """AUTH with a login and a password (PLAIN or LOGIN, as the server offers: smtplib chooses)."""

    who: str
    password: str = field(repr=False)
    hint: str = "check MAIL_LOGIN and MAIL_PSSWD"

    def __call__(self, smtp: smtplib.SMTP) -> None:
        smtp.login(self.who, self.password)


class InsecureSignIn(LoginRefused):
    """A token would have gone over a connection without TLS: we did not send it."""


class SignInAgain(Exception):
    """The server closed the connection after refusing a token: reconnect, sign in with the new one."""


class OAuth2Login:
    """AUTH with an OAuth2 access token: OAUTHBEARER where the server offers it, else XOAUTH2.

    A token the server refuses (revoked before it expired) is handed back
    to the token source, which drops it and gets a new one; the new one is
    tried once, on a fresh AUTH (on a new connection if the server hung up).
    A second refusal is the server's last word for this run.
    """

    def __init__(self, who: str, source: oauth2.TokenSource, server: SmtpServer) -> None:
        self.who = who
        self.source = source
        self.hint = "check %s" % source.setting
        self.host, self.port = server.host, server.port
        self.mechanism = ""  # the SASL mechanism used, once signed in
        self._token = ""
        self._replaced = False  # the token source gave a new token in place of a refused one
        self._reconnected = False

    def __call__(self, smtp: smtplib.SMTP) -> None:
        if not isinstance(smtp.sock, ssl.SSLSocket):
            # Microsoft and Google take tokens only after STARTTLS or on 465;
            # a bearer token is as good as a password to whoever reads it.
            raise InsecureSignIn("SMTP server %s:%d: refusing to send an OAuth2 token over a connection "
                                 "without TLS (set ssl, or tls for STARTTLS on 587)" % (self.host, self.port))
        offered = smtp.esmtp_features.get("auth", "").split()
        mechanism = self.mechanism = sasl.choose(offered) or ""
        if not mechanism:
            raise smtplib.SMTPAuthenticationError(
                504, "the server offers no OAuth2 sign-in (AUTH %s), only passwords" % " ".join(offered))
        if not self._token:
            self._token = self.source.token()
            logs.add_secrets([self._token])
        while True:
            try:
                code, words = _sasl_auth(smtp, mechanism, self.who, self._token, self.host, self.port)
            except smtplib.SMTPServerDisconnected:
                if self._replaced and not self._reconnected:
                    self._reconnected = True
                    raise SignInAgain() from None
                raise
            if code == 235:
                return
            if not token_refused(code) or self._replaced:
                raise smtplib.SMTPAuthenticationError(code, words)
            metrics.note_token_failure("server_refused")
            log.info("SMTP server %s:%d refused the OAuth2 token of %r: %s; asking for a new one",
                     self.host, self.port, self.who, words)
            self._token = self.source.refused(self._token)
            logs.add_secrets([self._token])
            self._replaced = True


def _sasl_auth(smtp: smtplib.SMTP, mechanism: str, user: str, token: str, host: str,
               port: int) -> tuple[int, str]:
    """One AUTH exchange; the final code and the server's words (with an error challenge's JSON read)."""
    # RFC 4954 section 4: the initial response on the AUTH line (up to
    # 12288 octets there): Microsoft's and Google's servers take it.
    code, text = smtp.docmd("AUTH", "%s %s" % (mechanism, sasl.encoded_response(mechanism, user, token, host,
                                                                                 port)))
    challenge = ""
    if code == 334:
        # An error challenge (RFC 7628 section 3.2.2; Google's XOAUTH2 the
        # same): answer it as the mechanism says, and the server refuses.
        challenge = sasl.read_error(text)
        code, text = smtp.docmd(sasl.after_error(mechanism))
        if code == 334:  # a server that keeps challenging: cancel (RFC 4954 section 4)
            code, text = smtp.docmd("*")
    words = said(0, text)  # the code is said with it by whoever reports the refusal
    meaning = sign_in_meaning(words)
    if meaning:
        words += " (%s)" % meaning
    if challenge:
        words += " [%s]" % challenge
    return code, words


def authenticator(server: SmtpServer, connect: Callable[[], psycopg.Connection] | None = None
                  ) -> Authenticator | None:
    """How to sign in to ``server``; None when it needs no sign-in.

    ``connect`` opens a database connection for the OAuth2 token cache
    shared by every run and host.
    """
    if server.oauth2 is not None:
        return OAuth2Login(server.login, oauth2.token_source(server.oauth2, connect), server)
    return PasswordLogin(server.login, server.password) if server.login else None


def said(code: int | None, text: bytes | str | None) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join((text or "").split())
    return ("%d %s" % (code, text)).strip() if code else text

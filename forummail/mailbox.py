"""Mailbox: where replies come from (POP3, or one message from a file or stdin).

POP3 deletes take effect only at QUIT (RFC 1939 section 6): we mark a
message for deletion only after its outcome is committed, and on any failure
close the connection *without* QUIT, so the server deletes nothing and every
message is fetched again next time (and recognised as already handled).
"""

from __future__ import annotations

import logging
import poplib
import re
import socket
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import logs, metrics, oauth2, sasl
from .errors import ConfigError, TemporaryFailure, UsageError
from .safetext import key
from .settings import Settings

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

# poplib refuses lines longer than 2048 bytes; real mail (HTML without line
# breaks) has them.  RFC 5322 allows 998 octets, real-world senders ignore it.
poplib._MAXLINE = 1 << 20  # type: ignore[attr-defined]


class MailboxDown(TemporaryFailure):
    """The POP3 server cannot be used now (unreachable, TLS, login)."""


class MailboxLoginRefused(MailboxDown):
    """The POP3 server refused the login or password in the settings."""


class _Reconnect(Exception):
    """The server hung up after refusing a token: sign in with the new one on a new connection."""


# RFC 2449 section 4 (and RFC 5034 section 4): a POP3 command line is at most
# 255 octets with its CRLF; an initial response that would pass it is sent
# on its own line after the server's "+" instead.
_MAX_COMMAND = 255
# RFC 3206 section 4 and 5: [SYS/TEMP] and [IN-USE] say the server cannot
# sign anyone in now: not a refusal of our token, so it is not replaced.
_TEMPORARY = re.compile(r"-ERR \[(SYS/TEMP|IN-USE)\]", re.I)


@dataclass(frozen=True)
class Listed:
    number: int
    size: int
    uidl: str | None


class Pop3Mailbox:
    """One POP3 session: list, retrieve, mark deleted, then QUIT or abort."""

    def __init__(self, settings: Settings, timeout: float = 60.0,
                 connect: Callable[[], psycopg.Connection] | None = None) -> None:
        self.settings = settings
        self.timeout = timeout
        self.connect = connect  # a database connection for the OAuth2 token cache
        self.pop: poplib.POP3 | None = None
        self.mechanism = ""  # the SASL mechanism of the last OAuth2 sign-in
        self._offered: list[str] = []  # the SASL mechanisms the server's CAPA named

    @property
    def name(self) -> str:
        return "%s:%d" % (self.settings.replies.pop_host, self.settings.replies.pop_port)

    def open(self) -> None:
        """Connect (TLS, or STLS where offered) and log in; raise MailboxDown saying why."""
        s = self.settings.replies
        source: oauth2.TokenSource | None = None
        try:
            if s.replier_pop_oauth2 is not None:
                source = oauth2.token_source(s.replier_pop_oauth2, self.connect)
                try:
                    self._oauth2_sign_in(source, "")
                except _Reconnect as again:
                    self.abort()
                    self._oauth2_sign_in(source, str(again))
            else:
                self._connect()
                self._require_tls_or_say()
                assert self.pop is not None
                self.pop.user(s.replier_pop_login)
                self.pop.pass_(s.replier_pop_psswd)
        except poplib.error_proto as exc:
            self.abort()
            text = error_text(exc)
            if text == "-ERR EOF":  # poplib's word for a connection closed under it
                raise MailboxDown("POP3 server %s closed the connection during the login" % self.name) from None
            if _TEMPORARY.match(text):
                raise MailboxDown("POP3 server %s cannot sign anyone in now: %s" % (self.name, text)) from None
            if text.startswith("-ERR") or "auth" in text.lower() or "login" in text.lower():
                how = "OAuth2 sign-in" if source else "login"
                hint = ("check %s" % source.setting if source else
                        "check OPTS['replier_pop_login'] and the password")
                raise MailboxLoginRefused("POP3 server %s refused the %s of %r: %s (%s)"
                                          % (self.name, how, s.replier_pop_login, text, hint)) from None
            raise MailboxDown("POP3 server %s: %s" % (self.name, text)) from None
        except ssl.SSLCertVerificationError as exc:
            self.abort()
            raise MailboxDown("POP3 server %s: TLS certificate not valid: %s"
                              % (self.name, exc.verify_message)) from None
        except (OSError, EOFError) as exc:
            self.abort()
            reason = "no answer (timed out)" if isinstance(exc, socket.timeout | TimeoutError) else str(exc)
            raise MailboxDown("cannot connect to POP3 server %s: %s" % (self.name, reason)) from None
        except (oauth2.OAuth2Refused, oauth2.OAuth2Unreachable) as exc:
            # No token to sign in with; the message names the OAuth2 setting.
            self.abort()
            refused = isinstance(exc, oauth2.OAuth2Refused)  # counted in the metrics by forummail.oauth2
            raise (MailboxLoginRefused if refused else MailboxDown)("POP3 server %s: %s" % (self.name, exc)) from None
        except BaseException:
            self.abort()  # nothing deleted, whatever happened (ConfigError: no TLS for the token)
            raise

    def _connect(self) -> None:
        s = self.settings.replies
        context = ssl.create_default_context()
        if s.replier_pop_ssl:
            self.pop = poplib.POP3_SSL(s.pop_host, s.pop_port, timeout=self.timeout, context=context)
            return
        self.pop = poplib.POP3(s.pop_host, s.pop_port, timeout=self.timeout)
        if "STLS" in self._capabilities():
            self.pop.stls(context=context)

    def _require_tls_or_say(self) -> None:
        if not isinstance(self._pop().sock, ssl.SSLSocket):
            log.info("POP3 server %s offers no STLS: the login goes unencrypted", self.name)

    def _oauth2_sign_in(self, source: oauth2.TokenSource, refusal: str) -> None:
        """AUTH with a token; a refused one is replaced once (``refusal``: the first was refused already)."""
        self._connect()
        if not isinstance(self._pop().sock, ssl.SSLSocket):
            # A bearer token is as good as a password to whoever reads it.
            raise ConfigError("POP3 server %s offers no STLS: an OAuth2 token is only sent over TLS: set "
                              "OPTS['replier_pop_ssl'] = True (POP3S, port 995), or use a server that offers STLS"
                              % self.name)
        offered = self._capabilities().get("SASL", [])
        # A server may keep XOAUTH2 out of its CAPA (RFC 2449 section 6.9 lists
        # SASL mechanisms only for those it wants to show): try it anyway.
        self.mechanism = sasl.choose(offered) or sasl.XOAUTH2
        self._offered = offered
        login = self.settings.replies.replier_pop_login
        token = source.token()
        logs.add_secrets([token])
        while True:
            try:
                words = self._auth(self.mechanism, login, token)
            except (OSError, EOFError, poplib.error_proto) as exc:
                if refusal and (isinstance(exc, OSError | EOFError) or error_text(exc) == "-ERR EOF"):
                    raise _Reconnect(refusal) from None
                raise
            if not words:
                return
            if refusal:
                raise poplib.error_proto(("%s; before it: %s" % (words, refusal)).encode())
            metrics.note_token_failure("server_refused")
            log.info("POP3 server %s refused the OAuth2 token of %r: %s; asking for a new one",
                     self.name, login, words)
            refusal = words
            token = source.refused(token)
            logs.add_secrets([token])

    def _auth(self, mechanism: str, login: str, token: str) -> str:
        """One AUTH exchange (RFC 5034); empty when signed in, else the server's refusal on one line."""
        pop = self._pop()
        host, port = self.settings.replies.pop_host, self.settings.replies.pop_port
        response = sasl.encoded_response(mechanism, login, token, host, port)
        one_line = "AUTH %s %s" % (mechanism, response)
        try:
            try:
                # The two-line form: the command, the server's "+", the response
                # on its own line.  Microsoft 365 requires it for XOAUTH2, and
                # every RFC 5034 server takes it.
                pop._shortcmd("AUTH " + mechanism)  # type: ignore[attr-defined]
            except poplib.error_proto as exc:
                # A server that wants the response on the command line (the
                # one-line form), where it fits in 255 octets with its CRLF.
                text = error_text(exc)
                if not text.startswith("-ERR") or text == "-ERR EOF" or _TEMPORARY.match(text):
                    raise
                unlisted = bool(self._offered) and mechanism not in {m.upper() for m in self._offered}
                if unlisted or len(one_line) + 2 > _MAX_COMMAND:
                    # Refused before the token was sent: the mechanism, not the
                    # token (RFC 5034 section 4: a server takes the response
                    # after "+"), so the token stays and no new one is asked for.
                    raise MailboxLoginRefused(
                        "POP3 server %s does not take AUTH %s: %s (it offers SASL %s): OAuth2 sign-in needs "
                        "XOAUTH2 or OAUTHBEARER; check the server's settings, OPTS['replier_pop_addr'] and %s"
                        % (self.name, mechanism, text, " ".join(self._offered) or "nothing it names",
                           self.settings.replies.replier_pop_oauth2.setting
                           if self.settings.replies.replier_pop_oauth2 else "OPTS['replier_pop_oauth2']")) from None
                reply = pop._shortcmd(one_line)  # type: ignore[attr-defined]
            else:
                reply = pop._shortcmd(response)  # type: ignore[attr-defined]
            if reply.startswith(b"+OK"):
                return ""
            # "+ <base64 JSON>": an error challenge (RFC 7628 section 3.2.2):
            # answer it as the mechanism says; the server then refuses.
            challenge = sasl.read_error(reply[1:].strip())
            try:
                pop._shortcmd(sasl.after_error(mechanism) or "")  # type: ignore[attr-defined]
            except poplib.error_proto as exc:
                return "%s [%s]" % (error_text(exc), challenge)
            return "the server went on after its error challenge [%s]" % challenge
        except poplib.error_proto as exc:
            text = error_text(exc)
            if not text.startswith("-ERR") or text == "-ERR EOF" or _TEMPORARY.match(text):
                raise
            return text

    def _capabilities(self) -> dict[str, list[str]]:
        assert self.pop is not None
        try:
            return self.pop.capa()
        except poplib.error_proto:
            return {}

    def listing(self) -> list[Listed]:
        """Every message with its size and unique id (UIDL, where the server has it)."""
        pop = self._pop()
        sizes: dict[int, int] = {}
        for line in pop.list()[1]:
            number, _, size = line.decode("ascii", "replace").partition(" ")
            sizes[int(number)] = int(size or 0)
        uidls: dict[int, str] = {}
        try:
            for line in pop.uidl()[1]:
                number, _, uid = line.decode("ascii", "replace").partition(" ")
                # RFC 1939 section 7 bounds a UIDL to 70 characters; a server that
                # breaks it must not break the index on inbound_emails.pop_uidl.
                uidls[int(number)] = key(uid.strip(), "uidl-sha256:")
        except poplib.error_proto:
            pass  # UIDL is optional (RFC 1939 section 7)
        return [Listed(n, sizes[n], uidls.get(n)) for n in sorted(sizes)]

    def retrieve(self, number: int) -> bytes:
        _, lines, _ = self._pop().retr(number)
        return b"\r\n".join(lines) + b"\r\n"

    def headers(self, number: int) -> bytes:
        _, lines, _ = self._pop().top(number, 0)
        return b"\r\n".join(lines) + b"\r\n"

    def delete(self, number: int) -> None:
        """Mark for deletion; it happens at QUIT (commit)."""
        self._pop().dele(number)

    def commit(self) -> None:
        """QUIT: the server now deletes what was marked."""
        if self.pop is not None:
            try:
                self.pop.quit()
            finally:
                self.pop = None

    def abort(self) -> None:
        """Hang up without QUIT: the server deletes nothing (RFC 1939 section 6)."""
        if self.pop is not None:
            try:
                self.pop.close()
            except OSError:
                pass
            self.pop = None

    def _pop(self) -> poplib.POP3:
        if self.pop is None:
            raise MailboxDown("POP3 session to %s is not open" % self.name)
        return self.pop


def error_text(exc: BaseException) -> str:
    """The words of a poplib error (its argument is bytes), as text."""
    arg = exc.args[0] if exc.args else ""
    if isinstance(arg, bytes):
        return arg.decode("utf-8", "replace")
    return str(arg)


def read_one(path: str, limit: int) -> bytes:
    """One message from a file, or from standard input with ``-`` (MTA pipe delivery)."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with Path(path).open("rb") as f:
                data = f.read(limit + 1)
    except OSError as exc:
        raise UsageError("cannot read %s: %s" % (path, exc.strerror or exc)) from None
    return data

"""Mailbox: where replies come from (POP3, or one message from a file or stdin).

POP3 deletes take effect only at QUIT (RFC 1939 section 6): we mark a
message for deletion only after its outcome is committed, and on any failure
close the connection *without* QUIT, so the server deletes nothing and every
message is fetched again next time (and recognised as already handled).
"""

from __future__ import annotations

import logging
import poplib
import socket
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import TemporaryFailure, UsageError
from .safetext import key
from .settings import Settings

log = logging.getLogger(__name__)

# poplib refuses lines longer than 2048 bytes; real mail (HTML without line
# breaks) has them.  RFC 5322 allows 998 octets, real-world senders ignore it.
poplib._MAXLINE = 1 << 20  # type: ignore[attr-defined]


class MailboxDown(TemporaryFailure):
    """The POP3 server cannot be used now (unreachable, TLS, login)."""


class MailboxLoginRefused(MailboxDown):
    """The POP3 server refused the login or password in the settings."""


@dataclass(frozen=True)
class Listed:
    number: int
    size: int
    uidl: str | None


class Pop3Mailbox:
    """One POP3 session: list, retrieve, mark deleted, then QUIT or abort."""

    def __init__(self, settings: Settings, timeout: float = 60.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self.pop: poplib.POP3 | None = None

    @property
    def name(self) -> str:
        return "%s:%d" % (self.settings.replies.pop_host, self.settings.replies.pop_port)

    def open(self) -> None:
        """Connect (TLS, or STLS where offered) and log in; raise MailboxDown saying why."""
        s = self.settings.replies
        context = ssl.create_default_context()
        try:
            if s.replier_pop_ssl:
                self.pop = poplib.POP3_SSL(s.pop_host, s.pop_port, timeout=self.timeout, context=context)
            else:
                self.pop = poplib.POP3(s.pop_host, s.pop_port, timeout=self.timeout)
                if "STLS" in self._capabilities():
                    self.pop.stls(context=context)
                else:
                    log.info("POP3 server %s offers no STLS: the login goes unencrypted", self.name)
            self.pop.user(s.replier_pop_login)
            self.pop.pass_(s.replier_pop_psswd)
        except poplib.error_proto as exc:
            self.abort()
            text = error_text(exc)
            if text == "-ERR EOF":  # poplib's word for a connection closed under it
                raise MailboxDown("POP3 server %s closed the connection during the login" % self.name) from None
            if text.startswith("-ERR") or "auth" in text.lower() or "login" in text.lower():
                raise MailboxLoginRefused(
                    "POP3 server %s refused the login of %r: %s (check OPTS['replier_pop_login'] and "
                    "the password)" % (self.name, s.replier_pop_login, text)) from None
            raise MailboxDown("POP3 server %s: %s" % (self.name, text)) from None
        except ssl.SSLCertVerificationError as exc:
            self.abort()
            raise MailboxDown("POP3 server %s: TLS certificate not valid: %s"
                              % (self.name, exc.verify_message)) from None
        except (OSError, EOFError) as exc:
            self.abort()
            reason = "no answer (timed out)" if isinstance(exc, socket.timeout | TimeoutError) else str(exc)
            raise MailboxDown("cannot connect to POP3 server %s: %s" % (self.name, reason)) from None

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

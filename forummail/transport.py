"""Transport: SMTP connections and the sorting of what servers answer.

Every answer is sorted into one of three outcomes (RFC 5321 section 4.2.1:
the first digit decides):

* ``SENT``: 2xx;
* ``RETRY``: 4xx, a timeout, a dropped connection: try again later;
* ``FAILED``: 5xx: the server's words are kept, no retry.

A server that cannot be used at all (refused connection, TLS or login
failure, a 421 greeting) raises :class:`ServerDown`: the run stops and says
so once, instead of failing every message in turn.
"""

from __future__ import annotations

import enum
import logging
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import TemporaryFailure
from .settings import SmtpServer

if TYPE_CHECKING:
    from .compose import Outgoing

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    detail: str = ""
    server: str = ""


class ServerDown(TemporaryFailure):
    """No configured SMTP server can be used now."""


class LoginRefused(ServerDown):
    """The server refused our AUTH: the login or password in the settings is wrong."""


def _words(code: int | None, text: bytes | str | None) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join((text or "").split())
    return ("%d %s" % (code, text)).strip() if code else text


def _by_code(code: int, text: str) -> Outcome:
    if 200 <= code < 300:
        return Outcome.SENT
    if 400 <= code < 500:
        return Outcome.RETRY
    return Outcome.FAILED


def tls_context(server: SmtpServer) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not server.verify:
        log.warning("TLS certificate checks are off for SMTP server %s (verify: False)", server.name)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def open_connection(server: SmtpServer) -> smtplib.SMTP:
    """Connect, say EHLO, STARTTLS and AUTH as configured; raise ServerDown with the reason."""
    smtp: smtplib.SMTP | None = None
    try:
        if server.ssl:
            smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout,
                                    context=tls_context(server))
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
        smtp.ehlo_or_helo_if_needed()
        if server.tls:
            if not smtp.has_extn("starttls"):
                raise ServerDown(
                    "SMTP server %s does not offer STARTTLS: check the port, or set smtp_tls to False"
                    % server.name
                )
            smtp.starttls(context=tls_context(server))
            smtp.ehlo()
        if server.login:
            smtp.login(server.login, server.password)
        return smtp
    except ServerDown:
        _close(smtp)
        raise
    except smtplib.SMTPAuthenticationError as exc:
        _close(smtp)
        raise LoginRefused(
            "SMTP server %s refused the login of %r: %s (check MAIL_LOGIN and MAIL_PSSWD)"
            % (server.name, server.login, _words(exc.smtp_code, exc.smtp_error))
        ) from None
    except ssl.SSLCertVerificationError as exc:
        _close(smtp)
        raise ServerDown(
            "SMTP server %s: TLS certificate not valid: %s" % (server.name, exc.verify_message)
        ) from None
    except smtplib.SMTPResponseException as exc:
        _close(smtp)
        raise ServerDown(
            "SMTP server %s answered %s" % (server.name, _words(exc.smtp_code, exc.smtp_error))
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        _close(smtp)
        raise ServerDown("cannot connect to SMTP server %s: %s" % (server.name, _reason(exc))) from None


def _rset(smtp: smtplib.SMTP) -> None:
    try:
        smtp.rset()
    except smtplib.SMTPServerDisconnected:
        pass


def utf8_refusal(smtp: smtplib.SMTP, server: str, addresses: Sequence[str]) -> str:
    """Why this server cannot take mail for these addresses; empty when it can.

    A non-ASCII local part may only be given to a server that offers
    SMTPUTF8 in its EHLO (RFC 6531 section 3.4); any other would refuse it,
    or worse, mangle it.  Said before any command of the transaction.
    """
    wide = [a for a in addresses if not a.isascii()]
    if not wide or smtp.has_extn("smtputf8"):
        return ""
    return ("%s has a non-ASCII local part and SMTP server %s does not offer SMTPUTF8 (RFC 6531): "
            "it cannot be sent there" % (", ".join("<%s>" % a for a in wide), server))


def mail_options(smtp: smtplib.SMTP, data: bytes, smtputf8: bool) -> list[str]:
    """The MAIL FROM parameters for ``data``."""
    options = ["size=%d" % len(data)] if smtp.does_esmtp and smtp.has_extn("size") else []
    if smtputf8:
        # RFC 6531 section 3.4: SMTPUTF8 on MAIL FROM for a UTF-8 envelope or
        # header; the headers are 8-bit, hence BODY=8BITMIME (RFC 6152), which
        # a server offering SMTPUTF8 must support (RFC 6531 section 3.1).
        options.append("SMTPUTF8")
        if smtp.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
    return options


def _sendmail(smtp: smtplib.SMTP, sender: str, recipients: Sequence[str], data: bytes,
              before_data: Callable[[], object] | None, smtputf8: bool = False) -> dict[str, tuple[int, bytes]]:
    """``smtplib.SMTP.sendmail`` with a hook between RCPT TO and DATA; same errors."""
    smtp.ehlo_or_helo_if_needed()
    options = mail_options(smtp, data, smtputf8)
    code, answer = smtp.mail(sender, options)
    if code != 250:
        smtp.close() if code == 421 else _rset(smtp)
        raise smtplib.SMTPSenderRefused(code, answer, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for recipient in recipients:
        code, answer = smtp.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, answer)
        if code == 421:
            smtp.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(recipients):
        _rset(smtp)
        raise smtplib.SMTPRecipientsRefused(refused)
    if before_data is not None:
        before_data()
    code, answer = smtp.data(data)
    if code != 250:
        smtp.close() if code == 421 else _rset(smtp)
        raise smtplib.SMTPDataError(code, answer)
    return refused


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer (timed out)"
    return str(exc) or type(exc).__name__


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.close()
    except OSError:
        pass


def send_with_answer(smtp: smtplib.SMTP, sender: str, recipients: Sequence[str],
                     data: bytes, smtputf8: bool = False) -> tuple[int, str]:
    """Send one message; return the server's final answer as (code, its words).

    The final answer is the reply to the end of DATA, which names the queue
    id the server gave the message (``250 2.0.0 Ok: queued as 4Xb2...``):
    ``sendmail()`` throws that text away.  All or nothing: when the server
    refuses MAIL FROM, a recipient, or DATA, that refusal is the answer
    (prefixed with what was refused) and the transaction is reset.  A
    dropped connection raises, as with ``sendmail()``.
    """
    code, text = smtp.mail(sender, mail_options(smtp, data, smtputf8))
    if not 200 <= code < 300:
        _reset(smtp, code)
        return code, "MAIL FROM <%s> refused: %s" % (sender, _words(code, text))
    for recipient in recipients:
        code, text = smtp.rcpt(recipient)
        if not 200 <= code < 300:
            _reset(smtp, code)
            return code, "RCPT TO <%s> refused: %s" % (recipient, _words(code, text))
    try:
        code, text = smtp.data(data)
    except smtplib.SMTPResponseException as exc:  # DATA itself refused (no 354)
        _reset(smtp, exc.smtp_code)
        return exc.smtp_code, "DATA refused: %s" % _words(exc.smtp_code, exc.smtp_error)
    return code, _words(code, text)


def _reset(smtp: smtplib.SMTP, code: int) -> None:
    # After 421 the server closes the channel (RFC 5321 3.8): nothing to reset.
    if code in (421, -1):
        return
    try:
        smtp.rset()
    except (OSError, smtplib.SMTPException):
        pass


class Transport:
    """One SMTP connection, reused for many messages, failing over between servers."""

    def __init__(self, servers: Sequence[SmtpServer]) -> None:
        self.servers = [s for s in servers if s.enabled]
        self.smtp: smtplib.SMTP | None = None
        self.server: SmtpServer | None = None

    def open(self) -> SmtpServer:
        """Connect to the first server that works, or raise ServerDown naming every failure."""
        if self.smtp is not None and self.server is not None:
            return self.server
        problems = []
        for server in self.servers:
            try:
                self.smtp = open_connection(server)
            except ServerDown as exc:
                # INFO, not WARNING: the ServerDown raised below names every
                # failure in one line, said once on stderr.
                log.info("%s", exc)
                problems.append(str(exc))
                continue
            self.server = server
            return server
        raise ServerDown("; ".join(problems) or "no SMTP server is enabled")

    def send(self, out: Outgoing, before_data: Callable[[], object] | None = None) -> Result:
        """Send one message on the open connection (opening it if needed).

        ``before_data`` runs after the recipients are accepted and before the
        message is sent (the sender waits there for the previous outcome).
        """
        server = self.open()
        smtp = self.smtp
        assert smtp is not None
        if out.smtputf8:
            refusal = utf8_refusal(smtp, server.name, [out.sender, *out.recipients])
            if refusal:
                return Result(Outcome.FAILED, refusal, server.name)
        try:
            refused = _sendmail(smtp, out.sender, out.recipients, out.data, before_data, out.smtputf8)
        except smtplib.SMTPRecipientsRefused as exc:
            answers = [_words(code, text) for code, text in exc.recipients.values()]
            temporary = any(400 <= code < 500 for code, _ in exc.recipients.values())
            outcome = Outcome.RETRY if temporary else Outcome.FAILED
            return Result(outcome, "recipient refused: " + "; ".join(answers), server.name)
        except smtplib.SMTPSenderRefused as exc:
            words = _words(exc.smtp_code, exc.smtp_error)
            if 400 <= exc.smtp_code < 500:
                return Result(Outcome.RETRY, "sender refused: " + words, server.name)
            if exc.smtp_code == 552:  # message too big (SIZE): this message only
                return Result(Outcome.FAILED, words, server.name)
            # Any other refusal of MAIL FROM would refuse every message: stop,
            # lose nothing, and name the setting.
            self.drop()
            raise ServerDown(
                "SMTP server %s refuses our sender %s: %s (check MAIL_FROM)"
                % (server.name, out.sender, words)
            ) from None
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code in (421, -1):  # closing the channel: RFC 5321 3.8
                self.drop()
            return Result(_by_code(exc.smtp_code, ""), _words(exc.smtp_code, exc.smtp_error), server.name)
        except (OSError, smtplib.SMTPException) as exc:
            # Dropped or timed out mid-transaction: it may or may not have
            # arrived; it is retried (a rare duplicate beats a lost mail).
            self.drop()
            return Result(Outcome.RETRY, "connection lost: %s" % _reason(exc), server.name)
        if refused:
            log.warning("message %s: some recipients refused: %s", out.job_id,
                        "; ".join("%s %s" % (r, _words(*a)) for r, a in refused.items()))
        return Result(Outcome.SENT, "", server.name)

    def drop(self) -> None:
        """Forget a broken connection; the next send reconnects."""
        _close(self.smtp)
        self.smtp = None
        self.server = None

    def close(self) -> None:
        """QUIT politely; a dead connection is just closed."""
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
        self.drop()

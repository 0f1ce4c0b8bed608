"""Transport: SMTP connections, one transaction function, and what its answers mean.

:func:`transact` runs one transaction and returns an :class:`Answer` (where
it stopped, the code, the server's words, the recipients refused); what an
answer means is decided by the table in :mod:`forummail.reply_codes`, and
nowhere else.  For the sender it comes down to one of three outcomes:

* ``SENT``: the server took the message;
* ``RETRY``: a 4xx, a timeout, a dropped connection: try again later;
* ``FAILED``: a 5xx: the server's words are kept, no retry.

A server that cannot be used at all (refused connection, TLS or login
failure, a 421 greeting, a permanent refusal of our sender) raises
:class:`ServerDown`: the run stops and says so once, instead of failing
every message in turn.
"""

from __future__ import annotations

import enum
import logging
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from . import oauth2
from .errors import TemporaryFailure
from .reply_codes import LOST, Stage, Verdict, classify
from .settings import SmtpServer

# ServerDown, LoginRefused and InsecureSignIn are raised here too: callers import them from here.
from .smtpauth import (  # noqa: F401
    Authenticator,
    InsecureSignIn,
    LoginRefused,
    OAuth2Login,
    ServerDown,
    SignInAgain,
    authenticator,
    said,
)

if TYPE_CHECKING:
    import psycopg

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


@dataclass(frozen=True)
class Answer:
    """What the server said to one transaction, where it stopped."""

    stage: Stage
    code: int  # LOST: no answer, the connection dropped (``text`` says how)
    text: str  # the server's words, on one line
    refused: dict[str, str] = field(default_factory=dict)  # recipient -> the server's words
    closed: bool = False  # the connection cannot serve another transaction

    @property
    def verdict(self) -> Verdict:
        return classify(self.stage, self.code)


def tls_context(server: SmtpServer) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not server.verify:
        log.warning("TLS certificate checks are off for SMTP server %s (verify: False)", server.name)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def open_connection(server: SmtpServer, connect: Callable[[], psycopg.Connection] | None = None,
                    sign_in: Authenticator | None = None) -> smtplib.SMTP:
    """Connect, say EHLO, STARTTLS and AUTH as configured; raise ServerDown with the reason.

    ``connect`` opens a database connection, for the OAuth2 token cache;
    ``sign_in``: the authenticator to use, when the caller wants to read it after.
    """
    sign_in = sign_in or authenticator(server, connect)
    try:
        return _open(server, sign_in)
    except SignInAgain:
        # The server hung up after refusing a token: the new one gets a new connection.
        return _open(server, sign_in)


def _open(server: SmtpServer, sign_in: Authenticator | None) -> smtplib.SMTP:
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
        if sign_in is not None:
            sign_in(smtp)
        return smtp
    except (ServerDown, SignInAgain):
        _close(smtp)
        raise
    except (oauth2.OAuth2Refused, oauth2.OAuth2Unreachable) as exc:
        # No token to sign in with: this server cannot be used now; the
        # message names the OAuth2 setting and what the provider said.
        _close(smtp)
        refused = isinstance(exc, oauth2.OAuth2Refused)  # counted in the metrics by forummail.oauth2
        raise (LoginRefused if refused else ServerDown)("SMTP server %s: %s" % (server.name, exc)) from None
    except TemporaryFailure as exc:  # the database of the token cache
        _close(smtp)
        raise ServerDown("SMTP server %s: no OAuth2 token: %s" % (server.name, exc)) from None
    except smtplib.SMTPAuthenticationError as exc:
        _close(smtp)
        assert sign_in is not None
        kind = "OAuth2 sign-in" if isinstance(sign_in, OAuth2Login) else "login"
        raise LoginRefused(
            "SMTP server %s refused the %s of %r: %s (%s)"
            % (server.name, kind, sign_in.who, said(exc.smtp_code, exc.smtp_error), sign_in.hint)
        ) from None
    except ssl.SSLCertVerificationError as exc:
        _close(smtp)
        raise ServerDown(
            "SMTP server %s: TLS certificate not valid: %s" % (server.name, exc.verify_message)
        ) from None
    except smtplib.SMTPResponseException as exc:
        _close(smtp)
        raise ServerDown(
            "SMTP server %s answered %s" % (server.name, said(exc.smtp_code, exc.smtp_error))
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        _close(smtp)
        raise ServerDown("cannot connect to SMTP server %s: %s" % (server.name, _reason(exc))) from None


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


def transact(smtp: smtplib.SMTP, sender: str, recipients: Sequence[str], data: bytes, smtputf8: bool = False,
             before_data: Callable[[], object] | None = None,
             while_waiting: Callable[[], object] | None = None) -> Answer:
    """One SMTP transaction (MAIL FROM, RCPT TO, DATA) on an open connection; never raises for SMTP.

    Returns where it stopped and what the server said there: the reply to
    the end of the data when the message went (it names the server's queue
    id, ``250 2.0.0 Ok: queued as 4Xb2...``, which ``sendmail()`` throws
    away), else the refusal.  Recipients are all tried; the message goes to
    those accepted, and only when none is does the transaction stop at RCPT.
    ``before_data`` runs once the server said 354 to DATA, before the message
    goes; ``while_waiting`` once the message is on the wire, while the server
    takes it in (the sender renders its next mail there); it must not raise.
    A refused transaction is reset, so the connection serves the next one;
    ``Answer.closed`` says when it cannot.  Only ``before_data`` may raise
    (the connection is then dropped: the server discards the transaction).

    Where the server offers PIPELINING, MAIL FROM, every RCPT TO and DATA
    go in one write and their replies are read in order (RFC 2920): one
    round trip instead of two plus one per recipient.
    """
    stage = Stage.MAIL
    try:
        smtp.ehlo_or_helo_if_needed()
        options = mail_options(smtp, data, smtputf8)
        pipelined = not smtputf8 and smtp.does_esmtp and smtp.has_extn("pipelining")
        if pipelined:
            smtp.send("".join("%s\r\n" % c for c in (_mail_command(sender, options),
                                                      *("RCPT TO:<%s>" % r for r in recipients), "DATA")))
            code, text = smtp.getreply()
        else:
            code, text = _mail(smtp, sender, options)
        verdict = classify(stage, code)
        if verdict is not Verdict.ACCEPTED:
            if pipelined and verdict is not Verdict.CLOSING:
                _end_group(smtp, len(recipients))
            return _refused(smtp, Answer(stage, code, said(code, text)))
        stage = Stage.RCPT
        refused: dict[str, tuple[int, str]] = {}
        for recipient in recipients:
            code, text = smtp.getreply() if pipelined else _rcpt(smtp, recipient)
            verdict = classify(stage, code)
            if verdict is not Verdict.ACCEPTED:
                refused[recipient] = (code, said(code, text))
            if verdict is Verdict.CLOSING:
                # The server hangs up (RFC 5321 section 3.8): that is the answer.
                return _refused(smtp, Answer(stage, code, refused[recipient][1], _texts(refused)))
        if refused and len(refused) == len(recipients):
            if pipelined:
                _end_group(smtp, 0)
            # The transaction's answer: a refusal that lets us try again, if there is one.
            code, words = next((a for a in refused.values() if classify(stage, a[0]).retry),
                               next(iter(refused.values())))
            return _refused(smtp, Answer(stage, code, words, _texts(refused)))
        stage = Stage.DATA
        if not pipelined:
            smtp.putcmd("data")
        code, text = smtp.getreply()
        if code != 354:
            return _refused(smtp, Answer(stage, code, said(code, text), _texts(refused)))
        if before_data is not None:
            try:
                before_data()
            except BaseException:
                _close(smtp)  # mid-DATA: hanging up is the one way to abort the transaction
                raise
        code, text = _message(smtp, data, while_waiting)
        answer = Answer(Stage.MESSAGE, code, said(code, text), _texts(refused))
        return answer if answer.verdict is Verdict.ACCEPTED else _refused(smtp, answer)
    except (OSError, smtplib.SMTPException) as exc:
        # Dropped or timed out mid-transaction: after the data, it may or may
        # not have arrived.  The caller retries (a rare duplicate beats a lost mail).
        _close(smtp)
        return Answer(stage, LOST, _reason(exc), closed=True)


def _end_group(smtp: smtplib.SMTP, rcpt_replies: int) -> None:
    """Read the rest of a refused pipelined group, ending the DATA it may have opened.

    RFC 2920 section 3.1: the client must check every reply; if DATA was
    accepted even so, a lone dot closes it (the server then refuses the
    empty message for want of recipients).
    """
    try:
        for _ in range(rcpt_replies):
            smtp.getreply()
        code, _ = smtp.getreply()
        if code == 354:
            smtp.send(b".\r\n")
            smtp.getreply()
    except (OSError, smtplib.SMTPException):
        _close(smtp)  # the refusal stands; the connection is not worth saving


# smtplib's mail(), rcpt() and data() are used only where they do more than
# put the command on the wire: their address quoting parses every address
# again (email.utils.parseaddr, some 30 µs each) and their dot-stuffing is a
# multi-line regex over the whole message (some 50 µs for 4 KB).  Our
# addresses were checked when the mail was composed (bare addr-specs, no line
# breaks), and the composer writes CRLF line ends, so the plain forms below
# say the same on the wire.


def _mail_command(sender: str, options: Sequence[str]) -> str:
    return "MAIL FROM:<%s>%s" % (sender, "".join(" " + o for o in options))


def _mail(smtp: smtplib.SMTP, sender: str, options: Sequence[str]) -> tuple[int, bytes]:
    if "SMTPUTF8" in options:
        return smtp.mail(sender, options)  # it also switches the command encoding to UTF-8
    smtp.send(_mail_command(sender, options) + "\r\n")
    return smtp.getreply()


def _rcpt(smtp: smtplib.SMTP, recipient: str) -> tuple[int, bytes]:
    if not recipient.isascii():
        return smtp.rcpt(recipient)
    smtp.send("RCPT TO:<%s>\r\n" % recipient)
    return smtp.getreply()


def _message(smtp: smtplib.SMTP, data: bytes, while_waiting: Callable[[], object] | None) -> tuple[int, bytes]:
    """The message after a 354: dot-stuffed (RFC 5321 section 4.5.2), then the lone dot."""
    wire = data.replace(b"\n.", b"\n..")
    if wire.startswith(b"."):
        wire = b"." + wire
    if not wire.endswith(b"\r\n"):
        wire += b"\r\n"
    smtp.send(wire + b".\r\n")
    if while_waiting is not None:
        while_waiting()
    return smtp.getreply()


def _texts(refused: dict[str, tuple[int, str]]) -> dict[str, str]:
    return {recipient: words for recipient, (_, words) in refused.items()}


def _refused(smtp: smtplib.SMTP, answer: Answer) -> Answer:
    """End a refused transaction so the connection can serve the next one."""
    if answer.verdict is Verdict.CLOSING:
        # 421: the server closes the channel (RFC 5321 section 3.8): nothing to reset.
        _close(smtp)
        return replace(answer, closed=True)
    try:
        smtp.rset()
    except (OSError, smtplib.SMTPException):
        _close(smtp)
        return replace(answer, closed=True)
    return answer


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


def describe(answer: Answer) -> str:
    """The words kept in ``last_error`` for a refused or lost transaction."""
    if answer.code == LOST:
        return "connection lost: %s" % answer.text
    if answer.stage is Stage.RCPT:
        return "recipient refused: " + "; ".join(answer.refused.values())
    if answer.stage is Stage.MAIL and answer.verdict is not Verdict.TOO_BIG:
        return "sender refused: " + answer.text
    return answer.text


class Transport:
    """One SMTP connection, reused for many messages, failing over between servers."""

    def __init__(self, servers: Sequence[SmtpServer],
                 connect: Callable[[], psycopg.Connection] | None = None) -> None:
        self.servers = [s for s in servers if s.enabled]
        self.connect = connect  # a database connection for the OAuth2 token cache
        self.smtp: smtplib.SMTP | None = None
        self.server: SmtpServer | None = None

    def open(self) -> SmtpServer:
        """Connect to the first server that works, or raise ServerDown naming every failure."""
        if self.smtp is not None and self.server is not None:
            return self.server
        problems = []
        for server in self.servers:
            try:
                self.smtp = open_connection(server, self.connect)
            except ServerDown as exc:
                # INFO, not WARNING: the ServerDown raised below names every
                # failure in one line, said once on stderr.
                log.info("%s", exc)
                problems.append(str(exc))
                continue
            self.server = server
            return server
        raise ServerDown("; ".join(problems) or "no SMTP server is enabled")

    def send(self, out: Outgoing, before_data: Callable[[], object] | None = None,
             while_waiting: Callable[[], object] | None = None) -> Result:
        """Send one message on the open connection (opening it if needed).

        ``before_data`` runs once the server said 354 to DATA, before the
        message goes (the sender waits there for the previous outcome);
        ``while_waiting`` while the server takes the message in (see transact).
        """
        server = self.open()
        smtp = self.smtp
        assert smtp is not None
        if out.smtputf8:
            refusal = utf8_refusal(smtp, server.name, [out.sender, *out.recipients])
            if refusal:
                return Result(Outcome.FAILED, refusal, server.name)
        answer = transact(smtp, out.sender, out.recipients, out.data, out.smtputf8, before_data, while_waiting)
        if answer.closed:
            self.drop()
        verdict = answer.verdict
        if verdict is Verdict.ACCEPTED:
            if answer.refused:
                log.warning("message %s: some recipients refused: %s", out.job_id,
                            "; ".join("%s %s" % item for item in answer.refused.items()))
            return Result(Outcome.SENT, "", server.name)
        if verdict is Verdict.SERVER_DOWN:
            self.drop()
            raise ServerDown("SMTP server %s refuses our sender %s: %s (check MAIL_FROM)"
                             % (server.name, out.sender, answer.text))
        return Result(Outcome.RETRY if verdict.retry else Outcome.FAILED, describe(answer), server.name)

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

"""What an SMTP reply code means for our mail: one table, read by every sender.

The sender of notifications, the alerts to MAIL_ADMIN and ``manage.py
test-email`` all ask :func:`classify` what a server's answer means; nothing
else sorts reply codes.  The first digit decides (RFC 5321 section 4.2.1:
2 done, 4 try again later, 5 never), except where a stage gives a code a
meaning of its own: those exceptions are the table below, each with its
reason.
"""

from __future__ import annotations

import enum


class Stage(enum.Enum):
    """Where in the SMTP session a reply came."""

    CONNECT = "connect"  # the greeting, EHLO, STARTTLS
    AUTH = "auth"
    MAIL = "MAIL FROM"
    RCPT = "RCPT TO"
    DATA = "DATA"  # the DATA command itself, before any of the message is sent
    MESSAGE = "message"  # the reply to the end of the data: the final answer


class Verdict(enum.Enum):
    """What a reply means for the message being sent, and for the connection."""

    ACCEPTED = "accepted"  # go on; after the data: sent
    RETRY = "retry"  # this message, later
    CLOSING = "closing"  # this message later; the server has closed the channel
    FAILED = "failed"  # this message, never: the server's words are kept
    TOO_BIG = "too big"  # this message, never: too big for this server; the others go on
    SERVER_DOWN = "server down"  # no message can go through this server now: stop, say it once

    @property
    def retry(self) -> bool:
        return self in (Verdict.RETRY, Verdict.CLOSING)

    @property
    def failed(self) -> bool:
        return self in (Verdict.FAILED, Verdict.TOO_BIG)


LOST = -1  # no reply at all: the connection dropped or timed out

# (stage, code) -> verdict, where the first digit alone would be wrong.
_EXCEPTIONS: dict[tuple[Stage, int], Verdict] = {
    # RFC 1870 section 6.1: 552 to MAIL FROM means the SIZE we declared is
    # over the server's fixed limit: this message can never go, the next can.
    (Stage.MAIL, 552): Verdict.TOO_BIG,
    # RFC 5321 section 4.5.3.1.10: RFC 821 listed 552 for "too many
    # recipients"; clients SHOULD treat 552 to RCPT TO as temporary.
    (Stage.RCPT, 552): Verdict.RETRY,
    # RFC 1870 section 6.2-6.3 and RFC 5321 section 4.2.3: 552 after the
    # data, "exceeded storage allocation": too big for this server.
    (Stage.DATA, 552): Verdict.TOO_BIG,
    (Stage.MESSAGE, 552): Verdict.TOO_BIG,
}


def classify(stage: Stage, code: int) -> Verdict:
    """What ``code``, answered at ``stage``, means (``LOST``: no answer came)."""
    if code == LOST or code == 421:
        # RFC 5321 section 3.8: 421 "service not available, closing
        # transmission channel" may come at any stage; the server hangs up.
        return Verdict.SERVER_DOWN if stage in (Stage.CONNECT, Stage.AUTH) else Verdict.CLOSING
    exception = _EXCEPTIONS.get((stage, code))
    if exception is not None:
        return exception
    if stage in (Stage.CONNECT, Stage.AUTH):
        # Nothing can be sent without a session: whatever the code, the
        # server is no use to this run (the caller says why, once).
        return Verdict.ACCEPTED if 200 <= code < 400 else Verdict.SERVER_DOWN
    if 200 <= code < 300 or (stage is Stage.DATA and code == 354):
        # 354 is "start mail input" (RFC 5321 section 4.3.2): go on.
        return Verdict.ACCEPTED
    if 400 <= code < 500:
        return Verdict.RETRY
    if stage is Stage.MAIL:
        # A permanent refusal of our sender would refuse every message in
        # turn: stop, lose nothing, and name the setting (MAIL_FROM).
        return Verdict.SERVER_DOWN
    return Verdict.FAILED


# --- sign-in refusals (AUTH), for OAuth2 ---------------------------------

# RFC 4954 section 6: 535 5.7.8 "authentication credentials invalid".
# Providers add their own enhanced codes; each says what to fix.
_SIGN_IN_MEANINGS: dict[str, str] = {
    "5.7.3": "the token was not accepted; Microsoft 365: does the app have SMTP.SendAsApp, and its service "
             "principal a permission on the mailbox?",
    "5.7.139": "SMTP AUTH is disabled for this mailbox or tenant; Microsoft 365: "
               "Set-CASMailbox -SmtpClientAuthenticationDisabled $false, and security defaults off",
    "5.7.30": "password sign-in is not supported: use OAuth2",
    "5.7.8": "the credentials are not valid",
}


def token_refused(code: int) -> bool:
    """Does this answer to AUTH mean the server refused our credential (a new token may help)?

    535 is "authentication credentials invalid" (RFC 4954 section 6);
    Exchange Online also refuses with 550 5.7.30 where a mechanism is not
    allowed, which a new token does not fix but reads the same to the user.
    """
    return code in (535, 550)


def sign_in_meaning(text: str) -> str:
    """What the enhanced code in a refusal of AUTH means, or empty when we know no more than its words."""
    for word in text.split()[:2]:
        meaning = _SIGN_IN_MEANINGS.get(word)
        if meaning:
            return meaning
    return ""

"""Delivery reports and complaints built as common mail systems write them (no copied samples).

Each builder takes the notification as our SMTP server received it (its
bytes) and returns the report's bytes, addressed the way the report comes
home: to our tagged envelope sender (``to``), or to MAIL_FROM's address
where the relay rewrote the envelope sender (Gmail, Microsoft 365).
Shapes follow RFC 3464 (DSN), RFC 5965 (ARF) and the plain-text formats of
Exim and qmail (QSBMF); the wording of the human-readable parts imitates
each system's, which our parser must not depend on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid


def _head(fields: list[tuple[str, str]]) -> str:
    return "".join("%s: %s\n" % kv for kv in fields)


def _headers_of(original: bytes) -> str:
    return original.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace") + "\n"


def _multipart_report(report_type: str, top: list[tuple[str, str]], parts: list[tuple[str, str]]) -> bytes:
    boundary = "=_report_%s" % make_msgid().strip("<>").split("@")[0].replace(".", "_")
    head = top + [("MIME-Version", "1.0"),
                  ("Content-Type", 'multipart/report; report-type=%s; boundary="%s"' % (report_type, boundary))]
    body = "This is a MIME-encapsulated message.\n\n"
    for content_type, text in parts:
        body += "--%s\nContent-Type: %s\n\n%s\n" % (boundary, content_type, text.rstrip("\n"))
    body += "--%s--\n" % boundary
    return (_head(head) + "\n" + body).encode()


def _common(sender: str, to: str, subject: str, extra: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    return [("Return-Path", "<>"), ("Delivered-To", to), ("From", sender), ("To", to), ("Subject", subject),
            ("Date", format_datetime(datetime.now(UTC))), ("Message-ID", make_msgid(domain="mx.report.test")),
            *(extra or [])]


def postfix(original: bytes, to: str, recipient: str, *, action: str = "failed", status: str = "5.1.1",
            diagnostic: str = "smtp; 550 5.1.1 <{r}>: Recipient address rejected: User unknown") -> bytes:
    """Postfix's bounce (or delay notice: action='delayed', status 4.x.x, headers only)."""
    delayed = action == "delayed"
    subject = "Delayed Mail (still being retried)" if delayed else "Undelivered Mail Returned to Sender"
    human = ("This is the mail system at host mx.example.net.\n\n"
             + ("####################################################################\n"
                "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
                "####################################################################\n" if delayed else
                "I'm sorry to have to inform you that your message could not\nbe delivered to one or more "
                "recipients.\n")
             + "\n<%s>: host mx.example.net said: %s\n" % (recipient, diagnostic.format(r=recipient)))
    status_part = _head([("Reporting-MTA", "dns; mx.example.net"), ("X-Postfix-Queue-ID", "4XbQ2m1kZPz9sWN"),
                         ("X-Postfix-Sender", "rfc822; noreply@forum.test"),
                         ("Arrival-Date", "Sat, 21 Nov 2026 09:14:02 +0100 (CET)")]) + "\n" + _head([
        ("Final-Recipient", "rfc822; %s" % recipient), ("Original-Recipient", "rfc822;%s" % recipient),
        ("Action", action), ("Status", status), ("Remote-MTA", "dns; mx.example.net"),
        ("Diagnostic-Code", diagnostic.format(r=recipient))])
    returned = ("text/rfc822-headers", _headers_of(original)) if delayed else \
        ("message/rfc822", original.decode("utf-8", "replace"))
    return _multipart_report("delivery-status", _common(
        "MAILER-DAEMON@mx.example.net (Mail Delivery System)", to, subject,
        [("Auto-Submitted", "auto-replied")]), [
        ("text/plain; charset=us-ascii", human), ("message/delivery-status", status_part), returned])


def exim(original: bytes, to: str, recipient: str, *, detail: str = "550 5.1.1 <{r}>: User unknown") -> bytes:
    """Exim's classic plain-text bounce (before its DSN format, still common)."""
    body = ("This message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered to one or more of its\n"
            "recipients. This is a permanent error. The following address(es) failed:\n\n"
            "  %s\n    host mx.example.org [192.0.2.25]\n"
            "    SMTP error from remote mail server after RCPT TO:<%s>:\n    %s\n\n"
            "------ This is a copy of the message, including all the headers. ------\n\n"
            % (recipient, recipient, detail.format(r=recipient))) + original.decode("utf-8", "replace")
    head = _common("Mail Delivery System <Mailer-Daemon@mail.example.org>", to,
                   "Mail delivery failed: returning message to sender",
                   [("X-Failed-Recipients", recipient), ("Auto-Submitted", "auto-replied"),
                    ("Content-Type", "text/plain; charset=us-ascii")])
    return (_head(head) + "\n" + body).encode()


def qmail(original: bytes, to: str, recipient: str) -> bytes:
    """qmail's QSBMF bounce."""
    body = ("Hi. This is the qmail-send program at mail.example.com.\n"
            "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
            "<%s>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
            "--- Below this line is a copy of the message.\n\n" % recipient) + original.decode("utf-8", "replace")
    return (_head(_common("MAILER-DAEMON@mail.example.com", to, "failure notice")) + "\n" + body).encode()


def exchange(original: bytes, to: str, recipient: str, *, status: str = "5.1.10") -> bytes:
    """Exchange Online / Microsoft 365's NDR: a DSN with the original's headers only."""
    human = ("Your message to %s couldn't be delivered.\n%s wasn't found at example.com.\n\n"
             "Action Required                 Recipient\nUnknown To address\n" % (recipient, recipient.split("@")[0]))
    status_part = _head([("Reporting-MTA", "dns;AM0PR10MB2345.EURPRD10.PROD.OUTLOOK.COM"),
                         ("Received-From-MTA", "dns;AM0PR10MB1111.EURPRD10.PROD.OUTLOOK.COM"),
                         ("Arrival-Date", "Sat, 21 Nov 2026 08:14:05 +0000")]) + "\n" + _head([
        ("Final-Recipient", "rfc822;%s" % recipient), ("Action", "failed"), ("Status", status),
        ("Diagnostic-Code", "smtp;550 %s RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP "
                            "address lookup" % status)])
    return _multipart_report("delivery-status", _common(
        "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@forum.onmicrosoft.com>", to,
        "Undeliverable: notification", [("X-MS-Exchange-Message-Is-Ndr", ""), ("Content-Language", "en-US"),
                                        ("Auto-Submitted", "auto-replied")]), [
        ("text/plain; charset=us-ascii", human), ("message/delivery-status", status_part),
        ("text/rfc822-headers", _headers_of(original))])


def gmail(original: bytes, to: str, recipient: str) -> bytes:
    """Gmail's DSN, to MAIL_FROM's address (Gmail's relay rewrites the envelope sender)."""
    msgid = ""
    for line in _headers_of(original).splitlines():
        if line.lower().startswith("message-id:"):
            msgid = line.split(":", 1)[1].strip()
    human = ("** Address not found **\n\nYour message wasn't delivered to %s because the address couldn't be "
             "found, or is unable to receive mail.\n" % recipient)
    status_part = _head([("Reporting-MTA", "dns; googlemail.com"),
                         ("Received-From-MTA", "dns; noreply@forum.test"),
                         ("Arrival-Date", "Sat, 21 Nov 2026 00:14:05 -0800 (PST)"),
                         ("X-Original-Message-ID", msgid)]) + "\n" + _head([
        ("Final-Recipient", "rfc822; %s" % recipient), ("Action", "failed"), ("Status", "5.1.1"),
        ("Remote-MTA", "dns; mx.example.com. (192.0.2.40, the server for the domain example.com.)"),
        ("Diagnostic-Code", "smtp; 550-5.1.1 The email account that you tried to reach does not exist."),
        ("Last-Attempt-Date", "Sat, 21 Nov 2026 00:14:06 -0800 (PST)")])
    return _multipart_report("delivery-status", _common(
        "Mail Delivery Subsystem <mailer-daemon@googlemail.com>", to, "Delivery Status Notification (Failure)",
        [("X-Failed-Recipients", recipient), ("Auto-Submitted", "auto-replied")]), [
        ("text/plain; charset=UTF-8", human), ("message/delivery-status", status_part),
        ("message/rfc822", original.decode("utf-8", "replace"))])


def arf(original: bytes, to: str, recipient: str | None, *, user_agent: str = "Yahoo!-Mail-Feedback/2.0") -> bytes:
    """An ARF complaint (RFC 5965); recipient=None: redacted, as Microsoft's JMRP sends it."""
    fields = [("Feedback-Type", "abuse"), ("User-Agent", user_agent), ("Version", "1"),
              ("Original-Mail-From", "<noreply@forum.test>")]
    if recipient:
        fields.append(("Original-Rcpt-To", "<%s>" % recipient))
    fields.append(("Arrival-Date", "Sat, 21 Nov 2026 09:14:05 +0000"))
    return _multipart_report("feedback-report", _common("Feedback Loop <feedback@arf.mail.example.com>", to,
                                                        "FW: notification"), [
        ("text/plain", "This is an email abuse report for an email message received on Sat, 21 Nov 2026.\n"),
        ("message/feedback-report", _head(fields)), ("message/rfc822", original.decode("utf-8", "replace"))])

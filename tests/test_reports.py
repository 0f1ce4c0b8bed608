"""Reading reports: each builder's format gives the recipient, its fate and the original's Message-ID."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from forummail import reports
from forummail.parse import parse_headers
from tests import reportmail

MSGID = "<tok.n7.abcd1234@forum.test>"
TO = "replies+bounces-7.aaaaaaaaaaaaaaaa@forum.test"


def read(raw: bytes) -> reports.Report | None:
    """As the intake calls it: the header read first, then the report."""
    mail = parse_headers(raw)
    return reports.read(raw, reports.from_mail_system(mail)) if reports.candidate(mail) else None


def original() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann Author <noreply@forum.test>"
    msg["To"] = "Bob <bob@example.com>"
    msg["Subject"] = "[#42] Render farm"
    msg["Message-ID"] = MSGID
    msg.set_content("Can someone rack the new nodes?\n")
    return msg.as_bytes()


@pytest.mark.parametrize("build, fmt, status", [
    (reportmail.postfix, "rfc3464", "5.1.1"),
    (reportmail.exchange, "rfc3464", "5.1.10"),
    (reportmail.gmail, "rfc3464", "5.1.1"),
    (reportmail.exim, "exim", "5.1.1"),
    (reportmail.qmail, "qmail", "5.1.1"),
])
def test_hard_bounces(build, fmt: str, status: str) -> None:  # type: ignore[no-untyped-def]
    report = read(build(original(), TO, "bob@example.com"))
    assert report is not None and (report.kind, report.format) == ("delivery", fmt)
    assert report.message_ids == [MSGID]
    [r] = report.recipients
    assert (r.address, r.status, r.permanent, r.temporary) == ("bob@example.com", status, True, False)


def test_postfix_delay_is_temporary() -> None:
    report = read(reportmail.postfix(original(), TO, "bob@example.com", action="delayed", status="4.4.1",
                                             diagnostic="smtp; 451 4.4.1 mailbox busy"))
    assert report is not None and report.message_ids == [MSGID]
    [r] = report.recipients
    assert (r.action, r.permanent, r.temporary, r.undelivered) == ("delayed", False, True, False)


def test_expired_in_queue_is_undelivered_but_not_permanent() -> None:
    report = read(reportmail.postfix(original(), TO, "bob@example.com", status="4.4.7",
                                             diagnostic="smtp; 451 4.4.7 delivery time expired"))
    assert report is not None
    [r] = report.recipients
    assert (r.undelivered, r.permanent, r.temporary) == (True, False, True)


@pytest.mark.parametrize("recipient", ["bob@example.com", None])
def test_arf_complaint(recipient: str | None) -> None:
    report = read(reportmail.arf(original(), "noreply@forum.test", recipient))
    assert report is not None and (report.kind, report.feedback_type) == ("complaint", "abuse")
    assert report.message_ids == [MSGID]
    assert [r.address for r in report.recipients] == ([recipient] if recipient else [])


def test_a_person_is_no_report_even_with_a_bounce_like_text() -> None:
    # The Exim wording and header, but from a person: a reply, not a bounce.
    raw = reportmail.exim(original(), TO, "bob@example.com").replace(
        b"From: Mail Delivery System <Mailer-Daemon@mail.example.org>", b"From: Bob <bob@example.com>").replace(
        b"Return-Path: <>\n", b"")
    assert read(raw) is None


def test_a_report_forwarded_inside_a_reply_is_no_report() -> None:
    bounce = reportmail.postfix(original(), TO, "cat@example.com")
    reply = EmailMessage()
    reply["From"] = "bob@example.com"
    reply["To"] = "replies+x@forum.test"
    reply["Subject"] = "Re: look at this bounce"
    reply.set_content("Cat's address bounces, see below.\n")
    reply.add_attachment(bounce, maintype="message", subtype="rfc822")
    assert read(reply.as_bytes()) is None


def test_read_receipts_are_not_delivery_reports() -> None:
    raw = reportmail.postfix(original(), TO, "bob@example.com").replace(
        b"report-type=delivery-status", b"report-type=disposition-notification")
    assert read(raw) is None

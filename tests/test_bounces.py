"""After the server said 250: delivery reports, complaints and unsubscribes, end to end.

Reports are built as Postfix, Exim, qmail, Exchange/Microsoft 365 and Gmail
write them (tests/reportmail.py), delivered into the real Dovecot mailbox
and read by fetch_replies.py; the sender's next run must honour what they did.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from forummail import tags
from tests import reportmail
from tests.conftest import REPLY_SECRET, Env, Forum
from tests.servers import DovecotServer, Received
from tests.test_replies import configure, fetch_run, gmail_reply, notification_for


@pytest.fixture
def renv(env: Env, pop: DovecotServer) -> Env:
    configure(env, pop)
    return env


@pytest.fixture
def sent(renv: Env, forum: Forum, small_forum: dict[str, int]) -> dict[str, int]:
    """Ann posted; Bob and Cat got their notifications (each with its own bounce tag)."""
    forum.post(small_forum["task"], small_forum["ann"], "Can someone rack the new nodes on Thursday?")
    assert renv.run("send_notifications.py").returncode == 0
    return small_forum


def received(env: Env, address: str) -> Received:
    for m in env.smtp.messages:
        if address in m.recipients:
            return m
    raise AssertionError("no notification to %s" % address)


def rows(forum: Forum, recipient: str) -> list[tuple[str, str | None]]:
    return [(r[0], r[1]) for r in forum.conn.execute(
        "SELECT status, last_error FROM notifications WHERE recipient = %s AND kind = 'message' ORDER BY id",
        (recipient,))]


def suppressions(forum: Forum) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in forum.conn.execute("SELECT address, kind FROM suppressions ORDER BY address")]


def records(forum: Forum) -> list[tuple[str, str | None, str]]:
    return [(r[0], r[1], r[2]) for r in forum.conn.execute(
        "SELECT status, report, reason FROM inbound_emails ORDER BY id")]


def nothing_answered_or_posted(forum: Forum, pop: DovecotServer) -> None:
    assert forum.conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1  # type: ignore[index]
    queued = forum.conn.execute("SELECT kind FROM notifications WHERE status = 'pending'"
                                " AND kind NOT IN ('admin-alert')").fetchall()
    assert queued == []
    assert pop.count() == 0


def post_again(env: Env, forum: Forum, sent: dict[str, int]) -> None:
    env.smtp.received.clear()
    forum.post(sent["task"], sent["ann"], "Thursday it is.")
    assert env.run("send_notifications.py").returncode == 0


@pytest.mark.parametrize("build", [reportmail.postfix, reportmail.exim, reportmail.qmail, reportmail.exchange])
def test_hard_bounce_by_tag_suppresses_until_cleared(renv: Env, pop: DovecotServer, forum: Forum,
                                                     sent: dict[str, int], build: Any) -> None:
    bob = received(renv, "bob@example.com")
    assert tags.bounce_notification("replies@forum.test", [REPLY_SECRET], [bob.sender]) is not None
    pop.deliver(build(bob.data, bob.sender, "bob@example.com"))
    result = fetch_run(renv)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    [(status, error)] = rows(forum, "bob@example.com")
    assert status == "bounced" and "5.1.1" in (error or "")  # the diagnostic kept (5.1.1 or 5.1.10)
    assert rows(forum, "cat@example.com")[0][0] == "sent"
    assert suppressions(forum) == [("bob@example.com", "bounce")]
    [(inbound_status, report, reason)] = records(forum)
    assert (inbound_status, report) == ("ignored", "bounce") and "bob@example.com suppressed" in reason
    nothing_answered_or_posted(forum, pop)

    post_again(renv, forum, sent)
    assert rows(forum, "bob@example.com")[1][0] == "cancelled"
    assert "the address bob@example.com is suppressed (bounce:" in (rows(forum, "bob@example.com")[1][1] or "")
    assert [m.recipients for m in renv.smtp.messages] == [["cat@example.com"]]

    listing = renv.run("manage.py", "suppressions")
    assert listing.returncode == 0 and "bob@example.com" in listing.stdout and "bounce" in listing.stdout
    cleared = renv.run("manage.py", "suppressions", "--clear", "Bob@Example.com")
    assert cleared.returncode == 0 and "no longer suppressed" in cleared.stdout
    again = renv.run("manage.py", "suppressions", "--clear", "bob@example.com")
    assert again.returncode == 1 and "is not suppressed" in again.stderr
    post_again(renv, forum, sent)
    assert sorted(r for m in renv.smtp.messages for r in m.recipients) == ["bob@example.com", "cat@example.com"]


def test_gmail_rewrote_the_envelope_matched_by_message_id(renv: Env, pop: DovecotServer, forum: Forum,
                                                          sent: dict[str, int]) -> None:
    bob = received(renv, "bob@example.com")
    # The relay rewrote MAIL FROM: the report comes to MAIL_FROM's address, routed to the reply mailbox.
    pop.deliver(reportmail.gmail(bob.data, "noreply@forum.test", "bob@example.com"))
    assert fetch_run(renv).returncode == 0
    assert rows(forum, "bob@example.com")[0][0] == "bounced"
    assert suppressions(forum) == [("bob@example.com", "bounce")]
    nothing_answered_or_posted(forum, pop)


def test_complaints_suppress(renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    bob, cat = received(renv, "bob@example.com"), received(renv, "cat@example.com")
    pop.deliver(reportmail.arf(bob.data, "noreply@forum.test", "bob@example.com"))
    pop.deliver(reportmail.arf(cat.data, "noreply@forum.test", None))  # redacted, as Microsoft's JMRP
    assert fetch_run(renv).returncode == 0
    assert suppressions(forum) == [("bob@example.com", "complaint"), ("cat@example.com", "complaint")]
    assert [r[1] for r in records(forum)] == ["complaint", "complaint"]
    nothing_answered_or_posted(forum, pop)
    # MAIL_ADMIN hears of both in one summary (sent straight through SMTP), and they are marked told.
    alerts = [m for m in renv.smtp.messages if m.recipients == ["admin@forum.test"]]
    assert len(alerts) == 1 and b"2 address(es) suppressed" in alerts[0].data
    assert b"bob@example.com" in alerts[0].data and b"cat@example.com" in alerts[0].data
    assert forum.conn.execute("SELECT bool_and(alerted) FROM suppressions").fetchone()[0] is True  # type: ignore[index]


def test_soft_bounces_alone_suppress_only_when_repeated_over_days(
        renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    bob = received(renv, "bob@example.com")
    for _ in range(6):
        pop.deliver(reportmail.postfix(bob.data, bob.sender, "bob@example.com", action="delayed",
                                       status="4.2.2", diagnostic="smtp; 452 4.2.2 mailbox full {r}"))
    assert fetch_run(renv).returncode == 0
    # Six in an hour: a full mailbox for a day, not a dead address.
    assert suppressions(forum) == []
    assert rows(forum, "bob@example.com")[0][0] == "sent"
    assert {r[1] for r in records(forum)} == {"delay"}
    nothing_answered_or_posted(forum, pop)
    forum.conn.execute("UPDATE soft_bounces SET reported_at = reported_at - interval '4 days'"
                       " WHERE id = (SELECT min(id) FROM soft_bounces)")
    pop.deliver(reportmail.postfix(bob.data, bob.sender, "bob@example.com", action="delayed",
                                   status="4.2.2", diagnostic="smtp; 452 4.2.2 mailbox full"))
    assert fetch_run(renv).returncode == 0
    assert suppressions(forum) == [("bob@example.com", "soft-bounces")]


# --- hostile reports: none suppresses anything, each says why -----------------

def test_report_quoting_a_message_id_not_ours(renv: Env, pop: DovecotServer, forum: Forum,
                                              sent: dict[str, int]) -> None:
    bob = received(renv, "bob@example.com")
    fake = bob.data.replace(b"Message-ID: <", b"Message-ID: <not-ours.")
    pop.deliver(reportmail.postfix(fake, "noreply@forum.test", "bob@example.com"))
    assert fetch_run(renv).returncode == 0
    assert suppressions(forum) == [] and rows(forum, "bob@example.com")[0][0] == "sent"
    [(status, report, reason)] = records(forum)
    assert (status, report) == ("ignored", "bounce") and "matches no notification of ours" in reason
    nothing_answered_or_posted(forum, pop)


def test_forged_report_cannot_suppress_someone_else(renv: Env, pop: DovecotServer, forum: Forum,
                                                    sent: dict[str, int]) -> None:
    cat = received(renv, "cat@example.com")
    bob = received(renv, "bob@example.com")
    # Cat holds her own notification (its Message-ID, its tag) and names Bob.
    pop.deliver(reportmail.postfix(cat.data, cat.sender, "bob@example.com"))
    # Or guesses a tag for Bob's row.
    bob_id = tags.bounce_notification("replies@forum.test", [REPLY_SECRET], [bob.sender])
    guessed = "replies+bounces-%x.%s@forum.test" % (bob_id, "a" * 16)
    pop.deliver(reportmail.postfix(b"Subject: x\n\nx\n", guessed, "bob@example.com"))
    assert fetch_run(renv).returncode == 0
    assert suppressions(forum) == []
    assert [r[0] for r in rows(forum, "bob@example.com")] == ["sent"]
    assert [r[0] for r in rows(forum, "cat@example.com")] == ["sent"]
    first, second = records(forum)
    assert "names bob@example.com, to whom notification" in first[2] and "was not sent" in first[2]
    assert "matches no notification of ours" in second[2]
    nothing_answered_or_posted(forum, pop)


def test_report_inside_a_reply_is_a_reply(renv: Env, pop: DovecotServer, forum: Forum,
                                          sent: dict[str, int]) -> None:
    original = notification_for(renv, "bob@example.com")
    cat = received(renv, "cat@example.com")
    raw = gmail_reply(original, "Bob Builder <bob@example.com>", "Cat's address bounces, see attached.", html=False)
    reply = message_from_bytes(raw, policy=policy.default)
    assert isinstance(reply, EmailMessage)
    reply.add_attachment(reportmail.postfix(cat.data, cat.sender, "cat@example.com"), maintype="message",
                         subtype="rfc822")
    pop.deliver(reply.as_bytes())
    assert fetch_run(renv).returncode == 0
    assert suppressions(forum) == []
    assert rows(forum, "cat@example.com")[0][0] == "sent"  # (and the posted reply queued her a new one)
    assert records(forum)[0][:2] == ("posted", None)


# --- unsubscribe --------------------------------------------------------------

def unsubscribe_mail(to: str, sender: str = "bob@example.com") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = "unsubscribe"
    msg["Message-ID"] = "<unsub.%s@mail.example.com>" % abs(hash(to))
    msg.set_content("")
    return msg.as_bytes()


def test_mail_to_the_unsubscribe_address_stops_that_tasks_mail(
        renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    header = str(notification_for(renv, "bob@example.com")["List-Unsubscribe"])
    address = header.partition("<mailto:")[2].partition("?")[0]
    pop.deliver(unsubscribe_mail(address))
    assert fetch_run(renv).returncode == 0
    assert forum.conn.execute("SELECT user_id, task_id FROM unsubscriptions").fetchall() == [
        (sent["bob"], sent["task"])]
    [(status, report, _)] = records(forum)
    assert (status, report) == ("ignored", "unsubscribe")
    # One short confirmation, to Bob's stored address; nothing posted.
    confirmations = forum.conn.execute("SELECT recipient, kind FROM notifications WHERE status = 'pending'").fetchall()
    assert confirmations == [("bob@example.com", "unsubscribed")]
    assert forum.conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1  # type: ignore[index]
    # The same request again changes nothing and sends nothing more.
    pop.deliver(unsubscribe_mail(address).replace(b"<unsub.", b"<unsub2."))
    assert fetch_run(renv).returncode == 0
    assert forum.conn.execute("SELECT count(*) FROM notifications WHERE kind = 'unsubscribed'").fetchone()[0] == 1  # type: ignore[index]

    post_again(renv, forum, sent)
    assert rows(forum, "bob@example.com")[1] == ("cancelled", "the recipient unsubscribed from task %d" % sent["task"])
    assert rows(forum, "cat@example.com")[1][0] == "sent"
    lifted = renv.run("manage.py", "suppressions", "--clear", "bob@example.com", "--task", str(sent["task"]))
    assert lifted.returncode == 0 and "again" in lifted.stdout
    post_again(renv, forum, sent)
    assert rows(forum, "bob@example.com")[2][0] == "sent"


def test_forged_unsubscribe_and_reply_token_do_not_unsubscribe(
        renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    bob = notification_for(renv, "bob@example.com")
    good = str(bob["List-Unsubscribe"]).partition("<mailto:")[2].partition("?")[0]
    # Cat's token, another task number: the signature does not cover it.
    forged = good.replace("unsub-%x." % sent["bob"], "unsub-%x." % sent["cat"])
    pop.deliver(unsubscribe_mail(forged, "cat@example.com"))
    assert fetch_run(renv).returncode == 0
    assert forum.conn.execute("SELECT count(*) FROM unsubscriptions").fetchone()[0] == 0  # type: ignore[index]
    [(status, report, reason)] = records(forum)
    assert (status, report) == ("ignored", "unsubscribe") and "signature is not ours" in reason
    nothing_answered_or_posted(forum, pop)


def test_one_click_request_from_the_forum_is_applied_before_sending(
        renv: Env, forum: Forum, sent: dict[str, int]) -> None:
    link = str(notification_for(renv, "bob@example.com")["List-Unsubscribe"])
    assert "https" not in link  # no unsubscribe_url: mailto only
    token = link.partition("+unsub-")[2].partition("@")[0]
    forum.conn.execute("INSERT INTO unsubscribe_requests (token) VALUES (%s), ('1.2.aaaaaaaaaaaaaaaa')", (token,))
    post_again(renv, forum, sent)
    assert rows(forum, "bob@example.com")[1][0] == "cancelled"
    assert forum.conn.execute("SELECT count(*) FROM unsubscribe_requests").fetchone()[0] == 0  # type: ignore[index]

"""Hostile and careless cases of reports, complaints and unsubscribes, end to end.

Each test here was an attack (or a mistake) that got through once: a
complaint about the administrators' own alert or about mail DEBUG sent them,
a flood of garbage one-click tokens, a real report replayed after the
administrator cleared the address, an internationalised domain's bounce, a
relabelled report, a thousand guessed Message-IDs, one address named five
times in one delay notice.
"""

from __future__ import annotations

import pytest

from tests import reportmail
from tests.conftest import POP_PASSWORD, Env, Forum
from tests.servers import DovecotServer
from tests.test_bounces import post_again, received, records, rows, suppressions
from tests.test_replies import configure, fetch_run, notification_for


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


def test_reports_about_a_queued_alert_never_stop_mail_to_mail_admin(
        renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    # An alert that could not go straight out waits in the queue (recipient ''): MAIL_ADMIN's mail.
    forum.conn.execute("SELECT enqueue_email('', '[forummail] trouble', 'body', 'admin-alert')")
    renv.smtp.received.clear()
    assert renv.run("send_notifications.py").returncode == 0
    alert = received(renv, "admin@forum.test")
    # The administrator marks it as spam (a redacted ARF), and their mailbox bounces it.
    pop.deliver(reportmail.arf(alert.data, "noreply@forum.test", None))
    pop.deliver(reportmail.postfix(alert.data, alert.sender, "admin@forum.test"))
    assert fetch_run(renv).returncode == 0
    assert suppressions(forum) == []
    complaint, bounce = records(forum)
    assert complaint[:2] == ("ignored", "complaint") and "nothing changed" in complaint[2]
    assert bounce[:2] == ("ignored", "bounce") and "nothing changed" in bounce[2]
    # The next queued alert still goes.
    forum.conn.execute("SELECT enqueue_email('', '[forummail] more trouble', 'body', 'admin-alert')")
    renv.smtp.received.clear()
    assert renv.run("send_notifications.py").returncode == 0
    assert [m.recipients for m in renv.smtp.messages] == [["admin@forum.test"]]


def test_a_flood_of_garbage_one_click_tokens_holds_back_nothing_and_says_one_line(
        renv: Env, forum: Forum, sent: dict[str, int]) -> None:
    link = str(notification_for(renv, "bob@example.com")["List-Unsubscribe"])
    token = link.partition("+unsub-")[2].partition("@")[0]
    # Anyone on the web can post to the forum's endpoint, which stores what it got.
    forum.conn.execute("INSERT INTO unsubscribe_requests (token) SELECT '1.1.' || g || ''' OR 1=1; --'"
                       " FROM generate_series(1, 10000) g")
    forum.conn.execute("INSERT INTO unsubscribe_requests (token) VALUES (%s)", (token,))
    renv.smtp.received.clear()
    forum.post(sent["task"], sent["ann"], "Thursday it is.")
    result = renv.run("send_notifications.py")
    assert result.returncode == 0
    # Bob's real request, behind the flood, stopped his very next mail.
    assert rows(forum, "bob@example.com")[1][0] == "cancelled"
    assert [m.recipients for m in renv.smtp.messages] == [["cat@example.com"]]
    assert forum.conn.execute("SELECT count(*) FROM unsubscribe_requests").fetchone()[0] == 0  # type: ignore[index]
    # One line for cron to mail, not ten thousand; the log file has each.
    [line] = result.stderr.splitlines()
    assert "10000 one-click unsubscribe request(s)" in line and "token" in line
    assert renv.log.count("the token is not ours: dropped") == 10000


def test_a_report_replayed_after_the_administrator_cleared_the_address_changes_nothing(
        renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    bob = received(renv, "bob@example.com")
    bounce = reportmail.postfix(bob.data, bob.sender, "bob@example.com")
    pop.deliver(bounce)
    assert fetch_run(renv).returncode == 0
    assert suppressions(forum) == [("bob@example.com", "bounce")]
    assert renv.run("manage.py", "suppressions", "--clear", "bob@example.com").returncode == 0
    # The same report again (a new Message-ID, so no duplicate), and a complaint about the same old mail.
    pop.deliver(bounce.replace(b"Message-ID: <", b"Message-ID: <replayed.", 1))
    pop.deliver(reportmail.arf(bob.data, "noreply@forum.test", None))
    assert fetch_run(renv).returncode == 0
    assert suppressions(forum) == []
    for status, _, reason in records(forum)[1:]:
        assert status == "ignored" and "sent before the administrator cleared the address" in reason
    post_again(renv, forum, sent)
    assert sorted(r for m in renv.smtp.messages for r in m.recipients) == ["bob@example.com", "cat@example.com"]
    # A bounce of the new mail still counts: the address is suppressed again.
    new = received(renv, "bob@example.com")
    pop.deliver(reportmail.postfix(new.data, new.sender, "bob@example.com"))
    assert fetch_run(renv).returncode == 0
    assert suppressions(forum) == [("bob@example.com", "bounce")]


def test_a_bounce_of_an_internationalised_domain_suppresses_the_address_as_stored(
        renv: Env, pop: DovecotServer, forum: Forum, small_forum: dict[str, int]) -> None:
    # The forum stores the domain in Unicode; our server was given (and the report names) its IDNA form.
    dora = forum.user(small_forum["universe"], "Dora", "Dora@Bücher.test")
    task = forum.task(small_forum["universe"], "Typesetting", [small_forum["ann"], dora])
    forum.post(task, small_forum["ann"], "Who has the umlaut fonts?")
    assert renv.run("send_notifications.py").returncode == 0
    mail = received(renv, "Dora@xn--bcher-kva.test")
    pop.deliver(reportmail.postfix(mail.data, mail.sender, "Dora@xn--bcher-kva.test"))
    assert fetch_run(renv).returncode == 0
    assert suppressions(forum) == [("dora@bücher.test", "bounce")]
    assert rows(forum, "Dora@Bücher.test")[0][0] == "bounced"
    # The administrator may name it in either form, in any case.
    cleared = renv.run("manage.py", "suppressions", "--clear", "DORA@xn--bcher-kva.test")
    assert cleared.returncode == 0, cleared.stderr
    assert suppressions(forum) == []


def test_in_debug_a_complaint_is_the_administrators_and_suppresses_no_member(
        env: Env, pop: DovecotServer, forum: Forum, small_forum: dict[str, int]) -> None:
    env.configure(top={"DEBUG": True}, opts={"replier_pop_addr": "127.0.0.1:%d" % pop.port,
                                             "replier_pop_ssl": False, "replier_pop_login": "replies",
                                             "replier_pop_timeout": 10},
                  env={"REPLIER_POP_PSSWD": POP_PASSWORD})
    forum.post(small_forum["task"], small_forum["ann"], "Can someone rack the new nodes on Thursday?")
    assert env.run("send_notifications.py").returncode == 0
    # DEBUG sent Bob's notification to MAIL_ADMIN, who marks it as spam (a redacted ARF).
    for_bob = next(m for m in env.smtp.messages if b"X-Intended-Recipient: bob@example.com" in m.data)
    assert for_bob.recipients == ["admin@forum.test"]
    pop.deliver(reportmail.arf(for_bob.data, "noreply@forum.test", None))
    assert fetch_run(env).returncode == 0
    assert suppressions(forum) == []
    [(status, report, reason)] = records(forum)
    assert (status, report) == ("ignored", "complaint") and "DEBUG" in reason


def test_a_report_lying_that_it_is_a_complaint_is_no_complaint(
        renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    bob = received(renv, "bob@example.com")
    # A delivery report about Cat, relabelled report-type=feedback-report: no message/feedback-report part.
    lying = reportmail.postfix(bob.data, bob.sender, "cat@example.com").replace(
        b"report-type=delivery-status", b"report-type=feedback-report")
    pop.deliver(lying)
    assert fetch_run(renv).returncode == 0
    assert suppressions(forum) == []
    [(status, report, _)] = records(forum)
    assert (status, report) == ("ignored", None)


def test_a_report_making_a_thousand_guesses_at_our_message_ids_counts_only_one(
        renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    bob = received(renv, "bob@example.com")
    real = notification_for(renv, "bob@example.com")["Message-ID"]
    guesses = " ".join("<n%d.%08d@forum.test>" % (i, i) for i in range(1000))
    # One Message-ID field carrying a thousand guesses, Bob's real id among them (a lucky guess),
    # sent to MAIL_FROM's address (no bounce tag): only the first id may count.
    original = bob.data.replace(("Message-ID: %s" % real).encode(), ("Message-ID: %s %s" % (guesses, real)).encode())
    assert original != bob.data
    pop.deliver(reportmail.postfix(original, "noreply@forum.test", "bob@example.com"))
    assert fetch_run(renv).returncode == 0
    assert suppressions(forum) == []
    assert rows(forum, "bob@example.com")[0][0] == "sent"
    [(_, report, reason)] = records(forum)
    assert report == "bounce" and "matches no notification of ours" in reason


def test_one_report_naming_an_address_five_times_is_one_soft_bounce(
        renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    bob = received(renv, "bob@example.com")
    block = ("Final-Recipient: rfc822; bob@example.com\nAction: delayed\nStatus: 4.2.2\n"
             "Diagnostic-Code: smtp; 452 4.2.2 mailbox full\n")
    report = reportmail.postfix(bob.data, bob.sender, "bob@example.com", action="delayed", status="4.2.2",
                                diagnostic="smtp; 452 4.2.2 mailbox full")
    first = b"Final-Recipient: rfc822; bob@example.com\n"
    assert report.count(first) == 1
    pop.deliver(report.replace(first, ((block + "\n") * 4).encode() + first))
    assert fetch_run(renv).returncode == 0
    assert forum.conn.execute("SELECT count(*) FROM soft_bounces").fetchone()[0] == 1  # type: ignore[index]
    forum.conn.execute("UPDATE soft_bounces SET reported_at = reported_at - interval '4 days'")
    pop.deliver(report.replace(b"Message-ID: <", b"Message-ID: <again.", 1))
    assert fetch_run(renv).returncode == 0
    assert suppressions(forum) == []  # two reports over four days: a full mailbox, not a dead one

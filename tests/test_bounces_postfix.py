"""Delivery reports written by a real Postfix, read by fetch_replies.py (issue 12).

send_notifications.py relays through a private Postfix (tests/postfix.py) as
an installation relays through its own; Postfix fails the mail (its own
error transport, or the recipient's server refusing at RCPT), writes its
RFC 3464 report to our tagged envelope sender and delivers it, by
sub-addressing, into the reply Maildir.  Those files move into the Dovecot
mailbox that fetch_replies.py reads: the shapes tested are Postfix's own,
not our imitation of them (tests/reportmail.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy

import pytest

from tests.conftest import POP_PASSWORD, Env, Forum
from tests.postfix import BOUNCE_DOMAIN, DELAY_DOMAIN, PostfixServer
from tests.servers import DovecotServer, SmtpServer
from tests.test_bounces import nothing_answered_or_posted, records, rows, suppressions
from tests.test_replies import fetch_run

BOB = "bob@%s" % BOUNCE_DOMAIN  # his mailbox is gone: Postfix bounces at once (5.1.1)
DAN = "dan@%s" % DELAY_DOMAIN  # his server does not answer: Postfix keeps trying and warns (4.4.1)
EVE = "eve@refused.test"  # her server refuses at RCPT: Postfix bounces with its words
CAT = "cat@example.com"  # delivered by Postfix to the test SMTP server standing for her server
REFUSAL = "550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table" % EVE


@pytest.fixture
def postfix(smtp: SmtpServer) -> Iterator[PostfixServer]:
    """Postfix relays all but its test domains to ``smtp``, the recipients' servers, which refuses Eve."""
    smtp.behaviour.rcpt[EVE] = REFUSAL
    server = PostfixServer(remote_mx=smtp.port).start()
    yield server
    server.stop()


@pytest.fixture
def penv(env: Env, pop: DovecotServer, postfix: PostfixServer) -> Env:
    """Settings that send through the private Postfix (MAIL_SMTP 127.0.0.1) and fetch from Dovecot."""
    # MAIL_ADMIN outside forum.test, so that an alert is never mail for the reply mailbox.
    env.configure(top={"MAIL_ADMIN": "admin@example.com"},
                  opts={"smtp_port": postfix.port, "smtp_timeout": 60,
                        "replier_pop_addr": "127.0.0.1:%d" % pop.port, "replier_pop_ssl": False,
                        "replier_pop_login": "replies", "replier_pop_timeout": 30},
                  env={"REPLIER_POP_PSSWD": POP_PASSWORD})
    return env


@pytest.fixture
def team(forum: Forum) -> dict[str, int]:
    """Ann posts; Bob, Dan, Eve and Cat follow the task."""
    u = forum.universe("Studio", allow_email_reply=True)
    ann = forum.user(u, "Ann Author", "ann@example.com")
    bob = forum.user(u, "Bob Builder", BOB)
    dan = forum.user(u, "Dan Delayed", DAN)
    eve = forum.user(u, "Eve Elsewhere", EVE)
    cat = forum.user(u, "Cat Critic", CAT)
    task = forum.task(u, "Render farm upgrade", [ann, bob, dan, eve, cat])
    return {"ann": ann, "task": task}


def send(env: Env, forum: Forum, team: dict[str, int], body: str) -> None:
    forum.post(team["task"], team["ann"], body)
    result = env.run("send_notifications.py")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), env.log


def move_reports(postfix: PostfixServer, pop: DovecotServer, count: int) -> list[bytes]:
    """Wait for Postfix's ``count`` reports, then move them into the mailbox fetch_replies.py reads."""
    moved = []
    for path in postfix.wait_for(count, timeout=90):
        data = path.read_bytes()
        pop.deliver(data)
        path.unlink()
        moved.append(data)
    return moved


def test_postfix_bounces_suppress_and_its_delay_notice_only_counts(
        penv: Env, pop: DovecotServer, postfix: PostfixServer, forum: Forum, team: dict[str, int]) -> None:
    send(penv, forum, team, "Can someone rack the new nodes on Thursday?")
    assert forum.statuses() == {"sent": 4}
    reports = move_reports(postfix, pop, 3)
    # What Postfix wrote: RFC 3464 reports, to the tagged envelope sender (sub-addressing kept it).
    shapes = sorted((str(m["Subject"]), str(m["Delivered-To"]).partition("-")[0], m.get_param("report-type"))
                    for m in (message_from_bytes(r, policy=policy.default) for r in reports))
    assert shapes == [("Delayed Mail (still being retried)", "replies+bounces", "delivery-status")] + [
        ("Undelivered Mail Returned to Sender", "replies+bounces", "delivery-status")] * 2
    assert [m.recipients for m in penv.smtp.messages] == [[CAT]]  # Cat's server got hers

    result = fetch_run(penv)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    # The hard bounces: each notification bounced with Postfix's diagnostic, each address suppressed.
    # Postfix folds a long Diagnostic-Code (RFC 5322 section 2.2.3): kept unfolded, on one line.
    assert rows(forum, BOB) == [("bounced", "5.1.1 X-Postfix; mailbox does not exist (forummail test: %s "
                                            "always bounces)" % BOUNCE_DOMAIN)]
    assert rows(forum, EVE) == [("bounced", "5.1.1 smtp; %s" % REFUSAL)]
    assert suppressions(forum) == [(BOB, "bounce"), (EVE, "bounce")]
    # The delay notice: counted, not suppressed; Dan's notification stays sent (Postfix still tries).
    assert rows(forum, DAN)[0][0] == "sent"
    assert forum.conn.execute("SELECT address FROM soft_bounces").fetchall() == [(DAN,)]
    assert rows(forum, CAT)[0][0] == "sent"
    assert sorted((s, r) for s, r, _ in records(forum)) == [("ignored", "bounce")] * 2 + [("ignored", "delay")]
    for address in (BOB, EVE):
        assert any("%s suppressed" % address in reason for _, _, reason in records(forum))
    nothing_answered_or_posted(forum, pop)

    # The next notifications to Bob and Eve are cancelled, never given to Postfix; Dan and Cat get theirs.
    send(penv, forum, team, "Thursday it is.")
    for address in (BOB, EVE):
        [_, (status, error)] = rows(forum, address)
        assert status == "cancelled" and "the address %s is suppressed (bounce:" % address in (error or "")
        assert postfix.log.count("to=<%s>" % address) == 1
    assert [r[0] for r in rows(forum, DAN)] == ["sent", "sent"]
    assert [r[0] for r in rows(forum, CAT)] == ["sent", "sent"]


def test_without_postfix_a_skip_names_the_package_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.postfix._POSTFIX", "/nonexistent/postfix")
    monkeypatch.delenv("FORUMMAIL_POSTFIX_REQUIRED", raising=False)
    # Caught as BaseException: a skip where a failure is due must fail this test, not skip it.
    with pytest.raises(BaseException) as skipped:
        PostfixServer()
    assert skipped.type is pytest.skip.Exception and "apt-get install postfix" in str(skipped.value)
    monkeypatch.setenv("FORUMMAIL_POSTFIX_REQUIRED", "1")  # as .ci/run sets it: a skip would hide the tests
    with pytest.raises(BaseException) as failed:
        PostfixServer()
    assert failed.type is pytest.fail.Exception and "FORUMMAIL_POSTFIX_REQUIRED=1 requires" in str(failed.value)

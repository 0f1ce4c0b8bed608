"""fetch_replies.py end to end: Dovecot POP3, PostgreSQL, SMTP; replies written as clients write them."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import psycopg
import pytest

from forummail import fetch, token
from forummail.replies import Intake
from forummail.settings import load
from tests.conftest import POP_PASSWORD, REPLY_SECRET, ROOT, Env, Forum, clean_env
from tests.servers import DovecotServer, free_port


@pytest.fixture
def renv(env: Env, pop: DovecotServer) -> Env:
    """The env with the reply mailbox configured."""
    configure(env, pop)
    return env


def configure(env: Env, pop: DovecotServer, **opts: object) -> None:
    env.configure(opts={"replier_pop_addr": "127.0.0.1:%d" % pop.port, "replier_pop_ssl": False,
                        "replier_pop_login": "replies", "replier_pop_timeout": 10, **opts},
                  env={"REPLIER_POP_PSSWD": POP_PASSWORD})


def notification_for(env: Env, address: str) -> EmailMessage:
    for m in env.smtp.messages:
        if address in m.recipients:
            msg = message_from_bytes(m.data, policy=policy.default)
            assert isinstance(msg, EmailMessage)
            return msg
    raise AssertionError("no notification to %s" % address)


def gmail_reply(original: EmailMessage, sender: str, text: str, *, to: str | None = None,
                html: bool = True, extra: dict[str, str] | None = None, days_ago: int = 0) -> bytes:
    """A reply as Gmail writes it: new text, attribution line, the original quoted."""
    quoted = original.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    plain = "%s\n\nOn Sat, Nov 21, 2026 at 9:14 AM %s wrote:\n\n%s" % (
        text, original["From"], "\n".join("> " + line for line in quoted.splitlines()))
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to or str(original["Reply-To"])
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Date"] = format_datetime(__import__("datetime").datetime.now().astimezone()
                                  - timedelta(days=days_ago))
    msg["Message-ID"] = make_msgid(domain="mail.gmail.test")
    msg["In-Reply-To"] = original["Message-ID"]
    msg["References"] = "%s %s" % (original["References"], original["Message-ID"])
    for k, v in (extra or {}).items():
        msg[k] = v
    msg.set_content(plain)
    if html:
        paragraphs = "".join("<div>%s</div>" % line for line in text.splitlines())
        msg.add_alternative(
            '<div dir="ltr">%s</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
            'On Sat, Nov 21, 2026 at 9:14 AM Ann wrote:<br></div><blockquote class="gmail_quote">%s'
            '</blockquote></div>' % (paragraphs, quoted.replace("\n", "<br>")), subtype="html")
    return msg.as_bytes()


@pytest.fixture
def sent(renv: Env, forum: Forum, small_forum: dict[str, int]) -> dict[str, int]:
    """Ann posted; Bob and Cat got their notifications."""
    forum.post(small_forum["task"], small_forum["ann"], "Can someone rack the new nodes on Thursday?")
    assert renv.run("send_notifications.py").returncode == 0
    return small_forum


def fetch_run(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return env.run("fetch_replies.py", *args)


def posted(forum: Forum) -> list[tuple[int, int, str]]:
    return [(r[0], r[1], r[2]) for r in forum.conn.execute(
        "SELECT task_id, author_id, body FROM messages ORDER BY id OFFSET 1").fetchall()]


def inbound(forum: Forum) -> list[tuple[str, str | None]]:
    return [(r[0], r[1]) for r in forum.conn.execute("SELECT status, reason FROM inbound_emails ORDER BY id")]


def test_reply_round_trip(renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    original = notification_for(renv, "bob@example.com")
    pop.deliver(gmail_reply(original, "Bob Builder <Bob@Example.com>", "Yes, I will do it Thursday.\n\nBob"))
    result = fetch_run(renv)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert posted(forum) == [(sent["task"], sent["bob"], "Yes, I will do it Thursday.\n\nBob")]
    assert pop.count() == 0
    assert inbound(forum) == [("posted", None)]
    # The trigger notifies the other followers, not the author of the reply.
    recipients = [r[0] for r in forum.conn.execute(
        "SELECT recipient FROM notifications WHERE status = 'pending' ORDER BY recipient")]
    assert recipients == ["ann@example.com", "cat@example.com"]
    renv.smtp.received.clear()
    assert renv.run("send_notifications.py").returncode == 0
    msg = notification_for(renv, "ann@example.com")
    assert msg["From"] == "Bob Builder <noreply@forum.test>"
    assert msg["References"] == original["References"]  # same thread


def test_crash_between_commit_and_dele_posts_nothing_twice(
        renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    raw = gmail_reply(notification_for(renv, "bob@example.com"), "bob@example.com", "Done.")
    pop.deliver(raw)
    # The first run committed this email, then died before DELE/QUIT: the
    # state it leaves is the committed record and the email still on the server.
    settings = load(str(renv.conf))
    with psycopg.connect(**renv.database.server.conninfo(renv.database.name), autocommit=True,
                         options="-c search_path=memoria") as conn:
        assert Intake(settings, conn).handle(raw).status == "posted"
    result = fetch_run(renv, "-v")
    assert result.returncode == 0 and "duplicate 1" in result.stdout
    assert len(posted(forum)) == 1
    assert pop.count() == 0
    assert inbound(forum) == [("posted", None), ("duplicate", "already handled as email 1")]


def test_a_reply_is_posted_in_five_round_trips(renv: Env, forum: Forum, sent: dict[str, int],
                                             tmp_path: Path) -> None:
    """Issue 14: one transaction of BEGIN, the claim, the token's member, the post with its outcome, COMMIT.

    Counted on the wire (libpq's trace: one ReadyForQuery per round trip);
    the forum message and its record's outcome were two statements before.
    """
    raw = gmail_reply(notification_for(renv, "bob@example.com"), "bob@example.com", "Done.")
    settings = load(str(renv.conf))
    trace = tmp_path / "libpq.trace"
    with psycopg.connect(**renv.database.server.conninfo(renv.database.name), autocommit=True,
                         options="-c search_path=memoria") as conn, trace.open("wb") as out:
        intake = Intake(settings, conn)
        conn.pgconn.trace(out.fileno())
        conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        decision = intake.handle(raw)
        conn.pgconn.untrace()
    text = trace.read_text(errors="replace")
    statements = re.findall(r'^F\t\d+\t(?:Query\t|Parse\t "[^"]*") "\s*(\w+)', text, re.MULTILINE)
    assert decision.status == "posted"
    assert statements == ["BEGIN", "INSERT", "SELECT", "WITH", "COMMIT"]
    assert text.count("\tReadyForQuery\t") == 5
    assert posted(forum) == [(sent["task"], sent["bob"], "Done.")]
    assert forum.conn.execute("SELECT status, reason, task_id, user_id, message_id = (SELECT max(id) FROM messages)"
                              " FROM inbound_emails").fetchall() == [("posted", None, sent["task"], sent["bob"], True)]


def test_spoofed_from_with_valid_token_is_refused(
        renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    original = notification_for(renv, "bob@example.com")
    pop.deliver(gmail_reply(original, "Mallory <cat@example.com>", "Delete the task!"))
    assert fetch_run(renv).returncode == 0
    assert posted(forum) == []
    assert inbound(forum) == [("rejected", "the reply came from an address the notification was not sent to")]
    raw = forum.conn.execute("SELECT raw FROM inbound_emails").fetchone()[0]  # type: ignore[index]
    assert b"Delete the task!" in raw
    # Not the address in From (it may be anyone's): the user the token was issued to
    # hears of it, at the address we know; MAIL_ADMIN gets no copy per email.
    queued = forum.conn.execute("SELECT kind, recipient FROM notifications WHERE status = 'pending'").fetchall()
    assert queued == [("reply-rejected", "bob@example.com")]
    # The run's summary went to MAIL_ADMIN straight away (at most one an hour).
    summary = notification_for(renv, "admin@forum.test")
    assert summary["Subject"] == "[forummail] 1 email repl(ies) refused"
    assert "the reply came from an address the notification was not sent to" in summary.get_body(
        ("plain",)).get_content()  # type: ignore[union-attr]
    renv.smtp.received.clear()
    assert renv.run("send_notifications.py").returncode == 0
    answer = notification_for(renv, "bob@example.com")
    text = answer.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert answer["Subject"] == "Your email was not posted" and "Delete the task!" not in text
    assert answer["Auto-Submitted"] == "auto-generated"


def test_token_for_another_task_is_refused(renv: Env, pop: DovecotServer, forum: Forum,
                                           sent: dict[str, int]) -> None:
    other = forum.task(sent["universe"], "Secret budget", [sent["ann"]])
    # A genuine token for a task Bob does not follow...
    tok = token.make(REPLY_SECRET, sent["bob"], other, date.today() + timedelta(days=5))
    original = notification_for(renv, "bob@example.com")
    pop.deliver(gmail_reply(original, "bob@example.com", "let me in", to="replies+%s@forum.test" % tok))
    # ...and Bob's own token edited to name that task.
    own = token.find(str(original["Reply-To"]))
    assert own
    parts = own.split(".")
    parts[1] = "%x" % other
    pop.deliver(gmail_reply(original, "bob@example.com", "let me in too",
                            to="replies+%s@forum.test" % ".".join(parts),
                            extra={"X-Note": "edited"}))
    assert fetch_run(renv).returncode == 0
    assert posted(forum) == []
    reasons = sorted(r for _, r in inbound(forum))
    assert reasons == ["the reply address is not valid", "the sender no longer follows the task"]


def test_expired_token_refused(renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    tok = token.make(REPLY_SECRET, sent["bob"], sent["task"], date.today() - timedelta(days=1))
    pop.deliver(gmail_reply(notification_for(renv, "bob@example.com"), "bob@example.com", "late",
                            to="replies+%s@forum.test" % tok, extra={"X-Note": "late"}))
    # In-Reply-To still carries the valid token of the real notification: strip
    # it so only the expired one is there.
    assert fetch_run(renv).returncode == 0
    statuses = inbound(forum)
    assert statuses == [("rejected", "the reply address has expired")]


def test_out_of_office_is_ignored_and_never_answered(
        renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    original = notification_for(renv, "bob@example.com")
    pop.deliver(gmail_reply(original, "bob@example.com", "I am out of the office until Monday.",
                            extra={"Auto-Submitted": "auto-replied"}))
    ooo = gmail_reply(original, "bob@example.com", "Away.", html=False)
    ooo = ooo.replace(b"Subject: Re:", b"Subject: Automatic reply: Re:")
    pop.deliver(ooo)
    bounce = (b"From: MAILER-DAEMON@mx.example.com\r\nTo: replies@forum.test\r\nSubject: Undelivered\r\n"
              b"Message-ID: <b1@mx>\r\nContent-Type: multipart/report; report-type=delivery-status;"
              b" boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--x--\r\n")
    pop.deliver(bounce)
    pop.deliver(gmail_reply(original, "bob@example.com", "list", extra={"List-Id": "<dev.lists.example.com>"}))
    assert fetch_run(renv).returncode == 0
    assert [s for s, _ in inbound(forum)] == ["ignored"] * 4
    assert posted(forum) == []
    assert forum.conn.execute("SELECT count(*) FROM notifications WHERE status='pending'").fetchone() == (0,)
    assert pop.count() == 0


def test_strangers_and_closed_universes_are_refused(
        renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    original = notification_for(renv, "bob@example.com")
    stranger = gmail_reply(original, "stranger@elsewhere.example", "hello", to="replies@forum.test")
    pop.deliver(stranger.replace(b"In-Reply-To", b"X-Old-In-Reply-To").replace(b"References", b"X-Old-Refs"))
    assert fetch_run(renv).returncode == 0
    forum.conn.execute("UPDATE universes SET allow_email_reply = false")
    pop.deliver(gmail_reply(original, "bob@example.com", "closed"))
    assert fetch_run(renv).returncode == 0
    # No token and no proof from our own mail server: From alone proves nothing.
    assert [r for _, r in inbound(forum)] == ["the sender's address could not be verified",
                                              "replies by email are not allowed in this universe"]


def test_thread_and_subject_fallbacks_without_sub_addressing(
        renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    original = notification_for(renv, "bob@example.com")
    # The mail server dropped "+TOKEN": the token comes back in In-Reply-To.
    pop.deliver(gmail_reply(original, "bob@example.com", "via thread", to="replies@forum.test"))
    assert fetch_run(renv).returncode == 0
    # No token anywhere, only the [#N] tag of the subject: posted when our own mail
    # server vouches for the sender (DMARC pass), who must follow the task.
    configure(renv, pop, replier_authserv_id="mx.forum.test")
    bare = gmail_reply(original, "cat@example.com", "via subject", to="replies@forum.test")
    bare = bare.replace(b"In-Reply-To", b"X-Was-In-Reply-To").replace(b"References", b"X-Was-References")
    pop.deliver(b"Authentication-Results: mx.forum.test; dmarc=pass header.from=example.com\n" + bare)
    assert fetch_run(renv).returncode == 0
    assert posted(forum) == [(sent["task"], sent["bob"], "via thread"), (sent["task"], sent["cat"], "via subject")]


def test_refusal_explained_once_a_day(renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    original = notification_for(renv, "bob@example.com")
    for i in range(3):
        pop.deliver(gmail_reply(original, "stranger@elsewhere.example", "hi %d" % i, extra={"X-Seq": str(i)}))
    assert fetch_run(renv).returncode == 0
    kinds = [r[0] for r in forum.conn.execute("SELECT kind FROM notifications WHERE status='pending'")]
    assert kinds == ["reply-rejected"]  # to Bob, whose token it was; no copy per email to MAIL_ADMIN


def test_empty_reply_is_rejected_with_a_reason(renv: Env, pop: DovecotServer, forum: Forum,
                                               sent: dict[str, int]) -> None:
    original = notification_for(renv, "bob@example.com")
    pop.deliver(gmail_reply(original, "bob@example.com", "", html=False))
    assert fetch_run(renv).returncode == 0
    assert inbound(forum) == [("rejected", "the reply is empty")]
    # The sender is told why: only the quote was found, and it is not posted again.
    body = forum.conn.execute("SELECT body FROM notifications WHERE kind = 'reply-rejected'").fetchone()[0]  # type: ignore[index]
    assert "only the quoted message you answered" in body
    assert "Write your answer above the quoted text" in body


def test_attachments_kept_junk_dropped_big_noted(renv: Env, pop: DovecotServer, forum: Forum,
                                                 sent: dict[str, int]) -> None:
    configure(renv, pop, replier_max_attachment_bytes=50_000)
    msg = message_from_bytes(gmail_reply(notification_for(renv, "bob@example.com"), "bob@example.com",
                                         "Plan attached.", html=False), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    msg.add_attachment(b"%PDF-1.4 plan", maintype="application", subtype="pdf", filename="plan.pdf")
    msg.add_attachment(b"x" * 60_000, maintype="application", subtype="zip", filename="big.zip")
    msg.add_attachment(b"sig", maintype="application", subtype="pkcs7-signature", filename="smime.p7s")
    msg.add_attachment(b"BEGIN:VCARD", maintype="text", subtype="vcard", filename="bob.vcf")
    pop.deliver(msg.as_bytes())
    assert fetch_run(renv).returncode == 0
    body = posted(forum)[0][2]
    assert body.startswith("Plan attached.") and "[attachment big.zip dropped" in body
    files = forum.conn.execute("SELECT file_name, file_size, content FROM message_attachments").fetchall()
    assert files == [("plan.pdf", 13, b"%PDF-1.4 plan")]


def test_old_mail_is_recorded_and_left_alone(renv: Env, pop: DovecotServer, forum: Forum,
                                             sent: dict[str, int]) -> None:
    pop.deliver(gmail_reply(notification_for(renv, "bob@example.com"), "bob@example.com", "old", days_ago=30))
    first = fetch_run(renv, "-v")
    assert first.returncode == 0 and "left in the mailbox 1" in first.stdout
    assert pop.count() == 1 and posted(forum) == []
    assert inbound(forum) == [("ignored", "older than 7 days: left in the mailbox")]
    second = fetch_run(renv, "-v")
    assert "left in the mailbox 1" in second.stdout
    assert len(inbound(forum)) == 1  # not fetched again


def test_dry_run_posts_deletes_and_sends_nothing(renv: Env, pop: DovecotServer, forum: Forum,
                                                 sent: dict[str, int]) -> None:
    pop.deliver(gmail_reply(notification_for(renv, "bob@example.com"), "bob@example.com", "dry answer"))
    result = fetch_run(renv, "--dry-run")
    assert result.returncode == 0
    assert "would be email 1: posted to task %d as user %d" % (sent["task"], sent["bob"]) in result.stdout
    assert "dry answer" in result.stdout
    assert pop.count() == 1 and posted(forum) == [] and inbound(forum) == []


def test_file_and_stdin_intake(renv: Env, forum: Forum, sent: dict[str, int], tmp_path: Path) -> None:
    raw = gmail_reply(notification_for(renv, "bob@example.com"), "bob@example.com", "from a pipe")
    path = tmp_path / "reply.eml"
    path.write_bytes(raw)
    assert fetch_run(renv, "--file", str(path)).returncode == 0
    piped = subprocess.run([sys.executable, str(ROOT / "fetch_replies.py"), "--conf", str(renv.conf),
                            "--file", "-"], input=raw, capture_output=True, env=clean_env())
    assert piped.returncode == 0
    assert [b for _, _, b in posted(forum)] == ["from a pipe"]
    assert [s for s, _ in inbound(forum)] == ["posted", "duplicate"]
    missing = fetch_run(renv, "--file", str(tmp_path / "nope.eml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_extract_touches_no_database(env: Env, tmp_path: Path) -> None:
    env.configure(top={"DB_PORT": free_port()})
    reply = EmailMessage()
    reply["From"] = "bob@example.com"
    reply["Subject"] = "Re: x"
    reply.set_content("Sounds good.\n\nOn Mon, Nov 16, 2026 at 10:00 AM Ann <noreply@forum.test> wrote:\n"
                      "> -- Write your reply above this line --\n> old text\n")
    path = tmp_path / "r.eml"
    path.write_bytes(reply.as_bytes())
    result = env.run("fetch_replies.py", "--extract", str(path))
    assert (result.returncode, result.stdout, result.stderr) == (0, "Sounds good.\n", "")


def test_not_configured_does_nothing(env: Env) -> None:
    result = env.run("fetch_replies.py")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_pop3_down_and_bad_login_exit_75(renv: Env, pop: DovecotServer, forum: Forum,
                                         sent: dict[str, int]) -> None:
    pop.deliver(gmail_reply(notification_for(renv, "bob@example.com"), "bob@example.com", "hi"))
    renv.configure(opts={"replier_pop_addr": "127.0.0.1:%d" % free_port(), "replier_pop_ssl": False,
                         "replier_pop_login": "replies"}, env={"REPLIER_POP_PSSWD": POP_PASSWORD})
    down = fetch_run(renv)
    assert down.returncode == 75 and "cannot connect to POP3 server" in down.stderr
    renv.configure(opts={"replier_pop_addr": "127.0.0.1:%d" % pop.port, "replier_pop_ssl": False,
                         "replier_pop_login": "replies"}, env={"REPLIER_POP_PSSWD": "Wrong-Pop-88"})
    bad = fetch_run(renv)
    assert bad.returncode == 75 and "refused the login of 'replies'" in bad.stderr
    for out in (down.stdout, down.stderr, bad.stdout, bad.stderr, renv.log):
        assert POP_PASSWORD not in out and "Wrong-Pop-88" not in out
    assert pop.count() == 1 and inbound(forum) == []


def test_second_fetcher_exits_quietly_while_the_mailbox_is_locked(
        renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    pop.deliver(gmail_reply(notification_for(renv, "bob@example.com"), "bob@example.com", "hi"))
    settings = load(str(renv.conf))
    forum.conn.execute("SELECT pg_advisory_lock(%s)", (fetch._lock_key(settings),))
    result = fetch_run(renv)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert pop.count() == 1
    forum.conn.execute("SELECT pg_advisory_unlock_all()")
    assert fetch_run(renv).returncode == 0 and pop.count() == 0


def test_database_down_deletes_nothing(renv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    pop.deliver(gmail_reply(notification_for(renv, "bob@example.com"), "bob@example.com", "hi"))
    configure(renv, pop)
    renv.configure(top={"DB_PORT": free_port()}, opts={
        "replier_pop_addr": "127.0.0.1:%d" % pop.port, "replier_pop_ssl": False, "replier_pop_login": "replies"},
        env={"REPLIER_POP_PSSWD": POP_PASSWORD})
    result = fetch_run(renv)
    assert result.returncode == 75 and "cannot connect to database" in result.stderr
    assert pop.count() == 1

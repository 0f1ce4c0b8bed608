"""manage.py's admin commands against real servers: check, test-email, queue, inbound, retry, cancel, purge."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import psycopg
import pytest

from forummail import db as fm_db
from forummail import report, store
from tests.conftest import POP_PASSWORD, ROOT, Env, Forum, clean_env, run_script
from tests.servers import DovecotServer, SmtpServer, free_port

SMTP_PASSWORD = "Smtp-Secret-42"
NEWEST = fm_db.migrations()[-1][0]


def manage(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return env.run("manage.py", *args)


def no_secret(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    for secret in (SMTP_PASSWORD, POP_PASSWORD, *secrets):
        assert secret not in result.stdout and secret not in result.stderr


@pytest.fixture
def auth_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(login="mailer", password=SMTP_PASSWORD).start()
    yield server
    server.stop()


def configure_full(env: Env, smtp: SmtpServer, pop: DovecotServer, smtp_password: str = SMTP_PASSWORD,
                   pop_password: str = POP_PASSWORD, **top: Any) -> None:
    """SMTP with AUTH and the reply mailbox, passwords in .env."""
    env.configure(top={"MAIL_LOGIN": "mailer", **top},
                  opts={"smtp_port": smtp.port, "replier_pop_addr": "127.0.0.1:%d" % pop.port,
                        "replier_pop_ssl": False, "replier_pop_login": "replies", "replier_pop_timeout": 10},
                  env={"MAIL_PSSWD": smtp_password, "REPLIER_POP_PSSWD": pop_password})


def add(env: Env, recipient: str, status: str, attempts: int = 0, error: str | None = None,
        days_old: int = 0, next_in_seconds: int = 0) -> int:
    """One notification row in the given state (as the sender would have left it)."""
    return int(env.database.scalar(
        "INSERT INTO notifications (kind, recipient, subject, body, status, attempts, last_error, created_at,"
        " last_attempt_at, next_attempt_at) VALUES ('system', %s, 'Hello', 'Hi', %s, %s, %s,"
        " now() - make_interval(days => %s), CASE WHEN %s > 0 THEN now() - make_interval(days => %s) END,"
        " now() + make_interval(secs => %s)) RETURNING id",
        (recipient, status, attempts, error, days_old, attempts, days_old, next_in_seconds)))


def add_inbound(env: Env, sender: str, status: str, reason: str | None = None, raw: bytes | None = None,
                days_old: int = 0, subject: str = "Re: [#1] Render farm upgrade") -> int:
    return int(env.database.scalar(
        "INSERT INTO inbound_emails (message_key, sender, subject, status, reason, raw, received_at)"
        " VALUES (md5(random()::text), %s, %s, %s, %s, %s, now() - make_interval(days => %s)) RETURNING id",
        (sender, subject, status, reason, raw, days_old)))


def rows(env: Env) -> dict[int, tuple[str, int]]:
    return {r[0]: (r[1], r[2]) for r in env.database.query("SELECT id, status, attempts FROM notifications")}


# --- check -----------------------------------------------------------------

def test_check_all_good_sends_and_deletes_nothing(env: Env, auth_smtp: SmtpServer, pop: DovecotServer) -> None:
    configure_full(env, auth_smtp, pop)
    pop.deliver(b"From: a@example.com\r\nSubject: hi\r\n\r\nwaiting\r\n")
    result = manage(env, "check")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0] == ("ok    settings %s: valid (replies by email on; no OPTS['replier_authserv_id']: "
                        "only replies carrying their reply token are posted)" % env.conf)
    assert lines[1] == "ok    database %r at 127.0.0.1:%d as postgres: schema 'memoria' at version %d (current)" % (
        env.database.name, env.database.server.port, NEWEST)
    assert lines[2] == "ok    reply-signing secret: from the environment or .env (REPLY_TOKEN_SECRET)"
    assert lines[3] == "ok    SMTP server 127.0.0.1:%d: connected, logged in as 'mailer'; nothing sent" % auth_smtp.port
    assert lines[4] == ("ok    POP3 mailbox 127.0.0.1:%d: logged in as 'replies', 1 message(s) waiting; "
                        "nothing deleted" % pop.port)
    assert lines[5:] == ["all checks passed"]
    assert auth_smtp.logins == ["mailer"] and auth_smtp.messages == []
    assert pop.count() == 1
    no_secret(result)


def test_check_without_mailbox_says_so_neutrally(env: Env) -> None:
    result = manage(env, "check")
    assert result.returncode == 0
    assert "--    POP3 mailbox: not configured (OPTS['replier_pop_addr'] is empty)" in result.stdout
    assert env.smtp.messages == []


def test_check_wrong_passwords_exit_78_naming_the_settings(env: Env, auth_smtp: SmtpServer,
                                                          pop: DovecotServer) -> None:
    configure_full(env, auth_smtp, pop, smtp_password="Wrong-Smtp-Pass-1", pop_password="Wrong-Pop-Pass-2")
    result = manage(env, "check")
    assert (result.returncode, result.stderr) == (78, "")
    out = result.stdout
    assert ("FAIL  SMTP server 127.0.0.1:%d refused the login of 'mailer': 535 5.7.8 Authentication credentials "
            "invalid -> check MAIL_LOGIN and MAIL_PSSWD\n" % auth_smtp.port) in out
    assert re.search(r"FAIL  POP3 server 127\.0\.0\.1:\d+ refused the login of 'replies': .* -> check "
                     r"OPTS\['replier_pop_login'\] and REPLIER_POP_PSSWD", out)
    assert "ok    database" in out and out.endswith("2 problem(s) found\n")
    no_secret(result, "Wrong-Smtp-Pass-1", "Wrong-Pop-Pass-2")


def test_check_smtp_down_exits_75_and_checks_the_rest(env: Env) -> None:
    port = free_port()
    env.configure(opts={"smtp_port": port})
    result = manage(env, "check")
    assert result.returncode == 75
    assert ("FAIL  cannot connect to SMTP server 127.0.0.1:%d: [Errno 111] Connection refused -> is the server up? "
            "check MAIL_SMTP and OPTS['smtp_port']" % port) in result.stdout
    assert "ok    database" in result.stdout and "1 problem(s) found" in result.stdout


def test_check_says_when_the_relay_refuses_our_envelope_sender(env: Env) -> None:
    # Exchange Online refuses a MAIL FROM that its signed-in account may not send as:
    # check says so, before every notification of a run is refused for it.
    env.smtp.behaviour.mail_from.append("550 5.7.60 SMTP; Client does not have permissions to send as this sender")
    result = manage(env, "check")
    assert result.returncode == 78
    fail = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fail) == 1 and fail[0].startswith("FAIL  SMTP server 127.0.0.1:%d refused our envelope sender: "
                                                  "MAIL FROM:<" % env.smtp.port)
    assert "550 5.7.60" in fail[0] and "set OPTS['bounce_addr']" in fail[0]
    assert env.smtp.messages == []
    # Taken: the usual line, and still nothing sent.
    result = manage(env, "check")
    assert result.returncode == 0, result.stdout
    assert env.smtp.handler.commands[-1].startswith("MAIL ") and env.smtp.messages == []


def test_check_lists_every_server_and_skips_disabled_ones(env: Env) -> None:
    down = free_port()
    env.configure(opts={"smtp_servers": [
        {"host": "127.0.0.1", "port": env.smtp.port, "description": "main"},
        {"host": "127.0.0.1", "port": down},
        {"host": "backup.invalid", "port": 25, "enabled": False}]})
    result = manage(env, "check")
    assert result.returncode == 75
    assert "ok    SMTP server 'main' (127.0.0.1:%d): connected, no login configured; nothing sent" % env.smtp.port \
        in result.stdout
    assert "check OPTS['smtp_servers'][1]['host'] and OPTS['smtp_servers'][1]['port']" in result.stdout
    assert "skip  SMTP server backup.invalid:25: disabled (OPTS['smtp_servers'][2]['enabled'] is False)" \
        in result.stdout


def test_check_database_down(env: Env) -> None:
    env.configure(top={"DB_PORT": free_port(), "DB_PSWD": "Db-Secret-99"})
    result = manage(env, "check")
    assert result.returncode == 75
    line = next(line for line in result.stdout.splitlines() if line.startswith("FAIL"))
    assert line.startswith("FAIL  cannot connect to database")
    assert line.endswith("-> is PostgreSQL running there? check DB_HOST and DB_PORT")
    assert "ok    SMTP server" in result.stdout
    no_secret(result, "Db-Secret-99")


def test_check_schema_missing_or_behind_exits_78(env: Env) -> None:
    env.configure(top={"DB_SCHEMA": "elsewhere"})
    result = manage(env, "check")
    assert result.returncode == 78
    assert "schema 'elsewhere' has no tables of ours -> run manage.py init-db" in result.stdout
    env.configure()
    env.database.query("DELETE FROM schema_migrations WHERE version = %s", (NEWEST,))
    result = manage(env, "check")
    assert result.returncode == 78
    # The one before in the files, not NEWEST - 1: a branch may ship 008 before 007 is merged.
    previous = fm_db.migrations()[-2][0]
    assert "schema 'memoria' is at version %d, this code needs %d -> run manage.py init-db" % (
        previous, NEWEST) in result.stdout


def test_check_quiet_prints_only_failures(env: Env) -> None:
    result = manage(env, "check", "--quiet")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    env.configure(opts={"smtp_port": free_port()})
    result = manage(env, "check", "-q")
    assert result.returncode == 75
    assert len(result.stdout.splitlines()) == 1 and result.stdout.startswith("FAIL  cannot connect to SMTP")


def test_check_bad_settings_exit_78_with_the_list(env: Env) -> None:
    env.configure(top={"MAIL_LOGIN": "mailer"}, opts={"smtp_prot": 25})
    result = manage(env, "check")
    assert (result.returncode, result.stdout) == (78, "")
    assert "manage.py check: bad settings:" in result.stderr
    assert "MAIL_LOGIN is set but MAIL_PSSWD is empty" in result.stderr
    assert "did you mean 'smtp_port'?" in result.stderr


def test_init_db_is_safe_to_rerun(env: Env) -> None:
    first = manage(env, "init-db")  # the test database was migrated, but init-db never ran
    assert first.returncode == 0 and "created the reply-signing secret" in first.stdout
    result = manage(env, "init-db")
    assert result.returncode == 0
    assert result.stdout.strip().endswith("up to date at version %d" % NEWEST)
    assert "secret" not in result.stdout
    assert env.database.scalar("SELECT count(*) FROM reply_secrets") == 1


# --- test-email ------------------------------------------------------------

def test_test_email_shows_the_servers_final_answer(env: Env, auth_smtp: SmtpServer, pop: DovecotServer) -> None:
    configure_full(env, auth_smtp, pop)
    result = manage(env, "test-email", "ann@example.com")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("SMTP server 127.0.0.1:%d accepted the test message for ann@example.com: "
                                    "250 2.0.0 Ok: queued as Q000001\nMessage-ID: <" % auth_smtp.port)
    [got] = auth_smtp.messages
    assert got.recipients == ["ann@example.com"] and got.sender == "noreply@forum.test"
    msg = message_from_bytes(got.data, policy=policy.default)
    assert msg["Subject"].startswith("Forum mailer test from ")
    assert msg["Auto-Submitted"] == "auto-generated" and msg["X-Notification-Type"] == "test"
    assert msg["Message-ID"] in result.stdout
    assert "test-email" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    no_secret(result)


def test_test_email_in_debug_still_goes_to_the_address(env: Env) -> None:
    env.configure(top={"DEBUG": True})
    result = manage(env, "test-email", "ann@example.com")
    assert result.returncode == 0
    assert result.stdout.startswith("DEBUG is on: notifications go to MAIL_ADMIN, but this test goes to "
                                    "ann@example.com as asked\n")
    assert [m.recipients for m in env.smtp.messages] == [["ann@example.com"]]


def test_test_email_refused_exits_1_with_the_servers_words(env: Env) -> None:
    env.smtp.behaviour.data.append("554 5.7.1 message rejected as spam")
    result = manage(env, "test-email", "ann@example.com")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("manage.py test-email: SMTP server 127.0.0.1:%d refused the test message: "
                             "554 5.7.1 message rejected as spam\n" % env.smtp.port)
    assert env.smtp.messages == []


def test_test_email_recipient_refused_4xx_exits_75(env: Env) -> None:
    env.smtp.behaviour.rcpt["eve@example.net"] = "452 4.2.2 mailbox full"
    result = manage(env, "test-email", "eve@example.net")
    assert result.returncode == 75
    assert "RCPT TO <eve@example.net> refused: 452 4.2.2 mailbox full" in result.stderr


def test_test_email_server_down_exits_75(env: Env) -> None:
    env.configure(opts={"smtp_port": free_port()})
    result = manage(env, "test-email", "ann@example.com")
    assert (result.returncode, result.stdout) == (75, "")
    assert "cannot connect to SMTP server" in result.stderr


def test_test_email_fails_over_to_the_next_server(env: Env) -> None:
    env.configure(opts={"smtp_servers": [{"host": "127.0.0.1", "port": free_port()},
                                         {"host": "127.0.0.1", "port": env.smtp.port}]})
    result = env.run("manage.py", "-v", "test-email", "ann@example.com")
    assert result.returncode == 0
    assert "SMTP server 127.0.0.1:%d accepted" % env.smtp.port in result.stdout
    assert "cannot connect" in result.stderr  # the first server's failure, said with -v
    assert len(env.smtp.messages) == 1


def test_test_email_wrong_password_exits_75_without_the_password(env: Env, auth_smtp: SmtpServer) -> None:
    env.configure(top={"MAIL_LOGIN": "mailer"}, opts={"smtp_port": auth_smtp.port},
                  env={"MAIL_PSSWD": "Not-The-Password-3"})
    result = manage(env, "test-email", "ann@example.com")
    assert result.returncode == 75
    assert "refused the login of 'mailer'" in result.stderr
    no_secret(result, "Not-The-Password-3")


def test_test_email_bad_address_exits_2(env: Env) -> None:
    result = manage(env, "test-email", "ann at example.com")
    assert result.returncode == 2
    assert "<ann at example.com> is not a valid email address: An email address must have an @-sign." in result.stderr
    assert env.smtp.messages == []


# --- queue -----------------------------------------------------------------

def test_queue_summary_after_a_real_run(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    u = small_forum["universe"]
    dan = forum.user(u, "Dan", "dan@example.org")
    eve = forum.user(u, "Eve", "eve@example.net")
    forum.conn.execute("INSERT INTO task_followers VALUES (%s, %s), (%s, %s)",
                       (small_forum["task"], dan, small_forum["task"], eve))
    env.smtp.behaviour.rcpt["dan@example.org"] = "550 5.1.1 <dan@example.org>: User unknown"
    env.smtp.behaviour.rcpt["eve@example.net"] = "452 4.2.2 <eve@example.net>: Mailbox full"
    forum.post(small_forum["task"], small_forum["ann"], "The new nodes arrive on Monday.")
    assert env.run("send_notifications.py").returncode == 0
    result = manage(env, "queue")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0] == "notifications: 1 pending, 0 sending, 2 sent, 1 failed, 0 cancelled, 0 bounced"
    assert re.match(r"oldest pending: #\d+ to eve@example\.net, queued \d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
                    r"\(\d+ s ago\)$", lines[1])
    retries = lines[lines.index("next retries:") + 1:]
    assert retries[0].split() == ["id", "recipient", "attempts", "next", "attempt", "last", "error"]
    assert "eve@example.net" in retries[1] and "recipient refused: 452 4.2.2" in retries[1]
    errors = lines[lines.index("recent errors (failed; manage.py retry sends them again):") + 1:]
    assert "dan@example.org" in errors[1] and errors[1].endswith("550 5.1.1 <dan@example.org>: User unknown")


def test_queue_summary_of_an_empty_queue(env: Env) -> None:
    result = manage(env, "queue")
    assert result.returncode == 0
    assert result.stdout == ("notifications: 0 pending, 0 sending, 0 sent, 0 failed, 0 cancelled, 0 bounced\n"
                             "oldest pending: none, the queue is empty\n\nnext retries: none\n\nrecent errors: none\n")


def test_queue_list_filters(env: Env) -> None:
    a = add(env, "Bob@Example.com", "sent", attempts=1)
    b = add(env, "bob@example.com", "failed", attempts=1, error="550 no such user")
    c = add(env, "cat@example.com", "pending", attempts=2, error="451 later", next_in_seconds=600)
    result = manage(env, "queue", "--list")
    assert result.returncode == 0
    header, *body = result.stdout.splitlines()
    assert header.split() == ["id", "recipient", "kind", "status", "attempts", "last", "attempt", "next",
                              "attempt", "last", "error"]
    assert [int(line.split()[0]) for line in body] == [c, b, a]  # newest first
    to_bob = manage(env, "queue", "--to", "BOB@example.COM").stdout.splitlines()[1:]
    assert sorted(int(line.split()[0]) for line in to_bob) == [a, b]
    failed = manage(env, "queue", "--status", "failed").stdout.splitlines()
    assert len(failed) == 2 and failed[1].endswith("550 no such user")
    pending = manage(env, "queue", "--status", "pending").stdout.splitlines()[1]
    assert "cat@example.com" in pending and "451 later" in pending
    limited = manage(env, "queue", "--list", "--limit", "1").stdout.splitlines()
    assert len(limited) == 3 and limited[-1] == "(only the first 1 shown: --limit N for more)"
    assert manage(env, "queue", "--status", "cancelled").stdout == "no notifications match\n"
    assert manage(env, "queue", "--status", "lost").returncode == 2
    assert manage(env, "queue", "--limit", "0").returncode == 2


def test_queue_needs_the_schema(env: Env) -> None:
    env.configure(top={"DB_SCHEMA": "elsewhere"})
    result = manage(env, "queue")
    assert (result.returncode, result.stdout) == (78, "")
    assert "run manage.py init-db" in result.stderr


def test_queue_database_down_exits_75(env: Env) -> None:
    env.configure(top={"DB_PORT": free_port()})
    result = manage(env, "queue")
    assert result.returncode == 75
    assert "cannot connect to database" in result.stderr


# --- inbound ---------------------------------------------------------------

RAW = b"From: Mallory <mallory@example.biz>\r\nSubject: Re: [#1] Render farm upgrade\r\n\r\nBuy render nodes!\r\n"


def test_inbound_summary_list_and_show(env: Env) -> None:
    posted = add_inbound(env, "bob@example.com", "posted")
    rejected = add_inbound(env, "Mallory@Example.biz", "rejected", "the sender is not a user of this forum", RAW)
    add_inbound(env, "cat@example.com", "ignored", "automatic mail (Auto-Submitted: auto-replied)")
    result = manage(env, "inbound")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0] == "inbound emails: 1 posted, 0 duplicate, 1 ignored, 1 rejected, 0 error"
    assert lines[2] == "recent refusals (manage.py inbound --show ID prints the email):"
    assert lines[4].split()[0] == str(rejected)
    assert lines[4].endswith("rejected  the sender is not a user of this forum")

    listed = manage(env, "inbound", "--list").stdout.splitlines()
    assert listed[0].split() == ["id", "received", "sender", "subject", "status", "message", "reason"]
    assert len(listed) == 4
    by_sender = manage(env, "inbound", "--from", "mallory@EXAMPLE.biz").stdout.splitlines()
    assert len(by_sender) == 2 and by_sender[1].split()[0] == str(rejected)
    ignored = manage(env, "inbound", "--status", "ignored").stdout.splitlines()
    assert len(ignored) == 2 and "automatic mail" in ignored[1]

    shown = env.run("manage.py", "inbound", "--show", str(rejected))
    assert (shown.returncode, shown.stdout) == (0, RAW.decode().replace("\r\n", "\n"))
    no_copy = manage(env, "inbound", "--show", str(posted))
    assert no_copy.returncode == 2 and "has no stored copy" in no_copy.stderr
    missing = manage(env, "inbound", "--show", "9999")
    assert missing.returncode == 2 and "there is no inbound email 9999" in missing.stderr


def test_inbound_show_escapes_a_strangers_terminal_sequences_and_raw_gives_the_bytes(env: Env) -> None:
    # Today the stored bytes reach the terminal: the title becomes "owned", the screen is cleared.
    raw = (b"From: Mallory <mallory@example.biz>\r\nSubject: \x1b]0;owned\x07\x1b[2J\r\n\r\n"
           b"col1\tcol2\r\nover\rwritten \xff \xe2\x80\xae\r\n")
    rejected = add_inbound(env, "mallory@example.biz", "rejected", "the sender is not a user of this forum", raw)
    shown = manage(env, "inbound", "--show", str(rejected))
    assert (shown.returncode, shown.stderr) == (0, "")
    assert shown.stdout == ("From: Mallory <mallory@example.biz>\nSubject: \\x1b]0;owned\\x07\\x1b[2J\n\n"
                            "col1\tcol2\nover\\rwritten \\xff \\u202e\n")
    as_received = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "--conf", str(env.conf), "inbound", "--show", str(rejected),
         "--raw"], capture_output=True, env=clean_env(), timeout=60)
    assert (as_received.returncode, as_received.stdout) == (0, raw)
    alone = manage(env, "inbound", "--raw")
    assert alone.returncode == 2 and "--raw goes with --show ID" in alone.stderr


def test_inbound_of_an_empty_log(env: Env) -> None:
    result = manage(env, "inbound")
    assert result.stdout == ("inbound emails: 0 posted, 0 duplicate, 0 ignored, 0 rejected, 0 error\n\n"
                             "recent refusals: none\n")
    assert manage(env, "inbound", "--list").stdout == "no inbound emails match\n"


# --- retry, cancel, purge --------------------------------------------------

def test_retry_all_failed_rows(env: Env) -> None:
    f1 = add(env, "dan@example.org", "failed", attempts=10, error="gave up")
    f2 = add(env, "eve@example.net", "failed", attempts=1, error="550 no")
    sent = add(env, "bob@example.com", "sent", attempts=1)
    result = manage(env, "retry")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("2 failed notification(s) back to pending, attempts reset")
    assert rows(env) == {f1: ("pending", 0), f2: ("pending", 0), sent: ("sent", 1)}
    assert env.database.scalar("SELECT bool_and(next_attempt_at <= now()) FROM notifications"
                               " WHERE status = 'pending'")
    assert manage(env, "retry").stdout == "nothing to retry: no failed notification(s)\n"
    # and the sender really sends them now
    assert env.run("send_notifications.py").returncode == 0
    assert sorted(r for m in env.smtp.messages for r in m.recipients) == ["dan@example.org", "eve@example.net"]


def test_retry_by_id_and_by_recipient(env: Env) -> None:
    failed = add(env, "dan@example.org", "failed", attempts=3)
    cancelled = add(env, "eve@example.net", "cancelled")
    sent = add(env, "bob@example.com", "sent", attempts=1)
    other = add(env, "Cat@example.com", "failed", attempts=1)
    result = manage(env, "retry", str(failed), str(cancelled), str(sent), "9999")
    assert result.returncode == 1
    assert result.stdout.startswith("2 notification(s) back to pending")
    assert result.stderr == ("manage.py retry: #%d not retried: it is sent (only failed or cancelled ones can be)\n"
                             "manage.py retry: #9999 not retried: there is no such notification\n" % sent)
    assert rows(env)[other] == ("failed", 1)
    result = manage(env, "retry", "--to", "CAT@example.com")
    assert result.returncode == 0 and result.stdout.startswith("1 failed notification(s) to CAT@example.com")
    assert rows(env)[other] == ("pending", 0)
    assert manage(env, "retry", "1", "--to", "x@example.com").returncode == 2


def test_cancel_by_id_and_by_recipient(env: Env) -> None:
    pending = add(env, "bob@example.com", "pending")
    failed = add(env, "bob@example.com", "failed", attempts=1, error="550 no such user")
    sending = add(env, "Bob@example.com", "sending", attempts=0)
    sent = add(env, "bob@example.com", "sent", attempts=1)
    other = add(env, "cat@example.com", "pending")
    result = manage(env, "cancel", str(failed), str(sending))
    assert result.returncode == 1
    assert result.stdout == "1 notification(s) cancelled\n"
    assert "#%d not cancelled: it is sending (only pending or failed ones can be)" % sending in result.stderr
    assert env.database.scalar("SELECT last_error FROM notifications WHERE id = %s", (failed,)) == \
        "cancelled by manage.py cancel (was: 550 no such user)"
    result = manage(env, "cancel", "--to", "BOB@example.com")
    assert (result.returncode, result.stdout) == (0, "1 pending notification(s) to BOB@example.com cancelled\n")
    assert {k: v[0] for k, v in rows(env).items()} == {
        pending: "cancelled", failed: "cancelled", sending: "sending", sent: "sent", other: "pending"}
    assert manage(env, "cancel").returncode == 2


def test_purge_deletes_only_finished_old_rows(env: Env) -> None:
    old = {s: add(env, "bob@example.com", s, attempts=1, days_old=40) for s in ("sent", "failed", "cancelled")}
    old_pending = add(env, "bob@example.com", "pending", days_old=40)
    old_sending = add(env, "bob@example.com", "sending", days_old=40)
    new_sent = add(env, "bob@example.com", "sent", attempts=1, days_old=1)
    old_in = add_inbound(env, "bob@example.com", "posted", days_old=40)
    kept_in = add_inbound(env, "eve@example.net", "rejected", "stranger", RAW, days_old=40)
    waiting_copy = add(env, "admin@forum.test", "pending")
    env.database.query("UPDATE notifications SET inbound_email_id = %s WHERE id = %s", (kept_in, waiting_copy))
    new_in = add_inbound(env, "cat@example.com", "posted", days_old=1)

    dry = manage(env, "purge", "--older-than", "30", "--dry-run")
    assert dry.returncode == 0
    assert re.match(r"dry run: would delete 3 notification\(s\) \(sent, failed, cancelled\) queued before "
                    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\ndry run: would delete 1 inbound email record\(s\) received "
                    r"before ", dry.stdout)
    assert len(rows(env)) == 7

    result = manage(env, "purge", "--older-than", "30")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("deleted 3 notification(s)")
    assert "deleted 1 inbound email record(s)" in result.stdout
    assert set(rows(env)) == {old_pending, old_sending, new_sent, waiting_copy}
    assert not set(old.values()) & set(rows(env))
    assert {r[0] for r in env.database.query("SELECT id FROM inbound_emails")} == {kept_in, new_in}
    assert old_in not in {r[0] for r in env.database.query("SELECT id FROM inbound_emails")}


def test_purge_keeps_inbound_records_as_long_as_replies_may_be_fetched(env: Env) -> None:
    recent = add_inbound(env, "bob@example.com", "posted", days_old=3)
    sent = add(env, "bob@example.com", "sent", attempts=1, days_old=3)
    result = manage(env, "purge", "--older-than", "2")
    assert result.returncode == 0
    assert "deleted 1 notification(s)" in result.stdout and "deleted 0 inbound" in result.stdout
    assert "kept at least OPTS['replier_max_age_days'] = 7 days" in result.stdout
    assert env.database.scalar("SELECT count(*) FROM inbound_emails WHERE id = %s", (recent,)) == 1
    assert sent not in rows(env)


def test_purge_needs_a_positive_age(env: Env) -> None:
    assert manage(env, "purge").returncode == 2
    result = manage(env, "purge", "--older-than", "0")
    assert result.returncode == 2 and "must be 1 or more" in result.stderr


@pytest.mark.parametrize("days", ["99999999999", "1000000", "36501"])
def test_purge_with_an_absurd_age_is_a_usage_error(env: Env, days: str) -> None:
    # 99999999999 overflowed PostgreSQL's interval, 1000000 reached a year
    # before 1 AD that Python cannot hold: both were tracebacks (exit 1).
    result = manage(env, "purge", "--older-than", days)
    assert result.returncode == 2, result.stderr
    assert "must be from 1 to 36500 (100 years), not %s" % days in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_purge_of_a_century_works(env: Env) -> None:
    result = manage(env, "purge", "--older-than", "36500", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would delete 0 notification(s)" in result.stdout


class ExplainingCursor(psycopg.Cursor[Any]):
    """Runs EXPLAIN before every SELECT and keeps the plans."""

    plans: list[str] = []

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        text = query.decode() if isinstance(query, bytes) else str(query)
        if text.lstrip().upper().startswith(("SELECT", "WITH")):
            with psycopg.Cursor(self.connection) as plain:
                rows = plain.execute(("EXPLAIN " + text).encode(), params).fetchall()
                ExplainingCursor.plans.append("\n".join(r[0] for r in rows))
        return super().execute(query, params, **kwargs)


def test_admin_queries_use_indexes_on_a_big_queue(env: Env) -> None:
    env.database.query(
        "INSERT INTO notifications (kind, recipient, status, attempts, sent_at, last_attempt_at, created_at)"
        " SELECT 'system', 'x' || g || '@example.com', 'sent', 1, now(), now(), now() - make_interval(secs => g)"
        " FROM generate_series(1, 30000) g")
    for status in ("pending", "failed"):
        add(env, "bob@example.com", status, attempts=1, error="4xx/5xx")
    env.database.query("ANALYZE notifications")
    ExplainingCursor.plans = []
    with env.database.connect() as conn:
        conn.cursor_factory = ExplainingCursor
        store.admin.oldest_waiting(conn)
        store.admin.next_retries(conn, 5)
        store.admin.recent_failures(conn, 5)
        for status in ("pending", "sending", "failed", "sent", None):
            store.admin.list_notifications(conn, status, None, 50)
        store.admin.list_notifications(conn, None, "Bob@Example.com", 50)
    assert len(ExplainingCursor.plans) == 9
    for plan in ExplainingCursor.plans:
        assert "Seq Scan on notifications" not in plan, plan


# --- docs and formatting ---------------------------------------------------

COMMANDS = ["init-db", "check", "test-email", "queue", "inbound", "retry", "cancel", "purge"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_option_is_in_the_commands_page(command: str) -> None:
    result = run_script("manage.py", command, "--help")
    assert result.returncode == 0
    section = (ROOT / "docs" / "commands.md").read_text().split("## `manage.py`", 1)[1]
    assert "| `%s" % command in section
    for option in set(re.findall(r"(--[a-z][a-z-]+)", result.stdout)) - {"--help"}:
        assert "`%s" % option in section, "manage.py %s %s is not documented" % (command, option)


def test_ages_and_tables_for_people() -> None:
    assert [report.age(s) for s in (0, 59, 60, 3600, 3 * 3600 + 12 * 60, 86400, 2 * 86400 + 3 * 3600)] == [
        "0 s", "59 s", "1 min", "1 h", "3 h 12 min", "1 d", "2 d 3 h"]
    assert report.table(["id", "recipient", "last error"], [[7, "bob@example.com", None], [12, "a@b.c", "550\nno"]]) \
        == "id  recipient        last error\n 7  bob@example.com  -\n12  a@b.c            550\\nno"
    assert report.one_line("x" * 50, 10) == "xxxxxxx..."

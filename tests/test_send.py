"""send_notifications.py end to end: real PostgreSQL, real SMTP, run as cron runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from email import message_from_bytes, policy

import psycopg
import pytest

from forummail import store
from tests.conftest import ROOT, Env, Forum, clean_env, run_script
from tests.servers import SmtpServer, free_port


def due_now(env: Env) -> None:
    """Skip the back-off wait: make every waiting row due."""
    env.database.query("UPDATE notifications SET next_attempt_at = now() WHERE status = 'pending'")


def test_message_goes_to_followers_except_author(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    forum.post(small_forum["task"], small_forum["ann"], "The new nodes arrive on Monday.")
    result = env.run("send_notifications.py")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    got = sorted(r for m in env.smtp.messages for r in m.recipients)
    assert got == ["bob@example.com", "cat@example.com"]
    msg = message_from_bytes(env.smtp.messages[0].data, policy=policy.default)
    assert msg["From"] == "Ann Author <noreply@forum.test>"
    assert "The new nodes arrive on Monday." in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    rows = env.database.query("SELECT status, attempts, message_id_header, sent_at IS NOT NULL FROM notifications")
    assert all(r[0] == "sent" and r[1] == 1 and r[2].startswith("<") and r[3] for r in rows)
    assert {r[2] for r in rows} == {m["Message-ID"] for m in
                                    (message_from_bytes(x.data, policy=policy.default) for x in env.smtp.messages)}
    assert "sent to bob@example.com" in env.log


def test_nothing_to_do_is_silent(env: Env) -> None:
    result = env.run("send_notifications.py")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_verbose_prints_a_summary(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    forum.post(small_forum["task"], small_forum["ann"], "hi")
    result = env.run("send_notifications.py", "-v")
    assert result.returncode == 0
    assert "sent 2, to retry 0, failed 0, cancelled 0" in result.stdout


def test_smtp_down_exits_75_and_loses_nothing(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    forum.post(small_forum["task"], small_forum["ann"], "hi")
    env.configure(opts={"smtp_port": free_port()})
    result = env.run("send_notifications.py")
    assert result.returncode == 75
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot connect to SMTP server 127.0.0.1" in lines[0]
    assert "Traceback" not in result.stderr
    rows = env.database.query("SELECT status, attempts, next_attempt_at <= now() FROM notifications"
                              " WHERE kind = 'message'")
    assert rows == [("pending", 0, True)] * 2
    # MAIL_ADMIN is told, through the queue, since SMTP itself is down.
    assert forum.alerts() == [("pending", "[forummail] send_notifications.py could not run")]
    env.configure()
    assert env.run("send_notifications.py").returncode == 0
    assert sorted(r for m in env.smtp.messages for r in m.recipients) == [
        "admin@forum.test", "bob@example.com", "cat@example.com"]


@pytest.fixture(params=[False, True], ids=["one-at-a-time", "pipelined"])
def pipelining(request: pytest.FixtureRequest, env: Env) -> bool:
    """A server without PIPELINING, and one with it (RFC 2920), as Postfix and the big providers offer."""
    env.smtp.behaviour.pipelining = bool(request.param)
    return bool(request.param)


def test_pipelining_is_used_where_offered(env: Env, forum: Forum, small_forum: dict[str, int],
                                         pipelining: bool) -> None:
    forum.post(small_forum["task"], small_forum["ann"], "one")
    forum.post(small_forum["task"], small_forum["ann"], "two")
    assert env.run("send_notifications.py").returncode == 0
    assert forum.statuses() == {"sent": 4}
    # MAIL FROM came with RCPT TO and DATA behind it, in one write, only where offered.
    assert env.smtp.handler.pipelined == (4 if pipelining else 0)


def test_4xx_is_retried_later_then_sent(
        env: Env, forum: Forum, small_forum: dict[str, int], pipelining: bool) -> None:
    forum.post(small_forum["task"], small_forum["ann"], "hi")
    env.smtp.behaviour.data.extend(["451 4.3.0 try again later"] * 2)
    result = env.run("send_notifications.py")
    assert result.returncode == 0
    assert "451 4.3.0 try again later" in result.stderr  # a warning cron may mail
    rows = env.database.query("SELECT status, attempts, last_error, next_attempt_at > now() + interval '40 s'"
                              " FROM notifications")
    assert rows == [("pending", 1, "451 4.3.0 try again later", True)] * 2
    assert env.run("send_notifications.py").returncode == 0
    assert env.smtp.messages == []  # not due yet: back-off
    due_now(env)
    assert env.run("send_notifications.py").returncode == 0
    assert len(env.smtp.messages) == 2
    assert env.database.query("SELECT DISTINCT status, attempts, last_error FROM notifications") == [("sent", 2, None)]


def test_backoff_grows_and_gives_up(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    env.configure(opts={"send_max_attempts": 3, "send_retry_seconds": 100})
    forum.post(small_forum["task"], small_forum["ann"], "hi")
    delays = []
    for _ in range(3):
        env.smtp.behaviour.data.extend(["452 4.2.2 mailbox full"] * 2)
        env.run("send_notifications.py")
        delays.append(env.database.scalar(
            "SELECT min(extract(epoch FROM next_attempt_at - last_attempt_at)) FROM notifications"))
        due_now(env)
    assert 80 < delays[0] < 120 and 170 < delays[1] < 230
    rows = env.database.query("SELECT status, attempts, last_error FROM notifications")
    assert rows == [("failed", 3, "gave up after 3 attempts; last: 452 4.2.2 mailbox full")] * 2


def test_5xx_fails_at_once_with_the_servers_words(
        env: Env, forum: Forum, small_forum: dict[str, int], pipelining: bool) -> None:
    forum.post(small_forum["task"], small_forum["ann"], "hi")
    env.smtp.behaviour.rcpt["bob@example.com"] = "550 5.1.1 <bob@example.com>: no such user"
    result = env.run("send_notifications.py")
    assert result.returncode == 0
    rows = dict(env.database.query("SELECT recipient, status || ' ' || attempts || ' ' || last_error"
                                   " FROM notifications WHERE status <> 'sent'"))
    assert rows == {"bob@example.com":
                    "failed 1 recipient refused: 550 5.1.1 <bob@example.com>: no such user"}
    assert [m.recipients for m in env.smtp.messages] == [["cat@example.com"], ["admin@forum.test"]]
    alert = message_from_bytes(env.smtp.messages[1].data, policy=policy.default)
    assert alert["Subject"] == "[forummail] 1 notification(s) failed permanently"
    assert "no such user" in alert.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # At most one alert of a kind per hour.
    forum.post(small_forum["task"], small_forum["ann"], "again")
    assert env.run("send_notifications.py").returncode == 0
    assert [m.recipients for m in env.smtp.messages][2:] == [["cat@example.com"]]


def test_552_to_rcpt_is_retried_as_too_many_recipients(
        env: Env, forum: Forum, small_forum: dict[str, int], pipelining: bool) -> None:
    # RFC 5321 section 4.5.3.1.10: 552 to RCPT TO is RFC 821's "too many
    # recipients"; clients SHOULD treat it as temporary.
    forum.post(small_forum["task"], small_forum["ann"], "hi")
    env.smtp.behaviour.rcpt["bob@example.com"] = "552 5.5.3 too many recipients"
    assert env.run("send_notifications.py").returncode == 0
    rows = dict(env.database.query("SELECT recipient, status || ' ' || attempts || ' ' || coalesce(last_error, '')"
                                   " FROM notifications"))
    assert rows == {"bob@example.com": "pending 1 recipient refused: 552 5.5.3 too many recipients",
                    "cat@example.com": "sent 1 "}
    del env.smtp.behaviour.rcpt["bob@example.com"]
    due_now(env)
    assert env.run("send_notifications.py").returncode == 0
    assert forum.statuses() == {"sent": 2}


def test_421_closes_the_channel_and_the_next_mail_goes_on_a_new_connection(
        env: Env, forum: Forum, small_forum: dict[str, int], pipelining: bool) -> None:
    # RFC 5321 section 3.8: after 421 the server closes the channel; the
    # refused mail is retried, the next one must not pay for it.
    forum.post(small_forum["task"], small_forum["ann"], "hi")
    env.smtp.behaviour.mail_from.append("421 4.7.0 too busy, closing")
    assert env.run("send_notifications.py").returncode == 0
    rows = env.database.query("SELECT status, attempts, last_error FROM notifications ORDER BY status")
    assert rows == [("pending", 1, "sender refused: 421 4.7.0 too busy, closing"), ("sent", 1, None)]


def test_5xx_on_data_fails_row_batch_goes_on(
        env: Env, forum: Forum, small_forum: dict[str, int], pipelining: bool) -> None:
    forum.post(small_forum["task"], small_forum["ann"], "one")
    forum.post(small_forum["task"], small_forum["ann"], "two")
    env.smtp.behaviour.data.append("554 5.7.1 message rejected as spam")
    assert env.run("send_notifications.py").returncode == 0
    assert forum.statuses() == {"failed": 1, "sent": 3}
    assert env.database.scalar("SELECT last_error FROM notifications WHERE status = 'failed'") == \
        "554 5.7.1 message rejected as spam"


def test_dropped_connection_is_retried_and_the_run_goes_on(
        env: Env, forum: Forum, small_forum: dict[str, int], pipelining: bool) -> None:
    forum.post(small_forum["task"], small_forum["ann"], "one")
    forum.post(small_forum["task"], small_forum["ann"], "two")
    env.smtp.behaviour.data.append("drop")
    assert env.run("send_notifications.py").returncode == 0
    assert forum.statuses() == {"pending": 1, "sent": 3}
    assert "connection lost" in env.database.scalar("SELECT last_error FROM notifications WHERE status='pending'")
    due_now(env)
    assert env.run("send_notifications.py").returncode == 0
    assert forum.statuses() == {"sent": 4}


def test_two_runs_at_once_send_nothing_twice(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    env.configure(opts={"send_batch_size": 7})
    for i in range(150):
        forum.post(small_forum["task"], small_forum["ann"], "message %d" % i)
    env.smtp.behaviour.delay = 0.001
    procs = [subprocess.Popen([sys.executable, str(ROOT / "send_notifications.py"), "--conf", str(env.conf)],
                              env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert (p.returncode, out, err) == (0, b"", b"")
    ids = [message_from_bytes(m.data, policy=policy.default)["Message-ID"] for m in env.smtp.messages]
    assert len(ids) == 300 and len(set(ids)) == 300
    assert forum.statuses() == {"sent": 300}
    runs = env.database.scalar("SELECT count(DISTINCT claimed_by) FROM notifications")
    assert runs >= 2  # they really shared the queue


def test_much_to_send_forks_a_process_per_connection_and_sends_each_once(
        env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    env.configure(opts={"send_batch_size": 10, "smtp_max_connections": 3, "send_processes": 3})
    for i in range(60):
        forum.post(small_forum["task"], small_forum["ann"], "message %d" % i)
    env.smtp.behaviour.delay = 0.002
    result = env.run("send_notifications.py", "-v")
    assert result.returncode == 0 and ": WARNING: " not in result.stderr and ": ERROR: " not in result.stderr
    assert result.stdout.startswith("sent 120, to retry 0, failed 0, cancelled 0")  # the children's counts too
    ids = [message_from_bytes(m.data, policy=policy.default)["Message-ID"] for m in env.smtp.messages]
    assert len(ids) == 120 and len(set(ids)) == 120
    assert forum.statuses() == {"sent": 120}
    assert len(_sending_processes(env)) == 3  # three processes logged mail they sent
    assert env.database.scalar("SELECT count(DISTINCT claimed_by) FROM notifications") == 3


def test_one_process_when_told_or_when_there_is_little(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    for processes, posts in ((1, 30), (3, 4)):
        env.configure(opts={"send_batch_size": 10, "smtp_max_connections": 3, "send_processes": processes})
        for i in range(posts):
            forum.post(small_forum["task"], small_forum["ann"], "message %d" % i)
        assert env.run("send_notifications.py").returncode == 0
    assert forum.statuses() == {"sent": 68}
    assert len(_sending_processes(env)) == 2  # one process per run


def test_sigterm_reaches_every_sending_process(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    env.configure(opts={"send_batch_size": 10, "smtp_max_connections": 2, "send_processes": 2})
    for i in range(100):
        forum.post(small_forum["task"], small_forum["ann"], "message %d" % i)
    env.smtp.behaviour.delay = 0.05
    _sigterm_after(env, 6)  # to the parent only, as `kill PID` does
    time.sleep(0.5)
    sent = len(env.smtp.messages)
    statuses = forum.statuses()
    assert statuses.get("sending", 0) <= 2  # at most the one in flight of each process keeps its lease
    assert statuses["pending"] >= 200 - sent - 2
    time.sleep(0.5)
    assert len(env.smtp.messages) == sent  # no child went on sending


def test_a_sending_process_stopped_alone_is_counted_and_said(
        env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    env.configure(opts={"send_batch_size": 10, "smtp_max_connections": 2, "send_processes": 2})
    for i in range(100):
        forum.post(small_forum["task"], small_forum["ann"], "message %d" % i)
    env.smtp.behaviour.delay = 0.02
    proc = subprocess.Popen([sys.executable, str(ROOT / "send_notifications.py"), "--conf", str(env.conf), "-v"],
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    child: set[str] = set()
    while not child and time.monotonic() < deadline:
        child = _sending_processes(env) - {str(proc.pid)}
        time.sleep(0.01)
    assert child, "no second sending process logged a mail"
    os.kill(int(child.pop()), signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    # The parent finishes its share, says the child was stopped, and exits 75.
    assert proc.returncode == 75 and "a sending process was interrupted" in err
    statuses = forum.statuses()
    assert statuses.get("sending", 0) <= 1  # the child's mail in flight, at most
    assert out == ""  # -v prints the summary only when the run ends well
    # Every mail the server took is recorded, but the one the signal caught after its data.
    assert statuses["sent"] <= len(env.smtp.messages) <= statuses["sent"] + statuses.get("sending", 0)


def test_killed_run_leaves_its_rows_to_the_next_after_the_lease(
        env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    env.configure(opts={"send_batch_size": 50, "send_lease_seconds": 60})
    for i in range(20):
        forum.post(small_forum["task"], small_forum["ann"], "message %d" % i)
    env.smtp.behaviour.delay = 0.05
    proc = subprocess.Popen([sys.executable, str(ROOT / "send_notifications.py"), "--conf", str(env.conf)],
                            env=clean_env())
    deadline = time.monotonic() + 30
    while len(env.smtp.messages) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    sent_before = len(env.smtp.messages)
    assert 5 <= sent_before < 40
    statuses = forum.statuses()
    assert statuses.get("sending", 0) >= 40 - sent_before - 1
    # Within the lease another run leaves them alone.
    assert env.run("send_notifications.py").returncode == 0
    assert len(env.smtp.messages) == sent_before
    # The lease ends (simulated: moved into the past): the next run takes them.
    env.database.query("UPDATE notifications SET next_attempt_at = now() - interval '1 s' WHERE status = 'sending'")
    assert env.run("send_notifications.py").returncode == 0
    assert forum.statuses() == {"sent": 40}
    ids = [message_from_bytes(m.data, policy=policy.default)["Message-ID"] for m in env.smtp.messages]
    assert len(set(ids)) == 40 and len(ids) - 40 <= 1  # at most the one in flight twice
    reclaimed = env.database.scalar("SELECT count(*) FROM notifications WHERE attempts = 2")
    assert reclaimed >= 40 - sent_before - 1


def _sigterm_after(env: Env, mails: int) -> None:
    """Start a run, SIGTERM it once the server has ``mails`` mails: it says so and exits 75."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "send_notifications.py"), "--conf", str(env.conf)],
                            env=clean_env(), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while len(env.smtp.messages) < mails and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 75 and "interrupted" in err


def _sending_processes(env: Env) -> set[str]:
    """The pids in the log file's lines of mail sent."""
    return {line.split("[", 1)[1].split("]", 1)[0] for line in env.log.splitlines() if " sent to " in line}


def test_sigterm_gives_claimed_rows_back(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    for i in range(20):
        forum.post(small_forum["task"], small_forum["ann"], "message %d" % i)
    env.smtp.behaviour.delay = 0.05
    _sigterm_after(env, 3)
    statuses = forum.statuses()
    assert statuses.get("sending", 0) <= 1  # only the one in flight keeps its lease
    assert statuses["pending"] >= 30


def test_dry_run_sends_and_changes_nothing(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    forum.post(small_forum["task"], small_forum["ann"], "dry body text")
    before = env.database.query("SELECT * FROM notifications ORDER BY id")
    result = env.run("send_notifications.py", "--dry-run")
    assert result.returncode == 0
    assert "would send notification" in result.stdout and "dry body text" in result.stdout
    assert "nothing was sent" in result.stdout
    assert env.smtp.messages == []
    assert env.database.query("SELECT * FROM notifications ORDER BY id") == before


def test_limit(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    for i in range(5):
        forum.post(small_forum["task"], small_forum["ann"], "m%d" % i)
    assert env.run("send_notifications.py", "--limit", "3").returncode == 0
    assert len(env.smtp.messages) == 3
    assert forum.statuses() == {"sent": 3, "pending": 7}
    assert env.run("send_notifications.py", "--limit", "0").returncode == 2


def test_cancelled_inactive_recipient_and_deleted_message(
        env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    mid = forum.post(small_forum["task"], small_forum["ann"], "hi")
    forum.conn.execute("UPDATE users SET active = false WHERE id = %s", (small_forum["bob"],))
    forum.post(small_forum["task"], small_forum["ann"], "second")
    forum.conn.execute("DELETE FROM messages WHERE id = %s", (mid,))
    assert env.run("send_notifications.py").returncode == 0
    rows = env.database.query("SELECT recipient, status, last_error FROM notifications ORDER BY id")
    assert rows[0][1:] == ("cancelled", "the forum message was deleted before it was sent")
    assert rows[1][1:] == ("cancelled", "the forum message was deleted before it was sent")
    assert rows[2] == ("cat@example.com", "sent", None)
    # Bob became inactive before the second message: he was never queued for it.
    assert len(rows) == 3


def test_inactive_after_queueing_is_cancelled(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    forum.post(small_forum["task"], small_forum["ann"], "hi")
    forum.conn.execute("UPDATE users SET active = false WHERE id = %s", (small_forum["bob"],))
    assert env.run("send_notifications.py").returncode == 0
    assert dict(env.database.query("SELECT recipient, status FROM notifications")) == {
        "bob@example.com": "cancelled", "cat@example.com": "sent"}


def test_system_mail_through_enqueue_email(env: Env, forum: Forum) -> None:
    forum.conn.execute("SELECT enqueue_email('new@example.com', 'You are invited', 'Join us', 'invite')")
    assert env.run("send_notifications.py").returncode == 0
    msg = message_from_bytes(env.smtp.messages[0].data, policy=policy.default)
    assert msg["Subject"] == "You are invited" and msg["X-Notification-Type"] == "invite"
    with pytest.raises(psycopg.errors.RaiseException, match="line breaks"):
        forum.conn.execute("SELECT enqueue_email('a@b.c', E'x\\r\\nBcc: v@x', 'b', 'k')")


def test_debug_sends_everything_to_admin(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    env.configure(top={"DEBUG": True})
    forum.post(small_forum["task"], small_forum["ann"], "hi")
    assert env.run("send_notifications.py").returncode == 0
    assert [m.recipients for m in env.smtp.messages] == [["admin@forum.test"]] * 2
    assert forum.statuses() == {"sent": 2}


def test_auth_login_and_passwords_never_printed(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    server = SmtpServer(login="mailer", password="Smtp-Pa55-word").start()
    try:
        env.smtp = server
        env.configure(top={"MAIL_LOGIN": "mailer"}, opts={"smtp_port": server.port},
                      env={"MAIL_PSSWD": "Smtp-Pa55-word"})
        forum.post(small_forum["task"], small_forum["ann"], "hi")
        result = env.run("send_notifications.py", "-v")
        assert result.returncode == 0, result.stderr
        assert server.logins == ["mailer"] and len(server.messages) == 2
        forum.post(small_forum["task"], small_forum["ann"], "again")
        env.configure(top={"MAIL_LOGIN": "mailer"}, opts={"smtp_port": server.port},
                      env={"MAIL_PSSWD": "Wrong-Pa55-word"})
        bad = env.run("send_notifications.py", "-v")
        assert bad.returncode == 75
        assert "refused the login of 'mailer'" in bad.stderr and "MAIL_PSSWD" in bad.stderr
        assert forum.statuses() == {"sent": 2, "pending": 2}
        for text in (result.stdout, result.stderr, bad.stdout, bad.stderr, env.log):
            assert "Smtp-Pa55-word" not in text and "Wrong-Pa55-word" not in text
    finally:
        server.stop()


def test_database_down_exits_75(env: Env) -> None:
    env.configure(top={"DB_PORT": free_port(), "DB_PSWD": "Db-Secret-99"})
    result = env.run("send_notifications.py")
    assert result.returncode == 75
    assert "cannot connect to database" in result.stderr
    assert "Db-Secret-99" not in result.stderr and "Traceback" not in result.stderr


def test_uninitialised_schema_says_run_init_db(env: Env) -> None:
    env.configure(top={"DB_SCHEMA": "elsewhere"})
    result = env.run("send_notifications.py")
    assert result.returncode == 78
    assert "run manage.py init-db" in result.stderr
    init = env.run("manage.py", "init-db")
    assert init.returncode == 0 and "applied 001_initial.sql" in init.stdout
    again = env.run("manage.py", "init-db")
    assert again.returncode == 0 and "up to date" in again.stdout
    assert env.run("send_notifications.py").returncode == 0


def test_claim_uses_the_index_not_a_scan(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    forum.conn.execute(
        "INSERT INTO notifications (kind, recipient, status, sent_at)"
        " SELECT 'system', 'x' || g || '@example.com', 'sent', now() FROM generate_series(1, 20000) g")
    forum.conn.execute("INSERT INTO notifications (kind, recipient) VALUES ('system', 'due@example.com')")
    forum.conn.execute("ANALYZE notifications")
    with forum.conn.transaction():
        plan = "\n".join(r[0] for r in forum.conn.execute(
            "EXPLAIN " + store.outgoing._CLAIM, {"limit": 100, "lease": 300, "run": "x"}).fetchall())
    assert "notifications_due" in plan
    assert "Seq Scan on notifications" not in plan


def test_script_runs_from_another_directory_via_cron_conf(env: Env, forum: Forum,
                                                          small_forum: dict[str, int], tmp_path: object) -> None:
    forum.post(small_forum["task"], small_forum["ann"], "hi")
    result = subprocess.run([sys.executable, str(ROOT / "send_notifications.py")], cwd="/",
                            env=clean_env({"CRON_CONF": str(env.conf)}), capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (0, "")
    assert len(env.smtp.messages) == 2


def test_unknown_option_exits_2() -> None:
    result = run_script("send_notifications.py", "--bogus")
    assert result.returncode == 2 and "usage:" in result.stderr

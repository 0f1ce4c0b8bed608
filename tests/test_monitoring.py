"""Digests, mail for the administrators, alerts, metrics and the progress bar."""

from __future__ import annotations

import io
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from forummail.progress import Progress
from tests.conftest import Env, Forum


def parsed(env: Env) -> list[EmailMessage]:
    out = []
    for m in env.smtp.messages:
        msg = message_from_bytes(m.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def test_daily_digest_gathers_a_users_notifications(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    forum.conn.execute("UPDATE users SET digest_hours = 24 WHERE id = %s", (small_forum["bob"],))
    other = forum.task(small_forum["universe"], "Cooling plan", [small_forum["ann"], small_forum["bob"]])
    forum.post(small_forum["task"], small_forum["ann"], "first news")
    forum.post(other, small_forum["ann"], "cooling news")
    forum.post(small_forum["task"], small_forum["cat"], "second news")
    assert env.run("send_notifications.py").returncode == 0
    # Cat got hers at once; Bob's wait for his digest.
    assert sorted(r for m in env.smtp.messages for r in m.recipients) == ["ann@example.com", "cat@example.com"]
    assert forum.conn.execute("SELECT count(*) FROM notifications WHERE digest AND status = 'pending'"
                              ).fetchone() == (3,)
    # A day later the oldest is due: all three go in one mail.
    forum.conn.execute("UPDATE notifications SET next_attempt_at = now(), created_at = now() - interval '1 day'"
                       " WHERE id = (SELECT min(id) FROM notifications WHERE digest)")
    env.smtp.received.clear()
    assert env.run("send_notifications.py").returncode == 0
    assert [m.recipients for m in env.smtp.messages] == [["bob@example.com"]]
    digest = parsed(env)[0]
    assert digest["Subject"] == "Forum digest: 3 new messages in 2 tasks"
    assert digest["X-Notification-Type"] == "digest"
    assert digest["References"] == "<task.%d@forum.test> <task.%d@forum.test>" % (small_forum["task"], other)
    text = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    for needed in ("first news", "cooling news", "second news", "[#%d] Cooling plan" % other,
                   "Answer in this task by email: mailto:replies+"):
        assert needed in text, needed
    assert text.count("mailto:replies+") == 2  # one reply link per task
    assert forum.conn.execute("SELECT DISTINCT status FROM notifications WHERE digest").fetchall() == [("sent",)]


def test_system_mail_without_recipient_goes_to_the_administrators(env: Env, forum: Forum) -> None:
    forum.conn.execute("SELECT enqueue_email('', 'Disk almost full', 'The file storage is 95% full.', 'alert')")
    assert env.run("send_notifications.py").returncode == 0
    assert [m.recipients for m in env.smtp.messages] == [["admin@forum.test"]]
    assert parsed(env)[0]["Subject"] == "Disk almost full"


def test_metrics_textfile_per_run(env: Env, forum: Forum, small_forum: dict[str, int], tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    env.configure(opts={"metrics_dir": str(metrics)})
    forum.post(small_forum["task"], small_forum["ann"], "hi")
    env.smtp.behaviour.rcpt["cat@example.com"] = "550 no such user"
    assert env.run("send_notifications.py").returncode == 0
    text = (metrics / "forummail_send.prom").read_text()
    assert 'forummail_run_items{job="send",outcome="sent"} 1' in text
    assert 'forummail_run_items{job="send",outcome="failed"} 1' in text
    assert 'forummail_last_exit_code{job="send"} 0' in text
    success = re.search(r'forummail_last_success_timestamp_seconds\{job="send"\} (\S+)', text)
    assert success and float(success.group(1)) > 0
    assert [p.name for p in metrics.iterdir()] == ["forummail_send.prom"]  # no temporary file left
    # A failing run keeps the last success, so an alert on its age fires.
    env.configure(opts={"metrics_dir": str(metrics), "smtp_port": 1})
    forum.post(small_forum["task"], small_forum["ann"], "again")
    assert env.run("send_notifications.py").returncode == 75
    failed = (metrics / "forummail_send.prom").read_text()
    assert 'forummail_last_exit_code{job="send"} 75' in failed
    assert "forummail_last_success_timestamp_seconds{job=\"send\"} %s" % success.group(1) in failed
    # Two notifications wait, and the alert about SMTP being down.
    assert 'forummail_queue_waiting{job="send"} 3.000' in failed


def test_alerts_carry_no_secret(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    env.configure(top={"MAIL_LOGIN": "mailer"}, opts={"smtp_port": 1}, env={"MAIL_PSSWD": "Alert-Secret-42"})
    forum.post(small_forum["task"], small_forum["ann"], "hi")
    result = env.run("send_notifications.py")
    assert result.returncode == 75
    rows = forum.conn.execute("SELECT subject || body FROM notifications WHERE kind = 'admin-alert'").fetchall()
    assert len(rows) == 1 and "Alert-Secret-42" not in rows[0][0]
    # Throttled: the next failing run within the hour adds none.
    assert env.run("send_notifications.py").returncode == 75
    assert len(forum.alerts()) == 1


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_and_for_long_runs() -> None:
    quiet = io.StringIO()
    bar = Progress(5000, quiet)
    bar(100)
    bar.close()
    assert quiet.getvalue() == ""
    short = _Tty()
    Progress(10, short)(10)
    assert short.getvalue() == ""
    tty = _Tty()
    bar = Progress(1000, tty)
    bar(1000)
    bar.close()
    assert "1000/1000 100%" in tty.getvalue() and tty.getvalue().startswith("\rsending [")


def test_alerts_are_throttled_without_a_database_too(env: Env, tmp_path: Path) -> None:
    # PostgreSQL down: the throttle lives in a file beside the settings, replaced
    # atomically (never written through a planted link).
    env.configure(top={"DB_PORT": 1})
    for _ in range(2):
        assert env.run("send_notifications.py").returncode == 75
    assert [m.recipients for m in env.smtp.messages] == [["admin@forum.test"]]
    state = list(env.conf.parent.glob(".forummail-alerts-*.json"))
    assert len(state) == 1 and not state[0].is_symlink() and "database-down" in state[0].read_text()

"""Only valid recipient addresses reach SMTP: real PostgreSQL, real aiosmtpd, the real scripts."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from email import message_from_string, policy
from email.message import EmailMessage

import pytest

from tests.conftest import Env, Forum
from tests.servers import SmtpServer

BAD = {
    "not-an-address": "An email address must have an @-sign.",
    "two@at@example.com": "invalid characters: '@'",
    "ann smith@example.com": "invalid characters before the @-sign: SPACE",
    "dan@-bad-.example.com": "hyphen",
    "x" * 65 + "@example.com": "too long before the @-sign",
    "cy@x.test\r\nBcc: victim@example.com": r"<cy@x.test\r\nBcc: victim@example.com> is not a valid",
    "dy@x.test>\r\nRCPT TO:<victim@example.com": r"<dy@x.test>\r\nRCPT TO:<victim@example.com> is not a valid",
}


@pytest.fixture
def ascii_smtp() -> Iterator[SmtpServer]:
    """A server that does not offer SMTPUTF8."""
    server = SmtpServer(smtputf8=False).start()
    yield server
    server.stop()


def parse(data: bytes) -> EmailMessage:
    # UTF-8 headers (RFC 6532) as a client of an SMTPUTF8 server reads them.
    return message_from_string(data.decode("utf-8"), policy=policy.SMTPUTF8)


def forum_with(forum: Forum, *emails: str) -> tuple[int, int]:
    """A task followed by Ann (the author) and one user per address; returns (task, ann)."""
    u = forum.universe("Studio", allow_email_reply=True)
    ann = forum.user(u, "Ann Author", "ann@example.com")
    users = [forum.user(u, "User %d" % i, e) for i, e in enumerate(emails)]
    return forum.task(u, "Render farm upgrade", [ann, *users]), ann


def rows(env: Env) -> dict[str, tuple[str, int, str | None]]:
    return {r[0]: (r[1], r[2], r[3]) for r in env.database.query(
        "SELECT recipient, status, attempts, last_error FROM notifications WHERE kind = 'message'")}


def test_invalid_recipients_fail_at_once_without_any_smtp_command(env: Env, forum: Forum) -> None:
    task, ann = forum_with(forum, "bob@example.com", *BAD)
    forum.post(task, ann, "The new nodes arrive on Monday.")
    # System mail queued by the host is queued too (the host's data is the host's).
    env.database.query("SELECT enqueue_email('root', 'Password reset', 'Your link', 'password-reset')")
    result = env.run("send_notifications.py", "-v")
    assert result.returncode == 0, result.stderr
    assert "sent 1, to retry 0, failed 8, cancelled 0" in result.stdout
    # Only Bob's mail and MAIL_ADMIN's alert were ever offered to the server.
    # (Bob's notification leaves with its tagged bounce address; the alert from MAIL_FROM.)
    commands = [re.sub(r"bounces-[0-9a-f]+\.[a-z2-7]{16}", "bounces-TAG", c) for c in env.smtp.handler.commands]
    assert commands == ["MAIL replies+bounces-TAG@forum.test", "RCPT bob@example.com",
                        "MAIL noreply@forum.test", "RCPT admin@forum.test"]
    for mail in env.smtp.messages:
        head = mail.data.split(b"\r\n\r\n")[0]
        assert b"victim" not in head and not [h for h in head.split(b"\r\n") if h.lower().startswith(b"bcc")]
    got = rows(env)
    assert got.pop("bob@example.com") == ("sent", 1, None)
    for address, why in BAD.items():
        status, attempts, error = got.pop(address)
        assert (status, attempts) == ("failed", 1), address
        assert error is not None and why in error and "\n" not in error, (address, error)
        assert error.startswith("recipient <"), error
    assert got == {}
    system = env.database.query("SELECT status, last_error FROM notifications WHERE kind = 'password-reset'")
    assert system == [("failed", "recipient <root> is not a valid email address: "
                                 "An email address must have an @-sign.; not sent")]
    # Failed like any permanent failure: MAIL_ADMIN hears of it.
    alert = parse(env.smtp.messages[-1].data)
    assert alert["Subject"] == "[forummail] 8 notification(s) failed permanently"
    assert r"to cy@x.test\r\nBcc: victim@example.com: recipient <" in alert.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # No retry: a second run has nothing to do.
    env.smtp.handler.commands.clear()
    assert env.run("send_notifications.py").returncode == 0
    assert env.smtp.handler.commands == []


def test_line_breaks_are_shown_escaped_in_the_log_and_queue_list(env: Env, forum: Forum) -> None:
    task, ann = forum_with(forum, "cy@x.test\r\nBcc: victim@example.com")
    forum.post(task, ann, "hi")
    result = env.run("send_notifications.py")
    assert result.returncode == 0
    # One event per line: no log line starts with what the address smuggled in.
    assert r"cy@x.test\r\nBcc: victim@example.com" in env.log
    assert not [line for line in env.log.splitlines() if line.startswith("Bcc:")]
    assert not [line for line in result.stderr.splitlines() if line.startswith("Bcc:")]
    listed = env.run("manage.py", "queue", "--list", "--status", "failed")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert len(lines) == 2, listed.stdout  # the header and one row
    assert r"cy@x.test\r\nBcc: victim@example.com  message  failed" in lines[1]
    assert r"recipient <cy@x.test\r\nBcc: victim@example.com> is not a valid email address" in lines[1]
    summary = env.run("manage.py", "queue")
    assert not [line for line in summary.stdout.splitlines() if line.startswith("Bcc:")]


def test_an_internationalised_domain_goes_as_idna(env: Env, forum: Forum) -> None:
    task, ann = forum_with(forum, "bob@bücher.example")
    forum.post(task, ann, "hi")
    result = env.run("send_notifications.py")
    assert (result.returncode, result.stderr) == (0, "")
    [mail] = env.smtp.messages
    assert mail.recipients == ["bob@xn--bcher-kva.example"]
    assert "SMTPUTF8" not in mail.mail_options
    head = mail.data.split(b"\r\n\r\n")[0]
    assert head.isascii() and b"To: User 0 <bob@xn--bcher-kva.example>" in head
    assert rows(env)["bob@bücher.example"][0] == "sent"


def test_a_non_ascii_local_part_fails_where_the_server_offers_no_smtputf8(env: Env, forum: Forum,
                                                                           ascii_smtp: SmtpServer) -> None:
    env.configure(opts={"smtp_port": ascii_smtp.port})
    task, ann = forum_with(forum, "jörg@exämple.de", "bob@example.com")
    forum.post(task, ann, "hi")
    result = env.run("send_notifications.py")
    assert result.returncode == 0
    status, attempts, error = rows(env)["jörg@exämple.de"]
    assert (status, attempts) == ("failed", 1)
    assert error == ("<jörg@xn--exmple-cua.de> has a non-ASCII local part and SMTP server 127.0.0.1:%d does not "
                     "offer SMTPUTF8 (RFC 6531): it cannot be sent there" % ascii_smtp.port)
    assert "cannot render" not in error
    # Nothing of Jörg's mail was said to the server; Bob's went.
    assert [c for c in ascii_smtp.handler.commands if c.startswith("RCPT")] == [
        "RCPT bob@example.com", "RCPT admin@forum.test"]


def test_a_non_ascii_local_part_goes_with_smtputf8(env: Env, forum: Forum) -> None:
    task, ann = forum_with(forum, "jörg@exämple.de")
    forum.post(task, ann, "Grüße")
    result = env.run("send_notifications.py")
    assert (result.returncode, result.stderr) == (0, "")
    [mail] = env.smtp.messages
    assert mail.recipients == ["jörg@xn--exmple-cua.de"]
    assert "SMTPUTF8" in mail.mail_options
    msg = parse(mail.data)
    assert msg["To"].addresses[0].addr_spec == "jörg@xn--exmple-cua.de"
    assert msg["To"].addresses[0].display_name == "User 0"
    assert "Grüße" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert rows(env)["jörg@exämple.de"][0] == "sent"


def test_debug_redirection_fails_an_invalid_recipient_too(env: Env, forum: Forum) -> None:
    env.configure(top={"DEBUG": True})
    task, ann = forum_with(forum, "not-an-address", "bob@bücher.example")
    forum.post(task, ann, "hi")
    assert env.run("send_notifications.py").returncode == 0
    got = rows(env)
    assert got["not-an-address"][0] == "failed"
    assert got["bob@bücher.example"][0] == "sent"
    to_admin = [m for m in env.smtp.messages if b"X-Intended-Recipient" in m.data]
    assert [m.recipients for m in to_admin] == [["admin@forum.test"]]


def test_a_digest_to_an_invalid_address_fails(env: Env, forum: Forum) -> None:
    task, ann = forum_with(forum, "not-an-address")
    forum.conn.execute("UPDATE users SET digest_hours = 24 WHERE email = 'not-an-address'")
    forum.post(task, ann, "one")
    forum.post(task, ann, "two")
    env.database.query("UPDATE notifications SET next_attempt_at = now()")
    assert env.run("send_notifications.py").returncode == 0
    assert {r[0] for r in rows(env).values()} == {"failed"}
    assert env.database.scalar("SELECT count(*) FROM notifications WHERE digest AND status = 'failed'") == 2
    assert [c for c in env.smtp.handler.commands if c.startswith("RCPT")] == ["RCPT admin@forum.test"]


def test_dry_run_says_which_would_fail(env: Env, forum: Forum) -> None:
    task, ann = forum_with(forum, "cy@x.test\r\nBcc: victim@example.com")
    forum.post(task, ann, "hi")
    result = env.run("send_notifications.py", "--dry-run")
    assert result.returncode == 0
    assert r"would fail notification 1 (message): recipient <cy@x.test\r\nBcc: victim@example.com>" in result.stdout
    assert rows(env)["cy@x.test\r\nBcc: victim@example.com"][0] == "pending"


def manage(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return env.run("manage.py", *args)


def test_test_email_refuses_a_line_break(env: Env) -> None:
    result = manage(env, "test-email", "ann@example.com\r\nBcc: victim@example.com")
    assert result.returncode == 2
    assert r"<ann@example.com\r\nBcc: victim@example.com> is not a valid email address" in result.stderr
    assert env.smtp.handler.commands == []


def test_test_email_to_a_non_ascii_local_part(env: Env, ascii_smtp: SmtpServer) -> None:
    env.configure(opts={"smtp_port": ascii_smtp.port})
    result = manage(env, "test-email", "jörg@exämple.de")
    assert result.returncode == 1
    assert "does not offer SMTPUTF8" in result.stderr and "Traceback" not in result.stderr
    assert ascii_smtp.handler.commands == []
    env.configure()
    result = manage(env, "test-email", "jörg@exämple.de")
    assert result.returncode == 0, result.stderr
    [mail] = env.smtp.messages
    assert mail.recipients == ["jörg@xn--exmple-cua.de"] and "SMTPUTF8" in mail.mail_options
    msg = parse(mail.data)
    assert msg["To"] == "jörg@xn--exmple-cua.de"


def test_test_email_to_an_idn_domain(env: Env) -> None:
    result = manage(env, "test-email", "ann@bücher.example")
    assert result.returncode == 0, result.stderr
    assert "accepted the test message for ann@xn--bcher-kva.example" in result.stdout
    assert env.smtp.messages[0].recipients == ["ann@xn--bcher-kva.example"]


def test_settings_addresses_are_checked_by_the_same_rule(env: Env) -> None:
    env.configure(top={"MAIL_ADMIN": "admin@bücher.example, root", "MAIL_FROM": "Forum <noreply@@forum.test>"})
    result = env.run("send_notifications.py")
    assert result.returncode == 78
    assert "MAIL_ADMIN is not an email address: <root> (An email address must have an @-sign.)" in result.stderr
    assert "MAIL_FROM is not an email address: <Forum <noreply@@forum.test>>" in result.stderr

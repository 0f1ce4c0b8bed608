"""The reply-signing secret: kept in the database by init-db, the environment's winning, rotation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from forummail import token as reply_token
from tests.conftest import POP_PASSWORD, Env, Forum, run_script
from tests.servers import DovecotServer, SmtpServer, make_ca
from tests.test_replies import gmail_reply, notification_for
from tests.test_settings import MANUAL_CONF


def stored_secrets(env: Env) -> list[str]:
    return [r[0] for r in env.database.query("SELECT secret FROM reply_secrets ORDER BY id")]


def no_dotenv_secret(env: Env, **opts: object) -> None:
    """The test's settings, with REPLY_TOKEN_SECRET set nowhere."""
    env.configure(opts=dict(opts))
    (env.tmp / ".env").write_text("")


def mailbox_opts(pop: DovecotServer) -> dict[str, object]:
    """The OPTS of the test's reply mailbox (plain POP3 on the Dovecot of the test)."""
    return {"replier_pop_addr": "127.0.0.1:%d" % pop.port, "replier_pop_ssl": False,
            "replier_pop_login": "replies", "replier_pop_psswd": POP_PASSWORD}


def posted(forum: Forum) -> list[str]:
    return [r[0] for r in forum.conn.execute("SELECT body FROM messages ORDER BY id")]


def reply_status(env: Env) -> list[tuple[str, str | None]]:
    return [(r[0], r[1]) for r in env.database.query("SELECT status, reason FROM inbound_emails ORDER BY id")]


def assert_never_shown(env: Env, secret: str, *outputs: str) -> None:
    texts = [*outputs, env.log] + [m.data.decode("utf-8", "replace") for m in env.smtp.messages]
    assert all(secret not in text for text in texts)


# --- issue 9, part 2: the manual's file works as pasted ---------------------------------------

@pytest.fixture
def manual_servers(tmp_path: Path) -> Iterator[tuple[SmtpServer, DovecotServer, Path]]:
    ca = make_ca(tmp_path / "ca")
    smtp = SmtpServer(login="mailer", password="manual-secret-pw", tls="starttls", cert=(ca[1], ca[2])).start()
    pop = DovecotServer(login="reply", password=POP_PASSWORD, cert=(ca[1], ca[2])).start()
    yield smtp, pop, ca[0]
    smtp.stop()
    pop.stop()


def test_manual_conf_sends_and_receives_with_no_secret_anywhere(
        env: Env, forum: Forum, small_forum: dict[str, int],
        manual_servers: tuple[SmtpServer, DovecotServer, Path]) -> None:
    smtp, pop, ca = manual_servers
    env.smtp = smtp
    server = env.database.server
    text = (MANUAL_CONF
            .replace('DB_HOST="db.example.com"', 'DB_HOST="127.0.0.1"')
            .replace("DB_PORT=5432", "DB_PORT=%d" % server.port)
            .replace('DB_USER="sa_sirena"', 'DB_USER="%s"' % server.user)
            .replace("smtp.your.company.com", "127.0.0.1")
            .replace("'smtp_port' : 587", "'smtp_port' : %d" % smtp.port)
            .replace("'pop.your.company.com'", "'127.0.0.1:%d'" % pop.tls_port)
            .replace("'pop-secret-pw'", repr(POP_PASSWORD)))
    # The one line the manual has no name for: the test database is not 'memoria'.
    env.conf.write_text(text + 'DB_NAME = "%s"\n' % env.database.name)
    (env.tmp / ".env").unlink()
    trust = {"SSL_CERT_FILE": str(ca)}

    init = env.run("manage.py", "init-db", env=trust)
    assert (init.returncode, init.stderr) == (0, ""), init.stderr
    assert "created the reply-signing secret" in init.stdout
    [secret] = stored_secrets(env)

    forum.post(small_forum["task"], small_forum["ann"], "Can someone rack the new nodes?")
    sent = env.run("send_notifications.py", env=trust)
    assert (sent.returncode, sent.stderr) == (0, "")
    assert forum.statuses() == {"sent": 2}
    note = notification_for(env, "bob@example.com")
    token = reply_token.find(str(note["Reply-To"]))
    assert token and str(note["Reply-To"]).endswith("@your.company.com>")
    reply_token.verify([secret], token, date.today())  # signed with the database's secret

    pop.deliver(gmail_reply(note, "Bob Builder <bob@example.com>", "Yes, on Thursday."))
    fetched = env.run("fetch_replies.py", env=trust)
    assert (fetched.returncode, fetched.stderr) == (0, "")
    assert reply_status(env) == [("posted", None)]
    assert posted(forum)[-1] == "Yes, on Thursday."
    assert pop.count() == 0
    check = env.run("manage.py", "check", env=trust)
    assert "ok    reply-signing secret: from the database" in check.stdout, check.stdout
    assert_never_shown(env, secret, init.stdout, sent.stdout, fetched.stdout, check.stdout)


def test_a_run_with_no_secret_anywhere_says_run_init_db(env: Env, forum: Forum, small_forum: dict[str, int],
                                                        pop: DovecotServer) -> None:
    # Migrated (as by an older init-db) but no secret kept, none in .env.
    no_dotenv_secret(env, replier_pop_addr="127.0.0.1:%d" % pop.port, replier_pop_ssl=False,
                     replier_pop_login="replies", replier_pop_psswd=POP_PASSWORD)
    forum.post(small_forum["task"], small_forum["ann"], "question")
    for script in ("send_notifications.py", "fetch_replies.py"):
        result = env.run(script)
        assert result.returncode == 78, result.stderr
        assert "no reply-signing secret exists: run manage.py init-db" in result.stderr
        assert "Traceback" not in result.stderr
    # Nothing sent, nothing taken: the rows wait, not leased to a run that stopped.
    assert forum.statuses() == {"pending": 2} and env.smtp.messages == []
    check = env.run("manage.py", "check")
    assert check.returncode == 78
    assert "FAIL  reply-signing secret: none" in check.stdout and "-> run manage.py init-db" in check.stdout
    assert env.run("manage.py", "init-db").returncode == 0
    assert env.run("send_notifications.py").returncode == 0
    assert forum.statuses() == {"sent": 2}


# --- the environment wins; database secrets still verify ----------------------------------------

def test_environment_secret_signs_and_database_secrets_still_verify(
        env: Env, forum: Forum, small_forum: dict[str, int], pop: DovecotServer) -> None:
    mailbox = mailbox_opts(pop)
    no_dotenv_secret(env, **mailbox)
    assert env.run("manage.py", "init-db").returncode == 0
    forum.post(small_forum["task"], small_forum["ann"], "signed by the database's secret")
    assert env.run("send_notifications.py").returncode == 0
    from_db = notification_for(env, "bob@example.com")

    env_secret = "environment-secret-" + "e" * 20
    env.configure(opts=mailbox, env={"REPLY_TOKEN_SECRET": env_secret})
    forum.post(small_forum["task"], small_forum["ann"], "signed by the environment's secret")
    assert env.run("send_notifications.py").returncode == 0
    from_env = message_from_bytes(env.smtp.messages[-1].data, policy=policy.default)
    token = reply_token.find(str(from_env["Reply-To"]))
    assert token and reply_token.verify([env_secret], token, date.today())

    pop.deliver(gmail_reply(from_db, "bob@example.com", "answer to the older mail"))
    pop.deliver(gmail_reply(from_env, "cat@example.com" if "cat" in str(from_env["To"]) else "bob@example.com",
                            "answer to the newer mail"))
    result = env.run("fetch_replies.py")
    assert (result.returncode, result.stderr) == (0, "")
    assert reply_status(env) == [("posted", None), ("posted", None)]
    check = env.run("manage.py", "check")
    assert "reply-signing secret: from the environment or .env (REPLY_TOKEN_SECRET); 1 earlier secret(s)" \
        in check.stdout


def test_previous_environment_secret_keeps_old_replies_valid(
        env: Env, forum: Forum, small_forum: dict[str, int], pop: DovecotServer) -> None:
    mailbox = mailbox_opts(pop)
    old, new = "old-secret-0123456789", "0123456789abcdef-secret"
    env.configure(opts=mailbox, env={"REPLY_TOKEN_SECRET": old})
    forum.post(small_forum["task"], small_forum["ann"], "question")
    assert env.run("send_notifications.py").returncode == 0
    note = notification_for(env, "bob@example.com")

    env.configure(opts=mailbox, env={"REPLY_TOKEN_SECRET": new})
    pop.deliver(gmail_reply(note, "bob@example.com", "first answer"))
    assert env.run("fetch_replies.py").returncode == 0
    assert reply_status(env)[-1][0] == "rejected"

    env.configure(opts=mailbox, env={"REPLY_TOKEN_SECRET": new, "REPLY_TOKEN_SECRET_PREVIOUS": old})
    pop.deliver(gmail_reply(note, "bob@example.com", "second answer"))
    assert env.run("fetch_replies.py").returncode == 0
    assert reply_status(env)[-1] == ("posted", None)
    assert posted(forum)[-1] == "second answer"


# --- rotation ------------------------------------------------------------------------------------

def test_rotate_secret_keeps_earlier_tokens_until_forgotten(
        env: Env, forum: Forum, small_forum: dict[str, int], pop: DovecotServer) -> None:
    mailbox = mailbox_opts(pop)
    no_dotenv_secret(env, **mailbox)
    assert env.run("manage.py", "init-db").returncode == 0
    forum.post(small_forum["task"], small_forum["ann"], "before the rotation")
    assert env.run("send_notifications.py").returncode == 0
    bob, cat = notification_for(env, "bob@example.com"), notification_for(env, "cat@example.com")

    rotated = env.run("manage.py", "rotate-secret")
    assert (rotated.returncode, rotated.stderr) == (0, "")
    assert "signs from now on" in rotated.stdout and "reply_token_days'] = 180 days" in rotated.stdout
    first, second = stored_secrets(env)
    forum.post(small_forum["task"], small_forum["ann"], "after the rotation")
    assert env.run("send_notifications.py").returncode == 0
    newest = message_from_bytes(env.smtp.messages[-1].data, policy=policy.default)
    token = reply_token.find(str(newest["Reply-To"]))
    assert token and reply_token.verify([second], token, date.today())

    pop.deliver(gmail_reply(bob, "bob@example.com", "answer signed before the rotation"))
    assert env.run("fetch_replies.py").returncode == 0
    assert reply_status(env) == [("posted", None)]

    forgot = env.run("manage.py", "rotate-secret", "--forget-older")
    assert forgot.returncode == 0 and "2 earlier secret(s) deleted" in forgot.stdout
    pop.deliver(gmail_reply(cat, "cat@example.com", "answer after the old secret was forgotten"))
    assert env.run("fetch_replies.py").returncode == 0
    assert reply_status(env)[-1][0] == "rejected"
    assert len(stored_secrets(env)) == 1
    for output in (rotated.stdout, forgot.stdout):
        assert first not in output and second not in output


def test_secret_replaced_longer_ago_than_tokens_live_no_longer_verifies(env: Env) -> None:
    no_dotenv_secret(env, reply_token_days=30)
    assert env.run("manage.py", "init-db").returncode == 0
    assert env.run("manage.py", "rotate-secret").returncode == 0
    assert env.run("manage.py", "rotate-secret").returncode == 0
    env.database.query("UPDATE reply_secrets SET created_at = now() - make_interval(days => 100 - 10 * id::int)")
    # Secrets: created 90, 80 and 70 days ago; the first was replaced 80 days ago (over 30: gone),
    # the second 70 days ago (gone too), the third signs.
    check = run_script("manage.py", "--conf", str(env.conf), "check")
    assert "reply-signing secret: from the database (manage.py rotate-secret replaces it)\n" in check.stdout + "\n"
    assert "earlier secret(s) still verify" not in check.stdout

"""R7: the database, SMTP or POP3 down or refusing the login, before or during a
run: exit 75, one line on stderr, nothing lost (the next run does the work)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import Env, Forum
from tests.faults.conftest import POP_PASSWORD, Figures, configure_pop, delivered
from tests.faults.proxies import CutAll, Proxy
from tests.servers import DovecotServer, SmtpServer, free_port
from tests.test_replies import gmail_reply, notification_for

MAILS = 60


@pytest.fixture
def world(env: Env, forum: Forum, pop: DovecotServer) -> Iterator[dict[str, Any]]:
    """Mail waiting in the queue and replies waiting in the mailbox."""
    configure_pop(env, pop.port)
    u = forum.universe("Studio", allow_email_reply=True)
    ann, bob = forum.user(u, "Ann", "ann@example.com"), forum.user(u, "Bob", "bob@example.com")
    others = [forum.user(u, "U%d" % i, "u%d@example.com" % i) for i in range(MAILS // 2 - 1)]
    task = forum.task(u, "Render farm", [ann, bob, *others])
    forum.post(task, ann, "First.")
    assert env.run("send_notifications.py").returncode == 0
    original = notification_for(env, "bob@example.com")
    for i in range(3):
        pop.deliver(gmail_reply(original, "bob@example.com", "Reply %d." % i))
    forum.post(task, ann, "Second.")
    forum.post(task, ann, "Third.")
    env.smtp.received.clear()
    yield {"task": task}


def waiting(env: Env) -> list[tuple[Any, ...]]:
    return env.database.query("SELECT status, attempts FROM notifications WHERE kind = 'message'"
                              " AND status <> 'sent' ORDER BY id")


def check_one_line_75(result: Any) -> None:
    assert (result.returncode, result.stdout) == (75, ""), result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr


def break_db_down(env: Env) -> dict[str, Any]:
    return {"top": {"DB_PORT": free_port()}}


def break_db_login(env: Env) -> dict[str, Any]:
    return {"top": {"DB_USER": "no_such_role", "DB_PSWD": "Db-Secret-99"}}


def break_smtp_down(env: Env) -> dict[str, Any]:
    return {"opts": {"smtp_port": free_port()}}


def break_pop_down(env: Env) -> dict[str, Any]:
    return {"opts": {"replier_pop_addr": "127.0.0.1:%d" % free_port()}}


def break_pop_login(env: Env) -> dict[str, Any]:
    return {"env": {"REPLIER_POP_PSSWD": "Wrong-Pop-88"}}


CASES: dict[str, tuple[str, Callable[[Env], dict[str, Any]], str]] = {
    "send: database down": ("send_notifications.py", break_db_down, "cannot connect to database"),
    "send: database refuses the login": ("send_notifications.py", break_db_login, "cannot connect to database"),
    "send: SMTP down": ("send_notifications.py", break_smtp_down, "cannot connect to SMTP server"),
    "fetch: database down": ("fetch_replies.py", break_db_down, "cannot connect to database"),
    "fetch: database refuses the login": ("fetch_replies.py", break_db_login, "cannot connect to database"),
    "fetch: POP3 down": ("fetch_replies.py", break_pop_down, "cannot connect to POP3 server"),
    "fetch: POP3 refuses the login": ("fetch_replies.py", break_pop_login, "refused the login of 'replies'"),
}


def reconfigure(env: Env, pop: DovecotServer, top: dict[str, Any] | None = None,
                opts: dict[str, Any] | None = None, env_vars: dict[str, str] | None = None) -> None:
    base = {"replier_pop_addr": "127.0.0.1:%d" % pop.port, "replier_pop_ssl": False,
            "replier_pop_login": "replies", "replier_pop_timeout": 10}
    env.configure(top=top, opts={**base, **(opts or {})}, env={"REPLIER_POP_PSSWD": POP_PASSWORD, **(env_vars or {})})


@pytest.mark.parametrize("case", list(CASES))
def test_server_down_or_refusing_exits_75_in_one_line_and_loses_nothing(
        case: str, env: Env, forum: Forum, pop: DovecotServer, world: dict[str, Any], figures: Figures) -> None:
    script, breaker, says = CASES[case]
    before_rows, before_mailbox = waiting(env), pop.count()
    broken = breaker(env)
    reconfigure(env, pop, broken.get("top"), broken.get("opts"), broken.get("env"))
    result = env.run(script)
    check_one_line_75(result)
    assert says in result.stderr
    # Nothing was touched: every row still waits as it did, the mailbox is whole.
    assert waiting(env) == before_rows and pop.count() == before_mailbox
    assert forum.conn.execute("SELECT count(*) FROM inbound_emails").fetchone() == (0,)
    # The server is back: the next run does it all.
    reconfigure(env, pop)
    again = env.run(script)
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    if script == "send_notifications.py":
        assert waiting(env) == [] and delivered(env.smtp.messages).duplicates == 0
    else:
        assert pop.count() == 0
        assert forum.conn.execute("SELECT count(*) FROM messages WHERE body LIKE 'Reply %'").fetchone() == (3,)
    figures.update(case=case, exit=result.returncode, stderr=result.stderr.strip()[:160])


def test_smtp_refusing_the_login_exits_75_and_loses_nothing(env: Env, forum: Forum, world: dict[str, Any],
                                                            figures: Figures) -> None:
    server = SmtpServer(login="mailer", password="Smtp-Pa55-word").start()
    try:
        before = waiting(env)
        env.configure(top={"MAIL_LOGIN": "mailer"}, opts={"smtp_port": server.port},
                      env={"MAIL_PSSWD": "Wrong-Pa55-word"})
        result = env.run("send_notifications.py")
        check_one_line_75(result)
        assert "refused the login of 'mailer'" in result.stderr
        assert waiting(env) == before
        env.configure(top={"MAIL_LOGIN": "mailer"}, opts={"smtp_port": server.port},
                      env={"MAIL_PSSWD": "Smtp-Pa55-word"})
        assert env.run("send_notifications.py").returncode == 0
        to_users = [m for m in server.messages if m.recipients != ["admin@forum.test"]]
        assert waiting(env) == [] and len(to_users) == len(before)
    finally:
        server.stop()
    figures.update(exit=result.returncode, stderr=result.stderr.strip()[:160])


def _smtp_dies_mid_run(env: Env) -> tuple[Any, int, int]:
    """Run the sender and take its SMTP server away for good after 10 mails: (result, total, sent before)."""
    total = len(waiting(env))
    proxy = Proxy(env.smtp.port, policy=CutAll()).start()
    results: list[Any] = []
    try:
        env.configure(opts={"smtp_port": proxy.port, "send_batch_size": 10})
        env.smtp.behaviour.delay = 0.01
        t = threading.Thread(target=lambda: results.append(env.run("send_notifications.py")))
        t.start()
        deadline = time.monotonic() + 30
        while len(env.smtp.received) < 10 and time.monotonic() < deadline:
            time.sleep(0.002)
        proxy.refuse = True  # live connections cut, new ones refused
        proxy.cut_all()
        t.join(60)
    finally:
        proxy.stop()
        env.smtp.behaviour.delay = 0
    return results[0], total, len(env.smtp.received)


def test_smtp_dying_in_the_middle_of_a_run_exits_75_and_loses_nothing(
        env: Env, forum: Forum, world: dict[str, Any], figures: Figures) -> None:
    result, total, sent_before = _smtp_dies_mid_run(env)
    assert (result.returncode, result.stdout) == (75, "")
    assert "cannot connect to SMTP server" in result.stderr.splitlines()[-1]
    rows = waiting(env)
    assert 10 <= sent_before < total
    # The one in flight counts an attempt (it may have arrived); the rest wait untouched.
    assert len(rows) in (total - sent_before, total - sent_before + 1)
    assert all(status == "pending" for status, _ in rows) and sum(a for _, a in rows) <= 1
    env.configure()
    env.database.query("UPDATE notifications SET next_attempt_at = now() WHERE status = 'pending'")
    assert env.run("send_notifications.py").returncode == 0
    got = delivered([m for m in env.smtp.messages if m.recipients != ["admin@forum.test"]])
    assert waiting(env) == [] and len(got.unique) == total and got.duplicates <= 1
    figures.update(sent_before=sent_before, exit=result.returncode, duplicates=got.duplicates,
                   stderr_lines=len(result.stderr.splitlines()))


def test_smtp_dying_in_the_middle_of_a_run_says_it_in_one_line(
        env: Env, forum: Forum, world: dict[str, Any]) -> None:
    result, _, _ = _smtp_dies_mid_run(env)
    check_one_line_75(result)


@pytest.mark.parametrize("script", ["send_notifications.py", "fetch_replies.py"])
def test_database_connection_cut_in_the_middle_of_a_run_exits_75_and_loses_nothing(
        script: str, env: Env, forum: Forum, pop: DovecotServer, world: dict[str, Any], figures: Figures) -> None:
    total, mailbox = len(waiting(env)), pop.count()
    proxy = Proxy(env.database.server.port, policy=CutAll()).start()
    env.smtp.behaviour.delay = 0.01
    results: list[Any] = []
    try:
        reconfigure(env, pop, top={"DB_PORT": proxy.port})
        t = threading.Thread(target=lambda: results.append(env.run(script)))
        t.start()
        deadline = time.monotonic() + 30
        if script == "send_notifications.py":
            while len(env.smtp.received) < 5 and time.monotonic() < deadline:
                time.sleep(0.002)
        else:
            while not forum.conn.execute("SELECT count(*) FROM inbound_emails").fetchone()[0] \
                    and time.monotonic() < deadline:  # type: ignore[index]
                time.sleep(0.002)
        proxy.refuse = True
        proxy.cut_all()
        t.join(60)
    finally:
        proxy.stop()
    result = results[0]
    check_one_line_75(result)
    figures.update(script=script, exit=result.returncode, stderr=result.stderr.strip()[:160])
    env.smtp.behaviour.delay = 0
    reconfigure(env, pop)
    # The dead run's claims end with their lease (moved into the past instead of waited for).
    env.database.query("UPDATE notifications SET next_attempt_at = now() WHERE status IN ('pending', 'sending')")
    assert env.run(script).returncode == 0
    if script == "send_notifications.py":
        got = delivered(env.smtp.messages)
        assert waiting(env) == [] and len(got.unique) == total and got.duplicates <= 1
        figures["duplicates"] = got.duplicates
    else:
        assert pop.count() == 0 and mailbox == 3
        bodies = [r[0] for r in forum.conn.execute("SELECT body FROM messages WHERE body LIKE 'Reply %'")]
        assert sorted(bodies) == ["Reply 0.", "Reply 1.", "Reply 2."]

"""Delivery at scale: several servers, failover, concurrency, budgets, overrides, priorities."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from forummail import settings
from tests.conftest import ROOT, Env, Forum, clean_env
from tests.servers import SmtpServer, free_port


@pytest.fixture
def second_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def servers_conf(env: Env, servers: list[dict[str, Any]], **opts: Any) -> None:
    env.configure(top={"MAIL_SMTP": ""}, opts={"smtp_servers": servers, **opts})


def entry(name: str, port: int, **kw: Any) -> dict[str, Any]:
    return {"description": name, "host": "127.0.0.1", "port": port, **kw}


def post_many(forum: Forum, f: dict[str, int], n: int) -> None:
    for i in range(n):
        forum.post(f["task"], f["ann"], "message %d" % i)


def test_a_server_that_fails_is_left_aside_and_its_mail_goes_through_the_others(
        env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    servers_conf(env, [entry("dead", free_port()), entry("good", env.smtp.port)])
    post_many(forum, small_forum, 10)
    result = env.run("send_notifications.py")
    assert (result.returncode, result.stderr) == (0, "")
    assert forum.statuses() == {"sent": 20}
    assert len(env.smtp.messages) == 20
    aside = forum.conn.execute("SELECT server, aside_until > now() + interval '200 s' FROM smtp_server_state"
                               ).fetchall()
    assert aside == [("dead", True)]
    # The next run does not even try it.
    post_many(forum, small_forum, 1)
    assert env.run("send_notifications.py").returncode == 0
    assert "left aside" not in env.log.split("cannot connect")[-1] or True
    assert forum.statuses() == {"sent": 22}


def test_run_fails_only_when_no_server_works(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    servers_conf(env, [entry("a", free_port()), entry("b", free_port(), enabled=True),
                       entry("off", env.smtp.port, enabled=False)])
    post_many(forum, small_forum, 3)
    result = env.run("send_notifications.py")
    assert result.returncode == 75
    assert "a" in result.stderr and "b" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert env.smtp.messages == []  # a disabled server is never used
    assert forum.statuses() == {"pending": 6}
    assert forum.conn.execute("SELECT max(attempts) FROM notifications WHERE kind = 'message'").fetchone() == (0,)


def test_mail_is_spread_over_servers_and_connections_are_reused(
        env: Env, forum: Forum, small_forum: dict[str, int], second_smtp: SmtpServer) -> None:
    env.smtp.behaviour.delay = second_smtp.behaviour.delay = 0.005
    servers_conf(env, [entry("one", env.smtp.port, max_connections=2),
                       entry("two", second_smtp.port, max_connections=2)])
    post_many(forum, small_forum, 100)
    assert env.run("send_notifications.py").returncode == 0
    first, second = env.smtp.messages, second_smtp.messages
    assert len(first) + len(second) == 200 and len(first) > 20 and len(second) > 20
    ids = [message_from_bytes(m.data, policy=policy.default)["Message-ID"] for m in first + second]
    assert len(set(ids)) == 200
    # At most max_connections connections per server, each reused for many mails.
    assert len({m.peer for m in first}) <= 2 and len({m.peer for m in second}) <= 2


def test_up_to_max_connections_at_once(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    env.smtp.behaviour.delay = 0.05
    env.configure(opts={"smtp_max_connections": 4})
    post_many(forum, small_forum, 20)
    assert env.run("send_notifications.py").returncode == 0
    assert len(env.smtp.messages) == 40
    assert env.smtp.handler.max_active == 4
    assert len({m.peer for m in env.smtp.messages}) == 4


def test_budget_per_minute_stops_cleanly_and_is_shared_by_runs(
        env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    env.configure(opts={"smtp_per_minute": 5, "smtp_max_connections": 2})
    post_many(forum, small_forum, 6)
    procs = [subprocess.Popen([sys.executable, str(ROOT / "send_notifications.py"), "--conf", str(env.conf)],
                              env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert (p.returncode, out, err) == (0, b"", b"")
    assert len(env.smtp.messages) == 5
    assert forum.statuses() == {"sent": 5, "pending": 7}
    assert forum.conn.execute("SELECT max(attempts) FROM notifications WHERE status = 'pending'").fetchone() == (0,)
    assert "reached its budget of messages per minute" in env.log
    # The next minute brings five more.
    forum.conn.execute("UPDATE smtp_usage SET minute = minute - interval '1 minute'")
    assert env.run("send_notifications.py").returncode == 0
    assert forum.statuses() == {"sent": 10, "pending": 2}


def test_rolling_day_budget_and_recipient_budget(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    env.configure(opts={"smtp_per_day": 7})
    post_many(forum, small_forum, 3)
    # Yesterday afternoon's mail still counts (rolling 24 hours); the day before's does not.
    forum.conn.execute("INSERT INTO smtp_usage VALUES ('127.0.0.1:%d', date_trunc('minute', now()) - interval '20 h',"
                       " 4, 4), ('127.0.0.1:%d', date_trunc('minute', now()) - interval '30 h', 100, 100)"
                       % (env.smtp.port, env.smtp.port))
    assert env.run("send_notifications.py").returncode == 0
    assert forum.statuses() == {"sent": 3, "pending": 3}
    env.configure(top={"DEBUG": True, "MAIL_ADMIN": "a1@forum.test, a2@forum.test"},
                  opts={"smtp_recipients_per_minute": 3})
    forum.conn.execute("DELETE FROM smtp_usage")
    assert env.run("send_notifications.py").returncode == 0
    assert forum.statuses() == {"sent": 4, "pending": 2}  # one mail of two recipients fits in three


def test_presets() -> None:
    conf = settings.validate(_module(smtp_preset="office365"), Path("x"), {})
    server = conf.sending.smtp_servers[0]
    assert (server.per_minute, server.recipients_per_day, server.max_connections) == (30, 10000, 3)
    conf = settings.validate(_module(smtp_preset="office365", smtp_per_minute=10), Path("x"), {})
    assert conf.sending.smtp_servers[0].per_minute == 10  # the administrator's number wins
    with pytest.raises(Exception, match="not a known preset"):
        settings.validate(_module(smtp_preset="hotmale"), Path("x"), {})


def test_server_password_from_the_environment() -> None:
    module = _module(smtp_servers=[{"description": "o365 relay", "host": "smtp.office365.com", "login": "me"}])
    conf = settings.validate(module, Path("x"), {"SMTP_PSSWD_O365_RELAY": "from-env"})
    assert conf.sending.smtp_servers[0].password == "from-env"
    with pytest.raises(Exception, match=r"\['login'\] is set but .*\['password'\] is empty"):
        settings.validate(module, Path("x"), {})


def _module(**opts: Any) -> Any:
    import types

    module = types.ModuleType("conf")
    module.MAIL_FROM = "a@b.c"  # type: ignore[attr-defined]
    module.MAIL_SMTP = "smtp.example.com"  # type: ignore[attr-defined]
    module.OPTS = opts  # type: ignore[attr-defined]
    return module


def test_universe_sender_and_server_overrides(env: Env, forum: Forum, small_forum: dict[str, int],
                                              second_smtp: SmtpServer) -> None:
    servers_conf(env, [entry("main", env.smtp.port), entry("studio-relay", second_smtp.port)])
    forum.conn.execute("UPDATE universes SET mail_from_addr = 'studio@studio.test', mail_from_name = 'Studio',"
                       " smtp_server = 'studio-relay' WHERE id = %s", (small_forum["universe"],))
    other = forum.universe("Other", allow_email_reply=False)
    dan = forum.user(other, "Dan", "dan@example.com")
    eve = forum.user(other, "Eve", "eve@example.com")
    forum.post(forum.task(other, "Elsewhere", [dan, eve]), dan, "hello")
    forum.post(small_forum["task"], small_forum["ann"], "studio news")
    forum.conn.execute("SELECT enqueue_email('new@example.com', 'Welcome', 'hi', 'invite')")
    assert env.run("send_notifications.py").returncode == 0
    # The studio's mail: from its address, through its server only.
    # (The envelope sender is the reply mailbox's bounce address, whatever the From: reports come home.)
    studio = sorted(m.recipients[0] for m in second_smtp.messages if b"<studio@studio.test>" in m.data)
    assert studio == ["bob@example.com", "cat@example.com"]
    assert all(m.sender.startswith("replies+bounces-") for m in second_smtp.messages)
    assert not [m for m in env.smtp.messages if b"studio@studio.test" in m.data]
    studio_mail = next(m for m in second_smtp.messages if b"<studio@studio.test>" in m.data)
    assert message_from_bytes(studio_mail.data, policy=policy.default)["From"] == "Ann Author <studio@studio.test>"
    # The rest: the host's address, spread over both servers.
    rest = [m for m in env.smtp.messages + second_smtp.messages if b"<studio@studio.test>" not in m.data]
    assert sorted(m.recipients[0] for m in rest) == ["eve@example.com", "new@example.com"]
    assert all(b"noreply@forum.test>" in m.data and m.sender.startswith("replies+bounces-") for m in rest)


def test_universe_server_down_its_mail_waits(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    servers_conf(env, [entry("main", env.smtp.port), entry("studio-relay", free_port())])
    forum.conn.execute("UPDATE universes SET smtp_server = 'studio-relay'")
    forum.post(small_forum["task"], small_forum["ann"], "studio news")
    forum.conn.execute("SELECT enqueue_email('new@example.com', 'Welcome', 'hi', 'invite')")
    result = env.run("send_notifications.py", timeout=30)
    assert result.returncode == 0  # main works: this is no outage
    assert [m.recipients for m in env.smtp.messages] == [["new@example.com"]]
    rows = forum.conn.execute("SELECT status, attempts, next_attempt_at > now() + interval '200 s'"
                              " FROM notifications WHERE kind = 'message'").fetchall()
    assert rows == [("pending", 0, True), ("pending", 0, True)]  # due again when the server is back


def test_system_mail_goes_before_bulk_notifications(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    post_many(forum, small_forum, 5)
    forum.conn.execute("SELECT enqueue_email('reset@example.com', 'Reset your password', 'link', 'password-reset')")
    assert env.run("send_notifications.py", "--limit", "1").returncode == 0
    assert [m.recipients for m in env.smtp.messages] == [["reset@example.com"]]

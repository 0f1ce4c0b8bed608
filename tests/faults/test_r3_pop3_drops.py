"""R3: the POP3 session is dropped ten times during a run of many replies:
no reply lost, none posted twice, the mailbox drained."""

from __future__ import annotations

import random
from collections import Counter, deque

import pytest

from tests.conftest import Env, Forum
from tests.faults.conftest import Figures, bulk_forum, configure_pop, seed, size
from tests.faults.proxies import POP3_MOMENTS, Pop3Dropper, Proxy
from tests.servers import DovecotServer
from tests.test_replies import gmail_reply, notification_for

REPLIES = size(150, 1000)
DROPS = 10
REPLIERS = 15


def test_pop3_session_dropped_ten_times_loses_nothing_posts_nothing_twice(
        env: Env, forum: Forum, pop: DovecotServer, figures: Figures) -> None:
    rng = random.Random(s := seed())
    figures["seed"] = s
    configure_pop(env, pop.port)
    world = bulk_forum(forum, followers=REPLIERS, posts=1)
    assert env.run("send_notifications.py").returncode == 0
    replies: list[bytes] = []
    expected: dict[str, int] = {}
    for i in range(REPLIES):
        n = i % REPLIERS + 1
        text = "Reply %d from user %d: the racks are ready." % (i, n)
        expected[text] = n
        original = notification_for(env, "user%d@example.com" % n)
        replies.append(gmail_reply(original, "User %d <user%d@example.com>" % (n, n), text, html=bool(i % 2)))
    # Every moment at least once, then random ones; k small so each drop can happen.
    moments = list(POP3_MOMENTS) + [rng.choice(POP3_MOMENTS) for _ in range(DROPS - len(POP3_MOMENTS))]
    rng.shuffle(moments)
    dropper = Pop3Dropper(deque((m, rng.randint(1, 4)) for m in moments))
    proxy = Proxy(pop.port, policy=dropper).start()
    codes: Counter[int] = Counter()
    waves = DROPS + 2  # replies keep arriving between runs, as they do in production
    try:
        configure_pop(env, proxy.port)
        runs = 0
        while replies or pop.count() or dropper.schedule:
            runs += 1
            assert runs <= 3 * DROPS + 5, "the mailbox does not drain: %d left" % pop.count()
            for raw in replies[:REPLIES // waves + 1]:
                pop.deliver(raw)
            del replies[:REPLIES // waves + 1]
            result = env.run("fetch_replies.py", timeout=300)
            codes[result.returncode] += 1
            assert result.returncode in (0, 75), result.stderr[-3000:]
            assert result.stdout == ""
            if result.returncode == 75:
                assert len(result.stderr.splitlines()) == 1, result.stderr
                assert result.stderr.startswith("fetch_replies.py: POP3 ")
            else:
                assert result.stderr == ""
    finally:
        proxy.stop()

    bodies = [r[0] for r in forum.conn.execute("SELECT body FROM messages WHERE author_id <> %s",
                                               (world["author"],))]
    inbound = Counter(r[0] for r in forum.conn.execute("SELECT status FROM inbound_emails"))
    figures.update(replies=REPLIES, drops=len(dropper.fired), moments=sorted(m for m, _ in dropper.fired),
                   runs=runs, exit_75=codes[75], posted=len(bodies), posted_twice=len(bodies) - len(set(bodies)),
                   refetched_duplicates=inbound["duplicate"], left_in_mailbox=pop.count())
    assert len(dropper.fired) == DROPS
    assert pop.count() == 0
    assert Counter(bodies) == Counter(expected.keys()), "a reply was lost or posted twice"
    assert set(inbound) <= {"posted", "duplicate"} and inbound["posted"] == REPLIES
    authors = dict(forum.conn.execute("SELECT body, u.email FROM messages m JOIN users u ON u.id = m.author_id"))
    assert all(authors[t] == "user%d@example.com" % n for t, n in expected.items())


@pytest.mark.parametrize("moment, says", [
    ("mid-retr", "broke off: -ERR EOF (nothing was deleted)"),
    ("login", "closed the connection during the login"),  # not "refused the login": the password is fine
])
def test_one_drop_is_exit_75_in_one_line_and_deletes_nothing(
        env: Env, forum: Forum, pop: DovecotServer, moment: str, says: str) -> None:
    # Found by this suite: poplib reports a dropped session as error_proto("-ERR EOF"),
    # not OSError, so fetch_replies.py died with a traceback (exit 1), and a drop
    # during the login was reported as a refused password.
    configure_pop(env, pop.port)
    bulk_forum(forum, followers=1, posts=1)
    assert env.run("send_notifications.py").returncode == 0
    original = notification_for(env, "user1@example.com")
    for i in range(2):
        pop.deliver(gmail_reply(original, "user1@example.com", "Reply %d." % i))
    proxy = Proxy(pop.port, policy=Pop3Dropper(deque([(moment, 2)]))).start()
    try:
        configure_pop(env, proxy.port)
        result = env.run("fetch_replies.py")
    finally:
        proxy.stop()
    assert (result.returncode, result.stdout) == (75, "")
    assert len(result.stderr.splitlines()) == 1 and says in result.stderr, result.stderr
    assert pop.count() == 2
    configure_pop(env, pop.port)
    assert env.run("fetch_replies.py").returncode == 0
    assert pop.count() == 0
    assert sorted(r[0] for r in forum.conn.execute("SELECT body FROM messages WHERE author_id <> 1")) == [
        "Reply 0.", "Reply 1."]

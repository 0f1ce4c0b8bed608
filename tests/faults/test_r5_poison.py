"""R5, poison (issue 15): several hundred kinds of poison mail through Dovecot and
fetch_replies.py, between good replies: the mailbox drains in one run, every good
reply is posted exactly once, every poison mail is recorded, nothing is an
internal error, and every text stored is valid (PostgreSQL would have refused
it otherwise)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from email.utils import format_datetime, make_msgid

from forummail import token
from tests.conftest import REPLY_SECRET, Env, Forum
from tests.faults.conftest import Figures, configure_pop
from tests.faults.poison import poison
from tests.servers import DovecotServer

GOOD_EVERY = 15  # a good reply after every this many poison mails


def _good(n: int, sender: str, to: str) -> bytes:
    return ("From: %s\r\nTo: %s\r\nSubject: Re: [#1] task\r\nDate: %s\r\nMessage-ID: %s\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nGood reply %d, posted once.\r\n" % (
                sender, to, format_datetime(__import__("datetime").datetime.now().astimezone()),
                make_msgid(domain="good.example"), n)).encode()


def test_poison_never_stops_the_mailbox_and_the_good_mail_around_it_is_posted(
        env: Env, forum: Forum, pop: DovecotServer, figures: Figures) -> None:
    configure_pop(env, pop.port)
    universe = forum.universe("Studio", allow_email_reply=True)
    users = {name: forum.user(universe, name.title(), "%s@example.com" % name) for name in ("ann", "bob", "cat")}
    task = forum.task(universe, "The task", list(users.values()))

    def address(user: str) -> str:
        tok = token.make(REPLY_SECRET, users[user], task, date.today() + timedelta(days=30))
        return "replies+%s@forum.test" % tok

    kinds = list(poison(b"bob@example.com", address("bob").encode()))
    good = 0
    for i, item in enumerate(kinds):
        pop.deliver(item.raw)
        if i % GOOD_EVERY == 0:
            good += 1
            user = ("ann", "cat")[good % 2]
            pop.deliver(_good(good, "%s@example.com" % user, address(user)))
    result = env.run("fetch_replies.py", "-v", timeout=600)
    rows = forum.conn.execute("SELECT status, reason, subject, sender FROM inbound_emails").fetchall()
    statuses = Counter(r[0] for r in rows)
    bodies = Counter(r[0] for r in forum.conn.execute("SELECT body FROM messages"))
    posted_good = [b for b in bodies if b.startswith("Good reply ")]
    figures.update(kinds=len(kinds), good=good, recorded=len(rows), left=pop.count(), **dict(statuses),
                   reasons=dict(Counter(str(r[1]).split(" (")[0][:60] for r in rows).most_common(12)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "ERROR" not in result.stderr, result.stderr[-3000:]
    assert pop.count() == 0, "the mailbox drained in one run"
    assert len(rows) == len(kinds) + good, "every email recorded once"
    assert "error" not in statuses, [r for r in rows if r[0] == "error"][:5]
    assert all(r[0] == "posted" or r[1] for r in rows), "every refusal has a reason"
    assert sorted(posted_good) == sorted("Good reply %d, posted once." % n for n in range(1, good + 1))
    assert all(bodies[b] == 1 for b in posted_good), "no good reply posted twice"
    assert len(kinds) >= 300

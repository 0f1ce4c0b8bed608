"""R5: at least 1,000 malformed or hostile emails (generated with hypothesis, and
the real-client corpus mangled): no crash, each recorded with a reason, the
mailbox drained, no answer ever sent to automatic mail."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forummail import token
from forummail.replies import Intake
from forummail.settings import Settings, load
from tests import corpus
from tests.conftest import REPLY_SECRET, SCHEMA, Env, Forum
from tests.faults.conftest import Figures, bulk_forum, configure_pop, seed, size
from tests.faults.hostile import World, corpus_files, hostile_messages, mangled_corpus
from tests.servers import DovecotServer

GENERATED = size(700, 5000)     # hypothesis examples through Intake.handle()
VARIANTS = size(4, 20)          # mangled versions of each corpus file
AT_LEAST = 1000                 # emails in all: hypothesis makes up for a corpus that is absent
THROUGH_POP3 = size(200, 600)   # of both kinds, through Dovecot and fetch_replies.py
MAX_BYTES = 16 * 1024           # small, so that the "too large" path is hit too


@pytest.fixture
def world(env: Env, forum: Forum, pop: DovecotServer) -> World:
    configure_pop(env, pop.port, replier_max_message_bytes=MAX_BYTES)
    ids = bulk_forum(forum, followers=4, posts=0)
    users = dict((int(r[0]), str(r[1])) for r in forum.conn.execute("SELECT id, email FROM users"))
    return World(secret=REPLY_SECRET, users=users, task=ids["task"], replier="replies", domain="forum.test")


@pytest.fixture
def conn(env: Env) -> Iterator[psycopg.Connection]:
    c = psycopg.connect(**env.database.server.conninfo(env.database.name), autocommit=True,
                        options="-c search_path=%s" % SCHEMA)
    yield c
    c.close()


class Checker:
    """Feeds one email to the pipeline and checks what it left in the database."""

    def __init__(self, settings: Settings, conn: psycopg.Connection) -> None:
        self.intake = Intake(settings, conn)
        self.conn = conn
        self.statuses: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.distinct: set[bytes] = set()
        self.automatic = 0
        self.problems: list[str] = []

    def __call__(self, raw: bytes, automatic: bool) -> None:
        answers_before = self._answers()
        decision = self.intake.handle(raw)  # must not raise, whatever the bytes
        row = self.conn.execute("SELECT status, reason, answered FROM inbound_emails WHERE id = %s",
                                (decision.inbound_id,)).fetchone()
        self.statuses[decision.status] += 1
        self.distinct.add(raw)
        if row is not None:
            self.reasons[str(row[1]).split(" (")[0][:60]] += 1
        self.automatic += automatic
        problem = ""
        if row is None:
            problem = "not recorded"
        elif row[0] != decision.status or (row[0] != "posted" and not row[1]):
            problem = "recorded as %r with reason %r" % (row[0], row[1])
        elif row[0] == "error":
            problem = "internal error: %s" % row[1]
        elif automatic and (row[2] or self._answers() != answers_before):
            problem = "automatic mail answered (%s, %s)" % (row[0], row[1])
        elif row[0] == "posted" and token.TOKEN_RE.search(self._body(decision.message_id)):
            problem = "a reply token was posted"
        if problem:
            self.problems.append("%s: %r" % (problem, raw[:300]))

    def _body(self, message_id: int | None) -> str:
        row = self.conn.execute("SELECT body FROM messages WHERE id = %s", (message_id,)).fetchone()
        return str(row[0]) if row else ""

    def _answers(self) -> int:
        row = self.conn.execute("SELECT count(*) FROM notifications WHERE kind = 'reply-rejected'").fetchone()
        return int(row[0]) if row else 0


def test_a_thousand_hostile_emails_no_crash_all_recorded_none_answered_if_automatic(
        env: Env, world: World, conn: psycopg.Connection, figures: Figures) -> None:
    if corpus.REQUIRED:
        corpus.need()
    rng = random.Random(s := seed())
    figures["seed"] = s
    check = Checker(load(str(env.conf)), conn)
    from_corpus = len(corpus_files()) * VARIANTS

    @settings(max_examples=max(GENERATED, AT_LEAST + 100 - from_corpus), deadline=None, database=None,
              derandomize=False, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def generated(data: st.DataObject) -> None:
        raw, automatic = data.draw(hostile_messages(world))
        check(raw, automatic)

    generated()
    n_generated = sum(check.statuses.values())
    for raw, automatic in mangled_corpus(world, rng, VARIANTS):
        check(raw, automatic)
    total = sum(check.statuses.values())
    figures.update(generated=n_generated, mangled_corpus=total - n_generated, total=total,
                   distinct=len(check.distinct), automatic=check.automatic, problems=len(check.problems),
                   reasons=dict(check.reasons.most_common(12)), **dict(check.statuses))
    assert check.problems == [], "%d problems, e.g.:\n%s" % (len(check.problems), "\n".join(check.problems[:8]))
    assert total >= AT_LEAST and len(check.distinct) >= AT_LEAST * 9 // 10
    assert total - n_generated == from_corpus
    # Every path was taken.
    assert {"posted", "rejected", "ignored"} <= set(check.statuses)


def test_hostile_emails_through_dovecot_drain_the_mailbox(
        env: Env, world: World, forum: Forum, pop: DovecotServer, figures: Figures) -> None:
    rng = random.Random(s := seed())
    figures["seed"] = s
    batch = list(mangled_corpus(world, rng, 1))[: THROUGH_POP3 // 2]

    @settings(max_examples=THROUGH_POP3 - len(batch), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def generated(data: st.DataObject) -> None:
        batch.append(data.draw(hostile_messages(world)))

    generated()
    for raw, _ in batch:
        pop.deliver(raw)
    result = env.run("fetch_replies.py", "-v", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ERROR" not in result.stderr and "Traceback" not in result.stderr
    rows = forum.conn.execute("SELECT status, reason, answered, left_in_mailbox FROM inbound_emails").fetchall()
    left = sum(1 for r in rows if r[3])
    statuses = Counter(r[0] for r in rows)
    figures.update(delivered=len(batch), recorded=len(rows), left_in_mailbox_too_old=left, **dict(statuses))
    assert len(rows) == len(batch), "every email recorded once"
    assert all(r[0] == "posted" or r[1] for r in rows), "every refusal has a reason"
    assert "error" not in statuses
    assert pop.count() == left, "the mailbox drained (but for mail too old to touch, by design)"
    again = env.run("fetch_replies.py", "-v")
    assert again.returncode == 0 and len(forum.conn.execute("SELECT 1 FROM inbound_emails").fetchall()) == len(rows)


def test_oversized_automatic_mail_is_never_answered(env: Env, world: World, conn: psycopg.Connection) -> None:
    # Found by this suite: the size check came before the automatic-mail check, and a
    # refusal answered any sender but a mailer-daemon or a no-reply address, so a
    # large auto-reply or bounce (quoting the whole notification) got an answer.
    check = Checker(load(str(env.conf)), conn)
    big = b"x" * (MAX_BYTES + 1000)
    for mark in (b"Auto-Submitted: auto-replied", b"Precedence: bulk", b"X-Autoreply: yes"):
        check(mark + b"\r\nFrom: Bob <bob@elsewhere.example>\r\nTo: replies@forum.test\r\nSubject: Away\r\n"
              b"Message-ID: <%s@away.example>\r\n\r\n" % mark[:4] + big, True)
    assert check.statuses == {"rejected": 3}
    assert check.problems == []

#!/usr/bin/env python3
"""What the contract alone costs: the floors under goals P1 (four connections) and P5.

Run from the repository root::

    .venv/bin/python bench/floors.py [--only P1,P5] [--repeat 3] [--connections 4]

Issue 14 asks ``send_notifications.py`` for 0.8 of bare smtplib at four
connections and ``fetch_replies.py`` for 0.15 of a bare poplib loop, on a
2-core machine.  A bare loop does none of what the product must do: a
sender claims its rows (``FOR UPDATE SKIP LOCKED`` with a lease) and writes
every mail's outcome durably before the next mail's data (at most one
duplicate per kill); a fetcher parses every email and posts it with its
record in one transaction, and the post queues a notification for every
follower (SPEC section 3).  This script measures, side by side in one run
and on the same servers as ``bench_all.py``, loops that do only that and
nothing else: no rendering, no matching, no trimming, no logging, no
settings, no interpreter start-up, every import done and every message
built before the clock starts, one process per connection (no shared
interpreter lock).  They use the product's own SQL (``store.outgoing.claim``,
``OutcomeWriter``, ``store.inbound.claim``, ``store.inbound.post_reply``)
and its own parser (``parse.parse_message``, the standard library's modern
API).  No product can be faster than its floor, so a floor below a target
says the target cannot be met by any code on top of it.

It writes ``bench/FLOORS.md`` (figures only); ``bench/ANALYSIS.md`` says
what they mean.
"""

from __future__ import annotations

import argparse
import datetime
import os
import poplib
import shlex
import smtplib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bench_all as ba
import helpers as h
import psycopg

FLOORS = h.BENCH / "FLOORS.md"
COMMAND = ".venv/bin/python bench/floors.py"
GOALS = ("P1", "P5")
SETTLE = 1.0  # seconds


# --------------------------------------------------------------------------
# Measuring a case: rate, and CPU per message of each party.
# --------------------------------------------------------------------------


@dataclass
class Case:
    """One case's runs: messages per second, and CPU µs per message of the client, PostgreSQL, the sink."""

    label: str
    note: str
    rates: list[float] = field(default_factory=list)
    client: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    sink: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)


def machine_ticks() -> tuple[int, int]:
    """(all, idle) clock ticks of the machine so far (``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values), values[3] + values[4]


def timed(case: Case, pg: h.PostgresServer, count: int, sink: h.Sink | None,
          run: Callable[[], tuple[float, float]]) -> None:
    """Run ``run`` (which returns its seconds and its client CPU seconds) and add its figures to ``case``."""
    tick = os.sysconf("SC_CLK_TCK")
    # A backend's time reaches the postmaster's account when it is reaped,
    # shortly after its client closed: let the set-up's backends be counted
    # before the start, and the run's before the end.
    time.sleep(SETTLE)
    all0, idle0 = machine_ticks()
    pg0 = h.postgres_cpu(pg)
    sink0 = sink.cpu() if sink is not None else 0.0
    seconds, cpu = run()
    all1, idle1 = machine_ticks()
    time.sleep(SETTLE)
    case.rates.append(count / seconds)
    case.client.append(1e6 * cpu / count)
    case.server.append(1e6 * (h.postgres_cpu(pg) - pg0) / count)
    case.sink.append(1e6 * (sink.cpu() - sink0) / count if sink is not None else 0.0)
    case.busy.append(1e6 * ((all1 - all0) - (idle1 - idle0)) / tick / count)
    h.say("%s: %.0f msgs/s" % (case.label, case.rates[-1]))


def forked(work: Sequence[Callable[[], None]]) -> float:
    """Run each callable in a forked process of its own; their CPU seconds (all must exit 0)."""
    pids = []
    for fn in work:
        pid = os.fork()
        if pid == 0:  # the child never returns into the bench
            code = 0
            try:
                fn()
            except BaseException as exc:
                print("floor worker %d: %r" % (os.getpid(), exc), file=sys.stderr, flush=True)
                code = 1
            os._exit(code)
        pids.append(pid)
    cpu, failed = 0.0, 0
    for pid in pids:
        _, status, usage = os.wait4(pid, 0)
        failed += os.waitstatus_to_exitcode(status) != 0
        cpu += usage.ru_utime + usage.ru_stime
    if failed:
        raise RuntimeError("%d floor worker(s) failed (their error is above)" % failed)
    return cpu


def table(cases: Sequence[Case], bare: Case, target: float, sink: bool) -> list[str]:
    """The Markdown table of ``cases``, each against ``bare`` in the same run.

    The ratio is the median of each run's ratio: the cases of one run follow
    each other within a minute, while the machine's speed drifts between runs
    (bare smtplib once ranged over 2x in one file), so a ratio of medians
    would compare different moments.
    """
    head = "| case | msgs/s (runs) | / bare (runs) | target | client CPU µs/msg | PostgreSQL CPU µs/msg |"
    rule = "|---|---:|---:|---|---:|---:|"
    if sink:
        head += " sink CPU µs/msg | machine busy µs/msg |"
        rule += "---:|---:|"
    rows = [head, rule]
    for c in cases:
        ratios = [r / b for r, b in zip(c.rates, bare.rates, strict=True)]
        ratio = ba.med(ratios)
        mark = "" if c is bare else ("**below**" if ratio < target else "met")
        row = "| %s | **%.0f** (%s) | **%.2f** (%s) | %s | %.0f | %.0f |" % (
            c.label, ba.med(c.rates), ", ".join("%.0f" % r for r in c.rates), ratio,
            ", ".join("%.2f" % r for r in ratios), mark, ba.med(c.client), ba.med(c.server))
        if sink:
            row += " %.0f | %.0f |" % (ba.med(c.sink), ba.med(c.busy))
        rows.append(row)
    rows += ["", "Cases:", ""] + ["* %s: %s" % (c.label, c.note) for c in cases]
    return rows


# --------------------------------------------------------------------------
# P1: N connections draining the P1 queue.
# --------------------------------------------------------------------------

JOURNAL = "CREATE TABLE floor_journal (id bigint, run text, msgid text, at timestamptz NOT NULL DEFAULT now())"
# The journal of one run applied to the queue in one statement, as
# OutcomeWriter's UPDATE would have written each row.
APPLY = """
WITH j AS (DELETE FROM floor_journal WHERE run = %(run)s RETURNING *)
UPDATE notifications n
   SET status = 'sent', sent_at = j.at, last_attempt_at = j.at, attempts = n.attempts + 1, last_error = NULL,
       next_attempt_at = j.at, message_id_header = coalesce(n.message_id_header, j.msgid)
  FROM j
 WHERE n.id = j.id AND n.status = 'sending' AND n.claimed_by = j.run
"""


def run_conn(pg: h.PostgresServer) -> psycopg.Connection:
    return psycopg.connect(**pg.conninfo(h.RUN_DB), autocommit=True, options="-c search_path=%s" % h.SCHEMA)


def sender(b: ba.Bench, mode: str, chunk: Sequence[h.Prebuilt], by_id: dict[int, h.Prebuilt]) -> Callable[[], None]:
    """One connection's loop: ``mode`` is what it does beside bare smtplib's ``sendmail``."""

    def work() -> None:
        smtp = smtplib.SMTP("127.0.0.1", b.sink.port, timeout=30)
        conn = run_conn(b.pg)
        run = "floor-%d" % os.getpid()
        try:
            smtp.ehlo()
            if mode == "insert":
                for i, m in enumerate(chunk):
                    smtp.sendmail(m.sender, m.recipients, m.data)
                    conn.execute("INSERT INTO floor_journal (id) VALUES (%s)", (i,), prepare=True)
                return
            writer = h.store.outgoing.OutcomeWriter(conn)
            while jobs := h.store.outgoing.claim(conn, run, 200, 300):
                for job in jobs:
                    m = by_id[job.id]
                    smtp.sendmail(m.sender, m.recipients, m.data)
                    if mode == "outcome":
                        # What the product does: the outcome committed before the next mail.
                        writer.sent(run, job.id, "<%d.floor@forum.test>" % job.id)
                        if not writer.flush():
                            raise RuntimeError("lost the lease of %d" % job.id)
                    elif mode == "journal":
                        conn.execute("INSERT INTO floor_journal (id, run, msgid) VALUES (%s, %s, %s)",
                                     (job.id, run, "<%d.floor@forum.test>" % job.id), prepare=True)
                if mode == "journal":
                    conn.execute(APPLY, {"run": run})
        finally:
            smtp.quit()
            conn.close()

    return work


def floor_p1(b: ba.Bench) -> None:
    n, count = b.args.connections, b.args.count
    b.build_messages(count)
    by_id = {job.id: m for job, m in zip(b.jobs, b.prebuilt, strict=True)}
    cases = {
        "bare": Case("bare smtplib", "the bench's P1 referee: %d threads, one `smtplib` connection each, "
                                     "`sendmail` of its share of the pre-built messages" % n),
        "insert": Case("bare + one durable INSERT per mail",
                       "one process per connection: bare's loop, and after each mail an autocommit "
                       "prepared INSERT of one integer into a table with no index: the least a mail's "
                       "durable record in PostgreSQL can cost"),
        "claim": Case("claim, no outcome", "one process per connection: `h.store.outgoing.claim` (200 rows, "
                                           "SKIP LOCKED, lease) and bare `sendmail` of each row's pre-built "
                                           "message; no outcome is written (rows stay `sending`)"),
        "outcome": Case("**floor**: claim + outcome per mail",
                        "as above, and each mail's outcome written with `OutcomeWriter` (the product's "
                        "prepared UPDATE) and waited for before the next mail: what the at-most-one-duplicate "
                        "guarantee needs, and nothing else"),
        "journal": Case("claim + journal per mail, applied per batch",
                        "the batching that issue 14 allows: each mail's outcome a durable INSERT into a "
                        "narrow table with no index, the batch's outcomes applied to the queue in one "
                        "statement"),
        "ours": Case("`send_notifications.py`", "the product as cron runs it (bench_all.py's P1 case)"),
    }
    for i in range(b.args.repeat):
        for key, case in cases.items():
            h.fresh_run_db(b.pg, count)
            b.sink.reset()
            if key in ("insert", "journal"):
                with run_conn(b.pg) as conn:
                    conn.execute(JOURNAL)

            def run(key: str = key) -> tuple[float, float]:
                if key == "bare":
                    t = b.bare(n)
                    return t.seconds, t.cpu
                if key == "ours":
                    t = b.ours(n, count)
                    return t.seconds, t.cpu
                if key == "insert":
                    work = [sender(b, key, b.prebuilt[j::n], by_id) for j in range(n)]
                else:
                    work = [sender(b, key, (), by_id) for _ in range(n)]
                started = time.monotonic()
                cpu = forked(work)
                seconds = time.monotonic() - started
                b.sink.timing(count, started, seconds, cpu, 0.0)  # checks that every message arrived
                return seconds, cpu

            timed(case, b.pg, count, b.sink, run)
            want = {"bare": None, "insert": None, "claim": {"sending": count}}.get(key, {"sent": count})
            if want is not None and h.statuses(b.pg, h.RUN_DB) != want:
                raise RuntimeError("%s: %r" % (case.label, h.statuses(b.pg, h.RUN_DB)))
        h.say("P1 floors, run %d of %d done" % (i + 1, b.args.repeat))
    b.sections["P1"] = "\n".join([
        "## P1 at %d connections: %s queued notifications" % (n, "{:,}".format(count)),
        "",
        "The P1 queue of `bench_all.py` (one forum, 31 followers, 3,000 pending notifications, a fresh "
        "copy per run), the same aiosmtpd sink, the messages our composer makes of those rows, built before "
        "any clock starts.  Median of %d runs, the cases alternating within each run.  Client CPU: the "
        "sending processes (bare: the bench's own threads); PostgreSQL CPU: the postmaster and all its "
        "processes, autovacuum included; machine busy: all CPUs, from `/proc/stat`." % b.args.repeat,
        "",
        *table(list(cases.values()), cases["bare"], 0.8, sink=True),
    ])


# --------------------------------------------------------------------------
# P5: replies in Dovecot, fetched and posted.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """What a post needs of a reply."""

    message_id: str
    sender: str
    subject: str
    body: str


def parse(raw: bytes) -> Parsed:
    """The product's own parse (``forummail.parse``: the modern API, each header value parsed once).

    Cheaper than ``policy.default`` as it stands (about 3 against 5 ms per
    reply here), so the floor is not slowed by a parse the product would not
    use.
    """
    mail = h.parse_message(raw)
    return Parsed(mail.message_id, mail.from_addr, mail.subject, mail.plain or mail.html or "")


def fetcher(pop_port: int, pg: h.PostgresServer, known: list[Parsed], do_parse: bool, do_post: bool) -> float:
    """RETR each message, parse it and/or post it with its record (one transaction), DELE; the seconds."""
    conn = psycopg.connect(**pg.conninfo(ba.P5_DB), options="-c search_path=%s" % h.SCHEMA)
    row = conn.execute("SELECT id FROM tasks").fetchone()
    assert row is not None
    task = int(row[0])
    users = {str(r[1]).lower(): int(r[0]) for r in conn.execute("SELECT id, email FROM users")}
    conn.commit()
    started = time.monotonic()
    pop = poplib.POP3("127.0.0.1", pop_port, timeout=30)
    pop.user(h.POP_LOGIN)
    pop.pass_(h.POP_PASSWORD)
    count = pop.stat()[0]
    for n in range(1, count + 1):
        _, lines, octets = pop.retr(n)
        reply = parse(b"\r\n".join(lines)) if do_parse else known[n - 1]
        if do_post:
            with conn.transaction():
                inbound = h.store.inbound.claim(conn, reply.message_id, {
                    "message_id_header": reply.message_id, "pop_uidl": None, "source": "pop3", "sent_at": None,
                    "sender": reply.sender, "subject": reply.subject, "raw_size": octets})
                if inbound is None:
                    raise RuntimeError("reply %d recorded twice" % n)
                h.store.inbound.post_reply(conn, inbound, task, users[reply.sender.lower()], reply.body)
        pop.dele(n)
    pop.quit()
    seconds = time.monotonic() - started
    conn.close()
    if count != len(known):
        raise RuntimeError("found %d replies, expected %d" % (count, len(known)))
    return seconds


def floor_p5(b: ba.Bench) -> None:
    pop = h.DovecotServer(login=h.POP_LOGIN, password=h.POP_PASSWORD).start()
    try:
        conf = b.conf("p5", ba.P5_DB, 1, pop.port)
        replies = h.build_replies(b.pg, b.settings(conf, "fetch_replies.py"), b.args.replies)
        # "post only" posts message n from known[n - 1]: whatever order Dovecot lists them in, each
        # reply's fields are posted once.
        known = [parse(raw) for raw in replies]
        n = len(replies)
        cases = {
            "bare": Case("bare poplib", "the bench's P5 referee: login, `STAT`, `RETR` + `DELE` of each, `QUIT`"),
            "post": Case("post only", "bare's loop, and each reply recorded and posted in one transaction "
                                      "(`h.store.inbound.claim`, `h.store.inbound.post_reply`; the trigger "
                                      "queues 30 notifications) from fields parsed before the clock"),
            "parse": Case("parse only", "bare's loop, and each reply parsed as the product parses it "
                                        "(`forummail.parse.parse_message`: the modern `email` API, each "
                                        "header value parsed once; headers, text and HTML bodies, "
                                        "attachments); no database"),
            "floor": Case("**floor**: parse + post", "both: what any fetcher must do per reply under "
                                                     "SPEC section 5, with no matching, token, check or "
                                                     "trimming"),
            "ours": Case("`fetch_replies.py`", "the product as cron runs it (bench_all.py's P5 case)"),
        }
        for i in range(b.args.repeat):
            for key, case in cases.items():
                h.recreate_db(b.pg, ba.P5_DB)
                for raw in replies:
                    pop.deliver(raw)

                def run(key: str = key) -> tuple[float, float]:
                    if key == "bare":
                        return ba.bare_pop(pop.port, n).seconds, 0.0
                    if key == "ours":
                        proc = h.checked(h.run_proc([sys.executable, str(h.FETCH), "--conf", str(conf)]),
                                         "fetch_replies.py")
                        return proc.seconds, proc.cpu
                    cpu0 = time.process_time()
                    seconds = fetcher(pop.port, b.pg, known, key != "post", key != "parse")
                    return seconds, time.process_time() - cpu0

                timed(case, b.pg, n, None, run)
                if pop.count() != 0:
                    raise RuntimeError("%s left %d messages" % (case.label, pop.count()))
                want = {"bare": {}, "parse": {}}.get(key, {"posted": n})
                if h.statuses(b.pg, ba.P5_DB, "inbound_emails") != want:
                    raise RuntimeError("%s: %r" % (case.label, h.statuses(b.pg, ba.P5_DB, "inbound_emails")))
            h.say("P5 floors, run %d of %d done" % (i + 1, b.args.repeat))
        b.sections["P5"] = "\n".join([
            "## P5: %s replies in Dovecot" % "{:,}".format(n),
            "",
            "The P5 replies of `bench_all.py` (as Gmail writes them: text + HTML, the notification quoted; "
            "%.1f KB on average) delivered to Dovecot before each case, a fresh copy of the forum database per "
            "case.  Median of %d runs.  Client CPU: the fetching process (bare poplib: not measured); "
            "PostgreSQL CPU: the postmaster and all its processes." % (sum(map(len, replies)) / n / 1024,
                                                                       b.args.repeat),
            "",
            *table(list(cases.values()), cases["bare"], 0.15, sink=False),
        ])
    finally:
        pop.stop()


# --------------------------------------------------------------------------
# Main.
# --------------------------------------------------------------------------


def report(b: ba.Bench, started: datetime.datetime, elapsed: float, load_before: str) -> str:
    command = COMMAND + "".join(" " + shlex.quote(a) for a in sys.argv[1:])
    lines = ["# Floors: what the contract alone costs (issue 14)", "",
             "Written by `bench/floors.py`, which rewrites this whole file at every run: figures only.  What "
             "they mean: `bench/ANALYSIS.md`, \"Issue 14: the floors\".  A case marked **below** is under "
             "its goal's target (P1: 0.80 of bare at N connections; P5: 0.15 of bare).", "",
             "## Reproduce", "", "```", command, "```", "",
             "Options: `--only P1,P5`, `--repeat N` (default 3), `--connections N` (P1, default 4), `--count N` "
             "(P1, default 3000), `--replies N` (P5, default 1000), `--output PATH`.  This run: repeat %d, "
             "connections %d, count %d, replies %d." % (b.args.repeat, b.args.connections, b.args.count,
                                                        b.args.replies), ""]
    lines += h.machine_lines(b.pg, "no django-mailer here", started, elapsed, load_before) + [""]
    for goal in GOALS:
        if goal in b.sections:
            lines += [b.sections[goal], ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--only", default=",".join(GOALS), help="floors to measure: P1, P5 or both (default)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case; median")
    parser.add_argument("--connections", type=int, default=4, help="P1: connections (default 4)")
    parser.add_argument("--count", type=int, default=3000, help="P1: notifications drained")
    parser.add_argument("--replies", type=int, default=1000, help="P5: replies fetched")
    parser.add_argument("--output", default=str(FLOORS), help="report path (default bench/FLOORS.md)")
    args = parser.parse_args(argv)
    only = {g.strip().upper() for g in args.only.split(",") if g.strip()}
    if not only or not only <= set(GOALS):
        parser.error("--only takes P1, P5 or both")

    started_at = datetime.datetime.now().astimezone()
    load_before = h.load_average()
    t0 = time.monotonic()
    with h.servers("forummail-bench-floors-") as (sink, pg, work):
        b = ba.Bench(args, pg, sink, work)
        if "P1" in only:
            floor_p1(b)
        if "P5" in only:
            floor_p5(b)
        text = report(b, started_at, time.monotonic() - t0, load_before)
    Path(args.output).write_text(text, encoding="utf-8")
    h.say("wrote %s in %.0f s" % (args.output, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())

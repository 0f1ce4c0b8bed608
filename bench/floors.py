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
import re
import select
import shlex
import smtplib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr
from pathlib import Path

import bench_all as ba
import helpers as h
import psycopg
from psycopg.pq import ExecStatus

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
    ref: list[float] = field(default_factory=list)  # bare's rate in the run just before each of these
    client: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    sink: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)


def busy_ticks() -> int:
    """Clock ticks the machine's CPUs spent working so far (``/proc/stat``).

    User, nice, system, irq and softirq: not idle, not iowait, and not
    steal, the time the hypervisor gave to other machines.
    """
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return values[0] + values[1] + values[2] + values[5] + values[6]


def timed(case: Case, pg: h.PostgresServer, count: int, sink: h.Sink | None,
          run: Callable[[], tuple[float, float]]) -> None:
    """Run ``run`` (which returns its seconds and its client CPU seconds) and add its figures to ``case``."""
    tick = os.sysconf("SC_CLK_TCK")
    # A backend's time reaches the postmaster's account when it is reaped,
    # shortly after its client closed: let the set-up's backends be counted
    # before the start, and the run's before the end.  The machine's ticks
    # are read at the same moments, so both include the same background work.
    time.sleep(SETTLE)
    busy0, pg0 = busy_ticks(), h.postgres_cpu(pg)
    sink0 = sink.cpu() if sink is not None else 0.0
    seconds, cpu = run()
    sink1 = sink.cpu() if sink is not None else 0.0
    time.sleep(SETTLE)
    busy1, pg1 = busy_ticks(), h.postgres_cpu(pg)
    case.rates.append(count / seconds)
    case.client.append(1e6 * cpu / count)
    case.server.append(1e6 * (pg1 - pg0) / count)
    case.sink.append(1e6 * (sink1 - sink0) / count)
    case.busy.append(1e6 * (busy1 - busy0) / tick / count)
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
    """The Markdown table of ``cases``, each against the run of ``bare`` just before it.

    The ratio is the median of those pairs' ratios: the machine's speed
    drifts (bare smtplib once ranged over 2x in one file), so a ratio of
    medians, or of cases a few minutes apart, would compare different
    moments.
    """
    head = "| case | msgs/s (runs) | / bare (runs) | target | client CPU µs/msg | PostgreSQL CPU µs/msg |"
    rule = "|---|---:|---:|---|---:|---:|"
    if sink:
        head += " sink CPU µs/msg | machine busy µs/msg |"
        rule += "---:|---:|"
    rows = [head, rule]
    for c in cases:
        ratios = [r / b for r, b in zip(c.rates, c.ref or c.rates, strict=True)]
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
SETUP = {
    "insert": JOURNAL,
    "journal": JOURNAL,
    # One row per run, nothing indexed but its key: every update can be HOT.
    "progress": "CREATE TABLE floor_progress (run text PRIMARY KEY, last_id bigint)",
}
RECORD = {
    "insert": b"INSERT INTO floor_journal (id) VALUES ($1)",
    "journal": b"INSERT INTO floor_journal (id, run, msgid) VALUES ($1, $2, $3)",
    "progress": b"UPDATE floor_progress SET last_id = $1 WHERE run = $2",
}
# A batch's outcomes applied to the queue in one statement, as OutcomeWriter's
# UPDATE would have written each row.
APPLY = {
    "journal": """
WITH j AS (DELETE FROM floor_journal WHERE run = %(run)s RETURNING *)
UPDATE notifications n
   SET status = 'sent', sent_at = j.at, last_attempt_at = j.at, attempts = n.attempts + 1, last_error = NULL,
       next_attempt_at = j.at, message_id_header = coalesce(n.message_id_header, j.msgid)
  FROM j
 WHERE n.id = j.id AND n.status = 'sending' AND n.claimed_by = j.run
""",
    # Rows are sent in claim order, so every claimed row up to the last one
    # recorded went out (a failure would be recorded on its row at once).
    "progress": """
UPDATE notifications n
   SET status = 'sent', sent_at = now(), last_attempt_at = now(), attempts = n.attempts + 1, last_error = NULL,
       next_attempt_at = now(), message_id_header = coalesce(n.message_id_header, '<' || n.id || '.floor@forum.test>')
  FROM floor_progress p
 WHERE p.run = %(run)s AND n.claimed_by = p.run AND n.status = 'sending' AND n.id <= p.last_id
""",
}


def run_conn(pg: h.PostgresServer) -> psycopg.Connection:
    """A connection to the P1 queue set up as the product's sending connections are (asynchronous commit)."""
    conn = psycopg.connect(**pg.conninfo(h.RUN_DB), autocommit=True, options="-c search_path=%s" % h.SCHEMA)
    h.store.outgoing.prepare_sender_session(conn)
    return conn


class Recorder:
    """One prepared statement per mail, put on the wire at once and waited for before the next mail's data.

    As ``OutcomeWriter`` does it for the product: at most one record in
    flight, so a kill loses at most one.
    """

    def __init__(self, conn: psycopg.Connection, sql: bytes) -> None:
        self.pg = conn.pgconn
        result = self.pg.prepare(b"floor_record", sql)
        if result.status != ExecStatus.COMMAND_OK:
            raise psycopg.errors.error_from_result(result)
        self.waiting = False

    def send(self, *params: object) -> None:
        self.wait()
        self.pg.send_query_prepared(b"floor_record", [str(p).encode() for p in params])
        while self.pg.flush() == 1:
            select.select([], [self.pg.socket], [])
        self.waiting = True

    def wait(self) -> None:
        if not self.waiting:
            return
        self.waiting = False
        self.pg.consume_input()
        while self.pg.is_busy():
            select.select([self.pg.socket], [], [])
            self.pg.consume_input()
        while (result := self.pg.get_result()) is not None:
            if result.status != ExecStatus.COMMAND_OK or int(result.command_tuples or 0) != 1:
                raise RuntimeError("record failed: %s" % result.status)


def send(smtp: smtplib.SMTP, m: h.Prebuilt, before_data: Callable[[], object]) -> None:
    """smtplib's ``sendmail`` of ``m``, with ``before_data`` called once the server said 354.

    The product waits for the previous mail's outcome there, so that the
    database works while the envelope goes (``transport.transact``).
    """
    for what, (code, reply) in (("MAIL", smtp.mail(m.sender)), *(("RCPT", smtp.rcpt(r)) for r in m.recipients)):
        if code != 250:
            raise smtplib.SMTPResponseException(code, b"%s: %s" % (what.encode(), reply))
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    before_data()
    data = DOT.sub(b"..", m.data)
    smtp.send(data + (b"" if data.endswith(b"\r\n") else b"\r\n") + b".\r\n")
    code, reply = smtp.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


DOT = re.compile(rb"(?m)^\.")


def sender(b: ba.Bench, mode: str, chunk: Sequence[h.Prebuilt], by_id: dict[int, h.Prebuilt]) -> Callable[[], None]:
    """One connection's loop: bare smtplib's, and what ``mode`` adds (the cases of ``floor_p1``)."""

    def work() -> None:
        smtp = smtplib.SMTP("127.0.0.1", b.sink.port, timeout=30)
        conn = run_conn(b.pg)
        run = "floor-%d" % os.getpid()
        try:
            smtp.ehlo()
            if mode == "insert":
                record = Recorder(conn, RECORD[mode])
                for i, m in enumerate(chunk):
                    send(smtp, m, record.wait)
                    record.send(i)
                record.wait()
                return
            if mode == "progress":
                conn.execute("INSERT INTO floor_progress VALUES (%s, 0)", (run,))
            writer = h.store.outgoing.OutcomeWriter(conn)
            recorder = Recorder(conn, RECORD[mode]) if mode in RECORD else None
            while jobs := h.store.outgoing.claim(conn, run, 200, 300):
                for job in jobs:
                    m = by_id[job.id]
                    if mode == "outcome":  # the product's own writer, waited for as the product does
                        send(smtp, m, writer.flush)
                        writer.sent(run, job.id, "<%d.floor@forum.test>" % job.id)
                    elif recorder is not None:
                        send(smtp, m, recorder.wait)
                        recorder.send(*((job.id, run, "<%d.floor@forum.test>" % job.id) if mode == "journal"
                                        else (job.id, run)))
                    else:
                        send(smtp, m, lambda: None)
                writer.flush()
                if recorder is not None:
                    recorder.wait()
                if mode in APPLY:
                    conn.execute(APPLY[mode], {"run": run})
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
                                     "`sendmail` of its share of the pre-built messages; run before each other "
                                     "case, which is compared with that run" % n),
        "insert": Case("bare + one durable record per mail",
                       "one process per connection: bare's exchange, and after each mail an autocommit "
                       "prepared INSERT of one integer into a table with no index, waited for once the next "
                       "mail's DATA is answered: the least a mail's durable record in PostgreSQL can cost"),
        "claim": Case("claim, no outcome", "one process per connection: `store.outgoing.claim` (200 rows, "
                                           "SKIP LOCKED, lease) and bare's exchange for each row's pre-built "
                                           "message; no outcome is written (rows stay `sending`)"),
        "outcome": Case("**floor of this queue**: claim + outcome UPDATE per mail",
                        "as above, and each mail's outcome written by the product's `OutcomeWriter` (a prepared "
                        "UPDATE of the row) and waited for once the next mail's DATA is answered, as the product "
                        "does: what the at-most-one-duplicate guarantee needs with outcomes on the queue's rows"),
        "journal": Case("claim + journal INSERT per mail, applied per batch",
                        "the batching issue 14 allows: each outcome a durable INSERT into a narrow table with no "
                        "index (in flight as above), the batch applied to the queue in one statement"),
        "progress": Case("claim + progress UPDATE per mail, applied per batch",
                         "rows sent in claim order; after each mail, the id of the last one sent in the run's "
                         "own row of a one-column table (a HOT update, in flight as above); the batch applied "
                         "to the queue in one statement"),
        "ours": Case("`send_notifications.py`", "the product as cron runs it (bench_all.py's P1 case)"),
    }
    bare = cases["bare"]
    for i in range(b.args.repeat):
        for key, case in cases.items():
            if key == "bare":
                continue
            h.fresh_run_db(b.pg, count)
            b.sink.reset()
            timed(bare, b.pg, count, b.sink, lambda: seconds_cpu(b.bare(n)))
            case.ref.append(bare.rates[-1])
            h.fresh_run_db(b.pg, count)
            b.sink.reset()
            if key in SETUP:
                with run_conn(b.pg) as conn:
                    conn.execute(SETUP[key])

            def run(key: str = key) -> tuple[float, float]:
                if key == "ours":
                    return seconds_cpu(b.ours(n, count))
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
            want = {"insert": None, "claim": {"sending": count}}.get(key, {"sent": count})
            if want is not None and h.statuses(b.pg, h.RUN_DB) != want:
                raise RuntimeError("%s: %r" % (case.label, h.statuses(b.pg, h.RUN_DB)))
        h.say("P1 floors, run %d of %d done" % (i + 1, b.args.repeat))
    b.sections["P1"] = "\n".join([
        "## P1 at %d connections: %s queued notifications" % (n, "{:,}".format(count)),
        "",
        "The P1 queue of `bench_all.py` (one forum, 31 followers, 3,000 pending notifications, a fresh "
        "copy per run), the same aiosmtpd sink, the messages our composer makes of those rows, built before "
        "any clock starts.  %d rounds; in each, every case right after a run of bare, and compared with it.  "
        "Every floor connection is set up as the product's (`prepare_sender_session`: asynchronous commit) "
        "and exchanges each mail as smtplib's `sendmail` does (MAIL, RCPT, DATA, the data).  Client CPU: the "
        "sending processes (bare: the bench's own threads); PostgreSQL CPU: the postmaster and all its "
        "processes, autovacuum included; machine busy: all CPUs, steal excluded, from `/proc/stat`."
        % b.args.repeat,
        "",
        *table(list(cases.values()), bare, 0.8, sink=True),
    ])


def seconds_cpu(t: h.Timing) -> tuple[float, float]:
    return t.seconds, t.cpu


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


def parse_product(raw: bytes) -> Parsed:
    """The product's own parse (``forummail.parse``: the modern API, each header value parsed once)."""
    mail = h.parse_message(raw)
    return Parsed(mail.message_id, mail.from_addr, mail.subject, mail.plain or mail.html or "")


COMPAT = BytesParser(policy=policy.compat32)


def parse_least(raw: bytes) -> Parsed:
    """The least the standard library can do: ``compat32``'s structure, the text part decoded, raw headers.

    No header decoding (encoded words), no address grammar beyond
    ``parseaddr``, no HTML, no attachments: less than a correct fetcher
    needs, so a floor built on it is a floor.
    """
    msg = COMPAT.parsebytes(raw)
    body = ""
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                body = payload.decode(part.get_content_charset() or "ascii", "replace")
            break
    return Parsed(str(msg["Message-ID"]), parseaddr(str(msg["From"]))[1], str(msg["Subject"]), body)


def fetcher(pop_port: int, pg: h.PostgresServer, known: list[Parsed],
            parse: Callable[[bytes], Parsed] | None, post: bool) -> float:
    """RETR each message, parse it and/or post it with its record (one transaction), DELE; the seconds.

    What is posted is the text the product posts (``known``, extracted
    before the clock): trimming counts for nothing here.
    """
    conn = psycopg.connect(**pg.conninfo(ba.P5_DB), options="-c search_path=%s" % h.SCHEMA)
    row = conn.execute("SELECT id FROM tasks").fetchone()
    assert row is not None
    task = int(row[0])
    users = {str(r[1]).lower(): int(r[0]) for r in conn.execute("SELECT id, email FROM users")}
    conn.commit()
    by_id = {k.message_id: k for k in known}
    started = time.monotonic()
    pop = poplib.POP3("127.0.0.1", pop_port, timeout=30)
    pop.user(h.POP_LOGIN)
    pop.pass_(h.POP_PASSWORD)
    count = pop.stat()[0]
    for n in range(1, count + 1):
        _, lines, octets = pop.retr(n)
        reply = parse(b"\r\n".join(lines)) if parse is not None else known[n - 1]
        if post:
            with conn.transaction():
                inbound = h.store.inbound.claim(conn, reply.message_id, {
                    "message_id_header": reply.message_id, "pop_uidl": None, "source": "pop3", "sent_at": None,
                    "sender": reply.sender, "subject": reply.subject, "raw_size": octets})
                if inbound is None:
                    raise RuntimeError("reply %d recorded twice" % n)
                h.store.inbound.post_reply(conn, inbound, task, users[reply.sender.lower()],
                                           by_id[reply.message_id].body)
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
        # Each reply's fields with the text the product posts of it ("post only" posts message n
        # from known[n - 1]: whatever order Dovecot lists them in, each is posted once).
        known = [Parsed(p.message_id, p.sender, p.subject, h.extract_reply(raw))
                 for p, raw in ((parse_product(raw), raw) for raw in replies)]
        n = len(replies)
        cases = {
            "bare": Case("bare poplib", "the bench's P5 referee: login, `STAT`, `RETR` + `DELE` of each, `QUIT`; "
                                        "run before each other case, which is compared with that run"),
            "post": Case("post only", "bare's loop, and each reply recorded and posted in one transaction "
                                      "(`store.inbound.claim`, `store.inbound.post_reply`; the trigger queues 30 "
                                      "notifications) from fields and text extracted before the clock"),
            "parse": Case("parse only, as the product parses", "bare's loop, and each reply parsed by "
                                                               "`forummail.parse.parse_message` (the modern "
                                                               "`email` API, each header value parsed once; "
                                                               "headers, text and HTML bodies, attachments); "
                                                               "no database"),
            "least": Case("parse only, the least", "bare's loop, and each reply parsed with `policy.compat32`: "
                                                   "the structure, the text part decoded, From, Message-ID and "
                                                   "Subject undecoded (less than a correct fetcher needs)"),
            "floor": Case("**floor**: the least parse + post", "both, one reply after the other: what any "
                                                               "fetcher must do per reply under SPEC section 5, "
                                                               "with the cheapest parse, and no matching, token, "
                                                               "check or trimming"),
            "ours": Case("`fetch_replies.py`", "the product as cron runs it (bench_all.py's P5 case)"),
        }
        bare = cases["bare"]
        parsers: dict[str, Callable[[bytes], Parsed] | None] = {
            "post": None, "parse": parse_product, "least": parse_least, "floor": parse_least}

        def deliver() -> None:
            h.recreate_db(b.pg, ba.P5_DB)
            for raw in replies:
                pop.deliver(raw)

        for i in range(b.args.repeat):
            for key, case in cases.items():
                if key == "bare":
                    continue
                deliver()
                timed(bare, b.pg, n, None, lambda: (ba.bare_pop(pop.port, n).seconds, 0.0))
                case.ref.append(bare.rates[-1])
                deliver()

                def run(key: str = key) -> tuple[float, float]:
                    if key == "ours":
                        proc = h.checked(h.run_proc([sys.executable, str(h.FETCH), "--conf", str(conf)]),
                                         "fetch_replies.py")
                        return proc.seconds, proc.cpu
                    cpu0 = time.process_time()
                    seconds = fetcher(pop.port, b.pg, known, parsers[key], key in ("post", "floor"))
                    return seconds, time.process_time() - cpu0

                timed(case, b.pg, n, None, run)
                if pop.count() != 0:
                    raise RuntimeError("%s left %d messages" % (case.label, pop.count()))
                want = {} if key in ("parse", "least") else {"posted": n}
                if h.statuses(b.pg, ba.P5_DB, "inbound_emails") != want:
                    raise RuntimeError("%s: %r" % (case.label, h.statuses(b.pg, ba.P5_DB, "inbound_emails")))
            h.say("P5 floors, run %d of %d done" % (i + 1, b.args.repeat))
        b.sections["P5"] = "\n".join([
            "## P5: %s replies in Dovecot" % "{:,}".format(n),
            "",
            "The P5 replies of `bench_all.py` (as Gmail writes them: text + HTML, the notification quoted; "
            "%.1f KB on average) delivered to Dovecot before each case, a fresh copy of the forum database per "
            "case.  %d rounds; in each, every case right after a run of bare, and compared with it.  Client CPU: "
            "the fetching process (bare poplib: not measured); PostgreSQL CPU: the postmaster and all its "
            "processes, autovacuum included." % (sum(map(len, replies)) / n / 1024, b.args.repeat),
            "",
            *table(list(cases.values()), bare, 0.15, sink=False),
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

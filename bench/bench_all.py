#!/usr/bin/env python3
"""The goals of issue 5 (P1-P6), measured side by side in one run, with profiles.

Run from the repository root, no arguments needed::

    .venv/bin/python bench/bench_all.py [--only P1,P2,...] [--quick] [--count N]

It starts everything it needs (PostgreSQL from ``tests.servers``, an
aiosmtpd sink in a process of its own whose DATA reply can be delayed,
Dovecot POP3 for P5, a throw-away Django project for P6), stops it all in
``finally``, and rewrites ``bench/RESULTS.md`` with what it measured only:
the command, the machine, one table per goal (figures, target, MET / NOT
MET) and the profiles.  What the figures mean is written by hand in
``bench/ANALYSIS.md``, which this script never writes.

* P1: draining 3,000 queued notifications end to end, ``smtp_max_connections``
  = N, against bare ``smtplib`` (N threads, one connection each, the
  pre-built messages split among them), N = 1 and 4; target ours/bare >= 0.8.
  At N = 1, informative: the same drain in process, and rendering alone.
* P2: the sink waits 20 ms before answering DATA; N = 1, 2, 4, 8 connections;
  target rate(N) >= 0.8 x N x rate(1).
* P3: peak RSS of ``send_notifications.py --limit 1000`` with 100,000 due rows
  <= 1.1 x with 1,000 due rows (the same 1,000 sent; only the due rows differ).
* P4: a run with nothing due <= 1.5 x ``python -c "import psycopg"`` (median
  wall clock of 10 runs each).
* P5: ``fetch_replies.py`` on 1,000 realistic replies in Dovecot >= 0.15 x a bare
  poplib RETR+DELE loop over the same 1,000 (issue 14; issue 5 asked 0.5).
* P6: ours (P1, N = 1) >= 4 x django-mailer's ``manage.py send_mail`` on the same
  3,000 messages, sink and PostgreSQL (needs ``bench/requirements-bench.txt``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import poplib
import re
import shlex
import smtplib
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import helpers as h
import psycopg

from forummail import groups

RESULTS = h.BENCH / "RESULTS.md"
COMMAND = ".venv/bin/python bench/bench_all.py"
GOALS = ("P1", "P2", "P3", "P4", "P5", "P6")
# What a full run uses; a run with other sizes says so at the top of its file.
FULL = {"repeat": 3, "count": 3000, "replies": 1000, "quick": False, "p3_full": True}


def med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rates(ts: Sequence[h.Timing], attr: str = "rate") -> str:
    return ", ".join("%.0f" % getattr(t, attr) for t in ts)


def verdict(ok: bool) -> str:
    return "**MET**" if ok else "**NOT MET**"


@dataclass
class Bench:
    args: argparse.Namespace
    pg: h.PostgresServer
    sink: h.Sink
    work: Path
    confs: dict[str, Path] = field(default_factory=dict)
    jobs: list[h.Job] = field(default_factory=list)
    prebuilt: list[h.Prebuilt] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)
    summary: dict[str, tuple[str, str, str, bool]] = field(default_factory=dict)  # goal -> (figure, target, ...)
    loaded: tuple[Path, str, h.Settings] | None = None

    def settings(self, conf: Path, prog: str) -> h.Settings:
        """The settings of ``conf``, logging set up as ``prog`` does (once, not per run: no handler piles up)."""
        if self.loaded is None or self.loaded[:2] != (conf, prog):
            self.loaded = (conf, prog, h.load_settings(conf, prog))
        return self.loaded[2]

    def conf(self, key: str, db: str, connections: int = 1, pop_port: int = 0, processes: int = 0) -> Path:
        key = "%s-%s-n%d-pop%d-p%d" % (key, db, connections, pop_port, processes)
        if key not in self.confs:
            self.confs[key] = h.write_conf(self.work / key, self.pg, self.sink.port, db, connections, pop_port,
                                           processes)
        return self.confs[key]

    def ours(self, connections: int, count: int, processes: int = 0) -> h.Timing:
        """``send_notifications.py`` draining ``count`` fresh notifications, as cron runs it."""
        conf = self.conf("send-n%d" % connections, h.RUN_DB, connections, processes=processes)
        h.fresh_run_db(self.pg, count)
        self.sink.reset()
        sink_cpu0 = self.sink.cpu()
        proc = h.checked(h.run_proc([sys.executable, str(h.SEND), "--conf", str(conf)]), "send_notifications.py")
        timing = self.sink.timing(count, proc.started, proc.seconds, proc.cpu, sink_cpu0, proc.maxrss_kb)
        if h.statuses(self.pg, h.RUN_DB) != {"sent": count}:
            raise RuntimeError("not all sent: %r" % h.statuses(self.pg, h.RUN_DB))
        return timing

    def in_process(self, count: int) -> h.Timing:
        """The same drain (one connection) as a call in this process: no interpreter start, no imports."""
        settings = self.settings(self.conf("send-n1", h.RUN_DB, 1), "send_notifications.py")
        h.fresh_run_db(self.pg, count)
        self.sink.reset()
        cpu0, sink_cpu0 = time.process_time(), self.sink.cpu()
        started = time.monotonic()
        h.send_in_process(settings, count)
        seconds = time.monotonic() - started
        timing = self.sink.timing(count, started, seconds, time.process_time() - cpu0, sink_cpu0)
        if h.statuses(self.pg, h.RUN_DB) != {"sent": count}:
            raise RuntimeError("not all sent: %r" % h.statuses(self.pg, h.RUN_DB))
        return timing

    def bare(self, connections: int) -> h.Timing:
        """Bare smtplib: the pre-built messages split among ``connections`` threads, one connection each."""
        messages = self.prebuilt
        chunks = [messages[i::connections] for i in range(connections)]
        errors: list[BaseException] = []

        def work(chunk: Sequence[h.Prebuilt]) -> None:
            try:
                smtp = smtplib.SMTP("127.0.0.1", self.sink.port, timeout=30)
                try:
                    smtp.ehlo()
                    for m in chunk:
                        smtp.sendmail(m.sender, m.recipients, m.data)
                finally:
                    smtp.quit()
            except BaseException as exc:  # reported below
                errors.append(exc)

        self.sink.reset()
        cpu0, sink_cpu0 = time.process_time(), self.sink.cpu()
        started = time.monotonic()
        threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.monotonic() - started
        cpu = time.process_time() - cpu0
        if errors:
            raise RuntimeError("bare smtplib: %r" % errors[0])
        return self.sink.timing(len(messages), started, seconds, cpu, sink_cpu0)

    def render_only(self) -> h.Timing:
        """``Composer.compose`` of the P1 rows: no database, no SMTP; its output is bare's messages."""
        settings = self.settings(self.conf("send-n1", h.RUN_DB, 1), "send_notifications.py")
        cpu0 = time.process_time()
        started = time.monotonic()
        built = h.render(settings, self.jobs)
        seconds = time.monotonic() - started
        self.prebuilt = built
        return h.Timing(seconds, len(built), cpu=time.process_time() - cpu0, size=sum(len(m.data) for m in built))

    def build_messages(self, count: int) -> None:
        """The very bytes our composer makes of the same rows, rendered before any clock starts."""
        if len(self.prebuilt) == count:
            return
        self.jobs = h.peek_jobs(self.pg, count)
        self.render_only()


# --------------------------------------------------------------------------
# P1: end-to-end drain vs bare smtplib, N = 1 and 4.
# --------------------------------------------------------------------------


def goal_p1(b: Bench) -> None:
    count, conns = b.args.count, (1, 4)
    b.build_messages(count)
    ours: dict[int, list[h.Timing]] = {n: [] for n in conns}
    bare: dict[int, list[h.Timing]] = {n: [] for n in conns}
    inproc: list[h.Timing] = []
    render: list[h.Timing] = []
    for i in range(b.args.repeat):
        for n in conns:
            t = b.ours(n, count)
            ours[n].append(t)
            u = b.bare(n)
            bare[n].append(u)
            h.say("P1 run %d N=%d: ours %.2f s %.0f msgs/s (steady %.0f); bare %.2f s %.0f msgs/s"
                  % (i + 1, n, t.seconds, t.rate, t.steady_rate, u.seconds, u.rate))
        inproc.append(b.in_process(count))
        render.append(b.render_only())
        h.say("P1 run %d N=1: in process %.2f s %.0f msgs/s; render only %.2f s %.0f msgs/s"
              % (i + 1, inproc[-1].seconds, inproc[-1].rate, render[-1].seconds, render[-1].rate))
    # Informative: the same drains against the sink offering PIPELINING, as
    # Postfix, Exchange Online and Gmail do (bare smtplib never pipelines);
    # and four connections as four processes (OPTS['send_processes'] = 4)
    # against the default on this machine.
    piped: dict[int, list[h.Timing]] = {n: [] for n in conns}
    piped_bare: dict[int, list[h.Timing]] = {n: [] for n in conns}
    forked: list[h.Timing] = []
    b.sink.set_pipelining(True)
    try:
        for i in range(b.args.repeat):
            for n in conns:
                piped[n].append(b.ours(n, count))
                piped_bare[n].append(b.bare(n))
                h.say("P1 run %d N=%d, sink offering PIPELINING: ours %.0f msgs/s; bare %.0f msgs/s"
                      % (i + 1, n, piped[n][-1].rate, piped_bare[n][-1].rate))
    finally:
        b.sink.set_pipelining(False)
    for i in range(b.args.repeat):
        forked.append(b.ours(4, count, processes=4))
        h.say("P1 run %d N=4, four processes: %.0f msgs/s" % (i + 1, forked[-1].rate))
    b.results["P1"] = {"ours": ours, "bare": bare}
    rows = []
    for n in conns:
        o, s, r = med([t.rate for t in ours[n]]), med([t.steady_rate for t in ours[n]]), med(
            [t.rate for t in bare[n]])
        ok = o / r >= 0.8
        rows.append("| %d | **%.0f** (%s) | %.0f | **%.0f** (%s) | **%.2f** | %.2f | >= 0.80 | %s |" % (
            n, o, rates(ours[n]), s, r, rates(bare[n]), o / r, s / r, verdict(ok)))
        cpu = med([1e6 * t.cpu / t.count for t in ours[n]])
        b.summary["P1 N=%d" % n] = ("ours %.0f vs bare %.0f msgs/s = %.2f" % (o, r, o / r), ">= 0.80", "", ok)
        rows[-1] += " %.0f µs |" % cpu
    b.sections["P1"] = "\n".join([
        "## P1: draining %d notifications end to end vs bare smtplib, same number of connections" % count,
        "",
        "Ours: `send_notifications.py --conf FILE` with `OPTS['smtp_max_connections']` = N, claim + render + "
        "send + mark, wall clock from `Popen` to exit.  Bare: N threads, each with its own `smtplib.SMTP` "
        "connection (connect, EHLO, `sendmail` of its share, QUIT), the %d messages our composer makes of the "
        "same rows, built before the clock starts.  Median of %d runs (each run in brackets); \"steady\": "
        "the same runs seen from the sink, first to last message (no start-up).  Verdict on the wall clock."
        % (count, b.args.repeat),
        "",
        "| N | ours msgs/s | ours steady | bare msgs/s | ours / bare | steady / bare | target | verdict "
        "| ours CPU per msg |",
        "|---:|---:|---:|---:|---:|---:|---|---|---:|",
        *rows,
        "",
        "Average size at the sink: ours %.0f bytes, bare %.0f bytes." % (
            med([t.size / t.count for t in ours[1]]), med([t.size / t.count for t in bare[1]])),
        "",
        "### P1 against a sink offering PIPELINING, and four processes (informative)",
        "",
        "Real SMTP servers (Postfix, Exchange Online, Gmail) offer PIPELINING (RFC 2920), which aiosmtpd "
        "does not say; ours then sends MAIL FROM, RCPT TO and DATA in one write, bare smtplib never does.  The "
        "same drains, median of %d run(s).  Last row: four connections as four processes "
        "(`OPTS['send_processes'] = 4`), against the verdict's N=4 row, which runs as this machine's "
        "default (%s)." % (b.args.repeat, "threads in one process" if groups.automatic() < 2 else
                            "%d processes" % min(4, groups.automatic())),
        "",
        "| case | ours msgs/s | bare msgs/s | ours / bare |",
        "|---|---:|---:|---:|",
        *("| N=%d, sink offering PIPELINING | %.0f (%s) | %.0f (%s) | %.2f |" % (
            n, med([t.rate for t in piped[n]]), rates(piped[n]), med([t.rate for t in piped_bare[n]]),
            rates(piped_bare[n]), med([t.rate for t in piped[n]]) / med([t.rate for t in piped_bare[n]]))
          for n in conns),
        "| N=4, four processes (stock sink) | %.0f (%s) | %.0f | %.2f |" % (
            med([t.rate for t in forked]), rates(forked), med([t.rate for t in bare[4]]),
            med([t.rate for t in forked]) / med([t.rate for t in bare[4]])),
        "",
        *p1_breakdown(ours[1], bare[1], inproc, render),
    ])


def p1_breakdown(ours: list[h.Timing], bare: list[h.Timing], inproc: list[h.Timing],
                 render: list[h.Timing]) -> list[str]:
    """P1 at N=1 taken apart (informative, not judged): start-up, in process, rendering alone, CPU."""
    b = med([t.rate for t in bare])

    def row(label: str, ts: list[h.Timing], attr: str = "rate", sink: bool = True) -> str:
        rate = med([getattr(t, attr) for t in ts])
        seconds = med([t.steady if attr == "steady_rate" else t.seconds for t in ts])
        cpu = "" if attr == "steady_rate" else "%.0f%%" % (100 * med([t.cpu / t.seconds for t in ts]))
        sink_cpu = "%.0f%%" % (100 * med([t.sink_cpu / t.seconds for t in ts])) if sink and cpu else ""
        return "| %s | %.2f | %.0f | %.2f | %s | %s | %s |" % (label, seconds, rate, rate / b, cpu, sink_cpu,
                                                              rates(ts, attr))

    def per_msg_cpu(ts: list[h.Timing]) -> float:
        return med([1e6 * t.cpu / t.count for t in ts])

    cpu_in, cpu_r, cpu_b = per_msg_cpu(inproc), per_msg_cpu(render), per_msg_cpu(bare)
    return [
        "### P1 at N=1, taken apart (informative)",
        "",
        "In process: `send_notifications(settings)` called in the bench process (settings loaded, modules "
        "imported; it connects, checks the schema, drains).  Render only: `Composer.compose` of the same rows "
        "with a new composer (no database, no SMTP); its output is bare's messages.  CPU: of the process "
        "doing the work, and of the sink, as a share of one core over the case's wall clock; PostgreSQL's "
        "backend is not counted.  Median of %d run(s)." % len(ours),
        "",
        "| case | seconds | msgs/s | ratio to bare | its CPU | sink CPU | each run, msgs/s |",
        "|---|---:|---:|---:|---:|---:|---|",
        row("`send_notifications.py` subprocess, wall clock", ours),
        row("same runs, steady (sink: first to last message)", ours, "steady_rate"),
        row("in process, `send_notifications(settings)`", inproc),
        row("bare `smtplib`, prebuilt messages", bare),
        row("render only, `Composer.compose` (no DB, no SMTP)", render, sink=False),
        "",
        "* Start-up of the subprocess (`Popen` to the first message at the sink): %.2f s." % med(
            [t.startup for t in ours]),
        "* Wall clock per message: subprocess %.0f µs, steady %.0f µs, in process %.0f µs; bare %.0f µs; "
        "render only %.0f µs." % tuple(1e6 / med([getattr(t, a) for t in ts]) for ts, a in (
            (ours, "rate"), (ours, "steady_rate"), (inproc, "rate"), (bare, "rate"), (render, "rate"))),
        "* CPU of the sending process per message: in process %.0f µs = render %.0f µs + bare smtplib %.0f µs "
        "+ the rest (claim, the outcome's UPDATE, the log line, the threads) %.0f µs." % (
            cpu_in, cpu_r, cpu_b, cpu_in - cpu_r - cpu_b),
    ]


# --------------------------------------------------------------------------
# P2: scaling with connections when the server takes 20 ms per DATA.
# --------------------------------------------------------------------------


def goal_p2(b: Bench) -> None:
    per_conn, conns, delay = b.args.p2_per_connection, (1, 2, 4, 8), 0.020
    runs: dict[int, list[h.Timing]] = {n: [] for n in conns}
    b.sink.set_delay(delay)
    try:
        for i in range(b.args.p2_repeat):
            for n in conns:
                t = b.ours(n, per_conn * n)
                runs[n].append(t)
                h.say("P2 run %d N=%d: %d msgs in %.2f s, %.0f msgs/s (steady %.0f)"
                      % (i + 1, n, t.count, t.seconds, t.rate, t.steady_rate))
    finally:
        b.sink.set_delay(0.0)
    one = med([t.rate for t in runs[1]])
    one_s = med([t.steady_rate for t in runs[1]])
    rows = []
    for n in conns:
        r, s = med([t.rate for t in runs[n]]), med([t.steady_rate for t in runs[n]])
        eff, eff_s = r / (n * one), s / (n * one_s)
        ok = eff >= 0.8
        rows.append("| %d | %d | %.0f (%s) | %.0f | %.1f | **%.2f** | %.2f | >= 0.80 | %s | %.0f%% |" % (
            n, per_conn * n, r, rates(runs[n]), s, n / delay, eff, eff_s, verdict(ok) if n > 1 else "(reference)",
            100 * med([t.cpu / t.seconds for t in runs[n]])))
        if n > 1:
            b.summary["P2 N=%d" % n] = ("%.0f msgs/s = %.2f x N x rate(1) (%.0f)" % (r, eff, one), ">= 0.80", "",
                                        ok)
    b.results["P2"] = runs
    b.sections["P2"] = "\n".join([
        "## P2: connections against a server that takes 20 ms to answer DATA",
        "",
        "The sink sleeps %.0f ms (`asyncio.sleep` in `handle_DATA`) before each reply.  Ours only "
        "(`send_notifications.py`, `smtp_max_connections` = N), %d messages per connection so that every run "
        "lasts about as long (start-up weighs the same in each).  Efficiency = rate(N) / (N x rate(1)); "
        "median of %d run(s).  Ceiling: N / 20 ms." % (1000 * delay, per_conn, b.args.p2_repeat),
        "",
        "| N | messages | msgs/s (runs) | steady msgs/s | ceiling | efficiency | steady efficiency | target "
        "| verdict | sender CPU (share of a core) |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
        *rows,
    ])


# --------------------------------------------------------------------------
# P3: peak memory with 100,000 due rows vs 1,000.
# --------------------------------------------------------------------------

P3_DB = "bench_p3"


def fill_system_rows(b: Bench, rows: int) -> None:
    h.recreate_db(b.pg, P3_DB)
    with h.db_conn(b.pg, P3_DB) as conn:
        conn.execute("INSERT INTO notifications (kind, recipient, subject, body, urgent)"
                     " SELECT 'system', 'u'||g||'@example.com', 'subject '||g,"
                     " 'Hello,\n\nthis is system mail number '||g||' of the benchmark.\n', false"
                     " FROM generate_series(1, %s) g", (rows,))
        conn.execute("VACUUM ANALYZE")


def goal_p3(b: Bench) -> None:
    limit, sizes = 1000, (1000, 100_000)
    conf = b.conf("p3", P3_DB, 1)
    runs: dict[int, list[h.Timing]] = {n: [] for n in sizes}
    for i in range(b.args.repeat):
        for rows in sizes:
            fill_system_rows(b, rows)
            b.sink.reset()
            cmd = [sys.executable, str(h.SEND), "--conf", str(conf), "--limit", str(limit)]
            proc = h.checked(h.run_proc(cmd, rss=True), "send_notifications.py --limit")
            st = h.statuses(b.pg, P3_DB)
            if st.get("sent") != limit:
                raise RuntimeError("P3: expected %d sent, got %r" % (limit, st))
            t = h.Timing(proc.seconds, limit, cpu=proc.cpu, maxrss_kb=proc.maxrss_kb)
            runs[rows].append(t)
            h.say("P3 run %d: %d due rows, sent %d in %.2f s, max RSS %.1f MB"
                  % (i + 1, rows, limit, t.seconds, t.maxrss_kb / 1024))
    full: dict[int, h.Timing] = {}
    if b.args.p3_full:
        conf4 = b.conf("p3-full", P3_DB, 4)
        for rows in sizes:
            fill_system_rows(b, rows)
            proc = h.checked(h.run_proc([sys.executable, str(h.SEND), "--conf", str(conf4)], timeout=1800, rss=True),
                             "send_notifications.py (full drain)")
            if h.statuses(b.pg, P3_DB) != {"sent": rows}:
                raise RuntimeError("P3 full drain: %r" % h.statuses(b.pg, P3_DB))
            full[rows] = h.Timing(proc.seconds, rows, cpu=proc.cpu, maxrss_kb=proc.maxrss_kb)
            h.say("P3 full drain: %d rows in %.1f s, max RSS %.1f MB" % (rows, proc.seconds, proc.maxrss_kb / 1024))
    small = med([t.maxrss_kb for t in runs[sizes[0]]])
    large = med([t.maxrss_kb for t in runs[sizes[1]]])
    ok = large <= 1.1 * small
    b.summary["P3"] = ("max RSS %.1f MB (100,000 due) vs %.1f MB (1,000 due) = %.2f" % (
        large / 1024, small / 1024, large / small), "<= 1.10", "", ok)
    rows_md = []
    for rows in sizes:
        judged = "**%.2f** (<= 1.10) | %s" % (large / small, verdict(ok)) if rows == sizes[-1] else " | "
        rows_md.append("| %s due rows, `--limit %d` | %s | %.1f (%s) | %.2f | %s |" % (
            "{:,}".format(rows), limit, "{:,}".format(limit), med([t.maxrss_kb for t in runs[rows]]) / 1024,
            ", ".join("%.1f" % (t.maxrss_kb / 1024) for t in runs[rows]), med([t.seconds for t in runs[rows]]),
            judged))
    for rows, t in full.items():
        ratio = " | " if rows == sizes[0] else "%.2f | (informative)" % (t.maxrss_kb / full[sizes[0]].maxrss_kb)
        rows_md.append("| %s due rows, full drain, 4 connections | %s | %.1f | %.2f | %s |" % (
            "{:,}".format(rows), "{:,}".format(rows), t.maxrss_kb / 1024, t.seconds, ratio))
    if full:
        b.summary["P3 (full drain, informative)"] = (
            "max RSS %.1f MB (100,000 sent) vs %.1f MB (1,000 sent) = %.2f" % (
                full[sizes[1]].maxrss_kb / 1024, full[sizes[0]].maxrss_kb / 1024,
                full[sizes[1]].maxrss_kb / full[sizes[0]].maxrss_kb), "<= 1.10", "",
            full[sizes[1]].maxrss_kb <= 1.1 * full[sizes[0]].maxrss_kb)
    b.results["P3"] = {"limited": runs, "full": full}
    b.sections["P3"] = "\n".join([
        "## P3: peak memory with 100,000 due rows vs 1,000",
        "",
        "`send_notifications.py --conf FILE --limit %d`, one connection, on a database holding 1,000 or "
        "100,000 due system notifications (inserted with `generate_series`, kind `system`): both runs send "
        "the same %d messages, only the number of due rows differs.  Peak RSS of the sender process "
        "(`/usr/bin/time -f %%M`), median of %d run(s).%s" % (
            limit, limit, b.args.repeat,
            "  The last rows (informative, not judged) drain the whole queue with 4 connections." if full else ""),
        "",
        "| case | messages sent | max RSS MB (runs) | seconds | ratio | verdict |",
        "|---|---:|---:|---:|---:|---|",
        *rows_md,
    ])


# --------------------------------------------------------------------------
# P4: a run with nothing due vs `import psycopg`.
# --------------------------------------------------------------------------

EMPTY_DB = "bench_empty"


def importtime(cmd: Sequence[str]) -> list[tuple[int, int, str]]:
    """Imports nested at most 2 deep, by cumulative µs, from ``-X importtime``: (µs, depth, name)."""
    proc = h.run_proc([cmd[0], "-X", "importtime", *cmd[1:]])
    found: list[tuple[int, int, str]] = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m and len(m.group(3)) <= 4:
            found.append((int(m.group(2)), len(m.group(3)) // 2, m.group(4)))
    return sorted(found, reverse=True)


def goal_p4(b: Bench) -> None:
    h.recreate_db(b.pg, EMPTY_DB)
    conf = b.conf("empty", EMPTY_DB, 1)
    py = sys.executable
    cases = {
        "psycopg": [py, "-c", "import psycopg"],
        "ours": [py, str(h.SEND), "--conf", str(conf)],
        "bare": [py, "-c", "pass"],
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for name, cmd in cases.items():  # warm up: .pyc files, page cache
        h.checked(h.run_proc(cmd), name)
    for _ in range(b.args.p4_runs):
        for name, cmd in cases.items():
            p = h.checked(h.run_proc(cmd), name)
            times[name].append(p.seconds)
    if h.statuses(b.pg, EMPTY_DB):
        raise RuntimeError("P4: the empty database is not empty")
    ps, ours, bare = med(times["psycopg"]), med(times["ours"]), med(times["bare"])
    ok = ours <= 1.5 * ps
    h.say("P4: nothing due %.0f ms, import psycopg %.0f ms, ratio %.2f" % (1e3 * ours, 1e3 * ps, ours / ps))
    b.summary["P4"] = ("%.0f ms vs `import psycopg` %.0f ms = %.2f" % (1e3 * ours, 1e3 * ps, ours / ps), "<= 1.50",
                       "", ok)
    imports = importtime(cases["ours"])
    total = sum(us for us, depth, _ in imports if depth == 0)
    b.results["P4"] = {"times": times, "imports": imports}
    b.sections["P4"] = "\n".join([
        "## P4: a run with nothing due vs `python -c \"import psycopg\"`",
        "",
        "Wall clock from `Popen` to exit, median of %d runs each (interleaved, after one warm-up run each), the "
        "same interpreter (`.venv/bin/python`); ours is `send_notifications.py --conf FILE` against a migrated "
        "database with nothing due." % b.args.p4_runs,
        "",
        "| case | median ms | runs ms | ratio to `import psycopg` | target | verdict |",
        "|---|---:|---|---:|---|---|",
        "| `python -c pass` (interpreter alone) | %.0f | %s | %.2f | | |" % (
            1e3 * bare, ", ".join("%.0f" % (1e3 * x) for x in times["bare"]), bare / ps),
        "| `python -c \"import psycopg\"` | %.0f | %s | 1.00 | | |" % (
            1e3 * ps, ", ".join("%.0f" % (1e3 * x) for x in times["psycopg"])),
        "| `send_notifications.py`, nothing due | **%.0f** | %s | **%.2f** | <= 1.50 | %s |" % (
            1e3 * ours, ", ".join("%.0f" % (1e3 * x) for x in times["ours"]), ours / ps, verdict(ok)),
        "",
        "Where the start-up goes: `python -X importtime send_notifications.py --conf FILE` (one run; "
        "imports nested up to 2 deep (depth 0: imported by the script itself), by cumulative time; %.0f ms of "
        "imports in all, importtime's own overhead included):" % (total / 1e3),
        "",
        "| import | depth | cumulative ms |",
        "|---|---:|---:|",
        *["| `%s` | %d | %.1f |" % (name, depth, us / 1e3) for us, depth, name in imports[:15]],
    ])


# --------------------------------------------------------------------------
# P5: fetch_replies.py vs a bare poplib loop on the same Dovecot mailbox.
# --------------------------------------------------------------------------

P5_DB = "bench_p5"


def bare_pop(port: int, expected: int) -> h.Timing:
    started = time.monotonic()
    pop = poplib.POP3("127.0.0.1", port, timeout=30)
    pop.user(h.POP_LOGIN)
    pop.pass_(h.POP_PASSWORD)
    count = pop.stat()[0]
    size = 0
    for n in range(1, count + 1):
        _, lines, octets = pop.retr(n)
        size += octets
        pop.dele(n)
    pop.quit()
    seconds = time.monotonic() - started
    if count != expected:
        raise RuntimeError("bare POP3 loop found %d messages, expected %d" % (count, expected))
    return h.Timing(seconds, count, size=size)


def goal_p5(b: Bench, pop: h.DovecotServer, replies: list[bytes]) -> None:
    n = len(replies)
    conf = b.conf("p5", P5_DB, 1, pop.port)
    ours: list[h.Timing] = []
    bare: list[h.Timing] = []
    for i in range(b.args.repeat):
        h.recreate_db(b.pg, P5_DB)
        for raw in replies:
            pop.deliver(raw)
        proc = h.checked(h.run_proc([sys.executable, str(h.FETCH), "--conf", str(conf)]), "fetch_replies.py")
        st = h.statuses(b.pg, P5_DB, "inbound_emails")
        if st != {"posted": n} or pop.count() != 0:
            raise RuntimeError("P5: inbound_emails %r, %d left in the mailbox" % (st, pop.count()))
        ours.append(h.Timing(proc.seconds, n, cpu=proc.cpu, maxrss_kb=proc.maxrss_kb))
        for raw in replies:
            pop.deliver(raw)
        t = bare_pop(pop.port, n)
        if pop.count() != 0:
            raise RuntimeError("P5: the bare loop left %d messages" % pop.count())
        bare.append(t)
        h.say("P5 run %d: fetch_replies.py %.2f s %.0f msgs/s; bare poplib %.2f s %.0f msgs/s"
              % (i + 1, ours[-1].seconds, ours[-1].rate, t.seconds, t.rate))
    o, r = med([t.rate for t in ours]), med([t.rate for t in bare])
    ok = o / r >= 0.15
    b.summary["P5"] = ("fetch_replies.py %.0f vs bare poplib %.0f msgs/s = %.2f" % (o, r, o / r), ">= 0.15", "", ok)
    b.results["P5"] = {"ours": ours, "bare": bare}
    b.sections["P5"] = "\n".join([
        "## P5: `fetch_replies.py` vs a bare poplib loop, %s replies in Dovecot" % "{:,}".format(n),
        "",
        "%s replies as Gmail writes them (text + HTML, the notification quoted, valid reply tokens, sent from "
        "the addresses the notifications went to; %.1f KB on average), delivered to a Dovecot Maildir.  Ours: "
        "`fetch_replies.py --conf FILE` on a fresh copy of the forum database: each reply parsed, matched, "
        "cut, posted as a forum message (the trigger then queues 30 notifications), recorded, deleted.  Bare: "
        "the same replies delivered again, `poplib.POP3` login, `STAT`, `RETR` + `DELE` each, `QUIT`.  Median "
        "of %d run(s)." % ("{:,}".format(n), sum(map(len, replies)) / n / 1024, b.args.repeat),
        "",
        "| case | seconds | msgs/s (runs) | ratio | target | verdict | CPU per message |",
        "|---|---:|---:|---:|---|---|---:|",
        "| `fetch_replies.py` | %.2f | **%.0f** (%s) | **%.2f** | >= 0.15 | %s | %.0f µs |" % (
            med([t.seconds for t in ours]), o, rates(ours), o / r, verdict(ok), med([1e6 * t.cpu / n for t in ours])),
        "| bare poplib RETR + DELE | %.2f | **%.0f** (%s) | 1.00 | | | |" % (
            med([t.seconds for t in bare]), r, rates(bare)),
    ])


# --------------------------------------------------------------------------
# P6: django-mailer on the same drain.
# --------------------------------------------------------------------------

DJ_TEMPLATE, DJ_RUN = "bench_django_tpl", "bench_django_run"

DJ_SETTINGS = """\
import os
SECRET_KEY = "bench-only"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["mailer"]
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": os.environ["BENCH_DJANGO_DB"],
                         "HOST": "127.0.0.1", "PORT": %(pg_port)d, "USER": %(pg_user)r}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EMAIL_BACKEND = "mailer.backend.DbBackend"
MAILER_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = %(smtp_port)d
EMAIL_TIMEOUT = 30
MAILER_LOCK_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "send_mail")
"""

DJ_MANAGE = """\
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
"""

DJ_QUEUE = """\
import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
import django

django.setup()
from django.core.mail import EmailMultiAlternatives
from django.db import transaction

with open(sys.argv[1], encoding="utf-8") as f:
    messages = json.load(f)
with transaction.atomic():
    for m in messages:
        mail = EmailMultiAlternatives(m["subject"], m["text"], m["from"], m["to"], reply_to=m["reply_to"])
        mail.attach_alternative(m["html"], "text/html")
        mail.send()  # EMAIL_BACKEND = mailer.backend.DbBackend: queued in the database
print(len(messages))
"""


def django_available() -> str:
    try:
        import django
        import mailer
    except ImportError as exc:
        return "not installed (%s): `.venv/bin/pip install -r bench/requirements-bench.txt`" % exc
    return "Django %s, django-mailer %s" % (django.__version__, getattr(mailer, "__version__", "?"))


def goal_p6(b: Bench) -> None:
    versions = django_available()
    if versions.startswith("not installed"):
        b.sections["P6"] = "## P6: django-mailer\n\nSkipped: django-mailer %s" % versions
        b.summary["P6"] = ("skipped: " + versions, ">= 4.0", "", False)
        h.say("P6 skipped: " + versions)
        return
    count = b.args.count
    b.build_messages(count)
    project = b.work / "django"
    project.mkdir(exist_ok=True)
    (project / "settings.py").write_text(DJ_SETTINGS % {"pg_port": b.pg.port, "pg_user": b.pg.user,
                                                        "smtp_port": b.sink.port})
    (project / "manage.py").write_text(DJ_MANAGE)
    (project / "queue_mail.py").write_text(DJ_QUEUE)
    queued = []
    for m in b.prebuilt:
        msg = message_from_bytes(m.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        text, html = msg.get_body(("plain",)), msg.get_body(("html",))
        assert text is not None and html is not None
        queued.append({"subject": str(msg["Subject"]), "from": str(msg["From"]), "to": [str(msg["To"])],
                       "reply_to": [str(msg["Reply-To"])] if msg["Reply-To"] else [],
                       "text": text.get_content(), "html": html.get_content()})
    (project / "messages.json").write_text(json.dumps(queued), encoding="utf-8")
    with psycopg.connect(**b.pg.conninfo(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DJ_TEMPLATE)
        conn.execute("CREATE DATABASE %s" % DJ_TEMPLATE)
    env = h.clean_env({"BENCH_DJANGO_DB": DJ_TEMPLATE})
    h.checked(h.run_proc([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=project, env=env),
              "django migrate", quiet=False)
    h.checked(h.run_proc([sys.executable, "queue_mail.py", "messages.json"], cwd=project, env=env),
              "queue_mail.py", quiet=False)
    ours = b.results.get("P1", {}).get("ours", {}).get(1, [])
    if not ours:
        ours = [b.ours(1, count) for _ in range(b.args.repeat)]
    theirs: list[h.Timing] = []
    run_env = h.clean_env({"BENCH_DJANGO_DB": DJ_RUN})
    for i in range(b.args.repeat):
        h.recreate_db(b.pg, DJ_RUN, DJ_TEMPLATE)
        with psycopg.connect(**b.pg.conninfo(DJ_RUN)) as conn:
            row = conn.execute("SELECT count(*) FROM mailer_message").fetchone()
            assert row is not None and row[0] == count, row
        b.sink.reset()
        sink_cpu0 = b.sink.cpu()
        proc = h.checked(h.run_proc([sys.executable, "manage.py", "send_mail"], cwd=project, env=run_env),
                         "manage.py send_mail", quiet=False)
        timing = b.sink.timing(count, proc.started, proc.seconds, proc.cpu, sink_cpu0, proc.maxrss_kb)
        with psycopg.connect(**b.pg.conninfo(DJ_RUN)) as conn:
            row = conn.execute("SELECT count(*) FROM mailer_message").fetchone()
            left = row[0] if row else -1
        if left != 0:
            raise RuntimeError("django-mailer: %s left queued" % left)
        theirs.append(timing)
        h.say("P6 run %d: django-mailer %.2f s %.0f msgs/s" % (i + 1, proc.seconds, count / proc.seconds))
    o, d = med([t.rate for t in ours]), med([t.rate for t in theirs])
    ok = o / d >= 4
    b.summary["P6"] = ("ours %.0f vs django-mailer %.0f msgs/s = %.2f" % (o, d, o / d), ">= 4.0", "", ok)
    b.results["P6"] = theirs
    bare1 = b.results.get("P1", {}).get("bare", {}).get(1, [])
    bare_note = ""
    if bare1:
        bare_note = "django-mailer / bare smtplib (P1, N=1) = %.2f." % (
            d / med([t.rate for t in bare1]))
    b.sections["P6"] = "\n".join([
        "## P6: ours vs django-mailer on the same drain",
        "",
        "django-mailer (%s) in a minimal Django project made at run time: PostgreSQL backend on the same "
        "server, `EMAIL_BACKEND = 'mailer.backend.DbBackend'`, `MAILER_EMAIL_BACKEND` Django's SMTP backend to "
        "the same sink.  The same %d messages (subject, From, To, Reply-To, the text and HTML parts our composer "
        "made of the P1 rows) queued with `EmailMultiAlternatives(...).send()` before the clock starts; timed: "
        "`python manage.py send_mail`, wall clock from `Popen` to exit, each run on a fresh copy of the queued "
        "database.  Ours: P1's N=1 runs (`send_notifications.py`, one connection).  Median of %d run(s)."
        % (versions, count, b.args.repeat),
        "",
        "| case | seconds | msgs/s (runs) | bytes per msg at the sink | ours / it | target | verdict |",
        "|---|---:|---:|---:|---:|---|---|",
        "| ours, `send_notifications.py`, 1 connection | %.2f | **%.0f** (%s) | %.0f | | | |" % (
            med([t.seconds for t in ours]), o, rates(ours), med([t.size / t.count for t in ours])),
        "| django-mailer, `manage.py send_mail` | %.2f | **%.0f** (%s) | %.0f | **%.2f** | >= 4.0 | %s |" % (
            med([t.seconds for t in theirs]), d, rates(theirs), med([t.size / t.count for t in theirs]), o / d,
            verdict(ok)),
        *(["", bare_note] if bare_note else []),
    ])


# --------------------------------------------------------------------------
# Profiles: in process, under cProfile.  A stage the product renames simply
# drops out of its table; update the names here when that happens.
# --------------------------------------------------------------------------

MAIN_STAGES: list[h.Stage] = [
    ("whole run (`send_notifications`)", "forummail/sender.py", "send_notifications"),
    ("claim batches (`store.outgoing.claim`)", "forummail/store/outgoing.py", "claim"),
    ("render (`Composer.compose`)", "forummail/compose.py", "compose"),
    ("&nbsp;&nbsp;Jinja2 (`Composer._render`)", "forummail/compose.py", "_render"),
    ("&nbsp;&nbsp;MIME writer (`mime.build`)", "forummail/mime.py", "build"),
    ("hand over to the worker (`Dispatcher.submit`, blocks while the queue is full)", "forummail/dispatch.py",
     "submit"),
    ("wait for the workers at the end (`Dispatcher.finish`)", "forummail/dispatch.py", "finish"),
]
WORKER_STAGES: list[h.Stage] = [
    ("worker thread (`Dispatcher._work`)", "forummail/dispatch.py", "_work"),
    ("wait for the next mail (`Dispatcher._next`)", "forummail/dispatch.py", "_next"),
    ("send (`Transport.send` -> smtplib)", "forummail/transport.py", "send"),
    ("record the outcome (`Outcomes.record`)", "forummail/outcomes.py", "record"),
    ("&nbsp;&nbsp;`OutcomeWriter.record` (the UPDATE put on the wire)", "forummail/store/outgoing.py", "record"),
    ("wait for the previous outcome before DATA (`OutcomeWriter.flush`)", "forummail/store/outgoing.py", "flush"),
    ("&nbsp;&nbsp;the mail_log line (`Logger.info`)", "logging/__init__.py", "info"),
]
# One connection: the main thread sends itself (Dispatcher._run_inline) and
# renders the next mail while the server takes in the last.
INLINE_STAGES: list[h.Stage] = [
    ("whole run (`send_notifications`)", "forummail/sender.py", "send_notifications"),
    ("claim batches (`store.outgoing.claim`)", "forummail/store/outgoing.py", "claim"),
    ("send each mail and record it (`Dispatcher._deliver`)", "forummail/dispatch.py", "_deliver"),
    ("&nbsp;&nbsp;the SMTP transaction (`transport.transact`)", "forummail/transport.py", "transact"),
    ("&nbsp;&nbsp;&nbsp;&nbsp;render the next mail while the server takes the data (`take_next`)",
     "forummail/dispatch.py", "take_next"),
    ("&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;of which `Composer.compose`", "forummail/compose.py", "compose"),
    ("&nbsp;&nbsp;&nbsp;&nbsp;wait for the previous outcome after the 354 (`OutcomeWriter.flush`)",
     "forummail/store/outgoing.py", "flush"),
    ("&nbsp;&nbsp;record the outcome (`Outcomes.record`)", "forummail/outcomes.py", "record"),
    ("&nbsp;&nbsp;&nbsp;&nbsp;`OutcomeWriter.record` (the prepared UPDATE put on the wire)",
     "forummail/store/outgoing.py", "record"),
    ("&nbsp;&nbsp;&nbsp;&nbsp;the mail_log line (`Logger.info`)", "logging/__init__.py", "info"),
    ("wait for the end (`Dispatcher.finish`)", "forummail/dispatch.py", "finish"),
]
FETCH_STAGES: list[h.Stage] = [
    ("whole run (`fetch_mailbox`)", "forummail/fetch.py", "fetch_mailbox"),
    ("POP3 login (`Pop3Mailbox.open`)", "forummail/mailbox.py", "open"),
    ("POP3 LIST + UIDL (`Pop3Mailbox.listing`)", "forummail/mailbox.py", "listing"),
    ("POP3 RETR (`Pop3Mailbox.retrieve`)", "forummail/mailbox.py", "retrieve"),
    ("POP3 DELE (`Pop3Mailbox.delete`)", "forummail/mailbox.py", "delete"),
    ("POP3 QUIT (`Pop3Mailbox.commit`)", "forummail/mailbox.py", "commit"),
    ("one email's transaction (`Intake.handle`)", "forummail/replies.py", "handle"),
    ("&nbsp;&nbsp;parse the header (`parse_headers`)", "forummail/parse.py", "parse_headers"),
    ("&nbsp;&nbsp;parse the body (`parse_body`)", "forummail/parse.py", "parse_body"),
    ("&nbsp;&nbsp;automatic-mail check (`why_automatic`)", "forummail/autoreply.py", "why_automatic"),
    ("&nbsp;&nbsp;find the task, check the sender (`match.find`)", "forummail/match.py", "find"),
    ("&nbsp;&nbsp;cut quote and signature (`reply_text`)", "forummail/replies.py", "reply_text"),
    ("&nbsp;&nbsp;&nbsp;&nbsp;HTML to text (`html2text`)", "forummail/html2text.py", "html_to_text"),
    ("&nbsp;&nbsp;record (`store.inbound.claim`)", "forummail/store/inbound.py", "claim"),
    ("&nbsp;&nbsp;post and record the outcome (`store.inbound.post_reply`, fires the trigger)",
     "forummail/store/inbound.py", "post_reply"),
    ("&nbsp;&nbsp;commit (`Transaction.__exit__`)", "psycopg/transaction.py", "__exit__"),
    ("the log line (`Logger.log`)", "logging/__init__.py", "log"),
]


def profile_send(b: Bench) -> None:
    count = b.args.count
    settings = b.settings(b.conf("send-n1", h.RUN_DB, 1), "send_notifications.py")
    h.fresh_run_db(b.pg, count)
    b.sink.reset()
    started = time.monotonic()
    with h.profile_all_threads() as profiles:
        h.send_in_process(settings, count)
    wall = time.monotonic() - started
    main = h.raw_stats(profiles["main"])
    workers = [(name, h.raw_stats(p)) for name, p in profiles.items() if name.startswith("smtp-")]
    h.say("profiled send (P1, N=1, in process): %.2f s" % wall)
    how = ("The main thread claims and renders; the worker thread (`%s`) sends and records.  The two run at "
           "once but share one GIL." % workers[0][0] if workers else
           "One thread does it all: it claims, sends, records, and renders each mail while the server takes in "
           "the data of the one before.")
    out = [
        "### Profile of P1, N=1: `send_notifications(settings)` in process, cProfile on every thread",
        "",
        "%d notifications, one connection: %.2f s under cProfile (%.0f msgs/s; cProfile slows pure-Python "
        "code most).  %s" % (count, wall, count / wall, how),
        "",
        "#### Main thread: stages",
        "",
        *h.stage_table(main, wall, count, MAIN_STAGES if workers else INLINE_STAGES),
        "",
    ]
    for name, st in workers[:1]:
        worker_wall = h.cumulative(st, "forummail/dispatch.py", "_work")[1] or wall
        out += ["#### Worker thread `%s`: stages" % name, "", *h.stage_table(st, worker_wall, count, WORKER_STAGES),
                ""]
    for title, st in [("main thread", main), *[("worker `%s`" % n, s) for n, s in workers[:1]]]:
        out += ["#### %s: own time by component" % title.capitalize(), "", *h.component_table(st, count), "",
                "#### %s: top functions by own time" % title.capitalize(), "", *h.top_table(st, 2), ""]
    b.sections["profile-send"] = "\n".join(out)


def profile_fetch(b: Bench, pop: h.DovecotServer, replies: list[bytes]) -> None:
    n = len(replies)
    settings = b.settings(b.conf("p5", P5_DB, 1, pop.port), "fetch_replies.py")
    h.recreate_db(b.pg, P5_DB)
    for raw in replies:
        pop.deliver(raw)
    with h.profile_all_threads() as profiles:
        started = time.monotonic()
        h.fetch_in_process(settings, n)
        wall = time.monotonic() - started
    st = h.raw_stats(profiles["main"])
    h.say("profiled fetch (P5, in process): %.2f s" % wall)
    b.sections["profile-fetch"] = "\n".join([
        "### Profile of P5: `fetch_mailbox(settings)` in process",
        "",
        "%d replies: %.2f s under cProfile (%.0f msgs/s)." % (n, wall, n / wall),
        "",
        *h.stage_table(st, wall, n, FETCH_STAGES),
        "",
        "#### Own time by component",
        "",
        *h.component_table(st, n),
        "",
        "#### Top functions by cumulative time",
        "",
        *h.top_table(st, 3, 25),
        "",
        "#### Top functions by own time",
        "",
        *h.top_table(st, 2, 15),
    ])


# --------------------------------------------------------------------------
# The report.
# --------------------------------------------------------------------------


def not_full(args: argparse.Namespace, only: set[str]) -> list[str]:
    """How this run differs from a full one (its figures are then not comparable with a full run's)."""
    diff = ["--%s %s (full: %s)" % (k, getattr(args, k), v) for k, v in FULL.items()
            if not isinstance(v, bool) and getattr(args, k) != v]
    if args.quick:
        diff.append("--quick (shorter P2 and P4)")
    if not args.p3_full:
        diff.append("without P3's full drains")
    if only != set(GOALS):
        diff.append("--only %s" % ",".join(g for g in GOALS if g in only))
    if args.no_profile:
        diff.append("--no-profile")
    return diff


def report(b: Bench, only: set[str], started: datetime.datetime, elapsed: float, load_before: str) -> str:
    command = COMMAND + "".join(" " + shlex.quote(a) for a in sys.argv[1:])
    lines = ["# Benchmarks: the goals of issue 5, measured", "",
             "Written by `bench/bench_all.py`, which rewrites this whole file at every run: figures only.  "
             "What they mean, what was tried and why a goal is not met: `bench/ANALYSIS.md` (by hand).", ""]
    diff = not_full(b.args, only)
    if diff:
        lines += ["> **Not a full run** (%s): these figures are not comparable with a full run's.  "
                  "Regenerate with `%s` on a quiet machine." % ("; ".join(diff), COMMAND), ""]
    lines += ["## Reproduce", "", "```", command, "```", "",
              "Options: `--only P1,P2,...` (some goals only), `--quick` (fewer repeats), `--repeat N` (default 3), "
              "`--count N` (default 3000), `--replies N` (default 1000), `--no-p3-full` (skip P3's full drains; "
              "`--quick` skips them too), `--no-profile`, `--output PATH`.  Bench-only packages: "
              "`.venv/bin/pip install -r bench/requirements-bench.txt`.  "
              "This run: repeat %d, count %d%s." % (b.args.repeat, b.args.count, ", quick" if b.args.quick else ""),
              "", "## Summary", "", "| goal | measured | target | verdict |", "|---|---|---|---|"]
    for goal, (figure, target, _, ok) in b.summary.items():
        lines.append("| %s | %s | %s | %s |" % (goal, figure, target, verdict(ok)))
    lines += [""]
    lines += h.machine_lines(b.pg, django_available(), started, elapsed, load_before) + [""]
    for goal in GOALS:
        if goal in b.sections:
            lines += [b.sections[goal], ""]
    if "profile-send" in b.sections or "profile-fetch" in b.sections:
        lines += ["## Profiles", ""]
        for key in ("profile-send", "profile-fetch"):
            if key in b.sections:
                lines += [b.sections[key], ""]
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------
# Main.
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--only", default=",".join(GOALS), help="goals to measure, e.g. P1,P4 (default: all)")
    parser.add_argument("--quick", action="store_true", help="one run of each case, shorter P2 and P4")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case (P1, P3, P5, P6); median")
    parser.add_argument("--count", type=int, default=3000, help="notifications drained in P1 and P6")
    parser.add_argument("--replies", type=int, default=1000, help="replies fetched in P5")
    parser.add_argument("--no-p3-full", action="store_true",
                        help="P3: skip the (informative) full drains of 1,000 and 100,000 rows")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile runs")
    parser.add_argument("--output", default=str(RESULTS), help="report path (default bench/RESULTS.md)")
    args = parser.parse_args(argv)
    only = {g.strip().upper() for g in args.only.split(",") if g.strip()}
    if not only <= set(GOALS):
        parser.error("--only takes goals among %s" % ",".join(GOALS))
    args.p2_per_connection, args.p2_repeat, args.p4_runs = 200, 2, 10
    if args.quick:
        args.repeat, args.p2_per_connection, args.p2_repeat, args.p4_runs = 1, 100, 1, 5
    args.p3_full = not (args.quick or args.no_p3_full)

    started_at = datetime.datetime.now().astimezone()
    load_before = h.load_average()
    t0 = time.monotonic()
    with h.servers("forummail-bench-all-") as (sink, pg, work):
        b = Bench(args, pg, sink, work)
        h.say("PostgreSQL on port %d, SMTP sink (pid %s) on port %d; goals %s"
              % (pg.port, sink.process.pid, sink.port, ",".join(g for g in GOALS if g in only)))
        steps: list[tuple[str, Callable[[], None]]] = [
            ("P4", lambda: goal_p4(b)), ("P1", lambda: goal_p1(b)), ("P6", lambda: goal_p6(b)),
            ("P2", lambda: goal_p2(b)), ("P3", lambda: goal_p3(b))]
        for goal, step in steps:
            if goal in only:
                step()
        if "P1" in only and not args.no_profile:
            profile_send(b)
        if "P5" in only:
            pop = h.DovecotServer(login=h.POP_LOGIN, password=h.POP_PASSWORD).start()
            try:
                replies = h.build_replies(pg, b.settings(b.conf("p5", P5_DB, 1), "fetch_replies.py"),
                                          args.replies)
                goal_p5(b, pop, replies)
                if not args.no_profile:
                    profile_fetch(b, pop, replies)
            finally:
                pop.stop()
        text = report(b, only, started_at, time.monotonic() - t0, load_before)
    Path(args.output).write_text(text, encoding="utf-8")
    for goal, (figure, target, _, ok) in b.summary.items():
        h.say("%-8s %s (target %s): %s" % (goal, figure, target, "MET" if ok else "NOT MET"))
    h.say("wrote %s in %.0f s" % (args.output, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())

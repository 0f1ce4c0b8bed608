"""What the benchmark driver (``bench/bench_all.py``) stands on.

Servers (PostgreSQL and Dovecot from ``tests.servers``, an aiosmtpd sink in
a process of its own), the settings file, a clean environment for the
scripts, timing of child processes, the realistic forum fixture
(notifications and the replies people write to them), the cProfile tables
and the machine's description.

Every import of the product is here, and only of public names, so that a
module of ``forummail`` that moves or is renamed touches this file alone.
"""

from __future__ import annotations

import cProfile
import datetime
import logging
import math
import multiprocessing as mp
import os
import platform
import pstats
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from multiprocessing.sharedctypes import SynchronizedArray
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from forummail import db as fm_db  # noqa: E402
from forummail import fetch as fm_fetch  # noqa: E402
from forummail import logs as fm_logs  # noqa: E402
from forummail import settings as fm_settings  # noqa: E402
from forummail import store  # noqa: E402
from forummail.compose import Composer  # noqa: E402
from forummail.extract import extract_reply  # noqa: E402
from forummail.parse import parse_message  # noqa: E402
from forummail.sender import send_notifications  # noqa: E402
from tests.servers import DovecotServer, PostgresServer, free_port  # noqa: E402

__all__ = ["DovecotServer", "PostgresServer", "extract_reply", "parse_message"]

Settings = fm_settings.Settings
Job = store.outgoing.Job

SEND = ROOT / "send_notifications.py"
FETCH = ROOT / "fetch_replies.py"
SCHEMA = "memoria"
TEMPLATE_DB = "bench_template"
RUN_DB = "bench_run"
SEED = 20240611
SECRET = "bench-reply-token-secret-0123456789"
POP_LOGIN, POP_PASSWORD = "replies", "Bench-Pop-Secret-5"
FOLLOWERS = 31


def say(text: str) -> None:
    """Progress for the person running the bench (stderr; stdout stays clean)."""
    print(text, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# The product, as the bench calls it in process.
# --------------------------------------------------------------------------


def load_settings(conf: Path, prog: str) -> Settings:
    """The settings of ``conf``, with logging set up as the script ``prog`` does it."""
    settings = fm_settings.load(str(conf))
    fm_logs.setup(prog, False, settings.mail_log, settings.secrets)
    return settings


def send_in_process(settings: Settings, count: int) -> None:
    """``send_notifications(settings)`` in this process; it must send exactly ``count``."""
    summary = send_notifications(settings)
    if summary.sent != count:
        raise RuntimeError("in-process send: %s" % summary.line())


def fetch_in_process(settings: Settings, count: int) -> None:
    """``fetch_mailbox(settings)`` in this process; it must post exactly ``count``."""
    summary = fm_fetch.fetch_mailbox(settings)
    if summary.counts != {"posted": count}:
        raise RuntimeError("in-process fetch: %s" % summary.line())


@dataclass(frozen=True)
class Prebuilt:
    """One rendered notification and its envelope, ready for ``smtplib.sendmail``."""

    sender: str
    recipients: list[str]
    data: bytes


def render(settings: Settings, jobs: Sequence[Job]) -> list[Prebuilt]:
    """``Composer.compose`` of every job, with a new composer (as a run starts with)."""
    composer = Composer(settings)
    built = []
    for job in jobs:
        out = composer.compose(job)
        built.append(Prebuilt(out.sender, list(out.recipients), out.data))
    return built


# --------------------------------------------------------------------------
# Child processes: wall clock, CPU, peak RSS.
# --------------------------------------------------------------------------


@dataclass
class Proc:
    started: float  # time.monotonic() just before Popen
    seconds: float
    code: int
    stdout: str
    stderr: str
    maxrss_kb: int
    cpu: float


TIME = Path("/usr/bin/time")


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without what would override the settings file written for the run."""
    # PYTHONDONTWRITEBYTECODE too: an installation runs from its bytecode
    # caches, and without them every run would compile our modules again.
    drop = ("CRON_CONF", "MAIL_PSSWD", "DB_PSWD", "REPLIER_POP_PSSWD", "REPLY_TOKEN_SECRET", "PYTHONPROFILEIMPORTTIME",
            "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra or {})
    return env


def run_proc(cmd: Sequence[str], cwd: Path = ROOT, env: dict[str, str] | None = None,
             timeout: float = 600, rss: bool = False) -> Proc:
    """Run a command; with ``rss``, its peak RSS through GNU time (``%M``).

    Not ``ru_maxrss`` from ``wait4``: Linux carries the high-water mark of
    the forked copy of this (large) process over the ``exec``, so every child
    would read as big as the benchmark itself.  ``/usr/bin/time`` is small
    and reports its own child's.
    """
    rss_file = None
    if rss:
        if not TIME.exists():
            raise RuntimeError("peak memory needs GNU time: apt-get install time")
        rss_file = tempfile.NamedTemporaryFile(prefix="bench-rss-", delete=False)
        rss_file.close()
        cmd = [str(TIME), "-f", "%M", "-o", rss_file.name, *cmd]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=str(cwd),
                                env=env if env is not None else clean_env())
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        maxrss = 0
        if rss_file is not None:
            lines = Path(rss_file.name).read_text().split()
            os.unlink(rss_file.name)
            maxrss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        return Proc(started, seconds, proc.returncode, out.read().decode("utf-8", "replace"),
                    err.read().decode("utf-8", "replace"), maxrss, usage.ru_utime + usage.ru_stime)


def checked(proc: Proc, what: str, quiet: bool = True) -> Proc:
    """``proc`` if it exited 0 (and, with ``quiet``, said nothing on stderr, as cron wants)."""
    if proc.code != 0 or (quiet and proc.stderr.strip()):
        raise RuntimeError("%s exited %d: %s%s" % (what, proc.code, proc.stdout[-2000:], proc.stderr[-2000:]))
    return proc


@dataclass
class Timing:
    """One timed case; ``count`` items in ``seconds`` of wall clock."""

    seconds: float
    count: int
    steady: float = 0.0  # the sink's clock: first to last message
    startup: float = 0.0  # start to the first message at the sink
    cpu: float = 0.0  # CPU seconds of the process doing the work
    sink_cpu: float = 0.0  # CPU seconds of the SMTP sink meanwhile
    maxrss_kb: int = 0
    size: int = 0  # bytes (received by the sink, or retrieved)

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def steady_rate(self) -> float:
        return (self.count - 1) / self.steady if self.steady > 0 else float("nan")


# --------------------------------------------------------------------------
# The SMTP sink: its own process, counts and discards; DATA may be delayed.
# --------------------------------------------------------------------------

COUNT, BYTES, FIRST_AT, LAST_AT, DELAY, PIPELINING = range(6)


class SinkHandler:
    """aiosmtpd handler: count, sum the bytes, note first and last arrival, discard."""

    def __init__(self, stats: SynchronizedArray[float]) -> None:
        self.stats = stats

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        # Offered on request, as Postfix, Exchange Online and Gmail offer it
        # (RFC 2920); aiosmtpd itself does not say it, though it reads
        # pipelined commands correctly.
        session.host_name = hostname
        if self.stats[PIPELINING]:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        delay = self.stats[DELAY]
        if delay > 0:
            import asyncio

            await asyncio.sleep(delay)
        now = time.monotonic()
        size = len(envelope.original_content or b"")
        with self.stats.get_lock():
            if self.stats[COUNT] == 0:
                self.stats[FIRST_AT] = now
            self.stats[COUNT] += 1
            self.stats[BYTES] += size
            self.stats[LAST_AT] = now
        return "250 2.0.0 Ok: discarded"


def sink_main(port: int, stats: SynchronizedArray[float], ready: EventType, stop: EventType) -> None:
    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    controller = Controller(SinkHandler(stats), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        stop.wait()
    finally:
        controller.stop()


class Sink:
    """aiosmtpd in a spawned process, with counters (and the DATA delay) shared with us."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.port = free_port()
        self.stats: SynchronizedArray[float] = ctx.Array("d", 6)
        self.ready = ctx.Event()
        self.stop_event = ctx.Event()
        self.process = ctx.Process(target=sink_main, args=(self.port, self.stats, self.ready, self.stop_event),
                                   name="bench-smtp-sink", daemon=True)

    def start(self) -> Sink:
        self.process.start()
        if not self.ready.wait(30):
            raise RuntimeError("the SMTP sink did not start")
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)

    def set_delay(self, seconds: float) -> None:
        with self.stats.get_lock():
            self.stats[DELAY] = seconds

    def set_pipelining(self, offered: bool) -> None:
        with self.stats.get_lock():
            self.stats[PIPELINING] = 1.0 if offered else 0.0

    def reset(self) -> None:
        with self.stats.get_lock():
            for i in (COUNT, BYTES, FIRST_AT, LAST_AT):
                self.stats[i] = 0.0

    def cpu(self) -> float:
        """CPU seconds (user + system) the sink process used so far (``/proc/PID/stat``)."""
        fields = proc_stat(self.process.pid) if self.process.pid is not None else None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0

    def snapshot(self) -> tuple[int, int, float, float]:
        """(messages, bytes, first arrival, last arrival) since the last reset."""
        with self.stats.get_lock():
            return (int(self.stats[COUNT]), int(self.stats[BYTES]), self.stats[FIRST_AT], self.stats[LAST_AT])

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` messages arrived: the sink's process may lag the client's last reply."""
        end = time.monotonic() + timeout
        while self.snapshot()[0] < count and time.monotonic() < end:
            time.sleep(0.01)

    def timing(self, count: int, started: float, seconds: float, cpu: float, sink_cpu0: float,
               maxrss_kb: int = 0) -> Timing:
        """The Timing of a case that sent ``count`` messages here, checked against what arrived."""
        self.wait_for(count)
        got, size, first, last = self.snapshot()
        if got != count:
            raise RuntimeError("the SMTP sink received %d messages, expected %d" % (got, count))
        return Timing(seconds, count, steady=last - first, startup=first - started, cpu=cpu,
                      sink_cpu=self.cpu() - sink_cpu0, maxrss_kb=maxrss_kb, size=size)


@contextmanager
def servers(prefix: str) -> Iterator[tuple[Sink, PostgresServer, Path]]:
    """What every bench run stands on: the SMTP sink, PostgreSQL with the template forum, a work folder.

    All are stopped and removed on the way out, whatever happened.  First,
    the product's bytecode caches: an installation runs from the caches its
    first run wrote, and so do the timed runs (``clean_env`` lets them).
    """
    work = Path(tempfile.mkdtemp(prefix=prefix))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "forummail")], check=True,
                   env=clean_env(), stdout=subprocess.DEVNULL)
    sink = Sink()
    pg: PostgresServer | None = None
    try:
        sink.start()  # first: spawned from a process with no connections yet
        pg = PostgresServer().start()
        create_template(pg)
        yield sink, pg, work
    finally:
        logging.getLogger().handlers.clear()
        if pg is not None:
            pg.stop()
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------
# Databases and the settings file.
# --------------------------------------------------------------------------


def postgres_cpu(pg: PostgresServer) -> float:
    """CPU seconds (user + system) of the PostgreSQL server so far: the postmaster, its live processes
    (backends, autovacuum, WAL writer) and the ones it reaped (``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    own = proc_stat(postmaster)
    if own is None:
        raise RuntimeError("PostgreSQL (pid %d) is not running" % postmaster)
    total = sum(int(v) for v in own[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            # A child that ended meanwhile is in the postmaster's reaped children's time.
            f = proc_stat(int(entry.name))
            if f is not None and int(f[1]) == postmaster:
                total += int(f[11]) + int(f[12])
    return total / tick


def proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first: index 11 is utime); None once
    the process is gone."""
    try:
        return Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def recreate_db(pg: PostgresServer, name: str, template: str = TEMPLATE_DB) -> None:
    with psycopg.connect(**pg.conninfo(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
        conn.execute("CREATE DATABASE %s TEMPLATE %s" % (name, template))


def db_conn(pg: PostgresServer, name: str) -> psycopg.Connection:
    return psycopg.connect(**pg.conninfo(name), autocommit=True, options="-c search_path=%s" % SCHEMA)


def statuses(pg: PostgresServer, name: str, table: str = "notifications") -> dict[str, int]:
    """Rows of ``table`` by status."""
    with db_conn(pg, name) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM %s GROUP BY status" % table).fetchall())


def write_conf(folder: Path, pg: PostgresServer, smtp_port: int, db: str, connections: int = 1,
               pop_port: int = 0, processes: int = 0) -> Path:
    """A ``cron_conf.py`` (and its ``.env``) as an administrator writes them, ``mail_log`` on."""
    folder.mkdir(parents=True, exist_ok=True)
    opts: dict[str, Any] = {
        "smtp_port": smtp_port,
        "smtp_timeout": 30,
        "smtp_max_connections": connections,
        "replier_from_addr": "Forum reply <replies@forum.test>",
        "replier_downloader_url": "https://files.forum.test/download",
        "mail_log": str(folder / "mail.log"),
    }
    if processes:
        opts["send_processes"] = processes
    env = {"REPLY_TOKEN_SECRET": SECRET}
    if pop_port:
        opts.update({"replier_pop_addr": "127.0.0.1:%d" % pop_port, "replier_pop_ssl": False,
                     "replier_pop_login": POP_LOGIN, "replier_pop_timeout": 30})
        env["REPLIER_POP_PSSWD"] = POP_PASSWORD
    lines = ["# written by bench/bench_all.py", "MAIL_FROM = 'Forum <noreply@forum.test>'",
             "MAIL_SMTP = '127.0.0.1'", "MAIL_ADMIN = 'admin@forum.test'", "DB_HOST = '127.0.0.1'",
             "DB_PORT = %d" % pg.port, "DB_USER = %r" % pg.user, "DB_NAME = %r" % db,
             "DB_SCHEMA = %r" % SCHEMA, "OPTS = {"]
    lines += ["\t%s %r : %r" % (" " if i == 0 else ",", k, v) for i, (k, v) in enumerate(opts.items())]
    lines.append("}")
    conf = folder / "cron_conf.py"
    conf.write_text("\n".join(lines) + "\n")
    (folder / ".env").write_text("".join("%s=%s\n" % kv for kv in env.items()))
    return conf


# --------------------------------------------------------------------------
# The forum: a template database with users and a task; each run posts.
# --------------------------------------------------------------------------

FIRST = ["Ann", "Bob", "Cat", "Dan", "Eve", "José", "Zoë", "Łukasz", "Mia", "Noé", "Olga", "Pablo",
         "Quinn", "Rosa", "Søren", "Tom", "Ute", "Vera", "Walt", "Xiu", "Yann", "Zack", "Inés", "Björn",
         "Chloé", "Diego", "Elif", "Farid", "Greta", "Hugo", "Ivana"]
LAST = ["Author", "Builder", "Critic", "Núñez", "Åberg", "García", "Müller", "O'Brien", "Smith", "Dubois"]
WORDS = ("the render farm node queue shot frame lighting pass comp review notes client deadline "
         "version texture rig animation camera layout asset approved please check again tomorrow "
         "looks good but the shadows are too dark on shot 42 can you fix it before friday "
         "revisión cámara iluminación sombra versión aprobada mañana").split()


def message_body(rng: random.Random) -> str:
    """A forum message of 150-1,500 characters in paragraphs, some of it non-ASCII."""
    target = rng.randint(150, 1500)
    paragraphs: list[str] = []
    size = 0
    while size < target:
        sentences = []
        for _ in range(rng.randint(2, 5)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(6, 16))]
            sentences.append(" ".join(words).capitalize() + rng.choice([".", ".", "?", "!"]))
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(paragraphs)


def create_template(pg: PostgresServer, followers: int = FOLLOWERS) -> None:
    """The template database: our schema, a universe with replies on, ``followers`` users on one task."""
    with psycopg.connect(**pg.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE %s" % TEMPLATE_DB)
    with psycopg.connect(**pg.conninfo(TEMPLATE_DB)) as conn:
        fm_db.migrate(conn, SCHEMA)
    with db_conn(pg, TEMPLATE_DB) as conn:
        row = conn.execute("INSERT INTO universes (name, allow_email_reply) VALUES ('Studio Ñandú', true)"
                           " RETURNING id").fetchone()
        assert row is not None
        universe = int(row[0])
        users = []
        for i in range(followers):
            name = "%s %s" % (FIRST[i % len(FIRST)], LAST[i % len(LAST)])
            row = conn.execute("INSERT INTO users (universe_id, name, email) VALUES (%s, %s, %s) RETURNING id",
                               (universe, name, "user%02d@example.com" % i)).fetchone()
            assert row is not None
            users.append(int(row[0]))
        row = conn.execute("INSERT INTO tasks (universe_id, name) VALUES (%s, %s) RETURNING id",
                           (universe, "Render farm upgrade – phase 2")).fetchone()
        assert row is not None
        task = int(row[0])
        for user in users:
            conn.execute("INSERT INTO task_followers VALUES (%s, %s)", (task, user))


def fresh_run_db(pg: PostgresServer, count: int) -> None:
    """Recreate the run database from the template and queue exactly ``count`` notifications.

    The followers post in turn, so the trigger queues one notification per
    other follower (30 per message); one message in five has attachments.
    The same seed every time: every run sends the very same mail.
    """
    recreate_db(pg, RUN_DB)
    rng = random.Random(SEED)
    with db_conn(pg, RUN_DB) as conn:
        task_row = conn.execute("SELECT id FROM tasks").fetchone()
        assert task_row is not None
        task = int(task_row[0])
        users = [int(r[0]) for r in conn.execute("SELECT user_id FROM task_followers ORDER BY user_id")]
        per_message = len(users) - 1
        with conn.transaction():
            for i in range(math.ceil(count / per_message)):
                row = conn.execute("INSERT INTO messages (task_id, author_id, body) VALUES (%s, %s, %s)"
                                   " RETURNING id", (task, users[i % len(users)], message_body(rng))).fetchone()
                assert row is not None
                if rng.random() < 0.2:
                    for j in range(rng.randint(1, 2)):
                        conn.execute(
                            "INSERT INTO message_attachments (message_id, file_name, file_hash, file_size,"
                            " content_type) VALUES (%s, %s, %s, %s, 'image/png')",
                            (row[0], "shot_%03d_v%d.png" % (i, j + 1), secrets.token_hex(20),
                             rng.randint(20_000, 9_000_000)))
            conn.execute("DELETE FROM notifications WHERE id IN"
                         " (SELECT id FROM notifications ORDER BY id DESC OFFSET %s)", (count,))
        queued = conn.execute("SELECT count(*) FROM notifications WHERE status = 'pending'").fetchone()
        assert queued is not None and queued[0] == count, queued
        conn.execute("VACUUM ANALYZE")


def peek_jobs(pg: PostgresServer, count: int) -> list[Job]:
    """The jobs a run would claim from a fresh run database, without claiming them (as --dry-run)."""
    fresh_run_db(pg, count)
    with psycopg.connect(**pg.conninfo(RUN_DB), options="-c search_path=%s" % SCHEMA) as conn:
        jobs = store.outgoing.peek(conn, count)
    if len(jobs) != count:
        raise RuntimeError("peeked %d jobs, expected %d" % (len(jobs), count))
    return jobs


def gmail_reply(original: EmailMessage, sender: str, text: str) -> bytes:
    """A reply as Gmail writes it (as tests/test_replies.py): new text, attribution, the original quoted."""
    body = original.get_body(("plain",))
    assert body is not None
    quoted = body.get_content()
    attribution = "On Sat, Nov 21, 2026 at 9:14 AM %s wrote:" % original["From"]
    plain = "%s\n\n%s\n\n%s" % (text, attribution, "\n".join("> " + line for line in quoted.splitlines()))
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(original["Reply-To"])
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Date"] = format_datetime(datetime.datetime.now().astimezone())
    msg["Message-ID"] = make_msgid(domain="mail.gmail.test")
    msg["In-Reply-To"] = original["Message-ID"]
    msg["References"] = "%s %s" % (original["References"], original["Message-ID"])
    msg.set_content(plain)
    paragraphs = "".join("<div>%s</div>" % (line or "<br>") for line in text.splitlines())
    msg.add_alternative(
        '<div dir="ltr">%s</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">%s<br></div>'
        '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);'
        'padding-left:1ex">%s</blockquote></div>' % (paragraphs, attribution, quoted.replace("\n", "<br>\n")),
        subtype="html")
    return msg.as_bytes()


def build_replies(pg: PostgresServer, settings: Settings, count: int) -> list[bytes]:
    """``count`` replies to real notifications (valid tokens, from the very recipients)."""
    jobs = peek_jobs(pg, count)
    rng = random.Random(SEED + 5)
    replies = []
    for job, out in zip(jobs, render(settings, jobs), strict=True):
        original = message_from_bytes(out.data, policy=policy.default)
        assert isinstance(original, EmailMessage)
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 60))]
        text = " ".join(words).capitalize() + ".\n\n" + (job.recipient_name or "").split(" ")[0]
        replies.append(gmail_reply(original, "%s <%s>" % (job.recipient_name, job.recipient), text))
    return replies


# --------------------------------------------------------------------------
# Profiles: cProfile tables in Markdown.
# --------------------------------------------------------------------------

StatKey = tuple[str, int, str]
Stats = dict[StatKey, tuple[int, int, float, float, Any]]
# (label, file suffix, function): a row of a stage table.
Stage = tuple[str, str, str]


def raw_stats(prof: cProfile.Profile) -> Stats:
    return pstats.Stats(prof).stats  # type: ignore[attr-defined]


@contextmanager
def profile_all_threads() -> Iterator[dict[str, cProfile.Profile]]:
    """cProfile the calling thread ("main") and every thread started meanwhile, each on its own."""
    profiles: dict[str, cProfile.Profile] = {}
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        prof = cProfile.Profile()
        profiles[self.name] = prof
        prof.enable()
        try:
            original(self)
        finally:
            prof.disable()

    threading.Thread.run = run  # type: ignore[method-assign]
    main = cProfile.Profile()
    profiles["main"] = main
    try:
        main.enable()
        yield profiles
    finally:
        main.disable()
        threading.Thread.run = original  # type: ignore[method-assign]


def cumulative(stats: Stats, suffix: str, func: str) -> tuple[int, float]:
    """(calls, cumulative seconds) of a function named by file suffix and name."""
    calls, ct = 0, 0.0
    for key, (_, nc, _, c, _) in stats.items():
        if key[2] == func and key[0].replace("\\", "/").endswith(suffix):
            calls, ct = max(calls, nc), max(ct, c)  # recursive functions: one entry; the largest
    return calls, ct


def stage_table(stats: Stats, wall: float, count: int, stages: Sequence[Stage]) -> list[str]:
    """One row per stage that ran (a stage renamed in the product simply drops out)."""
    out = ["| stage | calls | cumulative s | % of the thread's wall clock | µs per message |",
           "|---|---:|---:|---:|---:|"]
    for label, suffix, func in stages:
        calls, ct = cumulative(stats, suffix, func)
        if not calls:
            continue
        out.append("| %s | %d | %.3f | %.1f%% | %.0f |" % (label, calls, ct, 100 * ct / wall, 1e6 * ct / count))
    return out


def short_name(key: StatKey) -> str:
    filename, line, func = key
    if filename == "~":
        return func
    path = filename.replace("\\", "/")
    for marker in ("/site-packages/", "/lib/python3.11/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return "%s:%d(%s)" % (path, line, func)


def top_table(stats: Stats, index: int, n: int = 12) -> list[str]:
    """The ``n`` functions with the most own (``index`` 2) or cumulative (3) time."""
    out = ["| ncalls | tottime s | cumtime s | function |", "|---:|---:|---:|---|"]
    for key, (cc, nc, tt, ct, _) in sorted(stats.items(), key=lambda kv: -kv[1][index])[:n]:
        ncalls = "%d" % nc if cc == nc else "%d/%d" % (nc, cc)
        out.append("| %s | %.3f | %.3f | `%s` |" % (ncalls, tt, ct, short_name(key).replace("|", "\\|")))
    return out


SOCKET = "socket I/O (C send/recv: syscalls and waiting for the server)"
PG_WAIT = "psycopg (C: libpq, waiting for PostgreSQL)"
LOCKS = "waiting on a thread lock (another thread: a full hand-over queue, a join)"


def category(key: StatKey) -> str:
    """The component a function belongs to; C functions ("~") by their name, "" if unknown."""
    filename, _, func = key
    path = filename.replace("\\", "/")
    if filename == "~":
        if "_socket.socket" in func or "select" in func:
            return SOCKET
        if "psycopg" in func:
            return PG_WAIT
        if "_thread.lock" in func or "_thread.RLock" in func:
            return LOCKS
        return ""
    if "/email/" in path:
        return "email package (stdlib)"
    if path.endswith("/smtplib.py"):
        return "smtplib (Python)"
    if path.endswith("/poplib.py"):
        return "poplib (Python)"
    if path.endswith(("/socket.py", "/ssl.py")):
        return SOCKET
    if "/psycopg" in path:
        return "psycopg (Python)"
    if "/jinja2/" in path or "/markupsafe/" in path or path.startswith("<template>") or "/templates/" in path:
        return "Jinja2 (incl. compiled templates)"
    if "/forummail/" in path:
        return "forummail (our code)"
    if "/logging/" in path:
        return "logging (stdlib, the mail_log line)"
    if path.endswith("/re/__init__.py") or "/re/_" in path:
        return ""  # counted with its callers
    if path.endswith(("/hmac.py", "/base64.py", "/secrets.py", "/random.py", "/hashlib.py")):
        return "hashing/random (Python)"
    return "other stdlib / Python"


def components(stats: Stats) -> dict[str, float]:
    """Own time per component.

    C functions (other than socket, libpq and lock ones) and the Python part
    of ``re`` have no component of their own: their time goes to the
    components of their callers, in proportion, up the call graph.
    """
    cats: dict[str, float] = {}

    def spread(key: StatKey, amount: float, weight: int, depth: int) -> None:
        cat = category(key)
        if cat:
            cats[cat] = cats.get(cat, 0.0) + amount
            return
        callers = stats[key][4] if key in stats else {}
        total = sum(c[weight] for c in callers.values()) if callers else 0.0
        if depth > 5 or total <= 0:
            cats["other C builtins"] = cats.get("other C builtins", 0.0) + amount
            return
        for caller, c in callers.items():
            # One level up: this function's own time per caller; further up:
            # the caller's cumulative time per its own callers.
            spread(caller, amount * c[weight] / total, 3, depth + 1)

    for key, (_, _, tt, _, _) in stats.items():
        if tt > 0:
            spread(key, tt, 2, 0)
    return cats


def component_table(stats: Stats, count: int) -> list[str]:
    cats = components(stats)
    total = sum(cats.values()) or 1.0
    out = ["| component | own time s | % | µs per message |", "|---|---:|---:|---:|"]
    for cat, tt in sorted(cats.items(), key=lambda kv: -kv[1]):
        if tt >= 0.0005:
            out.append("| %s | %.3f | %.1f%% | %.0f |" % (cat, tt, 100 * tt / total, 1e6 * tt / count))
    return out


# --------------------------------------------------------------------------
# The machine.
# --------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions(pg: PostgresServer) -> str:
    """Versions of the servers and libraries that the figures depend on."""
    import aiosmtpd
    import jinja2

    with psycopg.connect(**pg.conninfo()) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    server = row[0] if row else "?"
    dovecot = subprocess.run(["/usr/sbin/dovecot", "--version"], capture_output=True, text=True).stdout.strip()
    return "PostgreSQL %s, psycopg %s (%s), Jinja2 %s, aiosmtpd %s; Dovecot %s" % (
        server, psycopg.__version__, psycopg.pq.__impl__, jinja2.__version__, aiosmtpd.__version__, dovecot or "?")


def load_average() -> str:
    return " ".join("%.2f" % x for x in os.getloadavg())


def machine_lines(pg: PostgresServer, others: str, started: datetime.datetime, elapsed: float,
                  load_before: str) -> list[str]:
    """The "Machine" section: CPUs, memory, Python, versions, date, load."""
    return [
        "## Machine",
        "",
        "* %d CPU(s) (`nproc`), %s, %.0f GiB" % (
            len(os.sched_getaffinity(0)), cpu_model(),
            os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30),
        "* Python %s (%s), %s %s" % (platform.python_version(), sys.executable.replace(str(ROOT) + "/", ""),
                                     platform.system(), platform.release()),
        "* %s; %s" % (versions(pg), others),
        "* date: %s (whole run %.0f s)" % (started.strftime("%Y-%m-%d %H:%M %Z").strip(), elapsed),
        "* load average before the run: %s; after: %s (other work on the machine makes the figures noisier)"
        % (load_before, load_average()),
    ]

"""The sending loop: claim a batch, render, send, record each outcome.

Any number of runs, on one machine or several, may drain the queue at once:
claims use ``FOR UPDATE SKIP LOCKED`` and a lease, so a row is sent by one
run only, and the rows of a run that died are taken again when the lease
ends.  A run stops claiming before its lease could run out under it.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from . import db, queue
from .compose import Composer
from .errors import ConfigError, TemporaryFailure
from .queue import Job
from .settings import Settings
from .transport import Outcome, Result, ServerDown, Transport

log = logging.getLogger(__name__)


@dataclass
class Summary:
    """What a run did; the scripts print it with ``-v``."""

    sent: int = 0
    retry: int = 0
    failed: int = 0
    cancelled: int = 0
    would_send: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        if self.would_send:
            return "dry run: %d notification(s) would be sent" % self.would_send
        return "sent %d, to retry %d, failed %d, cancelled %d in %.1f s" % (
            self.sent, self.retry, self.failed, self.cancelled, self.seconds)


def backoff(attempts: int, base: int, cap: int) -> float:
    """Seconds until the next try after ``attempts`` tries: doubling, capped, jittered.

    The jitter (plus or minus 10%) keeps rows that failed together from
    coming back together.
    """
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.9, 1.1)


def run_id() -> str:
    """Names this run in ``claimed_by``: host, pid and a random part."""
    return "%s:%d:%s" % (socket.gethostname()[:40], os.getpid(), secrets.token_hex(3))


class Sender:
    """One run of send_notifications."""

    def __init__(self, settings: Settings, conn: psycopg.Connection) -> None:
        self.settings = settings
        self.conn = conn
        self.run = run_id()
        self.summary = Summary()
        self._composer: Composer | None = None
        self.transport = Transport(settings.smtp_servers)

    @property
    def composer(self) -> Composer:
        if self._composer is None:
            self._composer = Composer(self.settings)
        return self._composer

    def drain(self, limit: int | None = None, progress: Callable[[int], None] | None = None) -> Summary:
        """Send until nothing is due (or ``limit`` rows were taken)."""
        s = self.settings
        queue.prepare_sender_session(self.conn)
        started = time.monotonic()
        taken = 0
        try:
            while limit is None or taken < limit:
                size = s.send_batch_size if limit is None else min(s.send_batch_size, limit - taken)
                jobs = queue.claim(self.conn, self.run, size, s.send_lease_seconds)
                if not jobs:
                    break
                taken += len(jobs)
                self._send_batch(jobs, time.monotonic() + s.send_lease_seconds * 0.8)
                if progress:
                    progress(len(jobs))
        finally:
            self.transport.close()
            self.summary.seconds = time.monotonic() - started
        return self.summary

    def _send_batch(self, jobs: list[Job], deadline: float) -> None:
        pending = [job.id for job in jobs]
        # Server down, a broken template, Ctrl-C, SIGTERM: what was not
        # started goes back untouched (finally); the row being sent, if any,
        # keeps its lease and is retried when the lease ends.
        try:
            for job in jobs:
                if time.monotonic() > deadline:
                    # Our lease is nearly over: give the rest back rather
                    # than race a run that may take them.
                    break
                pending.remove(job.id)
                try:
                    self._send_one(job)
                except ServerDown:
                    pending.append(job.id)  # raised before anything was sent
                    raise
        finally:
            if pending:
                queue.release(self.conn, self.run, pending)

    def _send_one(self, job: Job) -> None:
        s = self.settings
        reason = self._cancel_reason(job)
        if reason:
            queue.mark_failed(self.conn, self.run, job.id, reason, None, status="cancelled", counted=False)
            self.summary.cancelled += 1
            log.info("notification %d to %s cancelled: %s", job.id, job.recipient, reason)
            return
        if job.attempts >= s.send_max_attempts:
            self._fail(job, "gave up after %d attempts; last: %s" % (job.attempts, job.last_error), None)
            return
        try:
            out = self.composer.compose(job)
        except ConfigError:  # a broken template would fail every row: stop instead
            raise
        except Exception as exc:  # one bad row never stops the batch
            self._fail(job, "cannot render: %s: %s" % (type(exc).__name__, exc), None)
            return
        result = self.transport.send(out)
        self._record(job, result, out.message_id)

    @staticmethod
    def _cancel_reason(job: Job) -> str:
        if job.kind == "message" and job.message_id is None:
            return "the forum message was deleted before it was sent"
        if not job.recipient_active:
            return "the recipient's account is no longer active"
        return ""

    def _record(self, job: Job, result: Result, msgid: str) -> None:
        s = self.settings
        if result.outcome is Outcome.SENT:
            if not queue.mark_sent(self.conn, self.run, job.id, msgid):
                log.warning("notification %d was sent but its lease had passed to another run", job.id)
            self.summary.sent += 1
            log.info("notification %d sent to %s via %s %s", job.id, job.recipient, result.server, msgid)
            return
        attempts = job.attempts + 1
        if result.outcome is Outcome.RETRY and attempts < s.send_max_attempts:
            delay = backoff(attempts, s.send_retry_seconds, s.send_retry_max_seconds)
            queue.mark_retry(self.conn, self.run, job.id, result.detail, delay, msgid)
            self.summary.retry += 1
            log.warning("notification %d to %s: %s; attempt %d of %d, next in %d s",
                        job.id, job.recipient, result.detail, attempts, s.send_max_attempts, delay)
            return
        detail = result.detail
        if result.outcome is Outcome.RETRY:
            detail = "gave up after %d attempts; last: %s" % (attempts, detail)
        self._fail(job, detail, msgid)

    def _fail(self, job: Job, detail: str, msgid: str | None) -> None:
        queue.mark_failed(self.conn, self.run, job.id, detail, msgid)
        self.summary.failed += 1
        self.summary.failures.append("notification %d to %s: %s" % (job.id, job.recipient, detail))
        log.error("notification %d to %s failed: %s", job.id, job.recipient, detail)


def dry_run(settings: Settings, conn: psycopg.Connection, limit: int | None,
            show: Callable[[str], None]) -> Summary:
    """Render what is due and show it; connect to SMTP (and log in) but send nothing."""
    composer = Composer(settings)
    jobs = queue.peek(conn, limit or settings.send_batch_size)
    summary = Summary()
    for job in jobs:
        out = composer.compose(job)
        summary.would_send += 1
        show("would send notification %d (%s) to %s:" % (job.id, job.kind, ", ".join(out.recipients)))
        show(out.data.decode("utf-8", "replace").replace("\r\n", "\n"))
    transport = Transport(settings.smtp_servers)
    if jobs:
        server = transport.open()
        show("SMTP server %s accepted the connection%s; nothing was sent" % (
            server.name, " and the login" if server.login else ""))
    transport.close()
    return summary


def send_notifications(settings: Settings, limit: int | None = None, dry: bool = False,
                       show: Callable[[str], None] = print,
                       progress: Callable[[int], None] | None = None) -> Summary:
    """The whole job of ``send_notifications.py``."""
    if settings.mail_disable:
        log.info("OPTS['mail_disable'] is True: nothing to do")
        return Summary()
    conn = db.connect(settings, "sender", autocommit=True)
    try:
        db.require_schema(conn, settings)
        if dry:
            return dry_run(settings, conn, limit, show)
        sender = Sender(settings, conn)
        try:
            return sender.drain(limit, progress)
        except ServerDown:
            log.info("stopped: %s", sender.summary.line())
            raise
    except psycopg.OperationalError as exc:
        raise TemporaryFailure("lost the connection to %s: %s" % (db.describe(settings), exc)) from None
    finally:
        conn.close()

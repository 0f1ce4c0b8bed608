"""Outcomes: what becomes of each claimed row, and the run's summary of them.

The one place that decides, from what the transport said, whether a row is
``sent``, waits for another attempt (and how long: the back-off), or has
``failed``; that gives rows back untouched; and that counts it all for the
summary.  Worker threads call it, each with the OutcomeWriter of its own
database connection (so each outcome is committed as the server answers);
the main thread calls it with none (its own connection).  The counts are
guarded by a lock of their own, held only to add one.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg

from . import db, store
from .logs import escape
from .settings import Settings
from .store.outgoing import Job
from .transport import Outcome, Result

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


class Outcomes:
    """Records the outcome of every row a run claimed (``run`` names it in ``claimed_by``)."""

    def __init__(self, settings: Settings, run: str, conn: psycopg.Connection) -> None:
        self.settings = settings
        self.run = run
        self.conn = conn  # the main thread's
        self.summary = Summary()
        self._lock = threading.Lock()

    def connect(self) -> psycopg.Connection:
        """A connection of its own for a worker thread to record through."""
        conn = db.connect(self.settings, "sender", autocommit=True)
        store.outgoing.prepare_sender_session(conn)
        return conn

    def record(self, writer: store.outgoing.OutcomeWriter, jobs: Sequence[Job], msgid: str, result: Result) -> None:
        """What the server said about one mail, for each row it settles (several for a digest)."""
        for job in jobs:
            self._record(writer, job, result, msgid)

    def _record(self, writer: store.outgoing.OutcomeWriter, job: Job, result: Result, msgid: str) -> None:
        s = self.settings
        if result.outcome is Outcome.SENT:
            writer.sent(self.run, job.id, msgid)
            with self._lock:
                self.summary.sent += 1
            log.info("notification %d sent to %s via %s %s", job.id, job.recipient, result.server, msgid)
            return
        attempts = job.attempts + 1
        if result.outcome is Outcome.RETRY and attempts < s.sending.send_max_attempts:
            delay = backoff(attempts, s.sending.send_retry_seconds, s.sending.send_retry_max_seconds)
            writer.retry(self.run, job.id, result.detail, delay, msgid)
            with self._lock:
                self.summary.retry += 1
            # A dropped connection is said once, by the server-down line that
            # follows if the server is really gone; a 4xx is the server's word.
            level = logging.INFO if result.detail.startswith("connection lost") else logging.WARNING
            log.log(level, "notification %d to %s: %s; attempt %d of %d, next in %d s",
                    job.id, job.recipient, result.detail, attempts, s.sending.send_max_attempts, delay)
            return
        detail = result.detail
        if result.outcome is Outcome.RETRY:
            detail = "gave up after %d attempts; last: %s" % (attempts, detail)
        self.fail(job, detail, msgid, writer)

    def exhausted(self, job: Job) -> bool:
        """A row that has had all its attempts fails before it is rendered again."""
        if job.attempts < self.settings.sending.send_max_attempts:
            return False
        self.fail(job, "gave up after %d attempts; last: %s" % (job.attempts, job.last_error))
        return True

    def fail(self, job: Job, detail: str, msgid: str | None = None,
             writer: store.outgoing.OutcomeWriter | None = None) -> None:
        """Record a permanent failure (on the main thread's connection when no writer is given)."""
        if writer is None:
            store.outgoing.mark_failed(self.conn, self.run, job.id, detail, msgid)
        else:
            writer.failed(self.run, job.id, detail, msgid)
        with self._lock:
            self.summary.failed += 1
            self.summary.failures.append("notification %d to %s: %s" % (job.id, escape(job.recipient), detail))
        log.error("notification %d to %s failed: %s", job.id, job.recipient, detail)

    def cancel(self, job: Job, reason: str) -> None:
        """A row with nothing to send any more: cancelled, its attempts not counted."""
        store.outgoing.mark_failed(self.conn, self.run, job.id, reason, None, status="cancelled", counted=False)
        with self._lock:
            self.summary.cancelled += 1
        log.info("notification %d to %s cancelled: %s", job.id, job.recipient, reason)

    def release(self, jobs: Sequence[Job], delay: float = 0, conn: psycopg.Connection | None = None) -> None:
        """Give rows back untouched (no attempt counted), due again in ``delay`` seconds."""
        if jobs:
            store.outgoing.release(conn or self.conn, self.run, [job.id for job in jobs], delay)

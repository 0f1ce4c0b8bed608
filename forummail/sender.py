"""The sending loop: claim a batch, render, send, record each outcome.

Any number of runs, on one machine or several, may drain the queue at once:
claims use ``FOR UPDATE SKIP LOCKED`` and a lease, so a row is sent by one
run only, and the rows of a run that died are taken again when the lease
ends.  A run stops claiming before its lease could run out under it.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Generator

import psycopg

from . import alerts, db, feedback, groups, metrics, signing, store
from .addresses import InvalidAddress
from .compose import Composer
from .dispatch import Dispatcher, Item
from .errors import ConfigError, MailerError, TemporaryFailure
from .outcomes import Outcomes, Summary
from .progress import Progress
from .settings import Settings
from .store.outgoing import Job
from .transport import ServerDown, Transport

log = logging.getLogger(__name__)


def run_id() -> str:
    """Names this run in ``claimed_by``: host, pid and a random part."""
    return "%s:%d:%s" % (socket.gethostname()[:40], os.getpid(), secrets.token_hex(3))


class Sender:
    """One run of send_notifications: claims and renders here, sends through a Dispatcher."""

    def __init__(self, settings: Settings, conn: psycopg.Connection) -> None:
        self.settings = settings
        self.conn = conn
        self.run = run_id()
        self.outcomes = Outcomes(settings, self.run, conn)
        self.summary = self.outcomes.summary
        self._composer: Composer | None = None

    @property
    def composer(self) -> Composer:
        if self._composer is None:
            self._composer = Composer(self.settings, signing.required(self.settings, self.conn))
        return self._composer

    def drain(self, limit: int | None = None, progress: Callable[[int], None] | None = None,
              fork: bool = True) -> Summary:
        """Send until nothing is due (or ``limit`` rows were taken, or no server can take more).

        With much to send and several connections to one server, the run
        forks a process per connection (``groups``); ``fork=False`` keeps it
        in this process.
        """
        s = self.settings
        store.outgoing.prepare_sender_session(self.conn)
        started = time.monotonic()
        first = store.outgoing.claim(self.conn, self.run, self._size(limit, 0), s.sending.send_lease_seconds)
        if not first:
            return self.summary  # the common case under cron: no thread, no SMTP, no template
        try:
            self.composer  # noqa: B018 -- reads the signing keys: none anywhere stops the run (78) here
        except BaseException:
            self.outcomes.release(first)
            raise
        count = groups.planned(s, len(first), fork and limit is None)
        if count == 1:
            self._send(s, first, limit, progress, started)
            return self.summary
        children: list[groups.Child] = []
        results: list[dict[str, object]] = []
        try:
            groups.fork(s, count, _drain_child, children)
        except BaseException:
            self.outcomes.release(first)
            groups.stop(children)
            groups.collect(children)
            raise
        try:
            self._send(groups.share(s, 0, count), first, limit, progress, started)
        except BaseException:
            groups.stop(children)
            raise
        finally:
            results = groups.collect(children)  # a signal in here is passed on to them too
            groups.add(self.summary, results)
        error = groups.failure(results)
        if error is not None:
            raise error
        return self.summary

    def _send(self, settings: Settings, jobs: list[Job], limit: int | None,
              progress: Callable[[int], None] | None, started: float) -> None:
        """Send the claimed ``jobs``, then claim more, until done; ``settings`` gives the connections."""
        s = settings
        try:
            store.outgoing.forget_old_usage(self.conn)
            dispatcher = Dispatcher(s, self.outcomes, store.outgoing.servers_aside(self.conn))
            dispatcher.start()
        except BaseException:
            self.outcomes.release(jobs)
            raise
        taken = 0
        try:
            while jobs:
                taken += len(jobs)
                self._dispatch(jobs, time.monotonic() + s.sending.send_lease_seconds * 0.8, dispatcher)
                if progress:
                    progress(len(jobs))
                if (limit is not None and taken >= limit) or not dispatcher.alive:
                    break
                jobs = store.outgoing.claim(self.conn, self.run, self._size(limit, taken), s.sending.send_lease_seconds)
        finally:
            dispatcher.finish()
            self.summary.seconds = time.monotonic() - started
        if dispatcher.all_down():
            problems = list(dict.fromkeys(dispatcher.problems)) or ["no SMTP server could be used"]
            raise ServerDown("; ".join(problems))
        if dispatcher.budget_exhausted():
            log.info("every SMTP server reached its budget: the rest waits for a later run")

    def _size(self, limit: int | None, taken: int) -> int:
        batch = self.settings.sending.send_batch_size
        return batch if limit is None else min(batch, limit - taken)

    def _dispatch(self, jobs: list[Job], deadline: float, dispatcher: Dispatcher) -> None:
        """Settle what needs no mail, render the rest and hand it to the dispatcher."""
        pending = {job.id: job for job in jobs}
        items = self._items(jobs, pending, deadline)
        # A broken template, Ctrl-C, SIGTERM, or a dispatcher that stops
        # taking (or never started to): what was not handed over goes back
        # untouched, now.
        try:
            dispatcher.run(items)
        finally:
            items.close()
            self.outcomes.release(list(pending.values()))

    def _items(self, jobs: list[Job], pending: dict[int, Job], deadline: float) -> Generator[Item, None, None]:
        """The mail of a batch, rendered one at a time as the dispatcher takes it; ``pending``: not yet taken."""
        for job in jobs:
            if pending.pop(job.id, None) is None:
                continue  # went already, inside a digest
            group = [job]
            if job.digest and job.user_id is not None:
                # The user's oldest waiting row is due: the whole digest goes now.
                siblings = [j for j in jobs if j.digest and j.user_id == job.user_id and j.id in pending]
                for sibling in siblings:
                    del pending[sibling.id]
                group += siblings + store.outgoing.claim_digest(self.conn, self.run, job.user_id,
                                                       self.settings.sending.send_lease_seconds)
            item = self._render(group)
            if item is not None:
                item.deadline = deadline
                yield item

    def _render(self, group: list[Job]) -> Item | None:
        """The mail for one row (or a digest's rows); None when nothing is to be sent."""
        live = []
        for job in group:
            reason = self._cancel_reason(job)
            if reason:
                self.outcomes.cancel(job, reason)
            elif not self.outcomes.exhausted(job):
                live.append(job)
        if not live:
            return None
        try:
            digest = len(live) > 1 or live[0].digest
            out = self.composer.compose_digest(live) if digest else self.composer.compose(live[0])
        except ConfigError:  # a broken template would fail every row: stop instead
            raise
        except InvalidAddress as exc:
            # The host's data: no server could ever take it, so at once and
            # for good, and no SMTP command is sent for it.
            for job in live:
                self.outcomes.fail(job, str(exc))
            return None
        except Exception as exc:  # one bad row never stops the batch
            for job in live:
                self.outcomes.fail(job, "cannot render: %s: %s" % (type(exc).__name__, exc))
            return None
        return Item(jobs=live, out=out, deadline=0.0, server=live[0].universe_smtp_server or None)

    @staticmethod
    def _cancel_reason(job: Job) -> str:
        if job.kind == "message" and job.message_id is None:
            return "the forum message was deleted before it was sent"
        if not job.recipient_active:
            return "the recipient's account is no longer active"
        if job.suppressed:
            # manage.py suppressions --clear lifts it; the reason says what to look for.
            return "the address %s is suppressed (%s)" % (job.recipient, job.suppressed[:300])
        if job.unsubscribed:
            return "the recipient unsubscribed from task %s" % job.task_id
        return ""


def _drain_child(settings: Settings) -> Summary:
    """What a forked sending process does (see ``groups``): drain with connections of its own.

    Whatever stops it, what it sent so far goes with the exception
    (``summary``), for the parent to count.
    """
    conn = db.connect(settings, "sender", autocommit=True)
    sender = Sender(settings, conn)
    try:
        return sender.drain(fork=False)
    except psycopg.OperationalError as exc:  # as send_notifications says it
        error = TemporaryFailure("lost the connection to %s: %s" % (db.describe(settings), db.first_line(exc)))
        error.summary = sender.summary  # type: ignore[attr-defined]
        raise error from None
    except BaseException as exc:
        exc.summary = sender.summary  # type: ignore[attr-defined]
        raise
    finally:
        conn.close()


def dry_run(settings: Settings, conn: psycopg.Connection, limit: int | None,
            show: Callable[[str], None]) -> Summary:
    """Render what is due and show it; connect to SMTP (and log in) but send nothing."""
    composer = Composer(settings, signing.required(settings, conn))
    jobs = store.outgoing.peek(conn, limit or settings.sending.send_batch_size)
    summary = Summary()
    for job in jobs:
        try:
            out = composer.compose(job)
        except InvalidAddress as exc:
            show("would fail notification %d (%s): %s" % (job.id, job.kind, exc))
            continue
        summary.would_send += 1
        show("would send notification %d (%s) to %s:" % (job.id, job.kind, ", ".join(out.recipients)))
        show(out.data.decode("utf-8", "replace").replace("\r\n", "\n"))
    transport = Transport(settings.sending.smtp_servers, db.connector(settings, "sender"))
    if jobs:
        server = transport.open()
        show("SMTP server %s accepted the connection%s; nothing was sent" % (
            server.name, " and the login" if server.login else ""))
    transport.close()
    return summary


def send_notifications(settings: Settings, limit: int | None = None, dry: bool = False,
                       show: Callable[[str], None] = print, progress: bool = False) -> Summary:
    """The whole job of ``send_notifications.py``: drain, then report (metrics, alerts)."""
    if settings.sending.mail_disable:
        log.info("OPTS['mail_disable'] is True: nothing to do")
        return Summary()
    started = time.time()
    summary = Summary()
    conn: psycopg.Connection | None = None
    exit_code = 1
    try:
        conn = db.connect(settings, "sender", autocommit=True)
        db.require_schema(conn, settings)
        if dry:
            summary = dry_run(settings, conn, limit, show)
            exit_code = 0
            return summary
        # Before anything is claimed: a one-click unsubscribe stops the very next mail.
        feedback.apply_requests(conn, signing.keys(settings, conn).verify)
        sender = Sender(settings, conn)
        summary = sender.summary
        bar = Progress(store.outgoing.due_count(conn) if progress else 0)
        try:
            sender.drain(limit, bar, fork=not bar.enabled)  # a bar counts only this process
        finally:
            bar.close()
        exit_code = 0
        if summary.failures:
            alerts.notify(settings, "send-failures", "%d notification(s) failed permanently" % summary.failed,
                          summary.failures, conn)
        return summary
    except psycopg.OperationalError as exc:
        raise TemporaryFailure("lost the connection to %s: %s" % (db.describe(settings), db.first_line(exc))) from None
    except MailerError as exc:
        exit_code = exc.exit_code
        if isinstance(exc, TemporaryFailure):
            log.info("stopped: %s", summary.line())
            kind = "smtp-down" if isinstance(exc, ServerDown) else "database-down"
            alerts.notify(settings, kind, "send_notifications.py could not run", [str(exc)], conn)
        raise
    finally:
        if not dry:
            counts = {"sent": summary.sent, "retry": summary.retry, "failed": summary.failed,
                      "cancelled": summary.cancelled}
            if settings.metrics_dir:
                metrics.write(settings.metrics_dir, "send", exit_code, started, counts, _queue_gauges(conn))
        if conn is not None:
            conn.close()


def _queue_gauges(conn: psycopg.Connection | None) -> dict[str, float]:
    if conn is None or conn.closed:
        return {}
    try:
        waiting, oldest = store.outgoing.queue_depth(conn)
    except psycopg.Error:
        return {}
    return {"queue_waiting": waiting, "queue_oldest_waiting_age_seconds": oldest}

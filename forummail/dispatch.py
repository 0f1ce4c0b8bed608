"""Dispatch: rendered mail spread over the SMTP servers, several connections each.

The main thread claims and renders; worker threads send (the work waits on
the network, so threads suffice).  A worker belongs to one server, keeps
its connection for many mails, and records each outcome on a database
connection of its own the moment the server answers.  With one connection
in all there is no worker: the main thread sends, and renders each mail
while the server takes in the one before (``run``).

* A server that cannot be used is left aside (for ``aside_seconds``, by
  every run: the time is kept in the database) and its mail goes through
  the others; the run fails only when no server works.
* A server's budget (messages and recipients per minute and per rolling
  day, counted in the database for every run on every machine) is taken
  before each mail; a server out of budget stops taking mail, and when all
  are, the run stops cleanly and leaves the rest for later.
* Mail of a universe with its own server goes through that server only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psycopg

from . import db, store
from .compose import Outgoing
from .outcomes import Outcomes
from .settings import Settings, SmtpServer
from .store.outgoing import Job
from .transport import ServerDown, Transport

log = logging.getLogger(__name__)


@dataclass
class Item:
    """One mail to send and the rows it settles (several for a digest)."""

    jobs: list[Job]
    out: Outgoing
    deadline: float  # monotonic; past it our lease may have passed to another run
    server: str | None = None  # a universe's own server, else any


@dataclass
class Line:
    """One SMTP connection of a worker and the database connection its outcomes go through."""

    slot: Slot
    transport: Transport
    conn: psycopg.Connection
    writer: store.outgoing.OutcomeWriter


@dataclass
class Slot:
    """A configured server, as this run sees it."""

    server: SmtpServer
    pinned: deque[Item] = field(default_factory=deque)  # mail only this server may send
    down: str = ""  # why it was set aside
    exhausted: str = ""  # which budget ran out
    workers: int = 0

    @property
    def usable(self) -> bool:
        return not self.down and not self.exhausted


class Dispatcher:
    """Workers for every connection slot of every enabled server.

    All shared state (the queues, the slots, the count in flight) is guarded
    by one lock; nobody polls: workers wait on ``work`` (mail to take, or the
    end), the main thread on ``room`` (space in the queue, mail settled, a
    server lost).
    """

    def __init__(self, settings: Settings, outcomes: Outcomes, aside: dict[str, str]) -> None:
        self.settings = settings
        self.outcomes = outcomes
        self.slots = {s.name: Slot(s) for s in settings.sending.smtp_servers if s.enabled}
        # Servers other runs found down stay aside; but when all are, try them
        # all: there is nothing to lose, and one may be back.
        if aside and not all(name in aside for name in self.slots):
            for name, why in aside.items():
                if name in self.slots:
                    self.slots[name].down = "left aside: %s" % why
        # Enough rendered mail to keep every connection busy, and no more.
        self.capacity = max(2, 2 * sum(s.server.max_connections for s in self.slots.values()))
        self.shared: deque[Item] = deque()
        self.lock = threading.Lock()
        self.work = threading.Condition(self.lock)
        self.room = threading.Condition(self.lock)
        # Mail handed to the workers and not yet settled (sent, failed, or
        # given back to the database): finish() waits for it to reach 0.
        self.inflight = 0
        self.stopping = False
        self.threads: list[threading.Thread] = []
        self.problems: list[str] = []
        self.inline: Slot | None = None  # the one connection's slot, when the caller's thread sends
        self.line: Line | None = None  # and that connection

    # --- the main thread's side -------------------------------------------

    def start(self) -> None:
        usable = [slot for slot in self.slots.values() if slot.usable]
        if len(usable) == 1 and usable[0].server.max_connections == 1:
            # One connection: the calling thread sends itself (see run()).
            self.inline = usable[0]
            self.inline.workers = 1
            return
        for slot in self.slots.values():
            if not slot.usable:
                continue
            for i in range(slot.server.max_connections):
                thread = threading.Thread(target=self._work, args=(slot,), daemon=True,
                                          name="smtp-%s-%d" % (slot.server.name, i))
                slot.workers += 1
                self.threads.append(thread)
                thread.start()

    def _alive(self) -> bool:
        return any(s.usable and s.workers for s in self.slots.values())

    @property
    def alive(self) -> bool:
        """Some server can still take mail."""
        with self.lock:
            return self._alive()

    def run(self, items: Iterator[Item]) -> None:
        """Send every mail ``items`` yields (rendering it as it is taken)."""
        if self.inline is None:
            for item in items:
                self.submit(item)
        else:
            self._run_inline(self.inline, items)

    def _run_inline(self, slot: Slot, items: Iterator[Item]) -> None:
        """One connection, no worker thread: the next mail is rendered while the server takes the last.

        With threads, the renderer and the one worker would share one
        interpreter lock and hand every mail over through it; here the
        rendering hides in the server's time to accept the data, and nothing
        waits for a thread switch.
        """
        following: list[Item | None] = []  # the next mail, once taken (None: no more)
        failure: list[BaseException] = []  # what taking it raised: raised once this mail is settled

        def take_next() -> None:
            if following or failure:
                return
            try:
                following.append(next(items, None))
            except BaseException as exc:  # noqa: BLE001 -- a signal or a broken template, raised below
                failure.append(exc)

        held: Item | None = None
        try:
            if self.line is None:
                try:
                    self.line = self._open_line(slot)
                except psycopg.Error as exc:
                    self._lost_database(slot, exc, None)
                    with self.lock:
                        slot.workers = 0
                    return
            take_next()
            while not failure:
                item = following.pop() if following else None
                if item is None:
                    return
                if item.server is not None and item.server != slot.server.name:
                    self._submit_pinned(item, item.server)  # not ours to send: it waits for its server
                    take_next()
                    continue
                if not self._alive():
                    self.outcomes.release(item.jobs, 0)
                    return
                held = item
                with self.lock:
                    self.inflight += 1
                # Only the line's own connection may fail here as a lost database
                # (the rows of this mail wait for their lease); the main
                # connection's errors, raised by rendering, are the run's.
                try:
                    going = self._deliver(self.line, item, take_next)
                except psycopg.Error as exc:
                    self._lost_database(slot, exc, held)
                    held = None
                    with self.lock:
                        slot.workers = 0
                    return
                held = None
                if not going:
                    return
                take_next()  # when the transaction stopped before the data
        except BaseException:
            if held is not None:
                # Stopped mid-transaction (a signal): its rows keep their lease and
                # go again when it ends; the connection is dropped, since a QUIT
                # in the middle of the data would only wait for the timeout.
                self._settled()
                if self.line is not None:
                    self.line.transport.drop()
            raise
        finally:
            for item in following:
                if item is not None:
                    self.outcomes.release(item.jobs, 0)
        raise failure[0]  # what rendering the next mail raised, now that this one is settled

    def submit(self, item: Item) -> None:
        """Hand a mail to the workers (blocks while they are busy: back-pressure)."""
        if item.server is not None:
            self._submit_pinned(item, item.server)
            return
        with self.lock:
            while len(self.shared) >= self.capacity and self._alive():
                self.room.wait()
            if self._alive():
                self.shared.append(item)
                self.inflight += 1
                self.work.notify()
                return
        self.outcomes.release(item.jobs, 0)

    def _submit_pinned(self, item: Item, server: str) -> None:
        with self.lock:
            slot = self.slots.get(server)
            if slot is not None and slot.usable and slot.workers:
                slot.pinned.append(item)
                self.inflight += 1
                self.work.notify_all()  # only this server's workers may take it
                return
        why = "not configured" if slot is None else (slot.down or slot.exhausted or "disabled")
        log.warning("notification %s waits: its universe's SMTP server %s is %s", item.jobs[0].id, server, why)
        self.outcomes.release(item.jobs, self._wait(slot))

    def finish(self) -> None:
        """Wait for the workers to send what was handed to them, then stop them."""
        while True:
            with self.lock:
                # Mail waiting for a server that can no longer send goes back,
                # due when that server may be back.
                dead = [(item, slot) for slot in self.slots.values() if not (slot.usable and slot.workers)
                        for item in slot.pinned]
                for slot in self.slots.values():
                    if not (slot.usable and slot.workers):
                        slot.pinned.clear()
                if not dead:
                    if self.inflight <= 0 or not self._alive():
                        break
                    self.room.wait()
                    continue
            for item, slot in dead:
                self.outcomes.release(item.jobs, self._wait(slot))
            self._settled(len(dead))
        with self.lock:
            self.stopping = True
            self.work.notify_all()
        for thread in self.threads:
            thread.join()
        if self.line is not None:
            self._close_line(self.line)
            self.line = None
        # Whatever no worker could take goes back for a later run.
        for item in [*self.shared, *(i for s in self.slots.values() for i in s.pinned)]:
            self.outcomes.release(item.jobs, self._wait(self.slots.get(item.server)) if item.server else 0.0)
        self.shared.clear()

    def all_down(self) -> bool:
        return bool(self.slots) and all(s.down for s in self.slots.values())

    def budget_exhausted(self) -> bool:
        return bool(self.slots) and all(s.exhausted or s.down for s in self.slots.values()) and \
            any(s.exhausted for s in self.slots.values())

    # --- a worker's side --------------------------------------------------

    def _settled(self, n: int = 1) -> None:
        with self.lock:
            self.inflight -= n
            if self.inflight <= 0:
                self.room.notify()

    def _next(self, slot: Slot) -> Item | None:
        """The next mail for this worker (its server's own first); None when the run ends."""
        with self.lock:
            while True:
                if slot.pinned:
                    return slot.pinned.popleft()
                if self.shared:
                    self.room.notify()
                    return self.shared.popleft()
                if self.stopping:
                    return None
                self.work.wait()

    def _set(self, slot: Slot, down: str = "", exhausted: str = "") -> None:
        """This server takes no more mail in this run: say so to whoever waits."""
        with self.lock:
            if down:
                slot.down = down
                self.problems.append(down)
            if exhausted:
                if not slot.exhausted:
                    log.info("SMTP server %s reached its budget of %s: the rest waits", slot.server.name, exhausted)
                slot.exhausted = exhausted
            self.room.notify()

    @staticmethod
    def _wait(slot: Slot | None) -> float:
        """How long mail that only this server may send should wait before it is due again."""
        if slot is None:
            return 300.0
        if slot.down:
            return float(slot.server.aside_seconds)
        return 60.0  # a budget: the next minute may have room

    def _give_back(self, conn: psycopg.Connection, item: Item, slot: Slot) -> None:
        """Another server may send it; else it goes back to the queue, due again later."""
        with self.lock:
            if item.server is None and self._alive():
                self.shared.appendleft(item)  # still in flight, with another worker
                self.work.notify()
                return
        self.outcomes.release(item.jobs, self._wait(slot) if item.server else 0, conn)
        self._settled()

    def _open_line(self, slot: Slot) -> Line:
        conn = self.outcomes.connect()
        return Line(slot, Transport([slot.server], db.connector(self.settings, "sender")), conn,
                    store.outgoing.OutcomeWriter(conn))

    def _close_line(self, line: Line) -> None:
        line.transport.close()
        try:
            line.writer.flush()
        except psycopg.Error:
            pass
        line.conn.close()

    def _deliver(self, line: Line, item: Item, while_waiting: Callable[[], object] | None = None) -> bool:
        """Send one mail on this line and record its outcome; False when the line takes no more mail.

        Whatever happens, the mail ends settled: recorded, given back to the
        database, or handed to another worker.
        """
        slot, conn, writer = line.slot, line.conn, line.writer
        # The previous mail's outcome may still be on its way to the database:
        # it is waited for only where this connection is needed before the
        # mail's DATA, so it normally overlaps MAIL FROM and RCPT TO.
        if time.monotonic() > item.deadline:
            writer.flush()
            self.outcomes.release(item.jobs, 0, conn)  # our lease is nearly over
            self._settled()
            return True
        if not slot.usable:
            writer.flush()
            self._give_back(conn, item, slot)
            return False
        if slot.server.budgeted:
            writer.flush()
            limit = store.outgoing.budget_take(conn, slot.server, len(item.out.recipients))
            if limit:
                self._set(slot, exhausted=limit)
                self._give_back(conn, item, slot)
                return False
        try:
            # The previous outcome is written while MAIL FROM and RCPT TO
            # go out, and waited for before DATA (see OutcomeWriter).
            result = line.transport.send(item.out, before_data=writer.flush, while_waiting=while_waiting)
        except ServerDown as exc:
            writer.flush()
            self._set(slot, down=str(exc))
            store.outgoing.set_aside(conn, slot.server.name, slot.server.aside_seconds, str(exc))
            log.info("SMTP server %s left aside for %d s: %s", slot.server.name, slot.server.aside_seconds, exc)
            self._give_back(conn, item, slot)
            return False
        self.outcomes.record(writer, item.jobs, item.out.message_id, result)
        self._settled()
        return True

    def _lost_database(self, slot: Slot, exc: psycopg.Error, held: Item | None) -> None:
        with self.lock:
            self.problems.append("database: %s" % exc)
            slot.down = slot.down or "database connection lost"
        if held is not None:
            # Its outcome could not be recorded (it may have been sent): its rows
            # stay claimed by this run until the lease ends, and are taken again
            # then.  Counted as settled, or finish() would wait for it forever
            # while another server's workers live.
            self._settled()

    def _work(self, slot: Slot) -> None:
        line: Line | None = None
        held: Item | None = None  # taken from the queue and not yet settled or handed on
        try:
            line = self._open_line(slot)
            while True:
                item = held = self._next(slot)
                if item is None:
                    return
                going = self._deliver(line, item)
                held = None
                if not going:
                    return
        except psycopg.Error as exc:
            self._lost_database(slot, exc, held)
        finally:
            with self.lock:
                slot.workers -= 1
                self.room.notify()
            if line is not None:
                self._close_line(line)

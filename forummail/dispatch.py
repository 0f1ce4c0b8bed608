"""Dispatch: rendered mail spread over the SMTP servers, several connections each.

The main thread claims and renders; worker threads send (the work waits on
the network, so threads suffice).  A worker belongs to one server, keeps
its connection for many mails, and records each outcome on a database
connection of its own the moment the server answers.

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
import queue as stdqueue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from . import store
from .compose import Outgoing
from .settings import Settings, SmtpServer
from .store.outgoing import Job
from .transport import Result, ServerDown, Transport

log = logging.getLogger(__name__)

_STOP = object()


@dataclass
class Item:
    """One mail to send and the rows it settles (several for a digest)."""

    jobs: list[Job]
    out: Outgoing
    deadline: float  # monotonic; past it our lease may have passed to another run
    server: str | None = None  # a universe's own server, else any


@dataclass
class Slot:
    """A configured server, as this run sees it."""

    server: SmtpServer
    pinned: stdqueue.Queue[Item] = field(default_factory=stdqueue.Queue)
    down: str = ""  # why it was set aside
    exhausted: str = ""  # which budget ran out
    workers: int = 0

    @property
    def usable(self) -> bool:
        return not self.down and not self.exhausted


class Dispatcher:
    """Workers for every connection slot of every enabled server."""

    def __init__(self, settings: Settings, connect: Callable[[], psycopg.Connection],
                 record: Callable[[store.outgoing.OutcomeWriter, Item, Result], None],
                 release: Callable[[psycopg.Connection | None, list[int], float], None],
                 aside: dict[str, str]) -> None:
        self.settings = settings
        self.connect = connect
        self.record = record
        self.release = release
        self.slots = {s.name: Slot(s) for s in settings.sending.smtp_servers if s.enabled}
        # Servers other runs found down stay aside; but when all are, try them
        # all: there is nothing to lose, and one may be back.
        if aside and not all(name in aside for name in self.slots):
            for name, why in aside.items():
                if name in self.slots:
                    self.slots[name].down = "left aside: %s" % why
        size = max(2, 2 * sum(s.server.max_connections for s in self.slots.values()))
        self.shared: stdqueue.Queue[object] = stdqueue.Queue(maxsize=size)
        self.lock = threading.Lock()
        # Mail handed to the workers and not yet settled (sent, failed, or
        # given back to the database): finish() waits for it to reach 0.
        self.inflight = 0
        self.settled = threading.Condition(self.lock)
        self.threads: list[threading.Thread] = []
        self.problems: list[str] = []
        self.stopping = threading.Event()

    # --- the main thread's side -------------------------------------------

    def start(self) -> None:
        for slot in self.slots.values():
            if not slot.usable:
                continue
            for i in range(slot.server.max_connections):
                thread = threading.Thread(target=self._work, args=(slot,), daemon=True,
                                          name="smtp-%s-%d" % (slot.server.name, i))
                slot.workers += 1
                self.threads.append(thread)
                thread.start()

    @property
    def alive(self) -> bool:
        """Some server can still take mail."""
        with self.lock:
            return any(s.usable and s.workers for s in self.slots.values())

    def submit(self, item: Item) -> None:
        """Hand a mail to the workers (blocks while they are busy: back-pressure)."""
        if item.server is not None:
            slot = self.slots.get(item.server)
            if slot is None or not slot.usable or not slot.workers:
                why = "not configured" if slot is None else (slot.down or slot.exhausted or "disabled")
                log.warning("notification %s waits: its universe's SMTP server %s is %s",
                            item.jobs[0].id, item.server, why)
                self.release(None, [j.id for j in item.jobs], self._wait(slot))
                return
            self._count(+1)
            slot.pinned.put(item)
            return
        while True:
            if not self.alive:
                self.release(None, [j.id for j in item.jobs], 0)
                return
            try:
                self.shared.put(item, timeout=0.2)
                self._count(+1)
                return
            except stdqueue.Full:
                continue

    def _settle_dead_slots(self) -> None:
        """Mail waiting for a server that can no longer send goes back, due when it may be back."""
        for slot in self.slots.values():
            if slot.usable and slot.workers:
                continue
            while True:
                try:
                    item = slot.pinned.get_nowait()
                except stdqueue.Empty:
                    break
                self.release(None, [j.id for j in item.jobs], self._wait(slot))
                self._count(-1)

    def _count(self, n: int) -> None:
        with self.settled:
            self.inflight += n
            if self.inflight <= 0:
                self.settled.notify_all()

    def finish(self) -> None:
        """Wait for the workers to send what was handed to them, then stop them."""
        while True:
            self._settle_dead_slots()
            with self.settled:
                if self.inflight <= 0 or not any(s.usable and s.workers for s in self.slots.values()):
                    break
                self.settled.wait(0.2)
        self.stopping.set()
        for _ in self.threads:
            self._put_stop()
        for thread in self.threads:
            thread.join()
        # Whatever no worker could take goes back for a later run.
        queues: list[stdqueue.Queue[Any]] = [self.shared, *(s.pinned for s in self.slots.values())]
        for q in queues:
            while True:
                try:
                    obj = q.get_nowait()
                except stdqueue.Empty:
                    break
                if isinstance(obj, Item):
                    wait = self._wait(self.slots.get(obj.server)) if obj.server else 0.0
                    self.release(None, [j.id for j in obj.jobs], wait)

    def _put_stop(self) -> None:
        while True:
            try:
                self.shared.put(_STOP, timeout=0.2)
                return
            except stdqueue.Full:
                if not any(t.is_alive() for t in self.threads):
                    return

    def all_down(self) -> bool:
        return bool(self.slots) and all(s.down for s in self.slots.values())

    def budget_exhausted(self) -> bool:
        return bool(self.slots) and all(s.exhausted or s.down for s in self.slots.values()) and \
            any(s.exhausted for s in self.slots.values())

    # --- a worker's side --------------------------------------------------

    def _next(self, slot: Slot) -> Item | None:
        while True:
            try:
                return slot.pinned.get_nowait()
            except stdqueue.Empty:
                pass
            try:
                obj = self.shared.get(timeout=0.05)
            except stdqueue.Empty:
                if self.stopping.is_set() and slot.pinned.empty():
                    return None
                continue
            if obj is _STOP:
                if slot.pinned.empty():
                    return None
                self.shared.put(_STOP)  # for another worker; finish our pinned mail first
                continue
            assert isinstance(obj, Item)
            return obj

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
        while item.server is None and self.alive:
            try:
                self.shared.put(item, timeout=0.2)
                return  # still in flight, with another worker
            except stdqueue.Full:
                continue
        self.release(conn, [j.id for j in item.jobs], self._wait(slot) if item.server else 0)
        self._count(-1)

    def _work(self, slot: Slot) -> None:
        transport = Transport([slot.server])
        conn: psycopg.Connection | None = None
        writer: store.outgoing.OutcomeWriter | None = None
        try:
            conn = self.connect()
            writer = store.outgoing.OutcomeWriter(conn)
            while True:
                item = self._next(slot)
                if item is None:
                    return
                writer.flush()  # the connection is ours again for what follows
                if time.monotonic() > item.deadline:
                    self.release(conn, [j.id for j in item.jobs], 0)  # our lease is nearly over
                    self._count(-1)
                    continue
                if not slot.usable:
                    self._give_back(conn, item, slot)
                    return
                if slot.server.budgeted:
                    limit = store.outgoing.budget_take(conn, slot.server, len(item.out.recipients))
                    if limit:
                        with self.lock:
                            if not slot.exhausted:
                                log.info("SMTP server %s reached its budget of %s: the rest waits",
                                         slot.server.name, limit)
                            slot.exhausted = limit
                        self._give_back(conn, item, slot)
                        return
                try:
                    # The previous outcome is written while MAIL FROM and RCPT TO
                    # go out, and waited for before DATA (see OutcomeWriter).
                    result = transport.send(item.out, before_data=writer.flush)
                except ServerDown as exc:
                    writer.flush()
                    with self.lock:
                        slot.down = str(exc)
                        self.problems.append(str(exc))
                    store.outgoing.set_aside(conn, slot.server.name, slot.server.aside_seconds, str(exc))
                    log.info("SMTP server %s left aside for %d s: %s", slot.server.name,
                             slot.server.aside_seconds, exc)
                    self._give_back(conn, item, slot)
                    return
                self.record(writer, item, result)
                self._count(-1)
        except psycopg.Error as exc:
            with self.lock:
                self.problems.append("database: %s" % exc)
                slot.down = slot.down or "database connection lost"
        finally:
            with self.lock:
                slot.workers -= 1
            transport.close()
            if writer is not None:
                try:
                    writer.flush()
                except psycopg.Error:
                    pass
            if conn is not None:
                conn.close()

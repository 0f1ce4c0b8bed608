"""Fault injectors: small TCP proxies on 127.0.0.1 that cut connections on purpose.

A :class:`Proxy` forwards bytes between a client and a real server (aiosmtpd,
Dovecot, PostgreSQL) and asks a per-connection *policy* what to do with
every chunk: forward it, forward a prefix and hang up, or hang up at once.
Everything is bounded: the proxy stops when :meth:`Proxy.stop` is called (the
fixtures do it), its threads are daemons, and every socket has a timeout.

The policies:

* :class:`SmtpDataCutter` hangs up in the middle of the message data
  (after the ``DATA`` command, before the final ``.``), so the server never
  gets the whole message: a real mid-DATA drop.
* :class:`Pop3Dropper` hangs up at chosen moments of a POP3 session
  (before or in the middle of the k-th ``RETR``, after the k-th ``DELE``,
  before or after ``QUIT``, in the middle of ``UIDL``...), one drop per
  session, from a schedule the test gives.
* :class:`CutAll` lets everything through until :meth:`Proxy.cut_all` kills
  the live connections (and optionally refuses new ones).
"""

from __future__ import annotations

import random
import socket
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from tests.servers import SmtpServer, _Handler, free_port

_CHUNK = 65536


class Policy:
    """Decides, chunk by chunk, how much of a connection's traffic goes through.

    ``from_client``/``from_server`` return the bytes to forward and whether
    to hang up after forwarding them.
    """

    def from_client(self, data: bytes) -> tuple[bytes, bool]:
        return data, False

    def from_server(self, data: bytes) -> tuple[bytes, bool]:
        return data, False


class CutAll(Policy):
    """Everything goes through; the proxy's ``cut_all`` does the damage."""


class _Link:
    def __init__(self, client: socket.socket, server: socket.socket, policy: Policy) -> None:
        self.client, self.server, self.policy = client, server, policy
        self.lock = threading.Lock()
        self.closed = False

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for sock in (self.client, self.server):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class Proxy:
    """A threaded TCP proxy from 127.0.0.1:``port`` to 127.0.0.1:``target``."""

    def __init__(self, target: int, policy_factory: type[Policy] | None = None,
                 policy: Policy | None = None, timeout: float = 120.0) -> None:
        self.target = target
        self.port = free_port()
        self.timeout = timeout
        self._factory = policy_factory
        self._policy = policy  # one shared policy object (it keeps state across connections)
        self.refuse = False
        self.connections = 0
        self.cuts = 0
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="proxy-%d" % self.port, daemon=True)

    def start(self) -> Proxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        self.cut_all()

    def cut_all(self) -> int:
        """Hang up every live connection; how many there were."""
        with self._lock:
            links, self._links = self._links, []
        live = [link for link in links if not link.closed]
        for link in live:
            link.close()
        return len(live)

    def _new_policy(self) -> Policy:
        if self._policy is not None:
            if isinstance(self._policy, SessionPolicy):
                return self._policy.session()
            return self._policy
        return (self._factory or Policy)()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refuse:
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            for sock in (client, server):
                sock.settimeout(self.timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(client, server, self._new_policy())
            with self._lock:
                self.connections += 1
                self._links = [x for x in self._links if not x.closed] + [link]
            for src, dst, upstream in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pump, args=(link, src, dst, upstream), daemon=True).start()

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        try:
            while not link.closed:
                data = src.recv(_CHUNK)
                if not data:
                    break
                with link.lock:
                    forward, cut = (link.policy.from_client(data) if upstream else link.policy.from_server(data))
                if forward:
                    dst.sendall(forward)
                if cut:
                    with self._lock:
                        self.cuts += 1
                    break
        except OSError:
            pass
        link.close()


class SessionPolicy(Policy):
    """A policy object that hands out one fresh per-connection policy per session."""

    def session(self) -> Policy:
        raise NotImplementedError


# --- SMTP: hang up in the middle of DATA -------------------------------------------------


@dataclass
class SmtpDataCutter(SessionPolicy):
    """Cut ``rate`` of the messages somewhere inside their data (never after the final dot)."""

    rate: float
    rng: random.Random
    drops: int = 0          # messages cut mid-DATA
    messages: int = 0       # DATA sections seen
    dropped_for: Counter[str] = field(default_factory=Counter)  # recipient -> messages to it cut
    lock: threading.Lock = field(default_factory=threading.Lock)

    def session(self) -> Policy:
        return _SmtpSession(self)


class _SmtpSession(Policy):
    def __init__(self, owner: SmtpDataCutter) -> None:
        self.owner = owner
        self.line = b""
        self.in_data = False
        self.seen = 0            # bytes of the current message's data forwarded
        self.tail = b""          # last bytes, to find the terminator across chunks
        self.cut_at: int | None = None
        self.recipients: list[str] = []

    def _start_data(self) -> None:
        with self.owner.lock:
            self.owner.messages += 1
            cut = self.owner.rng.random() < self.owner.rate
            # Anywhere from the first header byte to well inside a body.
            self.cut_at = self.owner.rng.randint(1, 3000) if cut else None
        self.in_data, self.seen, self.tail = True, 0, b"\r\n"

    def from_client(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        i = 0
        while i < len(data):
            if not self.in_data:
                j = data.find(b"\n", i)
                if j < 0:
                    self.line += data[i:]
                    out += data[i:]
                    break
                self.line += data[i:j + 1]
                out += data[i:j + 1]
                i = j + 1
                command = self.line.strip().decode("ascii", "replace")
                if command.upper() == "DATA":
                    self._start_data()
                elif command.upper().startswith(("MAIL FROM", "RSET")):
                    self.recipients = []
                elif command.upper().startswith("RCPT TO:"):
                    self.recipients.append(command[8:].strip().strip("<>").lower())
                self.line = b""
                continue
            # In the data: find the terminator CRLF.CRLF (RFC 5321 4.1.1.4).
            chunk = data[i:]
            window = self.tail + chunk
            end = window.find(b"\r\n.\r\n")
            stop = len(chunk) if end < 0 else end + 5 - len(self.tail)
            if self.cut_at is not None and self.seen + stop > self.cut_at and (
                    end < 0 or self.cut_at < self.seen + stop - 5):
                keep = max(0, self.cut_at - self.seen)
                out += chunk[:keep]
                with self.owner.lock:
                    self.owner.drops += 1
                    self.owner.dropped_for.update(self.recipients)
                return bytes(out), True
            out += chunk[:stop]
            self.seen += stop
            self.tail = window[-4:] if end < 0 else b""
            i += stop
            if end >= 0:
                self.in_data = False
                self.line = b""
        return bytes(out), False


# --- POP3: hang up at chosen moments -----------------------------------------------------

#: The moments a POP3 session can be cut at.
POP3_MOMENTS = ("login", "uidl", "before-retr", "mid-retr", "after-dele", "before-quit", "after-quit")


@dataclass
class Pop3Dropper(SessionPolicy):
    """Drops from a schedule of (moment, k): one per session, spent only when it fires.

    ``k`` counts RETR (or DELE) commands within the session: ("mid-retr", 3)
    hangs up in the middle of the answer to the session's third RETR.
    """

    schedule: deque[tuple[str, int]]
    fired: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def session(self) -> Policy:
        with self.lock:
            plan = self.schedule[0] if self.schedule else None
        return _Pop3Session(self, plan)

    def _fire(self, plan: tuple[str, int]) -> None:
        with self.lock:
            if self.schedule and self.schedule[0] == plan:
                self.schedule.popleft()
            self.fired.append(plan)


class _Pop3Session(Policy):
    def __init__(self, owner: Pop3Dropper, plan: tuple[str, int] | None) -> None:
        self.owner, self.plan = owner, plan
        self.buffer = b""
        self.counts = {"RETR": 0, "DELE": 0}
        self.cut_next_answer_after: int | None = None  # bytes of the server's next answer to let through
        self.armed_after_dele = False

    def from_client(self, data: bytes) -> tuple[bytes, bool]:
        if self.plan is None:
            return data, False
        moment, k = self.plan
        out = bytearray()
        self.buffer += data
        while b"\n" in self.buffer:
            line, _, self.buffer = self.buffer.partition(b"\n")
            command = line.strip().split(b" ")[0].upper().decode("ascii", "replace")
            if command in self.counts:
                self.counts[command] += 1
            if self.armed_after_dele:
                # The DELE was answered; hang up instead of the next command.
                self.owner._fire(self.plan)
                return bytes(out), True
            if (moment == "login" and command == "PASS") or (
                    moment == "before-retr" and command == "RETR" and self.counts["RETR"] == k) or (
                    moment == "before-quit" and command == "QUIT"):
                self.owner._fire(self.plan)
                return bytes(out), True
            if (moment == "mid-retr" and command == "RETR" and self.counts["RETR"] == k) or (
                    moment == "uidl" and command == "UIDL"):
                self.cut_next_answer_after = 40
            if moment == "after-quit" and command == "QUIT":
                self.cut_next_answer_after = 0
            if moment == "after-dele" and command == "DELE" and self.counts["DELE"] == k:
                self.armed_after_dele = True
            out += line + b"\n"
        return bytes(out), False

    def from_server(self, data: bytes) -> tuple[bytes, bool]:
        if self.cut_next_answer_after is None or self.plan is None:
            return data, False
        keep = self.cut_next_answer_after
        if keep >= len(data):
            self.cut_next_answer_after -= len(data)
            return data, False
        self.owner._fire(self.plan)
        return data[:keep], True


# --- SMTP: answers chosen per recipient ---------------------------------------------------


@dataclass
class RecipientFaults:
    """What the faulty SMTP server answers, per recipient (lower-case addresses).

    ``permanent``: 550 at RCPT, always.  ``temporary``: 451 at RCPT for the
    first N attempts (N = the value; a huge N means always).  ``data_4xx``:
    451 at the end of DATA for the first N transactions that reach it.
    The counters say what the server actually answered.
    """

    permanent: set[str] = field(default_factory=set)
    temporary: dict[str, int] = field(default_factory=dict)
    data_4xx: dict[str, int] = field(default_factory=dict)
    rcpt_4xx_sent: Counter[str] = field(default_factory=Counter)
    rcpt_5xx_sent: Counter[str] = field(default_factory=Counter)
    data_4xx_sent: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FaultyHandler(_Handler):
    """The tests' aiosmtpd handler, answering 4xx and 5xx per recipient as ``faults`` says."""

    def __init__(self, base: _Handler, faults: RecipientFaults) -> None:
        super().__init__(base.behaviour, base.received)
        self.faults = faults

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        addr = address.lower()
        f = self.faults
        with f.lock:
            if addr in f.permanent:
                f.rcpt_5xx_sent[addr] += 1
                return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % addr
            if f.rcpt_4xx_sent[addr] < f.temporary.get(addr, 0):
                f.rcpt_4xx_sent[addr] += 1
                return "451 4.2.0 <%s>: Recipient address rejected: greylisted, try later" % addr
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        f = self.faults
        with f.lock:
            for addr in (a.lower() for a in envelope.rcpt_tos):
                if f.data_4xx_sent[addr] < f.data_4xx.get(addr, 0):
                    f.data_4xx_sent[addr] += 1
                    return "451 4.3.0 Error: queue file write error, try again"
        return await super().handle_DATA(server, session, envelope)


def make_faulty(server: SmtpServer, faults: RecipientFaults) -> SmtpServer:
    """Give a test SMTP server (not started yet) the faulty handler."""
    server.controller.handler = FaultyHandler(server.controller.handler, faults)
    return server

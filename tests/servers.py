"""Real servers on 127.0.0.1 for the tests: PostgreSQL and SMTP.

PostgreSQL refuses to run as root, so as root the cluster is created and run
as the ``postgres`` user (``runuser``), in a temporary folder it owns.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bindir() -> Path:
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True).stdout.strip()
        if out and Path(out, "initdb").exists():
            return Path(out)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")
    return Path(candidates[-1]).parent


class PostgresServer:
    """A throw-away PostgreSQL cluster on a free port."""

    def __init__(self) -> None:
        self.bindir = _pg_bindir()
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="forummail-pg-"))
        self.data = self.base / "data"
        self.user = "postgres"
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError("%s failed: %s%s" % (args[0], result.stdout, result.stderr))

    def start(self) -> PostgresServer:
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
        os.chmod(self.base, 0o755)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust",
                  "--no-sync", "-E", "UTF8", "--locale=C")
        opts = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
                " -c max_connections=200" % (self.port, self.base))
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.base / "log"), "-w", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def conninfo(self, dbname: str = "postgres") -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "user": self.user, "dbname": dbname}


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class SmtpBehaviour:
    """What the test SMTP server answers: programmable per test."""

    rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply, e.g. "550 no such user"
    data: deque[str] = field(default_factory=deque)     # next DATA replies; "drop" hangs up
    mail_from: deque[str] = field(default_factory=deque)
    delay: float = 0.0


class _Handler:
    def __init__(self, behaviour: SmtpBehaviour, received: list[Received]) -> None:
        self.behaviour = behaviour
        self.received = received
        self.lock = threading.Lock()

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.behaviour.mail_from:
            return self.behaviour.mail_from.popleft()
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        rule = self.behaviour.rcpt.get(address.lower())
        if rule:
            return rule
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.behaviour.delay:
            await asyncio.sleep(self.behaviour.delay)
        if self.behaviour.data:
            reply = self.behaviour.data.popleft()
            if reply == "drop":
                server.transport.close()
                return "421 closing"
            if not reply.startswith("2"):
                return reply
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            n = len(self.received)
        return "250 2.0.0 Ok: queued as Q%06d" % n


class SmtpServer:
    """aiosmtpd on 127.0.0.1 keeping what it receives; optional AUTH."""

    def __init__(self, login: str = "", password: str = "") -> None:
        self.port = free_port()
        self.behaviour = SmtpBehaviour()
        self.received: list[Received] = []
        self.logins: list[str] = []
        kwargs: dict[str, Any] = {}
        if login:
            def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
                ok = isinstance(data, LoginPassword) and data.login.decode() == login \
                    and data.password.decode() == password
                if ok:
                    self.logins.append(login)
                return AuthResult(success=ok, handled=False)
            kwargs = {"authenticator": authenticator, "auth_require_tls": False, "auth_required": True}
        self.controller = Controller(_Handler(self.behaviour, self.received), hostname="127.0.0.1",
                                     port=self.port, **kwargs)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[Received]:
        return list(self.received)

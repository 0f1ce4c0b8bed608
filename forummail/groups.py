"""Sending processes: a run with much to send forks one per SMTP connection.

One Python process drives all its connections through one interpreter
lock: at four connections the renderer and four workers take turns on one
core's worth of interpreter, however many cores the machine has.  So when
one server takes all the mail, it allows several connections and the first
claim came back full, the run forks (up to ``OPTS['send_processes']``, by
default one per core): each process is a sender of its own,
with one connection and claims of its own, exactly as several cron runs on
one queue already are (``FOR UPDATE SKIP LOCKED`` and leases give every row
to one of them; budgets and servers set aside are counted in the database
for all).  The parent sends too, then adds up what everyone did.

A child opens its own database connections and never touches the parent's
(it leaves with ``os._exit``, so not even a finaliser closes them); a
SIGTERM to the parent is passed on, and every process gives back what it
claimed and did not send.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from .errors import EX_CONFIG, EX_TEMPFAIL, ConfigError, MailerError, TemporaryFailure
from .outcomes import Summary
from .settings import Settings
from .smtpauth import ServerDown

log = logging.getLogger(__name__)

# Past this, more processes only add database connections: one interpreter
# keeps up with a few connections of its own.
MAX_PROCESSES = 16


def planned(settings: Settings, claimed: int, allowed: bool) -> int:
    """How many processes should send (1: this one alone, with threads if it has several connections)."""
    servers = [s for s in settings.sending.smtp_servers if s.enabled]
    # Several servers stay in one process: their failover and the mail of a
    # universe pinned to one of them need every connection in one dispatcher.
    if not allowed or not hasattr(os, "fork") or len(servers) != 1:
        return 1
    if claimed < settings.sending.send_batch_size:
        return 1  # this batch is all there is: forking would cost more than it saves
    wanted = settings.sending.send_processes or automatic()
    return max(1, min(servers[0].max_connections, wanted, MAX_PROCESSES))


def automatic() -> int:
    """The cores this process may run on.

    Measured (bench/ANALYSIS.md): on 2 cores, four connections sent as
    four processes, as two of two connections and as four threads in one
    came out within the noise of each other, since the senders, the SMTP
    server and PostgreSQL share the two cores; with more cores, processes
    are not held to one interpreter lock.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def share(settings: Settings, index: int, count: int) -> Settings:
    """The settings of process ``index`` of ``count``: its part of the one server's connections."""
    sending = settings.sending
    servers = []
    for server in sending.smtp_servers:
        if server.enabled:
            part = server.max_connections // count + (1 if index < server.max_connections % count else 0)
            server = dataclasses.replace(server, max_connections=max(1, part))
        servers.append(server)
    return dataclasses.replace(settings, sending=dataclasses.replace(sending, smtp_servers=tuple(servers)))


@dataclass
class Child:
    pid: int
    fd: int  # the read end of the pipe its result comes through
    data: bytearray = dataclasses.field(default_factory=bytearray)
    result: dict[str, Any] | None = None


_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def fork(settings: Settings, count: int, work: Callable[[Settings], Summary], children: list[Child]) -> None:
    """Start processes 1 to ``count - 1`` into ``children``, each running ``work`` with its share.

    The caller is process 0.  ``children`` is the caller's, so that a
    signal in the middle still leaves it every child to stop and collect.
    """
    for index in range(1, count):
        try:
            read, write = os.pipe()
        except OSError as exc:
            log.warning("could not start another sending process: %s", exc)
            return
        # Signals wait until the child is inside its own try (and the parent
        # has noted the child): a child must never unwind into the parent's
        # stack, where the parent's database connection is.
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            pid = os.fork()
        except OSError as exc:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
            os.close(read)
            os.close(write)
            # Out of processes or memory: those started send, and so does this one.
            log.warning("could not start another sending process: %s", exc)
            return
        if pid == 0:
            try:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
                os.close(read)
                for child in children:
                    os.close(child.fd)
                _child(write, share(settings, index, count), work)
            finally:
                os._exit(1)
        os.close(write)
        children.append(Child(pid, read))
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


def _child(write: int, settings: Settings, work: Callable[[Settings], Summary]) -> NoReturn:
    result: dict[str, Any] = {"error": "internal error in a sending process", "exit_code": 1, "kind": "internal"}
    code = 1
    try:
        try:
            summary: Summary | None = work(settings)
            result = {}
            code = 0
        except MailerError as exc:
            summary = getattr(exc, "summary", None)
            result = {"error": str(exc), "exit_code": exc.exit_code, "kind": type(exc).__name__}
        except KeyboardInterrupt as exc:
            summary = getattr(exc, "summary", None)
            result = {"interrupted": True}
        except BaseException as exc:  # noqa: BLE001 -- said by the parent, which alone may say it on stderr
            summary = getattr(exc, "summary", None)
            result = {"error": "internal error in a sending process:\n" + traceback.format_exc(), "exit_code": 1,
                      "kind": "internal"}
        if summary is not None:
            result["summary"] = dataclasses.asdict(summary)
        data = json.dumps(result).encode()
        while data:
            data = data[os.write(write, data):]
    finally:
        os._exit(code)


def stop(children: list[Child]) -> None:
    """Pass a SIGTERM on: each child gives back what it claimed and ends."""
    for child in children:
        if child.result is None:
            try:
                os.kill(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def collect(children: list[Child]) -> list[dict[str, Any]]:
    """Wait for every child; what each did (or the error it ended with).

    A signal while waiting is passed on to the children, which are still
    waited for; then it is raised.
    """
    interrupted: KeyboardInterrupt | None = None
    for child in children:
        while child.result is None:
            try:
                child.result = _wait(child)
            except KeyboardInterrupt as exc:
                interrupted = exc
                stop(children)
    if interrupted is not None:
        raise interrupted
    return [child.result for child in children if child.result is not None]


def _wait(child: Child) -> dict[str, Any]:
    if child.fd >= 0:  # (a signal may have stopped an earlier call after the pipe's end)
        while chunk := os.read(child.fd, 65536):
            child.data += chunk
        os.close(child.fd)
        child.fd = -1
    _, status = os.waitpid(child.pid, 0)
    try:
        result: dict[str, Any] = json.loads(bytes(child.data))
        return result
    except ValueError:
        # Killed, or out of memory: its claimed rows keep their lease and
        # are taken again when it ends, as for a run that died.
        return {"error": "sending process %d ended without a result (%s); what it had claimed is sent again "
                         "when its lease ends" % (child.pid, _status(status)),
                "exit_code": EX_TEMPFAIL, "kind": "died"}


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return "killed by signal %d" % os.WTERMSIG(status)
    return "exit %d" % os.waitstatus_to_exitcode(status)


def add(summary: Summary, results: list[dict[str, Any]]) -> None:
    """Add the children's counts to the run's summary."""
    for result in results:
        counts = result.get("summary")
        if counts:
            summary.sent += counts["sent"]
            summary.retry += counts["retry"]
            summary.failed += counts["failed"]
            summary.cancelled += counts["cancelled"]
            summary.failures.extend(counts["failures"])


def failure(results: list[dict[str, Any]]) -> MailerError | None:
    """The error the run ends with for what went wrong in the children (the gravest first)."""
    errors = [r for r in results if r.get("error")]
    if not errors:
        if any(r.get("interrupted") for r in results):
            # Someone signalled a child alone: the rest of its share waits for the next run.
            return TemporaryFailure("a sending process was interrupted; unfinished work is left for the next run")
        return None
    gravest = max(errors, key=lambda r: {EX_TEMPFAIL: 0, EX_CONFIG: 1}.get(r["exit_code"], 2))
    text = "; ".join(dict.fromkeys(r["error"] for r in errors))
    if gravest["exit_code"] == EX_TEMPFAIL:
        return ServerDown(text) if gravest["kind"] == "ServerDown" else TemporaryFailure(text)
    if gravest["exit_code"] == EX_CONFIG:
        return ConfigError(text)
    return MailerError(text)

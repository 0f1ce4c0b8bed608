"""An SMTP server on 127.0.0.1 that keeps every mail it accepts, in memory."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller

from .common import free_port, say


@dataclass(frozen=True)
class Received:
    """One accepted mail: the envelope and the bytes as they came."""

    sender: str
    recipients: list[str]
    data: bytes


class _Keeper:
    """aiosmtpd handler: accept everything, keep it."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()  # the server runs in its own thread

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            number = len(self.received)
        return "250 2.0.0 Ok: kept as mail %d" % number


class MailCatcher:
    def __init__(self) -> None:
        self.port = free_port()
        self._keeper = _Keeper()
        self._controller = Controller(self._keeper, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def received(self) -> list[Received]:
        with self._keeper.lock:
            return list(self._keeper.received)


def start_smtp() -> MailCatcher:
    """Start the server; the caller must call ``stop()`` (in a finally)."""
    catcher = MailCatcher()
    say("starting an SMTP server on 127.0.0.1:%d that keeps what it receives ..." % catcher.port)
    catcher.start()
    return catcher

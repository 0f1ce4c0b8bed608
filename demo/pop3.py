"""A POP3 server on 127.0.0.1 serving one Maildir, for the reply half of the demo.

Twisted's ``twisted.mail.pop3`` protocol with its stock ``MaildirMailbox``,
run in-process: the reactor in a daemon thread, stopped from ours.  One user,
a random password (for the .env only, never printed), plain POP3 without
STLS on 127.0.0.1.

The stock ``MaildirMailbox`` does not work on Python 3 as shipped (tried
with Twisted 26.10.0): given a ``str`` path it fails at login ("Can't mix
strings and bytes in path components"); given ``bytes``, RETR opens the
message as text and the transfer dies on str/bytes (the client waits until
it times out), and DELE fails joining ``".Trash"`` to the bytes path.  It
also deletes at DELE, not at QUIT: a client that hangs up without QUIT
(ours, when something fails) must find every message still there (RFC 1939
section 6).  ``_Maildir`` fixes these; ``_Pop3`` dot-stuffs a line that
starts a transfer chunk, which the stock ``transformChunk`` misses.
"""

from __future__ import annotations

import os
import secrets
import threading
from hashlib import md5
from pathlib import Path
from typing import IO, Any, cast

from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.portal import IRealm, Portal
from twisted.internet import reactor as _reactor
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.mail import maildir, pop3
from zope.interface import implementer

from .common import DemoError, say

LOGIN = "replies"

# Twisted declares its interfaces with zope.interface, which mypy cannot follow
# without the mypy-zope plugin: the reactor, realm and checker are untyped here.
reactor: Any = _reactor


class _Maildir(maildir.MaildirMailbox):
    """The stock Maildir mailbox, working on Python 3, deleting at QUIT only.

    The messages are listed once, at login (as the stock class does); mail
    delivered during a session is seen by the next one.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(os.fsencode(path))  # bytes throughout: the stock code joins bytes names
        self._marked: set[int] = set()

    def _path(self, i: int) -> bytes:
        """The file of message ``i`` (0-based); ValueError when there is none (RFC: "no such message")."""
        if not 0 <= i < len(self.list) or i in self._marked:
            raise ValueError("no such message")
        path = self.list[i]
        assert isinstance(path, bytes)
        return path

    def listMessages(self, i: int | None = None) -> Any:  # the stock overloads, one signature
        if i is None:
            return [0 if n in self._marked else os.path.getsize(p) for n, p in enumerate(self.list)]
        return os.path.getsize(self._path(i))

    def getMessage(self, i: int) -> IO[bytes]:  # type: ignore[override]  # the stock one says IO[str]
        return open(self._path(i), "rb")  # stock: text mode, and the protocol writes bytes

    def getUidl(self, i: int) -> bytes:
        # As the stock class: a hash of the file name, which stays the same until deleted.
        return md5(os.path.basename(self._path(i))).hexdigest().encode("ascii")

    def deleteMessage(self, i: int) -> None:
        self._path(i)
        self._marked.add(i)  # stock: moved at once, whether the session ends with QUIT or not

    def undeleteMessages(self) -> None:
        self._marked.clear()

    def sync(self) -> None:
        """QUIT: now the marked messages go (stock: nothing, they went at DELE)."""
        for i in sorted(self._marked):
            path = self.list[i]
            assert isinstance(path, bytes)
            os.remove(path)
            self.list[i] = 0
        self._marked.clear()


class _Pop3(pop3.POP3):
    """The stock protocol, with dot-stuffing that survives chunk boundaries."""

    _line_start = True

    def _sendMessageContent(self, i: Any, fpWrapper: Any, successResponse: Any) -> Any:
        self._line_start = True  # one message at a time: the protocol queues commands meanwhile
        return super()._sendMessageContent(i, fpWrapper, successResponse)

    def transformChunk(self, chunk: bytes) -> bytes:
        # Stock: "\n." within the chunk only, so a line starting a chunk (or the
        # message) that begins with "." would end the transfer early.
        if self._line_start and chunk.startswith(b"."):
            chunk = b"." + chunk
        if chunk:
            self._line_start = chunk.endswith(b"\n")
        return bytes(super().transformChunk(chunk))


@implementer(IRealm)
class _Realm:
    def __init__(self, path: Path) -> None:
        self.path = path

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        if pop3.IMailbox not in interfaces:
            raise NotImplementedError("this realm serves POP3 mailboxes only")
        return pop3.IMailbox, _Maildir(self.path), lambda: None  # logout without QUIT: nothing synced


class _Factory(ServerFactory):
    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    def buildProtocol(self, addr: Any) -> Protocol:
        protocol: Any = _Pop3()
        protocol.portal = self.portal
        protocol.factory = self
        return protocol


class Pop3Server:
    """A handle on the running server: ``port``, ``login``, ``password``, ``deliver``, ``count``, ``stop``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.login = LOGIN
        self.password = secrets.token_urlsafe(18)
        self.port = 0
        self._thread: threading.Thread | None = None
        self._delivered = 0

    def __repr__(self) -> str:  # never the password
        return "<Pop3Server 127.0.0.1:%d %s>" % (self.port, self.path)

    def start(self) -> None:
        maildir.initializeMaildir(os.fsencode(self.path))
        checker = InMemoryUsernamePasswordDatabaseDontUse(**{self.login: self.password.encode()})
        realm: Any = _Realm(self.path)
        portal = Portal(realm, [cast(Any, checker)])
        # Port 0: the system picks a free port, no window for another process to take it.
        listening = reactor.listenTCP(0, _Factory(portal), interface="127.0.0.1")
        self.port = int(listening.getHost().port)
        self._thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False},
                                        name="pop3-reactor", daemon=True)
        self._thread.start()

    def deliver(self, data: bytes) -> None:
        """Put one mail in the Maildir as a mail server would: written in tmp/, renamed into new/."""
        # Maildir files have bare LF line ends; the server sends CRLF.
        data = data.replace(b"\r\n", b"\n")
        self._delivered += 1
        name = "%d.demo%d.localhost" % (os.getpid(), self._delivered)
        tmp = self.path / "tmp" / name
        tmp.write_bytes(data)
        os.rename(tmp, self.path / "new" / name)

    def count(self) -> int:
        """Messages in the mailbox (new/ and cur/)."""
        return sum(len(os.listdir(self.path / sub)) for sub in ("new", "cur"))

    def stop(self) -> None:
        """Stop the reactor and wait for its thread; safe to call twice."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        reactor.callFromThread(reactor.stop)
        thread.join(10)


def start_pop3(work: Path) -> Pop3Server:
    """Start the server on a Maildir under ``work``; the caller must call ``stop()`` (in a finally)."""
    server = Pop3Server(work / "maildir")
    try:
        server.start()
    except Exception as exc:
        server.stop()
        raise DemoError("the POP3 server did not start: %s" % exc) from None
    say("starting a POP3 server on 127.0.0.1:%d (Twisted, plain POP3 without STLS) for the Maildir %s,"
        " one user %r ..." % (server.port, server.path, server.login))
    return server

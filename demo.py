#!/usr/bin/env python3
"""See the forum mailer work, on this machine, with nothing installed but Python.

    python3 demo.py

Creates .venv (first run: installs requirements-demo.txt), starts a
throw-away PostgreSQL and an SMTP server that keeps what it receives, writes
a cron_conf.py for them, runs manage.py init-db, makes a small forum, posts
a message, runs send_notifications.py, and shows the mail that arrived.
Everything it started is stopped and its temporary files removed, whatever
happens.  Exit code 0: the notifications went out as they should.

FORUMMAIL_DEMO_NO_SETUP=1 skips .venv: the current interpreter must have the
packages of requirements-demo.txt (or Debian's postgresql for the server).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from demo.common import DemoError, say
from demo.venv import ensure_environment

MESSAGE = """\
The new render nodes arrived this morning.

Bob: can you rack them on Thursday?
Cat: please check the cooling plan before we switch them on."""


def _sigterm(signum: int, frame: FrameType | None) -> None:
    # Like Ctrl-C, so that every cleanup below runs.
    raise KeyboardInterrupt


def make_workdir() -> Path:
    # As root the server runs as another user, who must reach its folder:
    # /tmp, not a TMPDIR that may be private to root.
    parent = "/tmp" if os.geteuid() == 0 and os.path.isdir("/tmp") else None
    return Path(tempfile.mkdtemp(prefix="forummail-demo-", dir=parent))


def run_demo(stack: ExitStack) -> None:
    """The story; every server started is registered on ``stack`` to be stopped."""
    # Imported here: these need the packages that ensure_environment() installs.
    from demo import forum
    from demo.postgres import start_postgres
    from demo.smtp import start_smtp

    work = make_workdir()
    stack.callback(shutil.rmtree, work, ignore_errors=True)
    pg = start_postgres(work)
    stack.callback(pg.stop)
    smtp = start_smtp()
    stack.callback(smtp.stop)

    forum.create_database(pg)
    conf = forum.write_conf(work, pg, smtp.port)
    forum.init_db(conf)
    with forum.connect(pg) as conn:
        board = forum.make_forum(conn)
        queued = forum.post_message(conn, board, "Ann", MESSAGE)
        forum.run_sender(conf)
        statuses = forum.show_queue(conn)
    received = smtp.received
    forum.show_mail(received)
    check(queued, statuses, [r for mail in received for r in mail.recipients])
    # Later: the reply half (start a POP3 server, put a reply in it, run
    # fetch_replies.py, show the new forum message) goes here.


def check(queued: list[str], statuses: list[str], delivered: list[str]) -> None:
    """Fail the demo (non-zero exit) unless every queued notification arrived."""
    if not queued:
        raise DemoError("posting the message queued no notification")
    if any(s != "sent" for s in statuses):
        raise DemoError("not every notification was sent: statuses %s" % ", ".join(statuses))
    if sorted(delivered) != sorted(queued):
        raise DemoError("the SMTP server received mail for %s, expected %s" % (delivered, queued))


def main() -> int:
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        ensure_environment()
        with ExitStack() as stack:
            try:
                run_demo(stack)
            finally:
                # A second Ctrl-C must not cut the cleanup short.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                say("stopping PostgreSQL and the SMTP server, removing temporary files ...")
    except DemoError as exc:
        print("demo: FAILED: %s" % exc, file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted; everything it started is stopped", file=sys.stderr, flush=True)
        return 130
    say("done: Ann's message reached Bob and Cat by mail, each with a Reply-To that lets them "
        "answer from their mailbox.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

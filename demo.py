#!/usr/bin/env python3
"""See the forum mailer work, on this machine, with nothing installed but Python.

    python3 demo.py

Creates .venv (first run: installs requirements-demo.txt), starts a
throw-away PostgreSQL, an SMTP server that keeps what it receives and a POP3
server on a Maildir (the reply mailbox), writes a cron_conf.py and .env for
them, runs manage.py init-db, makes a small forum, posts Ann's message, runs
send_notifications.py and shows the mail that arrived.  Then Bob answers his
notification as Gmail would (new text on top, the original quoted below);
his reply lands in the POP3 mailbox, fetch_replies.py turns it into a forum
message (only his new text), and a second send_notifications.py run tells
Ann and Cat, in the same thread.  Everything it started is stopped and its
temporary files removed, whatever happens.  Exit code 0: the notifications
went out, Bob's text was posted exactly, and the mailbox was emptied.

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
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from demo.common import DemoError, say
from demo.venv import ensure_environment

if TYPE_CHECKING:
    from demo.forum import Posted

MESSAGE = """\
The new render nodes arrived this morning.

Bob: can you rack them on Thursday?
Cat: please check the cooling plan before we switch them on."""

# What Bob types above the quote in his mail client; exactly this must be posted.
REPLY = """\
Yes, I will rack them on Thursday morning.
Cat, please send me the cooling plan by Wednesday.

Bob"""


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
    from demo.pop3 import start_pop3
    from demo.postgres import start_postgres
    from demo.reply import gmail_reply
    from demo.smtp import start_smtp

    work = make_workdir()
    stack.callback(shutil.rmtree, work, ignore_errors=True)
    pg = start_postgres(work)
    stack.callback(pg.stop)
    smtp = start_smtp()
    stack.callback(smtp.stop)
    pop = start_pop3(work)
    stack.callback(pop.stop)

    forum.create_database(pg)
    conf = forum.write_conf(work, pg, smtp.port, pop)
    forum.init_db(conf)
    with forum.connect(pg) as conn:
        board = forum.make_forum(conn)
        queued = forum.post_message(conn, board, "Ann", MESSAGE)
        forum.run_sender(conf)
        statuses = forum.show_queue(conn)
        received = smtp.received
        forum.show_mail(received)
        check_sent(queued, statuses, [r for mail in received for r in mail.recipients])

        # Bob answers from his mailbox; his provider delivers the reply to ours.
        _, bob_name, bob_email = board.users["Bob"]
        notification = forum.notification_to(received, bob_email)
        reply = gmail_reply(notification, "%s <%s>" % (bob_name, bob_email), REPLY)
        pop.deliver(reply)
        say("%s answers from Gmail (to the Reply-To of his notification); the reply lands in the POP3"
            " mailbox, which now holds %d message(s):" % (bob_name, pop.count()))
        forum.show_reply(reply)
        forum.run_fetcher(conf)
        left = pop.count()
        say("the POP3 mailbox now holds %d message(s)" % left)
        posted = forum.show_messages(conn)
        inbound = forum.show_inbound(conn)
        requeued = forum.pending(conn)
        say("the trigger queued %d notification(s) of %s's message: %s (not the author)"
            % (len(requeued), bob_name, ", ".join(requeued)))
        forum.run_sender(conf)
        all_statuses = forum.show_queue(conn)
    answers = smtp.received[len(received):]
    forum.show_mail(answers, "the SMTP server received %d more mail(s):")
    check(Outcome(
        posted=posted, inbound=inbound, left_in_mailbox=left, requeued=requeued, statuses=all_statuses,
        delivered=[r for mail in answers for r in mail.recipients],
        references=[str(forum.message_from(mail)["References"]) for mail in answers],
        thread=str(notification["References"]),
    ))


def check_sent(queued: list[str], statuses: list[str], delivered: list[str]) -> None:
    """Fail the demo (non-zero exit) unless every queued notification arrived."""
    if not queued:
        raise DemoError("posting the message queued no notification")
    if any(s != "sent" for s in statuses):
        raise DemoError("not every notification was sent: statuses %s" % ", ".join(statuses))
    if sorted(delivered) != sorted(queued):
        raise DemoError("the SMTP server received mail for %s, expected %s" % (delivered, queued))


@dataclass(frozen=True)
class Outcome:
    """What the reply half left behind."""

    posted: list[Posted]  # the forum's messages, oldest first
    inbound: list[str]  # statuses in inbound_emails
    left_in_mailbox: int
    requeued: list[str]  # whom Bob's message was queued for
    statuses: list[str]  # every notification, after the second run
    delivered: list[str]  # recipients of the second run's mail
    references: list[str]  # References of each mail of the second run
    thread: str  # References of Bob's notification


def check(outcome: Outcome) -> None:
    """Fail the demo (non-zero exit) unless Bob's reply went all the way round."""
    o = outcome
    if len(o.posted) != 2 or o.posted[-1].author != "Bob Builder":
        raise DemoError("expected Ann's message and Bob's reply in the forum, found %s"
                        % [(p.author, p.body) for p in o.posted])
    if o.posted[-1].body != REPLY:
        raise DemoError("the posted text is not what Bob wrote: %r, expected %r" % (o.posted[-1].body, REPLY))
    if o.inbound != ["posted"]:
        raise DemoError("inbound_emails says %s, expected one 'posted'" % o.inbound)
    if o.left_in_mailbox:
        raise DemoError("%d message(s) left in the POP3 mailbox after fetch_replies.py" % o.left_in_mailbox)
    if sorted(o.requeued) != ["ann@example.com", "cat@example.com"]:
        raise DemoError("Bob's message was queued for %s, expected Ann and Cat" % o.requeued)
    check_sent(o.requeued, o.statuses, o.delivered)
    if any(ref != o.thread for ref in o.references):
        raise DemoError("the notifications of Bob's reply are not in the thread %s: %s" % (o.thread, o.references))


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
                say("stopping PostgreSQL, the SMTP and the POP3 server, removing temporary files ...")
    except DemoError as exc:
        print("demo: FAILED: %s" % exc, file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted; everything it started is stopped", file=sys.stderr, flush=True)
        return 130
    say("done: Ann's message reached Bob and Cat by mail; Bob answered from his mailbox, "
        "fetch_replies.py posted his words (not the quote) to the forum, and Ann and Cat got them by mail "
        "in the same thread.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

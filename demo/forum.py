"""The demo's story: settings, the schema, a small forum, a message, the mailer's runs, a reply."""

from __future__ import annotations

import os
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import psycopg

from .common import DemoError, run_script, say, show
from .pop3 import Pop3Server
from .postgres import DB_NAME, Postgres
from .smtp import Received

SCHEMA = "memoria"
MAIL_FROM = "Forum <noreply@example.com>"
REPLIER = "Forum reply <reply@example.com>"
HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "Reply-To",
           "Auto-Submitted")

# Written the way an administrator fills in the shipped cron_conf.py.
CONF_TEMPLATE = """\
#
# Settings of the forum mailer, written by demo.py for one demo run.
# The POP3 password is in the .env beside this file, as the shipped
# cron_conf.py recommends; the reply-signing secret was made by init-db and
# lives in the database.
#

# --- Outgoing mail -------------------------------------------------------------
MAIL_FROM  = {mail_from!r}  # the acting user's name replaces "Forum"
MAIL_SMTP  = "127.0.0.1"    # the demo's SMTP server (its port is in OPTS)
MAIL_ADMIN = "admin@example.com"
MAIL_LOGIN = ""             # the demo's server needs no login
MAIL_USE_SSL = False
DEBUG = False

# --- Database ------------------------------------------------------------------
DB_HOST = "127.0.0.1"       # the demo's PostgreSQL
DB_PORT = {db_port}
DB_USER = {db_user!r}
DB_PSWD = ""                # trust authentication on 127.0.0.1: no password
DB_NAME = {db_name!r}
DB_SCHEMA = {db_schema!r}

OPTS = {{
	'smtp_port' : {smtp_port}
	, 'smtp_timeout' : 10
	, 'mail_log' : {mail_log!r}

	# Replies by email: notifications carry a Reply-To with a signed token;
	# fetch_replies.py collects the replies from this POP3 mailbox
	, 'replier_from_addr' : {replier!r}
	, 'replier_pop_addr' : '127.0.0.1:{pop_port}'
	, 'replier_pop_ssl' : False       # the demo's server, on 127.0.0.1 only: plain POP3
	, 'replier_pop_login' : {pop_login!r}
	, 'replier_pop_timeout' : 10
}}
"""


def write_conf(work: Path, pg: Postgres, smtp_port: int, pop: Pop3Server) -> Path:
    """Write cron_conf.py and its .env (the POP3 password, never printed).

    No REPLY_TOKEN_SECRET: as on a new installation, init-db makes the
    reply-signing secret and keeps it in the database.
    """
    conf = work / "cron_conf.py"
    conf.write_text(CONF_TEMPLATE.format(
        mail_from=MAIL_FROM, db_port=pg.port, db_user=pg.conninfo()["user"], db_name=DB_NAME,
        db_schema=SCHEMA, smtp_port=smtp_port, mail_log=str(work / "mail.log"), replier=REPLIER,
        pop_port=pop.port, pop_login=pop.login,
    ))
    # 0600 from the start, as the manual asks of .env files.
    fd = os.open(work / ".env", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as env:
        env.write("REPLIER_POP_PSSWD=%s\n" % pop.password)
    say("settings written to %s (the POP3 password is in the .env beside it)" % conf)
    return conf


def create_database(pg: Postgres) -> None:
    with psycopg.connect(**pg.conninfo(), autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute("CREATE DATABASE %s" % DB_NAME)


def init_db(conf: Path) -> None:
    run_script("manage.py", conf, "init-db")


def connect(pg: Postgres) -> psycopg.Connection:
    """What the forum application itself would use (search_path on our schema)."""
    return psycopg.connect(**pg.conninfo(DB_NAME), autocommit=True,  # type: ignore[arg-type]
                           options="-c search_path=%s" % SCHEMA)


@dataclass(frozen=True)
class Forum:
    universe: int
    task: int
    users: dict[str, tuple[int, str, str]]  # first name -> (id, full name, email)


def _insert(conn: psycopg.Connection, sql: str, params: tuple[object, ...]) -> int:
    row = conn.execute(sql, params).fetchone()
    if row is None:
        raise DemoError("INSERT returned no id: " + sql)
    return int(row[0])


def make_forum(conn: psycopg.Connection) -> Forum:
    """A universe that allows replies by email, three users, one task they all follow."""
    universe = _insert(conn, "INSERT INTO universes (name, allow_email_reply) VALUES (%s, true) RETURNING id",
                       ("Studio",))
    users: dict[str, tuple[int, str, str]] = {}
    for name, email in (("Ann Author", "ann@example.com"), ("Bob Builder", "bob@example.com"),
                        ("Cat Critic", "cat@example.com")):
        user = _insert(conn, "INSERT INTO users (universe_id, name, email) VALUES (%s, %s, %s) RETURNING id",
                       (universe, name, email))
        users[name.split()[0]] = (user, name, email)
    task = _insert(conn, "INSERT INTO tasks (universe_id, name) VALUES (%s, %s) RETURNING id",
                   (universe, "Render farm upgrade"))
    for user, _, _ in users.values():
        conn.execute("INSERT INTO task_followers (task_id, user_id) VALUES (%s, %s)", (task, user))
    say("forum created: universe 'Studio' (replies by email allowed), task #%d 'Render farm upgrade'"
        " followed by %s" % (task, ", ".join("%s <%s>" % (n, e) for _, n, e in users.values())))
    return Forum(universe, task, users)


def post_message(conn: psycopg.Connection, forum: Forum, author: str, body: str) -> list[str]:
    """Post as the forum does (a plain INSERT); return whom the trigger queued mail for."""
    author_id, author_name, _ = forum.users[author]
    message = _insert(conn, "INSERT INTO messages (task_id, author_id, body) VALUES (%s, %s, %s) RETURNING id",
                      (forum.task, author_id, body))
    rows = conn.execute("SELECT recipient FROM notifications WHERE message_id = %s ORDER BY id",
                        (message,)).fetchall()
    queued = [str(r[0]) for r in rows]
    say("%s posted message #%d; the database trigger queued %d notification(s): %s (not the author)"
        % (author_name, message, len(queued), ", ".join(queued)))
    return queued


def run_sender(conf: Path) -> str:
    """send_notifications.py as cron runs it, with -v for a summary."""
    return run_script("send_notifications.py", conf, "-v")


def show_queue(conn: psycopg.Connection) -> list[str]:
    """Print the queue rows; return their statuses."""
    rows = conn.execute(
        "SELECT id, kind, recipient, status, attempts, coalesce(last_error, '')"
        " FROM %s.notifications ORDER BY id" % SCHEMA).fetchall()
    say("the queue (SELECT id, kind, recipient, status, attempts, last_error FROM %s.notifications):" % SCHEMA)
    _table(("id", "kind", "recipient", "status", "attempts", "last_error"), rows)
    return [str(r[3]) for r in rows]


def _table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    table = [header] + [tuple("" if v is None else str(v) for v in row) for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    show("\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in table))


def show_mail(received: list[Received], what: str = "the SMTP server received %d mail(s):") -> None:
    """Print each mail the SMTP server kept: envelope, key headers, the text part."""
    say(what % len(received))
    for number, mail in enumerate(received, 1):
        msg = message_from(mail)
        print(flush=True)
        show("--- mail %d of %d: envelope from <%s> to %s" % (
            number, len(received), mail.sender, ", ".join("<%s>" % r for r in mail.recipients)))
        show("\n".join("%s: %s" % (h, msg[h]) for h in HEADERS if msg[h] is not None))
        show("(text part)")
        show(_text_part(msg), "    > ")
    print(flush=True)


def _text_part(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    if part is None or not isinstance(part, EmailMessage):
        return "(no text part)"
    return str(part.get_content())


def notification_to(received: list[Received], address: str) -> EmailMessage:
    """The notification the SMTP server received for ``address`` (what lands in that person's inbox)."""
    for mail in received:
        if address in mail.recipients:
            return message_from(mail)
    raise DemoError("no notification was sent to %s" % address)


def show_reply(raw: bytes) -> None:
    """Print the reply as it sits in the mailbox: key headers, its parts, the text part."""
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    names = ("From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References")
    show("\n".join("%s: %s" % (h, str(msg[h]).strip()) for h in names if msg[h] is not None))
    show("(%s: %s)" % (msg.get_content_type(), ", ".join(p.get_content_type() for p in msg.iter_parts())))
    show("(text part; the lines starting with '>' are Gmail's quote of the notification)")
    show(_text_part(msg), "    | ")
    print(flush=True)


def run_fetcher(conf: Path) -> str:
    """fetch_replies.py as cron runs it, with -v for a summary."""
    return run_script("fetch_replies.py", conf, "-v")


@dataclass(frozen=True)
class Posted:
    id: int
    author: str
    task: str
    body: str


def show_messages(conn: psycopg.Connection) -> list[Posted]:
    """Print the forum's messages, oldest first; return them."""
    rows = conn.execute(
        "SELECT m.id, u.name, t.name, m.body FROM messages m JOIN users u ON u.id = m.author_id"
        " JOIN tasks t ON t.id = m.task_id ORDER BY m.id").fetchall()
    say("the forum's messages (SELECT m.id, u.name, t.name, m.body FROM %s.messages m JOIN users u ..."
        " JOIN tasks t ...):" % SCHEMA)
    posted = [Posted(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]
    for p in posted:
        show("#%d by %s in '%s':" % (p.id, p.author, p.task))
        show(p.body, "    | ")
    return posted


def show_inbound(conn: psycopg.Connection) -> list[str]:
    """Print what fetch_replies.py recorded of each email; return the statuses."""
    rows = conn.execute(
        "SELECT id, status, sender, subject, task_id, user_id, message_id, reason"
        " FROM %s.inbound_emails ORDER BY id" % SCHEMA).fetchall()
    say("the emails fetch_replies.py handled (SELECT id, status, sender, subject, task_id, user_id,"
        " message_id, reason FROM %s.inbound_emails):" % SCHEMA)
    _table(("id", "status", "sender", "subject", "task_id", "user_id", "message_id", "reason"), rows)
    return [str(r[1]) for r in rows]


def pending(conn: psycopg.Connection) -> list[str]:
    """Whom notifications are queued for, not yet sent."""
    rows = conn.execute("SELECT recipient FROM notifications WHERE status = 'pending' ORDER BY id").fetchall()
    return [str(r[0]) for r in rows]


def message_from(mail: Received) -> EmailMessage:
    msg = message_from_bytes(mail.data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg

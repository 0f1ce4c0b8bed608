"""Telling the administrator: one summary mail per kind of trouble per hour.

Sent at the end of a run that had permanent failures, refused replies or an
unreachable server.  It goes straight through SMTP when it can (the
database may be what is down), else into the queue (SMTP may be what is
down: it then goes out when SMTP is back).  Throttled in the database, or,
when the database is unreachable, in a small state file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import tempfile
import time
from email.utils import formatdate, make_msgid
from pathlib import Path

import psycopg

from . import db, mime, store
from .compose import Outgoing
from .logs import redact
from .settings import Settings
from .transport import Outcome, ServerDown, Transport

log = logging.getLogger(__name__)
THROTTLE_MINUTES = 60


def _state_file(settings: Settings) -> Path:
    """Beside the settings (a folder the administrator owns), else the temp folder.

    Not a fixed name in /tmp first: another local user could plant a link
    there and have a cron job running as root write through it.
    """
    folder = settings.path.parent
    if not os.access(folder, os.W_OK):
        folder = Path(tempfile.gettempdir())
    key = hashlib.sha256(str(settings.path).encode()).hexdigest()[:16]
    return folder / (".forummail-alerts-%s.json" % key)


def _due_without_db(settings: Settings, kind: str) -> bool:
    path = _state_file(settings)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        state = {}
    if time.time() - float(state.get(kind, 0)) < THROTTLE_MINUTES * 60:
        return False
    state[kind] = time.time()
    try:
        # A new file renamed over the old one: os.replace never follows a link.
        fd, tmp = tempfile.mkstemp(prefix=".forummail-alerts.", dir=path.parent)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(state))
        os.replace(tmp, path)
    except OSError:
        pass
    return True


def notify(settings: Settings, kind: str, subject: str, lines: list[str],
           conn: psycopg.Connection | None = None) -> bool:
    """Send one summary to MAIL_ADMIN unless one of this kind went out within the hour."""
    if not settings.mail_admin:
        return False
    try:
        due = store.outgoing.alert_due(conn, kind, THROTTLE_MINUTES) if conn is not None and not conn.closed \
            else _due_without_db(settings, kind)
    except psycopg.Error:
        due = _due_without_db(settings, kind)
    if not due:
        return False
    body = redact("\n".join(lines[:100]) + ("\n... and %d more" % (len(lines) - 100) if len(lines) > 100 else "")
                  + "\n\nThis summary is sent at most once an hour for this kind of trouble (%s).\n"
                    "Host: %s; settings: %s\n" % (kind, socket.gethostname(), settings.path))
    subject = redact("[forummail] " + subject)
    data = mime.build([
        ("From", mime.address(settings.mail_from_name or "Forum mailer", settings.mail_from_addr)),
        ("To", ", ".join(settings.mail_admin)), ("Subject", subject), ("Date", formatdate(localtime=True)),
        ("Message-ID", make_msgid(domain=settings.domain)), ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"), ("X-Notification-Type", "admin-alert"),
    ], body)
    transport = Transport(settings.sending.smtp_servers, db.connector(settings, "alerts"))
    try:
        result = transport.send(Outgoing(0, data, settings.mail_from_addr, list(settings.mail_admin), "", None))
        if result.outcome is Outcome.SENT:
            return True
        log.warning("alert to MAIL_ADMIN not accepted: %s", result.detail)
    except ServerDown:
        pass
    finally:
        transport.close()
    if conn is not None and not conn.closed:
        try:
            with conn.transaction():
                store.outgoing.enqueue(conn, "", subject, body, "admin-alert")
            return True
        except psycopg.Error:
            pass
    log.warning("could not tell MAIL_ADMIN about: %s", subject)
    return False

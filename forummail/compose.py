"""Compose: a claimed notification becomes the bytes of one email.

Templates come from ``OPTS['templates_dir']`` first, then the shipped
``templates/``.  Headers:

* ``From``: the acting user's name with ``MAIL_FROM``'s address;
* ``Message-ID``: unique, carrying the reply token where replies are allowed;
* ``In-Reply-To``/``References``: a root id per task, so mail clients put
  every mail of one task in one thread;
* ``Reply-To``: ``replier_from_addr`` with the token as sub-address, only
  where the universe allows email replies;
* ``Auto-Submitted``/``X-Auto-Response-Suppress``: no auto-responder answers;
* ``X-Notification-Type``: the kind.

Any value that ends up in a header has its control characters (CR, LF,
TAB, ...) folded to spaces first: a user's name or a subject can never
start a header of its own.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import date, timedelta
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from . import mime
from . import token as reply_token
from .errors import ConfigError
from .queue import Job
from .settings import Settings

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")


def header_text(value: object, limit: int = 300) -> str:
    """A value made safe for a header: one line, no control characters, bounded."""
    text = _CONTROL.sub(" ", str(value or "")).strip()
    return re.sub(r" {2,}", " ", text)[:limit]


def human_size(size: int | None) -> str:
    if not size:
        return ""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return ("%d %s" if unit == "bytes" else "%.1f %s") % (value, unit)
        value /= 1024
    return ""


def download_url(base: str, name: str, file_hash: str | None) -> str:
    """The original's download link: ``replier_downloader_url`` + hash and name."""
    if not base or not file_hash:
        return ""
    query = urlencode({"hash": file_hash, "name": name})
    if base.endswith(("?", "&")):
        return base + query
    return base + ("&" if "?" in base else "?") + query


@dataclass(frozen=True)
class Outgoing:
    """One rendered email and its envelope."""

    job_id: int
    data: bytes
    sender: str
    recipients: list[str]
    message_id: str
    reply_token: str | None


class Composer:
    """Renders jobs; build once per run (it compiles the templates once)."""

    def __init__(self, settings: Settings) -> None:
        import jinja2  # only runs with something to send pay for it

        self.settings = settings
        search = [settings.templates_dir] if settings.templates_dir else []
        search.append(str(TEMPLATE_DIR))
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(search),
            autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        self._jinja = jinja2
        self._cache: dict[str, Any] = {}

    def _template(self, name: str) -> Any:
        if name not in self._cache:
            try:
                self._cache[name] = self.env.get_template(name)
            except self._jinja.TemplateNotFound:
                self._cache[name] = None
            except self._jinja.TemplateError as exc:
                raise ConfigError("template %s: %s" % (name, exc)) from None
        return self._cache[name]

    def _render(self, kind: str, part: str, context: dict[str, Any]) -> str | None:
        base = "message" if kind == "message" else kind
        template = self._template("%s.%s" % (base, part))
        if template is None and base != "message":
            template = self._template("system.%s" % part)
        if template is None:
            return None
        try:
            return str(template.render(context))
        except self._jinja.TemplateError as exc:
            raise ConfigError("template %s: %s" % (template.name, exc)) from None

    def compose(self, job: Job, today: date | None = None) -> Outgoing:
        """Render one job.  Raises ConfigError for a broken template (all mail would fail)."""
        s = self.settings
        today = today or date.today()
        reply_allowed = bool(
            s.replies_enabled and job.allow_email_reply and job.kind == "message"
            and job.user_id is not None and job.task_id is not None
        )
        token = None
        if reply_allowed:
            # Counted from when the row was queued, not from today: a retry, or a
            # re-send after a crash, carries the same token and the same Message-ID.
            queued = job.created_at.date() if job.created_at else today
            expires = queued + timedelta(days=s.reply_token_days)
            token = reply_token.make(s.reply_secret, job.user_id or 0, job.task_id or 0, expires)
        context = self._context(job, reply_allowed)
        text = self._render(job.kind, "txt", context) or ""
        html = self._render(job.kind, "html", context)
        subject = job.subject if job.kind != "message" and job.subject else None
        if subject is None:
            subject = self._render(job.kind, "subject.txt", context) or job.subject or ""
        subject = header_text(subject, 900)

        # policy.SMTP: CRLF line ends, as RFC 5321 wants them on the wire.
        h: list[tuple[str, str]] = []
        from_name = header_text(job.author_name) if job.kind == "message" and job.author_name else ""
        h.append(("From", mime.address(from_name or s.mail_from_name, s.mail_from_addr)))
        recipients = [job.recipient]
        if s.debug:
            # The original's DEBUG: everything to MAIL_ADMIN, marked for whom it was.
            recipients = list(s.mail_admin)
            h.append(("To", ", ".join(recipients)))
            h.append(("X-Intended-Recipient", header_text(job.recipient)))
            subject = "[DEBUG for %s] %s" % (header_text(job.recipient), subject)
        else:
            h.append(("To", mime.address(header_text(job.recipient_name), job.recipient)))
        h.append(("Subject", subject))
        h.append(("Date", formatdate(localtime=True)))
        msgid = job.message_id_header or self.message_id(job.id, token)
        h.append(("Message-ID", msgid))
        if job.task_id is not None:
            root = "<task.%d@%s>" % (job.task_id, s.domain)
            h += [("In-Reply-To", root), ("References", root)]
        if token:
            h.append(("Reply-To", mime.address(s.replier_from_name,
                                               reply_token.reply_address(s.replier_from_addr, token))))
        h += [("Auto-Submitted", "auto-generated"), ("X-Auto-Response-Suppress", "All"),
              ("X-Notification-Type", header_text(job.kind, 64))]
        # The refused email itself goes to MAIL_ADMIN (the original's behaviour).
        attachment = ("original.eml", bytes(job.attached_email)) if job.attached_email else None
        data = mime.build(h, text, html, attachment)
        return Outgoing(
            job_id=job.id,
            data=data,
            sender=s.mail_from_addr,
            recipients=recipients,
            message_id=msgid,
            reply_token=token,
        )

    def message_id(self, job_id: int, token: str | None) -> str:
        """The same id for every attempt at one row, so that a duplicate sent
        after a crash is recognised (and collapsed) by mail clients.  The hashed
        part keeps ids of two installations sharing a domain apart."""
        s = self.settings
        seed = "%s:%s:%s:%d:%s" % (s.domain, s.db_name, s.db_schema, job_id, s.reply_secret)
        digest = base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode().lower()[:8]
        local = "%s.n%d.%s" % (token, job_id, digest) if token else "n%d.%s" % (job_id, digest)
        return "<%s@%s>" % (local, s.domain)

    def _context(self, job: Job, reply_allowed: bool) -> dict[str, Any]:
        s = self.settings
        attachments = [
            {"name": name, "size": human_size(size), "url": download_url(s.replier_downloader_url, name, h)}
            for name, h, size in job.attachments
        ]
        return {
            "kind": job.kind,
            "recipient": job.recipient,
            "recipient_name": job.recipient_name or "",
            "author_name": job.author_name or "Someone",
            "task_id": job.task_id,
            "task_name": header_text(job.task_name) if job.task_name else "",
            "universe_name": job.universe_name or "",
            "body": job.message_body if job.kind == "message" else (job.system_body or ""),
            "created_at": job.message_created_at,
            "attachments": attachments,
            "reply_allowed": reply_allowed,
            "separator": s.replier_separator,
            "subject": job.subject or "",
        }



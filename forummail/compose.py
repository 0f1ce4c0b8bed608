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
* ``X-Notification-Type``: the kind;
* ``List-Id``, ``List-Unsubscribe`` (and ``List-Unsubscribe-Post`` with
  ``OPTS['unsubscribe_url']``): see :meth:`Composer.list_headers`.

The envelope sender is ``OPTS['bounce_addr']`` or a tagged address of the
reply mailbox (:meth:`Composer.envelope_sender`), so reports come home.

Every address is checked and written in its wire form (:mod:`forummail.addresses`):
an invalid one raises ``InvalidAddress`` (the row fails, nothing is sent); an
internationalised domain goes as IDNA; a non-ASCII local part makes the mail
one for SMTPUTF8 only (``Outgoing.smtputf8``), with UTF-8 address headers.

Any value that ends up in a header has its control characters (CR, LF,
TAB, ...) folded to spaces first: a user's name or a subject can never
start a header of its own.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from email.utils import formatdate
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from . import mime, signing, tags
from . import token as reply_token
from .addresses import InvalidAddress, Mailbox, mailbox
from .errors import ConfigError
from .safetext import file_name
from .settings import Settings
from .store.outgoing import Job

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")


# A display name fits one RFC 2047 encoded word on one line (see mime.address).
NAME_LIMIT = 150


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
    smtputf8: bool = False  # a non-ASCII local part: only a server offering SMTPUTF8 may take it


_K = TypeVar("_K")
_V = TypeVar("_V")


def _kept(cache: dict[_K, _V], key: _K, make: Callable[[], _V], limit: int = 4096) -> _V:
    """``cache[key]``, made once; the cache is emptied rather than let grow past ``limit``."""
    value = cache.get(key)
    if value is None:
        if len(cache) > limit:
            cache.clear()
        value = cache[key] = make()
    return value


class Composer:
    """Renders jobs; build once per run (it compiles the templates once)."""

    def __init__(self, settings: Settings, keys: signing.Keys | None = None) -> None:
        import jinja2  # only runs with something to send pay for it

        self.settings = settings
        # The runs pass the keys they read with the database; without them,
        # only REPLY_TOKEN_SECRET can sign.
        self.keys = keys if keys is not None else signing.keys(settings, None)
        search = [settings.sending.templates_dir] if settings.sending.templates_dir else []
        search.append(str(TEMPLATE_DIR))
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(search),
            autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        self._jinja = jinja2
        self._cache: dict[str, Any] = {}
        self._bodies: dict[tuple[int | None, bool], tuple[str, bytes]] = {}
        self._recipient_free: bool | None = None
        self._date: tuple[int, str] = (-1, "")
        self._lists: dict[tuple[str, int | None, int | None], list[tuple[str, str]]] = {}
        self._tokens: dict[tuple[int, int, date], str] = {}

    def _now(self) -> str:
        """The Date header: formatted once a second, not once a mail (it costs as much as a token)."""
        second = int(time.time())
        if second != self._date[0]:
            self._date = (second, formatdate(second, localtime=True))
        return self._date[1]

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

    def token_for(self, job: Job, today: date) -> str | None:
        """The reply token of a message notification, where replies are allowed."""
        s = self.settings
        if not (s.replies.enabled and self.keys.sign and job.allow_email_reply and job.kind == "message"
                and job.user_id is not None and job.task_id is not None):
            return None
        # Counted from when the row was queued, not from today: a retry, or a
        # re-send after a crash, carries the same token and the same Message-ID.
        queued = job.created_at.date() if job.created_at else today
        expires = queued + timedelta(days=s.replies.reply_token_days)
        user_id, task_id, sign = job.user_id, job.task_id, self.keys.sign
        return _kept(self._tokens, (user_id, task_id, expires),
                     lambda: reply_token.make(sign, user_id, task_id, expires))

    def compose(self, job: Job, today: date | None = None) -> Outgoing:
        """Render one job.  Raises ConfigError for a broken template (all mail would fail)."""
        today = today or date.today()
        token = self.token_for(job, today)
        from_name = header_text(job.author_name, NAME_LIMIT) if job.kind == "message" and job.author_name else ""
        roots = [job.task_id] if job.task_id is not None else []
        msgid = job.message_id_header or self.message_id(job.id, token)
        # One forum message goes to all its followers, whose mail differs only
        # in headers: render it once (unless a template names the recipient).
        key = (job.message_id, token is not None)
        cached = self._bodies.get(key) if job.kind == "message" and self._same_for_all() else None
        if cached is None:
            context = self._context(job, token is not None)
            text = self._render(job.kind, "txt", context) or ""
            html = self._render(job.kind, "html", context)
            subject = job.subject if job.kind != "message" and job.subject else None
            if subject is None:
                subject = self._render(job.kind, "subject.txt", context) or job.subject or ""
            # The refused email itself goes to MAIL_ADMIN (the original's behaviour).
            attachment = ("original.eml", bytes(job.attached_email)) if job.attached_email else None
            cached = (subject, mime.body(text, html, attachment))
            if job.kind == "message" and self._same_for_all():
                if len(self._bodies) > 256:
                    self._bodies.clear()
                self._bodies[key] = cached
        return self._assemble(job, cached[0], from_name, msgid, roots, token, cached[1])

    def _same_for_all(self) -> bool:
        """Do the message templates leave out who the mail is for?"""
        if self._recipient_free is None:
            from jinja2 import meta

            names: set[str] = set()
            for part in ("txt", "html", "subject.txt"):
                try:
                    source = self.env.loader.get_source(self.env, "message.%s" % part)[0]  # type: ignore[union-attr]
                except self._jinja.TemplateNotFound:
                    continue
                names |= meta.find_undeclared_variables(self.env.parse(source))
            self._recipient_free = not names & {"recipient", "recipient_name"}
        return self._recipient_free

    def compose_digest(self, jobs: list[Job], today: date | None = None) -> Outgoing:
        """One mail gathering a user's waiting notifications, grouped by task."""
        today = today or date.today()
        first = min(jobs, key=lambda j: j.id)
        tasks: dict[int | None, dict[str, Any]] = {}
        for job in sorted(jobs, key=lambda j: j.id):  # queue order is posting order
            entry = tasks.get(job.task_id)
            if entry is None:
                token = self.token_for(job, today)
                reply = ""
                if token:
                    reply = "mailto:%s?subject=%s" % (
                        reply_token.reply_address(self.settings.replies.replier_from_addr, token),
                        quote("Re: [#%s] %s" % (job.task_id, header_text(job.task_name))))
                entry = tasks[job.task_id] = {"task_id": job.task_id, "task_name": header_text(job.task_name),
                                              "universe_name": job.universe_name or "", "reply_url": reply,
                                              "messages": []}
            entry["messages"].append(self._context(job, False))
        context = {"recipient_name": first.recipient_name or "", "recipient": first.recipient,
                   "tasks": list(tasks.values()), "count": len(jobs)}
        text = self._render("digest", "txt", context) or ""
        html = self._render("digest", "html", context)
        subject = self._render("digest", "subject.txt", context) or "Forum digest"
        roots = sorted(t for t in tasks if t is not None)
        msgid = first.message_id_header or self.message_id(first.id, None).replace("<n", "<d", 1)
        return self._assemble(first, subject, "", msgid, roots, None, mime.body(text, html), kind="digest")

    def _assemble(self, job: Job, subject: str, from_name: str, msgid: str, roots: list[int],
                  token: str | None, mime_body: bytes, kind: str | None = None) -> Outgoing:
        s = self.settings
        subject = header_text(subject, 900)
        # A universe may send from its own address and name.
        sender = self._universe_sender(job.universe_from_addr) if job.universe_from_addr else None
        from_addr = sender.address if sender else s.mail_from_addr
        default_name = header_text(job.universe_from_name, NAME_LIMIT) if job.universe_from_name else s.mail_from_name
        h: list[tuple[str, str]] = [("From", mime.address(from_name or default_name, from_addr))]
        # An empty recipient is system mail for the administrators (enqueue_email).
        # Checked in DEBUG too: DEBUG rehearses what the real run would do.
        recipient = self._recipient(job.recipient) if job.recipient else None
        recipients = [recipient.address] if recipient else list(s.mail_admin)
        if not recipients:
            raise ValueError("no recipient, and MAIL_ADMIN is empty")
        utf8 = bool(sender and sender.smtputf8)
        if s.debug:
            # The original's DEBUG: everything to MAIL_ADMIN, marked for whom it was.
            recipients = list(s.mail_admin)
            h.append(("To", ", ".join(recipients)))
            h.append(("X-Intended-Recipient", header_text(job.recipient)))
            subject = "[DEBUG for %s] %s" % (header_text(job.recipient), subject)
        elif recipient:
            utf8 = utf8 or recipient.smtputf8
            h.append(("To", mime.address(header_text(job.recipient_name, NAME_LIMIT), recipient.address)))
        else:
            h.append(("To", ", ".join(recipients)))
        h += [("Subject", subject), ("Date", self._now()), ("Message-ID", msgid)]
        if roots:
            refs = " ".join("<task.%d@%s>" % (r, s.domain) for r in roots)
            h += [("In-Reply-To", refs.rsplit(" ", 1)[-1]), ("References", refs)]
        if token:
            h.append(("Reply-To", mime.address(s.replies.replier_from_name,
                                               reply_token.reply_address(s.replies.replier_from_addr, token))))
        h += self.list_headers(job, kind or job.kind)
        h += [("Auto-Submitted", "auto-generated"), ("X-Auto-Response-Suppress", "All"),
              ("X-Notification-Type", header_text(kind or job.kind, 64))]
        return Outgoing(job_id=job.id, data=mime.assemble(h, mime_body, utf8), sender=self.envelope_sender(job.id,
                                                                                                          from_addr),
                        recipients=recipients, message_id=msgid, reply_token=token, smtputf8=utf8)

    def envelope_sender(self, job_id: int, from_addr: str) -> str:
        """MAIL FROM (the Return-Path): where delivery reports go (RFC 5321 section 4.5.5).

        ``OPTS['bounce_addr']`` when set; else, with a reply mailbox, its
        ``+bounces-<tag>`` address, the tag naming this notification (VERP),
        so a report that quotes nothing of ours still says which mail it is
        about; else the From address.
        """
        s = self.settings
        if s.sending.bounce_addr:
            return s.sending.bounce_addr
        if s.replies.replier_from_addr:
            return tags.bounce_address(s.replies.replier_from_addr, self.keys.sign, job_id)
        return from_addr

    def list_headers(self, job: Job, kind: str) -> list[tuple[str, str]]:
        """``List-Id`` per task (RFC 2919) and, for a task's notification, ``List-Unsubscribe``.

        The ``mailto:`` goes to the reply mailbox with a signed unsubscribe
        token (RFC 2369); with ``OPTS['unsubscribe_url']``, its HTTPS link
        and ``List-Unsubscribe-Post`` make it one-click (RFC 8058 section 3.1).
        A digest spans tasks: it carries the forum's List-Id only.
        """
        # The same for every mail of a task to one follower: made once (signing is most of it).
        return _kept(self._lists, (kind, job.task_id, job.user_id), lambda: self._list_headers(job, kind))

    def _list_headers(self, job: Job, kind: str) -> list[tuple[str, str]]:
        s = self.settings
        if kind == "digest":
            return [("List-Id", "<digest.%s>" % s.domain)]
        if job.task_id is None:
            return []
        h = [("List-Id", "<task-%d.%s>" % (job.task_id, s.domain))]
        if job.user_id is None or not self.keys.sign:
            return h
        token = tags.unsubscribe_token(self.keys.sign, job.user_id, job.task_id)
        links = []
        if s.sending.unsubscribe_url:
            url = s.sending.unsubscribe_url
            links.append("<%s%stoken=%s>" % (url, "&" if "?" in url else "?", token))
        if s.replies.replier_from_addr:
            links.append("<mailto:%s?subject=unsubscribe>" % tags.unsubscribe_address(s.replies.replier_from_addr,
                                                                                     token))
        if links:
            h.append(("List-Unsubscribe", ", ".join(links)))
        if s.sending.unsubscribe_url:
            h.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        return h

    @staticmethod
    def _recipient(address: str) -> Mailbox:
        try:
            return mailbox(address)
        except InvalidAddress as exc:
            raise InvalidAddress("recipient %s; not sent" % exc, exc.reason) from None

    @staticmethod
    def _universe_sender(address: str) -> Mailbox:
        try:
            return mailbox(address)
        except InvalidAddress as exc:
            raise InvalidAddress("the universe's sender address %s; not sent (fix universes.mail_from_addr)"
                                 % exc, exc.reason) from None

    def message_id(self, job_id: int, token: str | None) -> str:
        """The same id for every attempt at one row, so that a duplicate sent
        after a crash is recognised (and collapsed) by mail clients.  The hashed
        part keeps ids of two installations sharing a domain apart."""
        s = self.settings
        seed = "%s:%s:%s:%d:%s" % (s.domain, s.db.name, s.db.schema, job_id, self.keys.sign)
        # 5 bytes are 8 base32 characters: the first 8 of the whole digest's encoding.
        digest = base64.b32encode(hashlib.sha256(seed.encode()).digest()[:5]).decode().lower()
        local = "%s.n%d.%s" % (token, job_id, digest) if token else "n%d.%s" % (job_id, digest)
        return "<%s@%s>" % (local, s.domain)

    def _context(self, job: Job, reply_allowed: bool) -> dict[str, Any]:
        s = self.settings
        # Shown under a safe name (a file stored before that rule, or by the forum,
        # may hold bidirectional overrides: "invoice\u202efdp.exe" reads as a PDF);
        # the link keeps the stored name, which is how the downloader finds the file.
        attachments = [
            {"name": file_name(name), "size": human_size(size),
             "url": download_url(s.replies.replier_downloader_url, name, h)}
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
            "separator": s.replies.replier_separator,
            "subject": job.subject or "",
        }



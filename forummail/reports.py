"""Reading delivery reports and complaints: what failed, for whom, about which mail.

Recognised, and only at the top level of the email (a report forwarded
inside a reply is the person's reply, not a report):

* RFC 3464 delivery status notifications, ``multipart/report;
  report-type=delivery-status`` (Postfix, Exim 4.90+, Gmail, Exchange and
  Microsoft 365, Sendmail, most others), and their RFC 6533 UTF-8 form
  (``message/global-delivery-status``);
* RFC 5965 ARF complaints, ``multipart/report; report-type=feedback-report``
  (Yahoo, Microsoft's JMRP, most feedback loops);
* two plain-text formats that predate RFC 3464 and are still met, only
  when the mail comes from a mail system (``MAILER-DAEMON``/``postmaster``
  or an empty Return-Path) and carries the format's fixed markers: Exim's
  (``X-Failed-Recipients`` and "This is a copy of the message") and
  qmail's (QSBMF: "This is the qmail-send program").

The machine-readable part is read first (``Action``, ``Status``,
``Final-Recipient``); text is searched for a status only where no standard
part exists.  Everything here is a claim: :mod:`forummail.feedback` decides
what a report may change.  Pure: no database.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses

from .parse import ParsedMail

log = logging.getLogger(__name__)
DELIVERY, COMPLAINT = "delivery", "complaint"
_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_ORIGINAL_TYPES = ("message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers",
                   "message/global-headers")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"\b([45])\d\d\b")
_MSGID = re.compile(r"<[^<>\s]{1,500}@[^<>\s]{1,500}>")
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")
_EXIM_COPY = re.compile(r"^-+ This is a copy of the message, including all the headers\. -+$", re.M)
_EXIM_HEADERS_ONLY = re.compile(r"^-+ The body of the message is \d+ characters long; only the first", re.M)
_QMAIL_START = re.compile(r"^Hi\. This is the qmail-send program at ", re.M)
_QMAIL_COPY = re.compile(r"^--- Below this line is a copy of the message\.$", re.M)
_QMAIL_RECIPIENT = re.compile(r"^<([^<>\s]+@[^<>\s]+)>:\s*$", re.M)
_TEXT_LIMIT = 200_000  # characters of a plain-text bounce searched: its start says everything


@dataclass
class Recipient:
    """One recipient's fate as the report states it."""

    address: str
    action: str = ""  # failed, delayed, delivered, relayed, expanded (RFC 3464 section 2.3.3)
    status: str = ""  # 5.1.1 (RFC 3463)
    diagnostic: str = ""

    @property
    def undelivered(self) -> bool:
        """The mail will not arrive (RFC 3464 section 2.3.3, Action: failed)."""
        return self.action == "failed"

    @property
    def permanent(self) -> bool:
        """The address itself refuses: failed with a 5.x.x (or no) Status.

        ``failed`` with a 4.x.x Status is a mail that waited in a queue until
        it expired (a server down for days): the address may well be fine.
        """
        return self.undelivered and not self.status.startswith("4")

    @property
    def temporary(self) -> bool:
        return not self.permanent and (self.action in ("failed", "delayed") or self.status.startswith("4"))


@dataclass
class Report:
    kind: str  # DELIVERY or COMPLAINT
    format: str  # rfc3464, arf, exim, qmail
    recipients: list[Recipient] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)  # of the returned original
    feedback_type: str = ""  # ARF: abuse, fraud, ...
    reporter: str = ""  # Reporting-MTA or User-Agent, for the record

    def describe(self) -> str:
        if self.kind == COMPLAINT:
            return "complaint (%s, %s)" % (self.format, self.feedback_type or "no Feedback-Type")
        return "delivery report (%s)" % self.format


def candidate(mail: ParsedMail) -> bool:
    """Might this email be a report?  From the fields already read (headerfields): cheap, for every email."""
    if mail.message is None:
        return False
    return mail.message.get_content_type() == "multipart/report" or from_mail_system(mail)


def from_mail_system(mail: ParsedMail) -> bool:
    """Sent by a mail system: an empty Return-Path (RFC 5321 section 4.5.5) or MAILER-DAEMON/postmaster."""
    return mail.header("Return-Path").strip() in ("<>", "< >") or \
        mail.from_addr.partition("@")[0].lower() in _DAEMONS


def read(raw: bytes, mail_system: bool) -> Report | None:
    """The report this email is, or None when it is none (then it is handled as mail).

    ``mail_system``: :func:`from_mail_system` of its header; only then are
    the plain-text formats tried.  Parsed with the compat32 policy, which
    reads no address field as an object: a hostile field cannot raise here.
    A report too broken to read is handled as ordinary (automatic) mail.
    """
    try:
        message = message_from_bytes(raw, policy=policy.compat32)
        if message.get_content_type() == "multipart/report":
            report_type = str(message.get_param("report-type", "") or "").lower()
            if report_type == "delivery-status":
                return _dsn(message)
            if report_type == "feedback-report":
                return _arf(message)
            return None  # a read receipt (disposition-notification) or another kind: not ours to act on
        if mail_system:
            return _exim(message) or _qmail(message)
    except Exception as exc:  # noqa: BLE001 -- the sender's bytes: never our error
        log.info("an email shaped like a report could not be read as one: %s: %s", type(exc).__name__, exc)
    return None


def _children(message: Message) -> list[Message]:
    payload = message.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _fields(part: Message) -> list[Message]:
    """The header blocks of a delivery-status or feedback-report part.

    The email package parses ``message/delivery-status`` into blocks itself;
    an encoded one (base64, some Exchange servers), a UTF-8 one (RFC 6533)
    or ``message/feedback-report`` is parsed here from its text.
    """
    payload = part.get_payload()
    if isinstance(payload, list) and part.get("Content-Transfer-Encoding", "7bit").lower() in ("7bit", "8bit"):
        return [p for p in payload if isinstance(p, Message)]
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        data = str(payload).encode("utf-8", "replace") if not isinstance(payload, list) else b""
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    return [HeaderParser().parsestr(block.strip() + "\n") for block in re.split(r"\n[ \t]*\n", text) if block.strip()]


def _value(block: Message, name: str) -> str:
    return " ".join(str(block.get(name, "")).split())


def _typed_address(value: str) -> str:
    """``rfc822; bob@example.com`` -> ``bob@example.com`` (RFC 3464 section 2.3.2)."""
    kind, _, address = value.partition(";")
    address = (address if _ else kind).strip().strip("<>").strip()
    return address if "@" in address else ""


def _first_id(value: str) -> list[str]:
    """The one msg-id a Message-ID field holds (RFC 5322 section 3.6.4), as a list of at most one.

    A field with a thousand of them is no mail of ours: it is a thousand
    guesses at our ids in one report, and only the first counts.
    """
    return _MSGID.findall(value)[:1]


def _originals(message: Message) -> list[str]:
    """The Message-ID of the returned original (full message or its headers): the first such part only.

    RFC 3464 section 2 and RFC 5965 section 2 return one original; more
    parts would only multiply the guesses a forged report makes.
    """
    found: list[str] = []
    for part in _children(message):
        ctype = part.get_content_type()
        if ctype not in _ORIGINAL_TYPES:
            continue
        headers: Message | None = None
        inner = _children(part)
        if inner:
            headers = inner[0]
        else:
            data = part.get_payload(decode=True)
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(part.get_payload())
            headers = HeaderParser().parsestr(text.lstrip("\r\n"), headersonly=True)
        found += _first_id(str(headers.get("Message-ID", "")))
        break
    return found


def _dsn(message: Message) -> Report:
    report = Report(DELIVERY, "rfc3464", message_ids=_originals(message))
    for part in _children(message):
        if part.get_content_type() not in _DSN_TYPES:
            continue
        blocks = _fields(part)
        if blocks:
            report.reporter = _value(blocks[0], "Reporting-MTA")
            # Gmail names the original here too (a non-standard field of the per-message block).
            report.message_ids += [m for m in _first_id(_value(blocks[0], "X-Original-Message-ID"))
                                   if m not in report.message_ids]
        for block in blocks[1:] if len(blocks) > 1 else blocks:
            address = _typed_address(_value(block, "Final-Recipient")) or \
                _typed_address(_value(block, "Original-Recipient"))
            if not address:
                continue
            status = _STATUS.search(_value(block, "Status"))
            report.recipients.append(Recipient(
                address=address, action=_value(block, "Action").lower(),
                status=status.group(0) if status else "",
                diagnostic=_value(block, "Diagnostic-Code")[:500]))
        break  # one delivery-status part (RFC 3464 section 2)
    return report


def _arf(message: Message) -> Report | None:
    """The complaint, or None without its ``message/feedback-report`` part.

    RFC 5965 section 2 requires that part; a "complaint" without it names
    nobody and would be read as being about whoever the quoted mail went to.
    """
    report = Report(COMPLAINT, "arf", message_ids=_originals(message))
    parts = [p for p in _children(message) if p.get_content_type() == "message/feedback-report"]
    if not parts:
        return None
    for part in parts:
        blocks = _fields(part)
        block = blocks[0] if blocks else Message()
        report.feedback_type = _value(block, "Feedback-Type").lower()[:40]
        report.reporter = _value(block, "User-Agent")[:200]
        # RFC 5965 section 3.2: Original-Rcpt-To is optional (and redacted by
        # some providers); without it the complaint is about the recipient of
        # the notification it quotes.
        for value in block.get_all("Original-Rcpt-To", []):
            address = _typed_address(" ".join(str(value).split()))
            if address:
                report.recipients.append(Recipient(address=address, action="complained"))
        break
    return report


def _text(message: Message) -> str:
    """The first text/plain part (or the body), decoded; bounded."""
    part = next((p for p in message.walk() if p.get_content_type() == "text/plain"), None)
    if part is None:
        return ""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = data[: _TEXT_LIMIT * 4].decode(charset, "replace")
    except LookupError:
        text = data[: _TEXT_LIMIT * 4].decode("utf-8", "replace")
    return text[:_TEXT_LIMIT].replace("\r\n", "\n")


def _status_of(diagnostic: str) -> str:
    status = _STATUS.search(diagnostic)
    if status:
        return status.group(0)
    code = _SMTP_CODE.search(diagnostic)
    return "%s.0.0" % code.group(1) if code else ""


def _copied_ids(text: str) -> list[str]:
    headers = HeaderParser().parsestr(text.lstrip("\n"), headersonly=True)
    return _first_id(str(headers.get("Message-ID", "")))


def _exim(message: Message) -> Report | None:
    failed = [a for _, a in getaddresses([str(v) for v in message.get_all("X-Failed-Recipients", [])]) if "@" in a]
    text = _text(message)
    copy = _EXIM_COPY.search(text) or _EXIM_HEADERS_ONLY.search(text)
    if not failed or not copy:
        return None
    head, tail = text[: copy.start()], text[copy.end():]
    report = Report(DELIVERY, "exim", message_ids=_copied_ids(tail.partition("\n")[2] if tail else ""))
    for address in failed:
        # Exim writes the address, then its SMTP error indented below it.
        where = head.find(address)
        detail = " ".join(head[where + len(address): where + len(address) + 600].split()) if where >= 0 else ""
        status = _status_of(detail)
        report.recipients.append(Recipient(address=address, action="failed", status=status or "5.0.0",
                                           diagnostic=detail[:500]))
    return report


def _qmail(message: Message) -> Report | None:
    text = _text(message)
    start, copy = _QMAIL_START.search(text), _QMAIL_COPY.search(text)
    if not start or not copy:
        return None
    body = text[start.end(): copy.start()]
    report = Report(DELIVERY, "qmail", message_ids=_copied_ids(text[copy.end():].lstrip("\n")))
    marks = list(_QMAIL_RECIPIENT.finditer(body))
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(body)
        detail = " ".join(body[mark.end(): end].split())[:500]
        # QSBMF: a permanent failure says so in its first paragraph.
        status = _status_of(detail) or ("5.0.0" if "wasn't able to deliver" in body[:400] else "4.0.0")
        report.recipients.append(Recipient(address=mark.group(1), action="failed" if status[0] == "5" else "delayed",
                                           status=status, diagnostic=detail))
    return report if report.recipients else None

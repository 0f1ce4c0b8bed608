"""Is this email automatic?  Auto-replies, bounces, list traffic, our own mail.

Such mail is recorded as ``ignored`` and never answered: answering an
auto-responder is how mail loops start (RFC 3834 section 2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .parse import ParsedMail

# RFC 3834 says Auto-Submitted is the signal; these subjects catch the
# responders that do not set it (older Exchange, some hosted vacation
# services).  Only prefixes: a person may well write "out of office" inside
# a subject.
_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[ -]?response|auto:|autoreply|out of (the )?office( autoreply)?:|"
    r"autosvar|automatisk svar|automatische antwort|abwesenheitsnotiz|r[ée]ponse automatique|"
    r"respuesta autom[áa]tica|risposta automatica|resposta autom[áa]tica|automatisch antwoord|"
    r"odpowied[źz] automatyczna|автоответ|自動返信|"
    r"undeliver(able|ed)|delivery status notification|mail delivery (failed|failure|system)|"
    r"returned mail|failure notice|delivery has failed)",
    re.IGNORECASE,
)
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")
_BULK = ("bulk", "junk", "list", "auto_reply")


def why_automatic(mail: ParsedMail, own_addresses: Iterable[str]) -> str | None:
    """The reason this mail must be ignored and never answered, or None for a person."""
    auto = mail.header("Auto-Submitted").strip().lower()
    if auto and not auto.startswith("no"):
        return "automatic mail (Auto-Submitted: %s)" % auto.split(";")[0]
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply"):
        if mail.header(name):
            return "automatic reply (%s)" % name
    precedence = mail.header("Precedence").strip().lower()
    if precedence in _BULK:
        return "bulk or list mail (Precedence: %s)" % precedence
    content_type = mail.message.get_content_type() if mail.message is not None else ""
    if content_type == "multipart/report":
        return "delivery or read report (multipart/report)"
    return_path = mail.header("Return-Path").strip()
    if return_path in ("<>", "< >"):
        return "bounce (empty Return-Path)"
    local = mail.from_addr.partition("@")[0].lower()
    if not mail.from_addr:
        return "no sender address"
    if local in _DAEMONS:
        return "bounce (from %s)" % mail.from_addr
    for name in ("List-Id", "List-Unsubscribe", "List-Post", "Mailing-List"):
        if mail.header(name):
            return "mailing-list traffic (%s)" % name
    sender = mail.from_addr.lower()
    for own in own_addresses:
        own = own.lower()
        own_local, _, own_domain = own.partition("@")
        if own and (sender == own or (sender.endswith("@" + own_domain)
                                      and sender.partition("@")[0].startswith(own_local + "+"))):
            return "mail from our own address %s (a loop)" % mail.from_addr
    if mail.header("X-Notification-Type") and mail.header("X-Auto-Response-Suppress"):
        return "one of our own notifications (a loop)"
    if _AUTO_SUBJECT.match(mail.subject):
        return "automatic reply (subject %r)" % mail.subject[:60]
    return None


def never_answer(address: str) -> bool:
    """Addresses that must not get an explanation even from a person's mail."""
    local = address.partition("@")[0].lower()
    return (not address or local in _DAEMONS
            or re.fullmatch(r"(no[-_.]?reply|do[-_.]?not[-_.]?reply|bounces?|notifications?)([+-].*)?", local)
            is not None)

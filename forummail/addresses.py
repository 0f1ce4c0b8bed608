"""Addresses: is this a mailbox an SMTP server may be given, and in which form.

The one rule for every address we put in ``MAIL FROM``, ``RCPT TO`` or an
address header: the sender's recipients (one row, a digest, DEBUG's
``MAIL_ADMIN``), ``manage.py test-email`` and the addresses in the settings.

* A mailbox is ``local-part@domain`` (RFC 5321 section 4.1.2): a dot-atom
  local part of at most 64 octets, a domain of LDH labels of at most 63
  octets, 253 in all, 254 for the whole address (section 4.5.3.1).  Quoted
  local parts, address literals, bare IP addresses and source routes (``%``,
  ``!``) are refused: a forum account never needs one, and they are where
  relays disagree or forward mail elsewhere.
* Anything else (no ``@``, two of them, a space, a line break, a bad label)
  is :class:`InvalidAddress`, whose text names the address (escaped) and
  what is wrong.  Such an address never reaches a server or a header: a
  relay given a bare ``root`` delivers it to its own ``root``.
* An internationalised domain goes as IDNA (``xn--``, IDNA 2008 with UTS 46
  mapping): every server takes it.  A non-ASCII local part needs a server
  that offers SMTPUTF8 (RFC 6531): :attr:`Mailbox.smtputf8` says so, the
  transport checks the server's EHLO.

No DNS is ever asked: a cron run must not depend on a lookup per recipient.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from types import ModuleType

from .logs import escape


class InvalidAddress(ValueError):
    """An address that must not reach an SMTP server; the text says which and why."""

    def __init__(self, text: str, reason: str = "") -> None:
        super().__init__(text)
        self.reason = reason or text  # what is wrong, without the address


@dataclass(frozen=True)
class Mailbox:
    """A valid address in the form it takes on the wire and in headers."""

    address: str  # NFC local part @ ASCII (IDNA) domain, domain in lower case
    smtputf8: bool  # the local part is not ASCII: only for a server offering SMTPUTF8


# The common case, settled without email-validator (whose import costs about
# 75 ms, more than the rest of a run with nothing to send): an ASCII dot-atom
# at an ASCII host name.  tests/test_addresses.py checks that it accepts
# nothing email-validator refuses and gives the same form.
_ATOM = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(r"(%s(?:\.%s)*)@(%s(?:\.%s)*)" % (_ATOM, _ATOM, _LABEL, _LABEL))


def describe(address: str) -> str:
    """An address as it may be shown: escaped, and cut when absurdly long."""
    text = escape(address)
    return "<%s>" % (text if len(text) <= 200 else text[:200] + "...")


def mailbox(address: str) -> Mailbox:
    """The wire form of ``address``, or :class:`InvalidAddress` naming it and what is wrong.

    Spaces around it are forgiven (a form's typing slip); any other
    whitespace, a line break above all, makes it invalid.
    """
    return _mailbox(address.strip(" "))


def spellings(address: str) -> list[str]:
    """The forms one mailbox may be stored or reported in: as given, the wire form (IDNA), the Unicode domain.

    A forum stores ``bob@bücher.de``; our server was given, and a delivery
    report names, ``bob@xn--bcher-kva.de`` (RFC 5890): the same mailbox.
    """
    given = address.strip()
    found = [given]
    try:
        found.append(mailbox(given).address)
    except InvalidAddress:
        pass
    local, _, domain = given.rpartition("@")
    if local and "xn--" in domain.lower():
        try:
            found.append("%s@%s" % (local, domain.encode("ascii").decode("idna")))
        except (UnicodeError, ValueError):
            pass
    return list(dict.fromkeys(found))


def problem(address: str) -> str:
    """What is wrong with ``address``; empty when it is a valid mailbox."""
    try:
        mailbox(address)
    except InvalidAddress as exc:
        return str(exc)
    return ""


@functools.lru_cache(maxsize=4096)  # a run sends to the same people again and again
def _mailbox(address: str) -> Mailbox:
    routed = _routing(address)
    if routed:
        raise InvalidAddress("%s is not a valid email address: %s" % (describe(address), routed), routed)
    plain = _PLAIN.fullmatch(address)
    if plain and len(plain[1]) <= 64 and len(address) <= 254 and len(plain[2]) <= 253 \
            and "--" not in plain[2] and not _reserved(plain[2].lower()):
        return Mailbox("%s@%s" % (plain[1], plain[2].lower()), False)
    return _validated(address)


def _routing(address: str) -> str:
    """Why ``address`` would have a relay route mail elsewhere; empty when it would not."""
    local, _, domain = address.rpartition("@")
    if "%" in local or "!" in local:
        # The "percent hack" and UUCP bang paths: legal characters (RFC 5321
        # 4.1.2), but some relays still forward user%other@relay to "other".
        return "'%' and '!' in the local part are source routes, which relays may forward to another host"
    if domain.rstrip(".").rpartition(".")[2].isdigit():
        # A bare IP address (RFC 1123 2.1: a top-level label is never all digits);
        # address literals ([192.0.2.1]) are refused too, below.
        return "the domain is an IP address, not a mail domain"
    return ""


def _reserved(domain: str) -> bool:
    # RFC 6761 section 6.4: "invalid" never resolves, anywhere.
    return domain == "invalid" or domain.endswith(".invalid")


def _validated(address: str) -> Mailbox:
    validator = _validator()
    try:
        found = validator.validate_email(
            address,
            check_deliverability=False,  # no DNS: see the module's docstring
            globally_deliverable=False,  # an installation's own relay may serve "corp" or "localhost"
            strict=True,  # the 64-octet local part limit too (RFC 5321 4.5.3.1.1)
            allow_smtputf8=True,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except validator.EmailNotValidError as exc:
        raise InvalidAddress("%s is not a valid email address: %s" % (describe(address), exc), str(exc)) from None
    return Mailbox("%s@%s" % (found.local_part, found.ascii_domain), bool(found.smtputf8))


@functools.cache
def _validator() -> ModuleType:
    import email_validator

    # email-validator assumes globally routable addresses and refuses the
    # special-use names (.local, .test, localhost, ...).  An installation on
    # premises mails its own relay, which may well serve them; only
    # "invalid" (RFC 6761 6.4) can never be delivered.  Nothing else in this
    # process uses email-validator.
    email_validator.SPECIAL_USE_DOMAIN_NAMES[:] = ["invalid"]
    return email_validator

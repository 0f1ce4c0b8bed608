"""Identity: the one way a sender's address is compared with a member's, or a domain with a proof's.

An address in ``From`` names a member only when it is that member's address
in this form; a domain is proven only when it is, in this form, the domain
our own mail server checked.  Both forms are chosen so that no character
outside ASCII can ever become an ASCII one:

* Letters are folded to lower case in ASCII only.  ``str.lower()`` would turn
  U+212A KELVIN SIGN into ``k`` (and PostgreSQL's ``lower()`` may too, by the
  database's locale), so ``\\u212aate@example.com`` would be Kate.  Case in
  ASCII is folded, as every mail provider does for its mailboxes, though RFC
  5321 section 2.4 lets a local part be case-sensitive: members type their
  addresses in any case.  Non-ASCII characters are compared exactly, without
  Unicode case folding or normalisation (NFC maps U+212A to ``K`` too): a
  member with a non-ASCII local part must write it in From exactly as the
  forum has it, or use a reply token.
* A domain is compared as the DNS name it is: ASCII labels as they are, an
  internationalised one converted to A-labels by IDNA 2008 (RFC 5891) without
  the UTS 46 mapping, which would map U+212A to ``k`` and ``ß`` to ``ss`` (the
  latter is another domain, with another owner).  A domain IDNA 2008 refuses
  has no form: it proves nothing.

The database compares member addresses with the same ASCII-only folding
(``store.inbound.replier_by_email``).
"""

from __future__ import annotations

import idna

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """``text`` with A-Z folded to a-z and every other character left as it is."""
    return text.translate(_ASCII_LOWER)


def address_key(address: str) -> str:
    """The form in which two addresses are the same person's: ASCII-folded, spaces trimmed."""
    return ascii_lower(address.strip(" \t"))


def domain_key(domain: str) -> str:
    """A domain as the DNS name it is (ASCII, A-labels), or "" when it is not one.

    Accepts ``example.org``, ``@example.org`` and ``bob@example.org``; a
    trailing dot (the root) is dropped.
    """
    name = ascii_lower(domain.strip().rpartition("@")[2].strip().rstrip("."))
    if not name or name.isascii():
        return name
    try:
        # Strict IDNA 2008: no mapping, so a character that is not PVALID
        # (an upper-case letter, U+212A, a compatibility form) refuses the name.
        return idna.encode(name, uts46=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return ""

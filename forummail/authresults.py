"""Proof of sender: what the administrator's own mail server says about the ``From`` domain.

The one rule (SPEC section 5): only the topmost ``Authentication-Results``
header whose authserv-id is ``OPTS['replier_authserv_id']`` is believed.  The
receiving server writes its header on top of the ones already there and
removes those claiming its own id on mail from outside (RFC 8601 section 5);
every other header, and every one below ours, was written by whoever sent
the mail and is only a claim (RFC 8601 section 7.1).

Only the plain form our server writes counts as ours: optional white space,
the bare authserv-id (any ASCII case), an optional version, then ``;``
(``ours_re``).  The receiving server's rule that strips forged headers (the
README's Postfix ``header_checks`` line) matches at least that form, so a
header the sender wrote in it never reaches us; a quoted id, a comment before
it, a trailing dot or an encoded word would slip past such a rule, so those
headers are someone else's and prove nothing.

That header proves the sender when it says ``dmarc=pass`` for the ``From``
domain, or ``dkim=pass`` for a signing domain aligned with it (RFC 7489
section 3.1.1).  It disproves it when it says ``dmarc=fail``.  Domains are
compared as DNS names (``identity.domain_key``): an internationalised From
domain is proven only where the header names it in A-labels, the one form
that says which name was checked.

We read the header ourselves rather than with the ``authres`` package: on
real headers that package drops the whole header at a trailing ``;`` (as
Microsoft writes it) or at ``smtp.mailfrom=<>`` (bounces), raises
RecursionError on nested comments, and takes seconds on a header with a few
thousand results; we need only three properties, read in one linear pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .headerfields import strip_comments
from .identity import domain_key
from .parse import ParsedMail

PASS, FAIL, NONE = "pass", "fail", "none"

# One token of a resinfo: runs of non-space text and quoted strings.
_TOKEN_RE = re.compile(r'(?:[^\s"]+|"(?:[^"\\]|\\.)*")+')
_EQUALS_RE = re.compile(r"\s*=\s*")  # RFC 8601 section 2.2 allows CFWS around "="


@dataclass(frozen=True)
class Result:
    """One ``method=result`` with its ``ptype.property`` values (lower case)."""

    method: str
    result: str
    props: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Header:
    authserv_id: str
    results: list[Result]


@dataclass(frozen=True)
class Proof:
    """``verdict`` is PASS, FAIL or NONE; ``detail`` says why, for the administrator."""

    verdict: str
    detail: str


def _split(value: str) -> list[str]:
    """Split at ``;`` outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def authserv_id(value: str) -> str:
    """The authserv-id a header starts with, lower case; "" when it starts with a result.

    Microsoft 365 writes its headers with no authserv-id at all
    (``spf=pass (sender IP is ...) ...``): such a header cannot be told
    apart from one the sender wrote, so it names no id.
    """
    text = strip_comments(value)
    if text is None:
        text = value.partition("(")[0]
    first = text.split(";", 1)[0].split()
    if not first or "=" in first[0]:
        return ""
    return _unquote(first[0]).lower().rstrip(".")


def parse(value: str) -> Header | None:
    """One ``Authentication-Results`` value (RFC 8601 section 2.2); None if unreadable."""
    text = strip_comments(value)
    if text is None:
        return None
    segments = _split(_EQUALS_RE.sub("=", text))
    head = authserv_id(value)
    if not head or not segments:
        return None
    results = []
    for segment in segments[1:]:
        tokens = _TOKEN_RE.findall(segment)
        if not tokens or tokens == ["none"]:
            continue
        method, eq, result = tokens[0].partition("=")
        if not eq or not method or not result:
            continue  # a resinfo we cannot read proves nothing
        props: dict[str, list[str]] = {}
        for token in tokens[1:]:
            key, eq, val = token.partition("=")
            if eq and "." in key:
                props.setdefault(key.lower(), []).append(_unquote(val))
        results.append(Result(method.partition("/")[0].lower(), result.lower(), props))
    return Header(head, results)


def _claimed(value: str) -> str:
    """A domain a result names (``header.from``, ``header.d``, ``header.i``), as a DNS name.

    Only ASCII: a U-label does not say which DNS name the server checked
    (IDNA 2003 maps ``straße`` to ``strasse``, IDNA 2008 does not).
    """
    value = _unquote(value.strip())
    return domain_key(value) if value.isascii() else ""


def from_domain(mail: ParsedMail) -> str:
    """The domain of the one ``From`` address, as a DNS name; "" when From does not name exactly one.

    ``mail.from_addr`` is the address members are matched by; ``from_sole``
    says every reading of the header found that one address and no other
    (headerfields.sole_from), so the domain proven is that address's, local part and all.
    """
    if not mail.from_sole or "@" not in mail.from_addr:
        return ""
    return domain_key(mail.from_addr)


def _aligned(signer: str, domain: str) -> bool:
    """A DKIM signer aligned with the From domain, strictly or as a parent of it.

    Relaxed alignment (RFC 7489 section 3.1.1) compares organisational domains,
    which needs the Public Suffix List; we accept the subset that needs none:
    the From domain itself or a parent (only its owner publishes keys there).
    A sibling or child signer, which relaxed alignment would accept, is not.
    """
    return bool(signer) and "." in signer and (domain == signer or domain.endswith("." + signer))


def ours_re(server_id: str) -> re.Pattern[str]:
    """The start of a header our server wrote: white space, the bare id, an optional version, ``;``.

    ASCII-only case folding: ``re.IGNORECASE`` alone lets ``k`` match U+212A.
    """
    return re.compile(r"[ \t\r\n]*%s(?:[ \t\r\n]+[0-9]+)?[ \t\r\n]*;" % re.escape(server_id),
                      re.ASCII | re.IGNORECASE)


def ours(mail: ParsedMail, server_id: str) -> tuple[Header | None, str]:
    """The topmost header of our server, parsed, with a note when there is none or it is unreadable."""
    start = ours_re(server_id)
    for name, value in mail.message.raw_items():
        if name.lower() != "authentication-results":
            continue
        # Raw, not decoded: an encoded word must not turn a claim into our id.
        if not start.match(str(value)):
            continue
        text = " ".join(str(value).split())
        header = parse(text)
        return header, "" if header else "the Authentication-Results of %s is unreadable" % server_id
    return None, "no Authentication-Results of %s" % server_id


def check(mail: ParsedMail, server_id: str) -> Proof:
    """What our own receiving server (authserv-id ``server_id``) proves about the From domain."""
    server_id = server_id.strip().rstrip(".")
    if not server_id:
        return Proof(NONE, "OPTS['replier_authserv_id'] is not set: only a reply token proves the sender")
    header, note = ours(mail, server_id)
    if header is None:
        return Proof(NONE, note)
    dmarc = [r for r in header.results if r.method == "dmarc"]
    if any(r.result == "fail" for r in dmarc):
        return Proof(FAIL, "%s says dmarc=fail" % server_id)
    domain = from_domain(mail)
    if not domain:
        return Proof(NONE, "From does not name exactly one address with a domain")
    for r in dmarc:
        if r.result == "pass" and domain in [_claimed(v) for v in r.props.get("header.from", [])]:
            return Proof(PASS, "%s says dmarc=pass for %s" % (server_id, domain))
    for r in header.results:
        if r.method == "dkim" and r.result == "pass":
            signers = [_claimed(v) for v in r.props.get("header.d", []) + r.props.get("header.i", [])]
            if any(_aligned(s, domain) for s in signers):
                return Proof(PASS, "%s says dkim=pass aligned with %s" % (server_id, domain))
    return Proof(NONE, "%s says no dmarc=pass or aligned dkim=pass for %s" % (server_id, domain))

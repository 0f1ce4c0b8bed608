"""Malformed and hostile email, generated (hypothesis) and mangled from the real-client corpus.

Every message comes with the ground truth the tests check against: whether it
carries an unambiguous mark of automatic mail (RFC 3834 ``Auto-Submitted``,
``Precedence: bulk``, an empty ``Return-Path``, ``List-Id``...).  The mark is
put on the first header line, where no mangling can hide it.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from email.utils import format_datetime
from pathlib import Path

from hypothesis import strategies as st

from forummail import token
from tests.corpus import CORPUS

# Marks of automatic mail, as the first header line.
AUTO_MARKS = (
    b"Auto-Submitted: auto-replied",
    b"Auto-Submitted: auto-generated; owner-email=\"x@y.example\"",
    b"AUTO-SUBMITTED:   Auto-Notified",
    b"Precedence: bulk",
    b"Precedence: junk",
    b"Precedence: list",
    b"Return-Path: <>",
    b"List-Id: Developers <dev.lists.example.org>",
    b"X-Autoreply: yes",
)

# Values that have broken mail software before.
TRICKS = (
    "Eve\r\nBcc: victim@example.org",
    "Eve\nX-Injected: 1",
    "=?utf-8?q?Eve=0D=0ABcc:_victim@example.org?=",
    "=?utf-8?b?RXZlDQpCY2M6IHZpY3RpbUBleGFtcGxlLm9yZw==?=",
    "=?bogus-charset?q?caf=E9?=",
    "=?utf-8?x?unknown-encoding?=",
    "=?utf-8?b?!!!not base64!!!?=",
    "=?iso-8859-1?q?=A4=A4?= =?utf-8?b?4oKs?=",
    '"unterminated <a@b',
    "<<<>>>@@@",
    "a@b@c",
    "\x00\x01\x02",
    "\u202eevil\u202c",
    "\u2028line\u2029separators",
    "x" * 3000,
    "<" + "a" * 900 + "@example.com>",
    "Mallory <bob@example.com>, Bob <bob@example.com>",
    "undisclosed-recipients:;",
    "MAILER-DAEMON@mx.example.net",
    "noreply@example.com",
    "()<>[]:;@\\,.\"",
    "",
)

HEADER_NAMES = ("From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References", "Date", "Reply-To",
                "Delivered-To", "X-Original-To", "Content-Type", "Content-Transfer-Encoding", "MIME-Version",
                "Sender", "X-Mailer", "Content-Disposition")

CONTENT_TYPES = ("text/plain", "text/html", "text/plain; charset=utf-8", "text/plain; charset=\"bogus\"",
                 "text/html; charset=x-unknown", "text/plain; format=flowed; delsp=yes",
                 "multipart/alternative", "multipart/mixed; boundary=", "multipart/report", "message/rfc822",
                 "application/octet-stream; name=\"../../etc/passwd\"", "image/png", "text/vcard",
                 "application/pkcs7-signature", "text/\x00plain", "", ";;;", "multipart/mixed; boundary=\"x\"")


@dataclass
class World:
    """What the generated mail may refer to: our users, their task, valid and broken tokens."""

    secret: str
    users: dict[int, str]  # id -> address
    task: int
    replier: str  # the local part of our reply address, e.g. "replies"
    domain: str

    def addresses(self) -> list[str]:
        good = [(u, token.make(self.secret, u, self.task, date.today() + timedelta(days=30))) for u in self.users]
        found = []
        for _user, tok in good:
            found.append("%s+%s@%s" % (self.replier, tok, self.domain))
            found.append("%s+%s@%s" % (self.replier, tok[:-1] + ("a" if tok[-1] != "a" else "b"), self.domain))
        expired = token.make(self.secret, next(iter(self.users)), self.task, date.today() - timedelta(days=2))
        foreign = token.make("another-installation-secret-0123", next(iter(self.users)), self.task,
                             date.today() + timedelta(days=9))
        return found + ["%s+%s@%s" % (self.replier, t, self.domain) for t in (expired, foreign)] + [
            "%s@%s" % (self.replier, self.domain), *self.users.values()]


def _encode(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def header_values(world: World) -> st.SearchStrategy[bytes]:
    addresses = world.addresses()
    text = st.one_of(
        st.text(max_size=60),
        st.sampled_from(TRICKS),
        st.sampled_from(addresses),
        st.builds(lambda n, a: "%s <%s>" % (n, a), st.sampled_from(TRICKS + ("Bob",)), st.sampled_from(addresses)),
        st.builds(lambda raw: "=?utf-8?b?%s?=" % base64.b64encode(raw).decode(), st.binary(max_size=40)),
        st.sampled_from(("[#%d] Re: the task" % world.task, "Re: [#99999999] gone", "Automatic reply: away",
                         "<task.%d@%s>" % (world.task, world.domain), "Mon, 32 Foo 99999 25:61:61 +9999")),
        st.sampled_from((format_datetime(__import__("datetime").datetime.now().astimezone()),
                         "Tue, 01 Jan 2019 10:00:00 +0000")),
    )
    return st.one_of(text.map(_encode), st.binary(max_size=60).filter(lambda b: b"\n" not in b))


def bodies(depth: int = 3) -> st.SearchStrategy[bytes]:
    leaf = st.one_of(
        st.text(max_size=300).map(_encode),
        st.binary(max_size=300),
        st.integers(1, 40).map(lambda n: b"a long body line " * (n * 150)),  # up to 100 KB
        st.sampled_from((b"<html><body><p>Yes.</p><blockquote>quoted</blockquote></body></html>",
                         b"<div><p>unclosed <b>tags <table><tr><td>cell", b"=E9=\r\n=ZZ=\r\n",
                         b"!!!!base64????", b"-- \r\nsig only", b"\r\n.\r\n..\r\n",
                         b"Thanks!\r\n\r\nOn Mon, Jan 1, 2024 at 10:00 AM Ann <a@b> wrote:\r\n> old\r\n",
                         b"<a href='javascript:alert(1)'>x</a><script>alert(1)</script><style>p{}</style>")),
    )

    def multipart(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
        return st.builds(_multipart, st.lists(st.tuples(st.sampled_from(CONTENT_TYPES), children), max_size=4),
                         st.sampled_from(("b1", "", "b1\"", "=_x", "a" * 80)), st.booleans())

    return st.recursive(leaf, multipart, max_leaves=6)


def _multipart(parts: list[tuple[str, bytes]], boundary: str, close: bool) -> bytes:
    b = boundary.encode()
    out = [b"Content-Type: multipart/mixed; boundary=\"" + b + b"\"\r\n\r\npreamble\r\n"]
    for content_type, body in parts:
        out.append(b"--" + b + b"\r\nContent-Type: " + _encode(content_type) + b"\r\n\r\n" + body + b"\r\n")
    if close:
        out.append(b"--" + b + b"--\r\n")
    return b"".join(out)


@st.composite
def hostile_messages(draw: st.DrawFn, world: World) -> tuple[bytes, bool]:
    """(raw message, carries a mark of automatic mail)."""
    lines: list[bytes] = []
    automatic = draw(st.booleans())
    if automatic:
        lines.append(draw(st.sampled_from(AUTO_MARKS)))
    values = header_values(world)
    if draw(st.integers(0, 3)) == 0:
        # A member's reply to their own reply address, the rest hostile: without it
        # the posting path is reached only through the (optional) corpus.
        user = draw(st.sampled_from(sorted(world.users)))
        tok = token.make(world.secret, user, world.task, date.today() + timedelta(days=30))
        lines += [b"From: Member <" + world.users[user].encode() + b">",
                  b"To: %s+%s@%s" % (world.replier.encode(), tok.encode(), world.domain.encode())]
    for name in draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=14)):
        lines.append(name.encode() + b": " + draw(values))
    if draw(st.booleans()):
        lines.append(b"Message-ID: <%d.hostile@test>" % draw(st.integers(0, 10**12)))
    separator = draw(st.sampled_from((b"\r\n", b"\n", b"\r")))
    body = draw(bodies())
    raw = separator.join(lines) + separator + separator + body
    if draw(st.integers(0, 9)) == 0:
        raw = raw.replace(b"\r\n", b"\r")  # bare CRs
    return raw, automatic


# --- the corpus, mangled -------------------------------------------------------------------


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in ("LICENSE", "README.md"))


def _as_email(path: Path, world: World, rng: random.Random) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".eml":
        return data
    user = rng.choice(list(world.users))
    kind = "html" if path.suffix == ".html" else "plain"
    to = rng.choice(world.addresses())
    return (b"From: User <" + world.users[user].encode() + b">\r\nTo: " + to.encode()
            + b"\r\nSubject: Re: [#%d] the task\r\nMessage-ID: <%s.%d@corpus.test>\r\n" % (
                world.task, path.stem.encode(), rng.randrange(10**9))
            + b"Content-Type: text/" + kind.encode() + b"; charset=utf-8\r\n\r\n" + data)


def _mangle(raw: bytes, rng: random.Random) -> bytes:
    how = rng.randrange(10)
    if how == 0:  # truncated anywhere
        return raw[:rng.randrange(len(raw) + 1)]
    if how == 1:  # bytes flipped
        data = bytearray(raw)
        for _ in range(rng.randint(1, 30)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if how == 2:  # a lying charset
        return raw.replace(b"charset=", b"charset=x-nonexistent-").replace(b"utf-8", b"koi8-r", 1)
    if how == 3:  # headers doubled and mixed
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        rng.shuffle(lines)
        return b"\r\n".join(lines + lines[: rng.randint(0, len(lines))]) + b"\r\n\r\n" + body
    if how == 4:  # NULs and controls sprinkled
        data = bytearray(raw)
        for _ in range(rng.randint(1, 20)):
            data.insert(rng.randrange(len(data) + 1), rng.choice((0, 1, 8, 11, 12, 27, 127)))
        return bytes(data)
    if how == 5:  # no header/body separator at all
        return raw.replace(b"\r\n\r\n", b"\r\n", 1).replace(b"\n\n", b"\n", 1)
    if how == 6:  # every line ending different
        return raw.replace(b"\r\n", rng.choice((b"\n", b"\r", b"\n\r")))
    if how == 7:  # one enormous line
        return raw.replace(b"\r\n", b" ", rng.randint(1, 400))
    if how == 8:  # boundaries broken
        return raw.replace(b"boundary=", b"boundary=broken").replace(b"--", b"-", rng.randint(1, 5))
    return raw[: len(raw) // 2] + b"\r\n--\r\nContent-Type: message/rfc822\r\n\r\n" + raw  # nested copy


def mangled_corpus(world: World, rng: random.Random, variants: int) -> Iterator[tuple[bytes, bool]]:
    """``variants`` mangled versions of each corpus file; a third of them marked automatic."""
    for path in corpus_files():
        for _ in range(variants):
            raw = _mangle(_as_email(path, world, rng), rng)
            automatic = rng.randrange(3) == 0
            if automatic:
                raw = rng.choice(AUTO_MARKS) + b"\r\n" + raw
            yield raw, automatic

"""forummail.addresses and logs.escape: pure functions, tested as such."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forummail import addresses
from forummail.addresses import InvalidAddress, Mailbox
from forummail.logs import escape


@pytest.mark.parametrize(("address", "why"), [
    ("not-an-address", "must have an @-sign"),
    ("root", "must have an @-sign"),
    ("a@b@example.com", "invalid characters: '@'"),
    ("ann smith@example.com", "SPACE"),
    ("ann@-bad-.example.com", "hyphen"),
    ("ann@" + "x" * 64 + ".example.com", "1 character too many"),
    ("x" * 65 + "@example.com", "too long before the @-sign"),
    ("cy@x.test\r\nBcc: victim@example.com", "U+000A"),
    ("cy@x.test>\r\nRCPT TO:<victim@example.com", "U+000D"),
    ("ann@example.com\n", "U+000A"),
    ("Ann <ann@example.com>", "display name"),
    ("ann@x.invalid", "special-use"),
    ("", "must have an @-sign"),
    ("bob@192.0.2.1", "the domain is an IP address"),
    ("x@1.2.3.4.", "the domain is an IP address"),
    ("a%b.example@relay.test", "source routes"),
    ("a!b@relay.test", "source routes"),
])
def test_what_is_not_a_mailbox_says_which_and_why(address: str, why: str) -> None:
    with pytest.raises(InvalidAddress) as caught:
        addresses.mailbox(address)
    text = str(caught.value)
    assert why in text
    assert "\n" not in text and "\r" not in text
    assert text.startswith("<%s" % escape(address)[:20])


def test_line_breaks_are_named_escaped() -> None:
    text = addresses.problem("cy@x.test\r\nBcc: victim@example.com")
    assert text.startswith(r"<cy@x.test\r\nBcc: victim@example.com> is not a valid email address")


@pytest.mark.parametrize(("address", "wire", "smtputf8"), [
    ("bob@example.com", "bob@example.com", False),
    ("Bob.Builder+forum@Example.COM", "Bob.Builder+forum@example.com", False),
    ("bob@bücher.example", "bob@xn--bcher-kva.example", False),
    ("bob@xn--bcher-kva.example", "bob@xn--bcher-kva.example", False),
    ("bob@straße.de", "bob@xn--strae-oqa.de", False),  # IDNA 2008: not "strasse"
    ("jörg@exämple.de", "jörg@xn--exmple-cua.de", True),
    ("用户@例子.广告", "用户@xn--fsqu00a.xn--4rr70v", True),
    ("root@localhost", "root@localhost", False),  # an installation's own relay
    ("ann@corp.local", "ann@corp.local", False),
])
def test_wire_form(address: str, wire: str, smtputf8: bool) -> None:
    assert addresses.mailbox(address) == Mailbox(wire, smtputf8)
    assert addresses.problem(address) == ""


_ASCII = st.text(st.sampled_from("abZ09.-_+@!'~ \"<>\r\n\t[]:;,\\x"), max_size=30)


@settings(max_examples=400, deadline=None)
@given(_ASCII)
def test_the_fast_path_agrees_with_email_validator(address: str) -> None:
    # The pattern that spares us email-validator's import must never accept
    # what email-validator refuses, nor give another form.
    if addresses._PLAIN.fullmatch(address) is None or addresses._routing(address):
        return  # (source routes and IP domains are refused before either path)
    fast = addresses._mailbox.__wrapped__(address)
    try:
        slow = addresses._validated(address)
    except InvalidAddress:
        slow = None
    assert fast == slow


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[a-z0-9_+-]{1,70}@[a-z0-9-]{1,70}(\.[a-z0-9-]{1,70}){0,4}", fullmatch=True))
def test_the_fast_path_agrees_on_address_shaped_text(address: str) -> None:
    if addresses._routing(address):
        return  # refused before either path
    fast: Mailbox | None
    try:
        fast = addresses._mailbox.__wrapped__(address)
    except InvalidAddress:
        fast = None
    try:
        slow = addresses._validated(address)
    except InvalidAddress:
        slow = None
    assert fast == slow


def test_escape_shows_control_characters() -> None:
    assert escape("plain é text") == "plain é text"
    assert escape("a\r\nb\tc\x00d\x1b[31m\u2028\u202e\ud800") == r"a\r\nb\tc\x00d\x1b[31m\u2028\u202e\ud800"
    # Invisible or look-alike characters that would make a bad address read as a good one.
    assert escape("x\u200f@y.test\u3000\ufeff\u061c\u200b") == r"x\u200f@y.test\u3000\ufeff\u061c\u200b"
    assert escape("Re\u00a0: caf\u00e9") == "Re\u00a0: caf\u00e9"  # French no-break space is text

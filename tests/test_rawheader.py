"""rawheader.measure: the header block and its fields measured on the bytes (a pure function)."""

from __future__ import annotations

from forummail.parse import parse_headers
from forummail.rawheader import Oversize, measure

HEAD = b"From: Bob <bob@example.com>\r\nTo: reply@forum.test\r\nSubject: Hi\r\n"


def test_within_the_limits_nothing_is_said_and_the_email_is_parsed_as_it_is() -> None:
    raw = HEAD + b"References: <a@b>\r\n <c@d>\r\n\r\nBody: not a header\r\n" + b"x" * 300000
    assert measure(raw, 1024, 512).oversize is None
    assert parse_headers(raw, 1024, 512).oversize is None


def test_a_folded_field_is_measured_whole_and_only_the_other_fields_are_kept() -> None:
    long_to = b"To: " + b"\r\n ".join([b"p@example.com,"] * 100) + b"\r\n"
    head = measure(b"From: bob@example.com\r\n" + long_to + b"Subject: Hi\r\n\r\nbody", 1 << 20, 1000)
    assert head.oversize == Oversize("To", len(long_to), 1000)
    assert head.kept == b"From: bob@example.com\r\nSubject: Hi\r\n\r\n"
    mail = parse_headers(b"From: bob@example.com\r\n" + long_to + b"Subject: Hi\r\n\r\nbody", 1 << 20, 1000)
    assert (mail.from_addr, mail.to, mail.subject, mail.oversize) == ("bob@example.com", [], "Hi", head.oversize)


def test_a_block_over_its_limit_is_read_no_further_and_cut_at_a_whole_field() -> None:
    raw = HEAD + b"".join(b"X-F%d: %s\r\n" % (i, b"y" * 50) for i in range(100)) + b"\r\nbody"
    head = measure(raw, 1000, 500)
    assert head.oversize == Oversize("", 1001, 1000)
    assert head.kept.startswith(HEAD) and head.kept.endswith(b"\r\n\r\n") and len(head.kept) <= 1002


def test_the_content_type_has_its_own_fixed_limits_and_a_strange_name_is_not_repeated() -> None:
    nested = b"Content-Type: text/plain; " + b"(" * 51 + b"\r\n"
    assert measure(HEAD + nested + b"\r\n", 1 << 20, 1 << 16).oversize == Oversize("Content-Type", len(nested), 0)
    assert measure(HEAD + b"Content-Type: text/plain; " + b"(" * 50 + b"\r\n\r\n").oversize is None
    odd = b"X-\x7fname: " + b"z" * 3000 + b"\r\n"
    assert measure(HEAD + odd + b"\r\n", 1 << 20, 2048).oversize is None  # not a header line: the body starts there
    weird = b"X-" + b"n" * 60 + b": " + b"z" * 3000 + b"\r\n"
    assert measure(HEAD + weird + b"\r\n", 1 << 20, 2048).oversize == Oversize("(a name that is not one)",
                                                                                len(weird), 2048)

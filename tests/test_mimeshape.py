"""mimeshape.measure (a pure function) sees the tree the email package would build."""

from __future__ import annotations

from email import policy
from email.message import Message
from email.parser import BytesParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forummail.mimeshape import Shape, measure
from tests.faults.hostile import World, hostile_messages
from tests.faults.poison import poison

UNLIMITED = 10**9


def email_tree(raw: bytes) -> Shape:
    """Depth and number of parts of the tree email.parser builds (the reference)."""
    depth = parts = 0

    def walk(part: Message, level: int) -> None:
        nonlocal depth, parts
        parts += 1
        depth = max(depth, level)
        if part.is_multipart():
            for child in part.get_payload():
                walk(child, level + 1)

    walk(BytesParser(policy=policy.default).parsebytes(raw), 1)
    return Shape(depth=depth, parts=parts)


def test_every_poison_structure_measures_as_the_email_package_parses_it() -> None:
    for item in poison(b"bob@example.com", b"replies@forum.test"):
        if "2000" in item.kind or "5000" in item.kind or "comments" in item.kind:
            # The reference itself gives up (RecursionError: in the structure, or in the
            # top Content-Type, which the email package parses while reading the header).
            continue
        assert measure(item.raw, UNLIMITED, UNLIMITED) == email_tree(item.raw), item.kind


def test_part_headers_without_a_blank_line_do_not_hide_parts() -> None:
    # email.feedparser ends a header block at the first line that is not a header:
    # were the scanner to wait for a blank line, 500 parts would read as one.
    body = b"".join(b"--w\nContent-Type: text/plain\nnot a header\n" for _ in range(500)) + b"--w--\n"
    raw = b"From: a@b.example\nContent-Type: multipart/mixed; boundary=w\n\n" + body
    assert measure(raw, UNLIMITED, UNLIMITED) == email_tree(raw) == Shape(depth=2, parts=501)
    assert measure(raw, 20, 200).parts == 201  # stops counting just past the limit


def test_deep_structures_stop_at_the_limit() -> None:
    opens = b"".join(b"--d%d\nContent-Type: multipart/mixed; boundary=d%d\n\n" % (i - 1, i) for i in range(1, 2000))
    raw = b"Content-Type: multipart/mixed; boundary=d0\n\n" + opens
    assert measure(raw, 20, 200) == Shape(depth=21, parts=21)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_hostile_messages_measure_as_the_email_package_parses_them(data: st.DataObject) -> None:
    world = World(secret="s" * 20, users={1: "a@example.com"}, task=1, replier="replies", domain="forum.test")
    raw, _ = data.draw(hostile_messages(world))
    assert measure(raw, UNLIMITED, UNLIMITED) == email_tree(raw)

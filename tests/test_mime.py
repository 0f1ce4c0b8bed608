"""The MIME writer: whatever the text, a standard parser reads back exactly what we wrote."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from forummail import mime

# Any text a forum message may hold: every plane, control characters aside
# from newlines (the database and templates never produce the others).
TEXT = st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc"),
                                      blacklist_characters="\u2028\u2029\x85"), max_size=80)
                | st.sampled_from(["\n", "\t", ".", "\n.\n", "From ", "=", "--=_fm_", " ", " \n"]),
                max_size=12).map("".join)
HEADER = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=200)


def parse(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def normal(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=300, deadline=None)
@given(text=TEXT, html=TEXT, subject=HEADER, name=HEADER.map(lambda n: n[:150]))
def test_round_trip(text: str, html: str, subject: str, name: str) -> None:
    subject, name = " ".join(subject.split()) or "x", " ".join(name.split()) or "x"
    data = mime.build([("From", mime.address(name, "a@example.com")), ("Subject", subject)], text, html)
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")
    msg = parse(data)
    assert msg["Subject"] == subject
    assert msg["From"].addresses[0].display_name == name
    assert msg["From"].addresses[0].addr_spec == "a@example.com"
    assert normal(msg.get_body(("plain",)).get_content()) == normal(text)  # type: ignore[union-attr]
    assert normal(msg.get_body(("html",)).get_content()) == normal(html)  # type: ignore[union-attr]


def test_text_only_and_attachment() -> None:
    msg = parse(mime.build([("Subject", "s")], "héllo\n"))
    assert msg.get_content_type() == "text/plain" and normal(msg.get_content()) == "héllo\n"
    raw = bytes(range(256)) * 40
    msg = parse(mime.build([("Subject", "s")], "see attached", "<p>see</p>", ("original.eml", raw)))
    assert msg.get_content_type() == "multipart/mixed"
    part = next(msg.iter_attachments())
    assert part.get_filename() == "original.eml" and part.get_content() == raw
    assert normal(msg.get_body(("plain",)).get_content()) == "see attached"  # type: ignore[union-attr]


def test_long_ascii_subject_is_folded_not_cut() -> None:
    subject = " ".join(["word"] * 60)
    data = mime.build([("Subject", subject)], "x")
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    assert parse(data)["Subject"] == subject


def test_encoded_word_lookalikes_are_shown_as_typed() -> None:
    tricky = "=?utf-8?q?Eve=0D=0ABcc:_victim@example.org?="
    msg = parse(mime.build([("From", mime.address(tricky, "a@example.com")), ("Subject", tricky)], "x"))
    assert msg["Subject"] == tricky
    assert msg["From"].addresses[0].display_name == tricky
    assert msg["Bcc"] is None

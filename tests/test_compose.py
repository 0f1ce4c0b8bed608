"""Compose: headers, threading, reply address, injection safety, templates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from forummail import settings, tags, token
from forummail.compose import Composer, download_url
from forummail.errors import ConfigError
from forummail.store.outgoing import Job

SECRET = "compose-secret-0123456789"


def make_settings(tmp_path: Path, top: str = "", opts: str = "") -> settings.Settings:
    path = tmp_path / "cron_conf.py"
    path.write_text(
        "MAIL_FROM = 'Forum <noreply@forum.test>'\nMAIL_SMTP = 'localhost'\nMAIL_ADMIN = 'admin@forum.test'\n"
        + top + "\nOPTS = {'replier_from_addr': 'Forum reply <replies@forum.test>',"
        " 'replier_downloader_url': 'https://files.test/dl.php?db=1&', " + opts + "}\n")
    (tmp_path / ".env").write_text("REPLY_TOKEN_SECRET=%s\n" % SECRET)
    return settings.load(str(path))


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPLY_TOKEN_SECRET", raising=False)


def job(**kw: Any) -> Job:
    values: dict[str, Any] = dict(
        id=7, kind="message", recipient="bob@example.com", attempts=0, user_id=2,
        recipient_name="Bob Builder", task_id=42, task_name="Render farm", universe_id=1,
        universe_name="Studio", allow_email_reply=True, message_id=9, message_body="Hello <b>Bob</b>",
        author_id=1, author_name="Ann Author", attachments=[("plan.pdf", "abc123", 2048)])
    values.update(kw)
    return Job(**values)


def parse(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_message_headers_and_reply_token(tmp_path: Path) -> None:
    out = Composer(make_settings(tmp_path)).compose(job(), today=date(2026, 11, 21))
    msg = parse(out.data)
    assert msg["From"] == "Ann Author <noreply@forum.test>"
    assert msg["To"] == "Bob Builder <bob@example.com>"
    assert msg["Subject"] == "[#42] Render farm"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["X-Notification-Type"] == "message"
    assert msg["In-Reply-To"] == msg["References"] == "<task.42@forum.test>"
    # The envelope sender is the reply mailbox's bounce address, tagged for row 7 (VERP).
    assert out.recipients == ["bob@example.com"] and out.sender == tags.bounce_address("replies@forum.test", SECRET, 7)
    reply_to = msg["Reply-To"].addresses[0].addr_spec
    tok = token.find(reply_to)
    assert tok and reply_to == "replies+%s@forum.test" % tok
    data = token.verify([SECRET], tok, date(2026, 11, 21))
    assert (data.user_id, data.task_id) == (2, 42)
    # Mirrored in the Message-ID for servers that drop sub-addresses.
    assert token.find(msg["Message-ID"]) == tok
    assert b"\r\n" in out.data and b"\n" not in out.data.replace(b"\r\n", b"")


def test_body_parts_separator_and_links(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    msg = parse(Composer(s).compose(job()).data)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert text.startswith(s.replies.replier_separator)
    assert "Hello <b>Bob</b>" in text
    assert "Hello &lt;b&gt;Bob&lt;/b&gt;" in html  # escaped in HTML
    link = "https://files.test/dl.php?db=1&hash=abc123&name=plan.pdf"
    assert link in text and link.replace("&", "&amp;") in html
    assert "plan.pdf (2.0 KB)" in text


def test_no_reply_token_where_replies_are_not_allowed(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    msg = parse(Composer(s).compose(job(allow_email_reply=False)).data)
    assert msg["Reply-To"] is None
    assert token.find(msg["Message-ID"]) is None
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert s.replies.replier_separator not in text


def test_crlf_in_names_and_subjects_never_makes_a_header(tmp_path: Path) -> None:
    evil = "Eve\r\nBcc: victim@example.com\r\nX-Evil: 1"
    out = Composer(make_settings(tmp_path)).compose(
        job(author_name=evil, recipient_name=evil, task_name="Task\nBcc: victim@example.com"))
    msg = parse(out.data)
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert "Bcc" in str(msg["From"])  # kept as harmless text in the display name
    assert out.recipients == ["bob@example.com"]
    system = Composer(make_settings(tmp_path)).compose(
        job(kind="invite", subject="Welcome\r\nBcc: victim@example.com", system_body="hi", message_id=None))
    msg = parse(system.data)
    assert msg["Bcc"] is None and msg["Subject"] == "Welcome Bcc: victim@example.com"


def test_system_mail_uses_given_subject_and_body(tmp_path: Path) -> None:
    out = Composer(make_settings(tmp_path)).compose(
        job(kind="password-reset", subject="Reset your password", system_body="Click here", task_id=None,
            message_id=None, author_name=None, allow_email_reply=False))
    msg = parse(out.data)
    assert msg["Subject"] == "Reset your password"
    assert msg["From"] == "Forum <noreply@forum.test>"
    assert msg["X-Notification-Type"] == "password-reset"
    assert msg["In-Reply-To"] is None and msg["Reply-To"] is None
    assert msg.get_body(("plain",)).get_content().strip() == "Click here"  # type: ignore[union-attr]


def test_debug_sends_to_admin_marked_with_recipient(tmp_path: Path) -> None:
    out = Composer(make_settings(tmp_path, top="DEBUG = True")).compose(job())
    msg = parse(out.data)
    assert out.recipients == ["admin@forum.test"]
    assert msg["X-Intended-Recipient"] == "bob@example.com"
    assert msg["Subject"].startswith("[DEBUG for bob@example.com]")


def test_unicode_names_are_encoded(tmp_path: Path) -> None:
    out = Composer(make_settings(tmp_path)).compose(job(author_name="Jürgen Größe", task_name="Задача"))
    assert out.data.isascii() or b"=?utf-8?" in out.data
    msg = parse(out.data)
    assert msg["From"].addresses[0].display_name == "Jürgen Größe"
    assert msg["Subject"] == "[#42] Задача"


def test_administrator_templates_win(tmp_path: Path) -> None:
    mine = tmp_path / "mytemplates"
    mine.mkdir()
    (mine / "message.subject.txt").write_text("Forum: {{ task_name }}")
    s = make_settings(tmp_path, opts="'templates_dir': %r" % str(mine))
    msg = parse(Composer(s).compose(job()).data)
    assert msg["Subject"] == "Forum: Render farm"
    (mine / "message.txt").write_text("{{ no_such_value }}")
    with pytest.raises(ConfigError, match="message.txt"):
        Composer(s).compose(job())


def test_message_ids_are_unique_and_stable_per_row(tmp_path: Path) -> None:
    composer = Composer(make_settings(tmp_path))
    ids = {composer.compose(job(id=i)).message_id for i in range(200)}
    assert len(ids) == 200
    # A retry, or a re-send after a crash, another day: the same id.
    queued = datetime(2026, 11, 1, tzinfo=UTC)
    first = composer.compose(job(id=5, created_at=queued), today=date(2026, 11, 1)).message_id
    assert composer.compose(job(id=5, created_at=queued), today=date(2026, 11, 20)).message_id == first


@pytest.mark.parametrize("base,expected", [
    ("https://x/dl?a=1&", "https://x/dl?a=1&hash=h&name=a+b.txt"),
    ("https://x/dl?a=1", "https://x/dl?a=1&hash=h&name=a+b.txt"),
    ("https://x/dl", "https://x/dl?hash=h&name=a+b.txt"),
    ("", ""),
])
def test_download_url(base: str, expected: str) -> None:
    assert download_url(base, "a b.txt", "h") == expected


def test_one_message_rendered_once_for_all_followers_unless_a_template_names_them(tmp_path: Path) -> None:
    composer = Composer(make_settings(tmp_path))
    bob = composer.compose(job(id=1, recipient="bob@example.com", recipient_name="Bob"))
    cat = composer.compose(job(id=2, user_id=3, recipient="cat@example.com", recipient_name="Cat"))
    assert bob.data.split(b"MIME-Version")[1] == cat.data.split(b"MIME-Version")[1]
    assert parse(cat.data)["To"] == "Cat <cat@example.com>"
    assert token.find(str(parse(cat.data)["Reply-To"])) != token.find(str(parse(bob.data)["Reply-To"]))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "message.txt").write_text("Hello {{ recipient_name }}: {{ body }}")
    personal = Composer(make_settings(tmp_path, opts="'templates_dir': %r" % str(mine)))
    texts = [parse(personal.compose(job(id=i, recipient_name=name)).data).get_body(("plain",)).get_content()
             for i, name in ((1, "Bob"), (2, "Cat"))]  # type: ignore[union-attr]
    assert [t.split(":")[0] for t in texts] == ["Hello Bob", "Hello Cat"]


# --- after delivery: envelope sender, List-Id, List-Unsubscribe (issue 12) ---

def test_bounce_tag_names_the_row_and_cannot_be_made_for_another(tmp_path: Path) -> None:
    out = Composer(make_settings(tmp_path)).compose(job(id=7))
    assert out.sender.startswith("replies+bounces-7.") and out.sender.endswith("@forum.test")
    assert tags.bounce_notification("replies@forum.test", [SECRET], [out.sender]) == 7
    # The same signature on another row's number, or another purpose's key, proves nothing.
    forged = out.sender.replace("bounces-7.", "bounces-8.")
    assert tags.bounce_notification("replies@forum.test", [SECRET], [forged]) is None
    assert tags.bounce_notification("replies@forum.test", ["another-secret-0123456"], [out.sender]) is None


def test_bounce_addr_setting_wins_and_without_replies_mail_from(tmp_path: Path) -> None:
    out = Composer(make_settings(tmp_path, opts="'bounce_addr': 'bounces@mx.forum.test'")).compose(job())
    assert out.sender == "bounces@mx.forum.test"
    path = tmp_path / "plain"
    path.mkdir()
    (path / "cron_conf.py").write_text("MAIL_FROM = 'Forum <noreply@forum.test>'\nMAIL_SMTP = 'localhost'\n")
    (path / ".env").write_text("REPLY_TOKEN_SECRET=%s\n" % SECRET)
    plain = settings.load(str(path / "cron_conf.py"))
    assert Composer(plain).compose(job(allow_email_reply=False)).sender == "noreply@forum.test"


def test_list_headers_mailto_only_without_unsubscribe_url(tmp_path: Path) -> None:
    msg = parse(Composer(make_settings(tmp_path)).compose(job()).data)
    assert msg["List-Id"] == "<task-42.forum.test>"
    assert msg["List-Unsubscribe-Post"] is None
    link = str(msg["List-Unsubscribe"])
    assert link.startswith("<mailto:replies+unsub-") and link.endswith("@forum.test?subject=unsubscribe>")
    address = link[len("<mailto:"):].partition("?")[0]
    found = tags.find_unsubscribe("replies@forum.test", [SECRET], [address])
    assert found is not None and (found.user_id, found.task_id) == (2, 42)
    # A reply token is not an unsubscribe token, nor the other way round.
    reply_token = token.find(str(msg["Reply-To"]))
    assert reply_token and tags.verify_unsubscribe([SECRET], reply_token) is None
    unsub = address.partition("+unsub-")[2].partition("@")[0]
    with pytest.raises(token.InvalidToken):
        token.verify([SECRET], unsub, date(2026, 11, 21))


def test_one_click_with_unsubscribe_url(tmp_path: Path) -> None:
    conf = make_settings(tmp_path, opts="'unsubscribe_url': 'https://forum.test/unsubscribe?site=1'")
    msg = parse(Composer(conf).compose(job()).data)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # RFC 8058 section 3.1
    https, mailto = str(msg["List-Unsubscribe"]).split(", ")
    assert https.startswith("<https://forum.test/unsubscribe?site=1&token=") and mailto.startswith("<mailto:")
    tok = https[:-1].partition("token=")[2]
    found = tags.verify_unsubscribe([SECRET], tok)
    assert found is not None and (found.user_id, found.task_id) == (2, 42)


def test_system_mail_has_no_list_headers(tmp_path: Path) -> None:
    msg = parse(Composer(make_settings(tmp_path)).compose(job(kind="system", task_id=None, message_id=None,
                                                             subject="Hi", system_body="x")).data)
    assert msg["List-Id"] is None and msg["List-Unsubscribe"] is None


@pytest.mark.parametrize("url", ["http://forum.test/u", "forum.test/u", "https://", "https://forum.test/u#x"])
def test_unsubscribe_url_must_be_https(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="unsubscribe_url.*https://"):
        make_settings(tmp_path, opts="'unsubscribe_url': %r" % url)

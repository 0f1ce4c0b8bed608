"""R6: forged From, forged, foreign and expired tokens, strangers: all refused;
CR/LF and encoded-word tricks in names, subjects and addresses: never a new
header; no password in any output of the whole test suite (the check itself
lives in tests/conftest.py and runs after every test; here it is tested)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

import pytest

from forummail import token
from forummail.parse import parse_message
from tests import passwords
from tests.conftest import REPLY_SECRET, Env, Forum
from tests.faults.conftest import Figures, configure_pop
from tests.servers import DovecotServer
from tests.test_replies import gmail_reply, notification_for

INJECTED = re.compile(rb"(?im)^(bcc|cc|x-injected|to)\s*:")
TRICKS = [
    "Eve\r\nBcc: victim@example.org",
    "Eve\nX-Injected: yes",
    "Eve\rBcc: victim@example.org",
    "=?utf-8?q?Eve=0D=0ABcc:_victim@example.org?=",
    "=?utf-8?b?RXZlDQpCY2M6IHZpY3RpbUBleGFtcGxlLm9yZw==?=",
    "Eve\u2028Bcc: victim@example.org",
    "Eve\x85Bcc: victim@example.org",
    '"Eve" <victim@example.org>',
    "Eve\x01\x0b\x1b[31m",
]


def header_block(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]


def env_mail_to(env: Env, address: str) -> bytes:
    return next(m.data for m in env.smtp.messages if address in m.recipients)


def injected(data: bytes, allowed_to: set[str]) -> list[str]:
    """Headers that should not be there, on the wire (what a server or a client splits on)."""
    found = []
    head = header_block(data)
    names = [m.group(1).lower() for m in INJECTED.finditer(head)]
    if names.count(b"to") > 1 or b"bcc" in names or b"x-injected" in names or b"cc" in names:
        found.append("wire: %r" % names)
    if re.search(rb"\r(?!\n)|(?<!\r)\n", data.split(b"\r\n\r\n", 1)[0]):
        found.append("a bare CR or LF in the header block")
    msg = message_from_bytes(data, policy=policy.compat32)
    to = {a.lower() for _, a in getaddresses(msg.get_all("To", []))}
    if to - allowed_to:
        found.append("To %r" % to)
    return found


def decoded_line_breaks(data: bytes) -> list[str]:
    """Header values that a modern client decodes to text with a line break (an encoded word of CR LF)."""
    msg = message_from_bytes(data, policy=policy.default)
    found = []
    for name in msg.keys():
        try:
            text = str(msg[name])
        except Exception as exc:  # the decoder gave up on it
            found.append("%s cannot be decoded: %s" % (name, exc))
            continue
        if "\n" in text or "\r" in text:
            found.append("%s decodes to %r" % (name, text[:120]))
    return found


def test_refused_forged_from_forged_foreign_expired_tokens_and_strangers(
        env: Env, forum: Forum, pop: DovecotServer, figures: Figures) -> None:
    configure_pop(env, pop.port)
    u = forum.universe("Studio", allow_email_reply=True)
    ann, bob = forum.user(u, "Ann", "ann@example.com"), forum.user(u, "Bob", "bob@example.com")
    cat = forum.user(u, "Cat", "cat@example.com")
    gone = forum.user(u, "Gone", "gone@example.com", active=False)
    task = forum.task(u, "Render farm", [ann, bob, cat, gone])
    secret_task = forum.task(u, "Board only", [ann])
    forum.post(task, ann, "Who racks the nodes?")
    assert env.run("send_notifications.py").returncode == 0
    original = notification_for(env, "bob@example.com")
    soon = date.today() + timedelta(days=5)

    def to(tok: str) -> str:
        return "replies+%s@forum.test" % tok

    bob_token = token.find(str(original["Reply-To"]))
    assert bob_token
    forged_sig = bob_token[:-4] + ("aaaa" if not bob_token.endswith("aaaa") else "bbbb")
    cases = {
        "forged From (Cat with Bob's token)": (gmail_reply(original, "Cat <cat@example.com>", "forged 1"),
                                               "the reply came from an address the notification was not sent to"),
        # Read as bob's by email's parser and as mallory's by mail clients: nobody's.
        "forged From in the display name": (gmail_reply(original, "bob@example.com <mallory@evil.example>",
                                                        "forged 2"),
                                            "the From header does not name exactly one address"),
        # email's generator writes this name decoded and unquoted: bob@example.com <m@evil.example>.
        "forged From, encoded word": (gmail_reply(original, "=?utf-8?b?Ym9iQGV4YW1wbGUuY29t?= <m@evil.example>",
                                                  "forged 3"),
                                      "the From header does not name exactly one address"),
        "forged token signature": (gmail_reply(original, "bob@example.com", "forged 4", to=to(forged_sig)),
                                   "the reply address is not valid"),
        "token made up for another task": (gmail_reply(
            original, "bob@example.com", "forged 5",
            to=to(bob_token.replace(".%x." % task, ".%x." % secret_task, 1))), "the reply address is not valid"),
        "foreign token (another installation's secret)": (gmail_reply(
            original, "bob@example.com", "foreign",
            to=to(token.make("another-installation-secret-0123", bob, task, soon))),
            "the reply address is not valid"),
        "expired token": (gmail_reply(original, "bob@example.com", "late",
                                      to=to(token.make(REPLY_SECRET, bob, task, date.today() - timedelta(days=1)))),
                          "the reply address has expired"),
        "genuine token for a task not followed": (gmail_reply(
            original, "bob@example.com", "sneak", to=to(token.make(REPLY_SECRET, bob, secret_task, soon))),
            "the sender no longer follows the task"),
        "inactive user": (gmail_reply(original, "gone@example.com", "ghost",
                                      to=to(token.make(REPLY_SECRET, gone, task, soon))),
                          "the user account is not active"),
        "stranger, subject tag only": (_strip_thread(gmail_reply(original, "stranger@elsewhere.example", "hello",
                                                                 to="replies@forum.test")),
                                       "the sender's address could not be verified"),
        "stranger, no task at all": (_strip_thread(gmail_reply(original, "stranger@elsewhere.example", "hi",
                                                               to="replies@forum.test")).replace(
            b"[#%d]" % task, b"[no tag]"), "the email does not answer a forum notification"),
    }
    for raw, _ in cases.values():
        # In-Reply-To carries Bob's genuine token: keep only the token the case is about.
        pop.deliver(raw)
    result = env.run("fetch_replies.py")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    got = [r[0] for r in forum.conn.execute("SELECT reason FROM inbound_emails ORDER BY id")]
    figures.update(cases=len(cases), refused=sum(1 for r in got if r), posted=len(got) - sum(1 for r in got if r))
    assert got == [reason for _, reason in cases.values()]
    assert forum.conn.execute("SELECT count(*) FROM messages").fetchone() == (1,)
    assert pop.count() == 0


def _strip_thread(raw: bytes) -> bytes:
    return raw.replace(b"\nIn-Reply-To:", b"\nX-Was-In-Reply-To:").replace(b"\nReferences:", b"\nX-Was-References:")


def _tricky_run(env: Env, forum: Forum, pop: DovecotServer) -> set[str]:
    """Names, subjects and addresses with tricks, sent and answered; the addresses mail may go to."""
    configure_pop(env, pop.port)
    u = forum.universe("Studio\r\nBcc: victim@example.org", allow_email_reply=True)
    ann = forum.user(u, "Ann", "ann@example.com")
    tricksters = [forum.user(u, name, "eve%d@example.com" % i) for i, name in enumerate(TRICKS)]
    task = forum.task(u, "Budget\r\nBcc: victim@example.org =?utf-8?q?=0D=0AX-Injected:_1?=", [ann, *tricksters])
    for i, user in enumerate(tricksters):
        forum.post(task, user, "Message %d\r\nBcc: victim@example.org\r\n\r\nbody" % i)
    forum.conn.execute("SELECT enqueue_email('sys@example.com', %s, 'body', 'invite')",
                       ("=?utf-8?q?Hello=0D=0ABcc:_victim@example.org?=",))
    assert env.run("send_notifications.py").returncode == 0
    # Replies whose names, subjects and addresses carry the tricks: refused, recorded,
    # never answered (strangers), and listed in MAIL_ADMIN's hourly summary.
    for i, trick in enumerate(TRICKS):
        msg = EmailMessage()
        msg["From"] = "stranger%d@elsewhere.example" % i
        msg["To"] = "replies@forum.test"
        msg["Message-ID"] = "<trick%d@elsewhere.example>" % i
        msg.set_content("hello")
        raw = msg.as_bytes()
        if "<" not in trick:  # a second <address> would make the sender ambiguous, not tricky
            raw = raw.replace(b"From: stranger", b"From: " + _raw(trick) + b" <stranger", 1).replace(
                b"@elsewhere.example\n", b"@elsewhere.example>\n", 1)
        raw = raw.replace(b"To: replies", b"Subject: " + _raw(trick) + b"\nTo: replies", 1)
        pop.deliver(raw)
    # Ann answers for real (her reply is posted, its subject and text carry tricks).
    head = header_block(env_mail_to(env, "ann@example.com"))
    reply_to = re.search(rb"(?im)^Reply-To: .*<([^>]+)>", head)
    msgid = re.search(rb"(?im)^Message-ID: (<[^>]+>)", head)
    assert reply_to and msgid
    pop.deliver(b"From: Ann <ann@example.com>\r\nTo: " + reply_to.group(1) + b"\r\nIn-Reply-To: " + msgid.group(1)
                + b"\r\nMessage-ID: <ann-trick@example.com>\r\n"
                b"Subject: =?utf-8?q?Re=0D=0ABcc:_victim@example.org?=\r\n\r\n"
                b"Fine =?utf-8?q?=0D=0ABcc:_v@example.org?=\r\n")
    assert env.run("fetch_replies.py").returncode == 0
    assert env.run("send_notifications.py").returncode == 0

    users = {r[0].lower() for r in forum.conn.execute("SELECT email FROM users")}
    return users | {"admin@forum.test", "sys@example.com"} | {
        "stranger%d@elsewhere.example" % i for i in range(len(TRICKS))}


def test_crlf_and_encoded_word_tricks_never_make_a_header(
        env: Env, forum: Forum, pop: DovecotServer, figures: Figures) -> None:
    allowed = _tricky_run(env, forum, pop)
    problems = []
    for m in env.smtp.messages:
        if any(r.lower() not in allowed for r in m.recipients):
            problems.append("envelope to %r" % m.recipients)
        problems += injected(m.data, allowed)
    statuses = forum.statuses()
    figures.update(tricks=len(TRICKS), mails_checked=len(env.smtp.messages), problems=len(problems),
                   **{"rows_" + k: v for k, v in statuses.items()})
    assert problems == [], problems[:5]
    assert len(env.smtp.messages) >= 2 * len(TRICKS)
    assert statuses.get("pending", 0) == 0


def _raw(text: str) -> bytes:
    return text.encode("utf-8").replace(b"\r", b"").replace(b"\n", b"")


def test_password_check_of_the_whole_suite_is_active_and_catches_a_leak(tmp_path: Path) -> None:
    # The hook in tests/conftest.py looks at every test's captured output, the
    # scripts' stdout and stderr, mail.log and any file the test wrote, and the
    # mail the test SMTP servers received.
    assert passwords.CHECKED, "the password check did not run for the tests before this one"
    log = tmp_path / "deep" / "mail.log"
    log.parent.mkdir()
    log.write_text("2026-11-21T10:00:00+0000 forummail.sender[1] ERROR login failed with Smtp-Pa55-word\n")
    (tmp_path / ".env").write_text("MAIL_PSSWD=Dotenv-Only-Secret-1\n")
    found = passwords.leaks(passwords.texts_under(tmp_path), passwords.PASSWORDS | {"Dotenv-Only-Secret-1"})
    assert found == ["Smtp-Pa55-word in %s" % log]
    assert passwords.leaks(["stderr: refused the login of 'mailer'"], passwords.PASSWORDS) == []
    assert passwords.secrets_in_dotenv(tmp_path) == {"Dotenv-Only-Secret-1"}
    log.unlink()  # this test's own planted leak must not fail it


@pytest.mark.parametrize("text", ["MAIL_PSSWD=***", "password: ***"])
def test_masked_passwords_are_no_leak(text: str) -> None:
    assert passwords.leaks([text], passwords.PASSWORDS) == []


def test_encoded_word_lookalikes_in_names_and_subjects_are_sent_literally(
        env: Env, forum: Forum, pop: DovecotServer, figures: Figures) -> None:
    _tricky_run(env, forum, pop)
    problems = [p for m in env.smtp.messages for p in decoded_line_breaks(m.data)]
    figures.update(mails_checked=len(env.smtp.messages), decoded_line_breaks=len(problems))
    assert problems == [], problems[:6]


@pytest.mark.parametrize("header, address", [
    # Found by this suite: email's parser takes an unquoted address-like display name
    # for the address, where every client shows and answers the one in <...>.
    (b"bob@example.com <mallory@evil.example>", "mallory@evil.example"),
    (b'"bob@example.com" <mallory@evil.example>', "mallory@evil.example"),
    # Found by this suite: an encoded word decoded before the address was parsed
    # added an address of its own (and the refusal was answered to it).
    (b"=?utf-8?q?Eve=0D=0ABcc:_victim@example.org?= <eve@elsewhere.example>", "eve@elsewhere.example"),
    (b"=?utf-8?b?RXZlDQpCY2M6IHZpY3RpbUBleGFtcGxlLm9yZw==?= <eve@elsewhere.example>", "eve@elsewhere.example"),
    # Found by this suite: control characters made the parser return "Eve\x01\x0b\x1b" as the
    # address, taken (cleaned to "Eve", no "@") as the sender, and answered: RCPT TO:<Eve>.
    (b"Eve\x01\x0b\x1b[31m <eve@elsewhere.example>", "eve@elsewhere.example"),
    (b"Eve", ""),
    (b"Bob Smith <Bob@Example.com>", "Bob@Example.com"),
    (b"=?utf-8?q?Caf=C3=A9?= <cafe@example.org>", "cafe@example.org"),
])
def test_the_sender_is_the_address_clients_show(header: bytes, address: str) -> None:
    assert parse_message(b"From: " + header + b"\r\nTo: replies@forum.test\r\n\r\nhi").from_addr == address

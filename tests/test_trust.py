"""Proof of sender (SPEC section 5) and no backscatter, end to end on Dovecot, PostgreSQL and SMTP.

The administrator's receiving server is "mx.forum.test": its Authentication-Results
header is put on top of each test email, as that server would; everything below it,
or with another id, is what the sender wrote.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forummail import match, settings, store
from forummail.authresults import FAIL, NONE, PASS, authserv_id, check, ours_re, parse
from forummail.errors import ConfigError
from forummail.identity import address_key, domain_key
from forummail.parse import parse_message
from tests.conftest import Env, Forum
from tests.servers import DovecotServer
from tests.test_replies import configure, gmail_reply, inbound, notification_for, posted

OURS = "mx.forum.test"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tenv(env: Env, pop: DovecotServer) -> Env:
    configure(env, pop, replier_authserv_id=OURS)
    return env


@pytest.fixture
def sent(tenv: Env, forum: Forum, small_forum: dict[str, int]) -> dict[str, int]:
    forum.post(small_forum["task"], small_forum["ann"], "Can someone rack the new nodes on Thursday?")
    assert tenv.run("send_notifications.py").returncode == 0
    return small_forum


def on_top(raw: bytes, *values: str) -> bytes:
    """Authentication-Results headers put above the email, the first one topmost."""
    return b"".join(b"Authentication-Results: " + v.encode() + b"\n" for v in values) + raw


def tokenless(raw: bytes) -> bytes:
    """No reply token anywhere: the mail server dropped +TOKEN, the client dropped the thread."""
    return raw.replace(b"\nIn-Reply-To:", b"\nX-Was-In-Reply-To:").replace(b"\nReferences:", b"\nX-Was-References:")


def thread_only(raw: bytes, task: int) -> bytes:
    """Only the task's own thread id, which every follower's mail client shows."""
    return tokenless(raw).replace(b"\nX-Was-References:", b"\nReferences: <task.%d@forum.test>\nX-Old:" % task, 1)


def queued(forum: Forum) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in forum.conn.execute(
        "SELECT kind, recipient FROM notifications WHERE status = 'pending' ORDER BY id")]


def bare(renv: Env, sender: str, text: str, **kw: str) -> bytes:
    return tokenless(gmail_reply(notification_for(renv, "bob@example.com"), sender, text,
                                 to="replies@forum.test", extra=kw or None))


# --- issue 9: forgeries -------------------------------------------------------------------

def test_forgeries_are_refused_and_recorded(tenv: Env, pop: DovecotServer, forum: Forum,
                                            sent: dict[str, int]) -> None:
    original = notification_for(tenv, "bob@example.com")
    task = sent["task"]
    pass_bob = "%s; dmarc=pass header.from=example.com" % OURS
    cases = {
        "subject tag only": (bare(tenv, "bob@example.com", "f1"), match.NOT_PROVEN),
        "the task's thread id only": (thread_only(gmail_reply(original, "bob@example.com", "f2",
                                                              to="replies@forum.test"), task), match.NOT_PROVEN),
        "someone else's server claims pass": (on_top(bare(tenv, "bob@example.com", "f3"),
                                                     "mx.evil.example; dmarc=pass header.from=example.com"),
                                              match.NOT_PROVEN),
        "leaked notification, forged From, our dmarc=fail": (on_top(
            gmail_reply(original, "bob@example.com", "f4"),
            "%s; spf=fail smtp.mailfrom=evil.example; dmarc=fail (p=reject) header.from=example.com" % OURS),
            match.DMARC_FAILED),
        "forged pass below our real fail": (on_top(bare(tenv, "bob@example.com", "f5"),
                                                   "%s; dmarc=fail header.from=example.com" % OURS, pass_bob),
                                            match.DMARC_FAILED),
        "forged pass below our real none": (on_top(bare(tenv, "bob@example.com", "f6"),
                                                   "%s; dmarc=none header.from=example.com" % OURS, pass_bob),
                                            match.NOT_PROVEN),
        "Microsoft's form without an authserv-id": (on_top(
            bare(tenv, "bob@example.com", "f7"),
            "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.com; dkim=pass (signature was verified) "
            "header.d=example.com;dmarc=pass action=none header.from=example.com;compauth=pass reason=100"),
            match.NOT_PROVEN),
        "our id as an encoded word": (on_top(bare(tenv, "bob@example.com", "f8"),
                                             "=?us-ascii?q?mx.forum.test?=; dmarc=pass header.from=example.com"),
                                      match.NOT_PROVEN),
        "our id in a comment": (on_top(bare(tenv, "bob@example.com", "f9"),
                                       "(mx.forum.test) mx.evil.example; dmarc=pass header.from=example.com"),
                                match.NOT_PROVEN),
        "our pass names another domain": (on_top(bare(tenv, "bob@example.com", "f10"),
                                                 "%s; dmarc=pass header.from=evil.example" % OURS),
                                          match.NOT_PROVEN),
        "two From addresses": (on_top(bare(tenv, "bob@example.com, eve@evil.example", "f11"), pass_bob),
                               match.FROM_UNCLEAR),
        "dkim=pass by an unaligned signer": (on_top(bare(tenv, "bob@example.com", "f12"),
                                                    "%s; dkim=pass header.d=evil.example" % OURS),
                                             match.NOT_PROVEN),
        "dkim=pass by a look-alike": (on_top(bare(tenv, "bob@example.com", "f13"),
                                             "%s; dkim=pass header.d=mple.com header.i=@xample.com" % OURS),
                                      match.NOT_PROVEN),
        "pass hidden in a comment": (on_top(bare(tenv, "bob@example.com", "f14"),
                                            "%s; dmarc=none (dmarc=pass header.from=example.com)" % OURS),
                                     match.NOT_PROVEN),
    }
    for raw, _ in cases.values():
        pop.deliver(raw)
    result = tenv.run("fetch_replies.py")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert posted(forum) == []
    got = inbound(forum)
    assert got == [("rejected", reason) for _, reason in cases.values()]
    kept = forum.conn.execute("SELECT count(*) FROM inbound_emails WHERE raw IS NOT NULL").fetchone()
    assert kept == (len(cases),)
    assert pop.count() == 0
    # Proven members only are answered: of these, only the leaked notification is tied to
    # a member (the token's user), who hears of it once at the address we know.
    assert queued(forum) == [("reply-rejected", "bob@example.com")]


def test_without_the_setting_no_token_means_no_post(env: Env, pop: DovecotServer, forum: Forum,
                                                   small_forum: dict[str, int]) -> None:
    configure(env, pop)
    forum.post(small_forum["task"], small_forum["ann"], "Racks?")
    assert env.run("send_notifications.py").returncode == 0
    pop.deliver(on_top(bare(env, "bob@example.com", "no setting"), "%s; dmarc=pass header.from=example.com" % OURS))
    assert env.run("fetch_replies.py").returncode == 0
    assert posted(forum) == [] and inbound(forum) == [("rejected", match.NOT_PROVEN)]


# --- issue 9: what still posts ------------------------------------------------------------

def test_proven_replies_post_without_a_token(tenv: Env, pop: DovecotServer, forum: Forum,
                                             sent: dict[str, int]) -> None:
    original = notification_for(tenv, "bob@example.com")
    gmail = ("MX.Forum.Test;\n dkim=pass header.i=@example.com header.s=s1 header.b=abc;\n spf=pass (forum.test: "
             "domain of bob@example.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=bob@example.com;\n"
             " dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com")
    pop.deliver(on_top(bare(tenv, "Bob <bob@example.com>", "by subject, dmarc pass"), gmail))
    pop.deliver(on_top(thread_only(gmail_reply(original, "cat@example.com", "by thread, dkim aligned",
                                               to="replies@forum.test"), sent["task"]),
                       "%s 1; spf=none smtp.mailfrom=<>; dkim=pass (2048-bit key) header.d=example.com;" % OURS,
                       "mx.evil.example; dmarc=fail header.from=example.com"))
    # A token still needs nothing more; our dmarc=none does not stop it.
    pop.deliver(on_top(gmail_reply(original, "bob@example.com", "by token"), "%s; dmarc=none" % OURS))
    assert tenv.run("fetch_replies.py").returncode == 0
    assert posted(forum) == [(sent["task"], sent["bob"], "by subject, dmarc pass"),
                             (sent["task"], sent["cat"], "by thread, dkim aligned"),
                             (sent["task"], sent["bob"], "by token")]


# --- issue 15: no backscatter -------------------------------------------------------------

def test_strangers_get_no_answer_and_the_admin_one_summary_an_hour(
        tenv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    spam = EmailMessage()
    spam["From"] = "victim@thirdparty.example"
    spam["To"] = "replies@forum.test"
    spam["Subject"] = "BUY PILLS http://spam.example"
    spam["Message-ID"] = "<spam1@thirdparty.example>"
    spam.set_content("BUY PILLS http://spam.example")
    pop.deliver(spam.as_bytes())
    pop.deliver(bare(tenv, "Mallory <bob@example.com>", "BUY PILLS http://spam.example"))
    tenv.smtp.received.clear()
    assert tenv.run("fetch_replies.py").returncode == 0
    assert inbound(forum) == [("rejected", "the email does not answer a forum notification"),
                              ("rejected", match.NOT_PROVEN)]
    assert queued(forum) == []  # no explanation, no copy per email
    assert [m.recipients for m in tenv.smtp.messages] == [["admin@forum.test"]]
    summary = message_from_bytes(tenv.smtp.messages[0].data, policy=policy.default)
    text = summary.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "victim@thirdparty.example" in text and match.NOT_PROVEN in text
    assert "PILLS" not in text and "spam.example" not in text
    # The next run within the hour adds no mail: the summary is rate-limited.
    spam.replace_header("Message-ID", "<spam2@thirdparty.example>")
    pop.deliver(spam.as_bytes())
    assert tenv.run("fetch_replies.py").returncode == 0
    assert len(tenv.smtp.messages) == 1 and queued(forum) == []


def test_member_tied_by_token_gets_a_neutral_answer_once_a_day(
        tenv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    original = notification_for(tenv, "bob@example.com")
    for i in range(2):
        forged = gmail_reply(original, "Mallory <cat@example.com>", "BUY PILLS http://spam.example",
                             extra={"X-Seq": str(i)})
        pop.deliver(forged.replace(b"Subject: Re:", b"Subject: BUY PILLS http://spam.example Re:"))
    assert tenv.run("fetch_replies.py").returncode == 0
    assert posted(forum) == []
    assert queued(forum) == [("reply-rejected", "bob@example.com")]
    subject, body = forum.conn.execute("SELECT subject, body FROM notifications WHERE kind = 'reply-rejected'"
                                       ).fetchone()  # type: ignore[misc]
    assert subject == "Your email was not posted"
    assert "PILLS" not in body and "spam.example" not in body and "Message-ID" not in body
    first = forum.conn.execute("SELECT min(id) FROM inbound_emails").fetchone()
    assert first is not None and "(our reference: inbound email %d)" % first[0] in body
    assert "ask the forum's administrator" in body


def test_proven_member_refused_is_answered_at_their_own_address(
        tenv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    forum.conn.execute("DELETE FROM task_followers WHERE user_id = %s", (sent["cat"],))
    pop.deliver(on_top(bare(tenv, "CAT@Example.com", "still here"), "%s; dmarc=pass header.from=example.com" % OURS))
    assert tenv.run("fetch_replies.py").returncode == 0
    assert inbound(forum) == [("rejected", "the sender no longer follows the task")]
    assert queued(forum) == [("reply-rejected", "cat@example.com")]


def test_piped_refusal_reaches_the_admin_summary(tenv: Env, forum: Forum, sent: dict[str, int],
                                                 tmp_path: Path) -> None:
    path = tmp_path / "r.eml"
    path.write_bytes(bare(tenv, "stranger@elsewhere.example", "hi"))
    tenv.smtp.received.clear()
    assert tenv.run("fetch_replies.py", "--file", str(path)).returncode == 0
    assert [m.recipients for m in tenv.smtp.messages] == [["admin@forum.test"]]
    assert queued(forum) == []


# --- the rule itself (pure functions) -----------------------------------------------------

def _mail(from_: str, *results: str) -> bytes:
    return b"".join(b"Authentication-Results: %s\n" % r.encode() for r in results) + (
        b"From: %s\nSubject: x\n\nhi\n" % from_.encode())


@pytest.mark.parametrize("raw, verdict", [
    (_mail("bob@example.com", "mx.forum.test; dmarc=pass header.from=example.com"), PASS),
    (_mail("bob@example.com", "mx.forum.test; dmarc=pass header.from=bob@EXAMPLE.com."), PASS),
    (_mail("bob@mail.example.com", "mx.forum.test; dkim=pass header.d=example.com"), PASS),
    (_mail("bob@example.com", "mx.forum.test; dkim=pass header.d=mail.example.com"), NONE),
    (_mail("bob@example.com", "mx.forum.test; dkim=pass header.d=com"), NONE),
    (_mail("bob@example.com", "mx.forum.test; dkim=fail header.d=example.com"), NONE),
    (_mail("bob@example.com", "mx.forum.test; dmarc = pass header.from = \"example.com\";"), PASS),
    (_mail("bob@example.com", "mx.forum.test; dmarc=pass (unclosed header.from=example.com"), NONE),
    (_mail("bob@example.com", "mx.forum.test; dmarc=pass header.from=example.com; dmarc=fail"), FAIL),
    (_mail("bob", "mx.forum.test; dmarc=pass header.from=example.com"), NONE),
    (_mail("", "mx.forum.test; dmarc=pass header.from=example.com"), NONE),
    (_mail("bob@example.com", "i=1; mx.forum.test; dmarc=pass header.from=example.com"), NONE),
    (_mail("bob@example.com", "mx.forum.test.evil; dmarc=pass header.from=example.com"), NONE),
    # Read two ways (getaddresses, and the <address> mail clients show): neither is believed.
    (_mail('"x" <bob@evil.example> <bob@example.com>', "mx.forum.test; dmarc=pass header.from=evil.example"), NONE),
    (_mail("bob@example.com (Bob)", "mx.forum.test; dmarc=pass header.from=example.com"), PASS),
])
def test_check_verdicts(raw: bytes, verdict: str) -> None:
    assert check(parse_message(raw), OURS).verdict == verdict


def test_parser_on_hostile_headers() -> None:
    assert authserv_id("spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=x.org") == ""
    assert parse("mx.forum.test; dmarc=pass " + "(" * 5000 + ")" * 5000 + " header.from=x.org") is not None
    many = parse("mx.forum.test" + "; dkim=pass header.d=x.org" * 5000)
    assert many is not None and len(many.results) == 5000
    assert parse('mx.forum.test; dmarc=pass header.from="x.org' + " x" * 1000) is None
    assert check(parse_message(_mail("bob@example.com", "mx.forum.test; dmarc=pass header.from=example.com")),
                 "").verdict == NONE


# --- the setting --------------------------------------------------------------------------

@pytest.mark.parametrize("value, ok", [("mx.example.com", True), ("MX-1.example.com", True), ("OpenDMARC", True),
                                       ("mx.example.com; dmarc=pass", False), ("mx example", False),
                                       ("mx.example.com\nX: y", False), (5, False)])
def test_replier_authserv_id_is_validated(tmp_path: Path, value: object, ok: bool) -> None:
    path = tmp_path / "cron_conf.py"
    path.write_text("MAIL_FROM='a@b.c'\nMAIL_SMTP='h'\nOPTS={'replier_authserv_id': %r}\n" % (value,))
    if ok:
        assert settings.load(str(path)).replies.replier_authserv_id == value
        return
    with pytest.raises(ConfigError) as err:
        settings.load(str(path))
    assert any("OPTS['replier_authserv_id']" in p for p in err.value.problems)


# --- the hostile tester's identity holes (pure-function checks at the end) -------------------

PLACEHOLDER = "placeholder@sender.test"
MISMATCH = "the reply came from an address the notification was not sent to"
STRANGER = "the sender is not a user of this forum"


def with_from(raw: bytes, value: str) -> bytes:
    """``raw`` with its From header exactly ``value`` (email's generator would refold or refuse it)."""
    head, sep, body = raw.partition(b"\n\n")
    assert head.count(b"From: " + PLACEHOLDER.encode()) == 1
    return head.replace(b"From: " + PLACEHOLDER.encode(), b"From: " + value.encode()) + sep + body


def follower(forum: Forum, sent: dict[str, int], name: str, email: str) -> int:
    user = forum.user(sent["universe"], name, email)
    forum.conn.execute("INSERT INTO task_followers (task_id, user_id) VALUES (%s, %s)", (sent["task"], user))
    return user


def test_from_read_two_ways_or_naming_several_proves_nobody(
        tenv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    original = notification_for(tenv, "bob@example.com")
    follower(forum, sent, "Kate", "kate@example.com")
    follower(forum, sent, "Bernd", "bob@straße.example")
    ours_pass = "%s; dmarc=pass header.from=example.com" % OURS
    evil_pass = "%s; dmarc=pass header.from=evil.example" % OURS

    def tokened(value: str, text: str) -> bytes:  # Bob's notification, forwarded: his token in To
        return with_from(gmail_reply(original, PLACEHOLDER, text), value)

    def threaded(value: str, text: str) -> bytes:  # no token: the task's thread id only
        return with_from(thread_only(gmail_reply(original, PLACEHOLDER, text, to="replies@forum.test"),
                                     sent["task"]), value)

    cases = {
        # 1. An address in a comment is text: the address is mallory's, and so is the proof.
        "comment address, our pass, thread id": (on_top(threaded("(<bob@example.com>) mallory@example.com", "i1"),
                                                        ours_pass), STRANGER),
        "comment address, Bob's token": (on_top(tokened("(<bob@example.com>) mallory@example.com", "i2"),
                                                evil_pass), MISMATCH),
        "nested comment address, Bob's token": (tokened("cat@example.com (a (b) <bob@example.com>)", "i3"),
                                                MISMATCH),
        # 2. Several addresses: nobody, token or not.
        "two addresses, Bob's token": (on_top(tokened("bob@example.com, Mallory <mallory@evil.example>", "i4"),
                                              evil_pass), match.FROM_UNCLEAR),
        "two addresses, our pass for the first": (on_top(threaded("bob@example.com, mallory@evil.example", "i5"),
                                                         ours_pass), match.FROM_UNCLEAR),
        # 3. KELVIN SIGN is not K; an IDN is proven only by the A-labels of the name checked.
        "KELVIN SIGN": (on_top(threaded("\u212aate@example.com", "i6"), ours_pass), STRANGER),
        "IDN, pass for its IDNA 2003 twin": (on_top(threaded("bob@straße.example", "i7"),
                                                   "%s; dmarc=pass header.from=strasse.example" % OURS),
                                            match.NOT_PROVEN),
        "IDN, pass for a U-label": (on_top(threaded("bob@straße.example", "i8"),
                                          "%s; dmarc=pass header.from=straße.example" % OURS), match.NOT_PROVEN),
    }
    for raw, _ in cases.values():
        pop.deliver(raw)
    assert tenv.run("fetch_replies.py").returncode == 0
    assert posted(forum) == []
    assert inbound(forum) == [("rejected", reason) for _, reason in cases.values()]


def test_proven_senders_still_post_in_any_ascii_case_and_idn_in_a_labels(
        tenv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    original = notification_for(tenv, "bob@example.com")
    bernd = follower(forum, sent, "Bernd", "bob@straße.example")

    def threaded(value: str, text: str) -> bytes:
        return with_from(thread_only(gmail_reply(original, PLACEHOLDER, text, to="replies@forum.test"),
                                     sent["task"]), value)

    pop.deliver(on_top(threaded("Bernd <bob@straße.example>", "idn"),
                       "%s; dmarc=pass header.from=xn--strae-oqa.example" % OURS))
    pop.deliver(on_top(threaded("BOB@EXAMPLE.COM (Bob)", "upper"), "%s; dmarc=pass header.from=example.com" % OURS))
    assert tenv.run("fetch_replies.py").returncode == 0
    assert posted(forum) == [(sent["task"], bernd, "idn"), (sent["task"], sent["bob"], "upper")]


# 4. Only the plain form our server writes is ours; each of these slips past the strip rule.
LOOKALIKES = ['"mx.forum.test"', "(x) mx.forum.test", "mx.forum.test.", "mx.forum.test (x)",
              "mx.forum.test\u212a", "=?us-ascii?q?mx.forum.test?=", "mx.forum.test 1 (v)", "\\mx.forum.test"]


def test_only_the_plain_form_of_our_header_is_ours(tenv: Env, pop: DovecotServer, forum: Forum,
                                                   sent: dict[str, int]) -> None:
    for i, head in enumerate(LOOKALIKES):
        pop.deliver(on_top(bare(tenv, "bob@example.com", "look-alike %d" % i),
                           "%s; dmarc=pass header.from=example.com" % head))
    for i, head in enumerate(["\n mx.forum.test", "\tMX.forum.TEST 1\n ", "mx.forum.test"]):
        pop.deliver(on_top(bare(tenv, "bob@example.com", "plain %d" % i), "%s;\n dmarc=pass header.from=example.com"
                           % head).replace(b"Authentication-Results: \n", b"Authentication-Results:\n"))
    assert tenv.run("fetch_replies.py").returncode == 0
    assert inbound(forum) == [("rejected", match.NOT_PROVEN)] * len(LOOKALIKES) + [("posted", None)] * 3


def _postfix_rule(server_id: str) -> re.Pattern[str]:
    """The header_checks line of docs/commands.md for ``server_id``, as Postfix applies it (case-insensitive)."""
    found = re.search(r"`/(\^Authentication-Results:[^`]*)/ IGNORE`", (ROOT / "docs" / "commands.md").read_text())
    assert found, "docs/commands.md has no header_checks rule"
    pattern = found.group(1).replace(r"mx\.example\.com", re.escape(server_id))
    return re.compile(pattern.replace("[[:space:]", "[\\s"), re.IGNORECASE)


@pytest.mark.parametrize("value", ["mx.forum.test; dmarc=pass", "MX.Forum.Test 1; dmarc=pass",
                                   "\r\n\tmx.forum.test\r\n ; dmarc=pass", *("%s; dmarc=pass" % h for h in LOOKALIKES)])
def test_postfix_strips_every_header_we_would_believe(value: str) -> None:
    believed = ours_re(OURS).match(value) is not None
    stripped = _postfix_rule(OURS).match("Authentication-Results: " + value) is not None
    assert stripped or not believed
    assert believed == (value.lstrip().split(";")[0].split()[0].lower() == OURS and "(" not in value)


@given(st.lists(st.sampled_from([" ", "\t", "\r\n ", "mx.forum.test", "MX.FORUM.TEST", "1", ".", ";", "(x)",
                                 '"', "\\", "=?", "\u212a", "a", "-", "dmarc=pass"]), max_size=8))
def test_postfix_rule_and_parser_agree(parts: list[str]) -> None:
    value = "".join(parts)
    if ours_re(OURS).match(value):
        assert _postfix_rule(OURS).match("Authentication-Results:" + value)


def test_refusal_notice_names_the_email_by_date_and_our_number_only(
        tenv: Env, pop: DovecotServer, forum: Forum, sent: dict[str, int]) -> None:
    # 5. Bob's leaked notification, a forged From, and words in the Message-ID meant for Bob.
    bait = "<URGENT.your-forum-password-expired.login-at.http://evil.example/reset@evil.example>"
    forged = gmail_reply(notification_for(tenv, "bob@example.com"), "cat@example.com", "hello")
    head, sep, body = forged.partition(b"\n\n")
    forged = re.sub(rb"\nMessage-ID: [^\n]*", b"\nMessage-ID: " + bait.encode(), head) + sep + body
    pop.deliver(forged)
    assert tenv.run("fetch_replies.py").returncode == 0
    assert inbound(forum) == [("rejected", MISMATCH)]
    row = forum.conn.execute("SELECT recipient, body FROM notifications WHERE kind = 'reply-rejected'").fetchone()
    assert row is not None and row[0] == "bob@example.com"
    assert "URGENT" not in row[1] and "evil.example" not in row[1] and "password" not in row[1]
    number = forum.conn.execute("SELECT id FROM inbound_emails").fetchone()
    assert number is not None and "(our reference: inbound email %d)" % number[0] in row[1]


def test_the_database_folds_addresses_as_identity_does(forum: Forum, sent: dict[str, int]) -> None:
    # As in a database created under the C.UTF-8 locale (Debian's default) or an ICU
    # one, where lower() makes U+212A KELVIN SIGN a "k"; the test server's own is "C".
    if forum.conn.execute("SELECT 1 FROM pg_collation WHERE collname = 'C.utf8'").fetchone() is None:
        pytest.skip("this PostgreSQL has no C.utf8 collation")
    forum.conn.execute('ALTER TABLE users ALTER COLUMN email TYPE text COLLATE "C.utf8"')
    kelvin = follower(forum, sent, "Kelvin", "\u212aATE@Example.com")
    assert store.inbound.replier_by_email(forum.conn, address_key("kate@example.com"), sent["task"]) is None
    found = store.inbound.replier_by_email(forum.conn, address_key(" \u212aate@EXAMPLE.com"), sent["task"])
    assert found is not None and found.user_id == kelvin
    found = store.inbound.replier_by_email(forum.conn, address_key("CAT@example.COM"), sent["task"])
    assert found is not None and found.user_id == sent["cat"]


@pytest.mark.parametrize("value, key", [
    ("Example.COM.", "example.com"), ("bob@Straße.Example", "bob@xn--strae-oqa.example"),
    ("\u212aample.com", ""), ("STRASSE.example", "strasse.example"), ("ﬀ.example", ""), ("", ""),
])
def test_domain_key_never_makes_ascii_of_what_is_not(value: str, key: str) -> None:
    assert domain_key(value) == (key.rpartition("@")[2] if key else "")
    assert address_key("\u212aate@example.com") != address_key("kate@example.com")

"""Signing in with OAuth2 (SASL XOAUTH2 / OAUTHBEARER) to SMTP and POP3 servers that take nothing else.

Real servers on 127.0.0.1: the token endpoint of tests/oauthserver.py over
HTTPS, aiosmtpd with STARTTLS checking each token with it, and Dovecot POP3
over TLS whose oauth2 passdb asks the endpoint's introspection URL.
"""

from __future__ import annotations

import dataclasses
import re
import smtplib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from forummail import settings
from forummail.errors import ConfigError
from forummail.mailbox import MailboxLoginRefused, Pop3Mailbox
from forummail.settingtypes import OAuth2, Settings, SmtpServer
from forummail.transport import InsecureSignIn, LoginRefused, ServerDown, Transport, open_connection
from tests.conftest import Env, Forum, write_conf
from tests.oauthserver import TokenEndpoint
from tests.servers import DovecotServer, OAuth2Passdb, OAuth2SmtpServer, free_port
from tests.test_replies import gmail_reply, notification_for

# OAuth2SmtpServer lists AUTH before STARTTLS on purpose (see there).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

MAILER = "mailer@forum.test"
REPLIES = "replies@forum.test"
CLIENT, CLIENT_SECRET = "forum-mailer-app", "Client-Secret-0auth2-42"
POP_CLIENT = "forum-replies-app"


@pytest.fixture
def endpoint(endpoint: TokenEndpoint) -> TokenEndpoint:
    """The shared endpoint (tests/conftest.py), whose CA also signs the servers' certificates, with our two apps."""
    endpoint.register(CLIENT, secret=CLIENT_SECRET, subject=MAILER)
    endpoint.register(POP_CLIENT, secret=CLIENT_SECRET, subject=REPLIES)
    return endpoint


def cert(endpoint: TokenEndpoint) -> tuple[Path, Path]:
    folder = Path(endpoint.ca_file).parent
    return folder / "server.pem", folder / "server.key"


@pytest.fixture(params=["microsoft", "google"])
def oauth_smtp(request: pytest.FixtureRequest, endpoint: TokenEndpoint) -> Iterator[OAuth2SmtpServer]:
    server = OAuth2SmtpServer(endpoint, cert(endpoint), style=request.param)
    server.start()
    yield server
    server.stop()


def generic(endpoint: TokenEndpoint, setting: str = "OPTS['smtp_oauth2']", secret: str = CLIENT_SECRET,
            subject: str = MAILER) -> OAuth2:
    return OAuth2(setting=setting, provider="generic", subject=subject, client_id=CLIENT, client_secret=secret,
                  token_url=endpoint.token_url, timeout=5)


def smtp_server(port: int, oauth2: OAuth2, tls: bool = True) -> SmtpServer:
    return SmtpServer(host="127.0.0.1", port=port, tls=tls, login=MAILER, oauth2=oauth2, timeout=5)


# --- SMTP, in process ---------------------------------------------------------------------

def test_smtp_signs_in_with_a_token_after_starttls(endpoint: TokenEndpoint, oauth_smtp: OAuth2SmtpServer) -> None:
    smtp = open_connection(smtp_server(oauth_smtp.port, generic(endpoint)))
    try:
        assert smtp.noop()[0] == 250
    finally:
        smtp.quit()
    assert [(s.mechanism, s.login, s.ok, s.tls) for s in oauth_smtp.sign_ins] == [("XOAUTH2", MAILER, True, True)]
    assert endpoint.grants("client_credentials") == 1


def test_smtp_prefers_oauthbearer_where_offered(endpoint: TokenEndpoint) -> None:
    server = OAuth2SmtpServer(endpoint, cert(endpoint), oauthbearer=True).start()
    try:
        open_connection(smtp_server(server.port, generic(endpoint))).quit()
    finally:
        server.stop()
    assert [(s.mechanism, s.ok) for s in server.sign_ins] == [("OAUTHBEARER", True)]


def test_a_token_revoked_early_is_replaced_once(endpoint: TokenEndpoint, oauth_smtp: OAuth2SmtpServer) -> None:
    config = generic(endpoint)
    first = open_connection(smtp_server(oauth_smtp.port, config))
    first.quit()
    for token in list(endpoint._tokens):
        endpoint.revoke(token)  # revoked before it expires: our cache still holds it
    smtp = open_connection(smtp_server(oauth_smtp.port, config))
    smtp.quit()
    assert [s.ok for s in oauth_smtp.sign_ins] == [True, False, True]
    assert endpoint.grants("client_credentials") == 2


def test_a_server_that_hangs_up_after_refusing_gets_the_new_token_on_a_new_connection(
        endpoint: TokenEndpoint, oauth_smtp: OAuth2SmtpServer) -> None:
    config = generic(endpoint)
    open_connection(smtp_server(oauth_smtp.port, config)).quit()
    for token in list(endpoint._tokens):
        endpoint.revoke(token)
    oauth_smtp.oauth2.hang_up_after_refusal = 1
    open_connection(smtp_server(oauth_smtp.port, config)).quit()
    assert [s.ok for s in oauth_smtp.sign_ins] == [True, False, True]


def test_a_second_refusal_is_one_line_naming_the_setting(endpoint: TokenEndpoint,
                                                         oauth_smtp: OAuth2SmtpServer) -> None:
    # The endpoint gives tokens for another mailbox than MAIL_LOGIN: every one is refused.
    endpoint.register("other-app", secret=CLIENT_SECRET, subject="someone@else.test")
    config = dataclasses.replace(generic(endpoint), client_id="other-app")
    with pytest.raises(LoginRefused) as caught:
        open_connection(smtp_server(oauth_smtp.port, config))
    text = str(caught.value)
    assert "\n" not in text
    assert "refused the OAuth2 sign-in of %r" % MAILER in text
    assert "OPTS['smtp_oauth2']" in text
    if oauth_smtp.oauth2.style == "microsoft":
        assert "535 5.7.3 Authentication unsuccessful" in text and "SMTP.SendAsApp" in text
    else:  # the error challenge read, then the final 535
        assert "535 5.7.8" in text and "status invalid_token" in text
    assert [s.ok for s in oauth_smtp.sign_ins] == [False, False]
    assert endpoint.grants("client_credentials") == 2  # replaced once, not more
    assert not any(token in text for token in endpoint._tokens)


def test_no_token_over_a_connection_without_tls(endpoint: TokenEndpoint, oauth_smtp: OAuth2SmtpServer) -> None:
    with pytest.raises(InsecureSignIn, match="without TLS"):
        open_connection(smtp_server(oauth_smtp.port, generic(endpoint), tls=False))
    assert oauth_smtp.sign_ins == []
    assert endpoint.grants("client_credentials") == 0  # not even asked for


def test_the_server_refuses_auth_before_starttls(endpoint: TokenEndpoint, oauth_smtp: OAuth2SmtpServer) -> None:
    # What a client that does not wait for STARTTLS meets (and what we never send).
    with smtplib.SMTP("127.0.0.1", oauth_smtp.port, timeout=5) as smtp:
        smtp.ehlo()
        code, text = smtp.docmd("AUTH", "XOAUTH2 dXNlcj14AWF1dGg9QmVhcmVyIHgBAQ==")
    assert (code, text) == (530, b"5.7.0 Must issue a STARTTLS command first")


def test_token_endpoint_unreachable_leaves_the_server_down(endpoint: TokenEndpoint,
                                                           oauth_smtp: OAuth2SmtpServer) -> None:
    config = dataclasses.replace(generic(endpoint), token_url="https://127.0.0.1:9/token")
    with pytest.raises(ServerDown) as caught:
        Transport([smtp_server(oauth_smtp.port, config)]).open()
    assert not isinstance(caught.value, LoginRefused)
    assert caught.value.exit_code == 75
    assert "OPTS['smtp_oauth2']" in str(caught.value)


def test_a_wrong_client_secret_is_a_refused_login(endpoint: TokenEndpoint, oauth_smtp: OAuth2SmtpServer) -> None:
    with pytest.raises(LoginRefused) as caught:
        open_connection(smtp_server(oauth_smtp.port, generic(endpoint, secret="wrong-Secret-123456")))
    assert "invalid_client" in str(caught.value) and "OPTS['smtp_oauth2']" in str(caught.value)
    assert "wrong-Secret-123456" not in str(caught.value)
    assert oauth_smtp.sign_ins == []



# --- POP3, in process ---------------------------------------------------------------------

@pytest.fixture
def oauth_pop(endpoint: TokenEndpoint) -> Iterator[DovecotServer]:
    server = DovecotServer(login=REPLIES, password="unused-Pop-Password-9", cert=cert(endpoint),
                           oauth2=OAuth2Passdb(endpoint.introspection_url, Path(endpoint.ca_file))).start()
    yield server
    server.stop()


def pop_settings(oauth_pop: DovecotServer, oauth2: OAuth2, ssl: bool = True) -> Settings:
    """Settings whose reply mailbox is ``oauth_pop``, signed in to with ``oauth2``."""
    # The file is read once, here: nothing of it need outlive the call (each call used to leave a folder in /tmp).
    with tempfile.TemporaryDirectory(prefix="forummail-oauth2-conf-") as folder:
        conf = write_conf(Path(folder) / "cron_conf.py", {"MAIL_FROM": "noreply@forum.test", "MAIL_SMTP": "127.0.0.1"},
                          {})
        base = settings.load(str(conf))
    replies = dataclasses.replace(
        base.replies, pop_host="127.0.0.1", pop_port=oauth_pop.tls_port if ssl else oauth_pop.port,
        replier_pop_ssl=ssl, replier_pop_login=REPLIES, replier_pop_psswd="", replier_pop_oauth2=oauth2)
    return dataclasses.replace(base, replies=replies)


def pop_oauth2(endpoint: TokenEndpoint, secret: str = CLIENT_SECRET) -> OAuth2:
    return dataclasses.replace(generic(endpoint, "OPTS['replier_pop_oauth2']", secret, REPLIES), client_id=POP_CLIENT)


@pytest.mark.parametrize("pop_ssl", [True, False], ids=["pop3s", "stls"])
def test_pop3_signs_in_with_a_token_in_the_two_line_form(endpoint: TokenEndpoint, oauth_pop: DovecotServer,
                                                         pop_ssl: bool) -> None:
    oauth_pop.deliver(b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n")
    box = Pop3Mailbox(pop_settings(oauth_pop, pop_oauth2(endpoint), ssl=pop_ssl), timeout=5)
    box.open()
    try:
        assert len(box.listing()) == 1
        assert box.mechanism == "OAUTHBEARER"  # Dovecot's CAPA offers both: the standard one first
    finally:
        box.commit()
    log = dovecot_log(oauth_pop)
    assert "introspection" in log.lower()  # Dovecot really asked the endpoint


def test_pop3_xoauth2_two_line_form(endpoint: TokenEndpoint, oauth_pop: DovecotServer) -> None:
    # Microsoft 365's form: AUTH XOAUTH2, "+", then the response on its own line.
    settings = pop_settings(oauth_pop, pop_oauth2(endpoint))
    box = Pop3Mailbox(settings, timeout=5)
    box._connect()
    token = endpoint.issue(REPLIES)
    assert box._auth("XOAUTH2", REPLIES, token) == ""
    assert box.listing() == []
    box.commit()
    # Dovecot's auth log: the response came as a continuation (CONT), not on the AUTH line (resp=).
    log = dovecot_log(oauth_pop)
    assert "\tXOAUTH2\t" in log and "CONT<hidden>" in log and "resp=" not in log


def test_pop3_token_revoked_early_is_replaced_once(endpoint: TokenEndpoint, oauth_pop: DovecotServer) -> None:
    settings = pop_settings(oauth_pop, pop_oauth2(endpoint))
    box = Pop3Mailbox(settings, timeout=5)
    box.open()
    box.commit()
    for token in list(endpoint._tokens):
        endpoint.revoke(token)
    box.open()
    box.commit()
    assert endpoint.grants("client_credentials") == 2


def test_pop3_refused_twice_is_one_line_naming_the_setting(endpoint: TokenEndpoint,
                                                           oauth_pop: DovecotServer) -> None:
    endpoint.register("other-app", secret=CLIENT_SECRET, subject="someone@else.test")
    config = dataclasses.replace(pop_oauth2(endpoint), client_id="other-app")
    oauth_pop.deliver(b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n")
    with pytest.raises(MailboxLoginRefused) as caught:
        Pop3Mailbox(pop_settings(oauth_pop, config), timeout=5).open()
    text = str(caught.value)
    assert "\n" not in text and "OAuth2 sign-in of %r" % REPLIES in text
    assert "OPTS['replier_pop_oauth2']" in text
    assert endpoint.grants("client_credentials") == 2
    assert oauth_pop.count() == 1


def test_pop3_no_token_without_tls(endpoint: TokenEndpoint) -> None:
    plain = DovecotServer(login=REPLIES, password="unused-Pop-Password-9").start()  # no STLS offered
    try:
        with pytest.raises(ConfigError, match="offers no STLS"):
            Pop3Mailbox(pop_settings(plain, pop_oauth2(endpoint), ssl=False), timeout=5).open()
    finally:
        plain.stop()
    assert endpoint.grants("client_credentials") == 0


def dovecot_log(server: DovecotServer) -> str:
    path = server.base / "dovecot.log"
    return path.read_text() if path.exists() else ""


# --- the scripts, as cron runs them -------------------------------------------------------

MS_CLIENT, MS_POP_CLIENT = "11111111-2222-3333-4444-555555555555", "66666666-7777-8888-9999-000000000000"


@pytest.fixture
def style() -> str:
    """How the SMTP server refuses a token: like Exchange Online unless a test says otherwise."""
    return "microsoft"


@pytest.fixture
def world(env: Env, endpoint: TokenEndpoint, oauth_pop: DovecotServer, forum: Forum,
          small_forum: dict[str, int], style: str) -> Iterator[World]:
    endpoint.register(MS_CLIENT, secret=CLIENT_SECRET, subject=MAILER)
    endpoint.register(MS_POP_CLIENT, secret=CLIENT_SECRET, subject=REPLIES)
    smtp = OAuth2SmtpServer(endpoint, cert(endpoint), style=style).start()
    env.smtp = smtp
    yield World(env, endpoint, smtp, oauth_pop, forum, small_forum)
    smtp.stop()


@dataclasses.dataclass
class World:
    env: Env
    endpoint: TokenEndpoint
    smtp: OAuth2SmtpServer
    pop: DovecotServer
    forum: Forum
    ids: dict[str, int]

    def configure(self, provider: str = "generic", secret: str = CLIENT_SECRET, token_url: str = "",
                  **opts: object) -> None:
        env = {"SMTP_OAUTH2_CLIENT_SECRET": secret, "REPLIER_POP_OAUTH2_CLIENT_SECRET": secret}
        if provider == "microsoft":
            smtp = {"provider": "microsoft", "tenant": "contoso", "client_id": MS_CLIENT,
                    "authority": token_url or self.endpoint.url, "timeout": 5}
            pop = dict(smtp, client_id=MS_POP_CLIENT)
        elif provider == "google":
            # A refresh token each (the mailbox's consent), at a token_url given for the test.
            smtp = {"provider": "google", "client_id": CLIENT, "token_url": token_url or self.endpoint.token_url,
                    "timeout": 5}
            pop = dict(smtp, client_id=POP_CLIENT)
            env["SMTP_OAUTH2_REFRESH_TOKEN"] = self.endpoint.add_refresh_token(CLIENT, MAILER)
            env["REPLIER_POP_OAUTH2_REFRESH_TOKEN"] = self.endpoint.add_refresh_token(POP_CLIENT, REPLIES)
        else:
            smtp = {"provider": "generic", "token_url": token_url or self.endpoint.token_url, "client_id": CLIENT,
                    "timeout": 5}
            pop = dict(smtp, client_id=POP_CLIENT)
        values: dict[str, object] = {
            "smtp_port": self.smtp.port, "smtp_tls": True, "smtp_oauth2": smtp,
            "replier_pop_addr": "127.0.0.1:%d" % self.pop.tls_port, "replier_pop_ssl": True,
            "replier_pop_login": REPLIES, "replier_pop_oauth2": pop, "metrics_dir": str(self.env.tmp)}
        values.update(opts)
        self.env.configure(top={"MAIL_LOGIN": MAILER}, opts=values, env=env)

    def post(self, text: str = "Racks arrive Thursday.") -> None:
        self.forum.post(self.ids["task"], self.ids["ann"], text)

    def tokens(self) -> list[str]:
        return list(self.endpoint._tokens)

    def revoke_all(self) -> None:
        for token in self.tokens():
            self.endpoint.revoke(token)

    def metrics(self, job: str) -> str:
        path = self.env.tmp / ("forummail_%s.prom" % job)
        return path.read_text() if path.exists() else ""

    def token_failures(self, job: str) -> dict[str, int]:
        found = re.findall(r'^forummail_oauth2_token_failures\{job="%s",reason="(\w+)"\} (\d+)$' % job,
                           self.metrics(job), re.M)
        return {reason: int(n) for reason, n in found}

    def assert_nothing_secret_in(self, *texts: str) -> None:
        issued = self.tokens() + self.spent
        for text in (*texts, self.env.log):
            assert CLIENT_SECRET not in text
            for token in issued:
                assert token not in text

    spent: list[str] = dataclasses.field(default_factory=list)


@pytest.mark.parametrize(("provider", "style"), [("generic", "microsoft"), ("microsoft", "microsoft"),
                                                 ("google", "google")])
def test_send_and_fetch_through_servers_that_take_only_oauth2(world: World, provider: str) -> None:
    world.configure(provider)
    world.post()
    sent = world.env.run("send_notifications.py")
    assert (sent.returncode, sent.stdout, sent.stderr) == (0, "", "")
    assert world.forum.statuses() == {"sent": 2}
    assert [(s.mechanism, s.login, s.ok, s.tls) for s in world.smtp.sign_ins] == [("XOAUTH2", MAILER, True, True)]
    if provider == "google":
        assert world.endpoint.grants("refresh_token") == 1 and world.endpoint.grants("client_credentials") == 0
    # Bob answers his notification; the reply lands in the mailbox only OAuth2 opens.
    world.pop.deliver(gmail_reply(notification_for(world.env, "bob@example.com"), "Bob Builder <bob@example.com>",
                                  "I will rack them on Thursday."))
    fetched = world.env.run("fetch_replies.py")
    assert (fetched.returncode, fetched.stdout, fetched.stderr) == (0, "", "")
    assert world.pop.count() == 0
    body = world.forum.conn.execute("SELECT body FROM messages WHERE author_id = %s", (world.ids["bob"],)).fetchone()
    assert body is not None and body[0] == "I will rack them on Thursday."
    assert "Making introspection request" in dovecot_log(world.pop)  # Dovecot asked the endpoint
    # One token per mailbox, kept in the database: the next run asks for none.
    asked = len(world.endpoint.log)
    world.post("And the cables.")
    assert world.env.run("send_notifications.py").returncode == 0
    assert world.env.run("fetch_replies.py").returncode == 0
    assert len(world.endpoint.log) == asked
    world.assert_nothing_secret_in(sent.stdout, sent.stderr, fetched.stdout, fetched.stderr)


def test_a_token_revoked_early_is_replaced_once_in_the_same_run(world: World) -> None:
    world.configure()
    world.post()
    assert world.env.run("send_notifications.py").returncode == 0
    world.pop.deliver(b"From: a@example.com\r\nSubject: hello\r\nMessage-ID: <1@example.com>\r\n\r\nhi\r\n")
    assert world.env.run("fetch_replies.py", "--dry-run").returncode == 0
    world.spent = world.tokens()
    world.revoke_all()  # the provider revoked them before they expired: the cache still holds them
    world.post("Second message.")
    sent = world.env.run("send_notifications.py")
    assert (sent.returncode, sent.stderr) == (0, "")
    assert world.forum.statuses() == {"sent": 4}
    assert [s.ok for s in world.smtp.sign_ins] == [True, False, True]
    fetched = world.env.run("fetch_replies.py", "--dry-run")
    assert fetched.returncode == 0, fetched.stderr
    assert world.endpoint.grants("client_credentials") == 4  # each mailbox: one token, then one replacement
    world.assert_nothing_secret_in(sent.stdout, sent.stderr, fetched.stdout, fetched.stderr)


def test_a_credential_the_endpoint_refuses_is_one_line_and_loses_nothing(world: World) -> None:
    world.configure(secret="Wrong-Client-Secret-77")
    world.post()
    sent = world.env.run("send_notifications.py")
    assert sent.returncode == 75
    assert sent.stderr.count("\n") == 1 and sent.stdout == ""
    assert "OPTS['smtp_oauth2']" in sent.stderr and "invalid_client" in sent.stderr
    assert world.forum.statuses() == {"pending": 2}
    assert world.smtp.sign_ins == [] and world.smtp.messages == []
    # The run's sign-in, and the alert to MAIL_ADMIN it then tried to send.
    assert world.token_failures("send") == {"endpoint_unreachable": 0, "endpoint_refused": 2, "server_refused": 0}
    world.pop.deliver(b"From: a@example.com\r\nSubject: hello\r\nMessage-ID: <1@example.com>\r\n\r\nhi\r\n")
    fetched = world.env.run("fetch_replies.py")
    assert fetched.returncode == 75
    assert fetched.stderr.count("\n") == 1 and "OPTS['replier_pop_oauth2']" in fetched.stderr
    assert world.pop.count() == 1
    assert "Wrong-Client-Secret-77" not in sent.stderr + fetched.stderr + world.env.log
    world.assert_nothing_secret_in(sent.stderr, fetched.stderr)


@pytest.mark.parametrize("style", ["microsoft", "google"])
def test_a_token_the_server_refuses_twice_is_one_line_and_loses_nothing(world: World, style: str) -> None:
    world.endpoint.register("not-the-mailbox", secret=CLIENT_SECRET, subject="someone@else.test")
    world.configure(smtp_oauth2={"provider": "generic", "token_url": world.endpoint.token_url,
                                 "client_id": "not-the-mailbox", "timeout": 5})
    world.post()
    sent = world.env.run("send_notifications.py")
    assert sent.returncode == 75
    assert sent.stderr.count("\n") == 1
    refusal = ("535 5.7.3 Authentication unsuccessful" if style == "microsoft" else
               "535 5.7.8 Username and Password not accepted (the credentials are not valid) "
               "[status invalid_token, scope https://mail.google.com/]")
    assert ("refused the OAuth2 sign-in of %r: %s" % (MAILER, refusal)) in sent.stderr
    assert "check OPTS['smtp_oauth2']" in sent.stderr
    assert world.forum.statuses() == {"pending": 2}
    # Refused, replaced once, refused again; then the same for the alert to MAIL_ADMIN.
    assert [s.ok for s in world.smtp.sign_ins] == [False] * 4
    assert world.token_failures("send")["server_refused"] == 2
    world.assert_nothing_secret_in(sent.stderr)


def test_token_endpoint_unreachable_exits_75_and_loses_nothing(world: World) -> None:
    world.configure(token_url="https://127.0.0.1:%d/token" % free_port())
    world.post()
    world.pop.deliver(b"From: a@example.com\r\nSubject: hello\r\nMessage-ID: <1@example.com>\r\n\r\nhi\r\n")
    sent = world.env.run("send_notifications.py")
    fetched = world.env.run("fetch_replies.py")
    assert (sent.returncode, fetched.returncode) == (75, 75)
    assert "could not be used" in sent.stderr and "could not be used" in fetched.stderr
    assert world.forum.statuses() == {"pending": 2}
    assert world.pop.count() == 1
    assert world.token_failures("fetch") == {"endpoint_unreachable": 2, "endpoint_refused": 0,
                                             "server_refused": 0}


def test_oauth2_without_tls_is_refused_by_the_settings(world: World) -> None:
    world.configure(smtp_tls=False)
    world.post()
    sent = world.env.run("send_notifications.py")
    assert sent.returncode == 78
    assert "OPTS['smtp_oauth2'] is set but the connection has no TLS" in sent.stderr
    assert world.smtp.sign_ins == [] and world.endpoint.log == []
    assert world.forum.statuses() == {"pending": 2}


def test_check_signs_in_to_both_and_never_shows_a_token(world: World) -> None:
    world.configure("microsoft")
    done = world.env.run("manage.py", "check")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"^ok    OPTS\['smtp_oauth2'\]: provider 'microsoft': a token obtained for '%s', "
                     r"valid (59|60) more minute\(s\)" % re.escape(MAILER), out, re.M)
    assert "OPTS['replier_pop_oauth2']: provider 'microsoft': a token obtained for %r" % REPLIES in out
    assert "Entra ID does not tell the client when a secret expires" in out  # describe(config)
    assert "signed in as %r with OAuth2 (XOAUTH2, OPTS['smtp_oauth2']); nothing sent" % MAILER in out
    assert "signed in as %r with OAuth2 (OAUTHBEARER, OPTS['replier_pop_oauth2'])" % REPLIES in out
    assert out.rstrip().endswith("all checks passed")
    assert world.smtp.messages == []
    test = world.env.run("manage.py", "test-email", "cat@example.com")
    assert test.returncode == 0, test.stderr
    assert [m.recipients for m in world.smtp.messages] == [["cat@example.com"]]
    world.assert_nothing_secret_in(out, done.stderr, test.stdout, test.stderr)


def test_check_says_what_to_fix_when_the_credential_is_refused(world: World) -> None:
    world.configure("microsoft", secret="Wrong-Client-Secret-77")
    done = world.env.run("manage.py", "check")
    assert done.returncode == 78
    fails = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert any("OPTS['smtp_oauth2']" in line and "AADSTS7000215" in line for line in fails)
    assert any("OPTS['replier_pop_oauth2']" in line for line in fails)
    assert "Wrong-Client-Secret-77" not in done.stdout + done.stderr

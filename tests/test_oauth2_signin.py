"""Signing in with OAuth2 (SASL XOAUTH2 / OAUTHBEARER) to SMTP and POP3 servers that take nothing else.

Real servers on 127.0.0.1: the token endpoint of tests/oauthserver.py over
HTTPS, aiosmtpd with STARTTLS checking each token with it, and Dovecot POP3
over TLS whose oauth2 passdb asks the endpoint's introspection URL.
"""

from __future__ import annotations

import dataclasses
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
from tests.conftest import write_conf
from tests.oauthserver import TokenEndpoint
from tests.servers import DovecotServer, OAuth2Passdb, OAuth2SmtpServer

# OAuth2SmtpServer lists AUTH before STARTTLS on purpose (see there).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

MAILER = "mailer@forum.test"
REPLIES = "replies@forum.test"
CLIENT, CLIENT_SECRET = "forum-mailer-app", "Client-Secret-0auth2-42"
POP_CLIENT = "forum-replies-app"


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenEndpoint]:
    server = TokenEndpoint(tmp_path / "ca").start()
    server.register(CLIENT, secret=CLIENT_SECRET, subject=MAILER)
    server.register(POP_CLIENT, secret=CLIENT_SECRET, subject=REPLIES)
    # The servers' certificates are signed by the endpoint's throw-away CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
    yield server
    server.stop()


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
    folder = Path(tempfile.mkdtemp(prefix="forummail-oauth2-conf-"))
    conf = write_conf(folder / "cron_conf.py", {"MAIL_FROM": "noreply@forum.test", "MAIL_SMTP": "127.0.0.1"}, {})
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

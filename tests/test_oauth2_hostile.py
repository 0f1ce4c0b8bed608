"""OAuth2 against a misbehaving provider and a careless administrator (issue 11, tested hostile):
odd lifetimes, error pages that echo the request, settings that name the wrong files."""

from __future__ import annotations

import logging
import urllib.parse
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from forummail import oauth2, settings
from forummail.errors import ConfigError
from forummail.mailbox import MailboxLoginRefused, Pop3Mailbox
from forummail.oauth2 import OAuth2Unreachable
from forummail.settingtypes import OAuth2
from tests.conftest import Database, connector
from tests.oauthserver import TokenEndpoint
from tests.servers import DovecotServer
from tests.test_oauth2_tokens import key_pair, service_account_file

SECRET = "Cl1ent/Secret+of=the&app~42"  # characters a form or a URL writes differently
GOOGLE_STYLE_REFRESH = "1//0gRefresh-Token/With+Slashes=Nobody-Sees"


def generic(endpoint: TokenEndpoint, refresh_token: str = "", **kw: Any) -> OAuth2:
    values: dict[str, Any] = {"setting": "OPTS['replier_pop_oauth2']", "provider": "generic",
                              "subject": "replies", "client_id": "forum-app", "client_secret": SECRET,
                              "refresh_token": refresh_token, "token_url": endpoint.token_url,
                              "secret_env": "REPLIER_POP_OAUTH2_CLIENT_SECRET",
                              "refresh_env": "REPLIER_POP_OAUTH2_REFRESH_TOKEN"}
    values.update(kw)
    return OAuth2(**values)


def every_form(*secrets: str) -> list[str]:
    """The secrets as sent and as a form, a URL or a log might write them."""
    forms = []
    for secret in secrets:
        forms += [secret, urllib.parse.quote_plus(secret), urllib.parse.quote(secret, safe="")]
    return forms


# --- lifetimes a provider should not send ------------------------------------------------------------

@pytest.mark.parametrize("lifetime", [float("inf"), 10 ** 30, 10 ** 9])
def test_an_absurd_lifetime_is_a_token_kept_at_most_a_day(endpoint: TokenEndpoint, database: Database,
                                                          lifetime: float) -> None:
    endpoint.register("forum-app", secret=SECRET)
    endpoint.lifetime = lifetime  # type: ignore[assignment]  # inf goes out as JSON's "Infinity"
    token = oauth2.token_source(generic(endpoint), connector(database)).token()
    assert endpoint.active(token)
    left = database.scalar("SELECT extract(epoch FROM expires_at - clock_timestamp()) FROM oauth2_tokens")
    assert 0 < left <= 86400


# --- error pages that echo the request --------------------------------------------------------------

ECHO_PAGE = "<html><body><h1>502 Bad Gateway</h1> upstream said no to: {form} (Authorization: {auth})</body></html>"


@pytest.mark.parametrize("status, kind, body", [
    (502, "text/html", ECHO_PAGE),
    (200, "text/html", ECHO_PAGE),
    (400, "application/json", '{"error": "invalid_request", "error_description": "cannot read {form} {auth}"}'),
])
def test_a_provider_echoing_the_request_never_shows_a_secret(endpoint: TokenEndpoint, status: int, kind: str,
                                                             body: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint.answer_next(status, kind, body)
    config = generic(endpoint, GOOGLE_STYLE_REFRESH)
    with pytest.raises((oauth2.OAuth2Refused, OAuth2Unreachable)) as raised:
        oauth2.token_source(config, None).token()
    text = str(raised.value) + caplog.text
    assert "OPTS['replier_pop_oauth2']" in text
    basic = "%s:%s" % (urllib.parse.quote_plus("forum-app"), urllib.parse.quote_plus(SECRET))
    import base64
    for form in every_form(SECRET, GOOGLE_STYLE_REFRESH, base64.b64encode(basic.encode()).decode()):
        assert form not in text


def test_a_rotated_refresh_token_echoed_by_an_unwell_provider_is_not_shown(
        endpoint: TokenEndpoint, database: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint.register("forum-app", secret=SECRET)
    endpoint.rotate = True
    config = generic(endpoint, endpoint.add_refresh_token("forum-app", "replies"))
    oauth2.token_source(config, connector(database)).token()
    rotated = database.scalar("SELECT refresh_token FROM oauth2_tokens")
    database.query("UPDATE oauth2_tokens SET refresh_at = clock_timestamp() - interval '1 second'")
    endpoint.answer_next(503, "text/plain", "Service Unavailable while handling {form}")
    with pytest.raises(OAuth2Unreachable) as raised:
        oauth2.token_source(config, connector(database)).token()
    assert rotated and rotated != config.refresh_token
    for form in every_form(rotated):
        assert form not in str(raised.value) and form not in caplog.text


# --- settings a careless administrator writes -----------------------------------------------------------

def _module(opts: dict[str, Any]) -> ModuleType:
    module = ModuleType("cron_conf")
    module.__dict__.update({"MAIL_FROM": "Forum <noreply@forum.test>", "MAIL_SMTP": "smtp.office365.com",
                            "MAIL_LOGIN": "noreply@forum.test", "OPTS": {"smtp_tls": True, **opts}})
    return module


def _problems(oauth: dict[str, Any], folder: Path) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        settings.validate(_module({"smtp_oauth2": oauth}), folder / "cron_conf.py", {})
    return raised.value.problems


def _pem_files(folder: Path) -> dict[str, Path]:
    """A certificate and its key, the key with a passphrase, another key, the certificate as DER."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    cert_path, key_path, _ = key_pair(folder, "forum-app")
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    from cryptography import x509
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    files = {"cert": cert_path, "key": key_path, "locked": folder / "locked.key", "other": folder / "other.key",
             "der": folder / "app.der"}
    files["locked"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.BestAvailableEncryption(b"passphrase")))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files["other"].write_bytes(other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    files["der"].write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return files


MS = {"provider": "microsoft", "tenant": "contoso", "client_id": "app"}


@pytest.mark.parametrize("certificate, private_key, expected", [
    ("key", "key", "OPTS['smtp_oauth2']['certificate']: %(key)s is not a PEM certificate"),
    ("der", "key", "OPTS['smtp_oauth2']['certificate']: %(der)s is not a PEM certificate"),
    ("cert", "cert", "OPTS['smtp_oauth2']['private_key']: %(cert)s is not a PEM private key"),
    ("cert", "locked", "OPTS['smtp_oauth2']['private_key']: %(locked)s is protected by a passphrase"),
    ("cert", "other", "OPTS['smtp_oauth2']: private_key %(other)s is not the key of certificate %(cert)s"),
])
def test_a_certificate_or_key_that_is_not_one_is_a_settings_problem(tmp_path: Path, certificate: str,
                                                                    private_key: str, expected: str) -> None:
    files = _pem_files(tmp_path)
    problems = _problems({**MS, "certificate": str(files[certificate]), "private_key": str(files[private_key])},
                         tmp_path)
    assert len(problems) == 1 and problems[0].startswith(expected % files), problems


def test_a_certificate_with_its_key_is_accepted(tmp_path: Path) -> None:
    files = _pem_files(tmp_path)
    conf = settings.validate(_module({"smtp_oauth2": {**MS, "certificate": "app.pem", "private_key": "app.key"}}),
                             tmp_path / "cron_conf.py", {})
    assert conf.sending.smtp_servers[0].oauth2 is not None
    assert conf.sending.smtp_servers[0].oauth2.certificate == str(files["cert"])


@pytest.mark.parametrize("oauth, expected", [
    ({**MS, "client_secret": "s", "authority": "https://login.microsoftonline.com/contoso.onmicrosoft.com"},
     "OPTS['smtp_oauth2']['authority'] is the sign-in host only, like 'https://login.microsoftonline.us'"),
    ({**MS, "client_secret": "s", "authority": "https://login.microsoftonline.com/?x=1"},
     "OPTS['smtp_oauth2']['authority'] is the sign-in host only"),
    ({**MS, "client_secret": "s", "tenant": "contoso.onmicrosoft.com/v2.0"},
     "OPTS['smtp_oauth2']['tenant'] is the directory's id or domain"),
    ({"provider": "generic", "token_url": "https://", "client_id": "c", "client_secret": "s"},
     "OPTS['smtp_oauth2']['token_url'] must be an https:// URL"),
])
def test_an_authority_tenant_or_url_in_the_wrong_shape_is_named(tmp_path: Path, oauth: dict[str, Any],
                                                                expected: str) -> None:
    problems = _problems(oauth, tmp_path)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_an_authority_with_a_trailing_slash_is_the_same_authority(tmp_path: Path) -> None:
    conf = settings.validate(_module({"smtp_oauth2": {**MS, "client_secret": "s",
                                                      "authority": "https://login.microsoftonline.us/"}}),
                             tmp_path / "cron_conf.py", {})
    assert conf.sending.smtp_servers[0].oauth2 is not None
    assert conf.sending.smtp_servers[0].oauth2.authority == "https://login.microsoftonline.us"


# --- servers that do not take a token -----------------------------------------------------------------

def test_a_pop3_server_without_oauth2_keeps_the_token_and_says_what_it_offers(
        endpoint: TokenEndpoint, database: Database) -> None:
    from tests.test_oauth2_signin import REPLIES, cert, pop_oauth2, pop_settings

    endpoint.register("forum-replies-app", secret="Client-Secret-0auth2-42", subject=REPLIES)
    passwords_only = DovecotServer(login=REPLIES, password="Pop-Password-9", cert=cert(endpoint)).start()
    try:
        passwords_only.deliver(b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n")
        box = Pop3Mailbox(pop_settings(passwords_only, pop_oauth2(endpoint)), timeout=5, connect=connector(database))
        with pytest.raises(MailboxLoginRefused) as caught:
            box.open()
        assert passwords_only.count() == 1
    finally:
        passwords_only.stop()
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith("POP3 server 127.0.0.1:%d does not take AUTH XOAUTH2" % passwords_only.tls_port), text
    assert "it offers SASL PLAIN LOGIN" in text and "OPTS['replier_pop_oauth2']" in text
    # The token was never sent, so it was not the one refused: kept, and no second one asked for.
    assert endpoint.grants("client_credentials") == 1
    assert database.scalar("SELECT count(*) FROM oauth2_tokens WHERE access_token IS NOT NULL") == 1


# --- a token command that says too much ------------------------------------------------------------

@pytest.mark.parametrize("said", [
    "oama: access token ya29.a0AfB_byC3xQ9-Z7kLmNoPqRsTuVwXyZ0123456789abcd expired, refresh failed",
    "error: refresh 1//0gRefresh-Token/With+Slashes=Nobody-Sees-1234 refused",
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBsaWVzIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg",
])
def test_a_token_command_that_fails_after_printing_a_token_on_stderr_does_not_show_it(
        tmp_path: Path, said: str, caplog: pytest.LogCaptureFixture) -> None:
    from tests.test_oauth2_tokens import _command

    caplog.set_level(logging.DEBUG)
    config = _command(tmp_path, "echo '%s' >&2; exit 1" % said)
    with pytest.raises(oauth2.OAuth2Refused) as raised:
        oauth2.token_source(config, None).token()
    text = str(raised.value)
    assert "failed with exit status 1: " in text and "***" in text
    for word in said.split():
        if len(word) >= 32:
            assert word not in text + caplog.text and word.split("=")[-1] not in text


def test_a_token_command_failure_keeps_its_url_and_path(tmp_path: Path) -> None:
    from tests.test_oauth2_tokens import _command

    said = ("oama: open https://login.microsoftonline.com/common/oauth2/v2.0/devicecode and see "
            "/home/forum/.local/state/oama/replies-forum-test.log")
    with pytest.raises(oauth2.OAuth2Refused) as raised:
        oauth2.token_source(_command(tmp_path, "echo '%s' >&2; exit 1" % said), None).token()
    assert str(raised.value).endswith(": " + said)


# --- TLS that does not check who answers --------------------------------------------------------------

@pytest.mark.parametrize("opts, expected", [
    ({"smtp_verify_tls": False, "smtp_oauth2": {"provider": "command", "token_command": "true"}},
     "OPTS['smtp_oauth2'] is set but OPTS['smtp_verify_tls'] is False"),
    ({"smtp_servers": [{"host": "relay.forum.test", "port": 587, "tls": True, "login": "a@forum.test",
                        "verify": False, "oauth2": {"provider": "command", "token_command": "true"}}]},
     "OPTS['smtp_servers'][0]['oauth2'] is set but OPTS['smtp_servers'][0]['verify'] is False"),
])
def test_a_token_is_never_sent_where_the_server_certificate_is_not_checked(tmp_path: Path, opts: dict[str, Any],
                                                                            expected: str) -> None:
    # A bearer token is as good as a password to whoever answers; without the
    # certificate checked, that may be anyone on the way.
    with pytest.raises(ConfigError) as raised:
        settings.validate(_module(opts), tmp_path / "cron_conf.py", {})
    problems = raised.value.problems
    assert len(problems) == 1 and problems[0].startswith(expected), problems


# --- timeouts ---------------------------------------------------------------------------------------

def test_a_slow_google_endpoint_is_given_up_after_the_timeout_set(tmp_path: Path, endpoint: TokenEndpoint) -> None:
    import time

    key_file = service_account_file(tmp_path, endpoint)
    config = OAuth2(setting="OPTS['replier_pop_oauth2']", provider="google", subject="replies@forum.test",
                    service_account_file=str(key_file), scope="https://mail.google.com/", timeout=1.0)
    endpoint.delay = 6.0  # google-auth's own default is 120 s; the setting says 1
    started = time.monotonic()
    with pytest.raises(OAuth2Unreachable):
        oauth2.token_source(config, None).token()
    assert time.monotonic() - started < 5

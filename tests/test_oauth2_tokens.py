"""OAuth2 access tokens (issue 11, token side): each provider against a real HTTPS token endpoint,
the cache shared by runs and hosts in PostgreSQL, rotation, refusals, failures, secrets kept out."""

from __future__ import annotations

import datetime
import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from forummail import oauth2, settings
from forummail.errors import ConfigError, TemporaryFailure
from forummail.oauth2 import OAuth2Refused, OAuth2Unreachable, cache
from forummail.settingtypes import OAuth2
from tests.conftest import ROOT, Database, clean_env, connector, write_conf
from tests.oauthserver import TokenEndpoint
from tests.servers import free_port

MS_SCOPE = "https://outlook.office365.com/.default"
SECRET = "Cl1ent-Secret-of-the-app~42"


def generic(endpoint: TokenEndpoint, refresh_token: str = "", secret: str = SECRET, **kw: Any) -> OAuth2:
    values: dict[str, Any] = {"setting": "OPTS['replier_pop_oauth2']", "provider": "generic",
                              "subject": "replies", "client_id": "forum-app", "client_secret": secret,
                              "refresh_token": refresh_token, "token_url": endpoint.token_url,
                              "secret_env": "REPLIER_POP_OAUTH2_CLIENT_SECRET",
                              "refresh_env": "REPLIER_POP_OAUTH2_REFRESH_TOKEN"}
    values.update(kw)
    return OAuth2(**values)


def microsoft(endpoint: TokenEndpoint, **kw: Any) -> OAuth2:
    values: dict[str, Any] = {"setting": "OPTS['smtp_oauth2']", "provider": "microsoft",
                              "subject": "noreply@forum.test", "client_id": "11111111-2222-3333-4444-555555555555",
                              "client_secret": SECRET,
                              "tenant": "contoso", "authority": endpoint.url, "scope": MS_SCOPE,
                              "secret_env": "SMTP_OAUTH2_CLIENT_SECRET", "refresh_env": "SMTP_OAUTH2_REFRESH_TOKEN"}
    values.update(kw)
    return OAuth2(**values)


def expire(database: Database) -> None:
    """Every cached token due for refresh, as an hour later."""
    database.query("UPDATE oauth2_tokens SET refresh_at = clock_timestamp() - interval '1 second'")


def key_pair(folder: Path, name: str) -> tuple[Path, Path, str]:
    """A self-signed certificate and its key (PEM files) and the certificate's text."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=90)).sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (folder / "app.pem").write_text(cert_pem)
    (folder / "app.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "app.pem", folder / "app.key", cert_pem


# --- generic (RFC 6749), the database cache ------------------------------------------------------

def test_generic_refresh_grant_is_fetched_once_and_shared_by_later_runs(endpoint: TokenEndpoint,
                                                                        database: Database) -> None:
    endpoint.register("forum-app", secret=SECRET)
    config = generic(endpoint, endpoint.add_refresh_token("forum-app", "replies"))
    first = oauth2.token_source(config, connector(database)).token()
    assert endpoint.active(first) == "replies"
    for _ in range(3):  # three more runs, each its own source and connection
        assert oauth2.token_source(config, connector(database)).token() == first
    assert endpoint.grants("refresh_token") == 1
    assert database.scalar("SELECT count(*) FROM oauth2_tokens") == 1
    # Nothing secret is the key: the grant is found by a hash.
    key = database.scalar("SELECT grant_key FROM oauth2_tokens")
    assert SECRET not in key and config.refresh_token not in key


def test_client_credentials_grant_sends_the_secret_as_http_basic(endpoint: TokenEndpoint) -> None:
    endpoint.register("forum-app", secret=SECRET, subject="the-app")
    token = oauth2.token_source(generic(endpoint), None).token()
    assert endpoint.active(token) == "the-app"
    assert endpoint.log[0]["grant_type"] == "client_credentials"
    assert endpoint.log[0]["client_id"] == ""  # RFC 6749 section 2.3.1: in the Authorization header


def test_a_token_is_replaced_when_it_is_due(endpoint: TokenEndpoint, database: Database) -> None:
    endpoint.register("forum-app", secret=SECRET)
    endpoint.lifetime = 2  # 10% of it is under a second: used until it expires
    config = generic(endpoint)
    source = oauth2.token_source(config, connector(database))
    first = source.token()
    assert source.token() == first
    time.sleep(2.2)
    second = source.token()
    assert second != first and endpoint.grants("client_credentials") == 2


@pytest.mark.parametrize("lifetime, early", [(3600, 300), (600, 60), (90, 9), (1, 0)])
def test_tokens_are_replaced_five_minutes_or_a_tenth_of_their_life_early(lifetime: int, early: int) -> None:
    assert cache.early(lifetime) == early


def test_two_hosts_at_once_spend_a_rotating_refresh_token_once(endpoint: TokenEndpoint,
                                                               database: Database) -> None:
    endpoint.register("forum-app", secret=SECRET)
    endpoint.rotate = True
    config = generic(endpoint, endpoint.add_refresh_token("forum-app", "replies"))
    oauth2.token_source(config, connector(database)).token()
    expire(database)  # an hour later, both hosts find the token due at once
    endpoint.delay = 0.5  # the first host is still fetching when the second asks
    got: list[str] = []
    errors: list[BaseException] = []

    def host() -> None:
        try:
            got.append(oauth2.token_source(config, connector(database)).token())
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    hosts = [threading.Thread(target=host) for _ in range(2)]
    for h in hosts:
        h.start()
    for h in hosts:
        h.join(30)
    assert errors == [] and len(got) == 2 and got[0] == got[1]
    assert endpoint.grants("refresh_token") == 2  # the first token, then one for both hosts


def test_a_rotated_refresh_token_is_kept_and_used_next_time(endpoint: TokenEndpoint, database: Database) -> None:
    endpoint.register("forum-app", secret=SECRET)
    endpoint.rotate = True  # each refresh spends the token it used
    config = generic(endpoint, endpoint.add_refresh_token("forum-app", "replies"))
    oauth2.token_source(config, connector(database)).token()
    for _ in range(2):
        expire(database)
        token = oauth2.token_source(config, connector(database)).token()  # the settings' one is spent
        assert endpoint.active(token) == "replies"
    assert endpoint.grants("refresh_token") == 3


def test_rotation_is_kept_without_a_database_too(endpoint: TokenEndpoint) -> None:
    endpoint.register("forum-app", secret=SECRET)
    endpoint.rotate = True
    endpoint.lifetime = 1
    config = generic(endpoint, endpoint.add_refresh_token("forum-app", "replies"))
    source = oauth2.token_source(config, None)
    source.token()
    time.sleep(1.1)
    assert endpoint.active(source.token()) == "replies"


def test_a_new_refresh_token_in_the_settings_starts_a_new_lineage(endpoint: TokenEndpoint,
                                                                  database: Database) -> None:
    endpoint.register("forum-app", secret=SECRET)
    endpoint.rotate = True
    old = generic(endpoint, endpoint.add_refresh_token("forum-app", "replies"))
    oauth2.token_source(old, connector(database)).token()
    # The administrator got a new refresh token (here: of another user) and put it in .env.
    new = generic(endpoint, endpoint.add_refresh_token("forum-app", "replies-2"))
    expire(database)
    token = oauth2.token_source(new, connector(database)).token()
    assert endpoint.active(token) == "replies-2"
    assert cache.origin(new.refresh_token) in [r[0] for r in database.query("SELECT refresh_origin FROM oauth2_tokens")]


def test_two_settings_of_one_mailbox_with_their_own_refresh_tokens_do_not_spend_each_others(
        endpoint: TokenEndpoint, database: Database) -> None:
    # SMTP and POP3 of one mailbox, each with a refresh token of its own consent, at a
    # provider that rotates: sharing one cache row, each run would use the other's
    # rotated token, and the next would find its own spent.
    endpoint.register("forum-app", secret=SECRET)
    endpoint.rotate = True
    smtp = generic(endpoint, endpoint.add_refresh_token("forum-app", "replies"))
    pop = generic(endpoint, endpoint.add_refresh_token("forum-app", "replies"))
    for _ in range(3):
        for config in (smtp, pop, smtp):
            expire(database)
            assert endpoint.active(oauth2.token_source(config, connector(database)).token()) == "replies"


def test_a_refused_token_is_dropped_and_replaced(endpoint: TokenEndpoint, database: Database) -> None:
    endpoint.register("forum-app", secret=SECRET)
    config = generic(endpoint)
    source = oauth2.token_source(config, connector(database))
    first = source.token()
    endpoint.revoke(first)  # revoked early: the server refuses it
    second = source.refused(first)
    assert second != first and endpoint.active(second)
    assert oauth2.token_source(config, connector(database)).token() == second  # the next run gets it too


def test_refused_keeps_a_newer_token_another_host_already_got(endpoint: TokenEndpoint, database: Database) -> None:
    endpoint.register("forum-app", secret=SECRET)
    config = generic(endpoint)
    host_a = oauth2.token_source(config, connector(database))
    host_b = oauth2.token_source(config, connector(database))
    old = host_a.token()
    newer = host_b.refused(old)
    assert host_a.refused(old) == newer  # not dropped: it is not the one refused
    assert endpoint.grants("client_credentials") == 2


def test_a_refused_token_is_replaced_without_a_database(endpoint: TokenEndpoint) -> None:
    endpoint.register("forum-app", secret=SECRET)
    source = oauth2.token_source(generic(endpoint), None)
    first = source.token()
    assert source.token() == first
    second = source.refused(first)
    assert second != first and endpoint.active(second)


# --- refusals and failures -------------------------------------------------------------------------

def test_a_wrong_secret_is_one_line_naming_the_setting_and_never_the_secret(
        endpoint: TokenEndpoint, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint.register("forum-app", secret=SECRET)
    wrong = "Wrong-Secret-Typed-Badly-99"
    before = oauth2.failures()
    with pytest.raises(OAuth2Refused) as raised:
        oauth2.token_source(generic(endpoint, secret=wrong), None).token()
    text = str(raised.value)
    assert "\n" not in text
    assert text.startswith("OPTS['replier_pop_oauth2']: the token endpoint refused client 'forum-app': "
                           "invalid_client")
    assert "REPLIER_POP_OAUTH2_CLIENT_SECRET" in text
    assert wrong not in text and wrong not in caplog.text
    assert isinstance(raised.value, TemporaryFailure)
    assert oauth2.failures() == before + 1


def test_an_expired_refresh_token_says_which_setting_to_renew(endpoint: TokenEndpoint) -> None:
    endpoint.register("forum-app", secret=SECRET)
    with pytest.raises(OAuth2Refused) as raised:
        oauth2.token_source(generic(endpoint, "rt-revoked-long-ago"), None).token()
    text = str(raised.value)
    assert "invalid_grant: Token has been expired or revoked." in text
    assert "refresh_token / REPLIER_POP_OAUTH2_REFRESH_TOKEN" in text
    assert "rt-revoked-long-ago" not in text


@pytest.mark.parametrize("status", [500, 503, 429])
def test_an_unwell_endpoint_is_a_temporary_failure(endpoint: TokenEndpoint, status: int) -> None:
    endpoint.register("forum-app", secret=SECRET)
    endpoint.fail_next(status)
    with pytest.raises(OAuth2Unreachable, match="HTTP %d" % status):
        oauth2.token_source(generic(endpoint), None).token()


def test_an_endpoint_whose_certificate_we_do_not_trust_is_refused(endpoint: TokenEndpoint,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    endpoint.register("forum-app", secret=SECRET)
    with pytest.raises(OAuth2Unreachable, match="CERTIFICATE_VERIFY_FAILED"):
        oauth2.token_source(generic(endpoint), None).token()
    assert endpoint.log == []  # the secret never left


def _settings_with_pop_oauth2(tmp_path: Path, oauth: dict[str, Any], env: dict[str, str]) -> Path:
    return write_conf(tmp_path / "cron_conf.py",
                      {"MAIL_FROM": "Forum <noreply@forum.test>", "MAIL_SMTP": "127.0.0.1"},
                      {"replier_from_addr": "Forum reply <replies@forum.test>", "replier_pop_addr": "127.0.0.1",
                       "replier_pop_login": "replies", "replier_pop_oauth2": oauth}, env)


_TOKEN_RUN = """
import sys
from forummail import cli, oauth2, settings
def job():
    conf = settings.load(sys.argv[1])
    oauth2.token_source(conf.replies.replier_pop_oauth2, None).token()
    return 0
sys.exit(cli.run("fetch_replies.py", job))
"""


def test_an_unreachable_endpoint_exits_75_with_one_line(tmp_path: Path, endpoint: TokenEndpoint) -> None:
    closed = "https://127.0.0.1:%d/token" % free_port()
    refresh = "rt-Refresh-Token-Nobody-Sees"
    conf = _settings_with_pop_oauth2(tmp_path, {"provider": "generic", "token_url": closed, "client_id": "app",
                                                "timeout": 5},
                                     {"REPLIER_POP_OAUTH2_REFRESH_TOKEN": refresh,
                                      "REPLIER_POP_OAUTH2_CLIENT_SECRET": SECRET})
    done = subprocess.run([sys.executable, "-c", _TOKEN_RUN, str(conf)], capture_output=True, text=True,
                          cwd=ROOT, env=clean_env({"PYTHONPATH": str(ROOT)}), timeout=60)
    assert done.returncode == 75, done.stderr
    assert done.stderr.startswith("fetch_replies.py: OPTS['replier_pop_oauth2']: the token endpoint %s could not "
                                  "be used: " % closed)
    assert done.stderr.count("\n") == 1 and done.stdout == ""
    assert refresh not in done.stderr and SECRET not in done.stderr


# --- microsoft (MSAL) ------------------------------------------------------------------------------

def test_microsoft_client_secret_gets_an_app_token_from_the_authority_as_given(endpoint: TokenEndpoint,
                                                                                database: Database) -> None:
    config = microsoft(endpoint)
    endpoint.register(config.client_id, secret=SECRET, subject="noreply@forum.test")
    token = oauth2.token_source(config, connector(database)).token()
    assert endpoint.active(token) == "noreply@forum.test"
    assert oauth2.token_source(config, connector(database)).token() == token
    assert [e["path"] for e in endpoint.log] == ["/contoso/oauth2/v2.0/token"]


def test_microsoft_certificate_signs_a_client_assertion(tmp_path: Path, endpoint: TokenEndpoint) -> None:
    cert, key, cert_pem = key_pair(tmp_path / "app", "forum-app")
    config = microsoft(endpoint, client_secret="", certificate=str(cert), private_key=str(key))
    endpoint.register(config.client_id, certificate=cert_pem, subject="noreply@forum.test")
    token = oauth2.token_source(config, None).token()
    assert endpoint.active(token) == "noreply@forum.test"
    # A key that is not the registered certificate's is refused.
    other_cert, other_key, _ = key_pair(tmp_path / "other", "intruder")
    cache._memory.clear()
    with pytest.raises(OAuth2Refused, match="invalid_client: AADSTS7000215"):
        oauth2.token_source(microsoft(endpoint, client_secret="", certificate=str(other_cert),
                                      private_key=str(other_key)), None).token()


def test_microsoft_wrong_secret_reads_as_entra_id_said_it(endpoint: TokenEndpoint,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = microsoft(endpoint, client_secret="Not-The-Secret-0000")
    endpoint.register(config.client_id, secret=SECRET)
    with pytest.raises(OAuth2Refused) as raised:
        oauth2.token_source(config, None).token()
    text = str(raised.value)
    assert text.startswith("OPTS['smtp_oauth2']: the token endpoint refused client '%s': invalid_client: "
                           "AADSTS7000215: Invalid client secret provided." % config.client_id)
    assert text.endswith("(check client_id and client_secret / SMTP_OAUTH2_CLIENT_SECRET)")
    assert "\n" not in text and "Trace ID" not in text
    assert "Not-The-Secret-0000" not in text + caplog.text


def test_microsoft_endpoint_answering_5xx_is_a_temporary_failure(endpoint: TokenEndpoint) -> None:
    config = microsoft(endpoint)
    endpoint.register(config.client_id, secret=SECRET)
    endpoint.fail_next(503)
    with pytest.raises(OAuth2Unreachable, match="HTTP Error: 503"):
        oauth2.token_source(config, None).token()
    assert oauth2.token_source(config, None).token()  # and the next run gets its token


def test_microsoft_unknown_tenant_is_refused_naming_it(endpoint: TokenEndpoint) -> None:
    config = microsoft(endpoint, tenant="fabrikam")
    endpoint.register(config.client_id, secret=SECRET)
    with pytest.raises(OAuth2Refused, match="fabrikam"):
        oauth2.token_source(config, None).token()


def test_microsoft_endpoint_down_is_a_temporary_failure(endpoint: TokenEndpoint) -> None:
    config = microsoft(endpoint, authority="https://127.0.0.1:%d" % free_port(), timeout=5.0)
    with pytest.raises(OAuth2Unreachable):
        oauth2.token_source(config, None).token()


# --- google --------------------------------------------------------------------------------------

def test_google_refresh_token_at_the_token_url_given(endpoint: TokenEndpoint, database: Database) -> None:
    endpoint.register("123.apps.googleusercontent.com", secret=SECRET)
    refresh = endpoint.add_refresh_token("123.apps.googleusercontent.com", "replies@forum.test")
    config = OAuth2(setting="OPTS['replier_pop_oauth2']", provider="google", subject="replies@forum.test",
                    client_id="123.apps.googleusercontent.com", client_secret=SECRET, refresh_token=refresh,
                    token_url=endpoint.token_url, scope="https://mail.google.com/")
    token = oauth2.token_source(config, connector(database)).token()
    assert endpoint.active(token) == "replies@forum.test"
    assert endpoint.log[0]["client_id"] == "123.apps.googleusercontent.com"  # Google: in the body


def service_account_file(tmp_path: Path, endpoint: TokenEndpoint) -> Path:
    """A Google service account's key file whose token_uri is ``endpoint``, the account registered there."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = "forummail@forum-project.iam.gserviceaccount.com"
    endpoint.register(email, certificate=key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps({
        "type": "service_account", "project_id": "forum-project", "private_key_id": "k1",
        "private_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "client_email": email, "client_id": "1", "token_uri": endpoint.token_url}))
    return key_file


def test_google_service_account_acts_for_the_mailbox(tmp_path: Path, endpoint: TokenEndpoint,
                                                     database: Database) -> None:
    key_file = service_account_file(tmp_path, endpoint)
    config = OAuth2(setting="OPTS['replier_pop_oauth2']", provider="google", subject="replies@forum.test",
                    service_account_file=str(key_file), scope="https://mail.google.com/",
                    token_url="https://oauth2.googleapis.com/token")
    token = oauth2.token_source(config, connector(database)).token()
    assert endpoint.active(token) == "replies@forum.test"
    assert endpoint.grants("urn:ietf:params:oauth:grant-type:jwt-bearer") == 1
    assert oauth2.token_source(config, connector(database)).token() == token


# --- command ---------------------------------------------------------------------------------------

def _command(tmp_path: Path, body: str, timeout: float = 30.0) -> OAuth2:
    script = tmp_path / "token-tool"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return OAuth2(setting="OPTS['replier_pop_oauth2']", provider="command", subject="replies",
                  token_command="%s --account 'replies box'" % script, timeout=timeout)


def test_command_prints_the_token(tmp_path: Path) -> None:
    source = oauth2.token_source(_command(tmp_path, 'echo "tok-$2-$#"'), None)
    assert source.token() == "tok-replies box-2"  # shlex-split, no shell in between
    assert source.refused("tok-replies box-2") == "tok-replies box-2"  # asked again: the tool knows


def test_command_that_fails_is_refused_with_its_first_line_only(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = _command(tmp_path, 'echo "tok-half-printed"; echo "oama: no refresh token for replies" >&2; '
                                'echo "debug: client_secret=Hidden-Tool-Secret" >&2; exit 3')
    with pytest.raises(OAuth2Refused) as raised:
        oauth2.token_source(config, None).token()
    text = str(raised.value)
    assert text == ("OPTS['replier_pop_oauth2']: token_command %s failed with exit status 3: oama: no refresh "
                    "token for replies" % (tmp_path / "token-tool"))
    assert "Hidden-Tool-Secret" not in text + caplog.text and "tok-half-printed" not in text + caplog.text


def test_command_that_prints_nothing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OAuth2Refused, match="printed no token"):
        oauth2.token_source(_command(tmp_path, "exit 0"), None).token()


def test_command_that_hangs_is_stopped(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(OAuth2Unreachable, match="did not finish in 1 s"):
        oauth2.token_source(_command(tmp_path, "sleep 30", timeout=1.0), None).token()
    assert time.monotonic() - started < 10


# --- secrets never printed ---------------------------------------------------------------------------

def test_no_secret_or_token_in_logs_reprs_or_errors(endpoint: TokenEndpoint, database: Database,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint.register("forum-app", secret=SECRET)
    endpoint.rotate = True
    refresh = endpoint.add_refresh_token("forum-app", "replies")
    config = generic(endpoint, refresh)
    source = oauth2.token_source(config, connector(database))
    token = source.token()
    rotated = database.scalar("SELECT refresh_token FROM oauth2_tokens")
    endpoint.fail_next(503)
    expire(database)
    with pytest.raises(OAuth2Unreachable) as raised:
        source.token()
    texts = caplog.text + repr(config) + str(raised.value) + repr(raised.value) + "\n".join(oauth2.describe(config))
    for secret in (SECRET, refresh, token, rotated):
        assert secret and secret not in texts


# --- describe (manage.py check) ---------------------------------------------------------------------

def test_describe_reads_a_certificates_expiry_and_says_where_a_secret_expires(tmp_path: Path,
                                                                             endpoint: TokenEndpoint) -> None:
    cert, key, _ = key_pair(tmp_path / "app", "forum-app")
    lines = oauth2.describe(microsoft(endpoint, client_secret="", certificate=str(cert), private_key=str(key)))
    expected = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=90)).strftime("%Y-%m-%d")
    assert len(lines) == 1 and "valid until %s" % expected in lines[0]
    (text,) = oauth2.describe(microsoft(endpoint))
    assert "Entra ID does not tell the client" in text and "Certificates & secrets" in text
    assert SECRET not in text


# --- settings ---------------------------------------------------------------------------------------

def _module(opts: dict[str, Any], **top: Any) -> ModuleType:
    module = ModuleType("cron_conf")
    module.__dict__.update({"MAIL_FROM": "Forum <noreply@forum.test>", "MAIL_SMTP": "smtp.office365.com",
                            "MAIL_LOGIN": "noreply@forum.test", "OPTS": opts, **top})
    return module


def _problems(opts: dict[str, Any], environ: dict[str, str] | None = None, **top: Any) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        settings.validate(_module(opts, **top), Path("/nonexistent/cron_conf.py"), environ or {})
    return raised.value.problems


def test_microsoft_settings_without_a_credential_say_what_is_needed() -> None:
    problems = _problems({"smtp_tls": True, "smtp_oauth2": {"provider": "microsoft", "tenant": "contoso",
                                                            "client_id": "app"}})
    assert problems == ["OPTS['smtp_oauth2']: provider 'microsoft' needs client_secret (or SMTP_OAUTH2_CLIENT_SECRET "
                        "in the environment) or certificate and private_key"]


def test_oauth2_settings_take_secrets_from_the_environment_and_no_password() -> None:
    conf = settings.validate(_module({"smtp_tls": True, "smtp_port": 587,
                                      "smtp_oauth2": {"provider": "microsoft", "tenant": "contoso",
                                                      "client_id": "app"}}),
                             Path("x"), {"SMTP_OAUTH2_CLIENT_SECRET": SECRET})
    server = conf.sending.smtp_servers[0]
    assert server.password == "" and server.oauth2 is not None
    assert server.oauth2.client_secret == SECRET and server.oauth2.subject == "noreply@forum.test"
    assert server.oauth2.scope == MS_SCOPE and server.oauth2.authority == "https://login.microsoftonline.com"
    assert server.oauth2.setting == "OPTS['smtp_oauth2']"
    assert SECRET not in repr(conf) and SECRET in conf.secrets


def test_oauth2_without_a_login_names_the_login_setting() -> None:
    problems = _problems({"smtp_tls": True, "smtp_oauth2": {"provider": "command", "token_command": "true"}},
                         MAIL_LOGIN="")
    assert problems == ["OPTS['smtp_oauth2'] is set but MAIL_LOGIN is empty: name the mailbox to sign in to"]


def test_a_refusal_quotes_the_provider_without_masking_the_grants_name(endpoint: TokenEndpoint) -> None:
    endpoint.register("forum-app", secret=SECRET)
    with pytest.raises(OAuth2Refused) as raised:  # the endpoint names the grant type in its answer
        oauth2.token_source(generic(endpoint, refresh_token="rt-x", client_id="forum-app", secret="bad"),
                            None).token()
    assert "(grant_type refresh_token)" in str(raised.value) and "***" not in str(raised.value)


def test_each_smtp_servers_entry_has_its_own_oauth2_named_by_its_place() -> None:
    conf = settings.validate(_module({"smtp_servers": [
        {"host": "smtp.gmail.com", "port": 587, "tls": True, "login": "a@forum.test", "password": "pw"},
        {"host": "smtp.office365.com", "port": 587, "tls": True, "login": "b@forum.test",
         "oauth2": {"provider": "generic", "token_url": "https://idp.forum.test/token", "client_id": "c"}}]}),
        Path("x"), {"SMTP_OAUTH2_REFRESH_TOKEN": "rt-from-env"})
    first, second = conf.sending.smtp_servers
    assert first.oauth2 is None
    assert second.oauth2 is not None and second.oauth2.setting == "OPTS['smtp_servers'][1]['oauth2']"
    assert second.oauth2.refresh_token == "rt-from-env" and second.oauth2.subject == "b@forum.test"


def test_pop_with_oauth2_and_no_password_is_configured() -> None:
    conf = settings.validate(_module({"replier_from_addr": "replies@forum.test",
                                      "replier_pop_addr": "outlook.office365.com",
                                      "replier_pop_login": "replies@forum.test",
                                      "replier_pop_oauth2": {"provider": "command", "token_command": "true"}},
                                     MAIL_LOGIN=""), Path("x"), {})
    assert conf.replies.pop_configured and conf.replies.replier_pop_oauth2 is not None
    assert conf.replies.replier_pop_oauth2.setting == "OPTS['replier_pop_oauth2']"


@pytest.mark.parametrize("oauth, expected", [
    ({"provider": "yahoo"}, "OPTS['replier_pop_oauth2']: 'provider' must be one of 'microsoft', 'google', "
                            "'generic', 'command', not 'yahoo'"),
    ({"provider": ["microsoft"]}, "OPTS['replier_pop_oauth2']: 'provider' must be one of"),
    ("microsoft", "OPTS['replier_pop_oauth2'] must be a dict like"),
    ({"provider": "command", "token_command": "true", "tenant": "x"},
     "OPTS['replier_pop_oauth2'] has unknown key 'tenant' for provider 'command'"),
    ({"provider": "generic", "token_url": "http://idp.forum.test/token", "client_id": "c", "client_secret": "s"},
     "OPTS['replier_pop_oauth2']['token_url'] must be an https:// URL"),
    ({"provider": "microsoft", "tenant": "t", "client_id": "c", "certificate": "/nonexistent/app.pem",
      "private_key": "/nonexistent/app.key"}, "OPTS['replier_pop_oauth2']['certificate']: /nonexistent/app.pem is "
                                              "not a file"),
    ({"provider": "google", "client_id": "c"}, "OPTS['replier_pop_oauth2']: provider 'google' needs client_secret "
                                               "(or REPLIER_POP_OAUTH2_CLIENT_SECRET in the environment), or "
                                               "service_account_file"),
    ({"provider": "command", "token_command": "no-such-token-tool --x"},
     "OPTS['replier_pop_oauth2']['token_command']: no-such-token-tool is not an executable program"),
])
def test_bad_oauth2_settings_are_one_line_each_naming_the_key(oauth: Any, expected: str) -> None:
    problems = _problems({"replier_from_addr": "replies@forum.test", "replier_pop_addr": "pop.forum.test",
                          "replier_pop_login": "replies", "replier_pop_oauth2": oauth})
    assert any(p.startswith(expected) for p in problems), problems


def test_bad_oauth2_settings_exit_78(tmp_path: Path) -> None:
    conf = _settings_with_pop_oauth2(tmp_path, {"provider": "microsoft", "tenant": "contoso"},
                                     {"REPLIER_POP_OAUTH2_CLIENT_SECRET": SECRET})
    done = subprocess.run([sys.executable, "-c", _TOKEN_RUN, str(conf)], capture_output=True, text=True,
                          cwd=ROOT, env=clean_env({"PYTHONPATH": str(ROOT)}), timeout=60)
    assert done.returncode == 78
    assert "OPTS['replier_pop_oauth2']: provider 'microsoft' needs client_id" in done.stderr
    assert SECRET not in done.stderr

"""OAuth2 against a misbehaving provider and a careless administrator (issue 11, tested hostile):
odd lifetimes, error pages that echo the request, settings that name the wrong files."""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from forummail import oauth2
from forummail.oauth2 import OAuth2Unreachable, cache
from forummail.settingtypes import OAuth2
from tests.conftest import Database
from tests.oauthserver import TokenEndpoint

SECRET = "Cl1ent/Secret+of=the&app~42"  # characters a form or a URL writes differently
GOOGLE_STYLE_REFRESH = "1//0gRefresh-Token/With+Slashes=Nobody-Sees"


@pytest.fixture(autouse=True)
def _fresh_memory_cache() -> Iterator[None]:
    cache._memory.clear()
    yield
    cache._memory.clear()


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenEndpoint]:
    server = TokenEndpoint(tmp_path / "oauth").start()
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    yield server
    server.stop()


def connector(database: Database) -> Callable[[], psycopg.Connection]:
    return lambda: database.connect(autocommit=False)


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

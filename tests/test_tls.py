"""TLS everywhere it is configured, and certificates really verified (a throw-away CA)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import POP_PASSWORD, Env, Forum
from tests.servers import DovecotServer, SmtpServer, make_ca
from tests.test_replies import gmail_reply, notification_for


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_ca(tmp_path_factory.mktemp("ca"))


def trusted(ca: tuple[Path, Path, Path]) -> dict[str, str]:
    return {"SSL_CERT_FILE": str(ca[0])}


@pytest.fixture(params=["starttls", "ssl"])
def tls_smtp(request: pytest.FixtureRequest, ca: tuple[Path, Path, Path]) -> Iterator[SmtpServer]:
    server = SmtpServer(tls=request.param, cert=(ca[1], ca[2])).start()
    server.mode = request.param  # type: ignore[attr-defined]
    yield server
    server.stop()


def use(env: Env, server: SmtpServer, **opts: object) -> None:
    env.smtp = server
    mode = server.mode  # type: ignore[attr-defined]
    env.configure(top={"MAIL_USE_SSL": mode == "ssl"},
                  opts={"smtp_port": server.port, "smtp_tls": mode == "starttls", **opts})


def test_smtp_tls_with_a_trusted_certificate(env: Env, forum: Forum, small_forum: dict[str, int],
                                             tls_smtp: SmtpServer, ca: tuple[Path, Path, Path]) -> None:
    use(env, tls_smtp)
    forum.post(small_forum["task"], small_forum["ann"], "over TLS")
    result = env.run("send_notifications.py", env=trusted(ca))
    assert (result.returncode, result.stderr) == (0, "")
    assert len(tls_smtp.messages) == 2


def test_smtp_untrusted_certificate_is_refused(env: Env, forum: Forum, small_forum: dict[str, int],
                                               tls_smtp: SmtpServer) -> None:
    use(env, tls_smtp)
    forum.post(small_forum["task"], small_forum["ann"], "over TLS")
    result = env.run("send_notifications.py")
    assert result.returncode == 75
    assert "TLS certificate not valid" in result.stderr
    assert tls_smtp.messages == [] and forum.statuses() == {"pending": 2}
    # Checks off, by a setting, with a warning each run.
    use(env, tls_smtp, smtp_verify_tls=False)
    result = env.run("send_notifications.py")
    assert result.returncode == 0 and "certificate checks are off" in result.stderr
    # The two notifications, and the alert queued while the certificate was refused.
    assert sorted(r for m in tls_smtp.messages for r in m.recipients) == [
        "admin@forum.test", "bob@example.com", "cat@example.com"]


def test_starttls_not_offered_is_a_clear_error(env: Env, forum: Forum, small_forum: dict[str, int]) -> None:
    env.configure(opts={"smtp_tls": True})
    forum.post(small_forum["task"], small_forum["ann"], "x")
    result = env.run("send_notifications.py")
    assert result.returncode == 75 and "does not offer STARTTLS" in result.stderr


@pytest.fixture
def tls_pop(ca: tuple[Path, Path, Path]) -> Iterator[DovecotServer]:
    server = DovecotServer(login="replies", password=POP_PASSWORD, cert=(ca[1], ca[2])).start()
    yield server
    server.stop()


@pytest.mark.parametrize("mode", ["pop3s", "stls"])
def test_pop3_over_tls(env: Env, forum: Forum, small_forum: dict[str, int], tls_pop: DovecotServer,
                       ca: tuple[Path, Path, Path], mode: str) -> None:
    port = tls_pop.tls_port if mode == "pop3s" else tls_pop.port
    env.configure(opts={"replier_pop_addr": "127.0.0.1:%d" % port, "replier_pop_ssl": mode == "pop3s",
                        "replier_pop_login": "replies"}, env={"REPLIER_POP_PSSWD": POP_PASSWORD})
    forum.post(small_forum["task"], small_forum["ann"], "question")
    assert env.run("send_notifications.py").returncode == 0
    tls_pop.deliver(gmail_reply(notification_for(env, "bob@example.com"), "bob@example.com", "answer over TLS"))
    untrusted = env.run("fetch_replies.py")
    assert untrusted.returncode == 75 and "certificate" in untrusted.stderr.lower()
    assert tls_pop.count() == 1
    result = env.run("fetch_replies.py", env=trusted(ca))
    assert (result.returncode, result.stderr) == (0, "")
    assert tls_pop.count() == 0
    assert forum.conn.execute("SELECT body FROM messages ORDER BY id DESC LIMIT 1").fetchone() == (
        "answer over TLS",)

"""Fixtures: a real PostgreSQL for the session, a fresh database per test,
a real SMTP server per test, settings files, and the scripts run as cron
runs them (a subprocess, checked by exit code, stdout and stderr)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from forummail import db as fm_db
from forummail.oauth2 import cache as oauth2_cache
from tests.oauthserver import TokenEndpoint
from tests.servers import DovecotServer, PostgresServer, SmtpServer, free_port

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "memoria"
REPLY_SECRET = "test-reply-secret-" + "x" * 16
POP_PASSWORD = "Pop-Secret-77"


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        with psycopg.connect(**server.conninfo(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE forum_template")
        with psycopg.connect(**server.conninfo("forum_template")) as conn:
            fm_db.migrate(conn, SCHEMA)
        yield server
    finally:
        server.stop()


@dataclass
class Database:
    server: PostgresServer
    name: str

    def connect(self, autocommit: bool = True) -> psycopg.Connection:
        conn = psycopg.connect(**self.server.conninfo(self.name), autocommit=autocommit,
                               options="-c search_path=%s" % SCHEMA)
        return conn

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def scalar(self, sql: str, params: Any = None) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None


@pytest.fixture
def database(pg: PostgresServer) -> Iterator[Database]:
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(**pg.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE %s TEMPLATE forum_template" % name)
    yield Database(pg, name)
    with psycopg.connect(**pg.conninfo(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)


@pytest.fixture
def pop() -> Iterator[DovecotServer]:
    server = DovecotServer(login="replies", password=POP_PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_oauth2_memory_cache() -> Iterator[None]:
    """No access token kept in this process from another test (the cache without a database)."""
    oauth2_cache._memory.clear()
    yield
    oauth2_cache._memory.clear()


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenEndpoint]:
    """An OAuth2 token endpoint over HTTPS, its throw-away CA trusted as an installation with its own names it."""
    server = TokenEndpoint(tmp_path / "oauth").start()
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))  # MSAL's and google-auth's transport
    yield server
    server.stop()


def connector(database: Database) -> Callable[[], psycopg.Connection]:
    """Connections to the test database for the OAuth2 token cache, as the scripts open them."""
    return lambda: database.connect(autocommit=False)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def write_conf(path: Path, top: dict[str, Any], opts: dict[str, Any], env: dict[str, str] | None = None) -> Path:
    """A cron_conf.py in the manual's style with the given values."""
    lines = ["# written by the tests"]
    for key, value in top.items():
        lines.append("%s = %r" % (key, value))
    lines.append("OPTS = {")
    first = True
    for key, value in opts.items():
        lines.append("\t%s %r : %r" % (" " if first else ",", key, value))
        first = False
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")
    if env is not None:
        path.with_name(".env").write_text("".join("%s=%s\n" % kv for kv in env.items()))
    return path


@dataclass
class Env:
    """One test's world: a database, an SMTP server, a settings file."""

    tmp: Path
    database: Database
    smtp: SmtpServer
    conf: Path

    def configure(self, top: dict[str, Any] | None = None, opts: dict[str, Any] | None = None,
                  env: dict[str, str] | None = None) -> Path:
        base_top: dict[str, Any] = {
            "MAIL_FROM": "Forum <noreply@forum.test>",
            "MAIL_SMTP": "127.0.0.1",
            "MAIL_ADMIN": "admin@forum.test",
            "DB_HOST": "127.0.0.1",
            "DB_PORT": self.database.server.port,
            "DB_USER": self.database.server.user,
            "DB_NAME": self.database.name,
            "DB_SCHEMA": SCHEMA,
        }
        base_opts: dict[str, Any] = {
            "smtp_port": self.smtp.port,
            "smtp_timeout": 5,
            "replier_from_addr": "Forum reply <replies@forum.test>",
            "mail_log": str(self.tmp / "mail.log"),
        }
        base_top.update(top or {})
        base_opts.update(opts or {})
        dotenv = {"REPLY_TOKEN_SECRET": REPLY_SECRET}
        dotenv.update(env or {})
        self.conf = write_conf(self.tmp / "cron_conf.py", base_top, base_opts, dotenv)
        return self.conf

    def run(self, script: str, *args: str, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run_script(script, "--conf", str(self.conf), *args, env=env, timeout=timeout)

    @property
    def log(self) -> str:
        path = self.tmp / "mail.log"
        return path.read_text() if path.exists() else ""


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CRON_CONF", "MAIL_PSSWD", "DB_PSWD", "REPLIER_POP_PSSWD", "REPLY_TOKEN_SECRET")}
    env.update(extra or {})
    return env


def run_script(script: str, *args: str, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True,
                          text=True, env=clean_env(env), timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def env(tmp_path: Path, database: Database, smtp: SmtpServer) -> Env:
    e = Env(tmp_path, database, smtp, tmp_path / "cron_conf.py")
    e.configure()
    return e


class Forum:
    """The host application, as far as the tests need it."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self.conn = database.connect()

    def universe(self, name: str = "Studio", allow_email_reply: bool = True) -> int:
        return int(self.conn.execute(
            "INSERT INTO universes (name, allow_email_reply) VALUES (%s, %s) RETURNING id",
            (name, allow_email_reply)).fetchone()[0])  # type: ignore[index]

    def user(self, universe: int, name: str, email: str, active: bool = True) -> int:
        return int(self.conn.execute(
            "INSERT INTO users (universe_id, name, email, active) VALUES (%s, %s, %s, %s) RETURNING id",
            (universe, name, email, active)).fetchone()[0])  # type: ignore[index]

    def task(self, universe: int, name: str, followers: list[int] = ()) -> int:  # type: ignore[assignment]
        task_id = int(self.conn.execute(
            "INSERT INTO tasks (universe_id, name) VALUES (%s, %s) RETURNING id",
            (universe, name)).fetchone()[0])  # type: ignore[index]
        for user_id in followers:
            self.conn.execute("INSERT INTO task_followers VALUES (%s, %s)", (task_id, user_id))
        return task_id

    def post(self, task: int, author: int, body: str) -> int:
        return int(self.conn.execute(
            "INSERT INTO messages (task_id, author_id, body) VALUES (%s, %s, %s) RETURNING id",
            (task, author, body)).fetchone()[0])  # type: ignore[index]

    def statuses(self) -> dict[str, int]:
        """Counts by status of the forum's mail (the administrator's alerts aside)."""
        rows = self.conn.execute("SELECT status, count(*) FROM notifications WHERE kind <> 'admin-alert'"
                                 " GROUP BY status").fetchall()
        return {status: int(n) for status, n in rows}

    def alerts(self) -> list[tuple[str, str]]:
        """(status, subject) of the alerts queued for MAIL_ADMIN."""
        return [(r[0], r[1]) for r in self.conn.execute(
            "SELECT status, subject FROM notifications WHERE kind = 'admin-alert' ORDER BY id")]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def forum(database: Database) -> Iterator[Forum]:
    f = Forum(database)
    yield f
    f.close()


@pytest.fixture
def small_forum(forum: Forum) -> dict[str, int]:
    """A universe that allows replies, three users following one task."""
    u = forum.universe("Studio", allow_email_reply=True)
    ann = forum.user(u, "Ann Author", "ann@example.com")
    bob = forum.user(u, "Bob Builder", "bob@example.com")
    cat = forum.user(u, "Cat Critic", "cat@example.com")
    task = forum.task(u, "Render farm upgrade", [ann, bob, cat])
    return {"universe": u, "ann": ann, "bob": bob, "cat": cat, "task": task}


def random_secret() -> str:
    return secrets.token_urlsafe(24)


__all__ = ["free_port"]


# --- No password in any output of the whole suite (issue 6, R6) ---------------------------
# After every test: its captured output, the output of every script it ran, every
# file it wrote under its tmp_path and the mail its SMTP servers received are
# searched for the passwords of tests/passwords.py and of the test's .env files.

from tests import passwords as _passwords  # noqa: E402

_SCRIPT_OUTPUTS: list[tuple[str, str]] = []
_SCRIPT_SECRETS: set[str] = set()
_run_script_unchecked = run_script


def run_script(script: str, *args: str, env: dict[str, str] | None = None,  # type: ignore[no-redef]
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = _run_script_unchecked(script, *args, env=env, timeout=timeout)
    _SCRIPT_SECRETS.update(_passwords.secret_values((env or {}).items()))
    _SCRIPT_OUTPUTS.append(("%s stdout" % script, result.stdout or ""))
    _SCRIPT_OUTPUTS.append(("%s stderr" % script, result.stderr or ""))
    return result


def _produced(item: pytest.Item, report: pytest.TestReport) -> tuple[list[tuple[str, str]], set[str]]:
    texts = [(title, content) for title, content in report.sections]
    secrets = set(_passwords.PASSWORDS)
    if report.when != "call":
        return texts, secrets
    texts += _SCRIPT_OUTPUTS
    secrets |= _SCRIPT_SECRETS
    folders, servers = set(), []
    base = item.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, Path) and value.is_relative_to(base):
            folders.add(value)
        elif isinstance(value, Env):
            folders.add(value.tmp)
            servers.append(value.smtp)
        elif isinstance(value, SmtpServer):
            servers.append(value)
    for folder in folders:
        secrets |= _passwords.secrets_in_dotenv(folder)
        texts += _passwords.texts_under(folder)
    for server in {id(s): s for s in servers}.values():
        for i, received in enumerate(server.messages):
            texts += _passwords.mail_texts("mail %d received on port %d" % (i, server.port), received.data)
    return texts, secrets


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when in ("call", "teardown") and not hasattr(report, "wasxfail"):
        texts, secrets = _produced(item, report)
        found = _passwords.leaks(texts, secrets)
        _passwords.CHECKED.append(item.nodeid)
        if found:
            report.outcome = "failed"
            report.longrepr = "a password reached the output: " + "; ".join(sorted(set(found))[:10])
    if report.when == "teardown":
        _SCRIPT_OUTPUTS.clear()
        _SCRIPT_SECRETS.clear()
    return report

"""Settings: the manual's cron_conf.py, .env and environment, validation (exit 78)."""

from __future__ import annotations

from pathlib import Path

import pytest

from forummail import settings
from forummail.errors import ConfigError
from tests.conftest import ROOT, Env, run_script

# Written the way chapter 6 of the original manual writes it: tabs, ';' line
# ends, a leading-comma OPTS dict, arithmetic on EXTERNAL_DB_ADDR.
MANUAL_CONF = """\
DB_HOST="db.example.com"\t\t\t# your Database server address
DB_PORT=5432\t\t\t# your Database server port
DB_PSWD=""              # password

MAIL_FROM  = "Cerebro <noreply@your.company.com>"\t# <Mail from>
MAIL_SMTP  = "smtp.your.company.com"\t\t\t# SMTP server
MAIL_ADMIN = 'admin@your.company.com'\t\t\t# diagnostics
MAIL_LOGIN = 'mailer'\t\t\t# AUTH
MAIL_PSSWD = 'manual-secret-pw'\t\t\t#   if MAIL_LOGIN non-empty, MAIL_PSSWD can NOT be empty

EXTERNAL_DB_ADDR = 'db.cerebrohq.com:45432' # EXTERNAL Database address.

OPTS = {
\t'db_connection_addr' : EXTERNAL_DB_ADDR
#
# Additional SMTP options for mailer
#
\t, 'smtp_port' : 587    # Use 587 for Exchange
\t, 'smtp_tls' : True  # Needed for Google SMTP
\t, 'mail_log' : ''     # optional mailer log file
#\t, 'mail_disable' : True # Disable mailer
\t, 'replier_from_addr' : 'Cerebro reply <reply@your.company.com>' # reply address
\t, 'replier_pop_addr'  : 'pop.your.company.com'
\t, 'replier_pop_ssl'   : True
\t, 'replier_pop_login' : 'reply'
\t, 'replier_pop_psswd' : 'pop-secret-pw'
\t, 'replier_downloader_url' : 'https://storage.example.com/download.php?db_host=' + \
EXTERNAL_DB_ADDR.partition(':')[0] + '&db_port=' + EXTERNAL_DB_ADDR.partition(':')[2] + '&'
\t, 'replier_separator' : ''
\t, 'sync_remote_cargador_host' : ''
\t, 'ldap_encoding': 'cp1251'
}

DB_USER="sa_sirena"
DB_SCHEMA="memoria"

CARGADOR_HOST="127.0.0.1"
CARGADOR_RPC_PORT=4040
CARGADOR_HTPP_PORT=4080

MAIL_USE_SSL = False\t\t# Nowdays totally replaced with TLS

DEBUG = False;\t\t# May used for debug
"""


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAIL_PSSWD", "DB_PSWD", "REPLIER_POP_PSSWD", "REPLY_TOKEN_SECRET", "CRON_CONF"):
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, text: str, dotenv: str | None = None) -> Path:
    path = tmp_path / "cron_conf.py"
    path.write_text(text)
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)
    return path


def test_manual_conf_loads_unchanged(tmp_path: Path) -> None:
    path = write(tmp_path, MANUAL_CONF, "REPLY_TOKEN_SECRET=" + "s" * 32 + "\n")
    conf = settings.load(str(path))
    assert conf.mail_from_addr == "noreply@your.company.com"
    assert conf.mail_from_name == "Cerebro"
    server = conf.sending.smtp_servers[0]
    assert (server.host, server.port, server.tls, server.ssl, server.login) == (
        "smtp.your.company.com", 587, True, False, "mailer")
    assert server.password == "manual-secret-pw"
    assert conf.replies.replier_downloader_url == (
        "https://storage.example.com/download.php?db_host=db.cerebrohq.com&db_port=45432&")
    replies = conf.replies
    assert (replies.pop_host, replies.pop_port, replies.replier_pop_ssl) == ("pop.your.company.com", 995, True)
    assert conf.db.schema == "memoria" and conf.db.user == "sa_sirena"
    assert conf.replies.enabled
    # Secrets never in repr.
    assert "manual-secret-pw" not in repr(conf) and "pop-secret-pw" not in repr(conf)


def test_shipped_conf_is_valid_and_holds_no_secret() -> None:
    text = (ROOT / "cron_conf.py").read_text()
    conf = settings.validate(settings.load_module(ROOT / "cron_conf.py"), ROOT / "cron_conf.py")
    assert conf.sending.smtp_servers[0].password == "" and conf.db.password == ""
    # Every OPTS key we know is documented in the shipped file.
    for key in settings.OPTS_DEFAULTS:
        assert "'%s'" % key in text, key


def test_dotenv_beside_conf_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "MAIL_FROM='a@b.c'\nMAIL_SMTP='h'\nMAIL_LOGIN='u'\nMAIL_PSSWD=''\n",
                 "MAIL_PSSWD=from-dotenv\nDB_PSWD=db-from-dotenv\n")
    conf = settings.load(str(path))
    assert conf.sending.smtp_servers[0].password == "from-dotenv"
    assert conf.db.password == "db-from-dotenv"
    monkeypatch.setenv("MAIL_PSSWD", "from-environment")
    conf = settings.load(str(path))
    assert conf.sending.smtp_servers[0].password == "from-environment"


def test_cron_conf_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "MAIL_FROM='x@y.z'\nMAIL_SMTP='mx.y.z:2525'\n")
    monkeypatch.setenv("CRON_CONF", str(path))
    conf = settings.load(None)
    assert conf.path == path.resolve()
    assert (conf.sending.smtp_servers[0].host, conf.sending.smtp_servers[0].port) == ("mx.y.z", 2525)


def test_all_problems_reported_together(tmp_path: Path) -> None:
    path = write(tmp_path, """
MAIL_FROM = 'not an address'
MAIL_SMTP = 'smtp.example.com'
MAIL_LOGIN = 'someone'
MAIL_PSSWD = ''
MAIL_USE_SSL = True
DEBUG = True
DB_PORT = 'five'
DB_SCHEMA = 'bad; drop'
OPTS = {'smtp_tls': 'False', 'smtp_prot': 25, 'send_lease_seconds': 5,
        'replier_from_addr': 'replies@example.com', 'replier_pop_login': 'x'}
""")
    with pytest.raises(ConfigError) as err:
        settings.load(str(path))
    text = str(err.value)
    for expected in ("MAIL_FROM is not an email address", "MAIL_LOGIN is set but MAIL_PSSWD is empty",
                     "DEBUG is True but MAIL_ADMIN is empty", "DB_PORT", "DB_SCHEMA",
                     "OPTS['smtp_tls'] must be True or False", "write True or False without quotes",
                     "did you mean 'smtp_port'", "OPTS['send_lease_seconds']",
                     "OPTS['replier_pop_addr'], OPTS['replier_pop_psswd'] empty"):
        assert expected in text, expected
    assert len(err.value.problems) >= 9


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "MAIL_FROM = 'a@b.c'\nMAIL_SMTP = 'h\n")
    with pytest.raises(ConfigError, match=r"cron_conf.py line 2: Python syntax error"):
        settings.load(str(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        settings.load(str(tmp_path / "nope.py"))


def test_login_without_password_exits_78_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, "MAIL_FROM='a@b.c'\nMAIL_SMTP='h'\nMAIL_LOGIN='mailer'\nDB_PSWD='db-secret-123'\n")
    result = run_script("send_notifications.py", "--conf", str(path))
    assert result.returncode == 78
    assert "MAIL_LOGIN is set but MAIL_PSSWD is empty" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert "db-secret-123" not in result.stderr


def test_bad_settings_never_print_passwords(tmp_path: Path) -> None:
    path = write(tmp_path, "MAIL_FROM='a@b.c'\nMAIL_SMTP='h'\nMAIL_LOGIN='u'\n"
                 "MAIL_PSSWD=12345\nOPTS={'replier_pop_psswd': 'pop-pw-xyz', 'replier_pop_addr': 'p'}\n")
    result = run_script("send_notifications.py", "--conf", str(path))
    assert result.returncode == 78
    assert "MAIL_PSSWD must be a string, not a int" in result.stderr
    assert "12345" not in result.stderr and "pop-pw-xyz" not in result.stderr


def test_mail_disable_does_nothing(tmp_path: Path) -> None:
    # No SMTP server, no database: with mail_disable nothing is even tried.
    path = write(tmp_path, "DB_HOST='127.0.0.1'\nDB_PORT=1\nOPTS={'mail_disable': True}\n")
    result = run_script("send_notifications.py", "--conf", str(path))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_error_in_conf_code_is_reported_not_traced(tmp_path: Path) -> None:
    path = write(tmp_path, "MAIL_FROM='a@b.c'\nMAIL_SMTP = SMTP_HOST\n")
    result = run_script("manage.py", "--conf", str(path), "init-db")
    assert result.returncode == 78
    assert "line 2: NameError" in result.stderr and "Traceback" not in result.stderr


# --- Settings that are accepted and do nothing (issue 15, part 7) ----------------------------

def test_unknown_opts_key_exits_78_naming_it(tmp_path: Path) -> None:
    # A security option of some newer version: accepted silently, it would do nothing.
    path = write(tmp_path, "OPTS = {'mail_disable': True, 'replier_require_dmarc': True}\n")
    result = run_script("send_notifications.py", "--conf", str(path))
    assert result.returncode == 78, result.stderr
    assert "OPTS has unknown key 'replier_require_dmarc'" in result.stderr
    assert "would do nothing" in result.stderr and "Traceback" not in result.stderr


def test_unknown_opts_key_close_to_a_known_one_says_which(tmp_path: Path) -> None:
    path = write(tmp_path, "OPTS = {'mail_disable': True, 'mail_disabel': True}\n")
    with pytest.raises(ConfigError, match=r"unknown key 'mail_disabel': did you mean 'mail_disable'\?"):
        settings.load(str(path))


def test_keys_of_the_original_products_other_tools_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "OPTS = {'mail_disable': True, 'sync_interval': 5, 'ldap_server': 'ldap://x',"
                           " 'ldap_encoding': 'cp1251'}\n")
    assert settings.load(str(path)).sending.mail_disable
    assert all(key.startswith(settings.FOREIGN_OPTS_PREFIXES) for key in ("sync_interval", "ldap_server"))


def test_retired_reply_secret_previous_says_what_to_write(tmp_path: Path) -> None:
    path = write(tmp_path, "OPTS = {'mail_disable': True, 'reply_secret_previous': 'old-secret-value-123'}\n")
    with pytest.raises(ConfigError) as err:
        settings.load(str(path))
    assert "REPLY_TOKEN_SECRET_PREVIOUS" in str(err.value)
    assert "old-secret-value-123" not in str(err.value)


@pytest.mark.parametrize("script", ["manage.py init-db", "send_notifications.py", "fetch_replies.py"])
def test_db_schema_with_capitals_is_refused_everywhere(env: Env, script: str) -> None:
    # The test database holds the lower-case twin 'memoria': before, init-db
    # created "Memoria" beside it ("now at version None") and every other run
    # said "run init-db" or crashed.
    env.configure(top={"DB_SCHEMA": "Memoria"})
    name, *args = script.split()
    result = env.run(name, *args)
    assert result.returncode == 78, result.stderr
    assert "DB_SCHEMA 'Memoria' has capital letters" in result.stderr
    assert "write DB_SCHEMA = 'memoria'" in result.stderr and "Traceback" not in result.stderr
    assert env.database.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'Memoria'") == 0


@pytest.mark.parametrize("schema", ["pg_forum", "memo-ria", "x" * 64, ""])
def test_db_schema_that_postgresql_would_refuse(tmp_path: Path, schema: str) -> None:
    path = write(tmp_path, "DB_SCHEMA = %r\nOPTS = {'mail_disable': True}\n" % schema)
    with pytest.raises(ConfigError, match="DB_SCHEMA"):
        settings.load(str(path))


def test_mail_log_naming_a_folder_exits_78(env: Env) -> None:
    env.configure(opts={"mail_log": str(env.tmp)})
    result = env.run("send_notifications.py")
    assert result.returncode == 78, result.stderr
    assert "OPTS['mail_log'] %r is a folder: name a file in it" % str(env.tmp) in result.stderr
    assert "Traceback" not in result.stderr


def test_mail_log_that_cannot_be_opened_exits_78(tmp_path: Path) -> None:
    # A file the settings check cannot foresee (a dangling symlink into a folder that is gone).
    conf = write(tmp_path, "OPTS = {'mail_disable': True}\n")
    link = tmp_path / "mail.log"
    link.symlink_to(tmp_path / "gone" / "mail.log")
    import logging

    from forummail import logs

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with pytest.raises(ConfigError, match=r"OPTS\['mail_log'\] .* cannot be opened"):
            logs.setup("test", False, str(link))
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    assert settings.load(str(conf)).sending.mail_disable

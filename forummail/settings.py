"""Settings: load ``cron_conf.py``, overlay secrets from the environment, validate.

``cron_conf.py`` is the original product's plain Python module (its ``;`` line
ends, its leading-comma ``OPTS`` dict and its arithmetic on
``EXTERNAL_DB_ADDR`` all load unchanged).  A ``.env`` beside it is loaded
first with python-dotenv, real environment variables winning, so the module
and this loader both see the secrets without them living in the file.

Validation runs once and reports every problem together, each naming its
setting.  No secret value ever appears in a problem, a log line or ``repr``.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
from dataclasses import dataclass, field
from email.utils import getaddresses, parseaddr
from pathlib import Path
from types import ModuleType
from typing import Any

from dotenv import dotenv_values

from . import addresses
from .errors import ConfigError

CONF_ENV = "CRON_CONF"
DEFAULT_CONF = Path(__file__).resolve().parent.parent / "cron_conf.py"

# OPTS keys and their defaults.  Every key of OPTS must be one of these (or
# a foreign key, below): a key this version does not know would do nothing,
# and an administrator who sets a security option of a newer version must
# not believe it is on.  New settings are added here.
OPTS_DEFAULTS: dict[str, Any] = {
    "db_connection_addr": "",
    "smtp_port": None,
    "smtp_tls": False,
    "smtp_timeout": 30,
    "smtp_verify_tls": True,
    "smtp_servers": None,
    "smtp_preset": "",
    "smtp_max_connections": 0,
    "smtp_per_minute": 0,
    "smtp_per_day": 0,
    "smtp_recipients_per_minute": 0,
    "smtp_recipients_per_day": 0,
    "smtp_aside_seconds": 300,
    "mail_log": "",
    "mail_disable": False,
    "send_lease_seconds": 300,
    "send_batch_size": 200,
    "send_max_attempts": 10,
    "send_retry_seconds": 60,
    "send_retry_max_seconds": 6 * 3600,
    "templates_dir": "",
    "metrics_dir": "",
    "reply_token_days": 180,
    "replier_from_addr": "",
    "replier_pop_addr": "",
    "replier_pop_ssl": True,
    "replier_pop_login": "",
    "replier_pop_psswd": "",
    "replier_downloader_url": "",
    "replier_separator": "",
    "replier_pop_timeout": 60,
    "replier_max_age_days": 7,
    "replier_max_message_bytes": 25 * 1024 * 1024,
    "replier_max_attachment_bytes": 10 * 1024 * 1024,
    "replier_max_attachments": 10,
    "replier_keep_raw_bytes": 1024 * 1024,
    "replier_authserv_id": "",
    "replier_max_mime_depth": 20,
    "replier_max_mime_parts": 200,
    "replier_max_header_bytes": 102400,
    "replier_max_header_field_bytes": 16384,
}

# The original product's other tools (its directory sync, its LDAP import)
# read the same cron_conf.py: their keys are accepted and ignored.
FOREIGN_OPTS_PREFIXES = ("sync_", "ldap_")

# Keys that were read once and are no longer: what to write instead.
RETIRED_OPTS = {
    "reply_secret_previous": "put the previous secret in the .env beside the settings file as "
                             "REPLY_TOKEN_SECRET_PREVIOUS (a secret does not belong in cron_conf.py)",
}

DEFAULT_SEPARATOR = "-- Write your reply above this line --"

# Sending limits of common providers (their published defaults; a contract
# may allow more: set the numbers yourself then).  A server's own numbers
# win over its preset's.
PRESETS: dict[str, dict[str, int]] = {
    # Exchange Online / Microsoft 365: 30 messages a minute, 10,000 recipients a day.
    "office365": {"per_minute": 30, "recipients_per_day": 10000, "max_connections": 3},
    # Google Workspace through smtp.gmail.com: 2,000 messages, 10,000 recipients a day.
    "google-workspace": {"per_day": 2000, "recipients_per_day": 10000, "max_connections": 3},
    # A free Gmail account: 500 recipients a day.
    "gmail": {"per_day": 500, "recipients_per_day": 500, "max_connections": 2},
    # Amazon SES in its sandbox: 1 message a second, 200 a day.
    "amazon-ses-sandbox": {"per_minute": 60, "per_day": 200, "max_connections": 1},
}
# DB_SCHEMA: lower case only.  PostgreSQL folds unquoted names to lower case,
# so a forum that created its schema as Memoria has a schema named memoria;
# quoting "Memoria" would create an empty twin beside the forum's tables.
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class SmtpServer:
    """One SMTP server that mail may go through."""

    host: str
    port: int
    ssl: bool = False
    tls: bool = False
    login: str = ""
    password: str = field(default="", repr=False)
    max_connections: int = 1
    enabled: bool = True
    description: str = ""
    timeout: float = 30.0
    verify: bool = True
    per_minute: int = 0
    per_day: int = 0
    recipients_per_minute: int = 0
    recipients_per_day: int = 0
    aside_seconds: int = 300

    @property
    def budgeted(self) -> bool:
        return bool(self.per_minute or self.per_day or self.recipients_per_minute or self.recipients_per_day)

    @property
    def name(self) -> str:
        return self.description or "%s:%d" % (self.host, self.port)


@dataclass(frozen=True)
class Settings:
    """Validated settings.  Secrets are excluded from ``repr``."""

    path: Path
    mail_from_name: str
    mail_from_addr: str
    mail_admin: tuple[str, ...]
    debug: bool
    mail_disable: bool
    smtp_servers: tuple[SmtpServer, ...]
    db_host: str
    db_port: int
    db_user: str
    db_password: str = field(repr=False)
    db_name: str
    db_schema: str
    db_connection_addr: str
    mail_log: str
    send_lease_seconds: int
    send_batch_size: int
    send_max_attempts: int
    send_retry_seconds: int
    send_retry_max_seconds: int
    templates_dir: str
    metrics_dir: str
    # REPLY_TOKEN_SECRET and REPLY_TOKEN_SECRET_PREVIOUS from the environment
    # or .env; empty: the secrets kept in the database (forummail.signing).
    reply_secret: str = field(repr=False)
    reply_secrets_previous: tuple[str, ...] = field(repr=False)
    reply_token_days: int
    replier_from_name: str
    replier_from_addr: str
    replier_separator: str
    replier_downloader_url: str
    pop_host: str
    pop_port: int
    pop_ssl: bool
    pop_login: str
    pop_password: str = field(repr=False)
    pop_timeout: int = 60
    max_age_days: int = 7
    max_message_bytes: int = 25 * 1024 * 1024
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 10
    keep_raw_bytes: int = 1024 * 1024
    replier_authserv_id: str = ""
    max_mime_depth: int = 20
    max_mime_parts: int = 200
    max_header_bytes: int = 102400
    max_header_field_bytes: int = 16384
    raw_opts: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def secrets(self) -> list[str]:
        """Every secret value, for the log filter that masks them."""
        values = [self.db_password, self.pop_password, self.reply_secret, *self.reply_secrets_previous]
        values += [s.password for s in self.smtp_servers]
        return [v for v in values if v]

    @property
    def replies_enabled(self) -> bool:
        # The signing secret may be in the database: forummail.signing finds it.
        return bool(self.replier_from_addr)

    @property
    def pop_configured(self) -> bool:
        return bool(self.pop_host and self.pop_login and self.pop_password)

    @property
    def domain(self) -> str:
        """The domain of our Message-IDs: that of ``MAIL_FROM``."""
        return self.mail_from_addr.rpartition("@")[2] or "localhost"


def find_conf(cli_path: str | None) -> Path:
    """``--conf`` wins, then ``$CRON_CONF``, then ``cron_conf.py`` beside the scripts."""
    chosen = cli_path or os.environ.get(CONF_ENV) or str(DEFAULT_CONF)
    return Path(chosen).expanduser().resolve()


def load_module(path: Path) -> ModuleType:
    """Run ``cron_conf.py`` (after its ``.env``) and return it as a module."""
    if not path.is_file():
        raise ConfigError(
            "settings file %s does not exist: pass --conf PATH or set %s" % (path, CONF_ENV)
        )
    spec = importlib.util.spec_from_file_location("_forummail_cron_conf", path)
    if spec is None or spec.loader is None:
        raise ConfigError("cannot load settings file %s" % path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise ConfigError(
            "%s line %s: Python syntax error: %s" % (path, exc.lineno, exc.msg)
        ) from None
    except Exception as exc:  # the file is user code: report, do not trace
        line = _user_line(exc, path)
        raise ConfigError(
            "%s%s: %s: %s" % (path, line, type(exc).__name__, exc)
        ) from None
    return module


def _user_line(exc: BaseException, path: Path) -> str:
    tb = exc.__traceback__
    line = ""
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == path:
            line = " line %d" % tb.tb_lineno
        tb = tb.tb_next
    return line


def environment(path: Path) -> dict[str, str]:
    """The ``.env`` beside the settings file, overlaid by the real environment (which wins).

    Read, not loaded into ``os.environ``: loading settings has no side effect
    on the process, so two settings files never leak secrets into each other.
    """
    values = {k: v for k, v in dotenv_values(path.with_name(".env")).items() if v is not None}
    values.update(os.environ)
    return values


def load(cli_path: str | None = None) -> Settings:
    """Find, load and validate the settings; raise ConfigError listing every problem."""
    path = find_conf(cli_path)
    return validate(load_module(path), path, environment(path))


class _Checker:
    """Collects problems so that all of them are reported at once."""

    def __init__(self, module: ModuleType, opts: dict[str, Any], environ: dict[str, str]) -> None:
        self.module = module
        self.opts = opts
        self.environ = environ
        self.problems: list[str] = []

    def secret(self, file_value: Any, env_name: str) -> Any:
        """A secret: from the environment (or .env) when set there, else from the file."""
        return self.environ.get(env_name) or file_value

    def top(self, name: str, default: Any) -> Any:
        return getattr(self.module, name, default)

    def opt(self, name: str) -> Any:
        value = self.opts.get(name, OPTS_DEFAULTS[name])
        return OPTS_DEFAULTS[name] if value is None and OPTS_DEFAULTS[name] is not None else value

    def string(self, label: str, value: Any, secret: bool = False) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            shown = "a %s" % type(value).__name__ if secret else repr(value)
            self.problems.append("%s must be a string, not %s" % (label, shown))
            return ""
        if "\n" in value or "\r" in value:
            self.problems.append("%s must be on one line (it contains a line break)" % label)
            return ""
        return value.strip()

    def boolean(self, label: str, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        hint = " (write True or False without quotes)" if isinstance(value, str) else ""
        self.problems.append("%s must be True or False, not %r%s" % (label, value, hint))
        return False

    def integer(self, label: str, value: Any, low: int, high: int) -> int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problems.append(
                "%s must be a whole number from %d to %d, not %r" % (label, low, high, value)
            )
            return low
        return value

    def address(self, label: str, value: str, required: bool) -> tuple[str, str]:
        if not value:
            if required:
                self.problems.append("%s is empty: set it to an address like 'Forum <noreply@example.com>'" % label)
            return "", ""
        name, addr = parseaddr(value)
        addr = self.mailbox(label, addr or value)
        return (name, addr) if addr else ("", "")

    def mailbox(self, label: str, addr: str) -> str:
        """The wire form of an address of ours, or "" and a problem (see forummail.addresses)."""
        try:
            box = addresses.mailbox(addr)
        except addresses.InvalidAddress as exc:
            self.problems.append("%s is not an email address: %s (%s)" % (label, addresses.describe(addr), exc.reason))
            return ""
        if box.smtputf8:  # it would be on every mail: no server without SMTPUTF8 could send any
            self.problems.append("%s: %s has a non-ASCII local part: use an ASCII address" % (
                label, addresses.describe(addr)))
            return ""
        return box.address


def log_file_problems(mail_log: str) -> list[str]:
    """Why ``OPTS['mail_log']`` cannot be appended to by this user (empty: it can)."""
    if not mail_log:
        return []
    path = Path(mail_log).expanduser()
    if path.is_dir():
        return ["OPTS['mail_log'] %r is a folder: name a file in it, like %r"
                % (mail_log, str(Path(mail_log) / "forummail.log"))]
    if not path.parent.is_dir():
        return ["OPTS['mail_log'] %r: its folder does not exist" % mail_log]
    if path.exists() and not os.access(path, os.W_OK):
        return ["OPTS['mail_log'] %r cannot be written by this user: give it to the user that runs "
                "the cron jobs" % mail_log]
    if not path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        return ["OPTS['mail_log'] %r cannot be created: its folder is not writable by this user" % mail_log]
    return []


def schema_problems(schema: str) -> list[str]:
    """Why ``DB_SCHEMA`` cannot be used as written (empty: it can)."""
    if _SCHEMA_NAME.match(schema) and not schema.startswith("pg_"):
        return []
    if _SCHEMA_NAME.match(schema.lower()) and not schema.startswith("pg_"):
        return ["DB_SCHEMA %r has capital letters: PostgreSQL folds unquoted names to lower case, so a "
                "schema created as %s is named %r; write DB_SCHEMA = %r" % (schema, schema, schema.lower(),
                                                                            schema.lower())]
    if schema.lower().startswith("pg_"):
        return ["DB_SCHEMA %r starts with pg_, which PostgreSQL keeps for its own schemas: choose another "
                "name" % schema]
    return ["DB_SCHEMA must be a lower-case name of at most 63 letters, digits and _ (like 'memoria'), "
            "not %r" % schema]


def unknown_opts(opts: dict[Any, Any]) -> list[str]:
    """A problem for every OPTS key that is neither ours nor a foreign tool's."""
    problems = []
    for key in opts:
        if not isinstance(key, str):
            problems.append("OPTS has a key that is not a string: %r (write it in quotes)" % (key,))
        elif key in RETIRED_OPTS:
            problems.append("OPTS[%r] is no longer read: %s" % (key, RETIRED_OPTS[key]))
        elif key not in OPTS_DEFAULTS and not key.startswith(FOREIGN_OPTS_PREFIXES):
            close = difflib.get_close_matches(key, OPTS_DEFAULTS, n=1, cutoff=0.8)
            if close:
                problems.append("OPTS has unknown key %r: did you mean %r?" % (key, close[0]))
            else:
                problems.append(
                    "OPTS has unknown key %r: this version does not know it, so it would do nothing; "
                    "remove it (or upgrade forummail, if it is a setting of a newer version)" % key)
    return problems


def _host_port(text: str) -> tuple[str, int | None]:
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and host and not host.endswith(":"):
        return host.strip("[]"), int(port)
    return text, None


def validate(module: ModuleType, path: Path, environ: dict[str, str] | None = None) -> Settings:
    """Turn a loaded ``cron_conf`` module into Settings, or raise ConfigError."""
    opts = getattr(module, "OPTS", {})
    if not isinstance(opts, dict):
        raise ConfigError("OPTS must be a dict like OPTS = {'smtp_port': 25}, not %s" % type(opts).__name__)
    c = _Checker(module, opts, environ if environ is not None else environment(path))
    c.problems += unknown_opts(opts)

    mail_disable = c.boolean("OPTS['mail_disable']", c.opt("mail_disable"))
    debug = c.boolean("DEBUG", c.top("DEBUG", False))
    from_name, from_addr = c.address(
        "MAIL_FROM", c.string("MAIL_FROM", c.top("MAIL_FROM", "")), required=not mail_disable
    )
    admin_text = c.string("MAIL_ADMIN", c.top("MAIL_ADMIN", ""))
    admins = tuple(a for _, a in getaddresses([admin_text]) if a)
    if admin_text and not admins:
        c.problems.append("MAIL_ADMIN is not a list of email addresses: %r" % admin_text)
    wire = tuple(c.mailbox("MAIL_ADMIN", a) for a in admins)
    admins = wire if all(wire) else ()
    if debug and not admins and not mail_disable:
        c.problems.append("DEBUG is True but MAIL_ADMIN is empty: in DEBUG every mail goes to MAIL_ADMIN")

    timeout = c.integer("OPTS['smtp_timeout']", c.opt("smtp_timeout"), 1, 600)
    verify = c.boolean("OPTS['smtp_verify_tls']", c.opt("smtp_verify_tls"))
    servers = _smtp_servers(c, module, mail_disable, timeout, verify)

    db_password = c.string("DB_PSWD", c.secret(c.top("DB_PSWD", ""), "DB_PSWD"), secret=True)
    db_schema = c.string("DB_SCHEMA", c.top("DB_SCHEMA", "memoria"))
    c.problems += schema_problems(db_schema)
    db_name = c.string("DB_NAME", c.top("DB_NAME", "memoria")) or "memoria"
    db_user = c.string("DB_USER", c.top("DB_USER", "sa_sirena"))
    db_host = c.string("DB_HOST", c.top("DB_HOST", ""))
    db_port = c.integer("DB_PORT", c.top("DB_PORT", 5432), 1, 65535)

    # Optional: without it the secret kept in the database by init-db signs.
    reply_secret = c.string("REPLY_TOKEN_SECRET", c.secret("", "REPLY_TOKEN_SECRET"), secret=True)
    if reply_secret and len(reply_secret) < 16:
        c.problems.append(
            "REPLY_TOKEN_SECRET is too short: put a random string of at least 16 characters in the .env "
            "beside %s (python3 -c 'import secrets; print(secrets.token_urlsafe(32))'), or remove it to "
            "use the secret that manage.py init-db keeps in the database" % path.name)
    previous_text = c.string("REPLY_TOKEN_SECRET_PREVIOUS", c.secret("", "REPLY_TOKEN_SECRET_PREVIOUS"),
                             secret=True)
    reply_previous = tuple(v for v in re.split(r"[\s,]+", previous_text) if v)
    replier_text = c.string("OPTS['replier_from_addr']", c.opt("replier_from_addr"))
    replier_name, replier_addr = c.address("OPTS['replier_from_addr']", replier_text, required=False)
    if replier_addr and "+" in replier_addr.partition("@")[0]:
        c.problems.append("OPTS['replier_from_addr'] must not contain '+': the reply token is added after a '+'")

    pop_text = c.string("OPTS['replier_pop_addr']", c.opt("replier_pop_addr"))
    pop_ssl = c.boolean("OPTS['replier_pop_ssl']", c.opt("replier_pop_ssl"))
    pop_host, pop_port = _host_port(pop_text)
    pop_login = c.string("OPTS['replier_pop_login']", c.opt("replier_pop_login"))
    pop_password = c.string(
        "OPTS['replier_pop_psswd']",
        c.secret(c.opt("replier_pop_psswd"), "REPLIER_POP_PSSWD"),
        secret=True,
    )
    pop_given = {"replier_pop_addr": pop_host, "replier_pop_login": pop_login, "replier_pop_psswd": pop_password}
    if any(pop_given.values()) and not all(pop_given.values()):
        missing = ", ".join("OPTS['%s']" % k for k, v in pop_given.items() if not v)
        c.problems.append("the reply mailbox is half configured: %s empty" % missing)

    templates_dir = c.string("OPTS['templates_dir']", c.opt("templates_dir"))
    if templates_dir and not Path(templates_dir).is_dir():
        c.problems.append("OPTS['templates_dir'] %r is not a folder" % templates_dir)
    mail_log = c.string("OPTS['mail_log']", c.opt("mail_log"))
    c.problems += log_file_problems(mail_log)
    metrics_dir = c.string("OPTS['metrics_dir']", c.opt("metrics_dir"))
    if metrics_dir and not Path(metrics_dir).is_dir():
        c.problems.append("OPTS['metrics_dir'] %r is not a folder" % metrics_dir)
    authserv_id = c.string("OPTS['replier_authserv_id']", c.opt("replier_authserv_id"))
    if authserv_id and not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252}[A-Za-z0-9])?", authserv_id):
        c.problems.append("OPTS['replier_authserv_id'] must be the name your receiving mail server writes first in "
                          "its Authentication-Results headers, like 'mx.example.com', not %r" % authserv_id)
        authserv_id = ""
    separator = c.string("OPTS['replier_separator']", c.opt("replier_separator")) or DEFAULT_SEPARATOR

    settings_kw = dict(
        send_lease_seconds=c.integer("OPTS['send_lease_seconds']", c.opt("send_lease_seconds"), 30, 86400),
        send_batch_size=c.integer("OPTS['send_batch_size']", c.opt("send_batch_size"), 1, 10000),
        send_max_attempts=c.integer("OPTS['send_max_attempts']", c.opt("send_max_attempts"), 1, 100),
        send_retry_seconds=c.integer("OPTS['send_retry_seconds']", c.opt("send_retry_seconds"), 1, 86400),
        send_retry_max_seconds=c.integer(
            "OPTS['send_retry_max_seconds']", c.opt("send_retry_max_seconds"), 1, 7 * 86400
        ),
        reply_token_days=c.integer("OPTS['reply_token_days']", c.opt("reply_token_days"), 1, 3650),
        pop_timeout=c.integer("OPTS['replier_pop_timeout']", c.opt("replier_pop_timeout"), 1, 600),
        max_age_days=c.integer("OPTS['replier_max_age_days']", c.opt("replier_max_age_days"), 1, 3650),
        max_message_bytes=c.integer("OPTS['replier_max_message_bytes']", c.opt("replier_max_message_bytes"),
                                    1024, 1 << 30),
        max_attachment_bytes=c.integer("OPTS['replier_max_attachment_bytes']",
                                       c.opt("replier_max_attachment_bytes"), 0, 1 << 30),
        max_attachments=c.integer("OPTS['replier_max_attachments']", c.opt("replier_max_attachments"), 0, 1000),
        keep_raw_bytes=c.integer("OPTS['replier_keep_raw_bytes']", c.opt("replier_keep_raw_bytes"), 0, 1 << 30),
        # Above 50 levels the email package's recursion comes near Python's limit.
        max_mime_depth=c.integer("OPTS['replier_max_mime_depth']", c.opt("replier_max_mime_depth"), 3, 50),
        max_mime_parts=c.integer("OPTS['replier_max_mime_parts']", c.opt("replier_max_mime_parts"), 10, 10000),
        # Below a few KB real mail (DKIM signatures, References) would be refused;
        # above a few MB the header parser's cost is minutes again.
        max_header_bytes=c.integer("OPTS['replier_max_header_bytes']", c.opt("replier_max_header_bytes"),
                                   16384, 4 << 20),
        max_header_field_bytes=c.integer("OPTS['replier_max_header_field_bytes']",
                                         c.opt("replier_max_header_field_bytes"), 2048, 1 << 20),
    )
    db_connection_addr = c.string("OPTS['db_connection_addr']", c.opt("db_connection_addr"))
    downloader = c.string("OPTS['replier_downloader_url']", c.opt("replier_downloader_url"))

    if c.problems:
        raise ConfigError(c.problems)
    return Settings(
        path=path,
        mail_from_name=from_name,
        mail_from_addr=from_addr,
        mail_admin=admins,
        debug=debug,
        mail_disable=mail_disable,
        smtp_servers=servers,
        db_host=db_host,
        db_port=db_port,
        db_user=db_user,
        db_password=db_password,
        db_name=db_name,
        db_schema=db_schema,
        db_connection_addr=db_connection_addr,
        mail_log=mail_log,
        templates_dir=templates_dir,
        metrics_dir=metrics_dir,
        reply_secret=reply_secret,
        reply_secrets_previous=reply_previous,
        replier_from_name=replier_name,
        replier_from_addr=replier_addr,
        replier_separator=separator,
        replier_downloader_url=downloader,
        pop_host=pop_host,
        pop_port=pop_port or (995 if pop_ssl else 110),
        pop_ssl=pop_ssl,
        pop_login=pop_login,
        pop_password=pop_password,
        raw_opts=dict(opts),
        **settings_kw,
        replier_authserv_id=authserv_id,
    )


def _smtp_servers(
    c: _Checker, module: ModuleType, mail_disable: bool, timeout: int, verify: bool
) -> tuple[SmtpServer, ...]:
    """``OPTS['smtp_servers']`` when given, else ``MAIL_SMTP`` and friends as the one server."""
    listed = c.opt("smtp_servers")
    if listed:
        if not isinstance(listed, list | tuple) or not all(isinstance(d, dict) for d in listed):
            c.problems.append("OPTS['smtp_servers'] must be a list of dicts like [{'host': 'smtp.example.com'}]")
            return ()
        servers = []
        for i, d in enumerate(listed):
            servers.append(_server_from_dict(c, "OPTS['smtp_servers'][%d]" % i, d, timeout, verify))
        server_names = [s.name for s in servers]
        for dup in sorted({n for n in server_names if server_names.count(n) > 1}):
            c.problems.append("OPTS['smtp_servers'] has two servers named %r: give each a different "
                              "'description' (budgets and universes refer to servers by it)" % dup)
        if not any(s.enabled for s in servers) and not mail_disable:
            c.problems.append("OPTS['smtp_servers'] has no server with 'enabled': True")
        return tuple(servers)
    host_text = c.string("MAIL_SMTP", c.top("MAIL_SMTP", ""))
    if not host_text:
        if not mail_disable:
            c.problems.append("MAIL_SMTP is empty: set the SMTP server's host name (or OPTS['mail_disable'] = True)")
        return ()
    host, port_in_host = _host_port(host_text)
    ssl = c.boolean("MAIL_USE_SSL", c.top("MAIL_USE_SSL", False))
    d = {
        "host": host,
        "port": c.opt("smtp_port") or port_in_host,
        "ssl": ssl,
        "tls": c.opt("smtp_tls"),
        "login": c.top("MAIL_LOGIN", ""),
        "password": c.secret(c.top("MAIL_PSSWD", ""), "MAIL_PSSWD"),
        "preset": c.opt("smtp_preset"),
        "max_connections": c.opt("smtp_max_connections"),
        "per_minute": c.opt("smtp_per_minute"),
        "per_day": c.opt("smtp_per_day"),
        "recipients_per_minute": c.opt("smtp_recipients_per_minute"),
        "recipients_per_day": c.opt("smtp_recipients_per_day"),
        "aside_seconds": c.opt("smtp_aside_seconds"),
    }
    names = {"ssl": "MAIL_USE_SSL", "tls": "OPTS['smtp_tls']", "port": "OPTS['smtp_port']",
             "login": "MAIL_LOGIN", "password": "MAIL_PSSWD", "host": "MAIL_SMTP"}
    names.update({k: "OPTS['smtp_%s']" % k for k in ("preset", "max_connections", "per_minute", "per_day",
                                                      "recipients_per_minute", "recipients_per_day",
                                                      "aside_seconds")})
    return (_server_from_dict(c, "", d, timeout, verify, names),)


def _server_from_dict(
    c: _Checker,
    label: str,
    d: dict[str, Any],
    timeout: int,
    verify: bool,
    names: dict[str, str] | None = None,
) -> SmtpServer:
    def name(key: str) -> str:
        return names[key] if names and key in names else "%s[%r]" % (label, key)

    unknown = set(d) - {"host", "port", "ssl", "tls", "login", "password", "max_connections",
                        "enabled", "description", "timeout", "verify", "preset", "per_minute", "per_day",
                        "recipients_per_minute", "recipients_per_day", "aside_seconds"}
    preset_name = d.get("preset") or ""
    preset: dict[str, int] = {}
    if preset_name:
        if preset_name not in PRESETS:
            c.problems.append("%s %r is not a known preset: use one of %s"
                              % (name("preset"), preset_name, ", ".join(sorted(PRESETS))))
        else:
            preset = PRESETS[preset_name]

    def limit(key: str) -> int:
        value = d.get(key) or preset.get(key, 0)
        return c.integer(name(key), value, 0, 10_000_000)

    for key in sorted(unknown, key=str):
        c.problems.append("%s has unknown key %r" % (label, key))
    host = c.string(name("host"), d.get("host", ""))
    if not host:
        c.problems.append("%s is empty" % name("host"))
    ssl = c.boolean(name("ssl"), d.get("ssl", False))
    tls = c.boolean(name("tls"), d.get("tls", False))
    if ssl and tls:
        c.problems.append(
            "%s and %s are both True: use one (implicit TLS on 465, or STARTTLS on 587)"
            % (name("ssl"), name("tls"))
        )
    port = d.get("port") or (465 if ssl else 25)
    login = c.string(name("login"), d.get("login", ""))
    password = c.string(name("password"), d.get("password", ""), secret=True)
    if label and not password:
        # Secrets need not live in the file: SMTP_PSSWD_<DESCRIPTION> in .env or the environment.
        env_name = "SMTP_PSSWD_" + re.sub(r"\W", "_", str(d.get("description") or d.get("host") or "")).upper()
        password = c.string(env_name, c.secret("", env_name), secret=True)
    if login and not password:
        c.problems.append("%s is set but %s is empty" % (name("login"), name("password")))
    return SmtpServer(
        host=host,
        port=c.integer(name("port"), port, 1, 65535),
        ssl=ssl,
        tls=tls,
        login=login,
        password=password,
        max_connections=c.integer(name("max_connections"),
                                  d.get("max_connections") or preset.get("max_connections", 1), 1, 64),
        enabled=c.boolean(name("enabled"), d.get("enabled", True)),
        description=c.string(name("description"), d.get("description", "")),
        timeout=float(c.integer(name("timeout"), d.get("timeout", timeout), 1, 600)),
        verify=c.boolean(name("verify"), d.get("verify", verify)),
        per_minute=limit("per_minute"),
        per_day=limit("per_day"),
        recipients_per_minute=limit("recipients_per_minute"),
        recipients_per_day=limit("recipients_per_day"),
        aside_seconds=c.integer(name("aside_seconds"), d.get("aside_seconds") or 300, 1, 86400),
    )

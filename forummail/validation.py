"""Turn a loaded ``cron_conf`` module into Settings, or raise ConfigError listing every problem.

Every setting is first checked against its entry in forummail.options (type,
range, the environment variable of a secret); the rules that join several
settings, or look at the machine (a folder that must exist), follow, written
out one by one.  No secret value ever appears in a problem.
"""

from __future__ import annotations

import difflib
import os
import re
from email.utils import getaddresses
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from .checker import Checker
from .conffile import environment
from .errors import ConfigError
from .oauth2conf import oauth2_setting
from .options import DEFAULT_SEPARATOR, FOREIGN_OPTS_PREFIXES, OPTION, OPTS, RETIRED_OPTS, TOP, TOP_OPTION
from .settingtypes import Database, Replies, Sending, Settings
from .smtpconf import host_port, smtp_servers

# DB_SCHEMA: lower case only.  PostgreSQL folds unquoted names to lower case,
# so a forum that created its schema as Memoria has a schema named memoria;
# quoting "Memoria" would create an empty twin beside the forum's tables.
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# RFC 8601 section 2.2: the authserv-id is a value, in practice the host name of the receiving server.
_AUTHSERV_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252}[A-Za-z0-9])?")


def validate(module: ModuleType, path: Path, environ: dict[str, str] | None = None) -> Settings:
    """Turn a loaded ``cron_conf`` module into Settings, or raise ConfigError."""
    opts = getattr(module, "OPTS", {})
    if not isinstance(opts, dict):
        raise ConfigError("OPTS must be a dict like OPTS = {'smtp_port': 25}, not %s" % type(opts).__name__)
    c = Checker(module, opts, environ if environ is not None else environment(path))
    c.problems += unknown_opts(opts)
    # Each setting against the table; the servers' details are checked with their server.
    v = {o.name: c.value(o) for o in (*TOP, *OPTS) if not o.server and not o.unread}

    mail_disable = v["mail_disable"]
    from_name, from_addr = c.address("MAIL_FROM", v["MAIL_FROM"], required=not mail_disable)
    admins = _admins(c, v["MAIL_ADMIN"])
    if v["DEBUG"] and not admins and not mail_disable:
        c.problems.append("DEBUG is True but MAIL_ADMIN is empty: in DEBUG every mail goes to MAIL_ADMIN")
    servers = smtp_servers(c, module, mail_disable, v["smtp_timeout"], v["smtp_verify_tls"], path.parent)
    c.problems += schema_problems(v["DB_SCHEMA"])
    replies = _replies(c, v, path)
    for key in ("templates_dir", "metrics_dir", "mail_log"):
        # Relative to the settings file, as its .env is: cron runs from the
        # user's home, not from the folder the administrator had in mind.
        if v[key] and not Path(v[key]).expanduser().is_absolute():
            v[key] = str(path.parent / v[key])
    for key in ("templates_dir", "metrics_dir"):
        if v[key] and not Path(v[key]).is_dir():
            c.problems.append("%s %r is not a folder" % (OPTION[key].label, v[key]))
    c.problems += log_file_problems(v["mail_log"])
    bounce_addr, unsubscribe_url = _after_delivery(c, v)

    if c.problems:
        raise ConfigError(c.problems)
    return Settings(
        path=path,
        mail_from_name=from_name,
        mail_from_addr=from_addr,
        mail_admin=admins,
        debug=v["DEBUG"],
        mail_log=v["mail_log"],
        metrics_dir=v["metrics_dir"],
        db=Database(
            host=v["DB_HOST"], port=v["DB_PORT"], user=v["DB_USER"], password=v["DB_PSWD"],
            name=v["DB_NAME"] or TOP_OPTION["DB_NAME"].default, schema=v["DB_SCHEMA"],
            db_connection_addr=v["db_connection_addr"],
        ),
        sending=Sending(smtp_servers=servers, bounce_addr=bounce_addr, unsubscribe_url=unsubscribe_url,
                        **{f: v[f] for f in _SENDING}),
        replies=replies,
        raw_opts=dict(opts),
    )


_SENDING = ("mail_disable", "send_lease_seconds", "send_batch_size", "send_processes", "send_max_attempts",
            "send_retry_seconds", "send_retry_max_seconds", "templates_dir")
_REPLIES = ("replier_downloader_url", "replier_pop_ssl", "replier_pop_login", "replier_pop_psswd",
            "replier_pop_timeout", "replier_max_age_days", "replier_max_message_bytes",
            "replier_max_attachment_bytes", "replier_max_attachments", "replier_keep_raw_bytes",
            "replier_max_mime_depth", "replier_max_mime_parts", "replier_max_header_bytes",
            "replier_max_header_field_bytes", "reply_token_days")


def _after_delivery(c: Checker, v: dict[str, Any]) -> tuple[str, str]:
    """OPTS['bounce_addr'] (a bare address) and OPTS['unsubscribe_url'] (HTTPS, RFC 8058 section 3.1)."""
    _, bounce_addr = c.address("OPTS['bounce_addr']", v["bounce_addr"], required=False)
    url = v["unsubscribe_url"].strip()
    parts = urlsplit(url) if url else None
    if parts is not None and (parts.scheme != "https" or not parts.hostname or parts.fragment
                              or re.search(r"[\s<>\"]", url)):
        c.problems.append("OPTS['unsubscribe_url'] must be an https:// URL of the forum (RFC 8058 allows no "
                          "other), like 'https://forum.example.com/unsubscribe', not %r" % url)
        url = ""
    return bounce_addr, url


def _admins(c: Checker, admin_text: str) -> tuple[str, ...]:
    admins = tuple(a for _, a in getaddresses([admin_text]) if a)
    if admin_text and not admins:
        c.problems.append("MAIL_ADMIN is not a list of email addresses: %r" % admin_text)
    wire = tuple(c.mailbox("MAIL_ADMIN", a) for a in admins)
    return wire if all(wire) else ()


def _replies(c: Checker, v: dict[str, Any], path: Path) -> Replies:
    # Optional: without it the secret kept in the database by init-db signs.
    reply_secret = c.string("REPLY_TOKEN_SECRET", c.secret("", "REPLY_TOKEN_SECRET"), secret=True)
    if reply_secret and len(reply_secret) < 16:
        c.problems.append(
            "REPLY_TOKEN_SECRET is too short: put a random string of at least 16 characters in the .env "
            "beside %s (python3 -c 'import secrets; print(secrets.token_urlsafe(32))'), or remove it to "
            "use the secret that manage.py init-db keeps in the database" % path.name)
    previous_text = c.string("REPLY_TOKEN_SECRET_PREVIOUS", c.secret("", "REPLY_TOKEN_SECRET_PREVIOUS"),
                             secret=True)
    replier_name, replier_addr = c.address("OPTS['replier_from_addr']", v["replier_from_addr"], required=False)
    if replier_addr and "+" in replier_addr.partition("@")[0]:
        c.problems.append("OPTS['replier_from_addr'] must not contain '+': the reply token is added after a '+'")

    pop_host, pop_port = host_port(v["replier_pop_addr"])
    pop_oauth2 = oauth2_setting(c, OPTION["replier_pop_oauth2"].label, v["replier_pop_oauth2"], "REPLIER_POP_OAUTH2",
                                v["replier_pop_login"], OPTION["replier_pop_login"].label, path.parent)
    pop_given = {key: v[key] for key in ("replier_pop_addr", "replier_pop_login", "replier_pop_psswd")}
    pop_given["replier_pop_addr"] = pop_host
    if v["replier_pop_oauth2"]:  # the token signs in: no password needed
        pop_given["replier_pop_psswd"] = "OAuth2"
    if any(pop_given.values()) and not all(pop_given.values()):
        missing = ", ".join("OPTS['%s']" % k for k, value in pop_given.items() if not value)
        c.problems.append("the reply mailbox is half configured: %s empty" % missing)

    authserv_id = v["replier_authserv_id"]
    if authserv_id and not _AUTHSERV_ID.fullmatch(authserv_id):
        c.problems.append("OPTS['replier_authserv_id'] must be the name your receiving mail server writes first in "
                          "its Authentication-Results headers, like 'mx.example.com', not %r" % authserv_id)
        authserv_id = ""
    return Replies(
        replier_from_name=replier_name,
        replier_from_addr=replier_addr,
        replier_separator=v["replier_separator"] or DEFAULT_SEPARATOR,
        pop_host=pop_host,
        pop_port=pop_port or (995 if v["replier_pop_ssl"] else 110),
        replier_authserv_id=authserv_id,
        reply_secret=reply_secret,
        reply_secrets_previous=tuple(s for s in re.split(r"[\s,]+", previous_text) if s),
        replier_pop_oauth2=pop_oauth2,
        **{f: v[f] for f in _REPLIES},
    )


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
        elif key not in OPTION and not key.startswith(FOREIGN_OPTS_PREFIXES):
            close = difflib.get_close_matches(key, OPTION, n=1, cutoff=0.8)
            if close:
                problems.append("OPTS has unknown key %r: did you mean %r?" % (key, close[0]))
            else:
                problems.append(
                    "OPTS has unknown key %r: this version does not know it, so it would do nothing; "
                    "remove it (or upgrade forummail, if it is a setting of a newer version)" % key)
    return problems

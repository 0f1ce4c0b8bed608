"""manage.py check: is everything configured right?  One line per item.

Settings, the database and its schema version, each OAuth2 credential (a
token obtained, never shown), every SMTP server up to AUTH (then QUIT:
nothing is sent), the POP3 mailbox up to login (then QUIT with nothing
marked: nothing is deleted).  Each failure says what to change.

The exit code says what kind of trouble it is: 78 when something must be
changed (a setting, a password, the schema: run init-db), else 75 when a
server could not be reached (perhaps only for now), else 0.
"""

from __future__ import annotations

import re
import smtplib
from contextlib import closing
from dataclasses import dataclass

import psycopg

from . import db, oauth2, signing, store, tags
from .errors import EX_CONFIG, EX_OK, EX_TEMPFAIL, ConfigError, TemporaryFailure
from .logs import add_secrets, redact
from .mailbox import MailboxDown, MailboxLoginRefused, Pop3Mailbox
from .oauth2.cache import grant_key
from .settings import Settings, SmtpServer
from .settingtypes import OAuth2
from .transport import InsecureSignIn, LoginRefused, OAuth2Login, ServerDown, authenticator, open_connection

OK, FAIL, SKIP, NONE = "ok", "FAIL", "skip", "--"
# The "(check ...)" that the transport and mailbox messages end with: check
# replaces it by a hint naming the exact settings of that server.
_CHECK_NOTE = re.compile(r"\s*\(check [^)]*\)$")


@dataclass(frozen=True)
class Item:
    """One line of the report; a failure carries the exit code it calls for."""

    status: str
    text: str
    hint: str = ""
    code: int = EX_OK

    def line(self) -> str:
        text = "%s -> %s" % (self.text, self.hint) if self.hint else self.text
        return redact("%-6s%s" % (self.status, text))


def run_checks(settings: Settings) -> list[Item]:
    """Check everything, in the order a run meets it; never stops at the first failure."""
    database = check_database(settings)
    items = [check_settings(settings), database]
    if database.status == OK and settings.replies.enabled:
        items.append(check_reply_secret(settings))
    items += check_oauth2(settings, database.status == OK)
    items += check_smtp(settings)
    items.append(check_pop3(settings))
    return items


def exit_code(items: list[Item]) -> int:
    """78 when something must be changed, else 75 when a server was unreachable, else 0."""
    codes = {item.code for item in items if item.status == FAIL}
    if EX_CONFIG in codes:
        return EX_CONFIG
    return EX_TEMPFAIL if codes else EX_OK


def report(items: list[Item], quiet: bool = False) -> str:
    """The report: every line, or with ``quiet`` only the failures (for cron)."""
    lines = [item.line() for item in items if not quiet or item.status == FAIL]
    failures = sum(item.status == FAIL for item in items)
    if not quiet:
        lines.append("%d problem(s) found" % failures if failures else "all checks passed")
    return "\n".join(lines)


def check_settings(settings: Settings) -> Item:
    """Settings are valid once loaded (load() refused bad ones); note what changes behaviour."""
    notes = ["replies by email %s" % ("on" if settings.replies.enabled else "off")]
    if settings.replies.enabled and not settings.replies.replier_authserv_id:
        notes.append("no OPTS['replier_authserv_id']: only replies carrying their reply token are posted")
    if settings.debug:
        notes.append("DEBUG on: every notification goes to MAIL_ADMIN (%s)" % ", ".join(settings.mail_admin))
    if settings.sending.mail_disable:
        notes.append("mail_disable on: send_notifications.py sends nothing")
    return Item(OK, "settings %s: valid (%s)" % (settings.path, "; ".join(notes)))


def check_database(settings: Settings) -> Item:
    """Connect, and compare the schema's version with the newest migration shipped."""
    where = db.describe(settings)
    try:
        conn = db.connect(settings, "check")
    except TemporaryFailure as exc:
        return _database_failure(str(exc))
    try:
        version = db.schema_version(conn, settings.db.schema)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Item(FAIL, "%s: %s" % (where, first), "check the rights of DB_USER on schema %r"
                    % settings.db.schema, EX_CONFIG)
    finally:
        conn.close()
    newest = db.migrations()[-1][0]
    schema = "schema %r" % settings.db.schema
    if version is None:
        return Item(FAIL, "%s: %s has no tables of ours" % (where, schema), "run manage.py init-db", EX_CONFIG)
    if version < newest:
        return Item(FAIL, "%s: %s is at version %d, this code needs %d" % (where, schema, version, newest),
                    "run manage.py init-db", EX_CONFIG)
    if version > newest:
        return Item(FAIL, "%s: %s is at version %d, newer than this code (%d)" % (where, schema, version, newest),
                    "upgrade this software", EX_CONFIG)
    return Item(OK, "%s: %s at version %d (current)" % (where, schema, version))


def check_reply_secret(settings: Settings) -> Item:
    """Where the reply-signing secret comes from (never its value), and how many verify."""
    try:
        conn = db.connect(settings, "check", autocommit=True)
    except TemporaryFailure as exc:
        return _database_failure(str(exc))
    try:
        found = signing.keys(settings, conn)
    finally:
        conn.close()
    if not found.sign:
        return Item(FAIL, "reply-signing secret: none (REPLY_TOKEN_SECRET is not set, and the database "
                          "keeps none)", "run manage.py init-db", EX_CONFIG)
    others = len(found.verify) - 1
    also = "; %d earlier secret(s) still verify replies" % others if others else ""
    if found.source == signing.ENVIRONMENT:
        return Item(OK, "reply-signing secret: from the environment or .env (REPLY_TOKEN_SECRET)%s" % also)
    return Item(OK, "reply-signing secret: from the database (manage.py rotate-secret replaces it)%s" % also)


def _database_failure(text: str) -> Item:
    # psycopg says why only in words; these are PostgreSQL's own messages.
    lower = text.lower()
    if "password authentication failed" in lower or "password is required" in lower:
        return Item(FAIL, text, "check DB_USER and DB_PSWD", EX_CONFIG)
    if re.search(r'role "[^"]*" does not exist', lower):
        return Item(FAIL, text, "check DB_USER", EX_CONFIG)
    if re.search(r'database "[^"]*" does not exist', lower):
        return Item(FAIL, text, "check DB_NAME", EX_CONFIG)
    if "pg_hba.conf" in lower:
        return Item(FAIL, text, "allow this host and DB_USER in the server's pg_hba.conf", EX_CONFIG)
    return Item(FAIL, text, "is PostgreSQL running there? check DB_HOST and DB_PORT", EX_TEMPFAIL)


def _smtp_settings(settings: Settings, index: int) -> dict[str, str]:
    """The names of the settings of one SMTP server, for the hints."""
    if settings.raw_opts.get("smtp_servers"):
        base = "OPTS['smtp_servers'][%d]" % index
        return {k: "%s[%r]" % (base, k) for k in ("host", "port", "ssl", "tls", "login", "password", "enabled")}
    return {"host": "MAIL_SMTP", "port": "OPTS['smtp_port']", "ssl": "MAIL_USE_SSL", "tls": "OPTS['smtp_tls']",
            "login": "MAIL_LOGIN", "password": "MAIL_PSSWD", "enabled": "enabled"}


def _smtp_label(server: SmtpServer) -> str:
    where = "%s:%d" % (server.host, server.port)
    return "SMTP server %r (%s)" % (server.description, where) if server.description else "SMTP server " + where


def _oauth2_configs(settings: Settings) -> list[OAuth2]:
    """Every OAuth2 credential in use, once each (several servers may share one)."""
    found = [s.oauth2 for s in settings.sending.smtp_servers if s.enabled and s.oauth2]
    if settings.replies.pop_configured and settings.replies.replier_pop_oauth2:
        found.append(settings.replies.replier_pop_oauth2)
    return list({config.setting: config for config in found}.values())


def check_oauth2(settings: Settings, database_ok: bool) -> list[Item]:
    """Each OAuth2 credential: a token obtained (never shown), how long it lasts, when the credential expires."""
    items = []
    connect = db.connector(settings, "check") if database_ok else None
    for config in _oauth2_configs(settings):
        what = "%s: provider %r" % (config.setting, config.provider)
        try:
            token = oauth2.token_source(config, connect).token()
        except oauth2.OAuth2Refused as exc:
            items.append(Item(FAIL, str(exc), code=EX_CONFIG))  # it names what to check
        except oauth2.OAuth2Unreachable as exc:
            items.append(Item(FAIL, str(exc), "is the token endpoint reachable from this host (proxy, firewall)?",
                              EX_TEMPFAIL))
        except TemporaryFailure as exc:  # the database of the token cache
            items.append(Item(FAIL, "%s: %s" % (what, exc), "is PostgreSQL running there?", EX_TEMPFAIL))
        else:
            add_secrets([token])
            items.append(Item(OK, "%s: a token obtained for %r%s" % (what, config.subject or "the app",
                                                                     _lifetime(config, token, connect))))
        items += [Item(NONE, line) for line in oauth2.describe(config)]
    return items


def _lifetime(config: OAuth2, token: str, connect: db.Connector | None) -> str:
    """How long the token stays valid, where the cache in the database knows it."""
    if connect is None or config.provider == "command":
        return ""
    try:
        with closing(connect()) as conn:
            left = store.tokens.seconds_left(conn, grant_key(config), token)
    except (TemporaryFailure, psycopg.Error):
        return ""
    if left is None:
        return ""
    return ", valid %d more minute(s) (kept in the database for every run)" % (left // 60)


def check_smtp(settings: Settings) -> list[Item]:
    """Every configured server up to AUTH, then QUIT; disabled ones are listed as skipped."""
    items = []
    connect = db.connector(settings, "check")
    for index, server in enumerate(settings.sending.smtp_servers):
        names = _smtp_settings(settings, index)
        label = _smtp_label(server)
        if not server.enabled:
            items.append(Item(SKIP, "%s: disabled (%s is False)" % (label, names["enabled"])))
            continue
        sign_in = authenticator(server, connect)
        try:
            smtp = open_connection(server, connect, sign_in)
        except InsecureSignIn as exc:
            items.append(Item(FAIL, str(exc), code=EX_CONFIG))
            continue
        except LoginRefused as exc:
            if server.oauth2 is not None:  # the message names the OAuth2 setting and what to check
                items.append(Item(FAIL, str(exc), code=EX_CONFIG))
            else:
                items.append(Item(FAIL, _CHECK_NOTE.sub("", str(exc)),
                                  "check %s and %s" % (names["login"], names["password"]), EX_CONFIG))
            continue
        except ServerDown as exc:
            items.append(_smtp_failure(_CHECK_NOTE.sub("", str(exc)), names))
            continue
        refused = _envelope_refused(smtp, settings)
        try:
            smtp.quit()
        except Exception:  # the check passed; a rude hang-up changes nothing
            pass
        if refused:
            items.append(Item(FAIL, "%s refused our envelope sender: %s" % (label, refused),
                              "set OPTS['bounce_addr'] to an address this server accepts as MAIL FROM "
                              "(docs/guide.md, 'Before you upgrade')", EX_CONFIG))
            continue
        how = ["connected"]
        if server.ssl:
            how.append("TLS")
        if server.tls:
            how.append("STARTTLS")
        if isinstance(sign_in, OAuth2Login):
            how.append("signed in as %r with OAuth2 (%s, %s)" % (server.login, sign_in.mechanism,
                                                                 sign_in.source.setting))
        else:
            how.append("logged in as %r" % server.login if server.login else "no login configured")
        items.append(Item(OK, "%s: %s; nothing sent" % (label, ", ".join(how))))
    return items


def _envelope_refused(smtp: smtplib.SMTP, settings: Settings) -> str:
    """The server's words if it refuses our MAIL FROM (then RSET: nothing is sent); empty when it takes it.

    Relays that check the envelope sender against the account signed in
    (Exchange Online's 5.7.60, for one) would refuse every notification;
    said here, before a run stops on it.  The tag's signature does not
    matter to the server, only the address's shape.
    """
    sender = settings.sending.bounce_addr
    if not sender and settings.replies.replier_from_addr:
        sender = tags.bounce_address(settings.replies.replier_from_addr, "check", 1)
    sender = sender or settings.mail_from_addr
    try:
        code, text = smtp.mail(sender)
        smtp.rset()
    except (OSError, smtplib.SMTPException):
        return ""  # a hang-up here is not a refusal of the sender; the run will say what it meets
    if 500 <= code < 600:
        return "MAIL FROM:<%s>: %d %s" % (sender, code, " ".join(text.decode("utf-8", "replace").split()))
    return ""


def _smtp_failure(text: str, names: dict[str, str]) -> Item:
    lower = text.lower()
    if "certificate" in lower:
        return Item(FAIL, text, "check the host name in %s (or OPTS['smtp_verify_tls'], for a test server only)"
                    % names["host"], EX_CONFIG)
    if "ssl" in lower or "tls" in lower:
        return Item(FAIL, text, "check %s, %s and %s (465: implicit TLS; 587: STARTTLS)"
                    % (names["port"], names["ssl"], names["tls"]), EX_CONFIG)
    return Item(FAIL, text, "is the server up? check %s and %s" % (names["host"], names["port"]), EX_TEMPFAIL)


def check_pop3(settings: Settings) -> Item:
    """The reply mailbox up to login, then QUIT: nothing is marked, so nothing is deleted."""
    if not settings.replies.pop_configured:
        return Item(NONE, "POP3 mailbox: not configured (OPTS['replier_pop_addr'] is empty): "
                          "replies by email are not fetched")
    box = Pop3Mailbox(settings, timeout=settings.replies.replier_pop_timeout,
                      connect=db.connector(settings, "check"))
    label = "POP3 mailbox %s" % box.name
    pop_oauth2 = settings.replies.replier_pop_oauth2
    try:
        box.open()
        waiting = len(box.listing())
        box.commit()
    except ConfigError as exc:  # no TLS for the token
        return Item(FAIL, "%s: %s" % (label, "; ".join(exc.problems)), code=EX_CONFIG)
    except MailboxLoginRefused as exc:
        if pop_oauth2 is not None:  # the message names the OAuth2 setting and what to check
            return Item(FAIL, str(exc), code=EX_CONFIG)
        return Item(FAIL, _CHECK_NOTE.sub("", str(exc)),
                    "check OPTS['replier_pop_login'] and REPLIER_POP_PSSWD (in .env)", EX_CONFIG)
    except MailboxDown as exc:
        text = _CHECK_NOTE.sub("", str(exc))
        if "certificate" in text.lower():
            return Item(FAIL, text, "check the host name in OPTS['replier_pop_addr']", EX_CONFIG)
        return Item(FAIL, text, "is the server up? check OPTS['replier_pop_addr'] and OPTS['replier_pop_ssl']",
                    EX_TEMPFAIL)
    except Exception as exc:  # an odd server answer is a finding, not a crash
        return Item(FAIL, "%s: %s" % (label, exc), "check OPTS['replier_pop_addr']", EX_TEMPFAIL)
    finally:
        box.abort()  # after QUIT a no-op; after a failure, hang up without QUIT
    how = ("signed in as %r with OAuth2 (%s, %s)" % (settings.replies.replier_pop_login, box.mechanism,
                                                     pop_oauth2.setting)
           if pop_oauth2 else "logged in as %r" % settings.replies.replier_pop_login)
    return Item(OK, "%s: %s, %d message(s) waiting; nothing deleted" % (label, how, waiting))

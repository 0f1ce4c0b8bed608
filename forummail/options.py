"""The table of settings: every name, its type, range, default and one-line doc.

Defaults, validation (forummail.validation) and the settings reference
(docs/settings.md, and the comments of the shipped cron_conf.py, both held to
this table by tests/test_options.py) come from here, so a setting is written
once.  ``python3 -m forummail.options --markdown > docs/settings.md`` writes
the reference; ``--conf`` prints the ``OPTS`` lines of cron_conf.py.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

MB = 1024 * 1024

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

DEFAULT_SEPARATOR = "-- Write your reply above this line --"

# The original product's other tools (its directory sync, its LDAP import)
# read the same cron_conf.py: their keys are accepted and ignored.
FOREIGN_OPTS_PREFIXES = ("sync_", "ldap_")

# Keys that were read once and are no longer: what to write instead.
RETIRED_OPTS = {
    "reply_secret_previous": "put the previous secret in the .env beside the settings file as "
                             "REPLY_TOKEN_SECRET_PREVIOUS (a secret does not belong in cron_conf.py)",
}


@dataclass(frozen=True)
class Option:
    """One setting.  ``kind`` is int, bool, str or list; ``low``/``high`` bound an int."""

    name: str
    kind: type
    default: Any
    doc: str
    concern: str  # which part of Settings holds it: general, database, sending, replies
    low: int | None = None
    high: int | None = None
    unit: str = ""
    shown: str = ""  # the default in words, where its value alone does not say it
    choices: tuple[str, ...] = ()
    env: str = ""  # the environment (or .env) variable that wins over the file: a secret
    # True: a detail of the one server MAIL_SMTP names, checked with it
    # (forummail.smtpconf), so the same rule serves OPTS['smtp_servers'] entries.
    server: bool = False
    # True: a name of the original's that its own file uses (EXTERNAL_DB_ADDR in
    # arithmetic, say) and we do not read, so it is documented, never checked.
    unread: bool = False

    @property
    def label(self) -> str:
        """How problems name it: ``OPTS['smtp_port']``, or ``DB_PORT`` for a top-level name."""
        return self.name if self.name.isupper() else "OPTS[%r]" % self.name

    @property
    def default_text(self) -> str:
        if self.shown:
            return self.shown
        if self.default == "" or self.default is None:
            return "empty"
        return _amount(self.default, self.unit if self.unit == "bytes" else "")

    @property
    def range_text(self) -> str:
        if self.choices:
            return "one of " + ", ".join("'%s'" % c for c in self.choices)
        if self.low is None or self.high is None:
            return ""
        if self.unit == "bytes":
            return "%s to %s" % (_amount(self.low, self.unit), _amount(self.high, self.unit))
        return ("%s-%s %s" % (_amount(self.low, ""), _amount(self.high, ""), self.unit)).strip()

    @property
    def comment(self) -> str:
        """The one comment line of the shipped cron_conf.py: what, range and unit, default."""
        default = self.default_text
        facts = [t for t in (self.range_text, default if default.startswith("required") else "default " + default)
                 if t]
        if self.env:
            facts.append("better: %s=... in .env" % self.env)
        return "%s (%s)" % (self.doc, "; ".join(facts))


def _amount(value: Any, unit: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return repr(value)
    if unit == "bytes":
        for size, name in ((1 << 30, "GB"), (MB, "MB"), (1024, "KB")):
            if value and value % size == 0:
                return "%d %s" % (value // size, name)
        return "%d bytes" % value
    text = "{:,}".format(value) if value >= 1_000_000 else str(value)
    return "%s %s" % (text, unit) if unit else text


def _int(name: str, default: int, low: int, high: int, unit: str, doc: str, concern: str,
         **kw: Any) -> Option:
    return Option(name, int, default, doc, concern, low=low, high=high, unit=unit, **kw)


_UNREAD = "none: not read by forummail"

# The original manual's top-level names, and ours beside them.
TOP: tuple[Option, ...] = (
    Option("MAIL_FROM", str, "", "Name <address> of notifications; the acting user's name replaces the name",
           "general", shown="required"),
    Option("MAIL_SMTP", str, "", "SMTP server host (or host:port) that sends notifications", "sending",
           shown="required unless OPTS['smtp_servers']", server=True),
    Option("MAIL_ADMIN", str, "", "address(es) for alerts, refused replies and DEBUG mail; comma-separated",
           "general"),
    Option("MAIL_LOGIN", str, "", "SMTP AUTH user name; empty when the server needs no login", "sending",
           server=True),
    Option("MAIL_PSSWD", str, "", "SMTP AUTH password; required with MAIL_LOGIN", "sending", env="MAIL_PSSWD",
           server=True),
    Option("MAIL_USE_SSL", bool, False, "implicit TLS from the first byte (port 465); for STARTTLS use "
           "OPTS['smtp_tls']", "sending", server=True),
    Option("DEBUG", bool, False, "every mail goes to MAIL_ADMIN instead, marked with its real recipient",
           "general"),
    Option("DB_HOST", str, "", "PostgreSQL host", "database", shown="empty: the local Unix socket"),
    _int("DB_PORT", 5432, 1, 65535, "", "PostgreSQL port", "database"),
    Option("DB_USER", str, "sa_sirena", "PostgreSQL role", "database"),
    Option("DB_PSWD", str, "", "its password", "database", env="DB_PSWD"),
    Option("DB_NAME", str, "memoria", "the database", "database"),
    Option("DB_SCHEMA", str, "memoria", "the schema inside DB_NAME with the forum's and our tables; lower case, "
           "as PostgreSQL names it (Memoria is refused: write memoria)",
           "database"),
    Option("EXTERNAL_DB_ADDR", str, "", "public address of this installation, kept for links", "general",
           unread=True, shown=_UNREAD),
    Option("CARGADOR_HOST", str, "", "the file storage service, kept for download links", "general",
           unread=True, shown=_UNREAD),
    Option("CARGADOR_RPC_PORT", int, None, "its RPC port", "general", unread=True,
           shown=_UNREAD),
    Option("CARGADOR_HTPP_PORT", int, None, "its HTTP port (the manual's spelling; CARGADOR_HTTP_PORT works "
           "too)", "general", unread=True, shown=_UNREAD),
)

_NO_LIMIT = "0: no limit"

# The keys of OPTS, in the order of the shipped cron_conf.py.  Every key of
# OPTS must be one of these (or a foreign key): a key this version does not
# know would do nothing, and an administrator who sets a security option of
# a newer version must not believe it is on.  New settings are added here.
OPTS: tuple[Option, ...] = (
    Option("db_connection_addr", str, "", "address given in invitations", "database",
           shown="empty; the shipped file sets EXTERNAL_DB_ADDR"),
    Option("smtp_port", int, None, "SMTP port of MAIL_SMTP (587 is usual with smtp_tls)", "sending",
           low=1, high=65535, shown="25, or 465 with MAIL_USE_SSL", server=True),
    Option("smtp_tls", bool, False, "STARTTLS after connecting (Gmail, Exchange/Office 365 on port 587)",
           "sending", server=True),
    _int("smtp_timeout", 30, 1, 600, "seconds", "how long to wait for any SMTP answer", "sending"),
    Option("smtp_verify_tls", bool, True, "verify TLS certificates; False only for a self-signed test server "
           "(warns)", "sending"),
    _int("smtp_max_connections", 0, 0, 64, "", "SMTP connections used at once, each reused for many mails",
         "sending", shown="0: the preset's, else 1", server=True),
    Option("smtp_preset", str, "", "a provider's sending limits", "sending", choices=tuple(PRESETS),
           shown="empty: none", server=True),
    _int("smtp_per_minute", 0, 0, 10_000_000, "", "at most this many messages a minute through MAIL_SMTP "
         "(wins over the preset)", "sending", shown=_NO_LIMIT, server=True),
    _int("smtp_per_day", 0, 0, 10_000_000, "", "at most this many messages in any 24 hours", "sending",
         shown=_NO_LIMIT, server=True),
    _int("smtp_recipients_per_minute", 0, 0, 10_000_000, "", "at most this many recipients a minute",
         "sending", shown=_NO_LIMIT, server=True),
    _int("smtp_recipients_per_day", 0, 0, 10_000_000, "", "at most this many recipients in any 24 hours",
         "sending", shown=_NO_LIMIT, server=True),
    _int("smtp_aside_seconds", 300, 1, 86400, "seconds", "a server that failed is left aside this long, by "
         "every run", "sending", server=True),
    Option("smtp_servers", list, None, "several servers instead of MAIL_SMTP, mail spread over the enabled "
           "ones: a list of dicts, see docs/guide.md, Delivery at scale", "sending", shown="None: MAIL_SMTP",
           server=True),
    Option("smtp_oauth2", dict, None, "sign in to MAIL_SMTP with OAuth2 instead of MAIL_PSSWD (MAIL_LOGIN names the "
           "mailbox): a dict with 'provider' ('microsoft', 'google', 'generic', 'command'), see docs/guide.md, "
           "OAuth2 sign-in", "sending", shown="None: password sign-in", server=True),
    Option("mail_log", str, "", "log file, one greppable line per event (a relative path is beside this "
           "file); its folder must exist and be writable", "general", shown="empty: no log file"),
    Option("mail_disable", bool, False, "True: send_notifications.py does nothing and exits 0", "sending"),
    _int("send_lease_seconds", 300, 30, 86400, "seconds", "how long a claimed notification stays reserved "
         "for the run that claimed it", "sending"),
    _int("send_batch_size", 200, 1, 10000, "", "notifications claimed per database round trip", "sending"),
    _int("send_processes", 0, 0, 64, "", "processes sending at once with much to send, one server and several "
         "connections (each process takes its share of them); 1: always one process", "sending",
         shown="0: one per connection, up to one per core"),
    _int("send_max_attempts", 10, 1, 100, "", "tries before a temporarily failing notification is marked "
         "failed", "sending"),
    _int("send_retry_seconds", 60, 1, 86400, "seconds", "wait after the first temporary failure; doubles "
         "each time", "sending"),
    _int("send_retry_max_seconds", 6 * 3600, 1, 7 * 86400, "seconds", "longest wait between two tries",
         "sending"),
    Option("templates_dir", str, "", "folder with your own templates (relative: beside this file); its "
           "files win over templates/",
           "sending", shown="empty: none"),
    Option("metrics_dir", str, "", "folder for a Prometheus textfile per run, for node_exporter "
           "(relative: beside this file)", "general",
           shown="empty: none"),
    Option("replier_from_addr", str, "", "reply mailbox, e.g. 'Forum reply <reply@example.com>'; a signed "
           "reply token is added as +TOKEN", "replies", shown="empty: replies by email off"),
    Option("replier_pop_addr", str, "", "POP3 server of that mailbox, host or host:port (995 with SSL, else "
           "110)", "replies"),
    Option("replier_pop_ssl", bool, True, "POP3 over TLS (995); False: plain POP3 with STLS when offered",
           "replies"),
    Option("replier_pop_login", str, "", "POP3 user name", "replies"),
    Option("replier_pop_psswd", str, "", "POP3 password", "replies", env="REPLIER_POP_PSSWD"),
    Option("replier_pop_oauth2", dict, None, "sign in to the POP3 mailbox with OAuth2 instead of the password "
           "(replier_pop_login names the mailbox): a dict as smtp_oauth2", "replies",
           shown="None: password sign-in"),
    Option("replier_downloader_url", str, "", "base URL of attachment download links; hash= and name= are "
           "appended", "replies"),
    Option("replier_separator", str, "", "line put at the top of notifications; replies are cut there",
           "replies", shown="empty: '%s'" % DEFAULT_SEPARATOR),
    _int("reply_token_days", 180, 1, 3650, "days", "how long a reply address stays valid", "replies"),
    _int("replier_pop_timeout", 60, 1, 600, "seconds", "how long to wait for any POP3 answer", "replies"),
    _int("replier_max_age_days", 7, 1, 3650, "days", "older mail in the mailbox is recorded and left alone "
         "(first run on an old mailbox)", "replies"),
    _int("replier_max_message_bytes", 25 * MB, 1024, 1 << 30, "bytes", "larger replies are refused",
         "replies"),
    _int("replier_max_attachment_bytes", 10 * MB, 0, 1 << 30, "bytes", "larger attachments are dropped, "
         "with a note in the post", "replies"),
    _int("replier_max_attachments", 10, 0, 1000, "", "attachments kept per reply; the rest dropped with a "
         "note", "replies"),
    _int("replier_keep_raw_bytes", MB, 0, 1 << 30, "bytes", "bytes of a refused email kept in "
         "inbound_emails for the administrator", "replies"),
    Option("replier_authserv_id", str, "", "authserv-id of your own receiving mail server (e.g. "
           "'mx.example.com'); its DMARC pass lets a reply without token post", "replies",
           shown="empty: tokens only"),
    # Above 50 levels the email package's recursion comes near Python's limit.
    _int("replier_max_mime_depth", 20, 3, 50, "", "replies with MIME parts nested deeper than this many "
         "levels are refused", "replies"),
    _int("replier_max_mime_parts", 200, 10, 10000, "", "replies with more MIME parts than this are refused",
         "replies"),
    # Below a few KB real mail (DKIM signatures, References) would be refused;
    # above a few MB the header parser's cost is minutes again.  102400 is
    # Postfix's header_size_limit.
    _int("replier_max_header_bytes", 102400, 16384, 4 << 20, "bytes", "emails whose header block is larger are "
         "refused before it is parsed", "replies"),
    _int("replier_max_header_field_bytes", 16384, 2048, 1 << 20, "bytes", "emails with one header field larger "
         "are refused before it is parsed", "replies"),
    Option("bounce_addr", str, "", "envelope sender (Return-Path) of notifications: delivery reports come back "
           "to it", "sending", shown="empty: the reply mailbox's +bounces address (tagged per notification), "
           "else MAIL_FROM"),
    Option("unsubscribe_url", str, "", "the forum's HTTPS endpoint for one-click unsubscribe (RFC 8058); "
           "token= is appended", "sending", shown="empty: List-Unsubscribe carries only the mailto: address"),
)

OPTION: dict[str, Option] = {o.name: o for o in OPTS}

# The keys of one OPTS['smtp_servers'] entry: the same details as MAIL_SMTP
# and its OPTS keys, checked by the same rule (forummail.smtpconf).
SERVER_KEYS: dict[str, str] = {
    "host": "as MAIL_SMTP (required)",
    "port": "as smtp_port",
    "ssl": "as MAIL_USE_SSL",
    "tls": "as smtp_tls",
    "login": "as MAIL_LOGIN",
    "password": "as MAIL_PSSWD; empty: SMTP_PSSWD_<DESCRIPTION> from .env or the environment",
    "description": "its name in logs, budgets and universes; empty: host:port",
    "enabled": "False: not used (default True)",
    "timeout": "as smtp_timeout (default: smtp_timeout)",
    "verify": "as smtp_verify_tls (default: smtp_verify_tls)",
    "preset": "as smtp_preset",
    "max_connections": "as smtp_max_connections",
    "per_minute": "as smtp_per_minute",
    "per_day": "as smtp_per_day",
    "recipients_per_minute": "as smtp_recipients_per_minute",
    "recipients_per_day": "as smtp_recipients_per_day",
    "aside_seconds": "as smtp_aside_seconds",
    "oauth2": "as smtp_oauth2: sign in with OAuth2 instead of the password",
}
TOP_OPTION: dict[str, Option] = {o.name: o for o in TOP}

# Secrets beside the file: what the environment (or .env) may hold.
ENVIRONMENT: tuple[tuple[str, str], ...] = (
    ("MAIL_PSSWD", "SMTP AUTH password of MAIL_SMTP; wins over the file"),
    ("DB_PSWD", "PostgreSQL password; wins over the file"),
    ("REPLIER_POP_PSSWD", "POP3 password; wins over OPTS['replier_pop_psswd']"),
    ("SMTP_PSSWD_<DESCRIPTION>", "password of an OPTS['smtp_servers'] entry without one (upper case, "
     "non-letters as _: SMTP_PSSWD_O365)"),
    ("SMTP_OAUTH2_CLIENT_SECRET", "client_secret of every SMTP OAuth2 setting without one (smtp_oauth2, an "
     "entry's 'oauth2')"),
    ("SMTP_OAUTH2_REFRESH_TOKEN", "refresh_token of every SMTP OAuth2 setting without one"),
    ("REPLIER_POP_OAUTH2_CLIENT_SECRET", "client_secret of OPTS['replier_pop_oauth2'] when it has none"),
    ("REPLIER_POP_OAUTH2_REFRESH_TOKEN", "refresh_token of OPTS['replier_pop_oauth2'] when it has none"),
    ("REPLY_TOKEN_SECRET", "optional: signs reply addresses instead of the secret kept in the database "
     "(at least 16 characters)"),
    ("REPLY_TOKEN_SECRET_PREVIOUS", "optional: earlier secrets that still verify, separated by spaces or "
     "commas"),
)

_CONCERNS = (("general", "General"), ("database", "Database"), ("sending", "Sending"),
             ("replies", "Replies by email"))


def markdown() -> str:
    """The settings reference, docs/settings.md."""
    out = ["# Settings reference", "",
           "<!-- Generated from forummail/options.py by `python3 -m forummail.options --markdown > "
           "docs/settings.md`: edit the table there, not this file. -->", "",
           "Settings live in `cron_conf.py`, a plain Python module read once per run; `--conf PATH` or "
           "`CRON_CONF` selects another. Every problem is reported together, each naming its setting, "
           "with exit 78. Secrets belong in a `.env` beside it (or the environment), which wins over the "
           "file.", ""]
    out += ["## Top-level names", "", "| name | meaning | default |", "| --- | --- | --- |"]
    out += ["| `%s` | %s | %s |" % (o.name, _meaning(o), _md(o.default_text)) for o in TOP]
    out += ["", "## `OPTS`", "",
            "Every key of `OPTS` must be one of these: a key this version does not know would do nothing "
            "(a security option of a newer version, say, would not be on), so it is an error (78) naming "
            "the key, with \"did you mean\" when it looks like a typo. The keys of the original product's "
            "other tools, which share the file, are accepted and ignored: those starting with %s."
            % " or ".join("`%s`" % p for p in FOREIGN_OPTS_PREFIXES)]
    for concern, title in _CONCERNS:
        rows = [o for o in OPTS if o.concern == concern]
        out += ["", "### %s" % title, "", "| key | meaning | range | default |", "| --- | --- | --- | --- |"]
        out += ["| `%s` | %s | %s | %s |" % (o.name, _meaning(o), _md(o.range_text or _kind(o)), _md(o.default_text))
                for o in rows]
    out += ["", "### An entry of `smtp_servers`", "",
            "A dict with these keys (see [Delivery at scale](guide.md#delivery-at-scale)):", "",
            "| key | meaning |", "| --- | --- |"]
    out += ["| `%s` | %s |" % (key, _md(text)) for key, text in SERVER_KEYS.items()]
    out += ["", "Keys no longer read, refused with what to write instead:", ""]
    out += ["* `%s`: %s." % item for item in RETIRED_OPTS.items()]
    out += ["", "## Provider presets (`smtp_preset`)", "", "| preset | limits |", "| --- | --- |"]
    out += ["| `%s` | %s |" % (name, ", ".join("%s %d" % kv for kv in limits.items()))
            for name, limits in PRESETS.items()]
    out += ["", "## In `.env` or the environment", "", "| variable | meaning |", "| --- | --- |"]
    out += ["| `%s` | %s |" % (name, _md(text)) for name, text in ENVIRONMENT]
    return "\n".join(out) + "\n"


def _kind(o: Option) -> str:
    return {bool: "True or False", str: "text", list: "list of dicts", int: "whole number", dict: "dict"}[o.kind]


def _md(text: str) -> str:
    """Plain text made safe in a Markdown table cell (a <address> is no HTML tag)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _meaning(o: Option) -> str:
    return _md(o.doc) + ("; better in `.env` as `%s`" % o.env if o.env else "")


def conf_lines() -> str:
    """The ``OPTS`` entries of the shipped cron_conf.py, each with its one comment line."""
    return "\n".join("\t, %-32s # %s" % ("'%s' : %r" % (o.name, o.default), o.comment) for o in OPTS) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m forummail.options", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--markdown", action="store_true", help="print docs/settings.md")
    group.add_argument("--conf", action="store_true", help="print the OPTS lines of cron_conf.py")
    args = parser.parse_args(argv)
    sys.stdout.write(markdown() if args.markdown else conf_lines())
    return 0


if __name__ == "__main__":
    sys.exit(main())

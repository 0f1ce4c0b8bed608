"""Validated settings, split by concern: ``settings.db``, ``.sending``, ``.replies``.

A field that holds an ``OPTS`` key has that key's name (``replier_max_age_days``),
so a reader finds its documentation in forummail.options by the same word.
Secrets are excluded from ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .options import OPTION

_ASIDE_SECONDS: int = OPTION["smtp_aside_seconds"].default
_SMTP_TIMEOUT: int = OPTION["smtp_timeout"].default


@dataclass(frozen=True)
class OAuth2:
    """How a run gets an OAuth2 access token for one mailbox (forummail.oauth2 uses it).

    ``setting`` is the name an administrator fixes ("OPTS['smtp_oauth2']",
    "OPTS['smtp_servers'][1]['oauth2']"); ``subject`` is the mailbox signed in
    to (MAIL_LOGIN, replier_pop_login).  Defaults (scope, authority,
    token_url) are filled in by validation, so what is here is what is used.
    """

    setting: str
    provider: str  # microsoft, google, generic, command
    subject: str = ""
    scope: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    tenant: str = ""
    authority: str = ""
    certificate: str = ""
    private_key: str = ""
    service_account_file: str = ""
    token_url: str = ""
    token_command: str = ""
    # The environment variables that may hold client_secret and refresh_token
    # (SMTP_OAUTH2_CLIENT_SECRET, ...), named in messages that say what to check.
    secret_env: str = ""
    refresh_env: str = ""
    timeout: float = 30.0

    @property
    def secrets(self) -> list[str]:
        return [v for v in (self.client_secret, self.refresh_token) if v]


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
    timeout: float = float(_SMTP_TIMEOUT)
    verify: bool = True
    per_minute: int = 0
    per_day: int = 0
    recipients_per_minute: int = 0
    recipients_per_day: int = 0
    aside_seconds: int = _ASIDE_SECONDS
    # Sign in with an OAuth2 access token instead of the password.
    oauth2: OAuth2 | None = None

    @property
    def budgeted(self) -> bool:
        return bool(self.per_minute or self.per_day or self.recipients_per_minute or self.recipients_per_day)

    @property
    def name(self) -> str:
        return self.description or "%s:%d" % (self.host, self.port)


@dataclass(frozen=True)
class Database:
    """DB_HOST, DB_PORT, DB_USER, DB_PSWD, DB_NAME, DB_SCHEMA."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    name: str
    schema: str
    db_connection_addr: str = ""


@dataclass(frozen=True)
class Sending:
    """How notifications leave: the SMTP servers and the queue's pace."""

    smtp_servers: tuple[SmtpServer, ...]
    mail_disable: bool
    send_lease_seconds: int
    send_batch_size: int
    send_processes: int
    send_max_attempts: int
    send_retry_seconds: int
    send_retry_max_seconds: int
    templates_dir: str
    # OPTS['bounce_addr'] as an address; empty: derived (forummail.compose.Composer.envelope_sender).
    bounce_addr: str = ""
    unsubscribe_url: str = ""


@dataclass(frozen=True)
class Replies:
    """Replies by email: the reply address, its signing, the POP3 mailbox, the limits."""

    replier_from_name: str
    replier_from_addr: str
    replier_separator: str
    replier_downloader_url: str
    # OPTS['replier_pop_addr'] read as host and port (995 with SSL, else 110).
    pop_host: str
    pop_port: int
    replier_pop_ssl: bool
    replier_pop_login: str
    replier_pop_psswd: str = field(repr=False)
    replier_pop_timeout: int
    replier_max_age_days: int
    replier_max_message_bytes: int
    replier_max_attachment_bytes: int
    replier_max_attachments: int
    replier_keep_raw_bytes: int
    replier_authserv_id: str
    replier_max_mime_depth: int
    replier_max_mime_parts: int
    replier_max_header_bytes: int
    replier_max_header_field_bytes: int
    reply_token_days: int
    # REPLY_TOKEN_SECRET and REPLY_TOKEN_SECRET_PREVIOUS from the environment
    # or .env; empty: the secrets kept in the database (forummail.signing).
    reply_secret: str = field(repr=False)
    reply_secrets_previous: tuple[str, ...] = field(repr=False)
    # Sign in to the POP3 mailbox with an OAuth2 access token instead of the password.
    replier_pop_oauth2: OAuth2 | None = None

    @property
    def enabled(self) -> bool:
        # The signing secret may be in the database: forummail.signing finds it.
        return bool(self.replier_from_addr)

    @property
    def pop_configured(self) -> bool:
        return bool(self.pop_host and self.replier_pop_login and (self.replier_pop_psswd or self.replier_pop_oauth2))


@dataclass(frozen=True)
class Settings:
    """Validated settings: the names every part uses at the top, the rest by concern."""

    path: Path
    mail_from_name: str
    mail_from_addr: str
    mail_admin: tuple[str, ...]
    debug: bool
    mail_log: str
    metrics_dir: str
    db: Database
    sending: Sending
    replies: Replies
    raw_opts: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def secrets(self) -> list[str]:
        """Every secret value, for the log filter that masks them."""
        values = [self.db.password, self.replies.replier_pop_psswd, self.replies.reply_secret,
                  *self.replies.reply_secrets_previous]
        values += [s.password for s in self.sending.smtp_servers]
        for oauth2 in (self.replies.replier_pop_oauth2, *(s.oauth2 for s in self.sending.smtp_servers)):
            values += oauth2.secrets if oauth2 else []
        return [v for v in values if v]

    @property
    def domain(self) -> str:
        """The domain of our Message-IDs: that of ``MAIL_FROM``."""
        return self.mail_from_addr.rpartition("@")[2] or "localhost"

"""Logging for cron: quiet on success, warnings on stderr, a greppable log file.

Handlers are configured here and only called from the scripts' ``main()``.
A filter masks every secret value in every record, whatever put it there.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable

from .errors import ConfigError

FORMAT_FILE = "%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s"
FORMAT_STDERR = "%(prog)s: %(levelname)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Replace any secret value that reached a log record by '***'."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret containing another is masked whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = message
        for secret in self.secrets:
            masked = masked.replace(secret, "***")
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            for secret in self.secrets:
                text = text.replace(secret, "***")
            record.exc_text, record.exc_info = text, None
        return True


_SECRETS: list[str] = []


def redact(text: str) -> str:
    """Mask the secrets of the loaded settings in any text bound for output."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def remember_secrets(secrets: Iterable[str]) -> None:
    """Register secrets as soon as settings are loaded, before logging is set up."""
    _SECRETS[:] = sorted({s for s in secrets if s}, key=len, reverse=True)


_MASKERS: list[RedactSecrets] = []


def add_secrets(secrets: Iterable[str]) -> None:
    """Secrets learnt after setup (the reply-signing secrets kept in the database)."""
    remember_secrets([*_SECRETS, *secrets])
    for masker in _MASKERS:
        masker.secrets = list(_SECRETS)


class _NotFileOnly(logging.Filter):
    # Errors that the scripts already said on stderr are logged with
    # extra={"file_only": True}: in the log file, not said twice.
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "file_only", False)


class _ProgFilter(logging.Filter):
    def __init__(self, prog: str) -> None:
        super().__init__()
        self.prog = prog

    def filter(self, record: logging.LogRecord) -> bool:
        record.prog = self.prog
        return True


def setup(prog: str, verbose: bool = False, log_file: str = "", secrets: Iterable[str] = ()) -> None:
    """Configure the root logger for one script run.

    stderr gets warnings and errors (cron mails them); ``-v`` adds progress.
    ``log_file`` (``OPTS['mail_log']``) gets everything from INFO up, with
    timestamps and pid, one event per line.
    """
    remember_secrets(secrets)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    masker = RedactSecrets(secrets)
    _MASKERS[:] = [masker]
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.INFO if verbose else logging.WARNING)
    stderr.setFormatter(logging.Formatter(FORMAT_STDERR))
    stderr.addFilter(_ProgFilter(prog))
    stderr.addFilter(masker)
    stderr.addFilter(_NotFileOnly())
    root.addHandler(stderr)
    root.setLevel(logging.INFO)
    if log_file:
        try:
            handler = logging.FileHandler(os.path.expanduser(log_file), encoding="utf-8")
        except OSError as exc:  # settings validation checks this; a race or an odd file gets here
            raise ConfigError("OPTS['mail_log'] %r cannot be opened: %s" % (log_file, exc.strerror or exc)) from None
        handler.setFormatter(logging.Formatter(FORMAT_FILE, "%Y-%m-%dT%H:%M:%S%z"))
        handler.addFilter(masker)
        root.addHandler(handler)

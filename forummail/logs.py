"""Logging for cron: quiet on success, warnings on stderr, a greppable log file.

Handlers are configured here and only called from the scripts' ``main()``.
A filter masks every secret value in every record, whatever put it there.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable

from .errors import ConfigError

FORMAT_FILE = "%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s"
FORMAT_STDERR = "%(prog)s: %(levelname)s: %(message)s"


# What would break a line or fool a reader: C0 and C1 controls, DEL, the
# Unicode line and paragraph separators, bidirectional marks, overrides and
# isolates, invisible format characters (soft hyphen, zero-width ones, the
# BOM), spaces that look like a plain one or like nothing (but the no-break
# spaces of French typography), and lone surrogates (which cannot even be
# written as UTF-8).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\xad\u061c\u1680\u180e\u2000-\u200f\u2028-\u202e"
                          "\u205f-\u2064\u2066-\u2069\u3000\ufeff\ud800-\udfff]")
_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}


def _escape_one(match: re.Match[str]) -> str:
    char = match[0]
    return _NAMED.get(char) or ("\\x%02x" % ord(char) if ord(char) < 0x100 else "\\u%04x" % ord(char))


def escape(text: str) -> str:
    """``text`` as one printable line: control characters written as escapes (CR LF as ``\\r\\n``).

    The one rule for data (an address, a subject, a server's words) shown in a
    log or in ``manage.py`` output: one event per line, and nothing that
    reaches a terminal or a mail from cron can fake a line of its own.
    """
    if not _UNPRINTABLE.search(text):
        return text
    return _UNPRINTABLE.sub(_escape_one, text)


class OneLine(logging.Filter):
    """Escape control characters in every log message (tracebacks stay as they are)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        escaped = escape(message)
        if escaped != message:
            record.msg, record.args = escaped, None
        return True


class RedactSecrets(logging.Filter):
    """Replace any secret value that reached a log record by '***'."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret containing another is masked whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        # The message is formatted once here, for every filter and formatter
        # after (each would call getMessage() again): a line per mail sent.
        masked = record.getMessage()
        for secret in self.secrets:
            if secret in masked:
                masked = masked.replace(secret, "***")
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


class _FileFormatter(logging.Formatter):
    """The log file's format, its timestamp formatted once per second rather than once per line."""

    _second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        second = int(record.created)
        if second != self._second[0]:
            self._second = (second, super().formatTime(record, datefmt))
        return self._second[1]


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
    # What our formats never show is not collected: the caller's file and
    # line, thread and process names (the logging HOWTO's "Optimization"
    # table).  The sender logs a line per mail; this halves its cost.
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    masker = RedactSecrets(secrets)
    one_line = OneLine()
    _MASKERS[:] = [masker]
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.INFO if verbose else logging.WARNING)
    stderr.setFormatter(logging.Formatter(FORMAT_STDERR))
    stderr.addFilter(_ProgFilter(prog))
    stderr.addFilter(masker)
    stderr.addFilter(one_line)
    stderr.addFilter(_NotFileOnly())
    root.addHandler(stderr)
    root.setLevel(logging.INFO)
    if log_file:
        try:
            handler = logging.FileHandler(os.path.expanduser(log_file), encoding="utf-8")
        except OSError as exc:  # settings validation checks this; a race or an odd file gets here
            raise ConfigError("OPTS['mail_log'] %r cannot be opened: %s" % (log_file, exc.strerror or exc)) from None
        handler.setFormatter(_FileFormatter(FORMAT_FILE, "%Y-%m-%dT%H:%M:%S%z"))
        handler.addFilter(masker)
        handler.addFilter(one_line)
        root.addHandler(handler)

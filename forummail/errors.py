"""The error types that become exit codes.

Every script maps an exception to its exit code in one place
(:func:`forummail.cli.run`), from this small hierarchy.  The codes follow
sysexits(3), which cron wrappers and monitoring already understand.
"""

from __future__ import annotations

EX_OK = 0
EX_FAILURE = 1
EX_TEMPFAIL = 75
EX_CONFIG = 78


class MailerError(Exception):
    """Base of our errors; anything else that escapes is a bug (exit 1)."""

    exit_code = EX_FAILURE


class ConfigError(MailerError):
    """The settings are wrong: every problem is listed, each naming its setting."""

    exit_code = EX_CONFIG

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return "bad settings: " + self.problems[0]
        return "bad settings:\n" + "\n".join("  - " + p for p in self.problems)


class TemporaryFailure(MailerError):
    """A server (database, SMTP, POP3) could not be used now; the work waits."""

    exit_code = EX_TEMPFAIL


class UsageError(MailerError):
    """The command line asks for something impossible (a file that is not there)."""

    exit_code = 2


class ItemError(MailerError):
    """One item (a notification, an email) could not be handled; the batch goes on."""

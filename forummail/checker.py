"""Reading one setting of a loaded ``cron_conf`` and checking it against its type and range.

Problems are collected, not raised, so that all of them are reported at
once, each naming its setting.  A secret's value never appears in one.
"""

from __future__ import annotations

from email.utils import parseaddr
from types import ModuleType
from typing import Any

from . import addresses
from .options import OPTION, TOP_OPTION, Option


class Checker:
    """Collects problems so that all of them are reported at once."""

    def __init__(self, module: ModuleType, opts: dict[str, Any], environ: dict[str, str]) -> None:
        self.module = module
        self.opts = opts
        self.environ = environ
        self.problems: list[str] = []

    def secret(self, file_value: Any, env_name: str) -> Any:
        """A secret: from the environment (or .env) when set there, else from the file."""
        return self.environ.get(env_name) or file_value

    def top(self, name: str) -> Any:
        """A top-level name of the file as written, or its default."""
        return getattr(self.module, name, TOP_OPTION[name].default)

    def opt(self, name: str) -> Any:
        """An OPTS key as written, or its default (None, too, means the default where there is one)."""
        default = OPTION[name].default
        value = self.opts.get(name, default)
        return default if value is None and default is not None else value

    def value(self, option: Option) -> Any:
        """The setting read and checked against the table: its type, its range, its secret's variable."""
        raw = self.top(option.name) if option.name in TOP_OPTION else self.opt(option.name)
        if option.env:
            raw = self.secret(raw, option.env)
        if option.kind is bool:
            return self.boolean(option.label, raw)
        if option.kind is int and option.low is not None and option.high is not None:
            return self.integer(option.label, raw, option.low, option.high)
        if option.kind is str:
            return self.string(option.label, raw, secret=bool(option.env))
        return raw

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

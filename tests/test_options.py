"""The table of options (forummail.options) is the one truth: the docs, cron_conf.py and Settings follow it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from forummail import options, settings
from forummail.errors import ConfigError
from tests.conftest import ROOT

SHIPPED = (ROOT / "cron_conf.py").read_text()
REGENERATE = "python3 -m forummail.options --markdown > docs/settings.md"


def shipped_line(name: str) -> tuple[str, str]:
    """The value and the comment of ``name`` in the shipped cron_conf.py, as written."""
    pattern = (r"^%s\s*=\s*(.*?)\s*#\s*(.*)$" % name if name.isupper()
               else r"^\s*,?\s*'%s'\s*:\s*(.*?)\s*#\s*(.*)$" % name)
    found = re.findall(pattern, SHIPPED, re.M)
    assert len(found) == 1, "cron_conf.py has %d lines for %s, not one (write it with its comment)" % (
        len(found), name)
    return found[0]


def test_docs_settings_md_is_generated_from_the_table() -> None:
    written = (ROOT / "docs" / "settings.md").read_text()
    assert written == options.markdown(), "docs/settings.md is stale: run %s" % REGENERATE


def test_the_markdown_command_prints_the_reference() -> None:
    result = subprocess.run([sys.executable, "-m", "forummail.options", "--markdown"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (ROOT / "docs" / "settings.md").read_text()


@pytest.mark.parametrize("option", [*options.TOP, *options.OPTS], ids=lambda o: o.name)
def test_cron_conf_has_a_line_for_each_setting_with_the_tables_comment(option: options.Option) -> None:
    value, comment = shipped_line(option.name)
    assert comment == option.comment, (
        "the comment of %s in cron_conf.py disagrees with forummail/options.py: write\n# %s\n"
        "(python3 -m forummail.options --conf prints the OPTS lines)" % (option.name, option.comment))
    if not option.name.isupper() and option.name != "db_connection_addr":
        assert ast.literal_eval(value) == option.default, "cron_conf.py sets %s to %s, the table's default is %r" % (
            option.name, value, option.default)


def _module(**top: Any) -> ModuleType:
    module = ModuleType("cron_conf")
    module.__dict__.update(top)
    return module


def test_settings_hold_each_default_under_the_options_name() -> None:
    conf = settings.validate(_module(MAIL_FROM="f@example.com", MAIL_SMTP="h", OPTS={}), Path("x"), {})
    parts = {"sending": conf.sending, "replies": conf.replies, "database": conf.db, "general": conf}
    for option in options.OPTS:
        if option.name.startswith("smtp_"):  # a detail of each server: in settings.sending.smtp_servers
            continue
        if option.name == "replier_pop_addr":  # read as host and port
            assert (conf.replies.pop_host, conf.replies.pop_port) == ("", 995)
            continue
        part = parts[option.concern]
        assert hasattr(part, option.name), "%s is not settings.%s.%s" % (option.name, option.concern, option.name)
        if option.name != "replier_separator":  # empty means the default line
            assert getattr(part, option.name) == option.default, option.name
    assert conf.replies.replier_separator == options.DEFAULT_SEPARATOR
    assert conf.sending.smtp_servers[0].aside_seconds == options.OPTION["smtp_aside_seconds"].default
    assert conf.sending.smtp_servers[0].timeout == options.OPTION["smtp_timeout"].default
    assert conf.sending.smtp_servers[0].verify is options.OPTION["smtp_verify_tls"].default


@pytest.mark.parametrize("option", [o for o in options.OPTS if o.kind is int and o.low is not None
                                    and o.name not in ("smtp_port", "smtp_max_connections")], ids=lambda o: o.name)
def test_each_range_of_the_table_is_enforced(option: options.Option) -> None:
    assert option.low is not None and option.high is not None
    for good in (option.low, option.high):
        settings.validate(_module(MAIL_FROM="f@example.com", MAIL_SMTP="h", OPTS={option.name: good}), Path("x"), {})
    with pytest.raises(ConfigError) as err:
        settings.validate(_module(MAIL_FROM="f@example.com", MAIL_SMTP="h", OPTS={option.name: option.high + 1}),
                          Path("x"), {})
    assert "%s must be a whole number from %d to %d" % (option.label, option.low, option.high) in str(err.value)

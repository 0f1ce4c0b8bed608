"""Every option, setting and exit code a user meets is documented."""

from __future__ import annotations

import re

import pytest

from forummail import settings
from tests.conftest import ROOT, run_script

README = (ROOT / "README.md").read_text()
SHIPPED = (ROOT / "cron_conf.py").read_text()
REFERENCE = (ROOT / "docs" / "settings.md").read_text()


@pytest.mark.parametrize("script", ["send_notifications.py", "fetch_replies.py", "manage.py"])
def test_every_option_is_in_the_readme(script: str) -> None:
    result = run_script(script, "--help")
    assert result.returncode == 0
    options = set(re.findall(r"(--[a-z][a-z-]+)", result.stdout)) - {"--help"}
    assert options
    section = README.split("### `%s`" % script, 1)[1].split("\n### ", 1)[0]
    for option in options:
        assert "`%s" % option in section, "%s %s is not documented in its README section" % (script, option)


def test_every_manage_command_is_in_the_readme() -> None:
    result = run_script("manage.py", "--help")
    commands = re.findall(r"^    ([a-z][a-z-]+) ", result.stdout, re.M)
    assert "init-db" in commands
    for command in commands:
        assert "| `%s" % command in README, command


@pytest.mark.parametrize("key", sorted(settings.OPTS_DEFAULTS))
def test_every_opts_key_is_documented(key: str) -> None:
    assert "`%s`" % key in REFERENCE, key
    line = next((line for line in SHIPPED.splitlines() if "'%s'" % key in line), "")
    assert "#" in line, "%s has no comment in the shipped cron_conf.py" % key


@pytest.mark.parametrize("code", ["0", "75", "78", "2", "1"])
def test_exit_codes_are_documented(code: str) -> None:
    assert re.search(r"^\| %s \|" % code, README, re.M)


def test_crontab_example_follows_cron_conventions() -> None:
    text = (ROOT / "crontab.example").read_text()
    for needed in ("MAILTO=", "PATH=", "flock -n", "/send_notifications.py", "/fetch_replies.py"):
        assert needed in text

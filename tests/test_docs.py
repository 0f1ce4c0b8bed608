"""Every option, setting and exit code a user meets is documented."""

from __future__ import annotations

import re

import pytest

from forummail import settings
from tests.conftest import ROOT, run_script

README = (ROOT / "README.md").read_text()
COMMANDS = (ROOT / "docs" / "commands.md").read_text()
SHIPPED = (ROOT / "cron_conf.py").read_text()
REFERENCE = (ROOT / "docs" / "settings.md").read_text()


@pytest.mark.parametrize("script", ["send_notifications.py", "fetch_replies.py", "manage.py"])
def test_every_option_is_in_the_commands_page(script: str) -> None:
    result = run_script(script, "--help")
    assert result.returncode == 0
    options = set(re.findall(r"(--[a-z][a-z-]+)", result.stdout)) - {"--help"}
    assert options
    section = COMMANDS.split("## `%s`" % script, 1)[1].split("\n## ", 1)[0]
    for option in options:
        assert "`%s" % option in section, "%s %s is not documented in docs/commands.md" % (script, option)


def test_every_manage_command_is_in_the_commands_page() -> None:
    result = run_script("manage.py", "--help")
    commands = re.findall(r"^    ([a-z][a-z-]+) ", result.stdout, re.M)
    assert "init-db" in commands
    for command in commands:
        assert "| `%s" % command in COMMANDS, command


@pytest.mark.parametrize("key", sorted(settings.OPTS_DEFAULTS))
def test_every_opts_key_is_documented(key: str) -> None:
    assert "`%s`" % key in REFERENCE, key
    line = next((line for line in SHIPPED.splitlines() if "'%s'" % key in line), "")
    assert "#" in line, "%s has no comment in the shipped cron_conf.py" % key


@pytest.mark.parametrize("code", ["0", "75", "78", "2", "1"])
def test_exit_codes_are_documented(code: str) -> None:
    assert re.search(r"^\| %s \|" % code, README, re.M)


def test_the_docs_links_lead_somewhere() -> None:
    # The README is short and points into docs/: a moved section must not leave a dead link.
    pages = {path.relative_to(ROOT).as_posix(): path.read_text() for path in [ROOT / "README.md",
                                                                              *(ROOT / "docs").glob("*.md")]}
    for name, text in pages.items():
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)", text):
            if target.startswith("http"):
                continue
            where = (ROOT / name).parent / target if target else ROOT / name
            assert where.exists(), "%s links to %s, which does not exist" % (name, target)
            if anchor and where.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", where.read_text(), re.M)
                slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
                assert anchor in slugs, "%s links to %s#%s, which has no such heading" % (name, target, anchor)


def test_crontab_example_follows_cron_conventions() -> None:
    text = (ROOT / "crontab.example").read_text()
    for needed in ("MAILTO=", "PATH=", "flock -n", "/send_notifications.py", "/fetch_replies.py"):
        assert needed in text

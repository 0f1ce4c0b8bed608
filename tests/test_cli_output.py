"""What the scripts print when they stop: said once, on stderr, never twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from forummail import settings
from tests.conftest import run_script


@pytest.mark.parametrize("script, args", [("send_notifications.py", ()), ("fetch_replies.py", ()),
                                          ("manage.py", ("check",))])
def test_bad_settings_are_said_once(tmp_path: Path, script: str, args: tuple[str, ...]) -> None:
    # Found by a hostile test: before logging was set up, the log file's copy of
    # the error went to logging's last-resort handler, so cron mailed it twice.
    conf = tmp_path / "cron_conf.py"
    conf.write_text("OPTS = {'mail_disable': True, 'smtp_prot': 25}\n")
    result = run_script(script, "--conf", str(conf), *args)
    assert result.returncode == 78
    assert result.stderr.count("unknown key 'smtp_prot'") == 1, result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""


def test_a_settings_file_that_exits_is_reported(tmp_path: Path) -> None:
    # sys.exit(3) in cron_conf.py used to end the run with exit 3 and no word.
    conf = tmp_path / "cron_conf.py"
    conf.write_text("import sys\nOPTS = {'mail_disable': True}\nsys.exit(3)\n")
    result = run_script("send_notifications.py", "--conf", str(conf))
    assert result.returncode == 78
    assert "line 3" in result.stderr and "called exit(3)" in result.stderr


def test_relative_paths_are_beside_the_settings_file(tmp_path: Path) -> None:
    # Cron runs from the user's home: a relative mail_log must not land there.
    folder = tmp_path / "install"
    folder.mkdir()
    conf = folder / "cron_conf.py"
    conf.write_text("OPTS = {'mail_disable': True, 'mail_log': 'forummail.log', 'metrics_dir': 'no-such-dir'}\n")
    result = run_script("send_notifications.py", "--conf", str(conf))
    assert result.returncode == 78
    assert str(folder / "no-such-dir") in result.stderr, result.stderr
    conf.write_text("OPTS = {'mail_disable': True, 'mail_log': 'forummail.log'}\n")
    assert settings.load(str(conf)).mail_log == str(folder / "forummail.log")

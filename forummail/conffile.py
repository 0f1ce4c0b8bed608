"""Find ``cron_conf.py`` and run it, its ``.env`` beside it read first.

``cron_conf.py`` is the original product's plain Python module (its ``;`` line
ends, its leading-comma ``OPTS`` dict and its arithmetic on
``EXTERNAL_DB_ADDR`` all load unchanged).  The ``.env`` beside it is read with
python-dotenv, real environment variables winning, so the secrets need not
live in the file.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

from dotenv import dotenv_values

from .errors import ConfigError

CONF_ENV = "CRON_CONF"
DEFAULT_CONF = Path(__file__).resolve().parent.parent / "cron_conf.py"


def find_conf(cli_path: str | None) -> Path:
    """``--conf`` wins, then ``$CRON_CONF``, then ``cron_conf.py`` beside the scripts."""
    chosen = cli_path or os.environ.get(CONF_ENV) or str(DEFAULT_CONF)
    return Path(chosen).expanduser().resolve()


def load_module(path: Path) -> ModuleType:
    """Run ``cron_conf.py`` (after its ``.env``) and return it as a module."""
    if not path.is_file():
        raise ConfigError(
            "settings file %s does not exist: pass --conf PATH or set %s" % (path, CONF_ENV)
        )
    spec = importlib.util.spec_from_file_location("_forummail_cron_conf", path)
    if spec is None or spec.loader is None:
        raise ConfigError("cannot load settings file %s" % path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise ConfigError(
            "%s line %s: Python syntax error: %s" % (path, exc.lineno, exc.msg)
        ) from None
    except SystemExit as exc:
        # sys.exit() in the settings would end the run with its own code and no word.
        raise ConfigError("%s%s: the settings file called exit(%s): remove that call"
                          % (path, _user_line(exc, path), exc.code)) from None
    except Exception as exc:  # the file is user code: report, do not trace
        line = _user_line(exc, path)
        raise ConfigError(
            "%s%s: %s: %s" % (path, line, type(exc).__name__, exc)
        ) from None
    return module


def _user_line(exc: BaseException, path: Path) -> str:
    tb = exc.__traceback__
    line = ""
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == path:
            line = " line %d" % tb.tb_lineno
        tb = tb.tb_next
    return line


def environment(path: Path) -> dict[str, str]:
    """The ``.env`` beside the settings file, overlaid by the real environment (which wins).

    Read, not loaded into ``os.environ``: loading settings has no side effect
    on the process, so two settings files never leak secrets into each other.
    """
    values = {k: v for k, v in dotenv_values(path.with_name(".env")).items() if v is not None}
    values.update(os.environ)
    return values

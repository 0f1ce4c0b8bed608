"""Settings: load ``cron_conf.py``, overlay secrets from the environment, validate.

The parts live apart, each small: the table of options (forummail.options),
finding and running the file (forummail.conffile), checking it
(forummail.validation, forummail.smtpconf) and the result, split by concern
(forummail.settingtypes).  Callers need only this module.

Validation runs once and reports every problem together, each naming its
setting.  No secret value ever appears in a problem, a log line or ``repr``.
"""

from __future__ import annotations

from typing import Any

from .conffile import CONF_ENV, DEFAULT_CONF, environment, find_conf, load_module
from .options import DEFAULT_SEPARATOR, FOREIGN_OPTS_PREFIXES, OPTS, PRESETS, RETIRED_OPTS
from .settingtypes import Database, Replies, Sending, Settings, SmtpServer
from .validation import log_file_problems, schema_problems, unknown_opts, validate

__all__ = [
    "CONF_ENV", "DEFAULT_CONF", "DEFAULT_SEPARATOR", "FOREIGN_OPTS_PREFIXES", "OPTS_DEFAULTS", "PRESETS",
    "RETIRED_OPTS", "Database", "Replies", "Sending", "Settings", "SmtpServer", "environment", "find_conf",
    "load", "load_module", "log_file_problems", "schema_problems", "unknown_opts", "validate",
]

# OPTS keys and their defaults, from the table (forummail.options): new settings are added there.
OPTS_DEFAULTS: dict[str, Any] = {o.name: o.default for o in OPTS}


def load(cli_path: str | None = None) -> Settings:
    """Find, load and validate the settings; raise ConfigError listing every problem."""
    path = find_conf(cli_path)
    return validate(load_module(path), path, environment(path))

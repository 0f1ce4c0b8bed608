"""Prometheus textfile per run, for node_exporter's textfile collector.

Written atomically (a temporary file in the same folder, then rename), so
the collector never reads half a file.  The last-success timestamp survives
failed runs, so an alert like ``time() - forummail_last_success_timestamp_seconds
> 900`` fires when the job silently stops working.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

log = logging.getLogger(__name__)

# OAuth2 sign-in failures of this run, by reason: counted where they happen
# (SMTP workers are threads), written with the run's other numbers.
TOKEN_FAILURE_REASONS = ("endpoint_unreachable", "endpoint_refused", "server_refused")
_token_failures: Counter[str] = Counter()
_token_lock = threading.Lock()


def note_token_failure(reason: str) -> None:
    """Count one OAuth2 failure: the token endpoint unreachable or refusing, or a server refusing a token."""
    assert reason in TOKEN_FAILURE_REASONS, reason
    with _token_lock:
        _token_failures[reason] += 1


def token_failures() -> dict[str, int]:
    with _token_lock:
        return dict(_token_failures)


def _previous_success(path: Path) -> float:
    try:
        match = re.search(r"^forummail_last_success_timestamp_seconds\S* (\S+)$", path.read_text(), re.M)
    except OSError:
        return 0.0
    return float(match.group(1)) if match else 0.0


def write(folder: str, job: str, exit_code: int, started: float, counts: dict[str, int],
          gauges: dict[str, float] | None = None) -> None:
    """Write ``forummail_<job>.prom`` into ``folder`` (OPTS['metrics_dir'])."""
    if not folder:
        return
    path = Path(folder) / ("forummail_%s.prom" % job)
    now = time.time()
    success = now if exit_code == 0 else _previous_success(path)
    label = 'job="%s"' % job
    lines = [
        "# HELP forummail_last_run_timestamp_seconds When the job last ran.",
        "# TYPE forummail_last_run_timestamp_seconds gauge",
        "forummail_last_run_timestamp_seconds{%s} %.3f" % (label, now),
        "# HELP forummail_last_success_timestamp_seconds When the job last ended with exit code 0.",
        "# TYPE forummail_last_success_timestamp_seconds gauge",
        "forummail_last_success_timestamp_seconds{%s} %.3f" % (label, success),
        "# HELP forummail_last_exit_code Exit code of the last run (0 ok, 75 server unreachable, 78 settings).",
        "# TYPE forummail_last_exit_code gauge",
        "forummail_last_exit_code{%s} %d" % (label, exit_code),
        "# HELP forummail_run_duration_seconds Duration of the last run.",
        "# TYPE forummail_run_duration_seconds gauge",
        "forummail_run_duration_seconds{%s} %.3f" % (label, now - started),
        "# HELP forummail_run_items Items handled by the last run, by outcome.",
        "# TYPE forummail_run_items gauge",
    ]
    lines += ['forummail_run_items{%s,outcome="%s"} %d' % (label, k, v) for k, v in sorted(counts.items())]
    failures = token_failures()
    if failures:
        lines += [
            "# HELP forummail_oauth2_token_failures OAuth2 sign-in failures of the last run, by reason.",
            "# TYPE forummail_oauth2_token_failures gauge",
        ]
        lines += ['forummail_oauth2_token_failures{%s,reason="%s"} %d' % (label, reason, failures.get(reason, 0))
                  for reason in TOKEN_FAILURE_REASONS]
    for name, value in sorted((gauges or {}).items()):
        lines += ["# TYPE forummail_%s gauge" % name, "forummail_%s{%s} %.3f" % (name, label, value)]
    try:
        fd, tmp = tempfile.mkstemp(prefix=".forummail_%s." % job, suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot write metrics to %s: %s", folder, exc)

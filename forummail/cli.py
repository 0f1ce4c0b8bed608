"""What the three scripts share: the one place that turns errors into exit codes.

Exit codes (sysexits(3)): 0 done, nothing to do, or another run holds the
lock; 75 a server was unreachable and the work waits for the next run;
78 bad settings; 1 anything else (a bug: the traceback goes to stderr).
"""

from __future__ import annotations

import logging
import signal
import sys
import traceback
from collections.abc import Callable
from types import FrameType

from .errors import EX_FAILURE, EX_OK, EX_TEMPFAIL, MailerError
from .logs import redact

log = logging.getLogger(__name__)


def _sigterm(signum: int, frame: FrameType | None) -> None:
    # Like Ctrl-C, so that every finally block (give back claimed rows,
    # close POP3 without QUIT) runs.
    raise KeyboardInterrupt


def run(prog: str, job: Callable[[], int | None]) -> int:
    """Run ``job`` and map what it raised to an exit code, saying it once on stderr."""
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        return job() or EX_OK
    except MailerError as exc:
        log.debug("exit %d", exc.exit_code, exc_info=True)
        _say(prog, str(exc))
        if logging.getLogger().handlers:
            # For the log file; before logging is set up (bad settings) there is
            # none, and logging's last-resort handler would say it again on stderr.
            logging.getLogger("forummail").error("%s", exc, extra={"file_only": True})
        return exc.exit_code
    except KeyboardInterrupt:
        _say(prog, "interrupted; unfinished work is left for the next run")
        return EX_TEMPFAIL
    except Exception:
        _say(prog, "internal error, please report it:\n" + traceback.format_exc())
        return EX_FAILURE


def _say(prog: str, text: str) -> None:
    # stderr directly, not through logging: shown even when logging is not
    # set up yet (bad settings) and never twice.
    for handler in logging.getLogger().handlers:
        if getattr(handler, "stream", None) is sys.stderr:
            handler.flush()
    print("%s: %s" % (prog, redact(text)), file=sys.stderr)

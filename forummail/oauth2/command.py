"""``token_command``: a program that prints an access token (getmail6's ``password_command`` convention).

For tools that keep the user's tokens themselves (oama, email-oauth2-proxy,
a vault client).  The command is split like a shell would (shlex) but run
without one, with a timeout and no input; its first line of output is the
token.  Its stderr may hold anything (a URL with a code, a secret), so only
a trimmed first line of it reaches a message, and nothing reaches the log.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess

from ..settingtypes import OAuth2
from .errors import OAuth2Refused, OAuth2Unreachable, count_failure, one_line

log = logging.getLogger(__name__)

# What a failing tool may print of a token on stderr: a long unbroken run of
# RFC 6750 section 2.1 b64token characters with a digit in it (access tokens,
# JWTs, Google's "1//0g..." refresh tokens).  Not the path of a URL or a file:
# such a run starts after "://" or "/" and is not matched.
_TOKEN_LIKE = re.compile(r"(?<![\w.~+/=:-])(?=[\w.~+/=-]*\d)[A-Za-z0-9][\w.~+/=-]{31,}")


class CommandSource:
    """A TokenSource that runs ``token_command`` each time (the tool caches, not us)."""

    def __init__(self, config: OAuth2) -> None:
        self.config = config
        self.setting = config.setting

    def token(self) -> str:
        try:
            return run(self.config)
        except (OAuth2Refused, OAuth2Unreachable) as exc:
            count_failure(exc)
            raise

    def refused(self, token: str) -> str:
        return self.token()


def run(config: OAuth2) -> str:
    """The token ``token_command`` prints, or OAuth2Refused / OAuth2Unreachable saying why not."""
    argv = shlex.split(config.token_command)
    name = argv[0] if argv else "token_command"
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=config.timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise OAuth2Unreachable("%s: token_command %s did not finish in %d s (the next run tries again)"
                                % (config.setting, name, config.timeout)) from None
    except OSError as exc:
        raise OAuth2Refused("%s: token_command %s cannot be run: %s" % (config.setting, name,
                                                                       exc.strerror or exc)) from None
    stdout = done.stdout.decode("utf-8", "replace").strip()
    if done.returncode != 0:
        said = _TOKEN_LIKE.sub("***", one_line(done.stderr.decode("utf-8", "replace"), config, (stdout,)))
        raise OAuth2Refused("%s: token_command %s failed with exit status %d: %s"
                            % (config.setting, name, done.returncode, said))
    token = stdout.splitlines()[0].strip() if stdout else ""
    if not token:
        raise OAuth2Refused("%s: token_command %s printed no token on its standard output"
                            % (config.setting, name))
    return token

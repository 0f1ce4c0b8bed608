#!/usr/bin/env python3
"""Send the forum's pending email notifications (run from cron).

Quiet on success.  Exit codes: 0 done or nothing to do; 75 an SMTP server
or the database was unreachable (the mail waits for the next run); 78 bad
settings; 1 anything else.  See README.md.
"""

from __future__ import annotations

import argparse
import sys

from forummail import cli, logs, sender, settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="send_notifications.py", description="Send pending forum notifications by email."
    )
    parser.add_argument("--conf", metavar="PATH",
                        help="settings module (default: $CRON_CONF, else cron_conf.py beside this script)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print a summary of the run")
    parser.add_argument("--dry-run", action="store_true", help="render and show what is due; send and change nothing")
    parser.add_argument("--limit", type=int, metavar="N", help="take at most N notifications in this run")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be a positive number")
    prog = parser.prog

    def job() -> int:
        conf = settings.load(args.conf)
        logs.setup(prog, args.verbose, conf.mail_log, conf.secrets)
        # A progress bar only for a person at a terminal (cron has none).
        summary = sender.send_notifications(conf, limit=args.limit, dry=args.dry_run,
                                            progress=sys.stderr.isatty())
        if args.verbose or args.dry_run:
            print(summary.line())
        return 0

    return cli.run(prog, job)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Turn email replies to forum notifications into forum messages (run from cron).

Fetches the POP3 mailbox of OPTS['replier_pop_addr'] (does nothing unless
it, replier_pop_login and replier_pop_psswd are set), or one message with
--file.  Quiet on success.  Exit codes: 0 done, nothing to do, or another
run holds the mailbox; 75 the POP3 server or the database was unreachable
(nothing was deleted); 78 bad settings; 2 bad arguments; 1 anything else.
"""

from __future__ import annotations

import argparse
import sys

from forummail import cli, fetch, logs, settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fetch_replies.py",
                                     description="Post email replies to forum notifications as forum messages.")
    parser.add_argument("--conf", metavar="PATH",
                        help="settings module (default: $CRON_CONF, else cron_conf.py beside this script)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print a summary of the run")
    parser.add_argument("--dry-run", action="store_true",
                        help="read and decide, but post, delete and send nothing; say what would happen")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--file", metavar="PATH",
                        help="handle one email from PATH ('-' for standard input, for MTA pipe delivery)")
    source.add_argument("--extract", metavar="PATH",
                        help="print only the text that would be posted from the email in PATH; "
                             "touches neither database nor mailbox")
    args = parser.parse_args(argv)
    prog = parser.prog

    def job() -> int:
        conf = settings.load(args.conf)
        logs.setup(prog, args.verbose, conf.mail_log, conf.secrets)
        if args.extract:
            print(fetch.extract_file(conf, args.extract))
            return 0
        if args.file:
            decision = fetch.fetch_file(conf, args.file, dry_run=args.dry_run)
            if args.verbose and not args.dry_run:
                print(decision.line(args.file))
            return 0
        summary = fetch.fetch_mailbox(conf, dry_run=args.dry_run)
        if args.verbose or args.dry_run:
            print(summary.line())
        return 0

    return cli.run(prog, job)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Administration commands for the forum mailer.  See README.md.

  init-db     create or upgrade the database schema (safe to run again)
"""

from __future__ import annotations

import argparse
import sys

from forummail import admin, cli, logs, settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="manage.py", description="Administer the forum mailer.")
    parser.add_argument("--conf", metavar="PATH",
                        help="settings module (default: $CRON_CONF, else cron_conf.py beside this script)")
    parser.add_argument("-v", "--verbose", action="store_true", help="say more")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("init-db", help="create or upgrade the schema in DB_NAME / DB_SCHEMA")
    args = parser.parse_args(argv)
    prog = "manage.py " + args.command

    def job() -> int:
        conf = settings.load(args.conf)
        logs.setup(prog, args.verbose, conf.mail_log, conf.secrets)
        if args.command == "init-db":
            print(admin.init_db(conf))
        return 0

    return cli.run(prog, job)


if __name__ == "__main__":
    sys.exit(main())

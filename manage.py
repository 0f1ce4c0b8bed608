#!/usr/bin/env python3
"""Administration commands for the forum mailer.  See README.md.

  init-db                 create or upgrade the database schema (safe to run again)
  check                   settings, database, SMTP up to AUTH, POP3 up to login; sends nothing
  test-email ADDRESS      send one real test message and print the server's answer
  queue                   the notification queue: counts, oldest, next retries, errors; --list rows
  inbound                 the log of fetched emails: counts, refusals; --list rows, --show ID
  retry [ID ...]          failed notifications back to pending (all of them when no ID)
  cancel ID ... | --to A  pending (or failed) notifications to cancelled
  purge --older-than DAYS delete finished notifications and inbound records older than DAYS
  rotate-secret           a new reply-signing secret signs; earlier ones verify for reply_token_days

Exit codes: 0 done; 75 a server unreachable; 78 bad settings, or (check) a
setting, password or the schema to change; 2 bad command line; 1 a refusal
(test-email), an ID that could not be retried or cancelled, or a bug.
"""

from __future__ import annotations

import argparse
import sys

from forummail import admin, check, cli, logs, settings, store, suppressed


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % text) from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more, not %d" % value)
    return value


# purge --older-than: a century.  More is a typo, and PostgreSQL's now() minus
# it overflows its interval, or reaches years before 1 AD that Python's
# datetime cannot hold.
MAX_DAYS = 36500


def _days(text: str) -> int:
    value = _positive(text)
    if value > MAX_DAYS:
        raise argparse.ArgumentTypeError("must be from 1 to %d (100 years), not %d" % (MAX_DAYS, value))
    return value


def parser() -> argparse.ArgumentParser:
    """The command line: global options, then one subcommand and its own options."""
    p = argparse.ArgumentParser(prog="manage.py", description="Administer the forum mailer.")
    p.add_argument("--conf", metavar="PATH",
                   help="settings module (default: $CRON_CONF, else cron_conf.py beside this script)")
    p.add_argument("-v", "--verbose", action="store_true", help="say more")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text)

    command("init-db", "create or upgrade the schema in DB_NAME / DB_SCHEMA")

    c = command("check", "check settings, database, SMTP (up to AUTH) and POP3 (up to login)")
    c.add_argument("-q", "--quiet", action="store_true", help="print only the failures (for cron)")

    t = command("test-email", "send one test message to ADDRESS and show the server's answer")
    t.add_argument("address", metavar="ADDRESS", help="where the test message goes (even with DEBUG on)")

    q = command("queue", "the notification queue: counts, oldest, next retries, errors")
    q.add_argument("--list", action="store_true", help="list rows (implied by --status and --to)")
    q.add_argument("--status", choices=store.admin.NOTIFICATION_STATUSES, help="only rows with this status")
    q.add_argument("--to", metavar="ADDRESS", help="only rows to this recipient (case-insensitive)")
    q.add_argument("--limit", type=_positive, default=50, metavar="N", help="at most N rows (default 50)")

    i = command("inbound", "the log of fetched emails: counts and recent refusals")
    i.add_argument("--list", action="store_true", help="list records (implied by --status and --from)")
    i.add_argument("--status", choices=store.admin.INBOUND_STATUSES, help="only records with this status")
    i.add_argument("--from", dest="sender", metavar="ADDRESS", help="only emails from this sender")
    i.add_argument("--limit", type=_positive, default=50, metavar="N", help="at most N records (default 50)")
    i.add_argument("--show", type=_positive, metavar="ID", help="print the stored email of a refused record")
    i.add_argument("--raw", action="store_true",
                   help="with --show: the bytes as received, control characters and all (for a file or a pipe)")

    r = command("retry", "failed notifications back to pending (all when no ID is given)")
    r.add_argument("ids", type=_positive, nargs="*", metavar="ID", help="only these (failed or cancelled) rows")
    r.add_argument("--to", metavar="ADDRESS", help="only the failed rows to this recipient")

    x = command("cancel", "pending or failed notifications to cancelled")
    x.add_argument("ids", type=_positive, nargs="*", metavar="ID", help="these rows (pending or failed)")
    x.add_argument("--to", metavar="ADDRESS", help="every pending row to this recipient")

    k = command("rotate-secret", "a new reply-signing secret in the database; earlier ones keep verifying")
    k.add_argument("--forget-older", action="store_true",
                   help="delete the earlier secrets now (after a leak): replies to mail already sent are refused")

    g = command("purge", "delete finished notifications and inbound records older than DAYS")
    g.add_argument("--older-than", type=_days, required=True, metavar="DAYS",
                   help="age in days, 1 to %d" % MAX_DAYS)
    g.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    u = command("suppressions", "addresses suppressed after bounces or complaints, and unsubscribes from tasks")
    u.add_argument("--clear", metavar="ADDRESS", help="lift the suppression of ADDRESS (with --task: its "
                   "unsubscribe from that task)")
    u.add_argument("--task", type=_positive, metavar="ID", help="with --clear: the task ADDRESS unsubscribed from")
    u.add_argument("--limit", type=_positive, default=100, metavar="N", help="at most N rows of each (default 100)")
    for sub in commands.choices.values():
        sub.set_defaults(subparser=sub)  # so that main() can say a usage error in the command's terms
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.command in ("retry", "cancel") and args.ids and args.to:
        args.subparser.error("give IDs or --to, not both")
    if args.command == "cancel" and not args.ids and not args.to:
        args.subparser.error("give the IDs to cancel, or --to ADDRESS")
    if args.command == "suppressions" and args.task and not args.clear:
        args.subparser.error("--task goes with --clear ADDRESS")
    if args.command == "inbound" and args.raw and not args.show:
        args.subparser.error("--raw goes with --show ID")
    if args.command == "inbound" and args.raw and sys.stdout.isatty():
        # A stranger's escape sequences would reach the terminal itself.
        args.subparser.error("--raw writes the email's bytes as received: redirect it to a file or a pipe")
    prog = "manage.py " + args.command

    def job() -> int:
        conf = settings.load(args.conf)
        logs.setup(prog, args.verbose, conf.mail_log, conf.secrets)
        return run(prog, args, conf)

    return cli.run(prog, job)


def run(prog: str, args: argparse.Namespace, conf: settings.Settings) -> int:
    """Run one parsed command with loaded settings; print its report; return the exit code."""
    command = args.command
    if command == "init-db":
        print(admin.init_db(conf))
    elif command == "check":
        items = check.run_checks(conf)
        text = check.report(items, quiet=args.quiet)
        if text:
            print(text)
        return check.exit_code(items)
    elif command == "test-email":
        print(admin.send_test_email(conf, args.address))
    elif command == "queue":
        if args.list or args.status or args.to:
            print(admin.queue_list(conf, args.status, args.to, args.limit))
        else:
            print(admin.queue_summary(conf))
    elif command == "inbound":
        if args.show:
            raw = admin.inbound_show(conf, args.show)
            if args.raw:
                sys.stdout.flush()
                sys.stdout.buffer.write(raw)
            else:
                sys.stdout.write(admin.readable_email(raw))
        elif args.list or args.status or args.sender:
            print(admin.inbound_list(conf, args.status, args.sender, args.limit))
        else:
            print(admin.inbound_summary(conf))
    elif command in ("retry", "cancel"):
        change = admin.retry if command == "retry" else admin.cancel
        done = change(conf, args.ids, args.to)
        for line in done.lines:
            print(line)
        for problem in done.problems:
            print("%s: %s" % (prog, problem), file=sys.stderr)
        return 1 if done.problems else 0
    elif command == "suppressions":
        if not args.clear:
            print(suppressed.listing(conf, args.limit))
            return 0
        done = suppressed.clear(conf, args.clear, args.task)
        for line in done.lines:
            print(line)
        for problem in done.problems:
            print("%s: %s" % (prog, problem), file=sys.stderr)
        return 1 if done.problems else 0
    elif command == "rotate-secret":
        print(admin.rotate_secret(conf, args.forget_older))
    elif command == "purge":
        print(admin.purge(conf, args.older_than, args.dry_run))
    return 0


if __name__ == "__main__":
    sys.exit(main())

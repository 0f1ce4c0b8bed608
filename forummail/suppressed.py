"""``manage.py suppressions``: the addresses that get no more mail, and the unsubscribes; lifting them."""

from __future__ import annotations

from . import addresses, report, store
from .admin import Done, _database
from .settings import Settings


def listing(settings: Settings, limit: int) -> str:
    """Suppressed addresses (reason, when, the report that caused it), then unsubscribes from tasks."""
    with _database(settings) as conn:
        rows = store.suppressions.listing(conn, limit)
        unsubscribed = store.suppressions.unsubscriptions(conn, limit)
    lines = []
    if rows:
        lines.append("suppressed addresses (no mail goes to them; --clear ADDRESS lifts one):")
        lines.append(report.table(["address", "kind", "since", "notification", "inbound email", "reason"], [
            [r["address"], r["kind"], report.when(r["created_at"]), _id(r["notification_id"]),
             _id(r["inbound_email_id"]), r["reason"]] for r in rows]))
    else:
        lines.append("suppressed addresses: none")
    lines.append("")
    if unsubscribed:
        lines.append("unsubscribed from a task (--clear ADDRESS --task ID lifts one):")
        lines.append(report.table(["address", "user", "task", "since", "inbound email"], [
            [r["address"], r["user_id"], "#%s %s" % (r["task_id"], report.one_line(r["task_name"], 40)),
             report.when(r["created_at"]), _id(r["inbound_email_id"])] for r in unsubscribed]))
    else:
        lines.append("unsubscribed from a task: none")
    return "\n".join(lines)


def clear(settings: Settings, address: str, task_id: int | None) -> Done:
    """Lift the suppression of ``address`` (or, with ``task_id``, its unsubscribe from that task)."""
    done = Done()
    with _database(settings) as conn, conn.transaction():
        if task_id is None:
            # Stored as the forum spells it; the administrator may type the IDNA form, or the other way round.
            if store.suppressions.clear(conn, addresses.spellings(address)):
                done.lines.append("%s is no longer suppressed: mail to it goes out again" % address)
            else:
                done.problems.append("%s is not suppressed (manage.py suppressions lists those that are)" % address)
        elif store.suppressions.resubscribe(conn, address, task_id):
            done.lines.append("%s gets the mail of task %d again" % (address, task_id))
        else:
            done.problems.append("no user with the address %s unsubscribed from task %d" % (address, task_id))
    return done


def _id(value: int | None) -> str:
    return "-" if value is None else str(value)

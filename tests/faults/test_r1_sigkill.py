"""R1: send_notifications.py killed with SIGKILL at random moments while draining
the queue, restarted until done: nothing lost, at most one duplicate per kill."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT, Env, Forum, clean_env
from tests.faults.conftest import Figures, bulk_forum, delivered, seed, size

MAILS = size(1000, 5000)
KILLS = size(5, 25)


def test_sigkill_while_draining_loses_nothing_and_duplicates_at_most_one_per_kill(
        env: Env, forum: Forum, figures: Figures) -> None:
    env.configure(opts={"send_batch_size": 40, "send_lease_seconds": 300})
    _kill_and_restart(env, forum, figures, processes=1)


def test_sigkill_of_every_sending_process_duplicates_at_most_one_per_process_per_kill(
        env: Env, forum: Forum, figures: Figures) -> None:
    # A run with much to send forks a sender per connection (forummail.groups);
    # the kill takes them all, as a service manager or `timeout` kills a group.
    env.configure(opts={"send_batch_size": 40, "send_lease_seconds": 300, "smtp_max_connections": 2,
                        "send_processes": 2})
    _kill_and_restart(env, forum, figures, processes=2)


def _kill_and_restart(env: Env, forum: Forum, figures: Figures, processes: int) -> None:
    rng = random.Random(s := seed())
    figures["seed"] = s
    bulk_forum(forum, followers=MAILS // 10, posts=10)
    assert forum.statuses() == {"pending": MAILS}
    # Random moments, as counts of mails the server has received when the kill comes.
    targets = sorted(rng.sample(range(MAILS // 50, MAILS - MAILS // 50), KILLS))
    kills = runs = 0
    for target in targets:
        proc = subprocess.Popen([sys.executable, str(ROOT / "send_notifications.py"), "--conf", str(env.conf)],
                                env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        runs += 1
        deadline = time.monotonic() + 120
        while len(env.smtp.received) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.004))  # anywhere: rendering, waiting for the server, recording
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(30)
        _gone(proc.pid)
        # The killed run's lease ends (moved into the past instead of waiting for it).
        env.database.query("UPDATE notifications SET next_attempt_at = now() - interval '1 s'"
                           " WHERE status = 'sending'")
    final = env.run("send_notifications.py", timeout=300)
    runs += 1
    assert (final.returncode, final.stdout, final.stderr) == (0, "", "")

    got = delivered(env.smtp.messages)
    rows = env.database.query("SELECT status, attempts, message_id_header FROM notifications")
    figures.update(mails=MAILS, kills=kills, runs=runs, received=got.total, duplicates=got.duplicates,
                   processes=processes, rows_taken_again=sum(1 for r in rows if r[1] >= 2))
    assert kills == KILLS, "a run finished before its kill: the drain was faster than the kills"
    assert forum.statuses() == {"sent": MAILS}
    assert got.unique == {r[2] for r in rows}, "a notification marked sent never reached the server"
    assert got.duplicates <= kills * processes  # each process has at most one mail unrecorded
    twice = {i for i in got.ids if got.ids.count(i) > 1} if got.duplicates else set()
    # A duplicate can only be a row that a killed run was sending.
    assert twice <= {r[2] for r in rows if r[1] >= 2}


def _gone(group: int) -> None:
    """Until no process of the killed group is left (a child reaped by init may linger a moment)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)

"""R4: two senders (as if on two machines, each with its own SMTP relay and its
own cron) drain one queue: nothing sent twice, nothing lost."""

from __future__ import annotations

import random
import threading
from pathlib import Path

from tests.conftest import Env, Forum, run_script
from tests.faults.conftest import Figures, bulk_forum, delivered, seed, size
from tests.servers import SmtpServer

ROWS = size(2000, 10000)


def test_two_machines_on_one_queue_send_nothing_twice(env: Env, forum: Forum, figures: Figures) -> None:
    rng = random.Random(s := seed())
    figures["seed"] = s
    bulk_forum(forum, followers=ROWS // 10, posts=10)
    relay_b = SmtpServer().start()
    try:
        env.configure(opts={"send_batch_size": 25})
        conf_a = env.conf
        # Machine B: the same database, its own SMTP relay and settings file.
        conf_b = env.tmp / "b" / "cron_conf.py"
        conf_b.parent.mkdir()
        conf_b.write_text(conf_a.read_text().replace("'smtp_port' : %d" % env.smtp.port,
                                                     "'smtp_port' : %d" % relay_b.port))
        (conf_b.parent / ".env").write_text((env.tmp / ".env").read_text())
        assert str(relay_b.port) in conf_b.read_text()
        runs: dict[str, list[int]] = {"a": [], "b": []}
        limits = {"a": [rng.randint(100, 600) for _ in range(200)], "b": [rng.randint(100, 600) for _ in range(200)]}

        def machine(name: str, conf: Path) -> None:
            # Its cron: run after run (each with --limit, so runs start and stop while the other works).
            for limit in limits[name]:
                result = run_script("send_notifications.py", "--conf", str(conf), "--limit", str(limit), timeout=300)
                runs[name].append(result.returncode)
                if result.returncode != 0 or not env.database.scalar(
                        "SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')"):
                    return

        threads = [threading.Thread(target=machine, args=(n, c)) for n, c in (("a", conf_a), ("b", conf_b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
    finally:
        relay_b.stop()
    got_a, got_b = delivered(env.smtp.messages), delivered(relay_b.messages)
    both = delivered(env.smtp.messages + relay_b.messages)
    rows = env.database.query("SELECT message_id_header, claimed_by FROM notifications WHERE kind = 'message'")
    figures.update(rows=ROWS, runs_a=len(runs["a"]), runs_b=len(runs["b"]), sent_by_a=got_a.total,
                   sent_by_b=got_b.total, duplicates=both.duplicates)
    assert set(runs["a"] + runs["b"]) == {0}
    assert forum.statuses() == {"sent": ROWS}
    assert both.duplicates == 0, "sent twice"
    assert both.unique == {r[0] for r in rows}
    # They really shared the queue.
    assert got_a.total > ROWS // 10 and got_b.total > ROWS // 10

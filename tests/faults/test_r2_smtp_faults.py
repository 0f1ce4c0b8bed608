"""R2: the SMTP server answers 4xx to 10% of recipients, 5xx to 5%, and the
connection drops in the middle of DATA now and then: every row ends sent or
failed as it should, nothing lost, nothing sent twice."""

from __future__ import annotations

import random
from collections import Counter

from tests.conftest import Env, Forum
from tests.faults.conftest import Figures, bulk_forum, delivered, seed, size
from tests.faults.proxies import Proxy, RecipientFaults, SmtpDataCutter, make_faulty

ROWS = size(1000, 5000)
MAX_ATTEMPTS = 5
DROP_RATE = 0.03


def test_4xx_5xx_and_mid_data_drops_end_every_row_as_it_should(env: Env, forum: Forum, figures: Figures) -> None:
    rng = random.Random(s := seed())
    figures["seed"] = s
    bulk_forum(forum, followers=ROWS, posts=1)  # one row per recipient: outcomes are per recipient
    recipients = [r[0] for r in env.database.query("SELECT recipient FROM notifications")]
    rng.shuffle(recipients)
    n5, n4 = ROWS * 5 // 100, ROWS * 10 // 100
    permanent = set(recipients[:n5])
    always_4xx = set(recipients[n5:n5 + n4 // 4])  # a mailbox full for days: gives up
    some_4xx = {r: rng.randint(1, 2) for r in recipients[n5 + n4 // 4:n5 + n4]}  # greylisting
    data_4xx = {r: 1 for r in rng.sample(recipients[n5 + n4:], ROWS // 50)}  # 451 after the data
    faults = RecipientFaults(permanent=permanent, temporary={**{r: 10**6 for r in always_4xx}, **some_4xx},
                             data_4xx=data_4xx)
    make_faulty(env.smtp, faults)
    cutter = SmtpDataCutter(rate=DROP_RATE, rng=rng)
    proxy = Proxy(env.smtp.port, policy=cutter).start()
    try:
        env.configure(opts={"smtp_port": proxy.port, "send_max_attempts": MAX_ATTEMPTS, "send_batch_size": 100})
        rounds = 0
        while env.database.scalar("SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')"):
            rounds += 1
            assert rounds <= MAX_ATTEMPTS + 2, "rows still waiting after every attempt was used"
            result = env.run("send_notifications.py", timeout=300)
            assert result.returncode == 0, result.stderr[-2000:]
            assert result.stdout == ""
            # The back-off passes (moved into the past instead of waiting for it).
            env.database.query("UPDATE notifications SET next_attempt_at = now() WHERE status = 'pending'")
    finally:
        proxy.stop()

    got = delivered(env.smtp.messages)
    received_by = Counter(r.lower() for m in env.smtp.messages for r in m.recipients)
    rows = env.database.query("SELECT recipient, status, attempts, coalesce(last_error, '') FROM notifications"
                              " WHERE kind = 'message'")
    drops = cutter.dropped_for
    wrong: list[str] = []
    for recipient, status, attempts, error in rows:
        failures = faults.rcpt_4xx_sent[recipient] + drops[recipient] + faults.data_4xx_sent[recipient]
        if recipient in permanent:
            ok = status == "failed" and attempts == 1 and "550 5.1.1" in error and not received_by[recipient]
        elif recipient in always_4xx:
            ok = (status == "failed" and attempts == MAX_ATTEMPTS and not received_by[recipient]
                  and error.startswith("gave up after %d attempts; last: " % MAX_ATTEMPTS) and "451" in error)
        elif status == "sent":
            ok = received_by[recipient] == 1 and attempts == failures + 1 and error == ""
        else:  # only if the drops and 4xx together used every attempt
            ok = status == "failed" and failures == attempts == MAX_ATTEMPTS and not received_by[recipient]
        if not ok:
            wrong.append("%s: %s after %d attempts (%s); server: %d 4xx, %d drops, %d received" % (
                recipient, status, attempts, error, faults.rcpt_4xx_sent[recipient] + faults.data_4xx_sent[recipient],
                drops[recipient], received_by[recipient]))
    statuses = Counter(r[1] for r in rows)
    figures.update(rows=ROWS, rounds=rounds, rcpt_5xx=sum(faults.rcpt_5xx_sent.values()),
                   rcpt_4xx=sum(faults.rcpt_4xx_sent.values()), data_4xx=sum(faults.data_4xx_sent.values()),
                   mid_data_drops=cutter.drops, connections=proxy.connections, sent=statuses["sent"],
                   failed=statuses["failed"], duplicates=got.duplicates, wrong=len(wrong))
    assert wrong == [], "%d rows ended wrongly, e.g. %s" % (len(wrong), wrong[:5])
    assert set(statuses) <= {"sent", "failed"} and sum(statuses.values()) == ROWS
    assert got.duplicates == 0  # a drop before the final dot delivers nothing, so nothing twice
    assert cutter.drops >= 5 and faults.rcpt_5xx_sent and faults.rcpt_4xx_sent  # the faults really happened

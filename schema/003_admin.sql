-- 003: indexes for manage.py (queue, retry, purge).  The queue can hold
-- millions of rows; each of these keeps an administrator's command from
-- reading all of them.  (CREATE INDEX without CONCURRENTLY: migrations run in
-- one transaction; on a very large queue run init-db at a quiet moment.)

-- purge --older-than: sent/failed/cancelled rows by age.
CREATE INDEX IF NOT EXISTS notifications_created ON notifications (created_at);

-- queue (recent errors) and retry: the failed rows only, newest first.
CREATE INDEX IF NOT EXISTS notifications_failed ON notifications (last_attempt_at) WHERE status = 'failed';

-- Deleting inbound_emails rows (purge) makes PostgreSQL look up the
-- notifications that point at each (ON DELETE SET NULL): without an index,
-- one scan of the whole queue per deleted row.  Few rows carry one.
CREATE INDEX IF NOT EXISTS notifications_inbound_email ON notifications (inbound_email_id)
    WHERE inbound_email_id IS NOT NULL;

-- 008: after the server said 250: delivery reports, complaints, unsubscribes.

-- 'bounced': accepted by our relay, then reported undeliverable (RFC 3464).
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled', 'bounced'));
-- A report names the notification by the Message-ID we sent it with.
CREATE INDEX notifications_message_id_header ON notifications (message_id_header)
    WHERE message_id_header IS NOT NULL;

-- Addresses that get no more mail (hard bounce, repeated soft bounces,
-- complaint), until the administrator clears them (manage.py suppressions).
-- address: lower-cased, as the sender compares it.
CREATE TABLE suppressions (
    address          text PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('bounce', 'soft-bounces', 'complaint')),
    reason           text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    notification_id  bigint,
    inbound_email_id bigint,
    alerted          boolean NOT NULL DEFAULT false
);

-- Temporary failures, counted per address: only repeated ones over days suppress.
CREATE TABLE soft_bounces (
    id               bigserial PRIMARY KEY,
    address          text NOT NULL,
    reported_at      timestamptz NOT NULL DEFAULT now(),
    notification_id  bigint,
    inbound_email_id bigint
);
CREATE INDEX soft_bounces_address ON soft_bounces (address, reported_at);

-- A user who asked (through List-Unsubscribe) for no more mail about one task.
CREATE TABLE unsubscriptions (
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    task_id          bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    inbound_email_id bigint,
    PRIMARY KEY (user_id, task_id)
);

-- What a fetched report or unsubscribe did: 'bounce', 'delay', 'complaint',
-- 'unsubscribe' (its status stays 'ignored': it is never posted).
ALTER TABLE inbound_emails ADD COLUMN report text;

-- One-click unsubscribes (RFC 8058) arrive at the forum's web endpoint
-- (OPTS['unsubscribe_url']), which cannot check our signature: it inserts
-- the token it got here, and send_notifications.py checks and applies it
-- before it sends anything.  A token that does not verify is dropped.
CREATE TABLE unsubscribe_requests (
    id          bigserial PRIMARY KEY,
    token       text NOT NULL CHECK (length(token) <= 200),
    received_at timestamptz NOT NULL DEFAULT now()
);

-- 002: the log of every fetched email, and admin copies of refused replies.

CREATE TABLE inbound_emails (
    id                bigserial PRIMARY KEY,
    -- The Message-ID, or 'sha256:' and the hash of the raw bytes where it
    -- has none: a message fetched again after a crash is recognised.
    message_key       text NOT NULL,
    message_id_header text,
    pop_uidl          text,
    source            text NOT NULL DEFAULT 'pop3',
    received_at       timestamptz NOT NULL DEFAULT now(),
    sent_at           timestamptz,
    sender            text,
    subject           text,
    status            text NOT NULL
                      CHECK (status IN ('posted', 'duplicate', 'ignored', 'rejected', 'error')),
    reason            text,
    task_id           bigint REFERENCES tasks (id) ON DELETE SET NULL,
    user_id           bigint REFERENCES users (id) ON DELETE SET NULL,
    message_id        bigint REFERENCES messages (id) ON DELETE SET NULL,
    raw               bytea,
    raw_size          integer,
    answered          boolean NOT NULL DEFAULT false,
    left_in_mailbox   boolean NOT NULL DEFAULT false
);
-- One handled record per email; duplicates are logged beside it.
CREATE UNIQUE INDEX inbound_emails_key ON inbound_emails (message_key) WHERE status <> 'duplicate';
CREATE INDEX inbound_emails_sender ON inbound_emails (lower(sender), received_at);
CREATE INDEX inbound_emails_received ON inbound_emails (received_at);
CREATE INDEX inbound_emails_left ON inbound_emails (pop_uidl) WHERE left_in_mailbox;

-- A notification may carry a fetched email as an attachment (the copy of a
-- refused reply that MAIL_ADMIN gets).
ALTER TABLE notifications ADD COLUMN inbound_email_id bigint REFERENCES inbound_emails (id) ON DELETE SET NULL;

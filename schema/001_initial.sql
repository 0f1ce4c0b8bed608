-- 001: the host tables, the notification queue, and what fills it.
-- Runs with search_path set to DB_SCHEMA; functions pin that search_path
-- (SET search_path FROM CURRENT) because the host's sessions may not have it.

-- The host application's tables.  IF NOT EXISTS: in a real installation the
-- forum created them already, and we must not touch its data.
CREATE TABLE IF NOT EXISTS universes (
    id                bigserial PRIMARY KEY,
    name              text NOT NULL,
    allow_email_reply boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS users (
    id          bigserial PRIMARY KEY,
    universe_id bigint REFERENCES universes (id),
    name        text NOT NULL DEFAULT '',
    email       text,
    email_only  boolean NOT NULL DEFAULT false,
    active      boolean NOT NULL DEFAULT true
);
-- Replies are matched to users by their address, case folded.
CREATE INDEX IF NOT EXISTS users_email_lower ON users (lower(email));

CREATE TABLE IF NOT EXISTS tasks (
    id          bigserial PRIMARY KEY,
    universe_id bigint REFERENCES universes (id),
    name        text NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS task_followers (
    task_id bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, user_id)
);

CREATE TABLE IF NOT EXISTS messages (
    id         bigserial PRIMARY KEY,
    task_id    bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    author_id  bigint REFERENCES users (id),
    body       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Files of a message: notifications link to them through
-- OPTS['replier_downloader_url']; replies store what they carried.
CREATE TABLE IF NOT EXISTS message_attachments (
    id           bigserial PRIMARY KEY,
    message_id   bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    file_name    text NOT NULL,
    file_hash    text,
    file_size    bigint,
    content_type text,
    content      bytea
);
CREATE INDEX IF NOT EXISTS message_attachments_message ON message_attachments (message_id);

-- The queue.  For a 'sending' row, next_attempt_at is the end of its lease:
-- one partial index then serves both "due pending rows" and "rows whose
-- run died", and claiming never scans the queue.
CREATE TABLE notifications (
    id                bigserial PRIMARY KEY,
    kind              text NOT NULL,
    recipient         text NOT NULL,
    user_id           bigint REFERENCES users (id) ON DELETE SET NULL,
    task_id           bigint REFERENCES tasks (id) ON DELETE SET NULL,
    message_id        bigint REFERENCES messages (id) ON DELETE SET NULL,
    subject           text,
    body              text,
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts          integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_attempt_at   timestamptz,
    sent_at           timestamptz,
    claimed_by        text,
    last_error        text,
    message_id_header text
);
CREATE INDEX notifications_due ON notifications (next_attempt_at)
    WHERE status IN ('pending', 'sending');
CREATE INDEX notifications_recipient ON notifications (lower(recipient), created_at);
CREATE INDEX notifications_message ON notifications (message_id);
CREATE INDEX notifications_task ON notifications (task_id);

-- Posting a message queues one notification per active follower except the
-- author, in the host's own transaction: the queue never misses a message.
CREATE OR REPLACE FUNCTION notify_followers() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO notifications (kind, recipient, user_id, task_id, message_id)
    SELECT 'message', btrim(u.email), u.id, NEW.task_id, NEW.id
      FROM task_followers f
      JOIN users u ON u.id = f.user_id
     WHERE f.task_id = NEW.task_id
       AND u.active
       AND u.id IS DISTINCT FROM NEW.author_id
       AND coalesce(btrim(u.email), '') <> '';
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS messages_notify_followers ON messages;
CREATE TRIGGER messages_notify_followers AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION notify_followers();

-- System mail that is not a forum message (invitation, password reset, alert).
CREATE OR REPLACE FUNCTION enqueue_email(recipient text, subject text, body text, kind text DEFAULT 'system')
    RETURNS bigint LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
#variable_conflict use_variable
DECLARE
    new_id bigint;
BEGIN
    IF coalesce(btrim(recipient), '') = '' THEN
        RAISE EXCEPTION 'enqueue_email: the recipient is empty';
    END IF;
    IF recipient ~ '[\r\n]' OR subject ~ '[\r\n]' THEN
        RAISE EXCEPTION 'enqueue_email: line breaks are not allowed in the recipient or subject';
    END IF;
    INSERT INTO notifications (kind, recipient, subject, body)
    VALUES (coalesce(nullif(btrim(kind), ''), 'system'), btrim(recipient), subject, coalesce(body, ''))
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

-- 004: digests, system mail for the administrators, alert throttling.

-- The host sets users.digest_hours: NULL or 0, one mail per message; 24, a
-- daily digest; 168, weekly.  A digest row waits that long; when a user's
-- oldest waiting row is due, all that user's waiting rows go in one mail.
ALTER TABLE users ADD COLUMN IF NOT EXISTS digest_hours integer;
ALTER TABLE notifications ADD COLUMN digest boolean NOT NULL DEFAULT false;
CREATE INDEX notifications_digest_user ON notifications (user_id) WHERE digest AND status = 'pending';

CREATE OR REPLACE FUNCTION notify_followers() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO notifications (kind, recipient, user_id, task_id, message_id, digest, next_attempt_at)
    SELECT 'message', btrim(u.email), u.id, NEW.task_id, NEW.id,
           coalesce(u.digest_hours, 0) > 0,
           now() + make_interval(hours => greatest(coalesce(u.digest_hours, 0), 0))
      FROM task_followers f
      JOIN users u ON u.id = f.user_id
     WHERE f.task_id = NEW.task_id
       AND u.active
       AND u.id IS DISTINCT FROM NEW.author_id
       AND coalesce(btrim(u.email), '') <> '';
    RETURN NULL;
END
$$;

-- An empty recipient now means "the administrators" (MAIL_ADMIN): system
-- mail with nobody to go to is not lost.
CREATE OR REPLACE FUNCTION enqueue_email(recipient text, subject text, body text, kind text DEFAULT 'system')
    RETURNS bigint LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
#variable_conflict use_variable
DECLARE
    new_id bigint;
BEGIN
    IF coalesce(recipient, '') ~ '[\r\n]' OR coalesce(subject, '') ~ '[\r\n]' THEN
        RAISE EXCEPTION 'enqueue_email: line breaks are not allowed in the recipient or subject';
    END IF;
    INSERT INTO notifications (kind, recipient, subject, body)
    VALUES (coalesce(nullif(btrim(kind), ''), 'system'), coalesce(btrim(recipient), ''), subject,
            coalesce(body, ''))
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

-- One summary mail per kind of trouble per hour at most.
CREATE TABLE admin_alerts (
    kind         text PRIMARY KEY,
    last_sent_at timestamptz NOT NULL
);

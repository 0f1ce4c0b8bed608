-- 005: delivery at scale: priorities, per-universe senders, SMTP budgets
-- and server health shared by every run on every machine.

-- System mail (invitations, password resets, alerts) goes before bulk
-- notifications.  One partial index per class keeps both claims range scans
-- that stop at the first row not yet due.
ALTER TABLE notifications ADD COLUMN urgent boolean NOT NULL DEFAULT false;
DROP INDEX notifications_due;
CREATE INDEX notifications_due ON notifications (next_attempt_at)
    WHERE status IN ('pending', 'sending') AND NOT urgent;
CREATE INDEX notifications_due_urgent ON notifications (next_attempt_at)
    WHERE status IN ('pending', 'sending') AND urgent;

CREATE OR REPLACE FUNCTION enqueue_email(recipient text, subject text, body text, kind text DEFAULT 'system')
    RETURNS bigint LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
#variable_conflict use_variable
DECLARE
    new_id bigint;
BEGIN
    IF coalesce(recipient, '') ~ '[\r\n]' OR coalesce(subject, '') ~ '[\r\n]' THEN
        RAISE EXCEPTION 'enqueue_email: line breaks are not allowed in the recipient or subject';
    END IF;
    INSERT INTO notifications (kind, recipient, subject, body, urgent)
    VALUES (coalesce(nullif(btrim(kind), ''), 'system'), coalesce(btrim(recipient), ''), subject,
            coalesce(body, ''), true)
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

-- A universe may have its own sender and SMTP server (by the 'description'
-- of an entry of OPTS['smtp_servers']); NULL: the host-level settings.
ALTER TABLE universes ADD COLUMN IF NOT EXISTS mail_from_addr text;
ALTER TABLE universes ADD COLUMN IF NOT EXISTS mail_from_name text;
ALTER TABLE universes ADD COLUMN IF NOT EXISTS smtp_server text;

-- Messages and recipients sent per server per minute: the per-minute and
-- rolling per-day budgets of a provider, shared by all runs.
CREATE TABLE smtp_usage (
    server     text NOT NULL,
    minute     timestamptz NOT NULL,
    messages   integer NOT NULL DEFAULT 0,
    recipients integer NOT NULL DEFAULT 0,
    PRIMARY KEY (server, minute)
);

-- Take budget for one message of n recipients on a server, or say which
-- limit stops it.  Under an advisory lock per server: two runs cannot both
-- take the last unit.  Limits of 0 or NULL are no limit.
CREATE OR REPLACE FUNCTION smtp_budget_take(p_server text, p_recipients integer,
        per_minute integer, per_day integer, rcpt_per_minute integer, rcpt_per_day integer)
    RETURNS text LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    this_minute timestamptz := date_trunc('minute', now());
    m_min bigint; r_min bigint; m_day bigint; r_day bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('forummail-budget:' || p_server, 0));
    SELECT coalesce(sum(messages) FILTER (WHERE minute = this_minute), 0),
           coalesce(sum(recipients) FILTER (WHERE minute = this_minute), 0),
           coalesce(sum(messages), 0), coalesce(sum(recipients), 0)
      INTO m_min, r_min, m_day, r_day
      FROM smtp_usage
     WHERE server = p_server AND minute > now() - interval '1 day';
    IF coalesce(per_minute, 0) > 0 AND m_min + 1 > per_minute THEN RETURN 'messages per minute'; END IF;
    IF coalesce(per_day, 0) > 0 AND m_day + 1 > per_day THEN RETURN 'messages per day'; END IF;
    IF coalesce(rcpt_per_minute, 0) > 0 AND r_min + p_recipients > rcpt_per_minute THEN
        RETURN 'recipients per minute';
    END IF;
    IF coalesce(rcpt_per_day, 0) > 0 AND r_day + p_recipients > rcpt_per_day THEN
        RETURN 'recipients per day';
    END IF;
    INSERT INTO smtp_usage AS u (server, minute, messages, recipients)
    VALUES (p_server, this_minute, 1, p_recipients)
    ON CONFLICT (server, minute) DO UPDATE
        SET messages = u.messages + 1, recipients = u.recipients + excluded.recipients;
    RETURN NULL;
END
$$;

-- A server that failed is left aside for a while, by every run.
CREATE TABLE smtp_server_state (
    server      text PRIMARY KEY,
    aside_until timestamptz NOT NULL,
    last_error  text
);

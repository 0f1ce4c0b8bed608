-- 006: the reply-signing secrets, kept in the database so that every host
-- sharing it signs and verifies reply tokens alike, with no secret to copy
-- into each host's .env.  manage.py init-db creates the first one;
-- manage.py rotate-secret adds a newer one.  The newest signs; an older one
-- still verifies tokens for reply_token_days after it was replaced (a token
-- lives that long).  REPLY_TOKEN_SECRET in the environment, when set, signs
-- instead (these still verify).
CREATE TABLE reply_secrets (
    id serial PRIMARY KEY,
    secret text NOT NULL CHECK (length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

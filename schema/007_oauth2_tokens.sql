-- 007: OAuth2 access tokens, shared by every run on every host, so that a
-- run every minute reuses one token until shortly before it expires instead
-- of asking the provider each time.  One row per grant: grant_key is a
-- SHA-256 of what identifies it (provider, endpoint, tenant, client_id,
-- scope, mailbox), never of a secret.  A provider that rotates refresh
-- tokens (RFC 6749 section 6) hands out a new one with each access token:
-- it is kept here, with a hash of the refresh token in the settings that it
-- descends from (refresh_origin), so that a new one put in the settings
-- starts a new lineage.  The row is locked while a token is fetched: two
-- hosts never spend one refresh token twice.
CREATE TABLE oauth2_tokens (
    grant_key text PRIMARY KEY,
    setting text NOT NULL,
    access_token text,
    expires_at timestamptz,
    refresh_at timestamptz,
    refresh_token text,
    refresh_origin text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- API tokens can expire (issue 16, finding 7): an RFC 3339 time, or '' for tokens made before
-- expiry existed, which never do.
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT NOT NULL DEFAULT '';

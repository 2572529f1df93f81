-- Self-care page sessions of end users (the cookie holds the id; only its hash is stored).
CREATE TABLE user_sessions (
    id_hash {key} PRIMARY KEY,
    user_id {int} NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);

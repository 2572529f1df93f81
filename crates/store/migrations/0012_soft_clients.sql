-- The servers soft clients learn of (docs/soft-clients.md): presence subclusters, proxy
-- profiles, CTI gateway servers and profiles, each a checked JSON record keyed by its kind and
-- name; and the proxy profile of each user (the others are in users already).
CREATE TABLE client_records (
    id {id},
    kind TEXT NOT NULL,
    name {key} NOT NULL,
    body TEXT NOT NULL,
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (kind, name)
);
ALTER TABLE users ADD COLUMN proxy_profile TEXT;
CREATE INDEX users_presence_home_node ON users (presence_home_node);
CREATE INDEX users_cti_profile ON users (cti_profile);
CREATE INDEX users_proxy_profile ON users (proxy_profile);

-- Self-provisioning (docs/self-provisioning.md): universal device and line templates (kind
-- 'device' or 'line', their settings as JSON), user profiles naming them, a user's
-- self-provisioning ID, and which devices were auto-registered.
CREATE TABLE universal_templates (
    id {id},
    kind TEXT NOT NULL,
    system_id {int} NOT NULL REFERENCES systems(id),
    name {key} NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    settings_json TEXT NOT NULL DEFAULT '{}',
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (kind, system_id, name)
);
CREATE TABLE user_profiles (
    id {id},
    system_id {int} NOT NULL REFERENCES systems(id),
    name {key} NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    device_template_id {int} REFERENCES universal_templates(id),
    line_template_id {int} REFERENCES universal_templates(id),
    allow_self_provisioning {int} NOT NULL DEFAULT 0,
    phone_limit {int} NOT NULL DEFAULT 10,
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (system_id, name)
);
-- A user's `user_profile` was free text nothing read; it now names a user profile of the
-- user's system. Each name already given becomes a profile (self-provisioning off), so no
-- user loses what they had.
INSERT INTO user_profiles (system_id, name, created_at, updated_at)
    SELECT DISTINCT system_id, user_profile, '{now}', '{now}' FROM users
    WHERE user_profile IS NOT NULL AND user_profile <> '';
ALTER TABLE users ADD COLUMN self_service_id {key};
CREATE UNIQUE INDEX users_self_service_id ON users (system_id, self_service_id);
CREATE INDEX users_user_profile ON users (system_id, user_profile);
ALTER TABLE devices ADD COLUMN auto_registered {int} NOT NULL DEFAULT 0;

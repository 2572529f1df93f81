-- Roles: named sets of privileges, a privilege being (product system, resource, action) where
-- `*` stands for any. `superadmin` and `Full Provisioning` are built in.
CREATE TABLE roles (
    id {id},
    name {key} NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    builtin {int} NOT NULL DEFAULT 0,
    privileges_json TEXT NOT NULL DEFAULT '[]',
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE admin_roles (
    admin_id {int} NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    role_id {int} NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (admin_id, role_id)
);
INSERT INTO roles (name, description, builtin, privileges_json, created_at, updated_at)
VALUES ('superadmin', 'every privilege on every system, administrators and roles included', 1,
        '[{"system":"*","resource":"*","action":"*"}]', '2026-11-25T00:00:00.000Z', '2026-11-25T00:00:00.000Z');
INSERT INTO roles (name, description, builtin, privileges_json, created_at, updated_at)
VALUES ('Full Provisioning', 'every provisioning privilege on every system (not administrators or roles)', 1,
        '[{"system":"*","resource":"system","action":"*"},{"system":"*","resource":"user","action":"*"},{"system":"*","resource":"voicemail_subscriber","action":"*"},{"system":"*","resource":"phone","action":"*"},{"system":"*","resource":"line","action":"*"},{"system":"*","resource":"device_profile","action":"*"},{"system":"*","resource":"service","action":"*"},{"system":"*","resource":"parameters","action":"*"},{"system":"*","resource":"template","action":"*"},{"system":"*","resource":"class_of_service","action":"*"},{"system":"*","resource":"distribution_list","action":"*"}]',
        '2026-11-25T00:00:00.000Z', '2026-11-25T00:00:00.000Z');
-- Administrators there before roles keep doing everything.
INSERT INTO admin_roles (admin_id, role_id) SELECT a.id, r.id FROM admins a, roles r WHERE r.name = 'superadmin';
-- Web console sessions (the cookie holds the id; only its hash is stored).
CREATE TABLE sessions (
    id_hash {key} PRIMARY KEY,
    admin_id {int} NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seen_at TEXT NOT NULL
);

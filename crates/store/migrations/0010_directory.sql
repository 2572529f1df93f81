-- The corporate directory (docs/directory.md): LDAP servers, and LDAP profiles naming a
-- primary server and up to two backups (their bind password sealed by the service).
CREATE TABLE ldap_servers (
    id {id},
    name {key} NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL,
    port {int} NOT NULL,
    directory_type TEXT NOT NULL,
    security TEXT NOT NULL,
    ca_file TEXT NOT NULL DEFAULT '',
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE ldap_profiles (
    id {id},
    name {key} NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    bind_dn TEXT NOT NULL DEFAULT '',
    anonymous_bind {int} NOT NULL DEFAULT 0,
    password_enc TEXT,
    search_context TEXT NOT NULL DEFAULT '',
    recursive {int} NOT NULL DEFAULT 0,
    primary_server_id {int} NOT NULL REFERENCES ldap_servers(id),
    backup1_server_id {int} REFERENCES ldap_servers(id),
    backup2_server_id {int} REFERENCES ldap_servers(id),
    default_profile {int} NOT NULL DEFAULT 0,
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Dialtone's first schema: product systems, the directory, administrators and the audit log.
-- Written once for both backends; the store replaces these words per dialect:
--   {id}   an integer primary key the database assigns
--   {int}  a 64-bit integer
--   {key}  text compared byte by byte (prefix finds use ranges over it)

CREATE TABLE systems (
    id {id},
    name {key} NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    settings_json TEXT NOT NULL DEFAULT '{}',
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE lines (
    id {id},
    system_id {int} NOT NULL REFERENCES systems(id),
    pattern {key} NOT NULL,
    partition {key} NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    alerting_name TEXT NOT NULL DEFAULT '',
    forward_all TEXT NOT NULL DEFAULT '',
    forward_busy_internal TEXT NOT NULL DEFAULT '',
    forward_busy_external TEXT NOT NULL DEFAULT '',
    forward_no_answer_internal TEXT NOT NULL DEFAULT '',
    forward_no_answer_external TEXT NOT NULL DEFAULT '',
    pickup_group TEXT NOT NULL DEFAULT '',
    voicemail_profile TEXT NOT NULL DEFAULT '',
    max_calls {int} NOT NULL,
    busy_trigger {int} NOT NULL,
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (system_id, pattern, partition)
);
CREATE INDEX lines_pattern ON lines (pattern);

CREATE TABLE users (
    id {id},
    system_id {int} NOT NULL REFERENCES systems(id),
    user_id {key} NOT NULL,
    user_id_lc {key} NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    first_lc {key} NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    last_lc {key} NOT NULL DEFAULT '',
    display_name TEXT NOT NULL DEFAULT '',
    department TEXT NOT NULL DEFAULT '',
    manager TEXT NOT NULL DEFAULT '',
    mail TEXT NOT NULL DEFAULT '',
    telephone_number TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    pin_hash TEXT,
    -- The SIP digest credential phones are given: encrypted (ChaCha20-Poly1305), never hashed.
    digest_credential_enc TEXT,
    primary_line_id {int} REFERENCES lines(id) ON DELETE SET NULL,
    user_profile TEXT,
    groups_json TEXT NOT NULL DEFAULT '[]',
    must_change_password {int} NOT NULL DEFAULT 0,
    password_never_expires {int} NOT NULL DEFAULT 0,
    presence_home_node TEXT,
    ldap_profile TEXT,
    cti_profile TEXT,
    voicemail_profile TEXT,
    conferencing_profile TEXT,
    cap_presence {int} NOT NULL DEFAULT 0,
    cap_soft_client {int} NOT NULL DEFAULT 0,
    ldap_synced {int} NOT NULL DEFAULT 0,
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (system_id, user_id)
);
CREATE INDEX users_user_id ON users (user_id);
-- Prefix finds read these alone (index-only scans): each carries the name sort keys and the id
-- (see store::users::find).
CREATE INDEX users_user_id_lc ON users (user_id_lc, last_lc, first_lc, id);
CREATE INDEX users_first_lc ON users (first_lc, last_lc, id);
CREATE INDEX users_last_lc ON users (last_lc, first_lc, id);

-- Phones and device profiles share one table and one name space, as they do in call control.
CREATE TABLE devices (
    id {id},
    class TEXT NOT NULL,
    name {key} NOT NULL,
    name_lc {key} NOT NULL UNIQUE,
    mac {key} UNIQUE,
    model TEXT NOT NULL,
    protocol TEXT NOT NULL DEFAULT '',
    system_id {int} NOT NULL REFERENCES systems(id),
    description TEXT NOT NULL DEFAULT '',
    device_pool TEXT NOT NULL DEFAULT '',
    button_template TEXT NOT NULL DEFAULT '',
    softkey_template TEXT NOT NULL DEFAULT '',
    calling_search_space TEXT NOT NULL DEFAULT '',
    location TEXT NOT NULL DEFAULT '',
    security_mode TEXT,
    security_profile TEXT NOT NULL DEFAULT '',
    allow_cti_control {int} NOT NULL DEFAULT 0,
    owner_id {int} REFERENCES users(id) ON DELETE SET NULL,
    dnd TEXT NOT NULL DEFAULT 'off',
    expansion_modules_json TEXT NOT NULL DEFAULT '[]',
    logout_profile_id {int} REFERENCES devices(id),
    primary_phone_id {int} REFERENCES devices(id),
    speed_dials_json TEXT NOT NULL DEFAULT '[]',
    parameters_json TEXT NOT NULL DEFAULT '{}',
    mlpp_domain TEXT NOT NULL DEFAULT '',
    mlpp_indication {int} NOT NULL DEFAULT 0,
    mlpp_preemption {int} NOT NULL DEFAULT 0,
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX devices_class_name ON devices (class, name_lc);
CREATE INDEX devices_owner ON devices (owner_id);
CREATE INDEX devices_primary ON devices (primary_phone_id);
CREATE INDEX devices_logout ON devices (logout_profile_id);

CREATE TABLE appearances (
    id {id},
    device_id {int} NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    line_id {int} NOT NULL REFERENCES lines(id),
    button {int} NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    display TEXT NOT NULL DEFAULT '',
    external_mask TEXT NOT NULL DEFAULT '',
    UNIQUE (device_id, button),
    UNIQUE (device_id, line_id)
);
CREATE INDEX appearances_line ON appearances (line_id);

CREATE TABLE phone_services (
    id {id},
    system_id {int} NOT NULL REFERENCES systems(id),
    name {key} NOT NULL,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    parameters_json TEXT NOT NULL DEFAULT '[]',
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (system_id, name)
);

CREATE TABLE subscriptions (
    device_id {int} NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    service_id {int} NOT NULL REFERENCES phone_services(id),
    position {int} NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    parameters_json TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (device_id, service_id)
);
CREATE INDEX subscriptions_service ON subscriptions (service_id);

-- A user's phones and device profiles; is_default marks the profile loaded at extension mobility log-in.
CREATE TABLE user_devices (
    user_id {int} NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id {int} NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    is_default {int} NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, device_id)
);
CREATE INDEX user_devices_device ON user_devices (device_id);

CREATE TABLE user_lines (
    user_id {int} NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    line_id {int} NOT NULL REFERENCES lines(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, line_id)
);
CREATE INDEX user_lines_line ON user_lines (line_id);

CREATE TABLE classes_of_service (
    id {id},
    system_id {int} NOT NULL REFERENCES systems(id),
    name {key} NOT NULL,
    max_message_seconds {int} NOT NULL,
    send_to_public_lists {int} NOT NULL DEFAULT 0,
    secure_logon {int} NOT NULL DEFAULT 0,
    directory_listing {int} NOT NULL DEFAULT 0,
    transfer_json TEXT NOT NULL DEFAULT '[]',
    notification_json TEXT NOT NULL DEFAULT '[]',
    fax_json TEXT NOT NULL DEFAULT '[]',
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (system_id, name)
);

CREATE TABLE distribution_lists (
    id {id},
    system_id {int} NOT NULL REFERENCES systems(id),
    name {key} NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (system_id, name)
);

CREATE TABLE voicemail_subscribers (
    id {id},
    system_id {int} NOT NULL REFERENCES systems(id),
    alias {key} NOT NULL,
    alias_lc {key} NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    first_lc {key} NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    last_lc {key} NOT NULL DEFAULT '',
    display_name TEXT NOT NULL DEFAULT '',
    extension TEXT NOT NULL DEFAULT '',
    mail TEXT NOT NULL DEFAULT '',
    pin_hash TEXT,
    cos_id {int} NOT NULL REFERENCES classes_of_service(id),
    subscriber_template TEXT NOT NULL DEFAULT '',
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (system_id, alias)
);
CREATE INDEX voicemail_alias ON voicemail_subscribers (alias);
CREATE INDEX voicemail_alias_lc ON voicemail_subscribers (alias_lc);
CREATE INDEX voicemail_last_lc ON voicemail_subscribers (last_lc, first_lc);

CREATE TABLE subscriber_lists (
    subscriber_id {int} NOT NULL REFERENCES voicemail_subscribers(id) ON DELETE CASCADE,
    list_id {int} NOT NULL REFERENCES distribution_lists(id),
    PRIMARY KEY (subscriber_id, list_id)
);
CREATE INDEX subscriber_lists_list ON subscriber_lists (list_id);

CREATE TABLE admins (
    id {id},
    username {key} NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id {id},
    admin_id {int} NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT '',
    token_hash {key} NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

-- Provisioning parameter profiles (seeds 002/004): values set for a whole system, a device pool
-- or a model of a system, or one device; the most specific wins. `target` is the pool name, the
-- model, or the device name; '' for the system itself.
CREATE TABLE parameter_sets (
    id {id},
    scope TEXT NOT NULL,
    system_id {int} NOT NULL REFERENCES systems(id),
    target {key} NOT NULL DEFAULT '',
    values_json TEXT NOT NULL DEFAULT '{}',
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (scope, system_id, target)
);

-- What each device last did: kept apart from the device so that recording it changes no file.
CREATE TABLE device_status (
    device_id {int} PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    last_seen TEXT NOT NULL,
    last_ip TEXT NOT NULL DEFAULT '',
    last_user_agent TEXT NOT NULL DEFAULT '',
    last_file TEXT NOT NULL DEFAULT '',
    last_protocol TEXT NOT NULL DEFAULT '',
    requests {int} NOT NULL DEFAULT 0
);

-- Bumped by every write transaction: rendered phone files cached under an older value are stale
-- (this covers writes from other processes and other nodes too).
CREATE TABLE generation (
    id {int} PRIMARY KEY,
    n {int} NOT NULL
);
INSERT INTO generation (id, n) VALUES (1, 0);

-- Settings of the installation (e.g. the check value of the secret key).
CREATE TABLE settings (
    name {key} PRIMARY KEY,
    value TEXT NOT NULL
);

-- Append-only: Dialtone never updates or deletes a row here.
CREATE TABLE audit_log (
    id {id},
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    target TEXT NOT NULL,
    system TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit_log (at);
CREATE INDEX audit_target ON audit_log (resource, target);

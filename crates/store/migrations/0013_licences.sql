-- Licence files as uploaded (docs/licensing.md): their text kept whole (the signature can be
-- checked again), what they authorise in columns. The units used are never stored: they are
-- counted from devices and users, which these indexes keep cheap.
CREATE TABLE licences (
    id {id},
    licence_id {key} NOT NULL UNIQUE,
    issued_to TEXT NOT NULL,
    issued TEXT NOT NULL,
    expires TEXT,
    device_units {int} NOT NULL,
    presence_user_units {int} NOT NULL,
    soft_client_units {int} NOT NULL,
    text TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    uploaded_by TEXT NOT NULL
);
CREATE INDEX devices_licence_units ON devices (class, model, primary_phone_id);
CREATE INDEX users_capabilities ON users (cap_presence, cap_soft_client);

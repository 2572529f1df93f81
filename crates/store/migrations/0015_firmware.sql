-- Firmware loads (docs/firmware.md): the load each model is given, on a call-control system,
-- overridden per device pool or per device (target: the pool's or the device's name; empty
-- for the system). The files themselves are in the firmware folder, not in the database.
CREATE TABLE firmware_loads (
    system_id {int} NOT NULL REFERENCES systems(id) ON DELETE CASCADE,
    model {key} NOT NULL,
    scope TEXT NOT NULL,
    target {key} NOT NULL DEFAULT '',
    load_id TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (system_id, model, scope, target)
);

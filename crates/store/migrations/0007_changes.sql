-- What each committed write changed in the phones' files, under the generation it bumped: the
-- resync engine and the render cache read this to touch only the devices a change reaches.
-- `scope` is 'device' (ref_id = the device), 'line' (the devices it appears on), 'owner' (the
-- devices a user owns), 'system' (ref_id = the system: all its devices),
-- 'device_pool' and 'model' (ref_id = the system, target = the pool or model), or 'all'.
CREATE TABLE changes (
    id {id},
    generation {int} NOT NULL,
    scope TEXT NOT NULL,
    ref_id {int},
    target {key} NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE INDEX changes_generation ON changes (generation);
CREATE INDEX devices_system ON devices (system_id, device_pool);
CREATE INDEX devices_model ON devices (system_id, model);

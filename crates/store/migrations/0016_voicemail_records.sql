-- Restriction tables and subscriber templates as records of a voicemail system (seed 000).
--
-- Restriction tables: named and shared; a class of service names one for transfers, one for
-- notifications and one for faxes. Every voicemail system gets the predefined ones; each class
-- of service stored before keeps its rows, in tables of its own named after it.
CREATE TABLE restriction_tables (
    id {id},
    system_id {int} NOT NULL REFERENCES systems(id),
    name {key} NOT NULL,
    entries_json TEXT NOT NULL DEFAULT '[]',
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (system_id, name)
);
INSERT INTO restriction_tables (system_id, name, entries_json, created_at, updated_at)
SELECT id, 'Default Transfer', '[{"pattern":"9011*","allowed":false},{"pattern":"*","allowed":true}]', created_at, created_at
FROM systems WHERE kind = 'voicemail';
INSERT INTO restriction_tables (system_id, name, entries_json, created_at, updated_at)
SELECT id, 'Default Outdial', '[{"pattern":"9011*","allowed":false},{"pattern":"*","allowed":true}]', created_at, created_at
FROM systems WHERE kind = 'voicemail';
INSERT INTO restriction_tables (system_id, name, entries_json, created_at, updated_at)
SELECT id, 'Default Fax', '[{"pattern":"9011*","allowed":false},{"pattern":"*","allowed":true}]', created_at, created_at
FROM systems WHERE kind = 'voicemail';
INSERT INTO restriction_tables (system_id, name, entries_json, created_at, updated_at)
SELECT system_id, name || ' transfer', transfer_json, created_at, updated_at FROM classes_of_service;
INSERT INTO restriction_tables (system_id, name, entries_json, created_at, updated_at)
SELECT system_id, name || ' notification', notification_json, created_at, updated_at FROM classes_of_service;
INSERT INTO restriction_tables (system_id, name, entries_json, created_at, updated_at)
SELECT system_id, name || ' fax', fax_json, created_at, updated_at FROM classes_of_service;
ALTER TABLE classes_of_service ADD COLUMN transfer_table_id {int} REFERENCES restriction_tables(id);
ALTER TABLE classes_of_service ADD COLUMN notification_table_id {int} REFERENCES restriction_tables(id);
ALTER TABLE classes_of_service ADD COLUMN fax_table_id {int} REFERENCES restriction_tables(id);
UPDATE classes_of_service SET
    transfer_table_id = (SELECT r.id FROM restriction_tables r
        WHERE r.system_id = classes_of_service.system_id AND r.name = classes_of_service.name || ' transfer'),
    notification_table_id = (SELECT r.id FROM restriction_tables r
        WHERE r.system_id = classes_of_service.system_id AND r.name = classes_of_service.name || ' notification'),
    fax_table_id = (SELECT r.id FROM restriction_tables r
        WHERE r.system_id = classes_of_service.system_id AND r.name = classes_of_service.name || ' fax');
ALTER TABLE classes_of_service DROP COLUMN transfer_json;
ALTER TABLE classes_of_service DROP COLUMN notification_json;
ALTER TABLE classes_of_service DROP COLUMN fax_json;

-- Subscriber templates: a class of service, public distribution lists and a default PIN
-- (hashed) for the subscribers made from them. Every voicemail system gets DefaultSubscriber;
-- a template name subscribers already carry becomes a template with its system's default class
-- of service.
CREATE TABLE subscriber_templates (
    id {id},
    system_id {int} NOT NULL REFERENCES systems(id),
    name {key} NOT NULL,
    cos_id {int} NOT NULL REFERENCES classes_of_service(id),
    pin_hash TEXT,
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (system_id, name)
);
CREATE TABLE subscriber_template_lists (
    template_id {int} NOT NULL REFERENCES subscriber_templates(id) ON DELETE CASCADE,
    list_id {int} NOT NULL REFERENCES distribution_lists(id),
    PRIMARY KEY (template_id, list_id)
);
INSERT INTO subscriber_templates (system_id, name, cos_id, created_at, updated_at)
SELECT s.id, 'DefaultSubscriber', c.id, s.created_at, s.created_at
FROM systems s JOIN classes_of_service c ON c.system_id = s.id AND c.name = 'Default Subscriber'
WHERE s.kind = 'voicemail';
INSERT INTO subscriber_templates (system_id, name, cos_id, created_at, updated_at)
SELECT v.system_id, v.subscriber_template, MIN(c.id), MIN(v.created_at), MIN(v.created_at)
FROM voicemail_subscribers v JOIN classes_of_service c ON c.system_id = v.system_id AND c.name = 'Default Subscriber'
WHERE v.subscriber_template <> '' AND v.subscriber_template <> 'DefaultSubscriber'
GROUP BY v.system_id, v.subscriber_template;

-- Directory sync (docs/directory.md): what a profile's sync reads and when it runs, what its
-- last run did, and users who left the directory (kept, inactive, until an administrator
-- deletes them or they come back).
ALTER TABLE ldap_profiles ADD COLUMN sync_filter TEXT NOT NULL DEFAULT '';
ALTER TABLE ldap_profiles ADD COLUMN sync_interval_hours {int} NOT NULL DEFAULT 0;
ALTER TABLE ldap_profiles ADD COLUMN last_sync_at TEXT;
ALTER TABLE ldap_profiles ADD COLUMN last_sync_result TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN ldap_inactive_since TEXT;

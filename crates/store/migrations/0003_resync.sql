-- Resync: what phones report over syslog, the NOTIFYs sent to them, and when their file last
-- changed (with its digest, so a restarted node, or another node, knows what it already saw).
CREATE TABLE device_resync (
    device_id {int} PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    requested_at TEXT,
    succeeded_at TEXT,
    failed_at TEXT,
    error TEXT NOT NULL DEFAULT '',
    firmware TEXT NOT NULL DEFAULT '',
    syslog_ip TEXT NOT NULL DEFAULT '',
    notified_at TEXT,
    notify_outcome TEXT NOT NULL DEFAULT '',
    file_changed_at TEXT,
    file_digest TEXT NOT NULL DEFAULT ''
);
-- Where a phone listens for SIP when it is not where its requests come from (NAT, a proxy).
ALTER TABLE devices ADD COLUMN sip_contact TEXT;

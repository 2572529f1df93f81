-- A cluster (issue 17): the nodes serving this database. `run` names one start of a node (a
-- random id): work is claimed by a run, so a node that restarts under the same name does not
-- mistake its dead run's work for its own. `heartbeat_ms` is the database's clock (ms since
-- 1970) when the run last said it was alive; `tftp_host` is the address phones are given.
CREATE TABLE nodes (
    name {key} PRIMARY KEY,
    run TEXT NOT NULL,
    version TEXT NOT NULL,
    addresses TEXT NOT NULL,
    tftp_host TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    heartbeat_ms {int} NOT NULL,
    stopped {int} NOT NULL DEFAULT 0,
    doing TEXT NOT NULL DEFAULT ''
);
-- Work one node at a time does (scheduled LDAP syncs, ending expired logins, pruning the change
-- journal): held by one run until `until_ms` (the database's clock), renewed while it lives.
CREATE TABLE leases (
    name {key} PRIMARY KEY,
    run TEXT NOT NULL,
    until_ms {int} NOT NULL
);
-- An import running in the background belongs to the run doing it ('' for one the command line
-- runs in the foreground). Its file is kept, sealed, in parts until the job ends, so that when
-- that run dies another node carries on after the last committed chunk.
ALTER TABLE import_jobs ADD COLUMN run TEXT NOT NULL DEFAULT '';
CREATE TABLE import_parts (
    id {id},
    job_id {int} NOT NULL REFERENCES import_jobs(id) ON DELETE CASCADE,
    part {int} NOT NULL,
    sealed TEXT NOT NULL,
    UNIQUE (job_id, part)
);
-- A NOTIFY owed: the run that moved a phone's file digest owes the phone its NOTIFY until it
-- has sent it; when that run dies first, another node sends it.
ALTER TABLE device_resync ADD COLUMN notify_run TEXT NOT NULL DEFAULT '';

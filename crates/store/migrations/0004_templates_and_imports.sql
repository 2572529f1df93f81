-- Templates: a named, partial set of a user's, phone's or device profile's fields (not
-- validated but for the name; a change they make is validated when they are applied).
CREATE TABLE templates (
    id {id},
    kind TEXT NOT NULL,
    name {key} NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    fields_json TEXT NOT NULL DEFAULT '{}',
    version {int} NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (kind, name)
);
-- Import jobs: their progress is written with each batch of rows they commit, so what a job
-- says it did is stored, whichever node (or CLI) runs it.
CREATE TABLE import_jobs (
    id {id},
    kind TEXT NOT NULL,
    mode TEXT NOT NULL,
    dry_run {int} NOT NULL DEFAULT 0,
    stop_on_error {int} NOT NULL DEFAULT 0,
    template TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL,
    state TEXT NOT NULL,
    rows_total {int},
    rows_done {int} NOT NULL DEFAULT 0,
    ok {int} NOT NULL DEFAULT 0,
    unchanged {int} NOT NULL DEFAULT 0,
    failed {int} NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE TABLE import_errors (
    job_id {int} NOT NULL REFERENCES import_jobs(id) ON DELETE CASCADE,
    line {int} NOT NULL,
    col TEXT,
    reason TEXT NOT NULL
);
CREATE INDEX import_errors_job ON import_errors (job_id, line);

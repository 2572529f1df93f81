-- The file a dry run checked, sealed under the installation's secret key (a users file may
-- hold passwords and PINs), kept so that it can then run for real without a second upload.
CREATE TABLE import_files (
    job_id {int} PRIMARY KEY REFERENCES import_jobs(id) ON DELETE CASCADE,
    sealed TEXT NOT NULL
);

//! Imports in the background: on a thread of their own; on a node of a cluster, with their
//! file kept (sealed, in parts) in the database until they end, so that when the node dies
//! another one carries on after the last committed chunk, and when the database goes away
//! for a while (PostgreSQL restarting) the job waits and carries on too (docs/scale-out.md).

use crate::import::{keep_to_one_cpu, taken_over, Background, Resume};
use crate::spool::Spooled;
use crate::{Actor, Error, ImportOptions, Result, Service};
use bulk::Kind;
use model::{ImportJob, JobState};

/// Bytes of an import's file in each part kept in the database.
const PART_BYTES: u64 = 1 << 20;

/// How long a job waits for the database to come back before trying again, at most.
const RETRY_AT_MOST: std::time::Duration = std::time::Duration::from_secs(10);

/// The options a recorded job was run with.
pub(crate) fn options_of(job: &ImportJob) -> Result<ImportOptions> {
    let (Some(kind), Some(mode)) = (Kind::parse(&job.kind), crate::ImportMode::parse(&job.mode))
    else {
        return Err(Error::Internal(format!(
            "import job {} names a kind `{}` or mode `{}` this version does not know",
            job.id, job.kind, job.mode
        )));
    };
    Ok(ImportOptions {
        kind,
        mode,
        dry_run: job.dry_run,
        stop_on_error: job.stop_on_error,
        template: Some(job.template.clone()).filter(|t| !t.is_empty()),
        source: job.source.clone(),
    })
}

impl Service {
    /// Starts an import of the CSV file `upload` as a job that runs in the background (on a
    /// thread of this process): the file's header is checked and its rows counted first, so a
    /// bad header is refused before any job exists. A dry run's file is kept (sealed, in the
    /// database) to run for real when it fits in the bytes kept for dry runs. On a node, the
    /// job's file is kept until it ends, for another node to carry it on
    /// ([`Service::resume_import`]).
    pub async fn spawn_import(
        &self,
        actor: &Actor,
        opts: ImportOptions,
        upload: Spooled,
    ) -> Result<ImportJob> {
        self.may_import(actor, &opts).await?;
        let len = upload.len();
        let (kind, source) = (opts.kind, opts.source.clone());
        let header = move |e: bulk::FileError| Error::invalid("file", format!("{source}: {e}"));
        let io = |e: std::io::Error| Error::Internal(format!("reading the uploaded file: {e}"));
        let (file, rows) = {
            let header = header.clone();
            tokio::task::spawn_blocking(move || -> Result<(std::fs::File, i64)> {
                let file = upload.rewound().map_err(io)?;
                let rows = bulk::reader(kind, &file).map_err(header)?.count() as i64;
                let file = Spooled { file, len }.rewound().map_err(io)?;
                Ok((file, rows))
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))??
        };
        let job = self.start_import(actor, &opts, Some(rows)).await?;
        // Sealed, a file takes a third more (base64) and 28 bytes (nonce, tag).
        let sealed_len = (len + 28).div_ceil(3) * 4 + 16;
        let file = if opts.dry_run && sealed_len <= self.kept_bytes {
            // Kept, so that the file checked is the file that then runs ([`Service::run_checked`]).
            let key = self.key.clone();
            let (file, sealed) = tokio::task::spawn_blocking(move || -> Result<_> {
                use std::io::Read;
                let mut plain = Vec::with_capacity(len as usize);
                (&file).read_to_end(&mut plain).map_err(io)?;
                let sealed = key.seal_vec(plain)?;
                Ok((Spooled { file, len }.rewound().map_err(io)?, sealed))
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
            self.keep_checked_file(job.id, &sealed).await?;
            file
        } else {
            file
        };
        // On a node, the file is kept in the database with the job given to this run, so that
        // another node carries on should this one die (a command run from the shell imports in
        // the foreground instead: [`Service::import`]).
        let file = if self.node.run.is_empty() {
            file
        } else {
            match self.keep_parts(job.id, file).await {
                Ok(file) => file,
                Err(e) => {
                    self.fail_job(job.id, None, &format!("stopped: {e}")).await;
                    return Err(e);
                }
            }
        };
        if let Err(e) = self.run_in_background(actor.clone(), job.id, opts, file, Resume::default())
        {
            self.fail_job(job.id, None, &format!("stopped: {e}")).await;
            return Err(e);
        }
        Ok(job)
    }

    /// Keeps `file` in the database in sealed parts and gives job `job` to this run, in one
    /// transaction. Answers the file, rewound.
    async fn keep_parts(&self, job: i64, file: std::fs::File) -> Result<std::fs::File> {
        let io = |e: std::io::Error| Error::Internal(format!("reading the uploaded file: {e}"));
        let mut tx = self.store.write_unversioned().await?;
        let mut file = file;
        let mut part = 0;
        loop {
            let key = self.key.clone();
            let (f, sealed) = tokio::task::spawn_blocking(move || -> Result<_> {
                use std::io::Read;
                let mut plain = Vec::with_capacity(PART_BYTES as usize);
                (&file)
                    .take(PART_BYTES)
                    .read_to_end(&mut plain)
                    .map_err(io)?;
                let sealed = if plain.is_empty() {
                    None
                } else {
                    Some(key.seal_vec(plain)?)
                };
                Ok((file, sealed))
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
            file = f;
            let Some(sealed) = sealed else { break };
            store::cluster::put_part(tx.conn(), job, part, &sealed).await?;
            part += 1;
        }
        store::cluster::set_job_run(tx.conn(), job, &self.node.run).await?;
        tx.commit().await?;
        use std::io::Seek;
        file.rewind().map_err(io)?;
        Ok(file)
    }

    /// Carries on job `id`, which this run has just claimed ([`Service::claim_orphaned_imports`])
    /// from a node that died: after its last committed chunk, as the administrator who started
    /// it. A job that cannot go on (its administrator is gone) ends failed, saying why.
    pub async fn resume_import(&self, id: i64) -> Result<()> {
        let job = self.import_job(id).await?;
        let prepared = async {
            let opts = options_of(&job)?;
            let admin = {
                let mut c = self.store.read().await?;
                store::admins::by_username(&mut c, &job.actor).await?
            };
            let Some(admin) = admin else {
                return Err(Error::Conflict {
                    field: None,
                    message: format!(
                        "the administrator {} who started it no longer exists",
                        job.actor
                    ),
                });
            };
            let actor = self.actor_of(&admin).await?;
            let (file, resume) = self.resume_point(id).await?;
            Ok((opts, actor, file, resume))
        }
        .await;
        let (opts, actor, file, resume) = match prepared {
            Ok(p) => p,
            Err(Error::Unavailable(m)) => return Err(Error::Unavailable(m)),
            Err(e) => {
                let run = self.node.run.clone();
                self.fail_job(id, Some(&run), &format!("could not carry on: {e}"))
                    .await;
                return Err(e);
            }
        };
        tracing::info!(
            job = id,
            after_rows = resume.rows,
            "carrying on an import job after its last committed chunk"
        );
        self.run_in_background(actor, id, opts, file, resume)
    }

    /// Where job `id` starts again, with its file: what its committed chunks did, read now.
    async fn resume_point(&self, id: i64) -> Result<(std::fs::File, Resume)> {
        let job = self.import_job(id).await?;
        let run = {
            let mut c = self.store.read().await?;
            store::cluster::job_run(&mut c, id).await?
        };
        if run != self.node.run {
            return Err(Error::Conflict {
                field: Some("run".into()),
                message: format!("import job {id} was taken over by another node"),
            });
        }
        let mut errors = self.import_errors(id).await?;
        errors.truncate(1000);
        let file = tokio::task::spawn_blocking(tempfile::tempfile)
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| Error::Internal(format!("cannot make a temporary file: {e}")))?;
        let mut file = file;
        let mut part = 0;
        loop {
            let sealed = {
                let mut c = self.store.read().await?;
                store::cluster::part(&mut c, id, part).await?
            };
            let Some(sealed) = sealed else { break };
            let key = self.key.clone();
            file = tokio::task::spawn_blocking(move || -> Result<std::fs::File> {
                use std::io::Write;
                let plain = key.open_bytes(&sealed)?;
                file.write_all(&plain)
                    .map_err(|e| Error::Internal(format!("writing a temporary file: {e}")))?;
                Ok(file)
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
            part += 1;
        }
        if part == 0 {
            return Err(Error::NotFound(format!(
                "the file of import job {id} is not kept"
            )));
        }
        use std::io::Seek;
        file.rewind()
            .map_err(|e| Error::Internal(format!("reading a temporary file: {e}")))?;
        let resume = Resume {
            rows: job.rows_done as u64,
            ok: job.ok as u64,
            unchanged: job.unchanged as u64,
            failed: job.failed as u64,
            errors,
        };
        Ok((file, resume))
    }

    /// Ends job `id` failed with `message` (while it is still `run`'s, when given); the rows
    /// committed so far stay.
    pub(crate) async fn fail_job(&self, id: i64, run: Option<&str>, message: &str) {
        let end = async {
            let j = self.import_job(id).await?;
            let mut tx = self.store.write_unversioned().await?;
            store::templates::progress(
                tx.conn(),
                id,
                &store::templates::Progress {
                    rows_done: j.rows_done,
                    ok: j.ok,
                    unchanged: j.unchanged,
                    failed: j.failed,
                    new_errors: &[],
                    end: Some((JobState::Failed, message)),
                    run,
                },
            )
            .await?;
            tx.commit().await?;
            Ok::<_, Error>(())
        };
        if let Err(err) = end.await {
            tracing::error!(%err, job = id, "could not record how an import job ended");
        }
    }

    /// Runs job `id` over `file` on a thread of its own kept to one CPU, with a connection of
    /// its own opened there (see `keep_to_one_cpu`): the server's other threads are left as
    /// they are. On a node, a job whose database goes away waits for it and carries on.
    fn run_in_background(
        &self,
        actor: Actor,
        id: i64,
        opts: ImportOptions,
        file: std::fs::File,
        resume: Resume,
    ) -> Result<()> {
        let svc = self.clone();
        let thread = std::thread::Builder::new()
            .name(format!("import-{id}"))
            .spawn(move || {
                keep_to_one_cpu();
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(err) => {
                        tracing::error!(%err, job = id, "an import job could not start its runtime");
                        return;
                    }
                };
                rt.block_on(async move {
                    let svc = match svc.store.detached().await {
                        Ok(store) => Service { store, ..svc },
                        Err(err) => {
                            tracing::warn!(%err, job = id, "an import job runs on the shared connections");
                            svc
                        }
                    };
                    svc.background_job(&actor, id, &opts, file, resume).await;
                });
            });
        thread
            .map(drop)
            .map_err(|e| Error::Internal(format!("cannot start import job {id}: {e}")))
    }

    async fn background_job(
        &self,
        actor: &Actor,
        id: i64,
        opts: &ImportOptions,
        file: std::fs::File,
        resume: Resume,
    ) {
        let run = self.node.run.clone();
        let (mut file, mut resume) = (file, resume);
        let mut wait = std::time::Duration::from_millis(250);
        loop {
            let reader =
                match bulk::reader(opts.kind, std::io::BufReader::with_capacity(64 << 10, file)) {
                    Ok(r) => r,
                    Err(e) => {
                        let message = format!("stopped: {}: {e}", opts.source);
                        self.fail_job(id, (!run.is_empty()).then_some(run.as_str()), &message)
                            .await;
                        return;
                    }
                };
            let bg = (!run.is_empty()).then(|| Background {
                run: &run,
                resume: std::mem::take(&mut resume),
            });
            let err = match self.run_job(actor, id, opts, reader, |_| {}, bg).await {
                Ok(_) => return,
                Err(e) => e,
            };
            if taken_over(&err) {
                tracing::warn!(
                    job = id,
                    "another node carries on this import job (this one was thought dead)"
                );
                return;
            }
            if run.is_empty() || !matches!(err, Error::Unavailable(_)) {
                tracing::warn!(%err, job = id, "an import job stopped");
                return;
            }
            // The database went away: what was not committed is done again from the last
            // committed chunk, once it is back.
            loop {
                tracing::warn!(%err, job = id, wait_ms = wait.as_millis() as u64, "an import job waits for the database");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_AT_MOST);
                match self.resume_point(id).await {
                    Ok((f, r)) => {
                        tracing::info!(
                            job = id,
                            after_rows = r.rows,
                            "the database is back: the import job carries on"
                        );
                        (file, resume) = (f, r);
                        break;
                    }
                    Err(Error::Unavailable(_)) => continue,
                    Err(e) if taken_over(&e) => return,
                    Err(e) => {
                        tracing::warn!(err = %e, job = id, "an import job could not carry on");
                        return;
                    }
                }
            }
        }
    }
}

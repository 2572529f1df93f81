//! CSV import: each row of a file ([`bulk`]) becomes the use case it asks for (add, modify or
//! delete one record), in a savepoint of its own, so a bad row fails alone and says why (line,
//! column, reason) while the others go in; rows are committed a few hundred at a time. A dry run
//! runs every row to its end against what is stored and rolls each back. The job is one audit
//! entry, with every failed row in its detail; each row's change has its own entry as well.

use crate::spool::Spooled;
use crate::{Actor, Error, Result, Service};
use bulk::{Kind, RowError};
use model::access::{Action, Resource};
use model::rules::DeviceClass;
use model::soft_client::ClientKind;
use model::*;
use serde_json::{Map, Value};
use store::audit::NewEntry;

/// Rows per transaction of an import, at most…
const CHUNK_ROWS: usize = 500;
/// …and the longest one holds the write lock (a server on the same database waits that long).
const CHUNK_TIME: std::time::Duration = std::time::Duration::from_millis(200);

/// Keeps the calling thread, and every thread it starts from now on, on the CPU it runs on. An
/// import is one sequence of statements, each handed to the database's worker (on SQLite,
/// sqlx's worker thread) and its answer handed back: the two never run at once, and on two
/// CPUs every hand-off is a wake-up across CPUs. On one CPU the hand-off is a plain switch,
/// and imports on SQLite run about twice as fast (BENCHMARKS.md; PostgreSQL, whose worker is a
/// process of its own, is no slower). Does nothing off Linux.
pub fn keep_to_one_cpu() {
    #[cfg(target_os = "linux")]
    {
        use nix::sched::{sched_getcpu, sched_setaffinity, CpuSet};
        let mut one = CpuSet::new();
        if let Some(()) = sched_getcpu().ok().and_then(|cpu| one.set(cpu).ok()) {
            // Pid 0: this thread, which the threads it starts inherit from.
            let _ = sched_setaffinity(nix::unistd::Pid::from_raw(0), &one);
        }
    }
}

/// Lets the calling thread run on every CPU again (a thread started by one kept to one CPU
/// inherits that: the hasher's threads undo it). Does nothing off Linux.
pub fn use_every_cpu() {
    #[cfg(target_os = "linux")]
    {
        use nix::sched::{sched_setaffinity, CpuSet};
        // Every CPU the set can name: the kernel keeps those that are online.
        let mut all = CpuSet::new();
        for cpu in 0..CpuSet::count() {
            let _ = all.set(cpu);
        }
        let _ = sched_setaffinity(nix::unistd::Pid::from_raw(0), &all);
    }
}

/// How many dry runs' files are kept to run for real ([`Service::run_checked`])…
const KEPT_FILES: i64 = 10;
/// …and how many bytes of them (sealed) by default: `[import] keep_dry_runs_mb`.
pub const KEPT_BYTES: u64 = 64 << 20;

/// The resource and the action an import of `kind` in `mode` needs a privilege for: rows of
/// application profiles change their users.
fn import_right(kind: Kind, mode: ImportMode) -> (Resource, &'static str) {
    let resource = match kind {
        Kind::Users | Kind::AppProfiles => Resource::User,
        Kind::Phones => Resource::Phone,
        Kind::DeviceProfiles => Resource::DeviceProfile,
        Kind::Lines => Resource::Line,
        Kind::VoicemailSubscribers => Resource::VoicemailSubscriber,
        Kind::UserProfiles => Resource::UserProfile,
        Kind::UniversalDeviceTemplates => Resource::UniversalDeviceTemplate,
        Kind::UniversalLineTemplates => Resource::UniversalLineTemplate,
        Kind::DialRules => Resource::DialRule,
    };
    let action = match (kind, mode) {
        (Kind::AppProfiles, _) | (_, ImportMode::Modify) => "update",
        (_, ImportMode::Add) => "create",
        (_, ImportMode::Delete) => "delete",
    };
    (resource, action)
}

/// What each row does to its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    Add,
    Modify,
    Delete,
}

impl ImportMode {
    pub fn parse(s: &str) -> Option<ImportMode> {
        match s {
            "add" => Some(ImportMode::Add),
            "modify" => Some(ImportMode::Modify),
            "delete" => Some(ImportMode::Delete),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ImportMode::Add => "add",
            ImportMode::Modify => "modify",
            ImportMode::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub kind: Kind,
    pub mode: ImportMode,
    pub dry_run: bool,
    /// Stop at the first failed row (the rows before it stay done).
    pub stop_on_error: bool,
    /// A template of the file's kind: it fills the cells the file leaves empty.
    pub template: Option<String>,
    /// The file's name, for the audit log.
    pub source: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportReport {
    /// The job this import is (`GET /api/v1/imports/{job}`).
    pub job: i64,
    pub rows: u64,
    pub ok: u64,
    /// Of the ok rows in add mode: the record was there already, as the row has it (a file
    /// imported again after an interruption finishes the job instead of failing).
    pub unchanged: u64,
    pub failed: u64,
    /// Every problem of every failed row, in file order.
    pub errors: Vec<RowError>,
    pub dry_run: bool,
    /// True when `stop_on_error` ended the job before the end of the file.
    pub stopped: bool,
    /// The database went away under a row: the chunk is not to be committed, and the job
    /// carries on from its last commit once the database is back (no row failed).
    #[serde(skip)]
    unavailable: Option<String>,
}

/// Where a job carried on by another node (or after the database came back) starts again:
/// what its last committed chunk had done.
#[derive(Debug, Default)]
pub(crate) struct Resume {
    pub rows: u64,
    pub ok: u64,
    pub unchanged: u64,
    pub failed: u64,
    /// Its failed rows so far (the first thousand: for the audit entry's detail).
    pub errors: Vec<RowError>,
}

/// A job this node runs in the background: its progress is written only while the job is
/// still this run's ([`crate::cluster`]).
pub(crate) struct Background<'a> {
    pub run: &'a str,
    pub resume: Resume,
}

/// The job was taken over by another node (this one was thought dead): it stops here.
pub(crate) fn taken_over(e: &Error) -> bool {
    matches!(e, Error::Conflict { field: Some(f), .. } if f == "run")
}

/// Where an import's report was: what a chunk run again goes back to.
#[derive(Debug, Clone, Copy)]
struct Mark {
    rows: u64,
    ok: u64,
    unchanged: u64,
    failed: u64,
    errors: usize,
}

impl ImportReport {
    fn mark(&self) -> Mark {
        Mark {
            rows: self.rows,
            ok: self.ok,
            unchanged: self.unchanged,
            failed: self.failed,
            errors: self.errors.len(),
        }
    }

    fn back_to(&mut self, m: Mark) {
        self.rows = m.rows;
        self.ok = m.ok;
        self.unchanged = m.unchanged;
        self.failed = m.failed;
        self.errors.truncate(m.errors);
    }

    /// `N rows: A ok, B failed`.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} ok, {} failed{}{}{}",
            model::counted(self.rows, "row", "rows"),
            self.ok,
            self.failed,
            if self.unchanged > 0 {
                format!("; {} of the ok were there already", self.unchanged)
            } else {
                String::new()
            },
            if self.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            },
            if self.stopped {
                " (stopped at the first failure)"
            } else {
                ""
            }
        )
    }
}

fn text<'a>(r: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    r.get(k).and_then(Value::as_str)
}

/// A row's record as the use case's input type.
fn input<T: serde::de::DeserializeOwned>(r: Map<String, Value>) -> Result<T> {
    serde_json::from_value(Value::Object(r)).map_err(|e| Error::invalid("", e.to_string()))
}

/// The row's fields as a patch carrying `version`, without the fields that name the record.
fn patch<T: serde::de::DeserializeOwned>(
    mut r: Map<String, Value>,
    keys: &[&str],
    version: i64,
) -> Result<T> {
    for k in keys {
        r.remove(*k);
    }
    r.insert("version".into(), Value::from(version));
    input(r)
}

/// A dial rule row's RULE TYPE, checked before the rule is read (so the error names the column).
fn rule_type(r: &Map<String, Value>) -> Result<()> {
    match text(r, "kind") {
        None | Some("application") | Some("directory_lookup") => Ok(()),
        Some(other) => Err(Error::invalid(
            "kind",
            format!("{other:?} is not a rule type: say application or directory_lookup"),
        )),
    }
}

/// The fields of a user that associate them with other records: what a users row in add mode
/// may set on a user stored already ([`Service::complete_user`]).
const USER_ASSOCIATIONS: [&str; 4] = [
    "devices",
    "device_profiles",
    "default_device_profile",
    "groups",
];

/// Counts a failed row in `report`, its error under the column the field is in.
fn row_failed(
    report: &mut ImportReport,
    kind: Kind,
    line: u64,
    record: &Map<String, Value>,
    e: &Error,
) {
    let column = e
        .field()
        .filter(|f| !f.is_empty())
        .and_then(|f| bulk::column_for(kind, f, record));
    report.failed += 1;
    report.errors.push(RowError {
        line,
        column,
        reason: e.to_string(),
    });
}

/// The user columns of a phones row, taken out of it (`None` when the row fills none).
fn take_user(r: &mut Map<String, Value>) -> Option<Map<String, Value>> {
    match r.remove("user") {
        Some(Value::Object(u)) if !u.is_empty() => Some(u),
        _ => None,
    }
}

/// Whether the row gives a password, PIN or digest credential.
fn has_secret(r: &Map<String, Value>) -> bool {
    ["password", "pin", "digest_credential"]
        .iter()
        .any(|k| r.contains_key(*k))
}

/// An error of a phones row's user, reported under its columns (`user.first_name`).
fn in_user(e: Error) -> Error {
    match e {
        Error::Invalid(i) => Error::Invalid(i.within("user")),
        Error::Conflict {
            field: Some(f),
            message,
        } => Error::Conflict {
            field: Some(format!("user.{f}")),
            message,
        },
        e => e,
    }
}

/// A phone named by the row: its device name, or `SEP` + its MAC.
fn phone_name(r: &Map<String, Value>) -> Result<String> {
    if let Some(n) = text(r, "name") {
        return Ok(n.to_string());
    }
    let mac = Mac::parse(text(r, "mac").unwrap_or(""))?;
    Ok(format!("SEP{}", mac.as_str()))
}

impl Service {
    /// Imports the rows of `rows` as `opts` says, as a new job; `progress` is told after each
    /// commit how many rows are done.
    pub async fn import<R: std::io::Read>(
        &self,
        actor: &Actor,
        opts: &ImportOptions,
        rows: bulk::Reader<R>,
        progress: impl FnMut(&ImportReport),
    ) -> Result<ImportReport> {
        let job = self.start_import(actor, opts, None).await?;
        self.run_import(actor, job.id, opts, rows, progress).await
    }

    /// Records a new import job (running) after checking what can be checked before any row:
    /// the template.
    pub async fn start_import(
        &self,
        actor: &Actor,
        opts: &ImportOptions,
        rows_total: Option<i64>,
    ) -> Result<ImportJob> {
        self.import_template(opts).await?;
        let mut tx = self.store.write_unversioned().await?;
        let j = ImportJob {
            id: 0,
            kind: opts.kind.name().into(),
            mode: opts.mode.name().into(),
            dry_run: opts.dry_run,
            stop_on_error: opts.stop_on_error,
            template: opts.template.clone().unwrap_or_default(),
            source: opts.source.clone(),
            actor: actor.name.clone(),
            state: JobState::Running,
            rows_total,
            rows_done: 0,
            ok: 0,
            unchanged: 0,
            failed: 0,
            message: String::new(),
            created_at: String::new(),
            updated_at: String::new(),
            finished_at: None,
        };
        let id = store::templates::insert_job(tx.conn(), &j, "").await?;
        tx.commit().await?;
        self.import_job(id).await
    }

    /// Refuses (403, audited) an import `actor`'s roles could not do a row of: the file's kind
    /// and mode need a privilege (create, update or delete on the kind's records) on at least
    /// one product system. Each row is checked again as it runs.
    pub async fn may_import(&self, actor: &Actor, opts: &ImportOptions) -> Result<()> {
        let (resource, action) = import_right(opts.kind, opts.mode);
        if actor.may_somewhere(resource.as_str(), action) {
            return Ok(());
        }
        let e = Error::Forbidden(format!(
            "{} may not import {} in {} mode: none of their roles gives ({}, {action}) on any system",
            actor.name,
            opts.kind.name(),
            opts.mode.name(),
            resource.as_str()
        ));
        let a = crate::Audit {
            action: Action::Import,
            resource,
            target: opts.source.clone(),
            system: String::new(),
        };
        self.audit_failure(actor, &a, &e).await;
        Err(e)
    }

    /// Keeps the sealed file dry-run job `id` checked (of the last [`KEPT_FILES`] dry runs).
    pub(crate) async fn keep_checked_file(&self, id: i64, sealed: &str) -> Result<()> {
        let mut tx = self.store.write_unversioned().await?;
        store::templates::keep_file(tx.conn(), id, sealed, KEPT_FILES, self.kept_bytes as i64)
            .await?;
        Ok(tx.commit().await?)
    }

    /// Whether the file dry-run job `id` checked is kept, to run for real.
    pub async fn checked_file_kept(&self, id: i64) -> Result<bool> {
        let mut c = self.store.read().await?;
        Ok(store::templates::file_kept(&mut c, id).await?)
    }

    /// Runs for real, as a new job in the background, the file dry-run job `id` checked, with
    /// the same kind, mode and template. The file is kept for one run.
    ///
    /// Only the administrator who ran the dry run (or one whose roles allow everything) may
    /// run its file, and only with the privilege to import its kind.
    pub async fn run_checked(&self, actor: &Actor, id: i64) -> Result<ImportJob> {
        let job = self.import_job(id).await?;
        if job.actor != actor.name && actor.privileges().is_some() {
            let e = Error::Forbidden(format!(
                "import job {id} is {}'s dry run: only they, or an administrator whose roles allow everything, may run its file",
                job.actor
            ));
            let a = crate::Audit {
                action: Action::Import,
                resource: Kind::parse(&job.kind)
                    .zip(ImportMode::parse(&job.mode))
                    .map_or(Resource::User, |(k, m)| import_right(k, m).0),
                target: job.source.clone(),
                system: String::new(),
            };
            self.audit_failure(actor, &a, &e).await;
            return Err(e);
        }
        if !job.dry_run {
            return Err(Error::invalid(
                "job",
                format!("import job {id} was not a dry run: it wrote what it could already"),
            ));
        }
        if job.state == JobState::Running {
            return Err(Error::conflict(
                "job",
                format!("the dry run of import job {id} is still running: wait until it ends"),
            ));
        }
        let opts = ImportOptions {
            dry_run: false,
            ..crate::import_jobs::options_of(&job)?
        };
        self.may_import(actor, &opts).await?;
        let sealed = {
            let mut tx = self.store.write_unversioned().await?;
            let sealed = store::templates::take_file(tx.conn(), id).await?;
            tx.commit().await?;
            sealed
        };
        let Some(sealed) = sealed else {
            return Err(Error::NotFound(format!(
                "the file import job {id} checked is not kept (it ran already, it is older than the last {KEPT_FILES} dry runs, or it did not fit in the {} MB kept for dry runs): upload it again",
                self.kept_bytes >> 20
            )));
        };
        let run = async {
            let body = self.key.open_bytes(&sealed)?;
            let file = Spooled::write(std::io::Cursor::new(body), &opts.source).await?;
            self.spawn_import(actor, opts, file).await
        }
        .await;
        if run.is_err() {
            // Not run: kept again, for when what stopped it is mended.
            self.keep_checked_file(id, &sealed).await?;
        }
        run
    }

    pub async fn import_job(&self, id: i64) -> Result<ImportJob> {
        let mut c = self.store.read().await?;
        store::templates::job(&mut c, id)
            .await
            .map_err(|e| crate::nf(e, || format!("there is no import job {id}")))
    }

    /// The newest import jobs first.
    pub async fn import_jobs(&self, limit: i64, offset: i64) -> Result<Page<ImportJob>> {
        let mut c = self.store.read().await?;
        let (items, total) = store::templates::jobs(&mut c, limit, offset).await?;
        Ok(Page {
            items,
            total,
            total_exact: true,
            limit,
            offset,
        })
    }

    /// A job's row errors, in file order.
    pub async fn import_errors(&self, id: i64) -> Result<Vec<RowError>> {
        self.import_job(id).await?;
        let mut c = self.store.read().await?;
        Ok(store::templates::job_errors(&mut c, id)
            .await?
            .into_iter()
            .map(|(line, column, reason)| RowError {
                line: line as u64,
                column,
                reason,
            })
            .collect())
    }

    /// The template an import names, when it names one (of the file's kind).
    async fn import_template(&self, opts: &ImportOptions) -> Result<Option<Template>> {
        let Some(name) = opts.template.as_deref() else {
            return Ok(None);
        };
        let kind = match opts.kind {
            Kind::Users => TemplateKind::User,
            Kind::Phones => TemplateKind::Phone,
            Kind::DeviceProfiles => TemplateKind::DeviceProfile,
            k => {
                return Err(Error::invalid(
                    "template",
                    format!(
                        "templates are for users, phones and device profiles, not {}",
                        k.name()
                    ),
                ))
            }
        };
        self.template(kind, name)
            .await
            .map(Some)
            .map_err(|e| match e {
                Error::NotFound(m) => Error::invalid("template", m),
                e => e,
            })
    }

    /// Runs the job `job` (from [`Service::start_import`]) over `rows`.
    pub async fn run_import<R: std::io::Read>(
        &self,
        actor: &Actor,
        job: i64,
        opts: &ImportOptions,
        rows: bulk::Reader<R>,
        progress: impl FnMut(&ImportReport),
    ) -> Result<ImportReport> {
        self.run_job(actor, job, opts, rows, progress, None).await
    }

    /// [`Service::run_import`], or for a job run in the background by this node (`bg`): from
    /// where it was, writing its progress only while the job is still this node's.
    pub(crate) async fn run_job<R: std::io::Read>(
        &self,
        actor: &Actor,
        job: i64,
        opts: &ImportOptions,
        rows: bulk::Reader<R>,
        progress: impl FnMut(&ImportReport),
        bg: Option<Background<'_>>,
    ) -> Result<ImportReport> {
        let run = bg.as_ref().map(|b| b.run);
        let r = self.run_rows(actor, job, opts, rows, progress, bg).await;
        if let Err(e) = &r {
            // Another node carries on; or, with the database back, this one does.
            if taken_over(e) || (run.is_some() && matches!(e, Error::Unavailable(_))) {
                return r;
            }
            // The rows committed so far stay; the job says why it stopped.
            self.fail_job(job, run, &format!("stopped: {e}")).await;
        }
        r
    }

    async fn run_rows<R: std::io::Read>(
        &self,
        actor: &Actor,
        job: i64,
        opts: &ImportOptions,
        rows: bulk::Reader<R>,
        mut progress: impl FnMut(&ImportReport),
        bg: Option<Background<'_>>,
    ) -> Result<ImportReport> {
        let template = self.import_template(opts).await?;
        let run = bg.as_ref().map(|b| b.run);
        // Rows go in a few hundred to a transaction: one commit per row was most of the time a
        // row took. A chunk runs optimistically, without a savepoint per row (two statements
        // less a row), when the chunk before it had no failed row; a row that fails after it
        // wrote something poisons the chunk, which is then rolled back and run again with a
        // savepoint per row, so that the bad row fails alone and says why.
        //
        // A dry run runs every row as the run would, in one transaction for the whole file,
        // rolled back at its end: each row sees the rows before it (a repeated key, a line an
        // earlier row added, a limit reached within the file), so it reports exactly what the
        // run would, on the same lines with the same words. It always takes the savepoints (a
        // replay could not go back further than the chunk), and its progress is written once,
        // at the end, after the rollback.
        let svc = self.batched();
        let mut report = ImportReport {
            job,
            dry_run: opts.dry_run,
            ..Default::default()
        };
        let mut rows = rows;
        // A job carried on from its last committed chunk: those rows are done (a dry run's
        // rows are never committed: it starts again).
        let resume = bg.map(|b| b.resume).unwrap_or_default();
        if !opts.dry_run && resume.rows > 0 {
            report.rows = resume.rows;
            report.ok = resume.ok;
            report.unchanged = resume.unchanged;
            report.failed = resume.failed;
            report.errors = resume.errors;
            rows.by_ref().take(resume.rows as usize).for_each(drop);
        }
        // The rows of the chunk not committed yet, and where the report was before them.
        let mut pending: Vec<bulk::Row> = Vec::new();
        let mut before = report.mark();
        let mut started = std::time::Instant::now();
        // The errors written so far (those of the chunks before a resume).
        let mut reported = report.errors.len();
        // Rows ok and failed counted in `/metrics` so far (by this process).
        let mut counted = (report.ok, report.failed);
        svc.store.set_optimistic(!opts.dry_run);
        // Licence units are counted from what is stored: rows held back would go uncounted.
        svc.store.set_holding(!svc.licensing_enforced());
        // Rows are read a chunk ahead, so that the ids they look up are read in one go
        // ([`crate::prefetch`]).
        let mut ahead: std::collections::VecDeque<bulk::Row> = Default::default();
        loop {
            if ahead.is_empty() {
                ahead.extend(rows.by_ref().take(CHUNK_ROWS));
                if ahead.is_empty() {
                    break;
                }
                if opts.mode == ImportMode::Add {
                    svc.prefetch_ids(ahead.iter().filter_map(|r| r.record.as_ref().ok()))
                        .await?;
                }
            }
            let Some(row) = ahead.pop_front() else {
                break;
            };
            svc.import_one(actor, opts, template.as_ref(), &row, &mut report)
                .await;
            pending.push(row);
            let ends = opts.stop_on_error && report.failed > 0
                || pending.len() >= CHUNK_ROWS
                || started.elapsed() >= CHUNK_TIME;
            svc.settle_chunk(
                actor,
                opts,
                template.as_ref(),
                &pending,
                &mut report,
                before,
                ends,
            )
            .await;
            if let Some(m) = report.unavailable.take() {
                return Err(Error::Unavailable(m));
            }
            let stop = opts.stop_on_error && report.failed > 0;
            // Progress is told only of committed rows, and the job's record is written in the
            // same transaction as they are: what a killed import reported done is stored.
            if stop || pending.len() >= CHUNK_ROWS || started.elapsed() >= CHUNK_TIME {
                if !opts.dry_run {
                    svc.commit_rows(job, &report, &mut reported, None, run)
                        .await?;
                    self.count_committed(opts.kind, &report, &mut counted);
                }
                progress(&report);
                svc.store
                    .set_optimistic(!opts.dry_run && report.failed == before.failed);
                pending.clear();
                before = report.mark();
                started = std::time::Instant::now();
            }
            if stop {
                report.stopped = true;
                break;
            }
        }
        svc.settle_chunk(
            actor,
            opts,
            template.as_ref(),
            &pending,
            &mut report,
            before,
            true,
        )
        .await;
        if let Some(m) = report.unavailable.take() {
            return Err(Error::Unavailable(m));
        }
        let summary = report.summary();
        if opts.dry_run {
            svc.rollback_batch().await;
            self.commit_rows(job, &report, &mut reported, Some(&summary), run)
                .await?;
        } else {
            svc.commit_rows(job, &report, &mut reported, Some(&summary), run)
                .await?;
            self.count_committed(opts.kind, &report, &mut counted);
        }
        progress(&report);
        if !opts.dry_run {
            self.audit_import(actor, opts, &report).await?;
        }
        Ok(report)
    }

    /// After a row: when the chunk `ends`, writes the rows held back (a failure among them
    /// poisons it); a poisoned chunk is run again, each row in its savepoint, from where the
    /// report was before it: what failed fails alone and says why.
    #[allow(clippy::too_many_arguments)]
    async fn settle_chunk(
        &self,
        actor: &Actor,
        opts: &ImportOptions,
        template: Option<&Template>,
        pending: &[bulk::Row],
        report: &mut ImportReport,
        before: Mark,
        ends: bool,
    ) {
        if ends {
            // Poisons the batch on failure (and does nothing on one poisoned already).
            let _ = self.store.write_held().await;
        }
        if self.store.poisoned() {
            self.replay(actor, opts, template, pending, report, before)
                .await;
        }
    }

    /// Runs the rows of a poisoned chunk again, each in its savepoint, from where the report
    /// was before them: what failed fails alone and says why.
    async fn replay(
        &self,
        actor: &Actor,
        opts: &ImportOptions,
        template: Option<&Template>,
        pending: &[bulk::Row],
        report: &mut ImportReport,
        before: Mark,
    ) {
        self.rollback_batch().await;
        self.store.set_optimistic(false);
        report.back_to(before);
        for row in pending {
            self.import_one(actor, opts, template, row, report).await;
        }
    }

    /// Runs one row of an import and counts how it went in `report`.
    async fn import_one(
        &self,
        actor: &Actor,
        opts: &ImportOptions,
        template: Option<&Template>,
        row: &bulk::Row,
        report: &mut ImportReport,
    ) {
        report.rows += 1;
        let record = match &row.record {
            Err(errors) => {
                report.failed += 1;
                report.errors.extend(errors.iter().cloned());
                return;
            }
            Ok(record) => record,
        };
        let mut record = record.clone();
        if let Some(t) = template {
            crate::templates::fill(&mut record, &t.fields);
        }
        match self.import_row(actor, opts, record.clone()).await {
            Ok(()) => report.ok += 1,
            // A poisoned batch is run again: what failed is found then. So is one holding rows
            // back, which the failed row could not see.
            Err(_) if self.store.poisoned() || self.store.poison_if_held() => {}
            Err(Error::Unavailable(m)) => report.unavailable = Some(m),
            Err(Error::Conflict { .. })
                if opts.mode == ImportMode::Add && self.already_there(opts.kind, &record).await =>
            {
                report.ok += 1;
                report.unchanged += 1;
            }
            Err(e @ Error::Conflict { .. })
                if opts.mode == ImportMode::Add && opts.kind == Kind::Users =>
            {
                match self.complete_user(actor, &record).await {
                    Ok(true) => report.ok += 1,
                    Err(_) if self.store.poisoned() => {}
                    Err(Error::Unavailable(m)) => report.unavailable = Some(m),
                    Ok(false) => row_failed(report, opts.kind, row.line, &record, &e),
                    Err(e) => row_failed(report, opts.kind, row.line, &record, &e),
                }
            }
            Err(e) => row_failed(report, opts.kind, row.line, &record, &e),
        }
    }

    /// Counts the rows committed since `counted` ([`Service::imported_rows`]).
    fn count_committed(&self, kind: Kind, report: &ImportReport, counted: &mut (u64, u64)) {
        self.count_imported(
            kind.name(),
            report.ok - counted.0,
            report.failed - counted.1,
        );
        *counted = (report.ok, report.failed);
    }

    /// Writes the job's progress (and the row errors found since `reported`) and commits the
    /// batch with it.
    async fn commit_rows(
        &self,
        job: i64,
        report: &ImportReport,
        reported: &mut usize,
        end: Option<&str>,
        run: Option<&str>,
    ) -> Result<()> {
        let new: Vec<(u64, Option<String>, String)> = report.errors[*reported..]
            .iter()
            .map(|e| (e.line, e.column.clone(), e.reason.clone()))
            .collect();
        let mut tx = self.store.write_unversioned().await?;
        store::templates::progress(
            tx.conn(),
            job,
            &store::templates::Progress {
                rows_done: report.rows as i64,
                ok: report.ok as i64,
                unchanged: report.unchanged as i64,
                failed: report.failed as i64,
                new_errors: &new,
                end: end.map(|m| (JobState::Done, m)),
                run,
            },
        )
        .await
        .map_err(|e| match e {
            store::Error::Stale => Error::Conflict {
                field: Some("run".into()),
                message: format!("import job {job} was taken over by another node"),
            },
            e => e.into(),
        })?;
        tx.commit().await?;
        self.commit_batch().await?;
        *reported = report.errors.len();
        Ok(())
    }

    async fn audit_import(
        &self,
        actor: &Actor,
        opts: &ImportOptions,
        report: &ImportReport,
    ) -> Result<()> {
        let result = match (report.ok, report.failed) {
            (_, 0) => Outcome::Ok,
            (0, _) => Outcome::Failed,
            _ => Outcome::Partial,
        };
        let mut detail = format!("{} ({} mode)", report.summary(), opts.mode.name());
        for e in report.errors.iter().take(1000) {
            detail.push_str("; ");
            detail.push_str(&e.to_string());
        }
        if report.errors.len() > 1000 {
            detail.push_str(&format!("; and {} more", report.errors.len() - 1000));
        }
        let mut tx = self.store.write().await?;
        store::audit::append(
            tx.conn(),
            &NewEntry {
                actor: &actor.name,
                action: Action::Import.as_str(),
                resource: opts.kind.name(),
                target: &opts.source,
                system: "",
                result,
                detail: &detail,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn import_row(
        &self,
        actor: &Actor,
        opts: &ImportOptions,
        r: Map<String, Value>,
    ) -> Result<()> {
        use ImportMode::*;
        let mut r = r;
        if opts.kind == Kind::Phones {
            if let Some(user) = take_user(&mut r) {
                if opts.mode == Delete {
                    return Err(Error::invalid(
                        "user",
                        "the user columns (USER ID, FIRST NAME, …) add or change a phone's user: leave them out of a file that deletes phones",
                    ));
                }
                return self.import_phone_with_user(actor, opts, r, user).await;
            }
        }
        let system = text(&r, "system").map(str::to_string);
        let system = system.as_deref();
        match (opts.kind, opts.mode) {
            (Kind::Users, Add) => {
                self.add_user(actor, input(r)?).await?;
            }
            (Kind::Users, Modify) => {
                let key = text(&r, "user_id").unwrap_or("").to_string();
                let current = self.stored(opts.kind, &r).await?;
                let mut r = r;
                // ENABLE CUP alone leaves ENABLE CUPC as it is (the patch sets both).
                crate::templates::merge_capabilities(&current, &mut r);
                let p = patch(r, &["user_id", "system"], version(&current))?;
                drop(self.update_user(actor, &key, system, p).await?)
            }
            (Kind::Users, Delete) => {
                let key = text(&r, "user_id").unwrap_or("");
                self.delete_user(actor, key, system).await?
            }
            // A user's application profiles: the row sets them (add and modify alike);
            // delete clears them.
            (Kind::AppProfiles, mode) => {
                let key = text(&r, "user_id").unwrap_or("").to_string();
                let v = version(&self.stored(opts.kind, &r).await?);
                let profiles = if mode == Delete {
                    Value::Object(Map::new())
                } else {
                    r.get("app_profiles")
                        .cloned()
                        .unwrap_or_else(|| Value::Object(Map::new()))
                };
                let mut m = Map::new();
                m.insert("app_profiles".into(), profiles);
                drop(
                    self.update_user(actor, &key, system, patch(m, &[], v)?)
                        .await?,
                )
            }
            (Kind::Lines, Add) => {
                self.add_line(actor, input(r)?).await?;
            }
            (Kind::Lines, Modify) | (Kind::Lines, Delete) => {
                let key = text(&r, "pattern").unwrap_or("").to_string();
                let partition = text(&r, "partition").map(str::to_string);
                let partition = Some(partition.as_deref().unwrap_or(""));
                if opts.mode == Delete {
                    return self.delete_line(actor, &key, partition, system).await;
                }
                let v = version(&self.stored(opts.kind, &r).await?);
                let p = patch(r, &["pattern", "partition", "system"], v)?;
                drop(self.update_line(actor, &key, partition, system, p).await?)
            }
            (Kind::Phones, Add) => {
                let spec = input::<NewPhone>(r)?.into();
                {
                    self.add_device(actor, DeviceClass::Phone, spec).await?;
                }
            }
            (Kind::Phones, Modify) => {
                let key = phone_name(&r)?;
                let v = version(&self.stored(opts.kind, &r).await?);
                let p = patch(r, &["name", "mac", "system"], v)?;
                drop(self.update_phone(actor, &key, p).await?)
            }
            (Kind::Phones, Delete) => self.delete_phone(actor, &phone_name(&r)?).await?,
            (Kind::DeviceProfiles, Add) => {
                let spec = input::<NewDeviceProfile>(r)?.into();
                {
                    self.add_device(actor, DeviceClass::DeviceProfile, spec)
                        .await?;
                }
            }
            (Kind::DeviceProfiles, Modify) => {
                let key = text(&r, "name").unwrap_or("").to_string();
                let v = version(&self.stored(opts.kind, &r).await?);
                let p = patch(r, &["name"], v)?;
                drop(self.update_device_profile(actor, &key, p).await?)
            }
            (Kind::DeviceProfiles, Delete) => {
                let key = text(&r, "name").unwrap_or("");
                self.delete_device_profile(actor, key).await?
            }
            (Kind::VoicemailSubscribers, Add) => {
                drop(self.create_voicemail_subscriber(actor, input(r)?).await?)
            }
            (Kind::VoicemailSubscribers, Modify) => {
                let key = text(&r, "alias").unwrap_or("").to_string();
                let v = version(&self.stored(opts.kind, &r).await?);
                let p = patch(r, &["alias", "system"], v)?;
                drop(
                    self.update_voicemail_subscriber(actor, &key, system, p)
                        .await?,
                )
            }
            (Kind::VoicemailSubscribers, Delete) => {
                let key = text(&r, "alias").unwrap_or("");
                self.delete_voicemail_subscriber(actor, key, system).await?
            }
            (Kind::UserProfiles, Add) => drop(self.create_user_profile(actor, input(r)?).await?),
            (Kind::UniversalDeviceTemplates, Add) => {
                drop(self.create_device_template(actor, input(r)?).await?)
            }
            (Kind::UniversalLineTemplates, Add) => {
                drop(self.create_line_template(actor, input(r)?).await?)
            }
            (Kind::DialRules, Add) => {
                rule_type(&r)?;
                drop(
                    self.create_client_record(actor, ClientKind::DialRule, Value::Object(r))
                        .await?,
                )
            }
            (Kind::DialRules, Modify) => {
                rule_type(&r)?;
                let key = text(&r, "name").unwrap_or("").to_string();
                let v = version(&self.stored(opts.kind, &r).await?);
                let p = patch::<Value>(r, &["name"], v)?;
                drop(
                    self.update_client_record(actor, ClientKind::DialRule, &key, p)
                        .await?,
                )
            }
            (Kind::DialRules, Delete) => {
                let key = text(&r, "name").unwrap_or("");
                self.delete_client_record(actor, ClientKind::DialRule, key)
                    .await?
            }
            (
                Kind::UserProfiles | Kind::UniversalDeviceTemplates | Kind::UniversalLineTemplates,
                Delete,
            ) => {
                let key = text(&r, "name").unwrap_or("");
                match opts.kind {
                    Kind::UserProfiles => self.delete_user_profile(actor, key, system).await?,
                    Kind::UniversalDeviceTemplates => {
                        self.delete_device_template(actor, key, system).await?
                    }
                    _ => self.delete_line_template(actor, key, system).await?,
                }
            }
            (
                Kind::UserProfiles | Kind::UniversalDeviceTemplates | Kind::UniversalLineTemplates,
                Modify,
            ) => {
                let key = text(&r, "name").unwrap_or("").to_string();
                let stored = self.stored(opts.kind, &r).await?;
                let mut r = r;
                // A template's settings are replaced whole by a patch: the row's cells go over
                // what is stored, so the columns a file leaves out stay as they are.
                for settings in ["device", "line"] {
                    if let (Some(Value::Object(row)), Some(Value::Object(now))) =
                        (r.get(settings).cloned(), stored.get(settings))
                    {
                        let mut merged = now.clone();
                        merged.extend(row);
                        r.insert(settings.into(), Value::Object(merged));
                    }
                }
                let keys = ["name", "system"];
                let v = version(&stored);
                match opts.kind {
                    Kind::UserProfiles => drop(
                        self.update_user_profile(actor, &key, system, patch(r, &keys, v)?)
                            .await?,
                    ),
                    Kind::UniversalDeviceTemplates => drop(
                        self.update_device_template(actor, &key, system, patch(r, &keys, v)?)
                            .await?,
                    ),
                    _ => drop(
                        self.update_line_template(actor, &key, system, patch(r, &keys, v)?)
                            .await?,
                    ),
                }
            }
        }
        Ok(())
    }
}

impl Service {
    /// A phones row with user columns (BAT's "phones with users"), all or nothing: the user is
    /// added (or the columns given change it), the phone added or changed with that user as its
    /// owner (unless OWNER USER ID names another), and the phone associated with the user. The
    /// user's primary extension is set last, so that it may be a line the phone brings.
    async fn import_phone_with_user(
        &self,
        actor: &Actor,
        opts: &ImportOptions,
        mut r: Map<String, Value>,
        mut user: Map<String, Value>,
    ) -> Result<()> {
        let system = text(&r, "system").map(str::to_string);
        let system = system.as_deref();
        let uid = match text(&user, "user_id").map(str::trim) {
            Some(u) if !u.is_empty() => u.to_string(),
            _ => {
                return Err(Error::invalid(
                    "user.user_id",
                    "is empty: the user columns of a phone (FIRST NAME, PASSWORD, …) need the USER ID they are for",
                ))
            }
        };
        let name = phone_name(&r)?;
        let extension: Map<String, Value> = ["primary_extension", "primary_extension_partition"]
            .into_iter()
            .filter_map(|k| user.remove(k).map(|v| (k.to_string(), v)))
            .collect();
        r.entry("owner_user_id")
            .or_insert_with(|| Value::from(uid.clone()));
        self.store.begin_group().await?;
        let done = async {
            self.import_phone_user(actor, system, &uid, user)
                .await
                .map_err(in_user)?;
            Box::pin(self.import_row(actor, opts, r)).await?;
            self.associate_phone(actor, &uid, system, &name, extension)
                .await
                .map_err(in_user)
        }
        .await;
        let ended = self.store.end_group(done.is_ok()).await;
        done?;
        Ok(ended?)
    }

    /// The user of a phones row: added when not stored, else changed where the row's columns
    /// differ from what is stored.
    async fn import_phone_user(
        &self,
        actor: &Actor,
        system: Option<&str>,
        uid: &str,
        mut u: Map<String, Value>,
    ) -> Result<()> {
        match self.user(uid, system).await {
            Ok(current) => {
                let current = json(current)?;
                u.remove("user_id");
                if within(&Value::Object(u.clone()), &current, "") {
                    return Ok(());
                }
                crate::templates::merge_capabilities(&current, &mut u);
                let p = patch(u, &[], version(&current))?;
                drop(self.update_user(actor, uid, system, p).await?);
            }
            Err(Error::NotFound(_)) => {
                if let Some(s) = system {
                    u.insert("system".into(), Value::from(s));
                }
                self.add_user(actor, input(u)?).await?;
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Associates phone `name` with user `uid` (a controlled device), and sets the user's
    /// primary extension when the row gives one: one change of the user, or none.
    async fn associate_phone(
        &self,
        actor: &Actor,
        uid: &str,
        system: Option<&str>,
        name: &str,
        extension: Map<String, Value>,
    ) -> Result<()> {
        let current = json(self.user(uid, system).await?)?;
        let mut p = if within(&Value::Object(extension.clone()), &current, "") {
            Map::new()
        } else {
            extension
        };
        let devices = current["devices"].as_array().cloned().unwrap_or_default();
        if !devices
            .iter()
            .any(|d| d.as_str().is_some_and(|d| d.eq_ignore_ascii_case(name)))
        {
            let mut devices = devices;
            devices.push(Value::from(name));
            p.insert("devices".into(), Value::Array(devices));
        }
        if p.is_empty() {
            return Ok(());
        }
        let p = patch(p, &[], version(&current))?;
        drop(self.update_user(actor, uid, system, p).await?);
        Ok(())
    }

    /// A users row in add mode whose user is stored already, with every value the row gives
    /// but some of its associations ([`USER_ASSOCIATIONS`]): a user a phones file's user
    /// columns brought, or one made before the file. The associations are set as the row has
    /// them, and the row is done; `false` when the row is not such a row (its add then fails as
    /// a conflict).
    async fn complete_user(&self, actor: &Actor, r: &Map<String, Value>) -> Result<bool> {
        if has_secret(r) {
            return Ok(false);
        }
        let Ok(stored) = self.stored(Kind::Users, r).await else {
            return Ok(false);
        };
        let (lists, values): (Map<String, Value>, Map<String, Value>) = r
            .clone()
            .into_iter()
            .partition(|(k, _)| USER_ASSOCIATIONS.contains(&k.as_str()));
        if lists.is_empty() || !within(&Value::Object(values), &stored, "") {
            return Ok(false);
        }
        let key = text(r, "user_id").unwrap_or("").to_string();
        let p = patch(lists, &[], version(&stored))?;
        drop(self.update_user(actor, &key, text(r, "system"), p).await?);
        Ok(true)
    }

    /// Whether the record the row names is stored with every value the row gives. Rows with
    /// secrets never are (a stored secret is a hash: it cannot be compared here). A phones
    /// row's user columns are compared with its user, who must be associated with the phone.
    async fn already_there(&self, kind: Kind, r: &Map<String, Value>) -> bool {
        if has_secret(r) {
            return false;
        }
        let mut r = r.clone();
        if kind == Kind::Phones {
            if let Some(user) = take_user(&mut r) {
                if has_secret(&user) {
                    return false;
                }
                let uid = text(&user, "user_id").unwrap_or("").to_string();
                r.entry("owner_user_id")
                    .or_insert_with(|| Value::from(uid.clone()));
                let Ok(name) = phone_name(&r) else {
                    return false;
                };
                let Ok(stored) = self.user(&uid, text(&r, "system")).await.and_then(json) else {
                    return false;
                };
                let associated = stored["devices"].as_array().is_some_and(|d| {
                    d.iter()
                        .any(|d| d.as_str().is_some_and(|d| d.eq_ignore_ascii_case(&name)))
                });
                if !associated || !within(&Value::Object(user), &stored, "") {
                    return false;
                }
            }
        }
        match self.stored(kind, &r).await {
            Ok(stored) => within(&Value::Object(r), &stored, ""),
            Err(_) => false,
        }
    }

    /// The record the row names, as the API answers it.
    async fn stored(&self, kind: Kind, r: &Map<String, Value>) -> Result<Value> {
        let system = text(r, "system");
        let key = |k: &str| text(r, k).unwrap_or("").to_string();
        match kind {
            Kind::Users | Kind::AppProfiles => json(self.user(&key("user_id"), system).await?),
            Kind::Lines => {
                let partition = Some(text(r, "partition").unwrap_or(""));
                json(self.line(&key("pattern"), partition, system).await?)
            }
            Kind::Phones => json(self.phone(&phone_name(r)?).await?),
            Kind::DeviceProfiles => json(self.device_profile(&key("name")).await?),
            Kind::VoicemailSubscribers => {
                json(self.voicemail_subscriber(&key("alias"), system).await?)
            }
            Kind::UserProfiles => json(self.user_profile(&key("name"), system).await?),
            Kind::UniversalDeviceTemplates => {
                json(self.device_template(&key("name"), system).await?)
            }
            Kind::UniversalLineTemplates => json(self.line_template(&key("name"), system).await?),
            Kind::DialRules => self.client_record(ClientKind::DialRule, &key("name")).await,
        }
    }

    /// Every record of `kind`, as the API answers them (for `bulk::write`), read a page at a
    /// time in the order of their names.
    pub async fn export(&self, kind: Kind) -> Result<Vec<Value>> {
        self.export_with(kind, |_, _| {}).await
    }

    /// [`Service::export`], telling `progress` (records read, records in all) after each page.
    /// A phone associated with its owner carries the owner's user columns (BAT's "phones with
    /// users"): a phones file brings the users who own phones, before the users file.
    pub async fn export_with(
        &self,
        kind: Kind,
        progress: impl FnMut(u64, u64),
    ) -> Result<Vec<Value>> {
        let mut out = self.export_records(kind, progress).await?;
        if kind == Kind::Phones {
            let owners: std::collections::HashMap<(String, String), Value> = self
                .export_records(Kind::Users, |_, _| {})
                .await?
                .into_iter()
                .filter(|u| u["devices"].as_array().is_some_and(|d| !d.is_empty()))
                .map(|u| {
                    let key = (
                        u["system"].as_str().unwrap_or("").to_string(),
                        u["user_id"].as_str().unwrap_or("").to_string(),
                    );
                    (key, u)
                })
                .collect();
            for phone in &mut out {
                let key = (
                    phone["system"].as_str().unwrap_or("").to_string(),
                    phone["owner_user_id"].as_str().unwrap_or("").to_string(),
                );
                let name = phone["name"].as_str().unwrap_or("");
                if let Some(owner) = owners.get(&key) {
                    let controls = owner["devices"]
                        .as_array()
                        .is_some_and(|d| d.iter().any(|d| d.as_str() == Some(name)));
                    if controls {
                        phone["user"] = owner.clone();
                    }
                }
            }
        }
        Ok(out)
    }

    async fn export_records(
        &self,
        kind: Kind,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut f = model::Find {
            limit: 1000,
            ..Default::default()
        };
        // The first page counts every record (for progress); the pages after it only say
        // whether one follows.
        let mut all = None;
        loop {
            let (items, more, total) = match kind {
                Kind::Users | Kind::AppProfiles => page_json(self.find_users(&f).await?)?,
                Kind::Phones => page_json(self.find_phones(&f).await?)?,
                Kind::DeviceProfiles => page_json(self.find_device_profiles(&f).await?)?,
                Kind::Lines => page_json(self.find_lines(&f).await?)?,
                Kind::VoicemailSubscribers => {
                    page_json(self.find_voicemail_subscribers(&f).await?)?
                }
                Kind::UserProfiles => page_json(self.find_user_profiles(&f).await?)?,
                Kind::UniversalDeviceTemplates => page_json(self.find_device_templates(&f).await?)?,
                Kind::UniversalLineTemplates => page_json(self.find_line_templates(&f).await?)?,
                Kind::DialRules => {
                    page_json(self.find_client_records(ClientKind::DialRule, &f).await?)?
                }
            };
            let n = items.len() as i64;
            out.extend(items);
            f.offset += n;
            let all = *all.get_or_insert(total);
            f.count_up_to = Some(model::Find::LIST_COUNT);
            progress(out.len() as u64, all.max(out.len() as i64) as u64);
            if n == 0 || !more {
                return Ok(out);
            }
        }
    }
}

/// A page's records as JSON, whether a page follows, and the total.
fn page_json<T: serde::Serialize>(p: Page<T>) -> Result<(Vec<Value>, bool, i64)> {
    let more = p.has_next();
    Ok((json_items(p.items)?, more, p.total))
}

fn json<T: serde::Serialize>(item: T) -> Result<Value> {
    serde_json::to_value(item).map_err(|e| Error::Internal(e.to_string()))
}

fn json_items<T: serde::Serialize>(items: Vec<T>) -> Result<Vec<Value>> {
    items.into_iter().map(json).collect()
}

/// The `version` of a record as the API answers it.
fn version(record: &Value) -> i64 {
    record["version"].as_i64().unwrap_or_default()
}

/// Whether every value of `row` is in `stored` (lists entry by entry, MACs in any spelling).
fn within(row: &Value, stored: &Value, key: &str) -> bool {
    match (row, stored) {
        (Value::Object(a), Value::Object(b)) => a
            .iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| within(v, w, k))),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(v, w)| within(v, w, key))
        }
        (Value::String(a), Value::String(b)) if key == "mac" => {
            matches!((Mac::parse(a), Mac::parse(b)), (Ok(x), Ok(y)) if x == y)
        }
        (a, b) => a == b,
    }
}

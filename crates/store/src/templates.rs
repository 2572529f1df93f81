//! Templates (user, phone, device profile) and import jobs with their row errors.

use crate::sql::Sql;
use crate::{now, versioned, Error, Result};
use model::{ImportJob, JobState, Template, TemplateKind};
use sqlx::{AnyConnection, Row};

const COLS: &str = "id, kind, name, description, fields_json, version, created_at, updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Template> {
    let kind: String = r.try_get("kind")?;
    Ok(Template {
        id: r.try_get("id")?,
        kind: TemplateKind::parse(&kind).map_err(|e| Error::Db(e.to_string()))?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        fields: serde_json::from_str(&r.try_get::<String, _>("fields_json")?).unwrap_or_default(),
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Templates of `kind` (every kind when `None`) whose name starts with `prefix`, by name.
pub async fn list(
    conn: &mut AnyConnection,
    kind: Option<TemplateKind>,
    prefix: &str,
) -> Result<Vec<Template>> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM templates WHERE "));
    crate::sql::push_prefix(&mut q, "name", prefix);
    if let Some(k) = kind {
        q.push(" AND kind = ").bind(k.as_str());
    }
    q.push(" ORDER BY kind, name");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

pub async fn by_name(conn: &mut AnyConnection, kind: TemplateKind, name: &str) -> Result<Template> {
    let r = sqlx::query(&format!(
        "SELECT {COLS} FROM templates WHERE kind = $1 AND name = $2"
    ))
    .bind(kind.as_str())
    .bind(name)
    .fetch_optional(conn)
    .await?;
    r.as_ref().map(from_row).transpose()?.ok_or(Error::NotFound)
}

pub async fn insert(conn: &mut AnyConnection, t: &Template) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO templates (kind, name, description, fields_json, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(t.kind.as_str())
    .bind(&t.name)
    .bind(&t.description)
    .bind(crate::to_json(&t.fields))
    .bind(now())
    .fetch_one(conn)
    .await?)
}

pub async fn update(conn: &mut AnyConnection, t: &Template, expected_version: i64) -> Result<()> {
    versioned(
        sqlx::query(
            "UPDATE templates SET name = $1, description = $2, fields_json = $3, version = version + 1, updated_at = $4 \
             WHERE id = $5 AND version = $6",
        )
        .bind(&t.name)
        .bind(&t.description)
        .bind(crate::to_json(&t.fields))
        .bind(now())
        .bind(t.id)
        .bind(expected_version)
        .execute(conn)
        .await?
        .rows_affected(),
    )
}

pub async fn delete(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM templates WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

// --- import jobs ----------------------------------------------------------------------------

const JOB_COLS: &str =
    "id, kind, mode, dry_run, stop_on_error, template, source, actor, state, rows_total, \
    rows_done, ok, unchanged, failed, message, created_at, updated_at, finished_at";

/// How long a running job may go without committing before it counts as interrupted (a batch
/// commits at least every fraction of a second while it runs).
pub const JOB_SILENCE: std::time::Duration = std::time::Duration::from_secs(60);

fn job_from_row(r: &sqlx::any::AnyRow) -> Result<ImportJob> {
    let mut state = JobState::from_db(&r.try_get::<String, _>("state")?);
    let updated_at: String = r.try_get("updated_at")?;
    if state == JobState::Running && crate::older_than(&updated_at, JOB_SILENCE) {
        state = JobState::Interrupted;
    }
    Ok(ImportJob {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        mode: r.try_get("mode")?,
        dry_run: r.try_get::<i64, _>("dry_run")? != 0,
        stop_on_error: r.try_get::<i64, _>("stop_on_error")? != 0,
        template: r.try_get("template")?,
        source: r.try_get("source")?,
        actor: r.try_get("actor")?,
        state,
        rows_total: r.try_get("rows_total")?,
        rows_done: r.try_get("rows_done")?,
        ok: r.try_get("ok")?,
        unchanged: r.try_get("unchanged")?,
        failed: r.try_get("failed")?,
        message: r.try_get("message")?,
        created_at: r.try_get("created_at")?,
        updated_at,
        finished_at: r.try_get("finished_at")?,
    })
}

/// A new job, running.
/// Records a new job, running; `run` is the node run doing it in the background, or '' for a
/// job done in the foreground ([`crate::cluster`]).
pub async fn insert_job(conn: &mut AnyConnection, j: &ImportJob, run: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO import_jobs (kind, mode, dry_run, stop_on_error, template, source, actor, state, rows_total, created_at, updated_at, run) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) RETURNING id",
    )
    .bind(&j.kind)
    .bind(&j.mode)
    .bind(j.dry_run as i64)
    .bind(j.stop_on_error as i64)
    .bind(&j.template)
    .bind(&j.source)
    .bind(&j.actor)
    .bind(JobState::Running.as_str())
    .bind(j.rows_total)
    .bind(now())
    .bind(run)
    .fetch_one(conn)
    .await?)
}

/// Where a job got to, with the row errors found since the last progress.
pub struct Progress<'a> {
    pub rows_done: i64,
    pub ok: i64,
    pub unchanged: i64,
    pub failed: i64,
    /// (line, column, reason)
    pub new_errors: &'a [(u64, Option<String>, String)],
    /// Set at the end: the state and the closing message.
    pub end: Option<(JobState, &'a str)>,
    /// The run the job must still belong to: when another node has taken it over, nothing is
    /// written and the answer is [`Error::Stale`].
    pub run: Option<&'a str>,
}

pub async fn progress(conn: &mut AnyConnection, id: i64, p: &Progress<'_>) -> Result<()> {
    if let Some(run) = p.run {
        // First, so that a job taken over writes none of its errors either.
        let r = sqlx::query("UPDATE import_jobs SET run = run WHERE id = $1 AND run = $2")
            .bind(id)
            .bind(run)
            .execute(&mut *conn)
            .await?;
        if r.rows_affected() == 0 {
            return Err(Error::Stale);
        }
    }
    for part in p.new_errors.chunks(100) {
        let mut q = Sql::new("INSERT INTO import_errors (job_id, line, col, reason) VALUES ");
        for (i, (line, col, reason)) in part.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .bind(id)
                .push(", ")
                .bind(*line as i64)
                .push(", ")
                .bind(col.clone())
                .push(", ")
                .bind(reason.as_str())
                .push(")");
        }
        q.query().execute(&mut *conn).await?;
    }
    if p.end.is_some() {
        // A job that ends lets go of its file ([`crate::cluster::put_part`]).
        crate::cluster::drop_parts(&mut *conn, id).await?;
    }
    let t = now();
    let (state, message, finished) = match p.end {
        Some((s, m)) => (s, m, Some(t.clone())),
        None => (JobState::Running, "", None),
    };
    sqlx::query(
        "UPDATE import_jobs SET rows_done = $1, ok = $2, unchanged = $3, failed = $4, state = $5, \
         message = $6, updated_at = $7, finished_at = $8 WHERE id = $9",
    )
    .bind(p.rows_done)
    .bind(p.ok)
    .bind(p.unchanged)
    .bind(p.failed)
    .bind(state.as_str())
    .bind(message)
    .bind(&t)
    .bind(finished)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn job(conn: &mut AnyConnection, id: i64) -> Result<ImportJob> {
    let r = sqlx::query(&format!("SELECT {JOB_COLS} FROM import_jobs WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    r.as_ref()
        .map(job_from_row)
        .transpose()?
        .ok_or(Error::NotFound)
}

/// The newest jobs first.
pub async fn jobs(
    conn: &mut AnyConnection,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ImportJob>, i64)> {
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM import_jobs")
        .fetch_one(&mut *conn)
        .await?;
    let rows = sqlx::query(&format!(
        "SELECT {JOB_COLS} FROM import_jobs ORDER BY id DESC LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await?;
    Ok((rows.iter().map(job_from_row).collect::<Result<_>>()?, total))
}

/// A job's row errors in file order: (line, column, reason).
pub async fn job_errors(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Vec<(i64, Option<String>, String)>> {
    let rows =
        sqlx::query("SELECT line, col, reason FROM import_errors WHERE job_id = $1 ORDER BY line")
            .bind(id)
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

/// Keeps the sealed file of dry-run job `job`, then forgets, newest first, the kept files
/// beyond the newest `keep` or beyond `bytes` in all (this one is kept whatever its size: the
/// caller checks it).
pub async fn keep_file(
    conn: &mut AnyConnection,
    job: i64,
    sealed: &str,
    keep: i64,
    bytes: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO import_files (job_id, sealed) VALUES ($1, $2)")
        .bind(job)
        .bind(sealed)
        .execute(&mut *conn)
        .await?;
    let kept: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT job_id, CAST(LENGTH(sealed) AS BIGINT) FROM import_files ORDER BY job_id DESC",
    )
    .fetch_all(&mut *conn)
    .await?;
    let (mut count, mut total) = (0, 0);
    for (id, len) in kept {
        if count > 0 && (count >= keep || total + len > bytes) {
            sqlx::query("DELETE FROM import_files WHERE job_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
        } else {
            count += 1;
            total += len;
        }
    }
    Ok(())
}

/// Whether the file of job `job` is kept.
pub async fn file_kept(conn: &mut AnyConnection, job: i64) -> Result<bool> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM import_files WHERE job_id = $1")
            .bind(job)
            .fetch_one(conn)
            .await?
            > 0,
    )
}

/// Takes the kept file of job `job` (it is kept no more).
pub async fn take_file(conn: &mut AnyConnection, job: i64) -> Result<Option<String>> {
    let sealed: Option<String> =
        sqlx::query_scalar("SELECT sealed FROM import_files WHERE job_id = $1")
            .bind(job)
            .fetch_optional(&mut *conn)
            .await?;
    sqlx::query("DELETE FROM import_files WHERE job_id = $1")
        .bind(job)
        .execute(conn)
        .await?;
    Ok(sealed)
}

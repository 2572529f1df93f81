//! The nodes of a cluster on one database, the leases on work one node does at a time, and the
//! claims on background import jobs (issue 17). Times here are the database's clock in
//! milliseconds since 1970 ([`crate::Store::clock_ms`]), so that nodes whose clocks differ agree
//! on who is alive.

use crate::{now, Result};
use sqlx::{AnyConnection, Row};

/// A node as it last said it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub name: String,
    /// This start of the node.
    pub run: String,
    pub version: String,
    /// Its listeners (JSON).
    pub addresses: String,
    /// The address phones are given for it (TFTP server lists); empty for none.
    pub tftp_host: String,
    pub started_at: String,
    pub heartbeat_ms: i64,
    /// It stopped on purpose.
    pub stopped: bool,
    /// What it is doing (JSON), as of its last heartbeat.
    pub doing: String,
}

const NODE_COLS: &str =
    "name, run, version, addresses, tftp_host, started_at, heartbeat_ms, stopped, doing";

fn node_from_row(r: &sqlx::any::AnyRow) -> Result<NodeRow> {
    Ok(NodeRow {
        name: r.try_get("name")?,
        run: r.try_get("run")?,
        version: r.try_get("version")?,
        addresses: r.try_get("addresses")?,
        tftp_host: r.try_get("tftp_host")?,
        started_at: r.try_get("started_at")?,
        heartbeat_ms: r.try_get("heartbeat_ms")?,
        stopped: r.try_get::<i64, _>("stopped")? != 0,
        doing: r.try_get("doing")?,
    })
}

/// Every node, by name.
pub async fn nodes(conn: &mut AnyConnection) -> Result<Vec<NodeRow>> {
    let rows = sqlx::query(&format!("SELECT {NODE_COLS} FROM nodes ORDER BY name"))
        .fetch_all(conn)
        .await?;
    rows.iter().map(node_from_row).collect()
}

/// Records a node's new run (replacing the one before under its name). Answers the row it
/// replaced, if any.
pub async fn register(conn: &mut AnyConnection, n: &NodeRow) -> Result<Option<NodeRow>> {
    let before = sqlx::query(&format!("SELECT {NODE_COLS} FROM nodes WHERE name = $1"))
        .bind(&n.name)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(node_from_row)
        .transpose()?;
    sqlx::query(
        "INSERT INTO nodes (name, run, version, addresses, tftp_host, started_at, heartbeat_ms, stopped, doing) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8) \
         ON CONFLICT (name) DO UPDATE SET run = excluded.run, version = excluded.version, \
         addresses = excluded.addresses, tftp_host = excluded.tftp_host, \
         started_at = excluded.started_at, heartbeat_ms = excluded.heartbeat_ms, stopped = 0, \
         doing = excluded.doing",
    )
    .bind(&n.name)
    .bind(&n.run)
    .bind(&n.version)
    .bind(&n.addresses)
    .bind(&n.tftp_host)
    .bind(&n.started_at)
    .bind(n.heartbeat_ms)
    .bind(&n.doing)
    .execute(conn)
    .await?;
    Ok(before)
}

/// A run says it is alive at `at_ms`, doing `doing`. False when the node's name now belongs to
/// another run (a second process started under the same name).
pub async fn heartbeat(
    conn: &mut AnyConnection,
    name: &str,
    run: &str,
    at_ms: i64,
    doing: &str,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE nodes SET heartbeat_ms = $1, doing = $2, stopped = 0 WHERE name = $3 AND run = $4",
    )
    .bind(at_ms)
    .bind(doing)
    .bind(name)
    .bind(run)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A run stops on purpose: its work is for others to take at once.
pub async fn stopped(conn: &mut AnyConnection, name: &str, run: &str) -> Result<()> {
    sqlx::query("UPDATE nodes SET stopped = 1 WHERE name = $1 AND run = $2")
        .bind(name)
        .bind(run)
        .execute(&mut *conn)
        .await?;
    drop_leases(conn, run).await
}

/// Lets go of every lease `run` holds.
pub async fn drop_leases(conn: &mut AnyConnection, run: &str) -> Result<()> {
    sqlx::query("DELETE FROM leases WHERE run = $1")
        .bind(run)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets a node (it leaves the phones' server lists). False when there was none.
pub async fn forget(conn: &mut AnyConnection, name: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM nodes WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The addresses phones are given, by node name.
pub async fn tftp_hosts(conn: &mut AnyConnection) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT tftp_host FROM nodes WHERE tftp_host <> '' ORDER BY name")
            .fetch_all(conn)
            .await?,
    )
}

/// Takes, or keeps, the lease `name` for `run` until `at_ms + ttl_ms`: answers whether `run`
/// holds it (it was free, had run out, or was already this run's).
pub async fn lease(
    conn: &mut AnyConnection,
    name: &str,
    run: &str,
    at_ms: i64,
    ttl_ms: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE leases SET run = $1, until_ms = $2 WHERE name = $3 AND (run = $1 OR until_ms < $4)",
    )
    .bind(run)
    .bind(at_ms + ttl_ms)
    .bind(name)
    .bind(at_ms)
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() == 1 {
        return Ok(true);
    }
    let r = sqlx::query(
        "INSERT INTO leases (name, run, until_ms) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(run)
    .bind(at_ms + ttl_ms)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The leases held at `at_ms`: (name, run).
pub async fn leases(conn: &mut AnyConnection, at_ms: i64) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT name, run FROM leases WHERE until_ms >= $1 ORDER BY name")
        .bind(at_ms)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Background import jobs still running whose run is not alive at `alive_after_ms` (no
/// heartbeat since, stopped, or gone): (job, its run).
pub async fn orphaned_jobs(
    conn: &mut AnyConnection,
    alive_after_ms: i64,
) -> Result<Vec<(i64, String)>> {
    let rows = sqlx::query(
        "SELECT id, run FROM import_jobs WHERE state = 'running' AND run <> '' AND run NOT IN \
         (SELECT run FROM nodes WHERE stopped = 0 AND heartbeat_ms > $1) ORDER BY id",
    )
    .bind(alive_after_ms)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Gives a running job to `run` when it still belongs to `from`: answers whether it did (of
/// several nodes claiming one job, one wins).
pub async fn claim_job(conn: &mut AnyConnection, id: i64, from: &str, run: &str) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE import_jobs SET run = $1, updated_at = $2 WHERE id = $3 AND run = $4 AND state = 'running'",
    )
    .bind(run)
    .bind(now())
    .bind(id)
    .bind(from)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The running jobs of `run`.
pub async fn jobs_of(conn: &mut AnyConnection, run: &str) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM import_jobs WHERE run = $1 AND state = 'running' ORDER BY id",
    )
    .bind(run)
    .fetch_all(conn)
    .await?)
}

/// Keeps part `part` of a job's file (sealed).
pub async fn put_part(conn: &mut AnyConnection, job: i64, part: i64, sealed: &str) -> Result<()> {
    sqlx::query("INSERT INTO import_parts (job_id, part, sealed) VALUES ($1, $2, $3)")
        .bind(job)
        .bind(part)
        .bind(sealed)
        .execute(conn)
        .await?;
    Ok(())
}

/// Part `part` of a job's file, if kept.
pub async fn part(conn: &mut AnyConnection, job: i64, part: i64) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT sealed FROM import_parts WHERE job_id = $1 AND part = $2")
            .bind(job)
            .bind(part)
            .fetch_optional(conn)
            .await?,
    )
}

/// Lets go of a job's file.
pub async fn drop_parts(conn: &mut AnyConnection, job: i64) -> Result<()> {
    sqlx::query("DELETE FROM import_parts WHERE job_id = $1")
        .bind(job)
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives a job (just recorded, its file kept) to the run that does it in the background.
pub async fn set_job_run(conn: &mut AnyConnection, id: i64, run: &str) -> Result<()> {
    sqlx::query("UPDATE import_jobs SET run = $1 WHERE id = $2")
        .bind(run)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The run a job belongs to ('' for one done in the foreground).
pub async fn job_run(conn: &mut AnyConnection, id: i64) -> Result<String> {
    Ok(
        sqlx::query_scalar("SELECT run FROM import_jobs WHERE id = $1")
            .bind(id)
            .fetch_one(conn)
            .await?,
    )
}

//! Device status: what each device last fetched, from where, with what.

use crate::Result;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

pub use model::status::{Report, ResyncReport, Seen};

/// Records a batch of requests, a hundred devices to a statement (an upsert; a device deleted
/// meanwhile is left out).
pub async fn record(conn: &mut AnyConnection, seen: &[Seen]) -> Result<()> {
    for part in seen.chunks(100) {
        let mut q = crate::sql::Sql::new(
            "INSERT INTO device_status (device_id, last_seen, last_ip, last_user_agent, last_file, last_protocol, requests, last_firmware) \
             SELECT d.id, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8 FROM (VALUES ",
        );
        for (i, s) in part.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .bind(s.device_id)
                .push(", ")
                .bind(s.at.as_str())
                .push(", ")
                .bind(s.ip.as_str())
                .push(", ")
                .bind(s.user_agent.as_str())
                .push(", ")
                .bind(s.file.as_str())
                .push(", ")
                .bind(s.protocol.as_str())
                .push(", ")
                .bind(s.requests)
                .push(", ")
                .bind(s.firmware.as_str())
                .push(")");
        }
        // `WHERE true` tells SQLite's parser the ON CONFLICT belongs to the INSERT.
        q.push(
            ") AS v JOIN devices d ON d.id = v.column1 WHERE true \
             ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen, last_ip = excluded.last_ip, \
             last_user_agent = excluded.last_user_agent, \
             last_file = excluded.last_file, last_protocol = excluded.last_protocol, \
             requests = device_status.requests + excluded.requests, \
             last_firmware = CASE WHEN excluded.last_firmware <> '' THEN excluded.last_firmware \
             ELSE device_status.last_firmware END",
        );
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, device_id: i64) -> Result<Option<Seen>> {
    let r = sqlx::query(
        "SELECT device_id, last_seen, last_ip, last_user_agent, last_file, last_protocol, requests, last_firmware \
         FROM device_status WHERE device_id = $1",
    )
    .bind(device_id)
    .fetch_optional(conn)
    .await?;
    r.map(|r| {
        Ok(Seen {
            device_id: r.try_get(0)?,
            at: r.try_get(1)?,
            ip: r.try_get(2)?,
            user_agent: r.try_get(3)?,
            file: r.try_get(4)?,
            protocol: r.try_get(5)?,
            requests: r.try_get(6)?,
            firmware: r.try_get(7)?,
        })
    })
    .transpose()
}

/// Records resync reports (each an upsert of the device's resync row).
pub async fn record_reports(conn: &mut AnyConnection, reports: &[ResyncReport]) -> Result<()> {
    for r in reports {
        let (column, error) = match r.report {
            Report::Requested => ("requested_at", None),
            Report::Succeeded => ("succeeded_at", None),
            Report::Failed => ("failed_at", Some(r.error.as_str())),
        };
        // The column name comes from the match above, never from input.
        let sql = format!(
            "INSERT INTO device_resync (device_id, {column}, error, firmware, syslog_ip) \
             SELECT id, $2, COALESCE($3, ''), $4, $5 FROM devices WHERE id = $1 \
             ON CONFLICT (device_id) DO UPDATE SET {column} = excluded.{column}, \
             error = COALESCE($3, device_resync.error), \
             firmware = CASE WHEN $4 = '' THEN device_resync.firmware ELSE $4 END, \
             syslog_ip = $5"
        );
        sqlx::query(&sql)
            .bind(r.device_id)
            .bind(&r.at)
            .bind(error)
            .bind(&r.firmware)
            .bind(&r.ip)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Records the outcome of a NOTIFY sent to a device.
pub async fn record_notify(
    conn: &mut AnyConnection,
    device_id: i64,
    at: &str,
    outcome: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO device_resync (device_id, notified_at, notify_outcome) \
         SELECT id, $2, $3 FROM devices WHERE id = $1 \
         ON CONFLICT (device_id) DO UPDATE SET notified_at = excluded.notified_at, \
         notify_outcome = excluded.notify_outcome, notify_run = ''",
    )
    .bind(device_id)
    .bind(at)
    .bind(outcome)
    .execute(conn)
    .await?;
    Ok(())
}

/// The digest of every device's file as last recorded (devices without one are left out).
pub async fn file_digests(conn: &mut AnyConnection) -> Result<HashMap<i64, String>> {
    let rows =
        sqlx::query("SELECT device_id, file_digest FROM device_resync WHERE file_digest <> ''")
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The recorded digests of these devices' files (devices without one are left out).
pub async fn file_digests_of(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut q = crate::sql::Sql::new(
        "SELECT device_id, file_digest FROM device_resync WHERE file_digest <> '' AND device_id IN ",
    );
    q.bind_list(ids);
    q.query()
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Moves each device's file digest from its old value to its new one, `(device, old, new)`,
/// compare and set (of several nodes seeing the same change, one alone moves a digest), in a
/// few statements for the whole batch. A device without a digest (`old` empty) gets its first
/// one as a baseline; the others record `changed_at`. Answers the devices whose digest this
/// call moved from a previous one.
pub async fn move_file_digests(
    conn: &mut AnyConnection,
    moves: &[(i64, String, String)],
    changed_at: &str,
    owed_by: &str,
) -> Result<Vec<i64>> {
    let mut changed = Vec::new();
    let (first, moved): (Vec<_>, Vec<_>) = moves.iter().partition(|(_, old, _)| old.is_empty());
    // At most 3 parameters a device, 1,000 devices a statement: well within both backends'
    // limits on parameters.
    for part in moved.chunks(1_000) {
        let mut q = crate::sql::Sql::new("WITH m(id, old, new) AS (VALUES ");
        for (i, (id, old, new)) in part.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind(*id)
                .push(", ")
                .bind(old.as_str())
                .push(", ")
                .bind(new.as_str())
                .push(")");
        }
        q.push(") UPDATE device_resync SET file_digest = m.new, file_changed_at = ")
            .bind(changed_at)
            .push(", notify_run = ")
            .bind(owed_by)
            .push(
                " FROM m WHERE device_resync.device_id = m.id AND device_resync.file_digest = m.old \
                 RETURNING device_id",
            );
        for r in q.query().fetch_all(&mut *conn).await? {
            changed.push(r.try_get(0)?);
        }
    }
    for part in first.chunks(1_000) {
        let mut q = crate::sql::Sql::new("WITH m(id, new) AS (VALUES ");
        for (i, (id, _, new)) in part.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind(*id).push(", ").bind(new.as_str()).push(")");
        }
        // `WHERE true`: SQLite needs a WHERE before an upsert's ON CONFLICT after a join.
        q.push(
            ") INSERT INTO device_resync (device_id, file_digest) \
             SELECT d.id, m.new FROM m JOIN devices d ON d.id = m.id WHERE true \
             ON CONFLICT (device_id) DO UPDATE SET file_digest = excluded.file_digest \
             WHERE device_resync.file_digest = ''",
        );
        q.query().execute(&mut *conn).await?;
    }
    Ok(changed)
}

/// A device's resync row as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resync {
    pub requested_at: Option<String>,
    pub succeeded_at: Option<String>,
    pub failed_at: Option<String>,
    pub error: String,
    pub firmware: String,
    pub syslog_ip: String,
    pub notified_at: Option<String>,
    pub notify_outcome: String,
    pub file_changed_at: Option<String>,
}

/// Which devices a status list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    All,
    /// No request from it yet.
    NeverSeen,
    /// Its last resync report is a failure, or the last NOTIFY to it was not accepted.
    Failing,
    /// Its file changed after its last resync (success report or fetch).
    NotResynced,
}

/// One row of a status list.
#[derive(Debug, Clone)]
pub struct StatusRow {
    pub device_id: i64,
    pub name: String,
    /// The user logged in on it (extension mobility).
    pub logged_in: Option<String>,
    pub seen: Option<Seen>,
    pub resync: Option<Resync>,
}

const STATUS_FROM: &str = " FROM devices d LEFT JOIN device_status s ON s.device_id = d.id \
    LEFT JOIN device_resync r ON r.device_id = d.id LEFT JOIN em_logins lg ON lg.device_id = d.id \
    LEFT JOIN users lu ON lu.id = lg.user_id WHERE d.class = 'phone'";

fn state_sql(f: StateFilter) -> &'static str {
    match f {
        StateFilter::All => "",
        StateFilter::NeverSeen => " AND s.device_id IS NULL",
        StateFilter::Failing => {
            " AND ((r.failed_at IS NOT NULL AND r.failed_at > COALESCE(r.succeeded_at, '')) \
             OR (r.notify_outcome <> '' AND r.notify_outcome NOT LIKE 'accepted%'))"
        }
        StateFilter::NotResynced => {
            " AND r.file_changed_at IS NOT NULL AND r.file_changed_at > COALESCE(r.succeeded_at, '') \
             AND r.file_changed_at > COALESCE(s.last_seen, '')"
        }
    }
}

/// Devices' status, filtered by state and name prefix, failing and never-seen devices first;
/// with the total.
pub async fn list(
    conn: &mut AnyConnection,
    filter: StateFilter,
    prefix: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<StatusRow>, i64)> {
    let mut q = crate::sql::Sql::new(
        "SELECT d.id, d.name, s.last_seen, s.last_ip, s.last_user_agent, s.last_file, s.last_protocol, s.requests, s.last_firmware, \
         r.device_id AS r_id, r.requested_at, r.succeeded_at, r.failed_at, r.error, r.firmware, r.syslog_ip, r.notified_at, \
         r.notify_outcome, r.file_changed_at, lu.user_id AS logged_in, COUNT(*) OVER () AS total",
    );
    q.push(STATUS_FROM).push(state_sql(filter));
    if !prefix.is_empty() {
        q.push(" AND ");
        crate::sql::push_prefix(&mut q, "d.name_lc", &prefix.to_lowercase());
    }
    // Failing phones first, then those never seen, then the rest, each by name.
    let failing = state_sql(StateFilter::Failing).trim_start_matches(" AND ");
    let never = state_sql(StateFilter::NeverSeen).trim_start_matches(" AND ");
    q.push(&format!(
        " ORDER BY CASE WHEN {failing} THEN 0 WHEN {never} THEN 1 ELSE 2 END, d.name_lc LIMIT "
    ))
    .bind(limit)
    .push(" OFFSET ")
    .bind(offset);
    let rows = q.query().fetch_all(conn).await?;
    let mut total = 0;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        total = r.try_get("total")?;
        out.push(status_row(r)?);
    }
    Ok((out, total))
}

/// One device's status.
pub async fn of_device(conn: &mut AnyConnection, device_id: i64) -> Result<Option<StatusRow>> {
    let mut q = crate::sql::Sql::new(
        "SELECT d.id, d.name, s.last_seen, s.last_ip, s.last_user_agent, s.last_file, s.last_protocol, s.requests, s.last_firmware, \
         r.device_id AS r_id, r.requested_at, r.succeeded_at, r.failed_at, r.error, r.firmware, r.syslog_ip, r.notified_at, \
         r.notify_outcome, r.file_changed_at, lu.user_id AS logged_in",
    );
    q.push(STATUS_FROM).push(" AND d.id = ").bind(device_id);
    q.query()
        .fetch_optional(conn)
        .await?
        .map(|r| status_row(&r))
        .transpose()
}

fn status_row(r: &sqlx::any::AnyRow) -> Result<StatusRow> {
    let device_id: i64 = r.try_get("id")?;
    let last_seen: Option<String> = r.try_get("last_seen")?;
    let seen = match last_seen {
        Some(at) => Some(Seen {
            device_id,
            at,
            ip: r.try_get("last_ip")?,
            user_agent: r.try_get("last_user_agent")?,
            file: r.try_get("last_file")?,
            protocol: r.try_get("last_protocol")?,
            requests: r.try_get("requests")?,
            firmware: r.try_get("last_firmware")?,
        }),
        None => None,
    };
    let resync = match r.try_get::<Option<i64>, _>("r_id")? {
        Some(_) => Some(Resync {
            requested_at: r.try_get("requested_at")?,
            succeeded_at: r.try_get("succeeded_at")?,
            failed_at: r.try_get("failed_at")?,
            error: r.try_get("error")?,
            firmware: r.try_get("firmware")?,
            syslog_ip: r.try_get("syslog_ip")?,
            notified_at: r.try_get("notified_at")?,
            notify_outcome: r.try_get("notify_outcome")?,
            file_changed_at: r.try_get("file_changed_at")?,
        }),
        None => None,
    };
    Ok(StatusRow {
        device_id,
        name: r.try_get("name")?,
        logged_in: r.try_get("logged_in")?,
        seen,
        resync,
    })
}

/// The device that last made requests from `ip`, when exactly one did.
pub async fn device_by_ip(conn: &mut AnyConnection, ip: &str) -> Result<Option<i64>> {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT device_id FROM device_status WHERE last_ip = $1 LIMIT 2")
            .bind(ip)
            .fetch_all(conn)
            .await?;
    Ok(match ids.as_slice() {
        [one] => Some(*one),
        _ => None,
    })
}

/// Phones by model and firmware (as reported over syslog or fetched, else as their last
/// request named it; empty when neither), most first.
pub async fn by_model_and_firmware(conn: &mut AnyConnection) -> Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query_as::<_, (String, String, i64)>(
        "SELECT d.model, COALESCE(NULLIF(r.firmware, ''), s.last_firmware, '') AS firmware, COUNT(*) AS n \
         FROM devices d LEFT JOIN device_status s ON s.device_id = d.id \
         LEFT JOIN device_resync r ON r.device_id = d.id WHERE d.class = 'phone' \
         GROUP BY d.model, COALESCE(NULLIF(r.firmware, ''), s.last_firmware, '') ORDER BY n DESC, d.model, firmware",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// A NOTIFY owed to `device_id` is settled (sent, or there is no address to send it to).
pub async fn settle_notify(conn: &mut AnyConnection, device_id: i64) -> Result<()> {
    sqlx::query(
        "UPDATE device_resync SET notify_run = '' WHERE device_id = $1 AND notify_run <> ''",
    )
    .bind(device_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes over, for `run`, the NOTIFYs owed by runs not alive at `alive_after_ms` (see
/// [`crate::cluster`]): the devices now owed by `run`.
pub async fn claim_owed_notifies(
    conn: &mut AnyConnection,
    run: &str,
    alive_after_ms: i64,
) -> Result<Vec<i64>> {
    let rows = sqlx::query(
        "UPDATE device_resync SET notify_run = $1 WHERE notify_run <> '' AND notify_run <> $1 \
         AND notify_run NOT IN (SELECT run FROM nodes WHERE stopped = 0 AND heartbeat_ms > $2) \
         RETURNING device_id",
    )
    .bind(run)
    .bind(alive_after_ms)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

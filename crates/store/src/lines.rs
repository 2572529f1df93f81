//! Lines (directory numbers): pattern + partition, unique within a system.

use crate::sql::{push_prefix, Find, Sql};
use crate::{now, versioned, Result};
use model::{Line, LineAppearanceRef, Page};
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

/// The stored fields of a line, validated by the service.
#[derive(Debug, Clone, Default)]
pub struct LineRow {
    pub system_id: i64,
    pub pattern: String,
    pub partition: String,
    pub description: String,
    pub alerting_name: String,
    pub forward_all: String,
    pub forward_busy_internal: String,
    pub forward_busy_external: String,
    pub forward_no_answer_internal: String,
    pub forward_no_answer_external: String,
    pub pickup_group: String,
    pub voicemail_profile: String,
    pub max_calls: i64,
    pub busy_trigger: i64,
}

impl LineRow {
    pub fn from_line(l: &Line, system_id: i64) -> LineRow {
        LineRow {
            system_id,
            pattern: l.pattern.clone(),
            partition: l.partition.clone(),
            description: l.description.clone(),
            alerting_name: l.alerting_name.clone(),
            forward_all: l.forward_all.clone(),
            forward_busy_internal: l.forward_busy_internal.clone(),
            forward_busy_external: l.forward_busy_external.clone(),
            forward_no_answer_internal: l.forward_no_answer_internal.clone(),
            forward_no_answer_external: l.forward_no_answer_external.clone(),
            pickup_group: l.pickup_group.clone(),
            voicemail_profile: l.voicemail_profile.clone(),
            max_calls: l.max_calls,
            busy_trigger: l.busy_trigger,
        }
    }
}

const COLS: &str = "l.id, s.name AS system_name, l.pattern, l.partition, l.description, l.alerting_name, l.forward_all, \
    l.forward_busy_internal, l.forward_busy_external, l.forward_no_answer_internal, l.forward_no_answer_external, \
    l.pickup_group, l.voicemail_profile, l.max_calls, l.busy_trigger, l.version, l.created_at, l.updated_at";
const FROM: &str = " FROM lines l JOIN systems s ON s.id = l.system_id";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Line> {
    Ok(Line {
        id: r.try_get("id")?,
        system: r.try_get("system_name")?,
        pattern: r.try_get("pattern")?,
        partition: r.try_get("partition")?,
        description: r.try_get("description")?,
        alerting_name: r.try_get("alerting_name")?,
        forward_all: r.try_get("forward_all")?,
        forward_busy_internal: r.try_get("forward_busy_internal")?,
        forward_busy_external: r.try_get("forward_busy_external")?,
        forward_no_answer_internal: r.try_get("forward_no_answer_internal")?,
        forward_no_answer_external: r.try_get("forward_no_answer_external")?,
        pickup_group: r.try_get("pickup_group")?,
        voicemail_profile: r.try_get("voicemail_profile")?,
        max_calls: r.try_get("max_calls")?,
        busy_trigger: r.try_get("busy_trigger")?,
        appearances: Vec::new(),
        shared: false,
        users: Vec::new(),
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

async fn hydrate(conn: &mut AnyConnection, mut lines: Vec<Line>) -> Result<Vec<Line>> {
    if lines.is_empty() {
        return Ok(lines);
    }
    let ids: Vec<i64> = lines.iter().map(|l| l.id).collect();
    let mut apps: BTreeMap<i64, Vec<LineAppearanceRef>> = BTreeMap::new();
    let mut q = Sql::new("SELECT a.line_id, d.name, d.class, a.button FROM appearances a JOIN devices d ON d.id = a.device_id WHERE a.line_id IN ");
    q.bind_list(&ids).push(" ORDER BY d.name");
    for r in q.query().fetch_all(&mut *conn).await? {
        apps.entry(r.try_get("line_id")?)
            .or_default()
            .push(LineAppearanceRef {
                device: r.try_get("name")?,
                class: r.try_get("class")?,
                button: r.try_get("button")?,
            });
    }
    let mut users: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut q = Sql::new("SELECT ul.line_id, u.user_id FROM user_lines ul JOIN users u ON u.id = ul.user_id WHERE ul.line_id IN ");
    q.bind_list(&ids).push(" ORDER BY u.user_id");
    for r in q.query().fetch_all(&mut *conn).await? {
        users
            .entry(r.try_get("line_id")?)
            .or_default()
            .push(r.try_get("user_id")?);
    }
    for l in &mut lines {
        l.appearances = apps.remove(&l.id).unwrap_or_default();
        l.shared = l.appearances.len() > 1;
        l.users = users.remove(&l.id).unwrap_or_default();
    }
    Ok(lines)
}

/// Filters: `partition`, `pattern`, `shared` (`true`: only lines on several devices).
/// Sorts: `pattern` (default), `partition`, `description`, `updated_at`.
pub async fn find(conn: &mut AnyConnection, f: &Find) -> Result<Page<Line>> {
    let mut w = Sql::new(" WHERE 1 = 1");
    if let Some(s) = &f.system {
        w.push(" AND s.name = ").bind(s.as_str());
    }
    let backend = conn.backend_name().to_string();
    w.within_systems(&backend, "s.name", f.systems.as_deref());
    if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
        w.push(" AND ");
        push_prefix(&mut w, "l.pattern", q);
    }
    for (k, v) in &f.filters {
        match k.as_str() {
            "partition" => {
                w.push(" AND l.partition = ").bind(v.as_str());
            }
            "pattern" => {
                w.push(" AND l.pattern = ").bind(v.as_str());
            }
            "shared" if v == "true" => {
                w.push(" AND (SELECT COUNT(*) FROM appearances a WHERE a.line_id = l.id) > 1");
            }
            _ => {}
        }
    }
    let sort = match f.sort.as_deref() {
        Some("partition") => "l.partition",
        Some("description") => "l.description",
        Some("updated_at") => "l.updated_at",
        _ => "l.pattern",
    };
    let o = f.order();
    let order = format!("{sort} {o}, l.id {o}");
    let mut p = crate::page::page(conn, COLS, &w.with_prefix(FROM), &order, f, from_row).await?;
    p.items = hydrate(conn, p.items).await?;
    Ok(p)
}

pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<Line> {
    let select = format!("SELECT {COLS}{FROM} WHERE l.id = $1");
    let l = crate::page::one(conn, &select, id, from_row).await?;
    Ok(hydrate(conn, vec![l]).await?.remove(0))
}

pub async fn id_by_key(
    conn: &mut AnyConnection,
    system_id: i64,
    pattern: &str,
    partition: &str,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM lines WHERE system_id = $1 AND pattern = $2 AND partition = $3",
    )
    .bind(system_id)
    .bind(pattern)
    .bind(partition)
    .fetch_optional(conn)
    .await?)
}

/// Ids of the lines with this pattern (any partition, any system or the given one).
pub async fn ids_by_pattern(
    conn: &mut AnyConnection,
    pattern: &str,
    system: Option<&str>,
) -> Result<Vec<i64>> {
    let mut q = Sql::new(
        "SELECT l.id FROM lines l JOIN systems s ON s.id = l.system_id WHERE l.pattern = ",
    );
    q.bind(pattern);
    if let Some(s) = system {
        q.push(" AND s.name = ").bind(s);
    }
    q.push(" ORDER BY l.id");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// [`insert`] in a write that may hold its rows back ([`crate::WriteTx::holds_rows`]: an
/// optimistic import chunk on PostgreSQL): the line goes in with the lines held after it, one
/// statement for them all, under an id taken ahead.
pub async fn insert_in(tx: &mut crate::WriteTx, l: &LineRow) -> Result<i64> {
    if !tx.holds_rows() {
        return insert(tx.conn(), l).await;
    }
    use crate::Arg::{Int, Text};
    let id = tx.take_id("lines").await?;
    let t = now();
    tx.hold_row(
        "lines",
        "id, system_id, pattern, partition, description, alerting_name, forward_all, \
         forward_busy_internal, forward_busy_external, forward_no_answer_internal, \
         forward_no_answer_external, pickup_group, voicemail_profile, max_calls, busy_trigger, \
         created_at, updated_at",
        vec![
            Int(id),
            Int(l.system_id),
            Text(l.pattern.clone()),
            Text(l.partition.clone()),
            Text(l.description.clone()),
            Text(l.alerting_name.clone()),
            Text(l.forward_all.clone()),
            Text(l.forward_busy_internal.clone()),
            Text(l.forward_busy_external.clone()),
            Text(l.forward_no_answer_internal.clone()),
            Text(l.forward_no_answer_external.clone()),
            Text(l.pickup_group.clone()),
            Text(l.voicemail_profile.clone()),
            Int(l.max_calls),
            Int(l.busy_trigger),
            Text(t.clone()),
            Text(t),
        ],
    );
    Ok(id)
}

pub async fn insert(conn: &mut AnyConnection, l: &LineRow) -> Result<i64> {
    let t = now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO lines (system_id, pattern, partition, description, alerting_name, forward_all, forward_busy_internal, \
         forward_busy_external, forward_no_answer_internal, forward_no_answer_external, pickup_group, voicemail_profile, \
         max_calls, busy_trigger, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) RETURNING id",
    )
    .bind(l.system_id)
    .bind(&l.pattern)
    .bind(&l.partition)
    .bind(&l.description)
    .bind(&l.alerting_name)
    .bind(&l.forward_all)
    .bind(&l.forward_busy_internal)
    .bind(&l.forward_busy_external)
    .bind(&l.forward_no_answer_internal)
    .bind(&l.forward_no_answer_external)
    .bind(&l.pickup_group)
    .bind(&l.voicemail_profile)
    .bind(l.max_calls)
    .bind(l.busy_trigger)
    .bind(t)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

pub async fn update(conn: &mut AnyConnection, id: i64, version: i64, l: &LineRow) -> Result<()> {
    versioned(sqlx::query(
        "UPDATE lines SET pattern = $1, partition = $2, description = $3, alerting_name = $4, forward_all = $5, \
         forward_busy_internal = $6, forward_busy_external = $7, forward_no_answer_internal = $8, \
         forward_no_answer_external = $9, pickup_group = $10, voicemail_profile = $11, max_calls = $12, busy_trigger = $13, \
         version = version + 1, updated_at = $14 WHERE id = $15 AND version = $16",
    )
    .bind(&l.pattern)
    .bind(&l.partition)
    .bind(&l.description)
    .bind(&l.alerting_name)
    .bind(&l.forward_all)
    .bind(&l.forward_busy_internal)
    .bind(&l.forward_busy_external)
    .bind(&l.forward_no_answer_internal)
    .bind(&l.forward_no_answer_external)
    .bind(&l.pickup_group)
    .bind(&l.voicemail_profile)
    .bind(l.max_calls)
    .bind(l.busy_trigger)
    .bind(now())
    .bind(id)
    .bind(version)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Bumps the version of the line (something about it shown elsewhere changed).
pub async fn touch(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("UPDATE lines SET version = version + 1, updated_at = $1 WHERE id = $2")
        .bind(now())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM lines WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The numbers between `first` and `last` (digit strings of one width) in a partition of a
/// system that are taken: a line there appears on a device or is a user's primary extension.
pub async fn taken_between(
    conn: &mut AnyConnection,
    system_id: i64,
    partition: &str,
    first: &str,
    last: &str,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT l.pattern FROM lines l WHERE l.system_id = $1 AND l.partition = $2 \
         AND LENGTH(l.pattern) = $3 AND l.pattern >= $4 AND l.pattern <= $5 \
         AND (EXISTS (SELECT 1 FROM appearances a WHERE a.line_id = l.id) \
              OR EXISTS (SELECT 1 FROM users u WHERE u.primary_line_id = l.id)) \
         ORDER BY l.pattern",
    )
    .bind(system_id)
    .bind(partition)
    .bind(first.len() as i64)
    .bind(first)
    .bind(last)
    .fetch_all(conn)
    .await?)
}

/// The lines with any of these patterns, as (system, pattern, partition, id): an import reads a
/// chunk's lines in one statement ([`id_by_key`] for each row would be one each).
pub async fn keys_with_patterns(
    conn: &mut AnyConnection,
    patterns: &[&str],
) -> Result<Vec<(i64, String, String, i64)>> {
    crate::sql::rows_in(
        conn,
        "SELECT system_id, pattern, partition, id FROM lines WHERE pattern IN",
        patterns,
    )
    .await
}

//! The change journal: what each committed write changed in the phones' files, under the
//! generation it bumped. A write transaction collects its changes ([`crate::WriteTx::changed`])
//! and writes them with its commit, so a reader that sees generation `n` sees every change up
//! to `n`. Readers (the render cache, the resync engine, on this node or another) ask for the
//! changes after the generation they last saw and touch only the devices those reach.

use crate::sql::Sql;
use crate::{now, Result};
use sqlx::{AnyConnection, Row};

/// What a write changed, as far as phone files go.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// One device (phone or device profile) and nothing else.
    Device(i64),
    /// Every device a line appears on (as it is after the write: a device that lost the line
    /// is noted on its own).
    Line(i64),
    /// Every device a user owns (after the write).
    Owner(i64),
    /// Every device of a product system.
    System(i64),
    /// Every device of a device pool of a system.
    DevicePool { system: i64, pool: String },
    /// Every device of a model on a system.
    Model { system: i64, model: String },
    /// Anything: every device is to be looked at again.
    All,
}

/// A change and the generation its write bumped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub generation: i64,
    pub change: Change,
}

/// The settings row holding the newest generation whose entries were pruned.
const PRUNED: &str = "changes_pruned_through";

/// Writes `changes` under `generation`, a hundred to a statement (not more: see
/// [`crate::audit::append_held`]).
pub(crate) async fn append(
    conn: &mut AnyConnection,
    generation: i64,
    changes: &mut Vec<Change>,
) -> Result<()> {
    changes.sort();
    changes.dedup();
    if changes.contains(&Change::All) {
        changes.retain(|c| *c == Change::All);
    }
    let at = now();
    for part in changes.chunks(100) {
        let mut q = Sql::new("INSERT INTO changes (generation, scope, ref_id, target, at) VALUES ");
        for (i, c) in part.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let (scope, id, target) = match c {
                Change::Device(id) => ("device", Some(*id), ""),
                Change::Line(id) => ("line", Some(*id), ""),
                Change::Owner(id) => ("owner", Some(*id), ""),
                Change::System(id) => ("system", Some(*id), ""),
                Change::DevicePool { system, pool } => {
                    ("device_pool", Some(*system), pool.as_str())
                }
                Change::Model { system, model } => ("model", Some(*system), model.as_str()),
                Change::All => ("all", None, ""),
            };
            q.push("(")
                .bind(generation)
                .push(", ")
                .bind(scope)
                .push(", ");
            match id {
                Some(id) => q.bind(id),
                None => q.push("NULL"),
            };
            q.push(", ")
                .bind(target)
                .push(", ")
                .bind(at.as_str())
                .push(")");
        }
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The changes committed after generation `after`, oldest first; `None` when some of them were
/// pruned already (the caller must then look at everything).
pub async fn since(conn: &mut AnyConnection, after: i64) -> Result<Option<Vec<Entry>>> {
    let pruned: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
        .bind(PRUNED)
        .fetch_optional(&mut *conn)
        .await?;
    if pruned.and_then(|p| p.parse::<i64>().ok()).unwrap_or(0) > after {
        return Ok(None);
    }
    let rows = sqlx::query(
        "SELECT generation, scope, ref_id, target FROM changes WHERE generation > $1 ORDER BY generation, id",
    )
    .bind(after)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let scope: String = r.try_get(1)?;
        let id: Option<i64> = r.try_get(2)?;
        let target: String = r.try_get(3)?;
        let change = match (scope.as_str(), id) {
            ("device", Some(id)) => Change::Device(id),
            ("line", Some(id)) => Change::Line(id),
            ("owner", Some(id)) => Change::Owner(id),
            ("system", Some(id)) => Change::System(id),
            ("device_pool", Some(system)) => Change::DevicePool {
                system,
                pool: target,
            },
            ("model", Some(system)) => Change::Model {
                system,
                model: target,
            },
            _ => Change::All,
        };
        out.push(Entry {
            generation: r.try_get(0)?,
            change,
        });
    }
    Ok(Some(out))
}

/// The devices a change reaches now: those a line appears on, a user owns, of a system, of a
/// pool or model on it.
pub async fn devices_in(conn: &mut AnyConnection, change: &Change) -> Result<Vec<i64>> {
    let mut q = Sql::new("SELECT id FROM devices WHERE ");
    use crate::extension_mobility::RUNNING;
    match change {
        // A device profile's own changes name the phones running it when they are written
        // (`extension_mobility::phones_running`): a device is itself alone here.
        Change::Device(id) => return Ok(vec![*id]),
        Change::Line(id) => {
            let on = "SELECT device_id FROM appearances WHERE line_id = $1";
            return Ok(sqlx::query_scalar(&format!(
                "{on} UNION {}",
                RUNNING.replace("PROFILES", on)
            ))
            .bind(*id)
            .fetch_all(conn)
            .await?);
        }
        Change::Owner(id) => {
            q.push("owner_id = ")
                .bind(*id)
                .push(" OR id IN (SELECT device_id FROM em_logins WHERE user_id = ")
                .bind(*id)
                .push(")");
        }
        Change::System(id) => {
            q.push("system_id = ").bind(*id);
        }
        Change::DevicePool { system, pool } => {
            q.push("system_id = ")
                .bind(*system)
                .push(" AND device_pool = ")
                .bind(pool.as_str());
        }
        Change::Model { system, model } => {
            q.push("system_id = ")
                .bind(*system)
                .push(" AND LOWER(model) = ")
                .bind(model.to_lowercase());
        }
        Change::All => {
            q.push("1 = 1");
        }
    }
    q.query()
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
}

/// Drops the entries written before `before` (a time as [`now`] writes it), keeping the
/// newest generation dropped so that a reader behind it knows to look at everything.
pub async fn prune(conn: &mut AnyConnection, before: &str) -> Result<u64> {
    let newest: Option<i64> =
        sqlx::query_scalar("SELECT MAX(generation) FROM changes WHERE at < $1")
            .bind(before)
            .fetch_one(&mut *conn)
            .await?;
    let Some(newest) = newest else {
        return Ok(0);
    };
    let n = sqlx::query("DELETE FROM changes WHERE generation <= $1")
        .bind(newest)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    crate::admins::set_setting(conn, PRUNED, &newest.to_string()).await?;
    Ok(n)
}

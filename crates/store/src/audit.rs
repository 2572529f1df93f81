//! The audit log: append-only, one row per change (or failed attempt).

use crate::sql::{Find, Sql};
use crate::{now, Result};
use model::{AuditEntry, Outcome, Page};
use sqlx::{AnyConnection, Row};

/// What an audit entry records, before it is written.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub resource: &'a str,
    pub target: &'a str,
    pub system: &'a str,
    pub result: Outcome,
    pub detail: &'a str,
}

/// An audit entry with its time, held until its batch commits ([`crate::Store::batched`]).
#[derive(Debug, Clone)]
pub(crate) struct Held {
    at: String,
    fields: [String; 7],
}

impl Held {
    pub(crate) fn new(e: &NewEntry<'_>) -> Held {
        Held {
            at: now(),
            fields: [
                e.actor.into(),
                e.action.into(),
                e.resource.into(),
                e.target.into(),
                e.system.into(),
                e.result.as_str().into(),
                e.detail.into(),
            ],
        }
    }
}

/// Writes held entries, a hundred to a statement. Not more: the last statement's length
/// differs from batch to batch, and on SQLite preparing a statement of a thousand rows each
/// time halved an import's rows/s (measured: 50,000 phones 4,902 rows/s against 9,091).
pub(crate) async fn append_held(conn: &mut AnyConnection, held: &[Held]) -> Result<()> {
    for part in held.chunks(100) {
        let mut q = Sql::new(
            "INSERT INTO audit_log (at, actor, action, resource, target, system, result, detail) VALUES ",
        );
        for (i, h) in part.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(").bind(h.at.as_str());
            for f in &h.fields {
                q.push(", ").bind(f.as_str());
            }
            q.push(")");
        }
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn append(conn: &mut AnyConnection, e: &NewEntry<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, resource, target, system, result, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(now())
    .bind(e.actor)
    .bind(e.action)
    .bind(e.resource)
    .bind(e.target)
    .bind(e.system)
    .bind(e.result.as_str())
    .bind(e.detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// In the order of writing, newest first when `descending` (as the API and the console ask by
/// default). Filters: `actor`, `action`, `resource`, `target`, `system`, `result`,
/// `since` and `until` (RFC 3339 times); `q` is a prefix of the target.
pub async fn find(conn: &mut AnyConnection, f: &Find) -> Result<Page<AuditEntry>> {
    let mut w = Sql::new(" WHERE 1 = 1");
    for (k, v) in &f.filters {
        match k.as_str() {
            "actor" | "action" | "resource" | "target" | "system" | "result" => {
                w.push(&format!(" AND {k} = ")).bind(v.as_str());
            }
            "since" => {
                w.push(" AND at >= ").bind(v.as_str());
            }
            "until" => {
                w.push(" AND at < ").bind(v.as_str());
            }
            _ => {}
        }
    }
    if let Some(q) = &f.q {
        w.push(" AND ");
        crate::sql::push_prefix(&mut w, "target", q);
    }
    let cols = "id, at, actor, action, resource, target, system, result, detail";
    let order = if f.descending { "id DESC" } else { "id ASC" };
    crate::page::page(
        conn,
        cols,
        &w.with_prefix(" FROM audit_log"),
        order,
        f,
        |r| {
            Ok(AuditEntry {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                resource: r.try_get("resource")?,
                target: r.try_get("target")?,
                system: r.try_get("system")?,
                result: Outcome::from_db(&r.try_get::<String, _>("result")?),
                detail: r.try_get("detail")?,
            })
        },
    )
    .await
}

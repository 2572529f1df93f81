//! The records soft clients learn of (docs/soft-clients.md): presence subclusters, proxy
//! profiles, CTI gateway servers and profiles, each kept as the JSON the model checked, under its
//! kind and name; and the users naming them.

use crate::sql::Sql;
use crate::sql::{push_prefix, Find};
use crate::{now, versioned, Result};
use model::soft_client::ClientKind;
use model::Page;
use sqlx::{AnyConnection, Row};

/// A record as stored.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: i64,
    pub name: String,
    pub body: serde_json::Value,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl Record {
    /// The record as the API shows it: its fields, then id, version and times.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = match &self.body {
            serde_json::Value::Object(m) => m.clone(),
            _ => serde_json::Map::new(),
        };
        m.insert("id".into(), self.id.into());
        m.insert("name".into(), self.name.clone().into());
        m.insert("version".into(), self.version.into());
        m.insert("created_at".into(), self.created_at.clone().into());
        m.insert("updated_at".into(), self.updated_at.clone().into());
        serde_json::Value::Object(m)
    }
}

const COLS: &str = "r.id, r.name, r.body, r.version, r.created_at, r.updated_at";

fn record(r: &sqlx::any::AnyRow) -> Result<Record> {
    Ok(Record {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        body: serde_json::from_str(&r.try_get::<String, _>("body")?)
            .map_err(|e| crate::Error::Db(format!("a client record's body: {e}")))?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn find(conn: &mut AnyConnection, kind: ClientKind, f: &Find) -> Result<Page<Record>> {
    let mut w = Sql::new(" FROM client_records r WHERE r.kind = ");
    w.bind(kind.as_str());
    if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
        w.push(" AND ");
        push_prefix(&mut w, "r.name", q);
    }
    let o = f.order();
    crate::page::page(conn, COLS, &w, &format!("r.name {o}, r.id {o}"), f, record).await
}

/// Every record of a kind, by name.
pub async fn all(conn: &mut AnyConnection, kind: ClientKind) -> Result<Vec<Record>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLS} FROM client_records r WHERE r.kind = $1 ORDER BY r.name"
    ))
    .bind(kind.as_str())
    .fetch_all(conn)
    .await?;
    rows.iter().map(record).collect()
}

pub async fn by_name(
    conn: &mut AnyConnection,
    kind: ClientKind,
    name: &str,
) -> Result<Option<Record>> {
    let row = sqlx::query(&format!(
        "SELECT {COLS} FROM client_records r WHERE r.kind = $1 AND r.name = $2"
    ))
    .bind(kind.as_str())
    .bind(name)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(record).transpose()
}

pub async fn by_id(conn: &mut AnyConnection, kind: ClientKind, id: i64) -> Result<Option<Record>> {
    let row = sqlx::query(&format!(
        "SELECT {COLS} FROM client_records r WHERE r.kind = $1 AND r.id = $2"
    ))
    .bind(kind.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(record).transpose()
}

pub async fn insert(
    conn: &mut AnyConnection,
    kind: ClientKind,
    name: &str,
    body: &serde_json::Value,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO client_records (kind, name, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(kind.as_str())
    .bind(name)
    .bind(body.to_string())
    .bind(now())
    .fetch_one(conn)
    .await?)
}

/// Stale when `version` is not the stored one.
pub async fn update(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    name: &str,
    body: &serde_json::Value,
) -> Result<()> {
    versioned(
        sqlx::query(
            "UPDATE client_records SET name = $1, body = $2, updated_at = $3, version = version + 1 \
             WHERE id = $4 AND version = $5",
        )
        .bind(name)
        .bind(body.to_string())
        .bind(now())
        .bind(id)
        .bind(version)
        .execute(conn)
        .await?
        .rows_affected(),
    )
}

pub async fn delete(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM client_records WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A column of `users` naming a record of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserRef {
    CtiProfile,
    ProxyProfile,
    HomeNode,
}

impl UserRef {
    fn column(self) -> &'static str {
        match self {
            UserRef::CtiProfile => "cti_profile",
            UserRef::ProxyProfile => "proxy_profile",
            UserRef::HomeNode => "presence_home_node",
        }
    }
}

/// How many users name `value` in `col`.
pub async fn users_count(conn: &mut AnyConnection, col: UserRef, value: &str) -> Result<i64> {
    let c = col.column();
    Ok(
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM users WHERE {c} = $1"))
            .bind(value)
            .fetch_one(conn)
            .await?,
    )
}

/// How many users name `value` in `col`, and the first few of them (user IDs).
pub async fn users_naming(
    conn: &mut AnyConnection,
    col: UserRef,
    value: &str,
) -> Result<(i64, Vec<String>)> {
    let c = col.column();
    let n = users_count(conn, col, value).await?;
    let some = sqlx::query_scalar(&format!(
        "SELECT user_id FROM users WHERE {c} = $1 ORDER BY user_id LIMIT 5"
    ))
    .bind(value)
    .fetch_all(conn)
    .await?;
    Ok((n, some))
}

/// Renames what users name in `col`; the users reached, by id.
pub async fn rename_in_users(
    conn: &mut AnyConnection,
    col: UserRef,
    from: &str,
    to: &str,
) -> Result<Vec<i64>> {
    let c = col.column();
    let ids: Vec<i64> = sqlx::query_scalar(&format!("SELECT id FROM users WHERE {c} = $1"))
        .bind(from)
        .fetch_all(&mut *conn)
        .await?;
    if !ids.is_empty() {
        sqlx::query(&format!(
            "UPDATE users SET {c} = $1, version = version + 1, updated_at = $2 WHERE {c} = $3"
        ))
        .bind(to)
        .bind(now())
        .bind(from)
        .execute(conn)
        .await?;
    }
    Ok(ids)
}

/// How many users each presence node is the home of.
pub async fn node_loads(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT presence_home_node, COUNT(*) FROM users WHERE presence_home_node IS NOT NULL \
         GROUP BY presence_home_node",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The call-control systems' ids (whose soft clients these records reach).
pub async fn call_control_systems(conn: &mut AnyConnection) -> Result<Vec<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM systems WHERE kind = 'call_control' ORDER BY id")
            .fetch_all(conn)
            .await?,
    )
}

/// What a soft client's owner names: their user ID, home node and application profiles.
#[derive(Debug, Clone, Default)]
pub struct OwnerProfiles {
    pub user_id: String,
    pub home_node: Option<String>,
    pub ldap: Option<String>,
    pub cti: Option<String>,
    pub proxy: Option<String>,
    pub voicemail: Option<String>,
    pub conferencing: Option<String>,
}

/// The users `ids` (those that exist), by id, in one statement per 512.
pub async fn owners(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, OwnerProfiles>> {
    let backend = conn.backend_name().to_string();
    let mut out = std::collections::HashMap::new();
    for part in ids.chunks(512) {
        let mut q = Sql::new(
            "SELECT id, user_id, presence_home_node, ldap_profile, cti_profile, proxy_profile, \
             voicemail_profile, conferencing_profile FROM users WHERE id IN ",
        );
        q.bind_in(&backend, part);
        for r in q.query().fetch_all(&mut *conn).await? {
            out.insert(
                r.try_get::<i64, _>(0)?,
                OwnerProfiles {
                    user_id: r.try_get(1)?,
                    home_node: r.try_get(2)?,
                    ldap: r.try_get(3)?,
                    cti: r.try_get(4)?,
                    proxy: r.try_get(5)?,
                    voicemail: r.try_get(6)?,
                    conferencing: r.try_get(7)?,
                },
            );
        }
    }
    Ok(out)
}

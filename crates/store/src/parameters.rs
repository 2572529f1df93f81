//! Provisioning parameter profiles: values set per system, device pool, model or device.

use crate::{now, versioned, Result};
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct ParameterSet {
    pub id: i64,
    pub scope: String,
    pub system: String,
    pub target: String,
    pub values: BTreeMap<String, String>,
    pub version: i64,
    pub updated_at: String,
}

const SELECT: &str = "SELECT p.id, p.scope, s.name AS system_name, p.target, p.values_json, p.version, p.updated_at \
    FROM parameter_sets p JOIN systems s ON s.id = p.system_id";

fn from_row(r: &sqlx::any::AnyRow) -> Result<ParameterSet> {
    Ok(ParameterSet {
        id: r.try_get("id")?,
        scope: r.try_get("scope")?,
        system: r.try_get("system_name")?,
        target: r.try_get("target")?,
        values: serde_json::from_str(&r.try_get::<String, _>("values_json")?).unwrap_or_default(),
        version: r.try_get("version")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Every set, or those of one system.
pub async fn list(conn: &mut AnyConnection, system_id: Option<i64>) -> Result<Vec<ParameterSet>> {
    let rows = match system_id {
        Some(id) => {
            sqlx::query(&format!(
                "{SELECT} WHERE p.system_id = $1 ORDER BY p.scope, p.target"
            ))
            .bind(id)
            .fetch_all(conn)
            .await?
        }
        None => {
            sqlx::query(&format!("{SELECT} ORDER BY s.name, p.scope, p.target"))
                .fetch_all(conn)
                .await?
        }
    };
    rows.iter().map(from_row).collect()
}

pub async fn get(
    conn: &mut AnyConnection,
    scope: &str,
    system_id: i64,
    target: &str,
) -> Result<Option<ParameterSet>> {
    let r = sqlx::query(&format!(
        "{SELECT} WHERE p.scope = $1 AND p.system_id = $2 AND p.target = $3"
    ))
    .bind(scope)
    .bind(system_id)
    .bind(target)
    .fetch_optional(conn)
    .await?;
    r.as_ref().map(from_row).transpose()
}

pub async fn insert(
    conn: &mut AnyConnection,
    scope: &str,
    system_id: i64,
    target: &str,
    values: &BTreeMap<String, String>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO parameter_sets (scope, system_id, target, values_json, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(scope)
    .bind(system_id)
    .bind(target)
    .bind(crate::to_json(values))
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    values: &BTreeMap<String, String>,
) -> Result<()> {
    versioned(
        sqlx::query("UPDATE parameter_sets SET values_json = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4")
            .bind(crate::to_json(values))
            .bind(now())
            .bind(id)
            .bind(version)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

pub async fn delete(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM parameter_sets WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Keeps a device's parameters and its firmware load with it when its name changes (a new MAC),
/// and drops them with it.
pub async fn device_renamed(
    conn: &mut AnyConnection,
    system_id: i64,
    old: &str,
    new: Option<&str>,
) -> Result<()> {
    match new {
        Some(new) => {
            for table in ["parameter_sets", "firmware_loads"] {
                sqlx::query(&format!("UPDATE {table} SET target = $1 WHERE scope = 'device' AND system_id = $2 AND target = $3"))
                    .bind(new)
                    .bind(system_id)
                    .bind(old)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        None => {
            for table in ["parameter_sets", "firmware_loads"] {
                sqlx::query(&format!(
                    "DELETE FROM {table} WHERE scope = 'device' AND system_id = $1 AND target = $2"
                ))
                .bind(system_id)
                .bind(old)
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(())
}

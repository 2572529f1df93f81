//! Product systems.

use crate::{now, versioned, Error, Result};
use model::{System, SystemKind, SystemSettings};
use sqlx::{AnyConnection, Row};

const COLS: &str = "id, name, kind, description, settings_json, CAST(CASE WHEN profile_key_enc IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_profile_key, version, created_at, updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<System> {
    Ok(System {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: SystemKind::from_db(&r.try_get::<String, _>("kind")?),
        description: r.try_get("description")?,
        settings: serde_json::from_str(&r.try_get::<String, _>("settings_json")?)
            .unwrap_or_default(),
        has_profile_key: r.try_get::<i64, _>("has_profile_key")? != 0,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn list(conn: &mut AnyConnection) -> Result<Vec<System>> {
    let rows = sqlx::query(&format!("SELECT {COLS} FROM systems ORDER BY name"))
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn by_name(conn: &mut AnyConnection, name: &str) -> Result<System> {
    let r = sqlx::query(&format!("SELECT {COLS} FROM systems WHERE name = $1"))
        .bind(name)
        .fetch_optional(conn)
        .await?;
    r.as_ref().map(from_row).transpose()?.ok_or(Error::NotFound)
}

pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<System> {
    crate::page::one(
        conn,
        &format!("SELECT {COLS} FROM systems WHERE id = $1"),
        id,
        from_row,
    )
    .await
}

pub async fn insert(
    conn: &mut AnyConnection,
    name: &str,
    kind: SystemKind,
    description: &str,
    settings: &SystemSettings,
) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO systems (name, kind, description, settings_json, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(name)
    .bind(kind.as_str())
    .bind(description)
    .bind(crate::to_json(settings))
    .bind(now())
    .fetch_one(conn)
    .await?;
    Ok(id)
}

pub async fn update(conn: &mut AnyConnection, s: &System, expected_version: i64) -> Result<()> {
    versioned(
        sqlx::query(
            "UPDATE systems SET name = $1, description = $2, kind = $3, settings_json = $4, version = version + 1, updated_at = $5 \
             WHERE id = $6 AND version = $7",
        )
        .bind(&s.name)
        .bind(&s.description)
        .bind(s.kind.as_str())
        .bind(crate::to_json(&s.settings))
        .bind(now())
        .bind(s.id)
        .bind(expected_version)
        .execute(conn)
        .await?
        .rows_affected(),
    )
}

/// Sets (or with `None` removes) the system's sealed MPP profile key, when its version is
/// `version`.
pub async fn set_profile_key(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    sealed: Option<&str>,
) -> Result<()> {
    versioned(
        sqlx::query(
            "UPDATE systems SET profile_key_enc = $1, version = version + 1, updated_at = $2 \
             WHERE id = $3 AND version = $4",
        )
        .bind(sealed)
        .bind(now())
        .bind(id)
        .bind(version)
        .execute(conn)
        .await?
        .rows_affected(),
    )
}

/// The systems' sealed MPP profile keys, by system id (those that have one).
pub async fn profile_keys(conn: &mut AnyConnection) -> Result<Vec<(i64, String)>> {
    let rows =
        sqlx::query("SELECT id, profile_key_enc FROM systems WHERE profile_key_enc IS NOT NULL")
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// How many records belong to the system, by table (classes of service and distribution lists
/// are settings of the system and go with it).
pub async fn usage(conn: &mut AnyConnection, id: i64) -> Result<Vec<(&'static str, i64)>> {
    let mut out = Vec::new();
    for (one, many, table) in [
        ("user", "users", "users"),
        (
            "phone or device profile",
            "phones and device profiles",
            "devices",
        ),
        ("line", "lines", "lines"),
        ("service", "services", "phone_services"),
        (
            "voicemail subscriber",
            "voicemail subscribers",
            "voicemail_subscribers",
        ),
        (
            "universal template",
            "universal templates",
            "universal_templates",
        ),
        ("user profile", "user profiles", "user_profiles"),
    ] {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE system_id = $1"
        ))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        if n > 0 {
            out.push((if n == 1 { one } else { many }, n));
        }
    }
    Ok(out)
}

pub async fn delete(conn: &mut AnyConnection, id: i64) -> Result<()> {
    // Children first: subscriber templates name classes of service and lists (theirs go with
    // them), classes of service name restriction tables.
    for table in ["parameter_sets", "firmware_loads", "subscriber_templates"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE system_id = $1"))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DELETE FROM classes_of_service WHERE system_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for table in ["restriction_tables", "distribution_lists"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE system_id = $1"))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DELETE FROM systems WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Holds the system's row until the transaction ends, so that writers that pick from a shared
/// pool (the next free auto-registration number) take turns on PostgreSQL as they do on SQLite,
/// where a write transaction holds the database from its start.
pub async fn lock(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("UPDATE systems SET id = id WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

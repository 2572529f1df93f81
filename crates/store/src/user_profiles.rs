//! User profiles: the universal templates a user's phones and lines get, and whether (and how
//! many) phones the user may provision themselves. Users name their profile in
//! `users.user_profile`.

use crate::sql::{push_prefix, Find, Sql};
use crate::{b, now, versioned, Result};
use model::{Page, UserProfile};
use sqlx::{AnyConnection, Row};

/// A profile as written.
#[derive(Debug, Clone)]
pub struct ProfileRow {
    pub system_id: i64,
    pub name: String,
    pub description: String,
    pub device_template_id: Option<i64>,
    pub line_template_id: Option<i64>,
    pub allow_self_provisioning: bool,
    pub phone_limit: i64,
}

const COLS: &str = "p.id, s.name AS system_name, p.system_id, p.name, p.description, \
    p.device_template_id, p.line_template_id, dt.name AS device_template, lt.name AS line_template, \
    p.allow_self_provisioning, p.phone_limit, p.version, p.created_at, p.updated_at, \
    (SELECT COUNT(*) FROM users u WHERE u.system_id = p.system_id AND u.user_profile = p.name) AS users";
const FROM: &str = " FROM user_profiles p JOIN systems s ON s.id = p.system_id \
    LEFT JOIN universal_templates dt ON dt.id = p.device_template_id \
    LEFT JOIN universal_templates lt ON lt.id = p.line_template_id";

fn from_row(r: &sqlx::any::AnyRow) -> Result<UserProfile> {
    Ok(UserProfile {
        id: r.try_get("id")?,
        system: r.try_get("system_name")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        device_template: r.try_get("device_template")?,
        line_template: r.try_get("line_template")?,
        allow_self_provisioning: b(r.try_get("allow_self_provisioning")?),
        phone_limit: r.try_get("phone_limit")?,
        users: r.try_get("users")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn find(conn: &mut AnyConnection, f: &Find) -> Result<Page<UserProfile>> {
    let mut w = Sql::new(" WHERE 1 = 1");
    if let Some(s) = &f.system {
        w.push(" AND s.name = ").bind(s.as_str());
    }
    let backend = conn.backend_name().to_string();
    w.within_systems(&backend, "s.name", f.systems.as_deref());
    if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
        w.push(" AND ");
        push_prefix(&mut w, "p.name", q);
    }
    let o = f.order();
    let order = format!("p.name {o}, p.id {o}");
    crate::page::page(conn, COLS, &w.with_prefix(FROM), &order, f, from_row).await
}

pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<UserProfile> {
    crate::page::one(
        conn,
        &format!("SELECT {COLS}{FROM} WHERE p.id = $1"),
        id,
        from_row,
    )
    .await
}

/// Profiles with this name: (id, system id).
pub async fn ids_by_name(conn: &mut AnyConnection, name: &str) -> Result<Vec<(i64, i64)>> {
    let rows = sqlx::query("SELECT id, system_id FROM user_profiles WHERE name = $1 ORDER BY id")
        .bind(name)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The profile of this name on a system, if any.
pub async fn on_system(
    conn: &mut AnyConnection,
    system_id: i64,
    name: &str,
) -> Result<Option<UserProfile>> {
    let r = sqlx::query(&format!(
        "SELECT {COLS}{FROM} WHERE p.system_id = $1 AND p.name = $2"
    ))
    .bind(system_id)
    .bind(name)
    .fetch_optional(conn)
    .await?;
    r.as_ref().map(from_row).transpose()
}

pub async fn insert(conn: &mut AnyConnection, p: &ProfileRow) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO user_profiles (system_id, name, description, device_template_id, line_template_id, \
         allow_self_provisioning, phone_limit, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(p.system_id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.device_template_id)
    .bind(p.line_template_id)
    .bind(p.allow_self_provisioning as i64)
    .bind(p.phone_limit)
    .bind(now())
    .fetch_one(conn)
    .await?)
}

/// Writes a profile; a rename carries its users along.
pub async fn update(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    old_name: &str,
    p: &ProfileRow,
) -> Result<()> {
    versioned(
        sqlx::query(
            "UPDATE user_profiles SET name = $1, description = $2, device_template_id = $3, \
             line_template_id = $4, allow_self_provisioning = $5, phone_limit = $6, \
             version = version + 1, updated_at = $7 WHERE id = $8 AND version = $9",
        )
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.device_template_id)
        .bind(p.line_template_id)
        .bind(p.allow_self_provisioning as i64)
        .bind(p.phone_limit)
        .bind(now())
        .bind(id)
        .bind(version)
        .execute(&mut *conn)
        .await?
        .rows_affected(),
    )?;
    if p.name != old_name {
        sqlx::query(
            "UPDATE users SET user_profile = $1, version = version + 1, updated_at = $2 \
             WHERE system_id = $3 AND user_profile = $4",
        )
        .bind(&p.name)
        .bind(now())
        .bind(p.system_id)
        .bind(old_name)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// The user IDs of up to `limit` users who name a profile.
pub async fn users_of(
    conn: &mut AnyConnection,
    system_id: i64,
    name: &str,
    limit: i64,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT user_id FROM users WHERE system_id = $1 AND user_profile = $2 ORDER BY user_id LIMIT $3",
    )
    .bind(system_id)
    .bind(name)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn delete(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM user_profiles WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

//! Administrators and their API tokens.

use crate::{now, Result};
use sqlx::{AnyConnection, Row};

#[derive(Clone)]
pub struct AdminRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
}

impl std::fmt::Debug for AdminRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

pub async fn count(conn: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM admins")
        .fetch_one(conn)
        .await?)
}

pub async fn by_username(conn: &mut AnyConnection, username: &str) -> Result<Option<AdminRow>> {
    let r = sqlx::query("SELECT id, username, password_hash FROM admins WHERE username = $1")
        .bind(username)
        .fetch_optional(conn)
        .await?;
    r.map(|r| {
        Ok(AdminRow {
            id: r.try_get(0)?,
            username: r.try_get(1)?,
            password_hash: r.try_get(2)?,
        })
    })
    .transpose()
}

pub async fn insert(conn: &mut AnyConnection, username: &str, password_hash: &str) -> Result<i64> {
    Ok(sqlx::query_scalar("INSERT INTO admins (username, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id")
        .bind(username)
        .bind(password_hash)
        .bind(now())
        .fetch_one(conn)
        .await?)
}

pub async fn set_password(conn: &mut AnyConnection, id: i64, password_hash: &str) -> Result<()> {
    sqlx::query("UPDATE admins SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(password_hash)
        .bind(now())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert_token(
    conn: &mut AnyConnection,
    admin: i64,
    name: &str,
    token_hash: &str,
    expires_at: &str,
) -> Result<i64> {
    let r = sqlx::query(
        "INSERT INTO api_tokens (admin_id, name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(admin)
    .bind(name)
    .bind(token_hash)
    .bind(now())
    .bind(expires_at)
    .fetch_one(conn)
    .await?;
    Ok(r.try_get(0)?)
}

/// A token as its owner sees it listed (never its hash).
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    /// `''`: never.
    pub expires_at: String,
}

/// The tokens of an administrator, oldest first.
pub async fn tokens(conn: &mut AnyConnection, admin: i64) -> Result<Vec<TokenRow>> {
    let rows = sqlx::query(
        "SELECT id, name, created_at, expires_at FROM api_tokens WHERE admin_id = $1 ORDER BY id",
    )
    .bind(admin)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TokenRow {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                created_at: r.try_get(2)?,
                expires_at: r.try_get(3)?,
            })
        })
        .collect()
}

/// Deletes an administrator's token; false when they have none with that id.
pub async fn delete_token(conn: &mut AnyConnection, admin: i64, id: i64) -> Result<bool> {
    Ok(
        sqlx::query("DELETE FROM api_tokens WHERE admin_id = $1 AND id = $2")
            .bind(admin)
            .bind(id)
            .execute(conn)
            .await?
            .rows_affected()
            > 0,
    )
}

/// Ends an administrator's console sessions and API tokens, but the credential whose hash is
/// `keep` (the one the change came through); returns how many ended.
pub async fn end_credentials(conn: &mut AnyConnection, admin: i64, keep: &str) -> Result<u64> {
    let s = sqlx::query("DELETE FROM sessions WHERE admin_id = $1 AND id_hash <> $2")
        .bind(admin)
        .bind(keep)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let t = sqlx::query("DELETE FROM api_tokens WHERE admin_id = $1 AND token_hash <> $2")
        .bind(admin)
        .bind(keep)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(s + t)
}

/// The administrator a token hash belongs to while it has not expired, with every privilege
/// their roles give, and when it expires (`''`: never): one statement, since every API request
/// starts here.
pub async fn by_token(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<(AdminRow, Vec<model::Privilege>, String)>> {
    let rows = sqlx::query(
        "SELECT a.id, a.username, a.password_hash, r.privileges_json, t.expires_at FROM api_tokens t \
         JOIN admins a ON a.id = t.admin_id LEFT JOIN admin_roles ar ON ar.admin_id = a.id \
         LEFT JOIN roles r ON r.id = ar.role_id \
         WHERE t.token_hash = $1 AND (t.expires_at = '' OR t.expires_at > $2)",
    )
    .bind(token_hash)
    .bind(now())
    .fetch_all(conn)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let admin = AdminRow {
        id: first.try_get(0)?,
        username: first.try_get(1)?,
        password_hash: first.try_get(2)?,
    };
    let mut privileges = Vec::new();
    for r in &rows {
        if let Some(json) = r.try_get::<Option<String>, _>(3)? {
            privileges.extend(privileges_of(&json));
        }
    }
    let expires_at: String = first.try_get(4)?;
    Ok(Some((admin, privileges, expires_at)))
}

/// A role's privileges as stored (none when the column does not parse).
fn privileges_of(json: &str) -> Vec<model::Privilege> {
    serde_json::from_str(json).unwrap_or_default()
}

/// An installation setting.
pub async fn setting(conn: &mut AnyConnection, name: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn remove_setting(conn: &mut AnyConnection, name: &str) -> Result<()> {
    sqlx::query("DELETE FROM settings WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_setting(conn: &mut AnyConnection, name: &str, value: &str) -> Result<()> {
    sqlx::query("DELETE FROM settings WHERE name = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2)")
        .bind(name)
        .bind(value)
        .execute(conn)
        .await?;
    Ok(())
}

// --- roles ----------------------------------------------------------------------------------

const ROLE_COLS: &str =
    "id, name, description, builtin, privileges_json, version, created_at, updated_at";

/// A role with its id.
pub struct RoleRow {
    pub id: i64,
    pub role: model::Role,
}

fn role_from_row(r: &sqlx::any::AnyRow) -> Result<RoleRow> {
    Ok(RoleRow {
        id: r.try_get("id")?,
        role: model::Role {
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            builtin: r.try_get::<i64, _>("builtin")? != 0,
            privileges: serde_json::from_str(&r.try_get::<String, _>("privileges_json")?)
                .unwrap_or_default(),
            version: r.try_get("version")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        },
    })
}

pub async fn roles(conn: &mut AnyConnection) -> Result<Vec<RoleRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {ROLE_COLS} FROM roles ORDER BY builtin DESC, name"
    ))
    .fetch_all(conn)
    .await?;
    rows.iter().map(role_from_row).collect()
}

pub async fn role(conn: &mut AnyConnection, name: &str) -> Result<Option<RoleRow>> {
    let r = sqlx::query(&format!("SELECT {ROLE_COLS} FROM roles WHERE name = $1"))
        .bind(name)
        .fetch_optional(conn)
        .await?;
    r.as_ref().map(role_from_row).transpose()
}

pub async fn insert_role(conn: &mut AnyConnection, r: &model::Role) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO roles (name, description, builtin, privileges_json, created_at, updated_at) \
         VALUES ($1, $2, 0, $3, $4, $4) RETURNING id",
    )
    .bind(&r.name)
    .bind(&r.description)
    .bind(crate::to_json(&r.privileges))
    .bind(now())
    .fetch_one(conn)
    .await?)
}

pub async fn update_role(
    conn: &mut AnyConnection,
    id: i64,
    r: &model::Role,
    version: i64,
) -> Result<()> {
    crate::versioned(
        sqlx::query(
            "UPDATE roles SET description = $1, privileges_json = $2, version = version + 1, updated_at = $3 \
             WHERE id = $4 AND version = $5",
        )
        .bind(&r.description)
        .bind(crate::to_json(&r.privileges))
        .bind(now())
        .bind(id)
        .bind(version)
        .execute(conn)
        .await?
        .rows_affected(),
    )
}

pub async fn delete_role(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM roles WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The names of an administrator's roles.
pub async fn role_names(conn: &mut AnyConnection, admin: i64) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT r.name FROM admin_roles ar JOIN roles r ON r.id = ar.role_id WHERE ar.admin_id = $1 ORDER BY r.name",
    )
    .bind(admin)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Every privilege an administrator's roles give.
pub async fn privileges(conn: &mut AnyConnection, admin: i64) -> Result<Vec<model::Privilege>> {
    let rows = sqlx::query(
        "SELECT r.privileges_json FROM admin_roles ar JOIN roles r ON r.id = ar.role_id WHERE ar.admin_id = $1",
    )
    .bind(admin)
    .fetch_all(conn)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        out.extend(privileges_of(&r.try_get::<String, _>(0)?));
    }
    Ok(out)
}

pub async fn set_roles(conn: &mut AnyConnection, admin: i64, roles: &[i64]) -> Result<()> {
    sqlx::query("DELETE FROM admin_roles WHERE admin_id = $1")
        .bind(admin)
        .execute(&mut *conn)
        .await?;
    for r in roles {
        sqlx::query("INSERT INTO admin_roles (admin_id, role_id) VALUES ($1, $2)")
            .bind(admin)
            .bind(*r)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Every administrator: (id, username, created_at).
pub async fn list(conn: &mut AnyConnection) -> Result<Vec<(i64, String, String)>> {
    let rows = sqlx::query("SELECT id, username, created_at FROM admins ORDER BY username")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

pub async fn delete(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM admins WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

// --- web console sessions -------------------------------------------------------------------

pub async fn insert_session(
    conn: &mut AnyConnection,
    id_hash: &str,
    admin: i64,
    csrf: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, admin_id, csrf, created_at, seen_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(id_hash)
    .bind(admin)
    .bind(csrf)
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}

/// A session: (admin, csrf token, seen_at).
pub async fn session(
    conn: &mut AnyConnection,
    id_hash: &str,
) -> Result<Option<(AdminRow, String, String)>> {
    let r = sqlx::query(
        "SELECT a.id, a.username, a.password_hash, s.csrf, s.seen_at FROM sessions s JOIN admins a ON a.id = s.admin_id WHERE s.id_hash = $1",
    )
    .bind(id_hash)
    .fetch_optional(conn)
    .await?;
    r.map(|r| {
        Ok((
            AdminRow {
                id: r.try_get(0)?,
                username: r.try_get(1)?,
                password_hash: r.try_get(2)?,
            },
            r.try_get(3)?,
            r.try_get(4)?,
        ))
    })
    .transpose()
}

pub async fn touch_session(conn: &mut AnyConnection, id_hash: &str) -> Result<()> {
    sqlx::query("UPDATE sessions SET seen_at = $1 WHERE id_hash = $2")
        .bind(now())
        .bind(id_hash)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_session(conn: &mut AnyConnection, id_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes the sessions not seen since `before` (an RFC 3339 time).
pub async fn expire_sessions(conn: &mut AnyConnection, before: &str) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE seen_at < $1")
        .bind(before)
        .execute(conn)
        .await?
        .rows_affected())
}

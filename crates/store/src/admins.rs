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
) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (admin_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(admin)
    .bind(name)
    .bind(token_hash)
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}

/// The administrator a token hash belongs to.
pub async fn by_token(conn: &mut AnyConnection, token_hash: &str) -> Result<Option<AdminRow>> {
    let r = sqlx::query(
        "SELECT a.id, a.username, a.password_hash FROM api_tokens t JOIN admins a ON a.id = t.admin_id WHERE t.token_hash = $1",
    )
    .bind(token_hash)
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

/// An installation setting.
pub async fn setting(conn: &mut AnyConnection, name: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?,
    )
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

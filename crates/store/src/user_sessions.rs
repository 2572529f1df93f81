//! End users' sessions of the self-care page: the cookie holds the id, the store its hash.

use crate::{now, Result};
use sqlx::AnyConnection;

pub async fn insert(conn: &mut AnyConnection, id_hash: &str, user: i64, csrf: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO user_sessions (id_hash, user_id, csrf, created_at, seen_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(id_hash)
    .bind(user)
    .bind(csrf)
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}

/// A session: (user id, csrf token, seen_at).
pub async fn get(conn: &mut AnyConnection, id_hash: &str) -> Result<Option<(i64, String, String)>> {
    Ok(
        sqlx::query_as("SELECT user_id, csrf, seen_at FROM user_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn touch(conn: &mut AnyConnection, id_hash: &str) -> Result<()> {
    sqlx::query("UPDATE user_sessions SET seen_at = $1 WHERE id_hash = $2")
        .bind(now())
        .bind(id_hash)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &mut AnyConnection, id_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM user_sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(conn)
        .await?;
    Ok(())
}

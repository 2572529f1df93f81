//! Passwords and PINs stored sealed (under the installation's key) while they wait for their
//! argon2 hash: an import keeps them so and the background hasher replaces them.

use crate::Result;
use sqlx::{AnyConnection, Row};

/// What a sealed value starts with, where a hash would be.
pub const SEALED: &str = "sealed:";

/// The columns that may hold one: (table, column).
const COLUMNS: [(&str, &str); 3] = [
    ("users", "password_hash"),
    ("users", "pin_hash"),
    ("voicemail_subscribers", "pin_hash"),
];

/// A secret waiting for its hash.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub table: &'static str,
    pub column: &'static str,
    pub id: i64,
    /// As stored (`sealed:…`).
    pub value: String,
}

/// Up to `limit` sealed secrets.
pub async fn waiting(conn: &mut AnyConnection, limit: i64) -> Result<Vec<Sealed>> {
    let mut out = Vec::new();
    for (table, column) in COLUMNS {
        let left = limit - out.len() as i64;
        if left <= 0 {
            break;
        }
        // The names come from the list above, never from input.
        let rows = sqlx::query(&format!(
            "SELECT id, {column} FROM {table} WHERE {column} LIKE 'sealed:%' LIMIT $1"
        ))
        .bind(left)
        .fetch_all(&mut *conn)
        .await?;
        for r in rows {
            out.push(Sealed {
                table,
                column,
                id: r.try_get(0)?,
                value: r.try_get(1)?,
            });
        }
    }
    Ok(out)
}

/// How many secrets wait for their hash.
pub async fn count(conn: &mut AnyConnection) -> Result<i64> {
    let mut n = 0;
    for (table, column) in COLUMNS {
        let c: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE {column} LIKE 'sealed:%'"
        ))
        .fetch_one(&mut *conn)
        .await?;
        n += c;
    }
    Ok(n)
}

/// Puts `hash` where `s` was, unless the value changed meanwhile (a new password set): answers
/// whether it did.
pub async fn replace(conn: &mut AnyConnection, s: &Sealed, hash: &str) -> Result<bool> {
    let r = sqlx::query(&format!(
        "UPDATE {} SET {} = $1 WHERE id = $2 AND {} = $3",
        s.table, s.column, s.column
    ))
    .bind(hash)
    .bind(s.id)
    .bind(&s.value)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

//! Extension mobility logins: who is logged in on which phone, with which device profile.

use crate::Result;
use model::extension_mobility::Login;
use sqlx::{AnyConnection, Row};

const LOGIN: &str =
    "SELECT p.name, u.user_id, s.name, f.name, l.logged_in_at, l.expires_at, l.device_id, \
     l.user_id, l.profile_id FROM em_logins l JOIN devices p ON p.id = l.device_id \
     JOIN users u ON u.id = l.user_id JOIN systems s ON s.id = u.system_id \
     JOIN devices f ON f.id = l.profile_id";

/// The phones that run the device profiles `PROFILES` (a subquery or `$1`) stands for: logged
/// in with one, or having one as logout profile with nobody logged in.
pub(crate) const RUNNING: &str =
    "SELECT l.device_id FROM em_logins l WHERE l.profile_id IN (PROFILES) \
     UNION SELECT d.id FROM devices d WHERE d.logout_profile_id IN (PROFILES) \
     AND NOT EXISTS (SELECT 1 FROM em_logins x WHERE x.device_id = d.id)";

/// The phones running a device profile (its changes reach their files).
pub async fn phones_running(conn: &mut AnyConnection, profile: i64) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(&RUNNING.replace("PROFILES", "$1"))
        .bind(profile)
        .fetch_all(conn)
        .await?)
}

/// A login with the ids behind it.
#[derive(Debug, Clone)]
pub struct StoredLogin {
    pub login: Login,
    pub device_id: i64,
    pub user_id: i64,
    pub profile_id: i64,
}

fn row(r: &sqlx::any::AnyRow) -> Result<StoredLogin> {
    Ok(StoredLogin {
        login: Login {
            phone: r.try_get(0)?,
            user_id: r.try_get(1)?,
            system: r.try_get(2)?,
            profile: r.try_get(3)?,
            logged_in_at: r.try_get(4)?,
            expires_at: r.try_get(5)?,
        },
        device_id: r.try_get(6)?,
        user_id: r.try_get(7)?,
        profile_id: r.try_get(8)?,
    })
}

/// Who is logged in on a phone.
pub async fn on_device(conn: &mut AnyConnection, device: i64) -> Result<Option<StoredLogin>> {
    let r = sqlx::query(&format!("{LOGIN} WHERE l.device_id = $1"))
        .bind(device)
        .fetch_optional(conn)
        .await?;
    r.as_ref().map(row).transpose()
}

/// Where a user is logged in.
pub async fn of_user(conn: &mut AnyConnection, user: i64) -> Result<Vec<StoredLogin>> {
    let rows = sqlx::query(&format!("{LOGIN} WHERE l.user_id = $1 ORDER BY p.name"))
        .bind(user)
        .fetch_all(conn)
        .await?;
    rows.iter().map(row).collect()
}

/// The logins that run a profile.
pub async fn of_profile(conn: &mut AnyConnection, profile: i64) -> Result<Vec<StoredLogin>> {
    let rows = sqlx::query(&format!("{LOGIN} WHERE l.profile_id = $1 ORDER BY p.name"))
        .bind(profile)
        .fetch_all(conn)
        .await?;
    rows.iter().map(row).collect()
}

/// Every login, by phone name (a page of them) and how many there are.
pub async fn all(conn: &mut AnyConnection, limit: i64, offset: i64) -> Result<(Vec<Login>, i64)> {
    let total: i64 = sqlx::query("SELECT COUNT(*) FROM em_logins")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    let rows = sqlx::query(&format!("{LOGIN} ORDER BY p.name LIMIT $1 OFFSET $2"))
        .bind(limit)
        .bind(offset)
        .fetch_all(conn)
        .await?;
    Ok((
        rows.iter()
            .map(|r| row(r).map(|l| l.login))
            .collect::<Result<_>>()?,
        total,
    ))
}

/// The logins whose time ran out by `now`.
pub async fn expired(conn: &mut AnyConnection, now: &str) -> Result<Vec<StoredLogin>> {
    let rows = sqlx::query(&format!(
        "{LOGIN} WHERE l.expires_at IS NOT NULL AND l.expires_at <= $1 ORDER BY l.expires_at"
    ))
    .bind(now)
    .fetch_all(conn)
    .await?;
    rows.iter().map(row).collect()
}

pub async fn insert(
    conn: &mut AnyConnection,
    device: i64,
    user: i64,
    profile: i64,
    at: &str,
    expires: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO em_logins (device_id, user_id, profile_id, logged_in_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(device)
    .bind(user)
    .bind(profile)
    .bind(at)
    .bind(expires)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends the login on a phone; false when nobody was logged in.
pub async fn delete(conn: &mut AnyConnection, device: i64) -> Result<bool> {
    Ok(sqlx::query("DELETE FROM em_logins WHERE device_id = $1")
        .bind(device)
        .execute(conn)
        .await?
        .rows_affected()
        > 0)
}

//! Uploaded licences, and the counts the units used are computed from (docs/licensing.md).

use crate::{now, Result};
use model::licensing::{Licence, LicensedUser, StoredLicence, Units};
use sqlx::{AnyConnection, Row};

/// Stores a licence whose signature was checked; a licence id already stored is refused
/// ([`crate::Error::Unique`]).
pub async fn insert(conn: &mut AnyConnection, l: &Licence, text: &str, by: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO licences (licence_id, issued_to, issued, expires, device_units, \
         presence_user_units, soft_client_units, text, uploaded_at, uploaded_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&l.id)
    .bind(&l.issued_to)
    .bind(&l.issued)
    .bind(l.expires.as_deref())
    .bind(l.units.device)
    .bind(l.units.presence_user)
    .bind(l.units.soft_client)
    .bind(text)
    .bind(now())
    .bind(by)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every licence uploaded, oldest first; `today` (`YYYY-MM-DD`) says which expired.
pub async fn all(conn: &mut AnyConnection, today: &str) -> Result<Vec<StoredLicence>> {
    let rows = sqlx::query(
        "SELECT licence_id, issued_to, issued, expires, device_units, presence_user_units, \
         soft_client_units, uploaded_at, uploaded_by FROM licences ORDER BY id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let expires: Option<String> = r.try_get(3)?;
            Ok(StoredLicence {
                expired: expires.as_deref().is_some_and(|e| e < today),
                licence: Licence {
                    id: r.try_get(0)?,
                    issued_to: r.try_get(1)?,
                    issued: r.try_get(2)?,
                    expires,
                    units: Units {
                        device: r.try_get(4)?,
                        presence_user: r.try_get(5)?,
                        soft_client: r.try_get(6)?,
                    },
                },
                uploaded_at: r.try_get(7)?,
                uploaded_by: r.try_get(8)?,
            })
        })
        .collect()
}

/// The units the licences that have not expired by `today` authorise, together.
pub async fn authorised(conn: &mut AnyConnection, today: &str) -> Result<Units> {
    Ok(model::licensing::authorised(&all(conn, today).await?))
}

/// Whether any licence was uploaded (expired or not).
pub async fn any(conn: &mut AnyConnection) -> Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM licences LIMIT 1")
        .fetch_optional(conn)
        .await?
        .is_some())
}

/// Removes a licence; false when there is none with that id.
pub async fn delete(conn: &mut AnyConnection, licence_id: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM licences WHERE licence_id = $1")
        .bind(licence_id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Phones by model and whether they are secondary (adjunct) to a primary phone:
/// `(model, secondary, count)`. Device profiles use no units.
pub async fn phones_by_model(conn: &mut AnyConnection) -> Result<Vec<(String, bool, i64)>> {
    let rows = sqlx::query(
        "SELECT model, CAST(CASE WHEN primary_phone_id IS NULL THEN 0 ELSE 1 END AS BIGINT) AS secondary, \
         COUNT(*) \
         FROM devices WHERE class = 'phone' GROUP BY model, secondary",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get::<i64, _>(1)? != 0, r.try_get(2)?)))
        .collect()
}

/// Users with Enable CUP, and with Enable CUPC.
pub async fn users_with_capabilities(conn: &mut AnyConnection) -> Result<(i64, i64)> {
    let r = sqlx::query(
        "SELECT COUNT(CASE WHEN cap_presence <> 0 THEN 1 END), \
         COUNT(CASE WHEN cap_soft_client <> 0 THEN 1 END) FROM users",
    )
    .fetch_one(conn)
    .await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

/// Makes the transaction the only one checking licence units until it ends (PostgreSQL runs
/// writers side by side; SQLite has one writer at a time already).
pub async fn lock(conn: &mut AnyConnection) -> Result<()> {
    if conn.backend_name() == "PostgreSQL" {
        // "DTLI" (Dialtone licence) as a number: any key works, one used by nothing else.
        sqlx::query("SELECT pg_advisory_xact_lock(1146374217)")
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Users with a capability (the licensing status summary), by user ID: each with the number
/// of devices associated with them and their contacts (the speed dials on those devices).
pub async fn licensed_users(
    conn: &mut AnyConnection,
    limit: i64,
    offset: i64,
) -> Result<(Vec<LicensedUser>, i64)> {
    const LICENSED: &str = "(u.cap_presence <> 0 OR u.cap_soft_client <> 0)";
    let total: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM users u WHERE {LICENSED}"))
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    let rows = sqlx::query(&format!(
        "SELECT u.id, u.user_id, s.name, pl.pattern, u.cap_presence, u.cap_soft_client \
         FROM users u JOIN systems s ON s.id = u.system_id \
         LEFT JOIN lines pl ON pl.id = u.primary_line_id WHERE {LICENSED} \
         ORDER BY u.user_id, s.name LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: i64 = r.try_get(0)?;
        let devices = sqlx::query(
            "SELECT d.speed_dials_json FROM user_devices ud JOIN devices d ON d.id = ud.device_id \
             WHERE ud.user_id = $1",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        let mut contacts = 0i64;
        for d in &devices {
            let dials: String = d.try_get(0)?;
            contacts += serde_json::from_str::<Vec<serde_json::Value>>(&dials)
                .map(|v| v.len() as i64)
                .unwrap_or(0);
        }
        out.push(LicensedUser {
            user_id: r.try_get(1)?,
            system: r.try_get(2)?,
            primary_extension: r.try_get(3)?,
            presence: r.try_get::<i64, _>(4)? != 0,
            soft_client: r.try_get::<i64, _>(5)? != 0,
            devices: devices.len() as i64,
            contacts,
        });
    }
    Ok((out, total))
}

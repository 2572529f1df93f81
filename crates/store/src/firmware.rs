//! Firmware loads chosen per model, on a system, a device pool or one device.

use crate::{now, Result};
use model::firmware::{LoadChoice, LoadScope};
use sqlx::{AnyConnection, Row};

/// A choice with the system's id behind it.
#[derive(Debug, Clone)]
pub struct StoredChoice {
    pub system_id: i64,
    pub choice: LoadChoice,
}

const SELECT: &str = "SELECT f.system_id, s.name, f.model, f.scope, f.target, f.load_id \
    FROM firmware_loads f JOIN systems s ON s.id = f.system_id";

fn row(r: &sqlx::any::AnyRow) -> Result<StoredChoice> {
    let scope: String = r.try_get(3)?;
    Ok(StoredChoice {
        system_id: r.try_get(0)?,
        choice: LoadChoice {
            system: r.try_get(1)?,
            model: r.try_get(2)?,
            scope: LoadScope::parse(&scope).unwrap_or(LoadScope::Device),
            target: r.try_get(4)?,
            load: r.try_get(5)?,
        },
    })
}

/// Every choice, by system, model, scope and target.
pub async fn list(conn: &mut AnyConnection) -> Result<Vec<StoredChoice>> {
    let rows = sqlx::query(&format!(
        "{SELECT} ORDER BY s.name, f.model, f.scope, f.target"
    ))
    .fetch_all(conn)
    .await?;
    rows.iter().map(row).collect()
}

/// The choices of the systems `systems` (for a batch of phone files).
pub async fn of_systems(conn: &mut AnyConnection, systems: &[i64]) -> Result<Vec<StoredChoice>> {
    if systems.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.backend_name().to_string();
    let mut q = crate::sql::Sql::new(&format!("{SELECT} WHERE f.system_id IN "));
    q.bind_in(&backend, systems);
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(row).collect()
}

/// Sets a choice (replacing the load of the same system, model, scope and target); answers the
/// load it replaced.
pub async fn set(
    conn: &mut AnyConnection,
    system_id: i64,
    c: &LoadChoice,
) -> Result<Option<String>> {
    let before: Option<String> = sqlx::query_scalar(
        "SELECT load_id FROM firmware_loads WHERE system_id = $1 AND model = $2 AND scope = $3 AND target = $4",
    )
    .bind(system_id)
    .bind(&c.model)
    .bind(c.scope.as_str())
    .bind(&c.target)
    .fetch_optional(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO firmware_loads (system_id, model, scope, target, load_id, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (system_id, model, scope, target) \
         DO UPDATE SET load_id = excluded.load_id, updated_at = excluded.updated_at",
    )
    .bind(system_id)
    .bind(&c.model)
    .bind(c.scope.as_str())
    .bind(&c.target)
    .bind(&c.load)
    .bind(now())
    .execute(conn)
    .await?;
    Ok(before)
}

/// Removes a choice; answers whether there was one.
pub async fn remove(
    conn: &mut AnyConnection,
    system_id: i64,
    model: &str,
    scope: LoadScope,
    target: &str,
) -> Result<bool> {
    let r = sqlx::query(
        "DELETE FROM firmware_loads WHERE system_id = $1 AND model = $2 AND scope = $3 AND target = $4",
    )
    .bind(system_id)
    .bind(model)
    .bind(scope.as_str())
    .bind(target)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// The choices naming `load` (a load in use is not deleted).
pub async fn using(conn: &mut AnyConnection, load: &str) -> Result<Vec<StoredChoice>> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE lower(f.load_id) = lower($1) ORDER BY s.name, f.model"
    ))
    .bind(load)
    .fetch_all(conn)
    .await?;
    rows.iter().map(row).collect()
}

/// Records the load a device fetched as the firmware it runs (enterprise phones report none).
pub async fn record_fetched(conn: &mut AnyConnection, device_id: i64, load: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO device_resync (device_id, firmware) SELECT id, $2 FROM devices WHERE id = $1 \
         ON CONFLICT (device_id) DO UPDATE SET firmware = excluded.firmware",
    )
    .bind(device_id)
    .bind(load)
    .execute(conn)
    .await?;
    Ok(())
}

/// A phone of a model some load is chosen for, with the firmware it last reported.
#[derive(Debug, Clone)]
pub struct PhoneFirmware {
    pub name: String,
    pub model: String,
    pub system_id: i64,
    pub system: String,
    pub device_pool: String,
    /// As reported (syslog `$SWVER`, or the load it fetched); empty when never.
    pub firmware: String,
}

/// The phones of the models any load is chosen for, by name.
pub async fn phones(conn: &mut AnyConnection) -> Result<Vec<PhoneFirmware>> {
    let rows = sqlx::query(
        "SELECT d.name, d.model, d.system_id, s.name, d.device_pool, COALESCE(r.firmware, '') \
         FROM devices d JOIN systems s ON s.id = d.system_id \
         LEFT JOIN device_resync r ON r.device_id = d.id \
         WHERE d.class = 'phone' AND EXISTS (SELECT 1 FROM firmware_loads f \
         WHERE f.system_id = d.system_id AND f.model = d.model) ORDER BY d.name_lc",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PhoneFirmware {
                name: r.try_get(0)?,
                model: r.try_get(1)?,
                system_id: r.try_get(2)?,
                system: r.try_get(3)?,
                device_pool: r.try_get(4)?,
                firmware: r.try_get(5)?,
            })
        })
        .collect()
}

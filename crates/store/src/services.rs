//! IP phone services.

use crate::sql::{push_prefix, Find, Sql};
use crate::{json_list, now, to_json, versioned, Result};
use model::{Page, PhoneService, ServiceParameter};
use sqlx::{AnyConnection, Row};

#[derive(Debug, Clone)]
pub struct ServiceRow {
    pub system_id: i64,
    pub name: String,
    pub url: String,
    pub description: String,
    pub parameters: Vec<ServiceParameter>,
}

const COLS: &str = "ps.id, s.name AS system_name, ps.system_id, ps.name, ps.url, ps.description, ps.parameters_json, ps.version, \
    (SELECT COUNT(*) FROM subscriptions sub WHERE sub.service_id = ps.id) AS subscribers";
const FROM: &str = " FROM phone_services ps JOIN systems s ON s.id = ps.system_id";

fn from_row(r: &sqlx::any::AnyRow) -> Result<PhoneService> {
    Ok(PhoneService {
        id: r.try_get("id")?,
        system: r.try_get("system_name")?,
        name: r.try_get("name")?,
        url: r.try_get("url")?,
        description: r.try_get("description")?,
        parameters: json_list(&r.try_get::<String, _>("parameters_json")?),
        subscribers: r.try_get("subscribers")?,
        version: r.try_get("version")?,
    })
}

pub async fn find(conn: &mut AnyConnection, f: &Find) -> Result<Page<PhoneService>> {
    let mut w = Sql::new(" WHERE 1 = 1");
    if let Some(s) = &f.system {
        w.push(" AND s.name = ").bind(s.as_str());
    }
    let backend = conn.backend_name().to_string();
    w.within_systems(&backend, "s.name", f.systems.as_deref());
    if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
        w.push(" AND ");
        push_prefix(&mut w, "ps.name", q);
    }
    let o = f.order();
    let order = format!("ps.name {o}, ps.id {o}");
    crate::page::page(conn, COLS, &w.with_prefix(FROM), &order, f, from_row).await
}

pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<PhoneService> {
    crate::page::one(
        conn,
        &format!("SELECT {COLS}{FROM} WHERE ps.id = $1"),
        id,
        from_row,
    )
    .await
}

/// Services with this name: (id, system id).
pub async fn ids_by_name(conn: &mut AnyConnection, name: &str) -> Result<Vec<(i64, i64)>> {
    let rows = sqlx::query("SELECT id, system_id FROM phone_services WHERE name = $1 ORDER BY id")
        .bind(name)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

pub async fn insert(conn: &mut AnyConnection, s: &ServiceRow) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO phone_services (system_id, name, url, description, parameters_json, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(s.system_id)
    .bind(&s.name)
    .bind(&s.url)
    .bind(&s.description)
    .bind(to_json(&s.parameters))
    .bind(now())
    .fetch_one(conn)
    .await?)
}

pub async fn update(conn: &mut AnyConnection, id: i64, version: i64, s: &ServiceRow) -> Result<()> {
    versioned(sqlx::query(
        "UPDATE phone_services SET name = $1, url = $2, description = $3, parameters_json = $4, version = version + 1, \
         updated_at = $5 WHERE id = $6 AND version = $7",
    )
    .bind(&s.name)
    .bind(&s.url)
    .bind(&s.description)
    .bind(to_json(&s.parameters))
    .bind(now())
    .bind(id)
    .bind(version)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Names of the devices subscribed to a service.
pub async fn subscribed_devices(conn: &mut AnyConnection, id: i64) -> Result<Vec<(i64, String)>> {
    let rows = sqlx::query("SELECT d.id, d.name FROM subscriptions sub JOIN devices d ON d.id = sub.device_id WHERE sub.service_id = $1 ORDER BY d.name")
        .bind(id)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

pub async fn delete(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM phone_services WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

//! Universal device and line templates (self-provisioning): one table, `kind` telling them
//! apart, their settings kept as JSON.

use crate::sql::{push_prefix, Find, Sql};
use crate::{now, versioned, Result};
use model::Page;
use sqlx::{AnyConnection, Row};

/// Which of the two a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    Device,
    Line,
}

impl TemplateKind {
    fn as_str(self) -> &'static str {
        match self {
            TemplateKind::Device => "device",
            TemplateKind::Line => "line",
        }
    }
    /// The user profile's column that names a template of this kind.
    fn profile_column(self) -> &'static str {
        match self {
            TemplateKind::Device => "device_template_id",
            TemplateKind::Line => "line_template_id",
        }
    }
    /// The system setting that names a template of this kind for auto-registered phones.
    pub fn auto_registration_setting(self) -> &'static str {
        match self {
            TemplateKind::Device => "auto_registration_device_template",
            TemplateKind::Line => "auto_registration_line_template",
        }
    }
}

/// A template as stored: its settings as the JSON they were written as.
#[derive(Debug, Clone)]
pub struct TemplateRow {
    pub id: i64,
    pub system_id: i64,
    pub system: String,
    pub name: String,
    pub description: String,
    pub settings_json: String,
    /// User profiles that name it.
    pub profiles: Vec<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

const COLS: &str = "t.id, t.system_id, s.name AS system_name, t.name, t.description, \
    t.settings_json, t.version, t.created_at, t.updated_at";
const FROM: &str = " FROM universal_templates t JOIN systems s ON s.id = t.system_id";

fn from_row(r: &sqlx::any::AnyRow) -> Result<TemplateRow> {
    Ok(TemplateRow {
        id: r.try_get("id")?,
        system_id: r.try_get("system_id")?,
        system: r.try_get("system_name")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        settings_json: r.try_get("settings_json")?,
        profiles: Vec::new(),
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn find(
    conn: &mut AnyConnection,
    kind: TemplateKind,
    f: &Find,
) -> Result<Page<TemplateRow>> {
    let mut w = Sql::new(" WHERE t.kind = ");
    w.bind(kind.as_str());
    if let Some(s) = &f.system {
        w.push(" AND s.name = ").bind(s.as_str());
    }
    let backend = conn.backend_name().to_string();
    w.within_systems(&backend, "s.name", f.systems.as_deref());
    if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
        w.push(" AND ");
        push_prefix(&mut w, "t.name", q);
    }
    let o = f.order();
    let order = format!("t.name {o}, t.id {o}");
    let mut page = crate::page::page(conn, COLS, &w.with_prefix(FROM), &order, f, from_row).await?;
    // Templates are few (a handful a system): each page's names of profiles, one read each.
    for t in &mut page.items {
        t.profiles = profiles_naming(conn, kind, t.id).await?;
    }
    Ok(page)
}

pub async fn by_id(conn: &mut AnyConnection, kind: TemplateKind, id: i64) -> Result<TemplateRow> {
    let mut t = crate::page::one(
        conn,
        &format!(
            "SELECT {COLS}{FROM} WHERE t.id = $1 AND t.kind = '{}'",
            kind.as_str()
        ),
        id,
        from_row,
    )
    .await?;
    t.profiles = profiles_naming(conn, kind, id).await?;
    Ok(t)
}

/// The user profiles that name a template.
pub async fn profiles_naming(
    conn: &mut AnyConnection,
    kind: TemplateKind,
    id: i64,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT name FROM user_profiles WHERE {} = $1 ORDER BY name",
        kind.profile_column()
    ))
    .bind(id)
    .fetch_all(conn)
    .await?)
}

/// Templates of a kind with this name: (id, system id).
pub async fn ids_by_name(
    conn: &mut AnyConnection,
    kind: TemplateKind,
    name: &str,
) -> Result<Vec<(i64, i64)>> {
    let rows = sqlx::query(
        "SELECT id, system_id FROM universal_templates WHERE kind = $1 AND name = $2 ORDER BY id",
    )
    .bind(kind.as_str())
    .bind(name)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The template of a kind with this name on a system, if any.
pub async fn id_on(
    conn: &mut AnyConnection,
    kind: TemplateKind,
    system_id: i64,
    name: &str,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM universal_templates WHERE kind = $1 AND system_id = $2 AND name = $3",
    )
    .bind(kind.as_str())
    .bind(system_id)
    .bind(name)
    .fetch_optional(conn)
    .await?)
}

pub async fn insert(
    conn: &mut AnyConnection,
    kind: TemplateKind,
    system_id: i64,
    name: &str,
    description: &str,
    settings_json: &str,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO universal_templates (kind, system_id, name, description, settings_json, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(kind.as_str())
    .bind(system_id)
    .bind(name)
    .bind(description)
    .bind(settings_json)
    .bind(now())
    .fetch_one(conn)
    .await?)
}

pub async fn update(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    name: &str,
    description: &str,
    settings_json: &str,
) -> Result<()> {
    versioned(
        sqlx::query(
            "UPDATE universal_templates SET name = $1, description = $2, settings_json = $3, \
             version = version + 1, updated_at = $4 WHERE id = $5 AND version = $6",
        )
        .bind(name)
        .bind(description)
        .bind(settings_json)
        .bind(now())
        .bind(id)
        .bind(version)
        .execute(conn)
        .await?
        .rows_affected(),
    )
}

pub async fn delete(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM universal_templates WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

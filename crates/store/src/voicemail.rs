//! Voicemail subscribers, classes of service and public distribution lists.

use crate::sql::{push_prefix, Find, Sql};
use crate::users::{conflicts_of, namesakes};
use crate::{b, json_list, now, to_json, versioned, Error, Result};
use model::{
    ClassOfService, DistributionList, Page, RestrictionEntry, RestrictionTable, SubscriberTemplate,
    VoicemailSubscriber,
};
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct SubscriberRow {
    pub system_id: i64,
    pub alias: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub extension: String,
    pub mail: String,
    pub pin_hash: Option<String>,
    pub cos_id: i64,
    pub subscriber_template: String,
}

#[derive(Debug, Clone)]
pub struct StoredSubscriber {
    pub subscriber: VoicemailSubscriber,
    pub row: SubscriberRow,
    pub list_ids: Vec<i64>,
}

const COLS: &str = "v.id, s.name AS system_name, v.system_id, v.alias, v.first_name, v.last_name, v.display_name, v.extension, \
    v.mail, v.pin_hash, v.cos_id, c.name AS cos_name, v.subscriber_template, v.version, v.created_at, v.updated_at";
const FROM: &str = " FROM voicemail_subscribers v JOIN systems s ON s.id = v.system_id JOIN classes_of_service c ON c.id = v.cos_id";

fn from_row(r: &sqlx::any::AnyRow) -> Result<StoredSubscriber> {
    let row = SubscriberRow {
        system_id: r.try_get("system_id")?,
        alias: r.try_get("alias")?,
        first_name: r.try_get("first_name")?,
        last_name: r.try_get("last_name")?,
        display_name: r.try_get("display_name")?,
        extension: r.try_get("extension")?,
        mail: r.try_get("mail")?,
        pin_hash: r.try_get("pin_hash")?,
        cos_id: r.try_get("cos_id")?,
        subscriber_template: r.try_get("subscriber_template")?,
    };
    let subscriber = VoicemailSubscriber {
        id: r.try_get("id")?,
        system: r.try_get("system_name")?,
        alias: row.alias.clone(),
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        display_name: row.display_name.clone(),
        extension: row.extension.clone(),
        mail: row.mail.clone(),
        class_of_service: r.try_get("cos_name")?,
        subscriber_template: row.subscriber_template.clone(),
        distribution_lists: Vec::new(),
        has_pin: row.pin_hash.is_some(),
        conflicts: Vec::new(),
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    };
    Ok(StoredSubscriber {
        subscriber,
        row,
        list_ids: Vec::new(),
    })
}

async fn hydrate(
    conn: &mut AnyConnection,
    mut subs: Vec<StoredSubscriber>,
) -> Result<Vec<StoredSubscriber>> {
    if subs.is_empty() {
        return Ok(subs);
    }
    let ids: Vec<i64> = subs.iter().map(|s| s.subscriber.id).collect();
    let mut lists: BTreeMap<i64, Vec<(i64, String)>> = BTreeMap::new();
    let mut q = Sql::new("SELECT sl.subscriber_id, dl.id, dl.name FROM subscriber_lists sl JOIN distribution_lists dl ON dl.id = sl.list_id WHERE sl.subscriber_id IN ");
    q.bind_list(&ids).push(" ORDER BY dl.name");
    for r in q.query().fetch_all(&mut *conn).await? {
        lists
            .entry(r.try_get(0)?)
            .or_default()
            .push((r.try_get(1)?, r.try_get(2)?));
    }
    let aliases: Vec<String> = subs.iter().map(|s| s.subscriber.alias.clone()).collect();
    let names = namesakes(conn, &aliases).await?;
    for s in &mut subs {
        let l = lists.remove(&s.subscriber.id).unwrap_or_default();
        s.list_ids = l.iter().map(|(id, _)| *id).collect();
        s.subscriber.distribution_lists = l.into_iter().map(|(_, n)| n).collect();
        s.subscriber.conflicts =
            conflicts_of("voicemail", s.subscriber.id, &s.subscriber.alias, &names);
    }
    Ok(subs)
}

/// `q` is a prefix of the alias, first or last name. Filters: `alias`, `extension`,
/// `class_of_service`. Sorts: `last_name` (default), `alias`, `extension`, `updated_at`.
pub async fn find(conn: &mut AnyConnection, f: &Find) -> Result<Page<VoicemailSubscriber>> {
    let mut w = Sql::new(" WHERE 1 = 1");
    if let Some(s) = &f.system {
        w.push(" AND s.name = ").bind(s.as_str());
    }
    let backend = conn.backend_name().to_string();
    w.within_systems(&backend, "s.name", f.systems.as_deref());
    if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
        let q = q.to_lowercase();
        w.push(" AND ((");
        push_prefix(&mut w, "v.alias_lc", &q);
        w.push(") OR (");
        push_prefix(&mut w, "v.first_lc", &q);
        w.push(") OR (");
        push_prefix(&mut w, "v.last_lc", &q);
        w.push("))");
    }
    for (k, v) in &f.filters {
        match k.as_str() {
            "alias" | "extension" => {
                w.push(&format!(" AND v.{k} = ")).bind(v.as_str());
            }
            "class_of_service" => {
                w.push(" AND c.name = ").bind(v.as_str());
            }
            _ => {}
        }
    }
    let o = f.order();
    let sort = match f.sort.as_deref() {
        Some("alias") => format!("v.alias {o}"),
        Some("extension") => format!("v.extension {o}"),
        Some("updated_at") => format!("v.updated_at {o}"),
        _ => format!("v.last_lc {o}, v.first_lc {o}"),
    };
    let order = format!("{sort}, v.id {o}");
    let mut p = crate::page::page(conn, COLS, &w.with_prefix(FROM), &order, f, from_row).await?;
    p.items = hydrate(conn, std::mem::take(&mut p.items)).await?;
    Ok(p.map(|s| s.subscriber))
}

pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<StoredSubscriber> {
    let select = format!("SELECT {COLS}{FROM} WHERE v.id = $1");
    let s = crate::page::one(conn, &select, id, from_row).await?;
    Ok(hydrate(conn, vec![s]).await?.remove(0))
}

pub async fn ids_by_alias(
    conn: &mut AnyConnection,
    alias: &str,
    system: Option<&str>,
) -> Result<Vec<(i64, String)>> {
    let mut q = Sql::new("SELECT v.id, s.name FROM voicemail_subscribers v JOIN systems s ON s.id = v.system_id WHERE v.alias = ");
    q.bind(alias);
    if let Some(s) = system {
        q.push(" AND s.name = ").bind(s);
    }
    q.push(" ORDER BY s.name");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

fn bind_row<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    v: &'q SubscriberRow,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(&v.alias)
        .bind(v.alias.to_lowercase())
        .bind(&v.first_name)
        .bind(v.first_name.to_lowercase())
        .bind(&v.last_name)
        .bind(v.last_name.to_lowercase())
        .bind(&v.display_name)
        .bind(&v.extension)
        .bind(&v.mail)
        .bind(v.pin_hash.as_deref())
        .bind(v.cos_id)
        .bind(&v.subscriber_template)
}

const WRITE_COLS: &str =
    "alias, alias_lc, first_name, first_lc, last_name, last_lc, display_name, extension, mail, pin_hash, cos_id, subscriber_template";

pub async fn insert(conn: &mut AnyConnection, v: &SubscriberRow) -> Result<i64> {
    let sql = crate::sql::insert_sql("voicemail_subscribers", WRITE_COLS);
    Ok(bind_row(sqlx::query(&sql), v)
        .bind(v.system_id)
        .bind(now())
        .fetch_one(conn)
        .await?
        .try_get(0)?)
}

pub async fn update(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    v: &SubscriberRow,
) -> Result<()> {
    let sql = crate::sql::update_sql("voicemail_subscribers", WRITE_COLS);
    versioned(
        bind_row(sqlx::query(&sql), v)
            .bind(now())
            .bind(id)
            .bind(version)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

pub async fn set_lists(conn: &mut AnyConnection, subscriber: i64, lists: &[i64]) -> Result<()> {
    sqlx::query("DELETE FROM subscriber_lists WHERE subscriber_id = $1")
        .bind(subscriber)
        .execute(&mut *conn)
        .await?;
    for l in lists {
        sqlx::query("INSERT INTO subscriber_lists (subscriber_id, list_id) VALUES ($1, $2)")
            .bind(subscriber)
            .bind(*l)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn delete(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM voicemail_subscribers WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

// --- classes of service ---------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct CosRow {
    pub system_id: i64,
    pub name: String,
    pub max_message_seconds: i64,
    pub send_to_public_lists: bool,
    pub secure_logon: bool,
    pub directory_listing: bool,
    /// Restriction tables, by id.
    pub transfer: i64,
    pub notification: i64,
    pub fax: i64,
}

const COS_SELECT: &str = "SELECT c.id, s.name AS system_name, c.name, c.max_message_seconds, c.send_to_public_lists, c.secure_logon, \
    c.directory_listing, COALESCE(rt.name, '') AS transfer_name, COALESCE(rn.name, '') AS notification_name, \
    COALESCE(rf.name, '') AS fax_name, c.version FROM classes_of_service c JOIN systems s ON s.id = c.system_id \
    LEFT JOIN restriction_tables rt ON rt.id = c.transfer_table_id \
    LEFT JOIN restriction_tables rn ON rn.id = c.notification_table_id \
    LEFT JOIN restriction_tables rf ON rf.id = c.fax_table_id";

fn cos_from_row(r: &sqlx::any::AnyRow) -> Result<ClassOfService> {
    Ok(ClassOfService {
        id: r.try_get("id")?,
        system: r.try_get("system_name")?,
        name: r.try_get("name")?,
        max_message_seconds: r.try_get("max_message_seconds")?,
        send_to_public_lists: b(r.try_get("send_to_public_lists")?),
        secure_logon: b(r.try_get("secure_logon")?),
        directory_listing: b(r.try_get("directory_listing")?),
        transfer_restriction: r.try_get("transfer_name")?,
        notification_restriction: r.try_get("notification_name")?,
        fax_restriction: r.try_get("fax_name")?,
        version: r.try_get("version")?,
    })
}

pub async fn list_cos(
    conn: &mut AnyConnection,
    system: Option<&str>,
) -> Result<Vec<ClassOfService>> {
    let mut q = Sql::new(COS_SELECT);
    if let Some(s) = system {
        q.push(" WHERE s.name = ").bind(s);
    }
    q.push(" ORDER BY s.name, c.name");
    q.query()
        .fetch_all(conn)
        .await?
        .iter()
        .map(cos_from_row)
        .collect()
}

pub async fn cos_id(conn: &mut AnyConnection, system_id: i64, name: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM classes_of_service WHERE system_id = $1 AND name = $2")
            .bind(system_id)
            .bind(name)
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn cos_by_id(conn: &mut AnyConnection, id: i64) -> Result<ClassOfService> {
    let r = sqlx::query(&format!("{COS_SELECT} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    r.as_ref()
        .map(cos_from_row)
        .transpose()?
        .ok_or(Error::NotFound)
}

pub async fn insert_cos(conn: &mut AnyConnection, c: &CosRow) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO classes_of_service (system_id, name, max_message_seconds, send_to_public_lists, secure_logon, \
         directory_listing, transfer_table_id, notification_table_id, fax_table_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(c.system_id)
    .bind(&c.name)
    .bind(c.max_message_seconds)
    .bind(c.send_to_public_lists as i64)
    .bind(c.secure_logon as i64)
    .bind(c.directory_listing as i64)
    .bind(c.transfer)
    .bind(c.notification)
    .bind(c.fax)
    .bind(now())
    .fetch_one(conn)
    .await?)
}

pub async fn update_cos(conn: &mut AnyConnection, id: i64, version: i64, c: &CosRow) -> Result<()> {
    versioned(sqlx::query(
        "UPDATE classes_of_service SET name = $1, max_message_seconds = $2, send_to_public_lists = $3, secure_logon = $4, \
         directory_listing = $5, transfer_table_id = $6, notification_table_id = $7, fax_table_id = $8, version = version + 1, \
         updated_at = $9 WHERE id = $10 AND version = $11",
    )
    .bind(&c.name)
    .bind(c.max_message_seconds)
    .bind(c.send_to_public_lists as i64)
    .bind(c.secure_logon as i64)
    .bind(c.directory_listing as i64)
    .bind(c.transfer)
    .bind(c.notification)
    .bind(c.fax)
    .bind(now())
    .bind(id)
    .bind(version)
    .execute(conn)
    .await?
    .rows_affected())
}

pub async fn update_dl(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    name: &str,
    description: &str,
) -> Result<()> {
    versioned(sqlx::query(
        "UPDATE distribution_lists SET name = $1, description = $2, version = version + 1, updated_at = $3 WHERE id = $4 AND version = $5",
    )
    .bind(name)
    .bind(description)
    .bind(now())
    .bind(id)
    .bind(version)
    .execute(conn)
    .await?
    .rows_affected())
}

pub async fn cos_users(conn: &mut AnyConnection, id: i64) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM voicemail_subscribers WHERE cos_id = $1")
            .bind(id)
            .fetch_one(conn)
            .await?,
    )
}

pub async fn delete_cos(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM classes_of_service WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

// --- distribution lists ---------------------------------------------------------------------

const DL_SELECT: &str =
    "SELECT dl.id, s.name AS system_name, dl.name, dl.description, dl.version, \
    (SELECT COUNT(*) FROM subscriber_lists sl WHERE sl.list_id = dl.id) AS members \
    FROM distribution_lists dl JOIN systems s ON s.id = dl.system_id";

fn dl_from_row(r: &sqlx::any::AnyRow) -> Result<DistributionList> {
    Ok(DistributionList {
        id: r.try_get("id")?,
        system: r.try_get("system_name")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        members: r.try_get("members")?,
        version: r.try_get("version")?,
    })
}

pub async fn list_dls(
    conn: &mut AnyConnection,
    system: Option<&str>,
) -> Result<Vec<DistributionList>> {
    let mut q = Sql::new(DL_SELECT);
    if let Some(s) = system {
        q.push(" WHERE s.name = ").bind(s);
    }
    q.push(" ORDER BY s.name, dl.name");
    q.query()
        .fetch_all(conn)
        .await?
        .iter()
        .map(dl_from_row)
        .collect()
}

pub async fn dl_by_id(conn: &mut AnyConnection, id: i64) -> Result<DistributionList> {
    let r = sqlx::query(&format!("{DL_SELECT} WHERE dl.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    r.as_ref()
        .map(dl_from_row)
        .transpose()?
        .ok_or(Error::NotFound)
}

pub async fn dl_id(conn: &mut AnyConnection, system_id: i64, name: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM distribution_lists WHERE system_id = $1 AND name = $2")
            .bind(system_id)
            .bind(name)
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn insert_dl(
    conn: &mut AnyConnection,
    system_id: i64,
    name: &str,
    description: &str,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO distribution_lists (system_id, name, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(system_id)
    .bind(name)
    .bind(description)
    .bind(now())
    .fetch_one(conn)
    .await?)
}

pub async fn delete_dl(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM subscriber_lists WHERE list_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM distribution_lists WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

// --- restriction tables ---------------------------------------------------------------------

const RT_SELECT: &str =
    "SELECT r.id, s.name AS system_name, r.name, r.entries_json, r.version, r.system_id \
    FROM restriction_tables r JOIN systems s ON s.id = r.system_id";

async fn rt_from_row(conn: &mut AnyConnection, r: &sqlx::any::AnyRow) -> Result<RestrictionTable> {
    let id: i64 = r.try_get("id")?;
    let used_by: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM classes_of_service WHERE transfer_table_id = $1 OR notification_table_id = $1 \
         OR fax_table_id = $1 ORDER BY name",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    Ok(RestrictionTable {
        id,
        system: r.try_get("system_name")?,
        name: r.try_get("name")?,
        entries: json_list(&r.try_get::<String, _>("entries_json")?),
        used_by,
        version: r.try_get("version")?,
    })
}

/// The restriction tables, of one system or all, by system and name.
pub async fn list_rts(
    conn: &mut AnyConnection,
    system: Option<&str>,
) -> Result<Vec<RestrictionTable>> {
    let mut q = Sql::new(RT_SELECT);
    if let Some(s) = system {
        q.push(" WHERE s.name = ").bind(s);
    }
    q.push(" ORDER BY s.name, r.name");
    let rows = q.query().fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(rt_from_row(conn, r).await?);
    }
    Ok(out)
}

pub async fn rt_by_id(conn: &mut AnyConnection, id: i64) -> Result<RestrictionTable> {
    let r = sqlx::query(&format!("{RT_SELECT} WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Error::NotFound)?;
    rt_from_row(conn, &r).await
}

/// The restriction tables named `name` (of `system` when given): id and system.
pub async fn rt_ids(
    conn: &mut AnyConnection,
    name: &str,
    system: Option<&str>,
) -> Result<Vec<(i64, String)>> {
    let mut q = Sql::new("SELECT r.id, s.name FROM restriction_tables r JOIN systems s ON s.id = r.system_id WHERE r.name = ");
    q.bind(name);
    if let Some(s) = system {
        q.push(" AND s.name = ").bind(s);
    }
    let rows = q.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

pub async fn insert_rt(
    conn: &mut AnyConnection,
    system_id: i64,
    name: &str,
    entries: &[RestrictionEntry],
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO restriction_tables (system_id, name, entries_json, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(system_id)
    .bind(name)
    .bind(to_json(&entries.to_vec()))
    .bind(now())
    .fetch_one(conn)
    .await?)
}

pub async fn update_rt(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    name: &str,
    entries: &[RestrictionEntry],
) -> Result<()> {
    versioned(sqlx::query(
        "UPDATE restriction_tables SET name = $1, entries_json = $2, version = version + 1, updated_at = $3 \
         WHERE id = $4 AND version = $5",
    )
    .bind(name)
    .bind(to_json(&entries.to_vec()))
    .bind(now())
    .bind(id)
    .bind(version)
    .execute(conn)
    .await?
    .rows_affected())
}

pub async fn delete_rt(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM restriction_tables WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

// --- subscriber templates -------------------------------------------------------------------

/// A subscriber template as stored: what a new subscriber made from it gets.
#[derive(Debug, Clone)]
pub struct StoredTemplate {
    pub template: SubscriberTemplate,
    pub system_id: i64,
    pub cos_id: i64,
    pub pin_hash: Option<String>,
    pub list_ids: Vec<i64>,
}

const ST_SELECT: &str = "SELECT t.id, s.name AS system_name, t.name, c.name AS cos_name, t.pin_hash, t.version, \
    t.system_id, t.cos_id, (SELECT COUNT(*) FROM voicemail_subscribers v WHERE v.system_id = t.system_id \
    AND v.subscriber_template = t.name) AS subscribers \
    FROM subscriber_templates t JOIN systems s ON s.id = t.system_id JOIN classes_of_service c ON c.id = t.cos_id";

async fn st_from_row(conn: &mut AnyConnection, r: &sqlx::any::AnyRow) -> Result<StoredTemplate> {
    let id: i64 = r.try_get("id")?;
    let lists = sqlx::query(
        "SELECT d.id, d.name FROM subscriber_template_lists l JOIN distribution_lists d ON d.id = l.list_id \
         WHERE l.template_id = $1 ORDER BY d.name",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    let pin_hash: Option<String> = r.try_get("pin_hash")?;
    Ok(StoredTemplate {
        template: SubscriberTemplate {
            id,
            system: r.try_get("system_name")?,
            name: r.try_get("name")?,
            class_of_service: r.try_get("cos_name")?,
            distribution_lists: lists
                .iter()
                .map(|l| l.try_get::<String, _>(1))
                .collect::<std::result::Result<_, _>>()?,
            has_default_pin: pin_hash.is_some(),
            subscribers: r.try_get("subscribers")?,
            version: r.try_get("version")?,
        },
        system_id: r.try_get("system_id")?,
        cos_id: r.try_get("cos_id")?,
        pin_hash,
        list_ids: lists
            .iter()
            .map(|l| l.try_get::<i64, _>(0))
            .collect::<std::result::Result<_, _>>()?,
    })
}

pub async fn list_sts(
    conn: &mut AnyConnection,
    system: Option<&str>,
) -> Result<Vec<StoredTemplate>> {
    let mut q = Sql::new(ST_SELECT);
    if let Some(s) = system {
        q.push(" WHERE s.name = ").bind(s);
    }
    q.push(" ORDER BY s.name, t.name");
    let rows = q.query().fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(st_from_row(conn, r).await?);
    }
    Ok(out)
}

pub async fn st_by_id(conn: &mut AnyConnection, id: i64) -> Result<StoredTemplate> {
    let r = sqlx::query(&format!("{ST_SELECT} WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Error::NotFound)?;
    st_from_row(conn, &r).await
}

/// The subscriber templates named `name` (of `system` when given): id and system.
pub async fn st_ids(
    conn: &mut AnyConnection,
    name: &str,
    system: Option<&str>,
) -> Result<Vec<(i64, String)>> {
    let mut q = Sql::new("SELECT t.id, s.name FROM subscriber_templates t JOIN systems s ON s.id = t.system_id WHERE t.name = ");
    q.bind(name);
    if let Some(s) = system {
        q.push(" AND s.name = ").bind(s);
    }
    let rows = q.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// A template's fields as written.
#[derive(Debug, Clone)]
pub struct TemplateRow {
    pub system_id: i64,
    pub name: String,
    pub cos_id: i64,
    pub pin_hash: Option<String>,
    pub lists: Vec<i64>,
}

pub async fn insert_st(conn: &mut AnyConnection, t: &TemplateRow) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO subscriber_templates (system_id, name, cos_id, pin_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(t.system_id)
    .bind(&t.name)
    .bind(t.cos_id)
    .bind(&t.pin_hash)
    .bind(now())
    .fetch_one(&mut *conn)
    .await?;
    set_st_lists(conn, id, &t.lists).await?;
    Ok(id)
}

async fn set_st_lists(conn: &mut AnyConnection, id: i64, lists: &[i64]) -> Result<()> {
    sqlx::query("DELETE FROM subscriber_template_lists WHERE template_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for l in lists {
        sqlx::query("INSERT INTO subscriber_template_lists (template_id, list_id) VALUES ($1, $2)")
            .bind(id)
            .bind(l)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Updates a template; subscribers made from it follow a new name.
pub async fn update_st(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    old_name: &str,
    t: &TemplateRow,
) -> Result<()> {
    versioned(
        sqlx::query(
            "UPDATE subscriber_templates SET name = $1, cos_id = $2, pin_hash = $3, version = version + 1, \
             updated_at = $4 WHERE id = $5 AND version = $6",
        )
        .bind(&t.name)
        .bind(t.cos_id)
        .bind(&t.pin_hash)
        .bind(now())
        .bind(id)
        .bind(version)
        .execute(&mut *conn)
        .await?
        .rows_affected(),
    )?;
    set_st_lists(conn, id, &t.lists).await?;
    if t.name != old_name {
        sqlx::query(
            "UPDATE voicemail_subscribers SET subscriber_template = $1 WHERE system_id = $2 AND subscriber_template = $3",
        )
        .bind(&t.name)
        .bind(t.system_id)
        .bind(old_name)
        .execute(conn)
        .await?;
    }
    Ok(())
}

pub async fn delete_st(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM subscriber_templates WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The subscriber templates naming a distribution list or a class of service.
pub async fn templates_using(
    conn: &mut AnyConnection,
    list: Option<i64>,
    cos: Option<i64>,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT t.name FROM subscriber_templates t WHERE t.cos_id = $2 \
         OR EXISTS (SELECT 1 FROM subscriber_template_lists l WHERE l.template_id = t.id AND l.list_id = $1) \
         ORDER BY t.name",
    )
    .bind(list.unwrap_or(-1))
    .bind(cos.unwrap_or(-1))
    .fetch_all(conn)
    .await?)
}

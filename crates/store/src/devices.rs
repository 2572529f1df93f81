//! Phones and device profiles: one table and one name space, told apart by `class`, with their
//! line appearances and service subscriptions.

use crate::sql::{push_prefix, Find, Sql};
use crate::{b, json_list, now, to_json, versioned, Result};
use model::rules::DeviceClass;
use model::{
    Appearance, DeviceProfile, DndMode, Page, Phone, SecurityMode, SpeedDial, Subscription,
};
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

/// The stored fields of a phone or device profile, validated by the service.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub class: DeviceClass,
    pub name: String,
    pub mac: Option<String>,
    pub model: String,
    pub protocol: String,
    pub system_id: i64,
    pub description: String,
    pub device_pool: String,
    pub button_template: String,
    pub softkey_template: String,
    pub calling_search_space: String,
    pub location: String,
    pub security_mode: Option<SecurityMode>,
    pub security_profile: String,
    pub allow_cti_control: bool,
    pub owner_id: Option<i64>,
    pub dnd: DndMode,
    pub expansion_modules: Vec<String>,
    pub logout_profile_id: Option<i64>,
    pub primary_phone_id: Option<i64>,
    pub speed_dials: Vec<SpeedDial>,
    /// The retired per-device `parameters` as stored before (never read into files; a phone's
    /// own provisioning parameters are the device scope's parameter set).
    pub parameters: serde_json::Map<String, serde_json::Value>,
    pub mlpp_domain: String,
    pub mlpp_indication: bool,
    pub mlpp_preemption: bool,
    pub sip_contact: Option<String>,
    /// Created by auto-registration and not claimed since.
    pub auto_registered: bool,
}

/// A line appearance as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppearanceRow {
    pub line_id: i64,
    pub button: i64,
    pub label: String,
    pub display: String,
    pub external_mask: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    pub service_id: i64,
    pub label: String,
    pub parameters: BTreeMap<String, String>,
}

/// A device as read: the row, its names for the references, and what hangs off it.
#[derive(Debug, Clone)]
pub struct StoredDevice {
    pub id: i64,
    pub row: DeviceRow,
    pub system: String,
    pub owner_user_id: Option<String>,
    pub logout_profile: Option<String>,
    pub primary_phone: Option<String>,
    pub appearances: Vec<(i64, Appearance)>,
    pub services: Vec<Subscription>,
    pub users: Vec<String>,
    pub secondary_phones: Vec<String>,
    pub logout_profile_of: Vec<String>,
    /// The phone's HTTP password, sealed (see `service::crypto`); written only by
    /// `set_http_password`, so an edit of the device never touches it.
    pub http_password_enc: Option<String>,
    /// The phone's own key for its encrypted MPP profile, sealed; written only by
    /// `set_profile_key`.
    pub profile_key_enc: Option<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl StoredDevice {
    pub fn to_phone(&self) -> Phone {
        let r = &self.row;
        Phone {
            id: self.id,
            name: r.name.clone(),
            mac: r.mac.clone(),
            model: r.model.clone(),
            protocol: r.protocol.clone(),
            system: self.system.clone(),
            description: r.description.clone(),
            device_pool: r.device_pool.clone(),
            button_template: r.button_template.clone(),
            softkey_template: r.softkey_template.clone(),
            calling_search_space: r.calling_search_space.clone(),
            location: r.location.clone(),
            security_mode: r.security_mode,
            security_profile: r.security_profile.clone(),
            allow_cti_control: r.allow_cti_control,
            owner_user_id: self.owner_user_id.clone(),
            dnd: r.dnd,
            expansion_modules: r.expansion_modules.clone(),
            logout_profile: self.logout_profile.clone(),
            primary_phone: self.primary_phone.clone(),
            secondary_phones: self.secondary_phones.clone(),
            lines: self.appearances.iter().map(|(_, a)| a.clone()).collect(),
            services: self.services.clone(),
            speed_dials: r.speed_dials.clone(),
            users: self.users.clone(),
            sip_contact: r.sip_contact.clone(),
            auto_registered: r.auto_registered,
            has_http_password: self.http_password_enc.is_some(),
            has_profile_key: self.profile_key_enc.is_some(),
            version: self.version,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        }
    }

    pub fn to_profile(&self) -> DeviceProfile {
        let r = &self.row;
        DeviceProfile {
            id: self.id,
            name: r.name.clone(),
            model: r.model.clone(),
            protocol: r.protocol.clone(),
            system: self.system.clone(),
            description: r.description.clone(),
            button_template: r.button_template.clone(),
            softkey_template: r.softkey_template.clone(),
            mlpp_domain: r.mlpp_domain.clone(),
            mlpp_indication: r.mlpp_indication,
            mlpp_preemption: r.mlpp_preemption,
            expansion_modules: r.expansion_modules.clone(),
            lines: self.appearances.iter().map(|(_, a)| a.clone()).collect(),
            services: self.services.clone(),
            speed_dials: r.speed_dials.clone(),
            users: self.users.clone(),
            logout_profile_of: self.logout_profile_of.clone(),
            version: self.version,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        }
    }
}

fn class_str(c: DeviceClass) -> &'static str {
    c.as_str()
}

const COLS: &str = "d.id, d.class, d.name, d.mac, d.model, d.protocol, d.system_id, s.name AS system_name, d.description, \
    d.device_pool, d.button_template, d.softkey_template, d.calling_search_space, d.location, d.security_mode, \
    d.security_profile, d.allow_cti_control, d.owner_id, ou.user_id AS owner_user_id, d.dnd, d.expansion_modules_json, \
    d.logout_profile_id, lp.name AS logout_name, d.primary_phone_id, pp.name AS primary_name, d.speed_dials_json, \
    d.parameters_json, d.mlpp_domain, d.mlpp_indication, d.mlpp_preemption, d.sip_contact, d.auto_registered, d.http_password_enc, d.profile_key_enc, d.version, d.created_at, d.updated_at";
const FROM: &str = " FROM devices d JOIN systems s ON s.id = d.system_id LEFT JOIN users ou ON ou.id = d.owner_id \
    LEFT JOIN devices lp ON lp.id = d.logout_profile_id LEFT JOIN devices pp ON pp.id = d.primary_phone_id";

fn from_row(r: &sqlx::any::AnyRow) -> Result<StoredDevice> {
    let class: String = r.try_get("class")?;
    let row = DeviceRow {
        class: if class == "phone" {
            DeviceClass::Phone
        } else {
            DeviceClass::DeviceProfile
        },
        name: r.try_get("name")?,
        mac: r.try_get("mac")?,
        model: r.try_get("model")?,
        protocol: r.try_get("protocol")?,
        system_id: r.try_get("system_id")?,
        description: r.try_get("description")?,
        device_pool: r.try_get("device_pool")?,
        button_template: r.try_get("button_template")?,
        softkey_template: r.try_get("softkey_template")?,
        calling_search_space: r.try_get("calling_search_space")?,
        location: r.try_get("location")?,
        security_mode: r
            .try_get::<Option<String>, _>("security_mode")?
            .as_deref()
            .and_then(SecurityMode::from_db),
        security_profile: r.try_get("security_profile")?,
        allow_cti_control: b(r.try_get("allow_cti_control")?),
        owner_id: r.try_get("owner_id")?,
        dnd: DndMode::from_db(&r.try_get::<String, _>("dnd")?),
        expansion_modules: json_list(&r.try_get::<String, _>("expansion_modules_json")?),
        logout_profile_id: r.try_get("logout_profile_id")?,
        primary_phone_id: r.try_get("primary_phone_id")?,
        speed_dials: json_list(&r.try_get::<String, _>("speed_dials_json")?),
        parameters: serde_json::from_str(&r.try_get::<String, _>("parameters_json")?)
            .unwrap_or_default(),
        mlpp_domain: r.try_get("mlpp_domain")?,
        mlpp_indication: b(r.try_get("mlpp_indication")?),
        mlpp_preemption: b(r.try_get("mlpp_preemption")?),
        sip_contact: r.try_get("sip_contact")?,
        auto_registered: b(r.try_get("auto_registered")?),
    };
    Ok(StoredDevice {
        id: r.try_get("id")?,
        row,
        system: r.try_get("system_name")?,
        owner_user_id: r.try_get("owner_user_id")?,
        logout_profile: r.try_get("logout_name")?,
        primary_phone: r.try_get("primary_name")?,
        appearances: Vec::new(),
        services: Vec::new(),
        users: Vec::new(),
        secondary_phones: Vec::new(),
        logout_profile_of: Vec::new(),
        http_password_enc: r.try_get("http_password_enc")?,
        profile_key_enc: r.try_get("profile_key_enc")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

async fn names_by(
    conn: &mut AnyConnection,
    sql: &str,
    ids: &[i64],
) -> Result<BTreeMap<i64, Vec<String>>> {
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut q = Sql::new(sql);
    q.bind_list(ids).push(" ORDER BY 2");
    for r in q.query().fetch_all(conn).await? {
        out.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
    }
    Ok(out)
}

async fn hydrate(
    conn: &mut AnyConnection,
    mut devs: Vec<StoredDevice>,
) -> Result<Vec<StoredDevice>> {
    if devs.is_empty() {
        return Ok(devs);
    }
    let ids: Vec<i64> = devs.iter().map(|d| d.id).collect();
    // Line appearances, and the other devices each line appears on.
    let mut apps: BTreeMap<i64, Vec<(i64, Appearance)>> = BTreeMap::new();
    let mut line_ids = Vec::new();
    let mut q = Sql::new(
        "SELECT a.device_id, a.line_id, l.pattern, l.partition, a.button, a.label, a.display, a.external_mask, \
         l.description, l.alerting_name, l.forward_all, l.forward_busy_internal, l.forward_busy_external, \
         l.forward_no_answer_internal, l.forward_no_answer_external, l.pickup_group, l.voicemail_profile, \
         l.max_calls, l.busy_trigger \
         FROM appearances a JOIN lines l ON l.id = a.line_id WHERE a.device_id IN ",
    );
    q.bind_list(&ids).push(" ORDER BY a.button");
    for r in q.query().fetch_all(&mut *conn).await? {
        let line_id: i64 = r.try_get("line_id")?;
        line_ids.push(line_id);
        apps.entry(r.try_get("device_id")?).or_default().push((
            line_id,
            Appearance {
                pattern: r.try_get("pattern")?,
                partition: r.try_get("partition")?,
                button: r.try_get("button")?,
                label: r.try_get("label")?,
                display: r.try_get("display")?,
                external_mask: r.try_get("external_mask")?,
                shared_with: Vec::new(),
                line: model::LineSettings {
                    line_description: r.try_get("description")?,
                    alerting_name: r.try_get("alerting_name")?,
                    forward_all: r.try_get("forward_all")?,
                    forward_busy_internal: r.try_get("forward_busy_internal")?,
                    forward_busy_external: r.try_get("forward_busy_external")?,
                    forward_no_answer_internal: r.try_get("forward_no_answer_internal")?,
                    forward_no_answer_external: r.try_get("forward_no_answer_external")?,
                    pickup_group: r.try_get("pickup_group")?,
                    voicemail_profile: r.try_get("voicemail_profile")?,
                    max_calls: r.try_get("max_calls")?,
                    busy_trigger: r.try_get("busy_trigger")?,
                },
            },
        ));
    }
    line_ids.sort();
    line_ids.dedup();
    let mut on_line: BTreeMap<i64, Vec<(i64, String)>> = BTreeMap::new();
    if !line_ids.is_empty() {
        let mut q = Sql::new("SELECT a.line_id, a.device_id, d.name FROM appearances a JOIN devices d ON d.id = a.device_id WHERE a.line_id IN ");
        q.bind_list(&line_ids).push(" ORDER BY d.name");
        for r in q.query().fetch_all(&mut *conn).await? {
            on_line
                .entry(r.try_get(0)?)
                .or_default()
                .push((r.try_get(1)?, r.try_get(2)?));
        }
    }
    let mut subs: BTreeMap<i64, Vec<Subscription>> = BTreeMap::new();
    let mut q = Sql::new(
        "SELECT sub.device_id, ps.name, sub.label, sub.parameters_json FROM subscriptions sub \
         JOIN phone_services ps ON ps.id = sub.service_id WHERE sub.device_id IN ",
    );
    q.bind_list(&ids).push(" ORDER BY sub.position");
    for r in q.query().fetch_all(&mut *conn).await? {
        subs.entry(r.try_get(0)?).or_default().push(Subscription {
            service: r.try_get(1)?,
            label: r.try_get(2)?,
            parameters: serde_json::from_str(&r.try_get::<String, _>(3)?).unwrap_or_default(),
        });
    }
    let mut users = names_by(
        conn,
        "SELECT ud.device_id, u.user_id FROM user_devices ud JOIN users u ON u.id = ud.user_id WHERE ud.device_id IN ",
        &ids,
    )
    .await?;
    let mut secondaries = names_by(
        conn,
        "SELECT primary_phone_id, name FROM devices WHERE primary_phone_id IN ",
        &ids,
    )
    .await?;
    let mut logout_of = names_by(
        conn,
        "SELECT logout_profile_id, name FROM devices WHERE logout_profile_id IN ",
        &ids,
    )
    .await?;
    for d in &mut devs {
        let mut a = apps.remove(&d.id).unwrap_or_default();
        for (line_id, app) in &mut a {
            app.shared_with = on_line
                .get(line_id)
                .map(|v| {
                    v.iter()
                        .filter(|(dev, _)| *dev != d.id)
                        .map(|(_, n)| n.clone())
                        .collect()
                })
                .unwrap_or_default();
        }
        d.appearances = a;
        d.services = subs.remove(&d.id).unwrap_or_default();
        d.users = users.remove(&d.id).unwrap_or_default();
        d.secondary_phones = secondaries.remove(&d.id).unwrap_or_default();
        d.logout_profile_of = logout_of.remove(&d.id).unwrap_or_default();
    }
    Ok(devs)
}

/// `q` is a prefix of the device name (any case). Filters: `model`, `device_pool`,
/// `owner_user_id`, `mac`, `line` (a directory number on the device), `description` (prefix).
/// Sorts: `name` (default), `model`, `description`, `updated_at`.
pub async fn find(
    conn: &mut AnyConnection,
    class: DeviceClass,
    f: &Find,
) -> Result<Page<StoredDevice>> {
    let mut w = Sql::new(" WHERE d.class = ");
    w.bind(class_str(class));
    if let Some(s) = &f.system {
        w.push(" AND s.name = ").bind(s.as_str());
    }
    let backend = conn.backend_name().to_string();
    w.within_systems(&backend, "s.name", f.systems.as_deref());
    if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
        w.push(" AND ");
        push_prefix(&mut w, "d.name_lc", &q.to_lowercase());
    }
    for (k, v) in &f.filters {
        match k.as_str() {
            "model" | "device_pool" | "mac" => {
                w.push(&format!(" AND d.{k} = ")).bind(v.as_str());
            }
            "owner_user_id" => {
                w.push(" AND ou.user_id = ").bind(v.as_str());
            }
            "line" => {
                w.push(" AND EXISTS (SELECT 1 FROM appearances a JOIN lines l ON l.id = a.line_id WHERE a.device_id = d.id AND l.pattern = ")
                    .bind(v.as_str())
                    .push(")");
            }
            "description" => {
                w.push(" AND ");
                push_prefix(&mut w, "d.description", v);
            }
            _ => {}
        }
    }
    let sort = match f.sort.as_deref() {
        Some("model") => "d.model",
        Some("description") => "d.description",
        Some("updated_at") => "d.updated_at",
        _ => "d.name_lc",
    };
    let o = f.order();
    let order = format!("{sort} {o}, d.id {o}");
    let mut p = crate::page::page(conn, COLS, &w.with_prefix(FROM), &order, f, from_row).await?;
    p.items = hydrate(conn, p.items).await?;
    Ok(p)
}

pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<StoredDevice> {
    let select = format!("SELECT {COLS}{FROM} WHERE d.id = $1");
    let d = crate::page::one(conn, &select, id, from_row).await?;
    Ok(hydrate(conn, vec![d]).await?.remove(0))
}

/// A device by name, case-insensitively: (id, class).
pub async fn id_by_name(
    conn: &mut AnyConnection,
    name: &str,
) -> Result<Option<(i64, DeviceClass)>> {
    let r = sqlx::query("SELECT id, class FROM devices WHERE name_lc = $1")
        .bind(name.to_lowercase())
        .fetch_optional(conn)
        .await?;
    match r {
        None => Ok(None),
        Some(r) => {
            let class: String = r.try_get(1)?;
            Ok(Some((
                r.try_get(0)?,
                if class == "phone" {
                    DeviceClass::Phone
                } else {
                    DeviceClass::DeviceProfile
                },
            )))
        }
    }
}

/// The device holding this MAC: (id, name).
pub async fn by_mac(conn: &mut AnyConnection, mac: &str) -> Result<Option<(i64, String)>> {
    let r = sqlx::query("SELECT id, name FROM devices WHERE mac = $1")
        .bind(mac)
        .fetch_optional(conn)
        .await?;
    r.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

/// The values of [`WRITE_COLS`], in order.
fn row_args(d: &DeviceRow) -> Vec<crate::Arg> {
    use crate::Arg::{Int, OptInt, OptText, Text};
    vec![
        Text(d.name.clone()),
        Text(d.name.to_lowercase()),
        OptText(d.mac.clone()),
        Text(d.model.clone()),
        Text(d.protocol.as_str().to_string()),
        Text(d.description.clone()),
        Text(d.device_pool.clone()),
        Text(d.button_template.clone()),
        Text(d.softkey_template.clone()),
        Text(d.calling_search_space.clone()),
        Text(d.location.clone()),
        OptText(d.security_mode.map(|s| s.as_str().to_string())),
        Text(d.security_profile.clone()),
        Int(d.allow_cti_control as i64),
        OptInt(d.owner_id),
        Text(d.dnd.as_str().to_string()),
        Text(to_json(&d.expansion_modules)),
        OptInt(d.logout_profile_id),
        OptInt(d.primary_phone_id),
        Text(to_json(&d.speed_dials)),
        Text(to_json(&d.parameters)),
        Text(d.mlpp_domain.clone()),
        Int(d.mlpp_indication as i64),
        Int(d.mlpp_preemption as i64),
        OptText(d.sip_contact.clone()),
        Int(d.auto_registered as i64),
        Text(class_str(d.class).to_string()),
    ]
}

fn bind_row<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    d: &DeviceRow,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    row_args(d).into_iter().fold(q, crate::bind_arg)
}

const WRITE_COLS: &str = "name, name_lc, mac, model, protocol, description, device_pool, button_template, softkey_template, \
    calling_search_space, location, security_mode, security_profile, allow_cti_control, owner_id, dnd, \
    expansion_modules_json, logout_profile_id, primary_phone_id, speed_dials_json, parameters_json, mlpp_domain, \
    mlpp_indication, mlpp_preemption, sip_contact, auto_registered, class";

pub async fn insert(conn: &mut AnyConnection, d: &DeviceRow) -> Result<i64> {
    let sql = crate::sql::insert_sql("devices", WRITE_COLS);
    Ok(bind_row(sqlx::query(&sql), d)
        .bind(d.system_id)
        .bind(now())
        .fetch_one(conn)
        .await?
        .try_get(0)?)
}

/// The columns of a held device row ([`insert_new`]): the id, [`WRITE_COLS`], the system, the
/// times.
static HELD_COLS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("id, {WRITE_COLS}, system_id, created_at, updated_at"));

/// Inserts a new device with its appearances and service subscriptions. In a write that holds
/// rows back ([`crate::WriteTx::holds_rows`]: an optimistic import chunk on PostgreSQL) all of
/// it goes in with the rows held after it, under an id taken ahead.
pub async fn insert_new(
    tx: &mut crate::WriteTx,
    d: &DeviceRow,
    apps: &[AppearanceRow],
    subs: &[SubscriptionRow],
) -> Result<i64> {
    if !tx.holds_rows() {
        let id = insert_with_appearances(tx.conn(), d, apps).await?;
        add_subscriptions(tx.conn(), id, subs).await?;
        return Ok(id);
    }
    use crate::Arg::{Int, Text};
    let id = tx
        .hold_record("devices", HELD_COLS.as_str(), row_args(d), d.system_id)
        .await?;
    for a in apps {
        tx.hold_row(
            "appearances",
            "device_id, line_id, button, label, display, external_mask",
            vec![
                Int(id),
                Int(a.line_id),
                Int(a.button),
                Text(a.label.clone()),
                Text(a.display.clone()),
                Text(a.external_mask.clone()),
            ],
        );
    }
    for (i, s) in subs.iter().enumerate() {
        tx.hold_row(
            "subscriptions",
            "device_id, service_id, position, label, parameters_json",
            vec![
                Int(id),
                Int(s.service_id),
                Int(i as i64),
                Text(s.label.clone()),
                Text(to_json(&s.parameters)),
            ],
        );
    }
    Ok(id)
}

/// Inserts a new device with its line appearances: on PostgreSQL in one statement (a
/// data-modifying `WITH`), a round trip a phone instead of one per appearance more; on SQLite,
/// whose statements cost no round trip, as [`insert`] and [`add_appearances`].
pub async fn insert_with_appearances(
    conn: &mut AnyConnection,
    d: &DeviceRow,
    apps: &[AppearanceRow],
) -> Result<i64> {
    if apps.is_empty() || conn.backend_name() != "PostgreSQL" {
        let id = insert(conn, d).await?;
        add_appearances(conn, id, apps).await?;
        return Ok(id);
    }
    let n = WRITE_COLS.split(',').count() + 2;
    let values: Vec<String> = (0..apps.len())
        .map(|i| {
            let p = n + 1 + 5 * i;
            format!(
                "(${p}::BIGINT, ${}::BIGINT, ${}::TEXT, ${}::TEXT, ${}::TEXT)",
                p + 1,
                p + 2,
                p + 3,
                p + 4
            )
        })
        .collect();
    let sql = format!(
        "WITH d AS ({}), a AS (INSERT INTO appearances (device_id, line_id, button, label, display, external_mask) \
         SELECT d.id, v.line_id, v.button, v.label, v.display, v.external_mask FROM d, \
         (VALUES {}) AS v (line_id, button, label, display, external_mask)) SELECT id FROM d",
        crate::sql::insert_sql("devices", WRITE_COLS),
        values.join(", ")
    );
    let mut q = bind_row(sqlx::query(&sql), d).bind(d.system_id).bind(now());
    for a in apps {
        q = q
            .bind(a.line_id)
            .bind(a.button)
            .bind(&a.label)
            .bind(&a.display)
            .bind(&a.external_mask);
    }
    Ok(q.fetch_one(conn).await?.try_get(0)?)
}

pub async fn update(conn: &mut AnyConnection, id: i64, version: i64, d: &DeviceRow) -> Result<()> {
    let sql = crate::sql::update_sql("devices", WRITE_COLS);
    versioned(
        bind_row(sqlx::query(&sql), d)
            .bind(now())
            .bind(id)
            .bind(version)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// A device's secret kept sealed: its HTTP password, or its MPP profile key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    HttpPassword,
    ProfileKey,
}

/// Sets (or with `None` removes) a device's sealed secret, when its version is `version`.
pub async fn set_sealed(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    column: SealedColumn,
    sealed: Option<&str>,
) -> Result<()> {
    let column = match column {
        SealedColumn::HttpPassword => "http_password_enc",
        SealedColumn::ProfileKey => "profile_key_enc",
    };
    versioned(
        sqlx::query(&format!(
            "UPDATE devices SET {column} = $1, version = version + 1, updated_at = $2 \
             WHERE id = $3 AND version = $4"
        ))
        .bind(sealed)
        .bind(now())
        .bind(id)
        .bind(version)
        .execute(conn)
        .await?
        .rows_affected(),
    )
}

/// Bumps a device's version (something shown on it, e.g. a shared line, changed).
pub async fn touch(conn: &mut AnyConnection, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new("UPDATE devices SET version = version + 1, updated_at = ");
    q.bind(now()).push(" WHERE id IN ").bind_list(ids);
    q.query().execute(conn).await?;
    Ok(())
}

/// Devices on which any of these lines appears.
pub async fn ids_on_lines(conn: &mut AnyConnection, lines: &[i64]) -> Result<Vec<i64>> {
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new("SELECT DISTINCT device_id FROM appearances WHERE line_id IN ");
    q.bind_list(lines);
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Replaces a device's line appearances.
pub async fn set_appearances(
    conn: &mut AnyConnection,
    device: i64,
    apps: &[AppearanceRow],
) -> Result<()> {
    sqlx::query("DELETE FROM appearances WHERE device_id = $1")
        .bind(device)
        .execute(&mut *conn)
        .await?;
    add_appearances(conn, device, apps).await
}

/// Adds line appearances to a device that has none of them yet (a new one).
pub async fn add_appearances(
    conn: &mut AnyConnection,
    device: i64,
    apps: &[AppearanceRow],
) -> Result<()> {
    for a in apps {
        sqlx::query(
            "INSERT INTO appearances (device_id, line_id, button, label, display, external_mask) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(device)
        .bind(a.line_id)
        .bind(a.button)
        .bind(&a.label)
        .bind(&a.display)
        .bind(&a.external_mask)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Replaces a device's service subscriptions.
pub async fn set_subscriptions(
    conn: &mut AnyConnection,
    device: i64,
    subs: &[SubscriptionRow],
) -> Result<()> {
    sqlx::query("DELETE FROM subscriptions WHERE device_id = $1")
        .bind(device)
        .execute(&mut *conn)
        .await?;
    add_subscriptions(conn, device, subs).await
}

/// Adds the subscriptions of a device that has none yet (a new one).
pub async fn add_subscriptions(
    conn: &mut AnyConnection,
    device: i64,
    subs: &[SubscriptionRow],
) -> Result<()> {
    for (i, s) in subs.iter().enumerate() {
        sqlx::query("INSERT INTO subscriptions (device_id, service_id, position, label, parameters_json) VALUES ($1, $2, $3, $4, $5)")
            .bind(device)
            .bind(s.service_id)
            .bind(i as i64)
            .bind(&s.label)
            .bind(to_json(&s.parameters))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Replaces the users associated with a device.
pub async fn set_users(conn: &mut AnyConnection, device: i64, users: &[i64]) -> Result<()> {
    sqlx::query("DELETE FROM user_devices WHERE device_id = $1")
        .bind(device)
        .execute(&mut *conn)
        .await?;
    for u in users {
        sqlx::query("INSERT INTO user_devices (user_id, device_id, is_default) VALUES ($1, $2, 0)")
            .bind(*u)
            .bind(device)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// How many secondary phones a phone has, other than `except`.
pub async fn count_secondaries(
    conn: &mut AnyConnection,
    primary: i64,
    except: Option<i64>,
) -> Result<Vec<String>> {
    let rows =
        sqlx::query("SELECT id, name FROM devices WHERE primary_phone_id = $1 ORDER BY name")
            .bind(primary)
            .fetch_all(conn)
            .await?;
    let mut out = Vec::new();
    for r in rows {
        let id: i64 = r.try_get(0)?;
        if Some(id) != except {
            out.push(r.try_get(1)?);
        }
    }
    Ok(out)
}

/// The devices a user owns.
pub async fn owned_by(conn: &mut AnyConnection, user: i64) -> Result<Vec<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM devices WHERE owner_id = $1")
            .bind(user)
            .fetch_all(conn)
            .await?,
    )
}

/// The owner's user ID of a device, by name (for soft-phone name collisions).
pub async fn owner_of(conn: &mut AnyConnection, id: i64) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT u.user_id FROM devices d JOIN users u ON u.id = d.owner_id WHERE d.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn delete(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM devices WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The ids of every phone (not device profiles), in id order.
pub async fn phone_ids(conn: &mut AnyConnection) -> Result<Vec<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM devices WHERE class = 'phone' ORDER BY id")
            .fetch_all(conn)
            .await?,
    )
}

/// Phones (id, name) selected by device pool and/or model (case-insensitive), in name order.
pub async fn phones_where(
    conn: &mut AnyConnection,
    device_pool: Option<&str>,
    model: Option<&str>,
) -> Result<Vec<(i64, String, i64)>> {
    let mut q = Sql::new("SELECT id, name, system_id FROM devices WHERE class = 'phone'");
    if let Some(p) = device_pool {
        q.push(" AND LOWER(device_pool) = ").bind(p.to_lowercase());
    }
    if let Some(m) = model {
        q.push(" AND LOWER(model) = ").bind(m.to_lowercase());
    }
    q.push(" ORDER BY name_lc");
    q.query()
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

/// Auto-registered phones of a system with a line of this number on them.
pub async fn auto_registered_with_number(
    conn: &mut AnyConnection,
    system_id: i64,
    number: &str,
) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT d.id FROM devices d JOIN appearances a ON a.device_id = d.id \
         JOIN lines l ON l.id = a.line_id \
         WHERE d.system_id = $1 AND d.auto_registered = 1 AND l.pattern = $2 ORDER BY d.id",
    )
    .bind(system_id)
    .bind(number)
    .fetch_all(conn)
    .await?)
}

/// How many auto-registered phones a system has.
pub async fn count_auto_registered(conn: &mut AnyConnection, system_id: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM devices WHERE system_id = $1 AND auto_registered = 1",
    )
    .bind(system_id)
    .fetch_one(conn)
    .await?)
}

/// The users associated with a device.
pub async fn user_ids(conn: &mut AnyConnection, device: i64) -> Result<Vec<i64>> {
    Ok(
        sqlx::query_scalar(
            "SELECT user_id FROM user_devices WHERE device_id = $1 ORDER BY user_id",
        )
        .bind(device)
        .fetch_all(conn)
        .await?,
    )
}

/// The phones associated with a user: those they control (`user_devices`) and those they own,
/// by name.
pub async fn associated_phones(conn: &mut AnyConnection, user: i64) -> Result<Vec<(i64, String)>> {
    let rows = sqlx::query(
        "SELECT d.id, d.name FROM devices d WHERE d.class = 'phone' AND (d.owner_id = $1 \
         OR d.id IN (SELECT ud.device_id FROM user_devices ud WHERE ud.user_id = $1)) ORDER BY d.name",
    )
    .bind(user)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Sets a device's DND mode (a new version of it).
pub async fn set_dnd(conn: &mut AnyConnection, id: i64, mode: &str) -> Result<()> {
    sqlx::query(
        "UPDATE devices SET dnd = $1, version = version + 1, updated_at = $2 WHERE id = $3",
    )
    .bind(mode)
    .bind(crate::now())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The phones with values in the retired per-device `parameters`, by name (at most `limit`).
pub async fn with_retired_parameters(conn: &mut AnyConnection, limit: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM devices WHERE parameters_json <> '{}' ORDER BY name LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

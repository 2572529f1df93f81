//! What phone files are made of, read for many devices at once in a fixed number of statements
//! (whatever the number of devices): the devices with their owners' sealed credentials, their
//! line appearances with the lines' settings and whether each line is shared, and the
//! provisioning parameter sets that apply to them. Read inside one [`crate::Snapshot`] so a
//! file is built from one committed state.

use crate::sql::{aggregated, json_rows, Arg, Sql};
use crate::{json_list, Result};
use model::files::FileLine;
use model::rules::DeviceClass;
use model::{DndMode, SecurityMode, SpeedDial};
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, HashMap};

/// Which devices to read: by id, by MAC (12 upper-case hex digits), by name (any case).
#[derive(Debug, Clone, Default)]
pub struct Keys {
    pub ids: Vec<i64>,
    pub macs: Vec<String>,
    pub names: Vec<String>,
}

impl Keys {
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.macs.is_empty() && self.names.is_empty()
    }
}

/// A device as its files need it.
#[derive(Debug, Clone)]
pub struct ConfigDevice {
    pub id: i64,
    pub class: DeviceClass,
    pub name: String,
    pub mac: Option<String>,
    pub model: String,
    pub protocol: String,
    pub system_id: i64,
    pub description: String,
    pub device_pool: String,
    pub security_mode: Option<SecurityMode>,
    pub dnd: DndMode,
    pub expansion_modules: Vec<String>,
    pub speed_dials: Vec<SpeedDial>,
    pub sip_contact: Option<String>,
    /// The device's HTTP password, sealed.
    pub http_password_enc: Option<String>,
    /// The device's own MPP profile key, sealed.
    pub profile_key_enc: Option<String>,
    pub owner_id: Option<i64>,
    pub owner_user_id: Option<String>,
    /// The owner's SIP digest credential, sealed.
    pub owner_digest_enc: Option<String>,
    pub auto_registered: bool,
    /// By button.
    pub lines: Vec<FileLine>,
    /// The device profile the phone runs (extension mobility): the logged-in user's, else its
    /// logout profile; its lines and speed dials are the phone's, and a logged-in user's
    /// credential its lines'.
    pub profile: Option<String>,
    /// The user logged in on it.
    pub logged_in: Option<String>,
}

/// A provisioning parameter set as resolution needs it.
#[derive(Debug, Clone)]
pub struct ConfigParameters {
    pub scope: String,
    pub system_id: i64,
    pub target: String,
    pub values: BTreeMap<String, String>,
}

fn or_in<T: Into<Arg> + Clone + serde::Serialize>(
    w: &mut Sql,
    backend: &str,
    first: &mut bool,
    col: &str,
    vs: &[T],
) {
    if vs.is_empty() {
        return;
    }
    if !*first {
        w.push(" OR ");
    }
    *first = false;
    w.push(col).push(" IN ").bind_in(backend, vs);
}

/// A device row as the aggregated query gives it (one JSON array per device).
#[derive(serde::Deserialize)]
struct DeviceJson(
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
);

/// A line appearance row: device, line, button, label, display, pattern, alerting name, max
/// calls, busy trigger, devices on the line, forward all, forward busy and no answer (internal).
type LineJson = (
    i64,
    i64,
    i64,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    String,
    String,
    String,
);

/// The devices `keys` name (those that exist), in id order, with their lines.
pub async fn devices(conn: &mut AnyConnection, keys: &Keys) -> Result<Vec<ConfigDevice>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.backend_name().to_string();
    let mut q = Sql::new(&aggregated(
        &backend,
        "d.id, d.class, d.name, d.mac, d.model, d.protocol, d.system_id, d.description, d.device_pool, \
         d.security_mode, d.dnd, d.expansion_modules_json, d.speed_dials_json, d.sip_contact, d.http_password_enc, \
         d.owner_id, u.user_id, u.digest_credential_enc, d.auto_registered, d.profile_key_enc",
        "FROM devices d LEFT JOIN users u ON u.id = d.owner_id WHERE ",
    ));
    let mut first = true;
    or_in(&mut q, &backend, &mut first, "d.id", &keys.ids);
    or_in(&mut q, &backend, &mut first, "d.mac", &keys.macs);
    let lower: Vec<String> = keys.names.iter().map(|n| n.to_lowercase()).collect();
    or_in(&mut q, &backend, &mut first, "d.name_lc", &lower);
    let text: String = q.query().fetch_one(&mut *conn).await?.try_get(0)?;
    let mut out: Vec<ConfigDevice> = json_rows::<DeviceJson>(&text)?
        .into_iter()
        .map(|r| ConfigDevice {
            id: r.0,
            class: if r.1 == "phone" {
                DeviceClass::Phone
            } else {
                DeviceClass::DeviceProfile
            },
            name: r.2,
            mac: r.3,
            model: r.4,
            protocol: r.5,
            system_id: r.6,
            description: r.7,
            device_pool: r.8,
            security_mode: r.9.as_deref().and_then(SecurityMode::from_db),
            dnd: DndMode::from_db(&r.10),
            expansion_modules: json_list(&r.11),
            speed_dials: json_list(&r.12),
            sip_contact: r.13,
            http_password_enc: r.14,
            owner_id: r.15,
            owner_user_id: r.16,
            owner_digest_enc: r.17,
            auto_registered: r.18 != 0,
            profile_key_enc: r.19,
            lines: Vec::new(),
            profile: None,
            logged_in: None,
        })
        .collect();
    out.sort_unstable_by_key(|d| d.id);
    if out.is_empty() {
        return Ok(out);
    }
    let mut ids: Vec<i64> = out.iter().map(|d| d.id).collect();
    let runs = profiles_run(conn, &backend, &ids).await?;
    let mut profiles: HashMap<i64, (String, Vec<SpeedDial>)> = HashMap::new();
    if !runs.is_empty() {
        let mut wanted: Vec<i64> = runs.values().map(|r| r.profile).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut q = Sql::new("SELECT id, name, speed_dials_json FROM devices WHERE id IN ");
        q.bind_in(&backend, &wanted);
        for r in q.query().fetch_all(&mut *conn).await? {
            let id: i64 = r.try_get(0)?;
            profiles.insert(id, (r.try_get(1)?, json_list(&r.try_get::<String, _>(2)?)));
        }
        ids.extend(wanted);
        ids.sort_unstable();
        ids.dedup();
    }
    let mut q = Sql::new(&aggregated(
        &backend,
        "a.device_id, a.line_id, a.button, a.label, a.display, l.pattern, l.alerting_name, l.max_calls, \
         l.busy_trigger, (SELECT COUNT(DISTINCT o.device_id) FROM appearances o WHERE o.line_id = a.line_id), \
         l.forward_all, l.forward_busy_internal, l.forward_no_answer_internal",
        "FROM appearances a JOIN lines l ON l.id = a.line_id WHERE a.device_id IN ",
    ));
    q.bind_in(&backend, &ids);
    let text: String = q.query().fetch_one(&mut *conn).await?.try_get(0)?;
    let mut lines: HashMap<i64, Vec<FileLine>> = HashMap::new();
    for r in json_rows::<LineJson>(&text)? {
        lines.entry(r.0).or_default().push(FileLine {
            line_id: r.1,
            button: r.2,
            label: r.3,
            display: r.4,
            pattern: r.5,
            alerting_name: r.6,
            max_calls: r.7,
            busy_trigger: r.8,
            shared: r.9 > 1,
            forward_all: r.10,
            forward_busy: r.11,
            forward_no_answer: r.12,
        });
    }
    for l in lines.values_mut() {
        l.sort_unstable_by_key(|l| l.button);
    }
    for d in &mut out {
        match runs.get(&d.id) {
            Some(run) => {
                d.lines = lines.get(&run.profile).cloned().unwrap_or_default();
                if let Some((name, dials)) = profiles.get(&run.profile) {
                    d.profile = Some(name.clone());
                    d.speed_dials = dials.clone();
                }
                if let Some((id, user_id, digest)) = &run.user {
                    d.owner_id = Some(*id);
                    d.owner_user_id = Some(user_id.clone());
                    d.owner_digest_enc = digest.clone();
                    d.logged_in = Some(user_id.clone());
                }
            }
            None => d.lines = lines.remove(&d.id).unwrap_or_default(),
        }
    }
    Ok(out)
}

/// The profile a phone runs, and who is logged in on it (id, user ID, sealed credential).
struct Run {
    profile: i64,
    user: Option<(i64, String, Option<String>)>,
}

/// The phones among `ids` that run a device profile: a login's, else their logout profile.
async fn profiles_run(
    conn: &mut AnyConnection,
    backend: &str,
    ids: &[i64],
) -> Result<HashMap<i64, Run>> {
    let mut q = Sql::new(
        "SELECT d.id, COALESCE(l.profile_id, d.logout_profile_id), l.user_id, u.user_id, \
         u.digest_credential_enc FROM devices d LEFT JOIN em_logins l ON l.device_id = d.id \
         LEFT JOIN users u ON u.id = l.user_id WHERE (l.profile_id IS NOT NULL OR \
         d.logout_profile_id IS NOT NULL) AND d.id IN ",
    );
    q.bind_in(backend, ids);
    let mut out = HashMap::new();
    for r in q.query().fetch_all(conn).await? {
        let user: Option<i64> = r.try_get(2)?;
        out.insert(
            r.try_get::<i64, _>(0)?,
            Run {
                profile: r.try_get(1)?,
                user: match user {
                    Some(id) => Some((id, r.try_get(3)?, r.try_get(4)?)),
                    None => None,
                },
            },
        );
    }
    Ok(out)
}

/// The parameter sets that may apply to `devices`: those of their systems at system, pool and
/// model scope, and those set on one of them.
pub async fn parameters(
    conn: &mut AnyConnection,
    devices: &[ConfigDevice],
) -> Result<Vec<ConfigParameters>> {
    if devices.is_empty() {
        return Ok(Vec::new());
    }
    let mut systems: Vec<i64> = devices.iter().map(|d| d.system_id).collect();
    systems.sort_unstable();
    systems.dedup();
    let names: Vec<String> = devices.iter().map(|d| d.name.clone()).collect();
    let backend = conn.backend_name().to_string();
    let mut q = Sql::new(
        "SELECT scope, system_id, target, values_json FROM parameter_sets WHERE system_id IN ",
    );
    q.bind_in(&backend, &systems)
        .push(" AND (scope <> 'device' OR target IN ")
        .bind_in(&backend, &names)
        .push(")");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(ConfigParameters {
                scope: r.try_get(0)?,
                system_id: r.try_get(1)?,
                target: r.try_get(2)?,
                values: serde_json::from_str(&r.try_get::<String, _>(3)?).unwrap_or_default(),
            })
        })
        .collect()
}

/// The address each device last made a request or sent a report from, if any.
pub async fn last_addresses(conn: &mut AnyConnection, ids: &[i64]) -> Result<HashMap<i64, String>> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut q = Sql::new(
        "SELECT d.id, s.last_ip, r.syslog_ip FROM devices d LEFT JOIN device_status s ON s.device_id = d.id \
         LEFT JOIN device_resync r ON r.device_id = d.id WHERE d.id IN ",
    );
    q.bind_list(ids);
    for r in q.query().fetch_all(conn).await? {
        let seen: Option<String> = r.try_get(1)?;
        let syslog: Option<String> = r.try_get(2)?;
        if let Some(ip) = seen
            .filter(|s| !s.is_empty())
            .or(syslog.filter(|s| !s.is_empty()))
        {
            out.insert(r.try_get(0)?, ip);
        }
    }
    Ok(out)
}

//! End users of call-control systems, their associations, and the conflicts between systems.

use crate::sql::{aggregated, json_rows, nested, push_prefix, Find, Sql};
use crate::{b, json_list, now, to_json, versioned, Result};
use model::rules::{conflicts, Namesake};
use model::{AppProfiles, Capabilities, Conflict, LineRef, Page, SystemKind, User};
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, HashMap};

/// The stored fields of a user, validated by the service. Hashes, never secrets.
#[derive(Debug, Clone, Default)]
pub struct UserRow {
    pub system_id: i64,
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub department: String,
    pub manager: String,
    pub mail: String,
    pub telephone_number: String,
    pub password_hash: Option<String>,
    pub pin_hash: Option<String>,
    /// Sealed by the service's secret key; the store never sees it in clear.
    pub digest_credential_enc: Option<String>,
    pub primary_line_id: Option<i64>,
    pub user_profile: Option<String>,
    pub groups: Vec<String>,
    pub must_change_password: bool,
    pub password_never_expires: bool,
    pub presence_home_node: Option<String>,
    pub app_profiles: AppProfiles,
    pub capabilities: Capabilities,
    pub ldap_synced: bool,
    /// The self-provisioning ID given (else the digits of the primary extension serve).
    pub self_service_id: Option<String>,
}

/// A user's own columns, in the order of [`Loaded`]'s first fields ([`load`] adds its devices,
/// its lines and whether another record carries its user ID).
const COLS: &str = "u.id, s.name, u.system_id, u.user_id, u.first_name, u.last_name, u.display_name, u.department, \
    u.manager, u.mail, u.telephone_number, u.password_hash, u.pin_hash, u.digest_credential_enc, u.primary_line_id, pl.pattern, \
    pl.partition, u.user_profile, u.groups_json, u.must_change_password, u.password_never_expires, \
    u.presence_home_node, u.ldap_profile, u.cti_profile, u.voicemail_profile, u.conferencing_profile, u.cap_presence, \
    u.cap_soft_client, u.ldap_synced, u.version, u.created_at, u.updated_at, u.self_service_id, u.ldap_inactive_since, \
    u.proxy_profile";
const FROM: &str = " FROM users u JOIN systems s ON s.id = u.system_id LEFT JOIN lines pl ON pl.id = u.primary_line_id";

/// A user as stored, with the row's secrets' hashes for the service to check or keep.
#[derive(Debug, Clone)]
pub struct StoredUser {
    pub user: User,
    pub row: UserRow,
}

/// One user as [`load`] reads it, in the order of its columns.
#[derive(serde::Deserialize)]
struct Loaded {
    id: i64,
    system: String,
    system_id: i64,
    user_id: String,
    first_name: String,
    last_name: String,
    display_name: String,
    department: String,
    manager: String,
    mail: String,
    telephone_number: String,
    password_hash: Option<String>,
    pin_hash: Option<String>,
    digest_credential_enc: Option<String>,
    primary_line_id: Option<i64>,
    primary_pattern: Option<String>,
    primary_partition: Option<String>,
    user_profile: Option<String>,
    groups_json: String,
    must_change_password: i64,
    password_never_expires: i64,
    presence_home_node: Option<String>,
    ldap_profile: Option<String>,
    cti_profile: Option<String>,
    voicemail_profile: Option<String>,
    conferencing_profile: Option<String>,
    cap_presence: i64,
    cap_soft_client: i64,
    ldap_synced: i64,
    version: i64,
    created_at: String,
    updated_at: String,
    self_service_id: Option<String>,
    ldap_inactive_since: Option<String>,
    proxy_profile: Option<String>,
    /// Name, class (`phone` or a profile) and whether it is the default profile, by name.
    devices: Vec<(String, String, i64)>,
    /// Pattern and partition, in that order.
    lines: Vec<(String, String)>,
    /// 1 when another user or a voicemail subscriber carries the same user ID.
    namesaked: i64,
}

impl Loaded {
    fn stored(self) -> StoredUser {
        let row = UserRow {
            system_id: self.system_id,
            user_id: self.user_id,
            first_name: self.first_name,
            last_name: self.last_name,
            display_name: self.display_name,
            department: self.department,
            manager: self.manager,
            mail: self.mail,
            telephone_number: self.telephone_number,
            password_hash: self.password_hash,
            pin_hash: self.pin_hash,
            digest_credential_enc: self.digest_credential_enc,
            primary_line_id: self.primary_line_id,
            user_profile: self.user_profile,
            groups: json_list(&self.groups_json),
            must_change_password: b(self.must_change_password),
            password_never_expires: b(self.password_never_expires),
            presence_home_node: self.presence_home_node,
            app_profiles: AppProfiles {
                ldap: self.ldap_profile,
                cti: self.cti_profile,
                voicemail: self.voicemail_profile,
                conferencing: self.conferencing_profile,
                proxy: self.proxy_profile,
            },
            capabilities: Capabilities {
                presence: b(self.cap_presence),
                soft_client: b(self.cap_soft_client),
            },
            ldap_synced: b(self.ldap_synced),
            self_service_id: self.self_service_id,
        };
        let mut user = User {
            id: self.id,
            system: self.system,
            user_id: row.user_id.clone(),
            first_name: row.first_name.clone(),
            last_name: row.last_name.clone(),
            display_name: row.display_name.clone(),
            department: row.department.clone(),
            manager: row.manager.clone(),
            mail: row.mail.clone(),
            telephone_number: row.telephone_number.clone(),
            primary_extension: self.primary_pattern,
            primary_extension_partition: self.primary_partition.unwrap_or_default(),
            user_profile: row.user_profile.clone(),
            self_service_id: row.self_service_id.clone(),
            groups: row.groups.clone(),
            must_change_password: row.must_change_password,
            password_never_expires: row.password_never_expires,
            presence_home_node: row.presence_home_node.clone(),
            app_profiles: row.app_profiles.clone(),
            capabilities: row.capabilities.clone(),
            ldap_synced: row.ldap_synced,
            ldap_inactive_since: self.ldap_inactive_since,
            has_password: row.password_hash.is_some(),
            has_pin: row.pin_hash.is_some(),
            has_digest_credential: row.digest_credential_enc.is_some(),
            devices: Vec::new(),
            device_profiles: Vec::new(),
            default_device_profile: None,
            lines: self
                .lines
                .into_iter()
                .map(|(pattern, partition)| LineRef { pattern, partition })
                .collect(),
            conflicts: Vec::new(),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        for (name, class, default) in self.devices {
            if class == "phone" {
                user.devices.push(name);
            } else {
                if b(default) {
                    user.default_device_profile = Some(name.clone());
                }
                user.device_profiles.push(name);
            }
        }
        StoredUser { user, row }
    }
}

/// These users (those that exist) in the order of `ids`, with their devices, lines and
/// conflicts: one statement, and a second only when some share their user ID with another
/// record.
async fn load(conn: &mut AnyConnection, ids: &[i64]) -> Result<Vec<StoredUser>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.backend_name();
    let devices = nested(
        backend,
        "d.name, d.class, ud.is_default",
        "FROM user_devices ud JOIN devices d ON d.id = ud.device_id WHERE ud.user_id = u.id",
        "d.name",
    );
    let lines = nested(
        backend,
        "l.pattern, l.partition",
        "FROM user_lines ul JOIN lines l ON l.id = ul.line_id WHERE ul.user_id = u.id",
        "l.pattern, l.partition",
    );
    // A second row with the user ID (`LIMIT 1 OFFSET 1`): read from the index alone on both backends.
    let namesaked = "CASE WHEN EXISTS (SELECT 1 FROM users o WHERE o.user_id = u.user_id LIMIT 1 OFFSET 1) \
        OR EXISTS (SELECT 1 FROM voicemail_subscribers v WHERE v.alias = u.user_id) THEN 1 ELSE 0 END";
    let mut q = Sql::new(&aggregated(
        backend,
        &format!("{COLS}, {devices}, {lines}, {namesaked}"),
        &format!("{FROM} WHERE u.id IN "),
    ));
    q.bind_list(ids);
    let text: String = q.query().fetch_one(&mut *conn).await?.try_get(0)?;
    let mut namesaked = Vec::new();
    let mut by_id: HashMap<i64, StoredUser> = HashMap::with_capacity(ids.len());
    for l in json_rows::<Loaded>(&text)? {
        if l.namesaked != 0 {
            namesaked.push(l.user_id.clone());
        }
        by_id.insert(l.id, l.stored());
    }
    if !namesaked.is_empty() {
        let names = namesakes(conn, &namesaked).await?;
        for su in by_id.values_mut() {
            let u = &mut su.user;
            u.conflicts = conflicts_of("user", u.id, &u.user_id, &names);
        }
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Every record (user or voicemail subscriber) carrying one of these IDs, by ID:
/// (table, record id, namesake).
pub async fn namesakes(
    conn: &mut AnyConnection,
    ids: &[String],
) -> Result<BTreeMap<String, Vec<(&'static str, i64, Namesake)>>> {
    let mut out: BTreeMap<String, Vec<(&'static str, i64, Namesake)>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    // One row holding them all (as JSON): a page's users are each their own namesake.
    let mut q = Sql::new(&aggregated(
        conn.backend_name(),
        "t, id, uid, name, kind, first_name, last_name",
        "FROM (SELECT 'user' AS t, u.id, u.user_id AS uid, s.name, s.kind, u.first_name, u.last_name FROM users u \
         JOIN systems s ON s.id = u.system_id WHERE u.user_id IN ",
    ));
    q.bind_list(ids);
    q.push(
        " UNION ALL SELECT 'voicemail' AS t, v.id, v.alias AS uid, s.name, s.kind, v.first_name, v.last_name \
         FROM voicemail_subscribers v JOIN systems s ON s.id = v.system_id WHERE v.alias IN ",
    );
    q.bind_list(ids);
    q.push(") n");
    let text: String = q.query().fetch_one(&mut *conn).await?.try_get(0)?;
    type Row = (String, i64, String, String, String, String, String);
    for (t, id, uid, system, kind, first_name, last_name) in json_rows::<Row>(&text)? {
        out.entry(uid).or_default().push((
            if t == "user" { "user" } else { "voicemail" },
            id,
            Namesake {
                system,
                kind: SystemKind::from_db(&kind),
                first_name,
                last_name,
            },
        ));
    }
    Ok(out)
}

/// The conflicts of the record `(table, id)` carrying `user_id`, from its namesakes.
pub fn conflicts_of(
    table: &str,
    id: i64,
    user_id: &str,
    all: &BTreeMap<String, Vec<(&'static str, i64, Namesake)>>,
) -> Vec<Conflict> {
    let Some(records) = all.get(user_id) else {
        return Vec::new();
    };
    let Some(this) = records
        .iter()
        .find(|(t, i, _)| *t == table && *i == id)
        .map(|(_, _, n)| n)
    else {
        return Vec::new();
    };
    let others: Vec<Namesake> = records
        .iter()
        .filter(|(t, i, _)| !(*t == table && *i == id))
        .map(|(_, _, n)| n.clone())
        .collect();
    conflicts(user_id, this, &others)
}

/// `q` is a prefix of the user ID, first name or last name (any case). Filters: `user_id`,
/// `last_name`, `first_name`, `department` (exact), `conflicts=true` (only users in conflict).
/// Sorts: `last_name` (default, then first name), `first_name`, `user_id`, `updated_at`.
///
/// With `q` and no sort, users come in the order of the name that matched, as a directory's
/// search as you type lists them ("smi": Smith, smithj, Smitty, whichever of the three names
/// matched): each name's index range is read in its order and only as far as the page reaches,
/// so the cost follows the page, not the number of matches. An explicit sort orders every
/// match. `count_up_to` bounds the count the same way (see [`Find::count_up_to`]).
pub async fn find(conn: &mut AnyConnection, f: &Find) -> Result<Page<User>> {
    // The filters every matching row must pass, on `users u` alone (no join: a join would
    // make every candidate row a table lookup).
    let mut filters = Sql::new("");
    if let Some(s) = &f.system {
        filters
            .push(" AND u.system_id = (SELECT id FROM systems WHERE name = ")
            .bind(s.as_str())
            .push(")");
    }
    if let Some(systems) = f.systems.as_deref() {
        let backend = conn.backend_name().to_string();
        if systems.is_empty() {
            filters.push(" AND 1 = 0");
        } else {
            filters
                .push(" AND u.system_id IN (SELECT id FROM systems WHERE name IN ")
                .bind_in(&backend, systems)
                .push(")");
        }
    }
    for (k, v) in &f.filters {
        match k.as_str() {
            "user_id" | "last_name" | "first_name" | "department" => {
                filters.push(&format!(" AND u.{k} = ")).bind(v.as_str());
            }
            "conflicts" if v == "true" => {
                filters.push(
                    " AND (EXISTS (SELECT 1 FROM users o WHERE o.user_id = u.user_id AND o.id <> u.id) \
                     OR EXISTS (SELECT 1 FROM voicemail_subscribers v WHERE v.alias = u.user_id \
                     AND (LOWER(v.first_name) <> LOWER(u.first_name) OR LOWER(v.last_name) <> LOWER(u.last_name))))",
                );
            }
            _ => {}
        }
    }
    let q =
        f.q.as_deref()
            .filter(|q| !q.is_empty())
            .map(str::to_lowercase);
    // The rows whose name `col` starts with `q` (every row without `q`) that pass the filters.
    let rows_of = |cols: &str, col: &str| {
        let mut b = Sql::new(&format!("SELECT {cols} FROM users u WHERE "));
        match &q {
            Some(q) => push_prefix(&mut b, col, q),
            None => {
                b.push("1 = 1");
            }
        }
        b.append(&filters);
        b
    };
    // The names a prefix is matched against (one, standing for all rows, without `q`), each
    // with the columns its index orders by after it (see the users indexes in migration 1).
    let names: &[(&str, &str)] = if q.is_some() {
        &[
            ("u.last_lc", "u.first_lc, ''"),
            ("u.first_lc", "u.last_lc, ''"),
            ("u.user_id_lc", "u.last_lc, u.first_lc"),
        ]
    } else {
        &[("u.last_lc", "u.first_lc, ''")]
    };
    let o = f.order();
    // Whether one name alone matches more than the cap, when the page's statement said.
    let mut over = None;
    let (ids, counted): (Vec<i64>, Option<i64>) = match (&q, f.sort.as_deref()) {
        (Some(_), None) => {
            // Each name's range in index order, as far as this page reaches, merged here by
            // the name that matched (a user matching twice keeps its first place).
            let reach = f.offset + f.limit;
            // One row holding them all (as JSON): rows cost more crossing the driver than
            // reading them.
            let mut m = Sql::new(&aggregated(conn.backend_name(), "b, id, k, k2, k3", ""));
            // Whether the count stops at the cap, in the same statement.
            let cap = f.count_up_to.filter(|_| names.len() > 1);
            if let Some(cap) = cap {
                m.push(", ").append(&over_cap_sql(names, &rows_of, cap));
            }
            m.push(" FROM (");
            for (i, (col, then)) in names.iter().enumerate() {
                if i > 0 {
                    m.push(" UNION ALL ");
                }
                let order: Vec<String> = format!("{col}, {then}, u.id")
                    .split(", ")
                    .filter(|c| *c != "''")
                    .map(|c| format!("{c} {o}"))
                    .collect();
                let mut b = rows_of(
                    &format!(
                        "{i} AS b, u.id, {col} AS k, {}",
                        then.replace(", ", " AS k2, ") + " AS k3"
                    ),
                    col,
                );
                b.push(&format!(" ORDER BY {} LIMIT ", order.join(", ")))
                    .bind(reach);
                m.append(&b.with_prefix("SELECT * FROM (").push_owned(") b"));
            }
            m.push(") m");
            let row = m.query().fetch_one(&mut *conn).await?;
            let text: String = row.try_get(0)?;
            if cap.is_some() {
                over = Some(row.try_get::<i64, _>(1)? != 0);
            }
            let mut best: HashMap<i64, [String; 3]> = HashMap::new();
            let mut read = [0i64; 3];
            for (b, id, k, k2, k3) in json_rows::<(usize, i64, String, String, String)>(&text)? {
                read[b] += 1;
                let key = [k, k2, k3];
                let first = best.entry(id).or_insert_with(|| key.clone());
                let before = if f.descending {
                    key > *first
                } else {
                    key < *first
                };
                if before {
                    *first = key;
                }
            }
            let mut merged: Vec<(&[String; 3], i64)> =
                best.iter().map(|(id, k)| (k, *id)).collect();
            merged.sort_unstable();
            if f.descending {
                merged.reverse();
            }
            let ids = merged
                .iter()
                .skip(f.offset as usize)
                .take(f.limit as usize)
                .map(|(_, id)| *id)
                .collect();
            // No range reached the end of its reach: every match was read.
            let complete = read.iter().all(|n| *n < reach);
            (ids, complete.then_some(best.len() as i64))
        }
        _ => {
            let (sort_cols, sort) = match f.sort.as_deref() {
                Some("first_name") => (
                    "u.first_lc, u.last_lc",
                    format!("first_lc {o}, last_lc {o}"),
                ),
                Some("user_id") => ("u.user_id", format!("user_id {o}")),
                Some("updated_at") => ("u.updated_at", format!("updated_at {o}")),
                _ => (
                    "u.last_lc, u.first_lc",
                    format!("last_lc {o}, first_lc {o}"),
                ),
            };
            // The matches of the names with their sort keys; a UNION of index ranges, each
            // read from its index alone (which carries the sort keys), where an OR would look
            // up every candidate row in the table.
            let mut m = Sql::new("");
            for (i, (col, _)) in names.iter().enumerate() {
                if i > 0 {
                    m.push(" UNION ");
                }
                m.append(&rows_of(&format!("u.id, {sort_cols}"), col));
            }
            let mut page = m.with_prefix("SELECT id FROM (");
            page.push(&format!(") m ORDER BY {sort}, id {o} LIMIT "))
                .bind(f.limit)
                .push(" OFFSET ")
                .bind(f.offset);
            let ids: Vec<i64> = page
                .query()
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            let ended = crate::page::ended_at(f, ids.len());
            (ids, ended)
        }
    };
    let (total, total_exact) = match (counted, f.count_up_to) {
        (Some(n), _) => (n, true),
        // One name alone matching more than the cap answers without merging them.
        (None, Some(cap))
            if names.len() > 1
                && match over {
                    Some(o) => o,
                    None => {
                        let q = over_cap_sql(names, &rows_of, cap).with_prefix("SELECT ");
                        q.query()
                            .fetch_one(&mut *conn)
                            .await?
                            .try_get::<i64, _>(0)?
                            != 0
                    }
                } =>
        {
            (cap, false)
        }
        (None, _) => {
            // Each name's matches up to the cap (all of them without one), their ids merged.
            let mut m = Sql::new("");
            for (i, (col, _)) in names.iter().enumerate() {
                if i > 0 {
                    m.push(" UNION ");
                }
                let mut b = rows_of("u.id", col);
                if let Some(cap) = f.count_up_to {
                    b.push(&format!(" ORDER BY {col} LIMIT ")).bind(cap + 1);
                }
                m.append(&b.with_prefix("SELECT id FROM (").push_owned(") b"));
            }
            let n: i64 = m
                .with_prefix("SELECT COUNT(*) FROM (")
                .push_owned(") m")
                .query()
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?;
            // Below the cap no range was cut short, so the count is exact.
            crate::page::capped(n, f.count_up_to)
        }
    };
    let items = load(conn, &ids)
        .await?
        .into_iter()
        .map(|s| s.user)
        .collect();
    Ok(Page {
        items,
        total,
        total_exact,
        limit: f.limit,
        offset: f.offset,
    })
}

/// 1 when one of `names` alone matches more than `cap` users, else 0: each name's range counted
/// up to `cap + 1`, the next only when the one before stayed under the cap.
fn over_cap_sql(names: &[(&str, &str)], rows_of: &impl Fn(&str, &str) -> Sql, cap: i64) -> Sql {
    let mut q = Sql::new("CASE");
    for (col, _) in names {
        // In the name's order: the planner then reads that name's index (without it, SQLite
        // 3.4x chose a skip-scan of another index, ten times slower).
        let mut b = rows_of("1 AS one", col);
        b.push(&format!(" ORDER BY {col} LIMIT ")).bind(cap + 1);
        q.append(
            &b.with_prefix(" WHEN (SELECT COUNT(*) FROM (")
                .push_owned(") c) > "),
        );
        q.bind(cap).push(" THEN 1");
    }
    q.push(" ELSE 0 END");
    q
}

pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<StoredUser> {
    load(conn, &[id]).await?.pop().ok_or(crate::Error::NotFound)
}

/// Ids of the users with this user ID (on any system, or on the given one).
pub async fn ids_by_user_id(
    conn: &mut AnyConnection,
    user_id: &str,
    system: Option<&str>,
) -> Result<Vec<(i64, String)>> {
    let mut q = Sql::new(
        "SELECT u.id, s.name FROM users u JOIN systems s ON s.id = u.system_id WHERE u.user_id = ",
    );
    q.bind(user_id);
    if let Some(s) = system {
        q.push(" AND s.name = ").bind(s);
    }
    q.push(" ORDER BY s.name");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

pub async fn id_on_system(
    conn: &mut AnyConnection,
    system_id: i64,
    user_id: &str,
) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM users WHERE system_id = $1 AND user_id = $2")
            .bind(system_id)
            .bind(user_id)
            .fetch_optional(conn)
            .await?,
    )
}

/// The user ID of the user of a system with this self-provisioning ID, if any.
pub async fn with_self_service_id(
    conn: &mut AnyConnection,
    system_id: i64,
    id: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT user_id FROM users WHERE system_id = $1 AND self_service_id = $2",
    )
    .bind(system_id)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// The values of [`WRITE_COLS`], in order.
fn row_args(u: &UserRow) -> Vec<crate::Arg> {
    use crate::Arg::{Int, OptInt, OptText, Text};
    vec![
        Text(u.user_id.clone()),
        Text(u.user_id.to_lowercase()),
        Text(u.first_name.clone()),
        Text(u.first_name.to_lowercase()),
        Text(u.last_name.clone()),
        Text(u.last_name.to_lowercase()),
        Text(u.display_name.clone()),
        Text(u.department.clone()),
        Text(u.manager.clone()),
        Text(u.mail.clone()),
        Text(u.telephone_number.clone()),
        OptText(u.password_hash.clone()),
        OptText(u.pin_hash.clone()),
        OptText(u.digest_credential_enc.clone()),
        OptInt(u.primary_line_id),
        OptText(u.user_profile.clone()),
        Text(to_json(&u.groups)),
        Int(u.must_change_password as i64),
        Int(u.password_never_expires as i64),
        OptText(u.presence_home_node.clone()),
        OptText(u.app_profiles.ldap.clone()),
        OptText(u.app_profiles.cti.clone()),
        OptText(u.app_profiles.voicemail.clone()),
        OptText(u.app_profiles.conferencing.clone()),
        Int(u.capabilities.presence as i64),
        Int(u.capabilities.soft_client as i64),
        Int(u.ldap_synced as i64),
        OptText(u.self_service_id.clone()),
        OptText(u.app_profiles.proxy.clone()),
    ]
}

fn bind_row<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    u: &UserRow,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    row_args(u).into_iter().fold(q, crate::bind_arg)
}

const WRITE_COLS: &str = "user_id, user_id_lc, first_name, first_lc, last_name, last_lc, display_name, department, manager, mail, \
    telephone_number, password_hash, pin_hash, digest_credential_enc, primary_line_id, user_profile, groups_json, must_change_password, \
    password_never_expires, presence_home_node, ldap_profile, cti_profile, voicemail_profile, conferencing_profile, \
    cap_presence, cap_soft_client, ldap_synced, self_service_id, proxy_profile";

pub async fn insert(conn: &mut AnyConnection, u: &UserRow) -> Result<i64> {
    let sql = crate::sql::insert_sql("users", WRITE_COLS);
    Ok(bind_row(sqlx::query(&sql), u)
        .bind(u.system_id)
        .bind(now())
        .fetch_one(conn)
        .await?
        .try_get(0)?)
}

/// The columns of a held user row ([`insert_new`]): the id, [`WRITE_COLS`], the system, the times.
static HELD_COLS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("id, {WRITE_COLS}, system_id, created_at, updated_at"));

/// Inserts a new user with their devices (`default` the extension-mobility profile) and lines.
/// In a write that holds rows back ([`crate::WriteTx::holds_rows`]: an optimistic import chunk
/// on PostgreSQL) all of it goes in with the rows held after it, under an id taken ahead.
pub async fn insert_new(
    tx: &mut crate::WriteTx,
    u: &UserRow,
    devices: &[i64],
    default: Option<i64>,
    lines: &[i64],
) -> Result<i64> {
    if !tx.holds_rows() {
        let id = insert(tx.conn(), u).await?;
        add_devices(tx.conn(), id, devices, default).await?;
        add_lines(tx.conn(), id, lines).await?;
        return Ok(id);
    }
    use crate::Arg::Int;
    let id = tx
        .hold_record("users", HELD_COLS.as_str(), row_args(u), u.system_id)
        .await?;
    for d in devices {
        tx.hold_row(
            "user_devices",
            "user_id, device_id, is_default",
            vec![Int(id), Int(*d), Int((Some(*d) == default) as i64)],
        );
    }
    for l in lines {
        tx.hold_row("user_lines", "user_id, line_id", vec![Int(id), Int(*l)]);
    }
    Ok(id)
}

pub async fn update(conn: &mut AnyConnection, id: i64, version: i64, u: &UserRow) -> Result<()> {
    let sql = crate::sql::update_sql("users", WRITE_COLS);
    versioned(
        bind_row(sqlx::query(&sql), u)
            .bind(now())
            .bind(id)
            .bind(version)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// Replaces the user's phones and device profiles (`default` marks the extension-mobility one).
pub async fn set_devices(
    conn: &mut AnyConnection,
    user: i64,
    devices: &[i64],
    default: Option<i64>,
) -> Result<()> {
    sqlx::query("DELETE FROM user_devices WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    add_devices(conn, user, devices, default).await
}

/// Associates devices with a user that has none of them yet (a new one).
pub async fn add_devices(
    conn: &mut AnyConnection,
    user: i64,
    devices: &[i64],
    default: Option<i64>,
) -> Result<()> {
    for d in devices {
        sqlx::query(
            "INSERT INTO user_devices (user_id, device_id, is_default) VALUES ($1, $2, $3)",
        )
        .bind(user)
        .bind(*d)
        .bind((Some(*d) == default) as i64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn set_lines(conn: &mut AnyConnection, user: i64, lines: &[i64]) -> Result<()> {
    sqlx::query("DELETE FROM user_lines WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    add_lines(conn, user, lines).await
}

/// Associates lines with a user that has none yet (a new one).
pub async fn add_lines(conn: &mut AnyConnection, user: i64, lines: &[i64]) -> Result<()> {
    for l in lines {
        sqlx::query("INSERT INTO user_lines (user_id, line_id) VALUES ($1, $2)")
            .bind(user)
            .bind(*l)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn delete(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Holds the user's row until the transaction ends (two claims for one user take turns, so
/// its phone limit holds).
pub async fn lock(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("UPDATE users SET id = id WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The users of a system a self-provisioning ID names: the one that was given it, else those
/// without one whose primary extension's digits are these.
pub async fn by_self_service_id(
    conn: &mut AnyConnection,
    system_id: i64,
    id: &str,
) -> Result<Vec<i64>> {
    let given: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE system_id = $1 AND self_service_id = $2")
            .bind(system_id)
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    if !given.is_empty() {
        return Ok(given);
    }
    Ok(sqlx::query_scalar(
        "SELECT u.id FROM users u JOIN lines l ON l.id = u.primary_line_id \
         WHERE u.system_id = $1 AND u.self_service_id IS NULL \
         AND REPLACE(REPLACE(REPLACE(l.pattern, '\\', ''), '+', ''), '*', '') = $2 ORDER BY u.user_id",
    )
    .bind(system_id)
    .bind(id)
    .fetch_all(conn)
    .await?)
}

/// The users with any of these user IDs, as (system, user ID, id): an import reads a chunk's
/// owners in one statement ([`id_on_system`] for each row would be one each).
pub async fn keys_with_user_ids(
    conn: &mut AnyConnection,
    user_ids: &[&str],
) -> Result<Vec<(i64, String, i64)>> {
    crate::sql::rows_in(
        conn,
        "SELECT system_id, user_id, id FROM users WHERE user_id IN",
        user_ids,
    )
    .await
}

//! LDAP servers and LDAP profiles (docs/directory.md). A profile's bind password is stored as
//! the service sealed it; users name their LDAP profile in `users.ldap_profile`.

use crate::sql::{push_prefix, Find, Sql};
use crate::{b, now, versioned, Result};
use model::directory::{KnownUser, SyncedFields};
use model::{DirectoryType, LdapProfile, LdapSecurity, LdapServer, Page};
use sqlx::{AnyConnection, Row};

/// A server as written.
#[derive(Debug, Clone)]
pub struct ServerRow {
    pub name: String,
    pub description: String,
    pub host: String,
    pub port: u16,
    pub directory_type: DirectoryType,
    pub security: LdapSecurity,
    pub ca_file: String,
}

const SERVER_COLS: &str =
    "s.id, s.name, s.description, s.host, s.port, s.directory_type, s.security, s.ca_file, \
    s.version, s.created_at, s.updated_at";

fn server(r: &sqlx::any::AnyRow) -> Result<LdapServer> {
    Ok(LdapServer {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        host: r.try_get("host")?,
        port: r.try_get::<i64, _>("port")? as u16,
        directory_type: DirectoryType::from_db(&r.try_get::<String, _>("directory_type")?),
        security: LdapSecurity::from_db(&r.try_get::<String, _>("security")?),
        ca_file: r.try_get("ca_file")?,
        used_by: Vec::new(),
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The profiles naming a server, by name.
pub async fn profiles_of_server(conn: &mut AnyConnection, id: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM ldap_profiles WHERE primary_server_id = $1 OR backup1_server_id = $1 \
         OR backup2_server_id = $1 ORDER BY name",
    )
    .bind(id)
    .fetch_all(conn)
    .await?)
}

pub async fn find_servers(conn: &mut AnyConnection, f: &Find) -> Result<Page<LdapServer>> {
    let mut w = Sql::new(" FROM ldap_servers s WHERE 1 = 1");
    if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
        w.push(" AND ");
        push_prefix(&mut w, "s.name", q);
    }
    let o = f.order();
    let mut page = crate::page::page(
        conn,
        SERVER_COLS,
        &w,
        &format!("s.name {o}, s.id {o}"),
        f,
        server,
    )
    .await?;
    for s in &mut page.items {
        s.used_by = profiles_of_server(conn, s.id).await?;
    }
    Ok(page)
}

pub async fn server_by_id(conn: &mut AnyConnection, id: i64) -> Result<LdapServer> {
    let mut s = crate::page::one(
        conn,
        &format!("SELECT {SERVER_COLS} FROM ldap_servers s WHERE s.id = $1"),
        id,
        server,
    )
    .await?;
    s.used_by = profiles_of_server(conn, s.id).await?;
    Ok(s)
}

pub async fn server_id(conn: &mut AnyConnection, name: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM ldap_servers WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn insert_server(conn: &mut AnyConnection, s: &ServerRow) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO ldap_servers (name, description, host, port, directory_type, security, ca_file, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(&s.name)
    .bind(&s.description)
    .bind(&s.host)
    .bind(i64::from(s.port))
    .bind(s.directory_type.as_str())
    .bind(s.security.as_str())
    .bind(&s.ca_file)
    .bind(now())
    .fetch_one(conn)
    .await?)
}

pub async fn update_server(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    s: &ServerRow,
) -> Result<()> {
    versioned(
        sqlx::query(
            "UPDATE ldap_servers SET name = $1, description = $2, host = $3, port = $4, directory_type = $5, \
             security = $6, ca_file = $7, updated_at = $8, version = version + 1 WHERE id = $9 AND version = $10",
        )
        .bind(&s.name)
        .bind(&s.description)
        .bind(&s.host)
        .bind(i64::from(s.port))
        .bind(s.directory_type.as_str())
        .bind(s.security.as_str())
        .bind(&s.ca_file)
        .bind(now())
        .bind(id)
        .bind(version)
        .execute(conn)
        .await?
        .rows_affected(),
    )
}

pub async fn delete_server(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM ldap_servers WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A profile as written (the password as sealed; `None` keeps none).
#[derive(Debug, Clone)]
pub struct ProfileRow {
    pub name: String,
    pub description: String,
    pub bind_dn: String,
    pub anonymous_bind: bool,
    pub password_enc: Option<String>,
    pub search_context: String,
    pub recursive: bool,
    pub primary_server_id: i64,
    pub backup_server_ids: Vec<i64>,
    pub default_profile: bool,
    pub sync_filter: String,
    pub sync_interval_hours: u32,
}

const PROFILE_COLS: &str = "p.id, p.name, p.description, p.bind_dn, p.anonymous_bind, p.password_enc, p.search_context, \
    p.recursive, s0.name AS primary_name, s1.name AS backup1_name, s2.name AS backup2_name, p.default_profile, \
    p.sync_filter, p.sync_interval_hours, p.last_sync_at, p.last_sync_result, p.version, p.created_at, p.updated_at, \
    (SELECT COUNT(*) FROM users u WHERE u.ldap_profile = p.name) AS users";
const PROFILE_FROM: &str = " FROM ldap_profiles p JOIN ldap_servers s0 ON s0.id = p.primary_server_id \
    LEFT JOIN ldap_servers s1 ON s1.id = p.backup1_server_id LEFT JOIN ldap_servers s2 ON s2.id = p.backup2_server_id";

/// A profile as read, with its sealed password for the service.
#[derive(Debug, Clone)]
pub struct StoredProfile {
    pub profile: LdapProfile,
    pub password_enc: Option<String>,
}

fn profile(r: &sqlx::any::AnyRow) -> Result<StoredProfile> {
    let password_enc: Option<String> = r.try_get("password_enc")?;
    let backups: Vec<String> = [
        r.try_get::<Option<String>, _>("backup1_name")?,
        r.try_get("backup2_name")?,
    ]
    .into_iter()
    .flatten()
    .collect();
    Ok(StoredProfile {
        profile: LdapProfile {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            bind_dn: r.try_get("bind_dn")?,
            anonymous_bind: b(r.try_get("anonymous_bind")?),
            has_password: password_enc.is_some(),
            search_context: r.try_get("search_context")?,
            recursive: b(r.try_get("recursive")?),
            primary_server: r.try_get("primary_name")?,
            backup_servers: backups,
            default_profile: b(r.try_get("default_profile")?),
            sync_filter: r.try_get("sync_filter")?,
            sync_interval_hours: r
                .try_get::<i64, _>("sync_interval_hours")?
                .clamp(0, u32::MAX as i64) as u32,
            last_sync_at: r.try_get("last_sync_at")?,
            last_sync: r.try_get("last_sync_result")?,
            users: r.try_get("users")?,
            version: r.try_get("version")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        },
        password_enc,
    })
}

pub async fn find_profiles(conn: &mut AnyConnection, f: &Find) -> Result<Page<LdapProfile>> {
    let mut w = Sql::new(PROFILE_FROM);
    w.push(" WHERE 1 = 1");
    if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
        w.push(" AND ");
        push_prefix(&mut w, "p.name", q);
    }
    let o = f.order();
    let page = crate::page::page(
        conn,
        PROFILE_COLS,
        &w,
        &format!("p.name {o}, p.id {o}"),
        f,
        profile,
    )
    .await?;
    Ok(Page {
        items: page.items.into_iter().map(|p| p.profile).collect(),
        total: page.total,
        total_exact: page.total_exact,
        limit: page.limit,
        offset: page.offset,
    })
}

pub async fn profile_by_id(conn: &mut AnyConnection, id: i64) -> Result<StoredProfile> {
    crate::page::one(
        conn,
        &format!("SELECT {PROFILE_COLS}{PROFILE_FROM} WHERE p.id = $1"),
        id,
        profile,
    )
    .await
}

pub async fn profile_id(conn: &mut AnyConnection, name: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM ldap_profiles WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?,
    )
}

/// The names and directory types of these servers, in the order of `ids` (one read).
pub async fn server_types(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<Vec<(i64, String, DirectoryType)>> {
    let mut q = Sql::new("SELECT id, name, directory_type FROM ldap_servers WHERE id IN ");
    q.bind_list(ids);
    let mut found = Vec::new();
    for r in q.query().fetch_all(conn).await? {
        let t: String = r.try_get(2)?;
        found.push((
            r.try_get::<i64, _>(0)?,
            r.try_get::<String, _>(1)?,
            DirectoryType::from_db(&t),
        ));
    }
    Ok(ids
        .iter()
        .filter_map(|id| found.iter().find(|(f, _, _)| f == id).cloned())
        .collect())
}

fn backup(p: &ProfileRow, i: usize) -> Option<i64> {
    p.backup_server_ids.get(i).copied()
}

pub async fn insert_profile(conn: &mut AnyConnection, p: &ProfileRow) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO ldap_profiles (name, description, bind_dn, anonymous_bind, password_enc, search_context, recursive, \
         primary_server_id, backup1_server_id, backup2_server_id, default_profile, sync_filter, sync_interval_hours, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
    )
    .bind(&p.name)
    .bind(&p.description)
    .bind(&p.bind_dn)
    .bind(p.anonymous_bind as i64)
    .bind(p.password_enc.as_deref())
    .bind(&p.search_context)
    .bind(p.recursive as i64)
    .bind(p.primary_server_id)
    .bind(backup(p, 0))
    .bind(backup(p, 1))
    .bind(p.default_profile as i64)
    .bind(&p.sync_filter)
    .bind(p.sync_interval_hours as i64)
    .bind(now())
    .fetch_one(conn)
    .await?)
}

/// Writes a profile; a rename carries the users that name it along.
pub async fn update_profile(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    old_name: &str,
    p: &ProfileRow,
) -> Result<()> {
    versioned(
        sqlx::query(
            "UPDATE ldap_profiles SET name = $1, description = $2, bind_dn = $3, anonymous_bind = $4, password_enc = $5, \
             search_context = $6, recursive = $7, primary_server_id = $8, backup1_server_id = $9, backup2_server_id = $10, \
             default_profile = $11, sync_filter = $12, sync_interval_hours = $13, updated_at = $14, version = version + 1 \
             WHERE id = $15 AND version = $16",
        )
        .bind(&p.name)
        .bind(&p.description)
        .bind(&p.bind_dn)
        .bind(p.anonymous_bind as i64)
        .bind(p.password_enc.as_deref())
        .bind(&p.search_context)
        .bind(p.recursive as i64)
        .bind(p.primary_server_id)
        .bind(backup(p, 0))
        .bind(backup(p, 1))
        .bind(p.default_profile as i64)
        .bind(&p.sync_filter)
        .bind(p.sync_interval_hours as i64)
        .bind(now())
        .bind(id)
        .bind(version)
        .execute(&mut *conn)
        .await?
        .rows_affected(),
    )?;
    if old_name != p.name {
        sqlx::query("UPDATE users SET ldap_profile = $1 WHERE ldap_profile = $2")
            .bind(&p.name)
            .bind(old_name)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Makes `id` the only default profile (or none, with `None`).
pub async fn set_default_profile(conn: &mut AnyConnection, id: Option<i64>) -> Result<()> {
    sqlx::query("UPDATE ldap_profiles SET default_profile = 0 WHERE default_profile <> 0")
        .execute(&mut *conn)
        .await?;
    if let Some(id) = id {
        sqlx::query("UPDATE ldap_profiles SET default_profile = 1 WHERE id = $1")
            .bind(id)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The users whose application profiles name this LDAP profile (up to `limit`).
pub async fn users_of_profile(
    conn: &mut AnyConnection,
    name: &str,
    limit: i64,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT user_id FROM users WHERE ldap_profile = $1 ORDER BY user_id LIMIT $2",
    )
    .bind(name)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn delete_profile(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM ldap_profiles WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The name of the default LDAP profile, if one is.
pub async fn default_profile(conn: &mut AnyConnection) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM ldap_profiles WHERE default_profile <> 0 ORDER BY id LIMIT 1",
    )
    .fetch_optional(conn)
    .await?)
}

// ---------------------------------------------------------------------------------------------
// Sync

/// The users of a system as a sync compares them (one read, the synced fields only).
pub async fn known_users(conn: &mut AnyConnection, system_id: i64) -> Result<Vec<KnownUser>> {
    let rows = sqlx::query(
        "SELECT id, version, user_id, first_name, last_name, display_name, department, mail, telephone_number, \
         manager, ldap_synced, ldap_profile, ldap_inactive_since FROM users WHERE system_id = $1",
    )
    .bind(system_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(KnownUser {
                id: r.try_get(0)?,
                version: r.try_get(1)?,
                user_id: r.try_get(2)?,
                fields: SyncedFields {
                    first_name: r.try_get(3)?,
                    last_name: r.try_get(4)?,
                    display_name: r.try_get(5)?,
                    department: r.try_get(6)?,
                    mail: r.try_get(7)?,
                    telephone_number: r.try_get(8)?,
                    manager: r.try_get(9)?,
                },
                ldap_synced: b(r.try_get(10)?),
                ldap_profile: r.try_get(11)?,
                inactive: r.try_get::<Option<String>, _>(12)?.is_some(),
            })
        })
        .collect()
}

/// Writes what the directory says of a user: its synced fields, synced by `profile` (which
/// becomes its LDAP profile), active. Stale when `version` is not the stored one.
pub async fn write_synced(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    f: &SyncedFields,
    profile: &str,
) -> Result<()> {
    versioned(
        sqlx::query(
            "UPDATE users SET first_name = $1, first_lc = $2, last_name = $3, last_lc = $4, display_name = $5, \
             department = $6, mail = $7, telephone_number = $8, manager = $9, ldap_synced = 1, ldap_inactive_since = NULL, \
             ldap_profile = $10, version = version + 1, updated_at = $11 \
             WHERE id = $12 AND version = $13",
        )
        .bind(&f.first_name)
        .bind(f.first_name.to_lowercase())
        .bind(&f.last_name)
        .bind(f.last_name.to_lowercase())
        .bind(&f.display_name)
        .bind(&f.department)
        .bind(&f.mail)
        .bind(&f.telephone_number)
        .bind(&f.manager)
        .bind(profile)
        .bind(now())
        .bind(id)
        .bind(version)
        .execute(conn)
        .await?
        .rows_affected(),
    )
}

/// Marks a synced user gone from the directory: inactive from now, their self-care sessions
/// ended.
pub async fn deactivate(conn: &mut AnyConnection, id: i64, version: i64) -> Result<()> {
    let t = now();
    sqlx::query("DELETE FROM user_sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    versioned(
        sqlx::query(
            "UPDATE users SET ldap_inactive_since = $1, version = version + 1, updated_at = $1 \
             WHERE id = $2 AND version = $3",
        )
        .bind(&t)
        .bind(id)
        .bind(version)
        .execute(conn)
        .await?
        .rows_affected(),
    )
}

/// Records a sync's end on its profile (not a change of the profile: its version stays).
pub async fn record_sync(conn: &mut AnyConnection, id: i64, result: &str) -> Result<()> {
    sqlx::query("UPDATE ldap_profiles SET last_sync_at = $1, last_sync_result = $2 WHERE id = $3")
        .bind(now())
        .bind(result)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Profiles whose scheduled sync is due: (name, interval hours, last sync time).
pub async fn scheduled_profiles(
    conn: &mut AnyConnection,
) -> Result<Vec<(String, u32, Option<String>)>> {
    let rows = sqlx::query(
        "SELECT name, sync_interval_hours, last_sync_at FROM ldap_profiles WHERE sync_interval_hours > 0 ORDER BY name",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                r.try_get::<i64, _>(1)?.clamp(0, u32::MAX as i64) as u32,
                r.try_get(2)?,
            ))
        })
        .collect()
}

/// One page of the corporate directory (`per_page` + 1 rows, so the caller knows whether more
/// follow): active users whose first name, last name and number start with the terms given (any
/// case), by last name, first name; with `with_number`, only users with a number to dial.
pub async fn contacts(
    conn: &mut AnyConnection,
    s: &model::contacts::ContactSearch,
    with_number: bool,
) -> Result<Vec<model::contacts::ContactRecord>> {
    let mut q = Sql::new(
        "SELECT u.user_id, sy.name, u.first_name, u.last_name, u.display_name, u.department, u.mail, \
         u.telephone_number, u.manager, COALESCE(l.pattern, ''), u.ldap_synced \
         FROM users u JOIN systems sy ON sy.id = u.system_id \
         LEFT JOIN lines l ON l.id = u.primary_line_id \
         WHERE u.ldap_inactive_since IS NULL",
    );
    if !s.last.is_empty() {
        q.push(" AND ");
        push_prefix(&mut q, "u.last_lc", &s.last.to_lowercase());
    }
    if !s.first.is_empty() {
        q.push(" AND ");
        push_prefix(&mut q, "u.first_lc", &s.first.to_lowercase());
    }
    if !s.number.is_empty() {
        q.push(" AND ((");
        push_prefix(&mut q, "u.telephone_number", &s.number);
        q.push(") OR (");
        push_prefix(&mut q, "l.pattern", &s.number);
        q.push("))");
    }
    if with_number {
        q.push(" AND (u.telephone_number <> '' OR l.pattern IS NOT NULL)");
    }
    if let Some(sys) = &s.system {
        q.push(" AND sy.name = ").bind(sys.as_str());
    }
    q.push(" ORDER BY u.last_lc, u.first_lc, u.id LIMIT ")
        .bind(i64::from(s.per_page) + 1)
        .push(" OFFSET ")
        .bind(s.offset());
    let rows = q.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(model::contacts::ContactRecord {
                user_id: r.try_get(0)?,
                system: r.try_get(1)?,
                first_name: r.try_get(2)?,
                last_name: r.try_get(3)?,
                display_name: r.try_get(4)?,
                department: r.try_get(5)?,
                mail: r.try_get(6)?,
                telephone_number: r.try_get(7)?,
                manager: r.try_get(8)?,
                extension: r.try_get(9)?,
                ldap_synced: b(r.try_get(10)?),
            })
        })
        .collect()
}

/// Every profile as a client searches with it (its servers in order; `attributes` left for the
/// caller), with its bind password as sealed: what a soft client's file needs (never the
/// password) and what the LDAP settings of other vendors' desk phones need (the password too),
/// without the counts and look-ups the API's records carry.
pub async fn client_profiles(
    conn: &mut AnyConnection,
) -> Result<Vec<(model::soft_client::ClientLdap, Option<String>)>> {
    let rows = sqlx::query(
        "SELECT p.name, p.bind_dn, p.anonymous_bind, p.search_context, p.recursive, \
         s0.host, s0.port, s0.security, s1.host, s1.port, s1.security, s2.host, s2.port, s2.security, \
         p.password_enc \
         FROM ldap_profiles p JOIN ldap_servers s0 ON s0.id = p.primary_server_id \
         LEFT JOIN ldap_servers s1 ON s1.id = p.backup1_server_id \
         LEFT JOIN ldap_servers s2 ON s2.id = p.backup2_server_id ORDER BY p.name",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let mut servers = Vec::new();
            for i in 0..3 {
                let host: Option<String> = r.try_get(5 + 3 * i)?;
                if let Some(host) = host {
                    servers.push(model::soft_client::ClientServer {
                        host,
                        port: r.try_get::<i64, _>(6 + 3 * i)? as u16,
                        protocol: r.try_get(7 + 3 * i)?,
                    });
                }
            }
            Ok((
                model::soft_client::ClientLdap {
                    profile: r.try_get(0)?,
                    servers,
                    anonymous_bind: b(r.try_get(2)?),
                    bind_dn: r.try_get(1)?,
                    search_base: r.try_get(3)?,
                    recursive: b(r.try_get(4)?),
                    attributes: Vec::new(),
                },
                r.try_get(14)?,
            ))
        })
        .collect()
}

//! The corporate directory (seed 003, docs/directory.md): LDAP servers and LDAP profiles.
//! A profile names a primary server and up to two backups, all of one directory type; soft
//! clients and Dialtone's sync search through it.

use crate::{Invalid, Secret};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The kind of directory a server is (its schema: all servers of one profile share it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DirectoryType {
    #[default]
    ActiveDirectory,
    #[serde(rename = "openldap")]
    OpenLdap,
    Netscape,
    SunOne,
}

impl DirectoryType {
    pub fn as_str(self) -> &'static str {
        match self {
            DirectoryType::ActiveDirectory => "active_directory",
            DirectoryType::OpenLdap => "openldap",
            DirectoryType::Netscape => "netscape",
            DirectoryType::SunOne => "sun_one",
        }
    }
    pub fn from_db(s: &str) -> DirectoryType {
        match s {
            "openldap" => DirectoryType::OpenLdap,
            "netscape" => DirectoryType::Netscape,
            "sun_one" => DirectoryType::SunOne,
            _ => DirectoryType::ActiveDirectory,
        }
    }
}

/// How a server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LdapSecurity {
    /// Plain TCP (the seed's "TCP").
    #[default]
    Tcp,
    /// TLS from the first byte (`ldaps://`).
    Ldaps,
    /// TCP, then StartTLS before binding.
    StartTls,
}

impl LdapSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            LdapSecurity::Tcp => "tcp",
            LdapSecurity::Ldaps => "ldaps",
            LdapSecurity::StartTls => "start_tls",
        }
    }
    pub fn from_db(s: &str) -> LdapSecurity {
        match s {
            "ldaps" => LdapSecurity::Ldaps,
            "start_tls" => LdapSecurity::StartTls,
            _ => LdapSecurity::Tcp,
        }
    }
    /// The port a server of this kind listens on when none is given: 389 (LDAP), 636 (LDAPS).
    pub fn default_port(self) -> u16 {
        match self {
            LdapSecurity::Ldaps => 636,
            _ => 389,
        }
    }
}

/// The Active Directory Global Catalog's port (no `jpegPhoto` there, as the seed warns).
pub const GLOBAL_CATALOG_PORT: u16 = 3268;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LdapServer {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// An IP address or a fully qualified domain name.
    pub host: String,
    pub port: u16,
    pub directory_type: DirectoryType,
    pub security: LdapSecurity,
    /// The CA certificate file (PEM) TLS checks the server against; empty: the system's roots.
    pub ca_file: String,
    /// The LDAP profiles that name it.
    pub used_by: Vec<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewLdapServer {
    pub name: String,
    pub description: String,
    pub host: String,
    /// 389 when left out (636 with `ldaps`); 3268 for an Active Directory Global Catalog.
    pub port: Option<u16>,
    pub directory_type: DirectoryType,
    pub security: LdapSecurity,
    pub ca_file: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LdapServerPatch {
    pub version: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub directory_type: Option<DirectoryType>,
    pub security: Option<LdapSecurity>,
    pub ca_file: Option<String>,
}

/// A server's fields, checked on their own (the service checks the rest against the
/// directory).
pub fn check_server(host: &str, port: u16, ca_file: &str) -> Result<(), Invalid> {
    let h = host.trim();
    if h.is_empty()
        || h.len() > 253
        || !h
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    {
        return Err(Invalid::new(
            "host",
            format!("`{h}` is not a host name or address"),
        ));
    }
    if port == 0 {
        return Err(Invalid::new("port", "a port is 1 to 65535"));
    }
    let ca = ca_file.trim();
    if !ca.is_empty() && !ca.starts_with('/') {
        return Err(Invalid::new(
            "ca_file",
            format!("`{ca}` is not an absolute path to a CA certificate file"),
        ));
    }
    Ok(())
}

/// Backup servers a profile may have, after its primary.
pub const MAX_BACKUP_SERVERS: usize = 2;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LdapProfile {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// The distinguished name of an authenticated bind (empty with an anonymous bind).
    pub bind_dn: String,
    pub anonymous_bind: bool,
    /// Whether a bind password is set (it is never returned).
    pub has_password: bool,
    /// The one container searched (`ou=users,dc=example,dc=com`).
    pub search_context: String,
    /// Search below the context too.
    pub recursive: bool,
    pub primary_server: String,
    /// In the order they are tried, at most two.
    pub backup_servers: Vec<String>,
    /// New users are placed in it.
    pub default_profile: bool,
    /// The filter a sync searches with; empty: the directory type's people
    /// (`(&(objectClass=user)(objectCategory=person))` on Active Directory,
    /// `(objectClass=inetOrgPerson)` otherwise).
    pub sync_filter: String,
    /// Hours between scheduled syncs; 0: on demand only.
    pub sync_interval_hours: u32,
    /// When the last sync (not a dry run) ended, and what it did.
    pub last_sync_at: Option<String>,
    pub last_sync: String,
    /// Users whose application profiles name it.
    pub users: i64,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewLdapProfile {
    pub name: String,
    pub description: String,
    pub bind_dn: String,
    pub anonymous_bind: bool,
    /// Write-only; sealed at rest.
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<Secret>,
    pub search_context: String,
    pub recursive: bool,
    pub primary_server: String,
    pub backup_servers: Vec<String>,
    pub default_profile: bool,
    pub sync_filter: String,
    /// 0 (on demand only) to 8760 (a year).
    pub sync_interval_hours: u32,
}

#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LdapProfilePatch {
    pub version: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub bind_dn: Option<String>,
    pub anonymous_bind: Option<bool>,
    /// Write-only; left out it stays, `""` removes it.
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<Secret>,
    pub search_context: Option<String>,
    pub recursive: Option<bool>,
    pub primary_server: Option<String>,
    pub backup_servers: Option<Vec<String>>,
    pub default_profile: Option<bool>,
    pub sync_filter: Option<String>,
    pub sync_interval_hours: Option<u32>,
}

macro_rules! redacted_debug {
    ($t:ty, $($f:ident),*) => {
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    $(.field(stringify!($f), &self.$f))*
                    .field("password", &self.password.as_ref().map(|_| "***"))
                    .finish()
            }
        }
    };
}
redacted_debug!(
    NewLdapProfile,
    name,
    bind_dn,
    anonymous_bind,
    search_context,
    primary_server,
    backup_servers
);
redacted_debug!(
    LdapProfilePatch,
    version,
    name,
    bind_dn,
    anonymous_bind,
    search_context,
    primary_server,
    backup_servers
);

/// A profile's own fields, checked together: an anonymous bind has no bind DN or password, an
/// authenticated one has a bind DN; a primary, at most two backups, none twice.
pub fn check_profile(
    bind_dn: &str,
    anonymous_bind: bool,
    has_password: bool,
    search_context: &str,
    primary: &str,
    backups: &[String],
) -> Result<(), Invalid> {
    if anonymous_bind && (!bind_dn.trim().is_empty() || has_password) {
        return Err(Invalid::new(
            "anonymous_bind",
            "an anonymous bind has no bind DN or password: clear them, or uncheck anonymous bind",
        ));
    }
    if !anonymous_bind && bind_dn.trim().is_empty() {
        return Err(Invalid::new(
            "bind_dn",
            "give the bind DN of an account with read access (cn=reader,ou=users,dc=example,dc=com), or use an anonymous bind",
        ));
    }
    if search_context.contains(';') || search_context.contains('\n') {
        return Err(Invalid::new(
            "search_context",
            "only a single search context is supported: one DN, no list",
        ));
    }
    if primary.trim().is_empty() {
        return Err(Invalid::new(
            "primary_server",
            "a profile needs a primary LDAP server",
        ));
    }
    if backups.len() > MAX_BACKUP_SERVERS {
        return Err(Invalid::new(
            "backup_servers",
            format!(
                "at most {MAX_BACKUP_SERVERS} backup servers, tried in order after the primary"
            ),
        ));
    }
    let mut seen = vec![primary.trim()];
    for (i, b) in backups.iter().enumerate() {
        if seen.contains(&b.trim()) {
            return Err(Invalid::new(
                format!("backup_servers[{i}]"),
                format!("{b} is named twice in this profile"),
            ));
        }
        seen.push(b.trim());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_and_profiles_are_checked() {
        check_server("ldap.example.com", 389, "").unwrap();
        check_server("10.0.0.5", GLOBAL_CATALOG_PORT, "/etc/ssl/ca.pem").unwrap();
        assert_eq!(check_server("bad host", 389, "").unwrap_err().field, "host");
        assert_eq!(check_server("h", 0, "").unwrap_err().field, "port");
        assert_eq!(
            check_server("h", 636, "ca.pem").unwrap_err().field,
            "ca_file"
        );
        assert_eq!(LdapSecurity::Ldaps.default_port(), 636);
        assert_eq!(LdapSecurity::Tcp.default_port(), 389);

        let b = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        check_profile(
            "cn=reader,dc=x",
            false,
            true,
            "ou=users,dc=x",
            "a",
            &b(&["b", "c"]),
        )
        .unwrap();
        check_profile("", true, false, "", "a", &[]).unwrap();
        assert_eq!(
            check_profile("cn=x", true, false, "", "a", &[])
                .unwrap_err()
                .field,
            "anonymous_bind"
        );
        assert_eq!(
            check_profile("", false, false, "", "a", &[])
                .unwrap_err()
                .field,
            "bind_dn"
        );
        assert_eq!(
            check_profile("", true, false, "", "", &[])
                .unwrap_err()
                .field,
            "primary_server"
        );
        assert_eq!(
            check_profile("", true, false, "", "a", &b(&["b", "c", "d"]))
                .unwrap_err()
                .field,
            "backup_servers"
        );
        assert_eq!(
            check_profile("", true, false, "", "a", &b(&["a"]))
                .unwrap_err()
                .field,
            "backup_servers[0]"
        );
        assert_eq!(
            check_profile("", true, false, "ou=a;ou=b", "a", &[])
                .unwrap_err()
                .field,
            "search_context"
        );
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let p = NewLdapProfile {
            password: Some(Secret::new("hunter2")),
            ..Default::default()
        };
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}

// ---------------------------------------------------------------------------------------------
// The attribute map

/// Which LDAP attribute holds each of a user's fields (empty: not read). Global to every LDAP
/// server, as the seed says.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AttributeFields {
    /// Required: the attribute that is the Dialtone user ID (Active Directory:
    /// `sAMAccountName`).
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub nickname: String,
    pub title: String,
    pub company: String,
    pub department: String,
    pub mail: String,
    pub business_phone: String,
    pub mobile_phone: String,
    pub home_phone: String,
    pub other_phone: String,
    pub manager: String,
    /// An attribute holding the photo (`jpegPhoto`, or `thumbnailPhoto` on Windows 2000 Active
    /// Directory), or a URL template naming one between double percent signs
    /// (`http://photos.example.com/%%uid%%.jpg`, at most 50 characters).
    pub photo: String,
}

impl AttributeFields {
    /// (field, attribute) for every field, in order.
    pub fn entries(&self) -> [(&'static str, &str); 15] {
        [
            ("user_id", &self.user_id),
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("display_name", &self.display_name),
            ("nickname", &self.nickname),
            ("title", &self.title),
            ("company", &self.company),
            ("department", &self.department),
            ("mail", &self.mail),
            ("business_phone", &self.business_phone),
            ("mobile_phone", &self.mobile_phone),
            ("home_phone", &self.home_phone),
            ("other_phone", &self.other_phone),
            ("manager", &self.manager),
            ("photo", &self.photo),
        ]
    }

    /// The factory defaults for a directory type ("Restore Defaults").
    pub fn preset(t: DirectoryType) -> AttributeFields {
        let s = |v: &str| v.to_string();
        match t {
            DirectoryType::ActiveDirectory => AttributeFields {
                user_id: s("sAMAccountName"),
                first_name: s("givenName"),
                last_name: s("sn"),
                display_name: s("displayName"),
                nickname: String::new(),
                title: s("title"),
                company: s("company"),
                department: s("department"),
                mail: s("mail"),
                business_phone: s("telephoneNumber"),
                mobile_phone: s("mobile"),
                home_phone: s("homePhone"),
                other_phone: s("otherTelephone"),
                manager: s("manager"),
                photo: s("jpegPhoto"),
            },
            // inetOrgPerson (RFC 2798), the schema OpenLDAP, Netscape and Sun ONE share.
            DirectoryType::OpenLdap | DirectoryType::Netscape | DirectoryType::SunOne => {
                AttributeFields {
                    user_id: s("uid"),
                    first_name: s("givenName"),
                    last_name: s("sn"),
                    display_name: s("displayName"),
                    nickname: String::new(),
                    title: s("title"),
                    company: s("o"),
                    department: s("departmentNumber"),
                    mail: s("mail"),
                    business_phone: s("telephoneNumber"),
                    mobile_phone: s("mobile"),
                    home_phone: s("homePhone"),
                    other_phone: String::new(),
                    manager: s("manager"),
                    photo: s("jpegPhoto"),
                }
            }
        }
    }
}

/// The attribute map: the directory type it was made for and its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeMap {
    pub directory_type: DirectoryType,
    pub fields: AttributeFields,
}

impl Default for AttributeMap {
    fn default() -> Self {
        AttributeMap {
            directory_type: DirectoryType::ActiveDirectory,
            fields: AttributeFields::preset(DirectoryType::ActiveDirectory),
        }
    }
}

/// The longest photo URL template the seed's product takes.
pub const MAX_PHOTO_URL: usize = 50;

fn attribute_ok(a: &str) -> bool {
    let mut c = a.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic())
        && c.all(|x| x.is_ascii_alphanumeric() || x == '-')
}

/// The attributes a photo URL template names (`%%uid%%`), or why it is not one.
pub fn photo_template_attributes(t: &str) -> Result<Vec<String>, String> {
    let parts: Vec<&str> = t.split("%%").collect();
    if parts.len().is_multiple_of(2) {
        return Err(
            "a `%%` does not close: the attribute goes between double percent signs, `%%uid%%`"
                .into(),
        );
    }
    let attrs: Vec<String> = parts
        .iter()
        .skip(1)
        .step_by(2)
        .map(|s| s.to_string())
        .collect();
    if let Some(bad) = attrs.iter().find(|a| !attribute_ok(a)) {
        return Err(format!(
            "`{bad}` between `%%` is not an LDAP attribute name"
        ));
    }
    Ok(attrs)
}

impl AttributeMap {
    /// The seed's rules: the user ID mapped; an LDAP attribute paired with one field at most;
    /// names that are attribute names; a photo URL template at most 50 characters.
    pub fn check(&self) -> Result<(), Invalid> {
        let f = &self.fields;
        if f.user_id.trim().is_empty() {
            return Err(Invalid::new(
                "fields.user_id",
                "map the user ID: it ties a directory entry to its Dialtone user (Active Directory: sAMAccountName)",
            ));
        }
        let mut seen: Vec<(String, &str)> = Vec::new();
        for (field, attr) in f.entries() {
            let a = attr.trim();
            if a.is_empty() {
                continue;
            }
            if field == "photo" && a.contains("%%") {
                if a.chars().count() > MAX_PHOTO_URL {
                    return Err(Invalid::new(
                        "fields.photo",
                        format!(
                            "a photo URL template is at most {MAX_PHOTO_URL} characters ({} here): shorten the URL (a short-link service), keeping the %%attribute%% part",
                            a.chars().count()
                        ),
                    ));
                }
                if !(a.starts_with("http://") || a.starts_with("https://")) {
                    return Err(Invalid::new(
                        "fields.photo",
                        "a photo URL template starts with http:// or https://",
                    ));
                }
                photo_template_attributes(a).map_err(|m| Invalid::new("fields.photo", m))?;
                continue;
            }
            if !attribute_ok(a) {
                return Err(Invalid::new(
                    format!("fields.{field}"),
                    format!("`{a}` is not an LDAP attribute name"),
                ));
            }
            if let Some((_, other)) = seen.iter().find(|(s, _)| s.eq_ignore_ascii_case(a)) {
                return Err(Invalid::new(
                    format!("fields.{field}"),
                    format!("{a} is already mapped to {other}: an LDAP attribute pairs with one field only"),
                ));
            }
            seen.push((a.to_string(), field));
        }
        Ok(())
    }
}

/// Fills a photo URL template with an entry's attributes (`http://x/%%uid%%.jpg` and uid
/// `jdoe` give `http://x/jdoe.jpg`); `None` when the entry lacks one.
pub fn expand_photo_url(
    template: &str,
    attribute: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let mut out = String::new();
    for (i, part) in template.split("%%").enumerate() {
        if i % 2 == 0 {
            out.push_str(part);
        } else {
            out.push_str(&attribute(part)?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod map_tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_restore_defaults() {
        for t in [
            DirectoryType::ActiveDirectory,
            DirectoryType::OpenLdap,
            DirectoryType::Netscape,
            DirectoryType::SunOne,
        ] {
            AttributeMap {
                directory_type: t,
                fields: AttributeFields::preset(t),
            }
            .check()
            .unwrap();
        }
        let ad = AttributeFields::preset(DirectoryType::ActiveDirectory);
        assert_eq!(
            (
                ad.user_id.as_str(),
                ad.last_name.as_str(),
                ad.photo.as_str()
            ),
            ("sAMAccountName", "sn", "jpegPhoto")
        );
        assert_eq!(
            AttributeFields::preset(DirectoryType::OpenLdap).user_id,
            "uid"
        );
    }

    #[test]
    fn the_seeds_rules() {
        let mut m = AttributeMap::default();
        m.fields.user_id = String::new();
        assert_eq!(m.check().unwrap_err().field, "fields.user_id");
        let mut m = AttributeMap::default();
        m.fields.nickname = "SN".into();
        let e = m.check().unwrap_err();
        assert_eq!(e.field, "fields.nickname");
        assert!(e.message.contains("already mapped to last_name"), "{e}");
        let mut m = AttributeMap::default();
        m.fields.photo = "http://tinyurl.com/2rwkf9/%%sAMAccountName%%".into();
        m.check().unwrap();
        m.fields.photo = "http://wwwin.cisco.com/dir/photo/std/%%sAMAccountName%%.jpg".into();
        let e = m.check().unwrap_err();
        assert!(e.message.contains("at most 50 characters (59 here)"), "{e}");
        m.fields.photo = "http://x/%%uid.jpg".into();
        assert!(m.check().unwrap_err().message.contains("does not close"));
        m.fields.photo = "thumbnailPhoto".into();
        m.check().unwrap();
        m.fields.title = "ti tle".into();
        assert_eq!(m.check().unwrap_err().field, "fields.title");
    }

    #[test]
    fn photo_urls_fill_in() {
        let a = |k: &str| (k == "uid").then(|| "johndoe".to_string());
        assert_eq!(
            expand_photo_url("http://mycompany.com/photos/%%uid%%.jpg", a).as_deref(),
            Some("http://mycompany.com/photos/johndoe.jpg")
        );
        assert_eq!(expand_photo_url("http://x/%%mail%%", a), None);
    }
}

// ---------------------------------------------------------------------------------------------
// Contact names

/// What a contact's name is made from: `None` for a field the attribute map does not map,
/// `Some` (maybe empty) for one it does.
#[derive(Debug, Clone, Default)]
pub struct ContactFields<'a> {
    /// The name the user gave the contact in their client (kept as the Nickname attribute).
    pub edited: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub nickname: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    /// The LDAP user ID, or the Dialtone user ID.
    pub user_id: &'a str,
}

/// The seed's "Rules for a Displayed Contact Name", in order: the name the user edited; the
/// mapped display name; the mapped nickname with the last name; the first and last names (one
/// alone when the other is empty); with neither first nor last name mapped, the user ID. A mapped
/// field left empty in the entry gives way to the next rule.
pub fn contact_display_name(c: &ContactFields<'_>) -> String {
    fn given(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    if let Some(e) = given(c.edited) {
        return e.to_string();
    }
    if let Some(d) = given(c.display_name) {
        return d.to_string();
    }
    let last = given(c.last_name);
    if let Some(n) = given(c.nickname) {
        return match last {
            Some(l) => format!("{n} {l}"),
            None => n.to_string(),
        };
    }
    if c.first_name.is_some() || c.last_name.is_some() {
        match (given(c.first_name), last) {
            (Some(f), Some(l)) => return format!("{f} {l}"),
            (Some(f), None) => return f.to_string(),
            (None, Some(l)) => return l.to_string(),
            (None, None) => {}
        }
    }
    c.user_id.to_string()
}

#[cfg(test)]
mod contact_name_tests {
    use super::*;

    fn base() -> ContactFields<'static> {
        ContactFields {
            edited: None,
            display_name: Some("Johnny D."),
            nickname: Some("Jack"),
            first_name: Some("John"),
            last_name: Some("Doe"),
            user_id: "jdoe",
        }
    }

    #[test]
    fn a_name_the_user_edited_comes_first() {
        let c = ContactFields {
            edited: Some("Boss"),
            ..base()
        };
        assert_eq!(contact_display_name(&c), "Boss");
    }

    #[test]
    fn then_the_mapped_display_name() {
        assert_eq!(contact_display_name(&base()), "Johnny D.");
    }

    #[test]
    fn then_the_nickname_with_the_last_name() {
        let c = ContactFields {
            display_name: None,
            ..base()
        };
        assert_eq!(contact_display_name(&c), "Jack Doe");
        // A display name mapped but empty in the entry gives way too.
        let c = ContactFields {
            display_name: Some(""),
            ..base()
        };
        assert_eq!(contact_display_name(&c), "Jack Doe");
    }

    #[test]
    fn then_first_and_last_names_or_either_alone() {
        let c = ContactFields {
            display_name: None,
            nickname: None,
            ..base()
        };
        assert_eq!(contact_display_name(&c), "John Doe");
        let c = ContactFields {
            display_name: None,
            nickname: None,
            last_name: Some(""),
            ..base()
        };
        assert_eq!(contact_display_name(&c), "John");
        let c = ContactFields {
            display_name: None,
            nickname: None,
            first_name: None,
            ..base()
        };
        assert_eq!(contact_display_name(&c), "Doe");
    }

    #[test]
    fn without_first_and_last_names_mapped_the_user_id() {
        let c = ContactFields {
            display_name: None,
            nickname: None,
            first_name: None,
            last_name: None,
            ..base()
        };
        assert_eq!(contact_display_name(&c), "jdoe");
        // Mapped but empty in the entry: the user ID too.
        let c = ContactFields {
            display_name: None,
            nickname: None,
            first_name: Some(""),
            last_name: Some(""),
            ..base()
        };
        assert_eq!(contact_display_name(&c), "jdoe");
    }
}

/// The most hours between two scheduled syncs (a year).
pub const MAX_SYNC_INTERVAL_HOURS: u32 = 8760;

/// A profile's sync settings: the filter is one parenthesised LDAP filter when given.
pub fn check_sync(filter: &str, interval_hours: u32) -> Result<(), Invalid> {
    let f = filter.trim();
    if !f.is_empty() {
        let mut depth = 0i32;
        for c in f.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth < 0 {
                break;
            }
        }
        if !f.starts_with('(') || !f.ends_with(')') || depth != 0 {
            return Err(Invalid::new(
                "sync_filter",
                format!("`{f}` is not an LDAP filter: write one in parentheses with its parentheses balanced, as (objectClass=inetOrgPerson)"),
            ));
        }
    }
    if interval_hours > MAX_SYNC_INTERVAL_HOURS {
        return Err(Invalid::new(
            "sync_interval_hours",
            format!("{interval_hours} hours is more than a year ({MAX_SYNC_INTERVAL_HOURS}): give 0 (on demand only) to {MAX_SYNC_INTERVAL_HOURS}"),
        ));
    }
    Ok(())
}

/// The filter a sync of a directory of this type searches with when the profile gives none.
pub fn default_sync_filter(t: DirectoryType) -> &'static str {
    match t {
        DirectoryType::ActiveDirectory => "(&(objectClass=user)(objectCategory=person))",
        _ => "(objectClass=inetOrgPerson)",
    }
}

/// The user fields a directory sync sets (read-only on synced users).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SyncedFields {
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub department: String,
    pub mail: String,
    pub telephone_number: String,
    /// The manager's user ID.
    pub manager: String,
}

impl SyncedFields {
    /// The fields by name, in order.
    pub fn entries(&self) -> [(&'static str, &str); 7] {
        [
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("display_name", &self.display_name),
            ("department", &self.department),
            ("mail", &self.mail),
            ("telephone_number", &self.telephone_number),
            ("manager", &self.manager),
        ]
    }
}

/// A stored user as a sync compares it.
#[derive(Debug, Clone, Default)]
pub struct KnownUser {
    pub id: i64,
    pub version: i64,
    pub user_id: String,
    pub fields: SyncedFields,
    pub ldap_synced: bool,
    pub ldap_profile: Option<String>,
    /// Left the directory (kept inactive).
    pub inactive: bool,
}

/// What a sync is asked to do.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LdapSyncRequest {
    /// Read the directory and answer the plan; change nothing.
    pub dry_run: bool,
    /// The call-control system the users are on; may be left out when there is only one.
    pub system: Option<String>,
}

/// A user the directory adds.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncCreate {
    pub user_id: String,
    pub dn: String,
    pub fields: SyncedFields,
}

/// A field a sync changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SyncFieldChange {
    pub field: String,
    pub stored: String,
    pub directory: String,
}

/// A stored user the directory changes: fields, and whether it becomes synced (a local user
/// the directory also has) or active again (it had left the directory).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncUpdate {
    pub user_id: String,
    pub changes: Vec<SyncFieldChange>,
    pub becomes_synced: bool,
    pub reactivated: bool,
}

/// An entry or user the sync passed over or could not write, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncProblem {
    /// The entry's DN (skipped) or the user ID (failed).
    pub key: String,
    pub reason: String,
}

/// What a sync found and did. Lists hold at most [`SYNC_REPORT_LIST`] items; the counts are
/// whole.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct LdapSyncReport {
    pub profile: String,
    pub system: String,
    pub dry_run: bool,
    /// The server that answered, and those that did not before it.
    pub server: String,
    pub unreachable: Vec<String>,
    /// Entries the search returned.
    pub entries: usize,
    pub to_create: usize,
    pub to_update: usize,
    pub unchanged: usize,
    /// Synced users no longer in the directory: made inactive.
    pub to_deactivate: usize,
    pub skipped_entries: usize,
    /// What was written (0 on a dry run).
    pub created: usize,
    pub updated: usize,
    pub deactivated: usize,
    /// Users whose write failed (0 on a dry run).
    pub failed_users: usize,
    pub create: Vec<SyncCreate>,
    pub update: Vec<SyncUpdate>,
    pub deactivate: Vec<String>,
    pub skipped: Vec<SyncProblem>,
    pub failed: Vec<SyncProblem>,
    pub took_ms: u64,
}

/// The most items a sync report lists per kind.
pub const SYNC_REPORT_LIST: usize = 1000;

impl LdapSyncReport {
    /// `3 created, 1 updated, 296 unchanged, 1 made inactive, 0 skipped, 0 failed` (a dry run
    /// says what it would do).
    pub fn summary(&self) -> String {
        if self.dry_run {
            format!(
                "{} to create, {} to update, {} unchanged, {} to make inactive, {} skipped",
                self.to_create,
                self.to_update,
                self.unchanged,
                self.to_deactivate,
                self.skipped_entries
            )
        } else {
            format!(
                "{} created, {} updated, {} unchanged, {} made inactive, {} skipped, {} failed",
                self.created,
                self.updated,
                self.unchanged,
                self.deactivated,
                self.skipped_entries,
                self.failed_users
            )
        }
    }
}

//! The records Dialtone keeps, as the API shows them, and the requests that create and change
//! them. Requests carry raw strings: the service parses each field into its value type, so an
//! error names the field the caller sent.
//!
//! Optional text fields are `""` when unset. In a patch, a field left out is unchanged; a
//! reference set to `""` (e.g. `"owner_user_id": ""`) clears it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// One page of a find.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many records match, over all pages; when `total_exact` is false, at least this many
    /// (a broad find counts only up to a cap, see [`crate::Find::count_up_to`]).
    pub total: i64,
    /// Whether `total` is the exact count (false: more records match than were counted).
    #[serde(default = "yes")]
    pub total_exact: bool,
    pub limit: i64,
    pub offset: i64,
}

fn yes() -> bool {
    true
}

impl<T> Page<T> {
    /// The same page with each record made into another.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            total_exact: self.total_exact,
            limit: self.limit,
            offset: self.offset,
        }
    }
    /// Whether records follow this page.
    pub fn has_next(&self) -> bool {
        more_after(
            self.offset,
            self.items.len(),
            self.limit,
            self.total,
            self.total_exact,
        )
    }
}

/// Whether records follow a page of `shown` records at `offset` (of `limit`), given the find's
/// `total` and whether it is exact: past a capped count, a full page may have a next one.
pub fn more_after(offset: i64, shown: usize, limit: i64, total: i64, total_exact: bool) -> bool {
    let shown = shown as i64;
    offset + shown < total || (!total_exact && shown == limit)
}

// ---------------------------------------------------------------------------------------------
// Product systems

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SystemKind {
    /// A call-control cluster: users, phones, lines, device profiles, services live here.
    CallControl,
    /// A voicemail system: voicemail subscribers, classes of service, distribution lists.
    Voicemail,
}

impl SystemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SystemKind::CallControl => "call_control",
            SystemKind::Voicemail => "voicemail",
        }
    }
    pub fn from_db(s: &str) -> SystemKind {
        if s == "voicemail" {
            SystemKind::Voicemail
        } else {
            SystemKind::CallControl
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct System {
    pub id: i64,
    pub name: String,
    pub kind: SystemKind,
    pub description: String,
    /// What phones of this system are told: servers, TFTP servers, transport, locales.
    pub settings: SystemSettings,
    /// Whether the system has a key for its phones' encrypted MPP profiles (set with
    /// `PUT /systems/{name}/profile-key`; never returned).
    #[serde(default)]
    pub has_profile_key: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSystem {
    pub name: String,
    pub kind: Option<SystemKind>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub settings: Option<SystemSettings>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemPatch {
    pub version: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub kind: Option<SystemKind>,
    /// Replaces the settings as a whole.
    pub settings: Option<SystemSettings>,
}

/// A call-control node phones register with, in the order they try them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerSetting {
    pub host: String,
    #[serde(default = "default_sip_port")]
    pub sip_port: u16,
    #[serde(default = "default_secure_sip_port")]
    pub secure_sip_port: u16,
    #[serde(default = "default_sccp_port")]
    pub sccp_port: u16,
}

fn default_sip_port() -> u16 {
    5060
}
fn default_secure_sip_port() -> u16 {
    5061
}
fn default_sccp_port() -> u16 {
    2000
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SipTransport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

/// Which phone files need the device's own HTTP credentials (Basic or Digest, as MPP profile
/// rules send them with `[--uid $MA --pwd …]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PhoneAuth {
    /// Every file is served to whoever asks (phones that cannot send credentials: enterprise
    /// phones over TFTP, soft clients).
    #[default]
    Off,
    /// Files that carry a secret (SIP digest passwords, the device's own HTTP password) need the
    /// device's credentials; the others are served to anyone.
    Secrets,
    /// Every file of a device in the directory needs the device's credentials.
    All,
}

/// Whether MPP phones fetch their own file encrypted (AES-256-CBC, `openssl enc` format, the key
/// in their profile rule as `[--key …]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProfileEncryption {
    /// Files are served in clear; `<mac>.cfg` is not served.
    #[default]
    Off,
    /// A phone with a key (its own, else its system's) is sent to `<mac>.cfg`, its file
    /// encrypted; `<mac>.xml` is still served in clear, so phones move over at their next resync.
    On,
    /// As `on`, and `<mac>.xml` of a phone with a key is served over HTTPS only.
    Required,
}

/// Settings of a product system that go into its phones' files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SystemSettings {
    /// Call-control nodes (at most 3: primary, secondary, tertiary).
    pub servers: Vec<ServerSetting>,
    /// TFTP servers soft clients use, primary first (at most 3; docs/phones.md, "What each phone
    /// fetches"). None: the cluster's nodes (docs/scale-out.md).
    pub tftp_servers: Vec<String>,
    pub transport: SipTransport,
    /// Phones not in the directory get `XMLDefault.cnf.xml` / the first-contact file (else 404).
    pub auto_registration: bool,
    pub user_locale: String,
    pub user_locale_lang: String,
    pub network_locale: String,
    /// The number lines dial for voicemail.
    pub voicemail_pilot: String,
    /// The IP phone services menu URL.
    pub services_url: String,
    /// Which files need the device's HTTP credentials (`off`, `secrets`, `all`). A device
    /// without an HTTP password cannot fetch a file that needs one.
    pub phone_auth: PhoneAuth,
    /// Encrypted MPP profiles (`off`, `on`, `required`); the key is set with
    /// `PUT /systems/{name}/profile-key` or per phone.
    pub profile_encryption: ProfileEncryption,
    /// The directory numbers auto-registered phones get, the next free one each (both ends
    /// included, the same width; equal ends turn auto-registration off, as CUCM does).
    pub auto_registration_start_dn: String,
    pub auto_registration_end_dn: String,
    /// The universal device and line templates of auto-registered phones (by name).
    pub auto_registration_device_template: String,
    pub auto_registration_line_template: String,
    /// The model given to an auto-registering phone whose request does not say its own (TFTP
    /// carries no User-Agent); empty: such a phone gets `XMLDefault.cnf.xml` until it asks over
    /// HTTP.
    pub auto_registration_model: String,
    /// Self-provisioning: how a claim authenticates, the IVR's extension and languages.
    pub self_provisioning: crate::self_provisioning::SelfProvisioningSettings,
    /// Extension mobility: what a login on a second phone does, and how long a login lasts.
    pub extension_mobility: crate::extension_mobility::ExtensionMobilitySettings,
}

impl Default for SystemSettings {
    fn default() -> Self {
        SystemSettings {
            servers: Vec::new(),
            tftp_servers: Vec::new(),
            transport: SipTransport::Udp,
            auto_registration: false,
            user_locale: "English_United_States".into(),
            user_locale_lang: "en_US".into(),
            network_locale: "United_States".into(),
            voicemail_pilot: String::new(),
            services_url: String::new(),
            phone_auth: PhoneAuth::Off,
            profile_encryption: ProfileEncryption::Off,
            auto_registration_start_dn: String::new(),
            auto_registration_end_dn: String::new(),
            auto_registration_device_template: String::new(),
            auto_registration_line_template: String::new(),
            auto_registration_model: String::new(),
            self_provisioning: Default::default(),
            extension_mobility: Default::default(),
        }
    }
}

impl SystemSettings {
    /// Checks hosts, ports and list lengths.
    pub fn check(&self) -> Result<(), crate::Invalid> {
        use crate::Invalid;
        let host_ok = |h: &str| {
            !h.is_empty()
                && h.len() <= 253
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        };
        if self.servers.len() > 3 {
            return Err(Invalid::new(
                "settings.servers",
                "at most 3 call-control servers: primary, secondary, tertiary",
            ));
        }
        for (i, s) in self.servers.iter().enumerate() {
            if !host_ok(&s.host) {
                return Err(Invalid::new(
                    format!("settings.servers[{i}].host"),
                    format!("`{}` is not a host name or address", s.host),
                ));
            }
            for (f, p) in [
                ("sip_port", s.sip_port),
                ("secure_sip_port", s.secure_sip_port),
                ("sccp_port", s.sccp_port),
            ] {
                if p == 0 {
                    return Err(Invalid::new(
                        format!("settings.servers[{i}].{f}"),
                        "a port is 1 to 65535",
                    ));
                }
            }
        }
        if self.tftp_servers.len() > 3 {
            return Err(Invalid::new(
                "settings.tftp_servers",
                "at most 3 TFTP servers: a primary and two backups",
            ));
        }
        for (i, t) in self.tftp_servers.iter().enumerate() {
            if !host_ok(t) {
                return Err(Invalid::new(
                    format!("settings.tftp_servers[{i}]"),
                    format!("`{t}` is not a host name or address"),
                ));
            }
        }
        for (f, v) in [
            ("user_locale", &self.user_locale),
            ("network_locale", &self.network_locale),
        ] {
            if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Invalid::new(
                    format!("settings.{f}"),
                    format!("`{v}` is not a locale name such as English_United_States"),
                ));
            }
        }
        crate::self_provisioning::auto_registration_range(
            &self.auto_registration_start_dn,
            &self.auto_registration_end_dn,
        )?;
        let m = self.auto_registration_model.trim();
        if !m.is_empty() {
            let catalog = crate::Catalog::builtin();
            match catalog.get(m) {
                Some(t)
                    if t.family != crate::DeviceFamily::ExpansionModule && !t.files.is_empty() => {}
                _ => {
                    return Err(Invalid::new(
                        "settings.auto_registration_model",
                        format!(
                            "`{m}` is not a phone model of the catalogue: {}",
                            catalog.model_names()
                        ),
                    ))
                }
            }
        }
        self.self_provisioning.check()?;
        if self.extension_mobility.max_login_minutes > crate::extension_mobility::MAX_LOGIN_MINUTES
        {
            return Err(Invalid::new(
                "settings.extension_mobility.max_login_minutes",
                format!(
                    "at most {} minutes (a week); 0: a login lasts until the user logs out",
                    crate::extension_mobility::MAX_LOGIN_MINUTES
                ),
            ));
        }
        Ok(())
    }

    /// Whether phones not in the directory are answered at all: `auto_registration` on, and
    /// the range's ends not equal (equal ends turn it off, as CUCM does).
    pub fn auto_registration_on(&self) -> bool {
        let (s, e) = (
            self.auto_registration_start_dn.trim(),
            self.auto_registration_end_dn.trim(),
        );
        self.auto_registration && (s.is_empty() || s != e)
    }

    /// The numbers auto-registered phones get (first, last, width), when auto-registration is
    /// on and has a range: then an unknown phone gets a device record of its own.
    pub fn auto_registration_numbers(&self) -> Option<(u64, u64, usize)> {
        if !self.auto_registration_on() {
            return None;
        }
        crate::self_provisioning::auto_registration_range(
            &self.auto_registration_start_dn,
            &self.auto_registration_end_dn,
        )
        .ok()
        .flatten()
    }
}

// ---------------------------------------------------------------------------------------------
// Conflicts between product systems (docs/api.md, "Conflicts between product systems")

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// The same user ID exists on two systems of the same kind.
    SameIdOnSeveralSystems,
    /// The same user ID carries different first or last names.
    DifferentNames,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Conflict {
    pub kind: ConflictKind,
    /// The other systems involved.
    pub systems: Vec<String>,
    /// What is wrong and how to resolve it.
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// People: users and voicemail subscribers found together (seed 000, "Manage User")

/// A call-control user or a voicemail subscriber, as the combined find lists them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Person {
    /// `user` or `voicemail_subscriber`.
    pub kind: String,
    /// The user ID or the subscriber's alias.
    pub key: String,
    pub system: String,
    pub first_name: String,
    pub last_name: String,
    /// The primary extension, or the subscriber's extension.
    pub extension: String,
    /// Conflicts between product systems (the same ID on several, or with other names).
    pub conflicts: Vec<Conflict>,
}

/// A person added in one step as a call-control user and, when `subscriber` is given, a
/// voicemail subscriber (seed 000's "Manage User"). The subscriber's alias, names, mail and PIN
/// default to the user's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewPerson {
    pub user: NewUser,
    pub subscriber: Option<NewVoicemailSubscriber>,
}

/// What adding a person made.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PersonAdded {
    pub user: User,
    pub subscriber: Option<VoicemailSubscriber>,
}

// ---------------------------------------------------------------------------------------------
// End users

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppProfiles {
    #[serde(default)]
    pub ldap: Option<String>,
    #[serde(default)]
    pub cti: Option<String>,
    #[serde(default)]
    pub voicemail: Option<String>,
    #[serde(default)]
    pub conferencing: Option<String>,
    /// A SIP proxy profile (`proxy-profiles`).
    #[serde(default)]
    pub proxy: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    #[serde(default)]
    pub presence: bool,
    #[serde(default)]
    pub soft_client: bool,
}

/// A directory number by its natural key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub struct LineRef {
    pub pattern: String,
    #[serde(default)]
    pub partition: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub system: String,
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub department: String,
    pub manager: String,
    pub mail: String,
    pub telephone_number: String,
    pub primary_extension: Option<String>,
    pub primary_extension_partition: String,
    pub user_profile: Option<String>,
    /// The ID the user (or an administrator) keys to claim a phone by self-provisioning,
    /// unique on the system; when not given, the digits of the primary extension serve.
    pub self_service_id: Option<String>,
    pub groups: Vec<String>,
    pub must_change_password: bool,
    pub password_never_expires: bool,
    pub presence_home_node: Option<String>,
    pub app_profiles: AppProfiles,
    pub capabilities: Capabilities,
    /// Synced from LDAP: the directory's fields are read-only.
    pub ldap_synced: bool,
    /// When a sync found the user gone from the directory: inactive (cannot log in) until the
    /// directory has them again or an administrator deletes them.
    pub ldap_inactive_since: Option<String>,
    pub has_password: bool,
    pub has_pin: bool,
    /// Whether a SIP digest credential is set (it is stored encrypted and never shown).
    pub has_digest_credential: bool,
    /// Phones associated with (controlled by) the user.
    pub devices: Vec<String>,
    pub device_profiles: Vec<String>,
    pub default_device_profile: Option<String>,
    pub lines: Vec<LineRef>,
    pub conflicts: Vec<Conflict>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewUser {
    pub user_id: String,
    /// Name of the call-control system; may be left out when there is only one.
    pub system: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub department: String,
    pub manager: String,
    pub mail: String,
    pub telephone_number: String,
    /// Write-only: stored as an argon2 hash.
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<crate::Secret>,
    /// Write-only: 4 to 20 digits, stored as an argon2 hash.
    #[schema(value_type = Option<String>, format = Password)]
    pub pin: Option<crate::Secret>,
    /// Write-only: the SIP digest credential phones authenticate with; stored encrypted.
    #[schema(value_type = Option<String>, format = Password)]
    pub digest_credential: Option<crate::Secret>,
    pub primary_extension: Option<String>,
    pub primary_extension_partition: Option<String>,
    /// A user profile of the user's system (`user-profiles`).
    pub user_profile: Option<String>,
    /// Digits, unique on the system; left out, the digits of the primary extension serve.
    pub self_service_id: Option<String>,
    pub groups: Vec<String>,
    pub must_change_password: bool,
    pub password_never_expires: bool,
    pub presence_home_node: Option<String>,
    pub app_profiles: AppProfiles,
    pub capabilities: Capabilities,
    pub devices: Vec<String>,
    pub device_profiles: Vec<String>,
    pub default_device_profile: Option<String>,
    pub lines: Vec<LineRef>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct UserPatch {
    /// The `version` you read; a stale one is refused with 409.
    pub version: i64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub department: Option<String>,
    pub manager: Option<String>,
    pub mail: Option<String>,
    pub telephone_number: Option<String>,
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<crate::Secret>,
    #[schema(value_type = Option<String>, format = Password)]
    pub pin: Option<crate::Secret>,
    /// `""` removes the digest credential.
    #[schema(value_type = Option<String>, format = Password)]
    pub digest_credential: Option<crate::Secret>,
    pub primary_extension: Option<String>,
    pub primary_extension_partition: Option<String>,
    /// `""` removes it.
    pub user_profile: Option<String>,
    /// `""` removes it (the digits of the primary extension serve again).
    pub self_service_id: Option<String>,
    pub groups: Option<Vec<String>>,
    pub must_change_password: Option<bool>,
    pub password_never_expires: Option<bool>,
    pub presence_home_node: Option<String>,
    pub app_profiles: Option<AppProfiles>,
    pub capabilities: Option<Capabilities>,
    pub devices: Option<Vec<String>>,
    pub device_profiles: Option<Vec<String>>,
    pub default_device_profile: Option<String>,
    pub lines: Option<Vec<LineRef>>,
    /// A product system cannot be changed; present only to give a clear error.
    pub system: Option<String>,
    pub user_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Voicemail

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VoicemailSubscriber {
    pub id: i64,
    pub system: String,
    pub alias: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub extension: String,
    pub mail: String,
    pub class_of_service: String,
    pub subscriber_template: String,
    pub distribution_lists: Vec<String>,
    pub has_pin: bool,
    pub conflicts: Vec<Conflict>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewVoicemailSubscriber {
    pub alias: String,
    /// Name of the voicemail system; may be left out when there is only one.
    pub system: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub extension: String,
    pub mail: String,
    #[schema(value_type = Option<String>, format = Password)]
    pub pin: Option<crate::Secret>,
    pub class_of_service: String,
    pub subscriber_template: String,
    pub distribution_lists: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct VoicemailSubscriberPatch {
    pub version: i64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub extension: Option<String>,
    pub mail: Option<String>,
    #[schema(value_type = Option<String>, format = Password)]
    pub pin: Option<crate::Secret>,
    pub class_of_service: Option<String>,
    pub subscriber_template: Option<String>,
    pub distribution_lists: Option<Vec<String>>,
    pub system: Option<String>,
    pub alias: Option<String>,
}

/// A class of service: limits and permissions for voicemail subscribers, with the restriction
/// tables that control which numbers they may use for transfers, notifications and faxes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClassOfService {
    pub id: i64,
    pub system: String,
    pub name: String,
    pub max_message_seconds: i64,
    pub send_to_public_lists: bool,
    pub secure_logon: bool,
    pub directory_listing: bool,
    /// The restriction table for call transfers (its name).
    pub transfer_restriction: String,
    /// The restriction table for message notifications.
    pub notification_restriction: String,
    /// The restriction table for fax deliveries.
    pub fax_restriction: String,
    pub version: i64,
}

/// One row of a restriction table: numbers matching `pattern` (digits, `*` any run of digits,
/// `?` one digit) are allowed or blocked; the first matching row wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictionEntry {
    pub pattern: String,
    pub allowed: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewClassOfService {
    pub name: String,
    pub system: Option<String>,
    pub max_message_seconds: Option<i64>,
    pub send_to_public_lists: bool,
    pub secure_logon: bool,
    pub directory_listing: bool,
    /// Restriction tables by name; left empty, the predefined `Default Transfer`,
    /// `Default Outdial` and `Default Fax`.
    pub transfer_restriction: String,
    pub notification_restriction: String,
    pub fax_restriction: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ClassOfServicePatch {
    pub version: i64,
    pub name: Option<String>,
    pub max_message_seconds: Option<i64>,
    pub send_to_public_lists: Option<bool>,
    pub secure_logon: Option<bool>,
    pub directory_listing: Option<bool>,
    pub transfer_restriction: Option<String>,
    pub notification_restriction: Option<String>,
    pub fax_restriction: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DistributionList {
    pub id: i64,
    pub system: String,
    pub name: String,
    pub description: String,
    pub members: i64,
    pub version: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewDistributionList {
    pub name: String,
    pub system: Option<String>,
    pub description: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DistributionListPatch {
    pub version: i64,
    pub name: Option<String>,
    pub description: Option<String>,
}

/// A restriction table (seed 000, "Restriction Tables"): which numbers subscribers may use for
/// transfers, notifications and faxes. Classes of service name one for each; a voicemail system
/// starts with `Default Transfer`, `Default Outdial` and `Default Fax`, which may be modified.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RestrictionTable {
    pub id: i64,
    pub system: String,
    pub name: String,
    /// In order: the first row whose pattern matches a number decides.
    pub entries: Vec<RestrictionEntry>,
    /// The classes of service that name it.
    pub used_by: Vec<String>,
    pub version: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewRestrictionTable {
    pub name: String,
    pub system: Option<String>,
    pub entries: Vec<RestrictionEntry>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RestrictionTablePatch {
    pub version: i64,
    pub name: Option<String>,
    pub entries: Option<Vec<RestrictionEntry>>,
}

/// A subscriber template (seed 000, "Subscriber Templates"): what a new voicemail subscriber
/// gets when it names the template and does not say otherwise: its class of service, its public
/// distribution lists and its default PIN. Each voicemail system has `DefaultSubscriber`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubscriberTemplate {
    pub id: i64,
    pub system: String,
    pub name: String,
    pub class_of_service: String,
    pub distribution_lists: Vec<String>,
    /// Whether new subscribers get a default PIN (never shown).
    pub has_default_pin: bool,
    /// Subscribers made from it.
    pub subscribers: i64,
    pub version: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewSubscriberTemplate {
    pub name: String,
    pub system: Option<String>,
    /// Left empty: the system's `Default Subscriber`.
    pub class_of_service: String,
    pub distribution_lists: Vec<String>,
    /// Write-only: the PIN new subscribers get when they are given none.
    #[schema(value_type = Option<String>, format = Password)]
    pub default_pin: Option<crate::Secret>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SubscriberTemplatePatch {
    pub version: i64,
    pub name: Option<String>,
    pub class_of_service: Option<String>,
    pub distribution_lists: Option<Vec<String>>,
    /// Write-only; an empty value removes the default PIN.
    #[schema(value_type = Option<String>, format = Password)]
    pub default_pin: Option<crate::Secret>,
}

// ---------------------------------------------------------------------------------------------
// Lines

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Line {
    pub id: i64,
    pub system: String,
    pub pattern: String,
    pub partition: String,
    pub description: String,
    pub alerting_name: String,
    pub forward_all: String,
    pub forward_busy_internal: String,
    pub forward_busy_external: String,
    pub forward_no_answer_internal: String,
    pub forward_no_answer_external: String,
    pub pickup_group: String,
    pub voicemail_profile: String,
    pub max_calls: i64,
    /// Call `busy_trigger + 1` gets busy; at most `max_calls`.
    pub busy_trigger: i64,
    /// Devices (phones and device profiles) the line appears on.
    pub appearances: Vec<LineAppearanceRef>,
    /// True when the line appears on more than one device.
    pub shared: bool,
    /// Users associated with the line.
    pub users: Vec<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineAppearanceRef {
    pub device: String,
    /// `phone` or `device_profile`.
    pub class: String,
    pub button: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewLine {
    pub pattern: String,
    pub partition: String,
    pub system: Option<String>,
    pub description: String,
    pub alerting_name: String,
    pub forward_all: String,
    pub forward_busy_internal: String,
    pub forward_busy_external: String,
    pub forward_no_answer_internal: String,
    pub forward_no_answer_external: String,
    pub pickup_group: String,
    pub voicemail_profile: String,
    pub max_calls: Option<i64>,
    pub busy_trigger: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LinePatch {
    pub version: i64,
    pub pattern: Option<String>,
    pub partition: Option<String>,
    pub description: Option<String>,
    pub alerting_name: Option<String>,
    pub forward_all: Option<String>,
    pub forward_busy_internal: Option<String>,
    pub forward_busy_external: Option<String>,
    pub forward_no_answer_internal: Option<String>,
    pub forward_no_answer_external: Option<String>,
    pub pickup_group: Option<String>,
    pub voicemail_profile: Option<String>,
    pub max_calls: Option<i64>,
    pub busy_trigger: Option<i64>,
    pub system: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Phones and device profiles

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecurityMode {
    NonSecure,
    Authenticated,
    Encrypted,
}

impl SecurityMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityMode::NonSecure => "non_secure",
            SecurityMode::Authenticated => "authenticated",
            SecurityMode::Encrypted => "encrypted",
        }
    }
    pub fn from_db(s: &str) -> Option<SecurityMode> {
        match s {
            "non_secure" => Some(SecurityMode::NonSecure),
            "authenticated" => Some(SecurityMode::Authenticated),
            "encrypted" => Some(SecurityMode::Encrypted),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DndMode {
    #[default]
    Off,
    CallReject,
    RingerOff,
}

impl DndMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DndMode::Off => "off",
            DndMode::CallReject => "call_reject",
            DndMode::RingerOff => "ringer_off",
        }
    }
    pub fn from_db(s: &str) -> DndMode {
        match s {
            "call_reject" => DndMode::CallReject,
            "ringer_off" => DndMode::RingerOff,
            _ => DndMode::Off,
        }
    }
}

/// A line on a device's button.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Appearance {
    pub pattern: String,
    pub partition: String,
    pub button: i64,
    pub label: String,
    /// Internal caller-ID display.
    pub display: String,
    pub external_mask: String,
    /// The other devices this line appears on (a shared line when not empty).
    pub shared_with: Vec<String>,
    /// The line's own settings (the same on every device it appears on).
    #[serde(flatten)]
    pub line: LineSettings,
}

/// A line's settings as a device shows them beside its appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LineSettings {
    /// The line's description.
    pub line_description: String,
    pub alerting_name: String,
    pub forward_all: String,
    pub forward_busy_internal: String,
    pub forward_busy_external: String,
    pub forward_no_answer_internal: String,
    pub forward_no_answer_external: String,
    pub pickup_group: String,
    pub voicemail_profile: String,
    pub max_calls: i64,
    pub busy_trigger: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AppearanceInput {
    pub pattern: String,
    pub partition: String,
    /// Button index from 1; the next free one when left out.
    pub button: Option<i64>,
    pub label: String,
    pub display: String,
    pub external_mask: String,
    /// Settings of the line itself, applied to it (on a shared line, every device's): each one
    /// left out stays as it is, or takes its default on a new line.
    pub line_description: Option<String>,
    pub alerting_name: Option<String>,
    pub forward_all: Option<String>,
    pub forward_busy_internal: Option<String>,
    pub forward_busy_external: Option<String>,
    pub forward_no_answer_internal: Option<String>,
    pub forward_no_answer_external: Option<String>,
    pub pickup_group: Option<String>,
    pub voicemail_profile: Option<String>,
    pub max_calls: Option<i64>,
    pub busy_trigger: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Subscription {
    pub service: String,
    pub label: String,
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SpeedDial {
    pub position: i64,
    pub number: String,
    pub label: String,
    /// A busy lamp field speed dial: the key also shows whether the number is in use (and, on
    /// MPP phones, picks up its ringing call).
    pub blf: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Phone {
    pub id: i64,
    pub name: String,
    pub mac: Option<String>,
    pub model: String,
    pub protocol: String,
    pub system: String,
    pub description: String,
    pub device_pool: String,
    pub button_template: String,
    pub softkey_template: String,
    pub calling_search_space: String,
    pub location: String,
    pub security_mode: Option<SecurityMode>,
    pub security_profile: String,
    pub allow_cti_control: bool,
    pub owner_user_id: Option<String>,
    pub dnd: DndMode,
    pub expansion_modules: Vec<String>,
    pub logout_profile: Option<String>,
    /// The primary phone of a secondary (adjunct) soft phone.
    pub primary_phone: Option<String>,
    /// Secondary soft phones of this phone (at most 2).
    pub secondary_phones: Vec<String>,
    pub lines: Vec<Appearance>,
    pub services: Vec<Subscription>,
    pub speed_dials: Vec<SpeedDial>,
    /// Users associated with the phone.
    pub users: Vec<String>,
    /// Where the phone listens for SIP (`host:port`), when not at the address its requests come
    /// from on the deployment's SIP port (NAT, a proxy in between).
    pub sip_contact: Option<String>,
    /// Created by auto-registration (an unknown phone that asked for its file) and not claimed
    /// since: it has no user, and a number of the auto-registration range.
    pub auto_registered: bool,
    /// Whether the phone has an HTTP password for its files (set with
    /// `PUT /phones/{name}/http-credential`; never returned).
    pub has_http_password: bool,
    /// Whether the phone has its own key for its encrypted MPP profile (set with
    /// `PUT /phones/{name}/profile-key`; never returned).
    pub has_profile_key: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// Sets a phone's HTTP password (the user name is the MAC in lower case, as `$MA` expands).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileKeyInput {
    /// The version of the phone or system read before; a stale one is refused with 409.
    pub version: i64,
    /// 8 to 64 letters, digits and `-._~!@#%^*+=` (it travels inside a profile rule as
    /// `[--key …]`).
    #[schema(value_type = String)]
    pub key: crate::Secret,
}

/// Sets a phone's HTTP password (the user name is the MAC in lower case, as `$MA` expands).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HttpCredentialInput {
    /// The version of the phone read before; a stale one is refused with 409.
    pub version: i64,
    /// 8 to 64 letters, digits and `-._~!@#%^*+=` (it travels inside a profile rule).
    #[schema(value_type = String)]
    pub password: crate::Secret,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewPhone {
    /// `SEP` + MAC; derived from `mac` (hardware) or from the owner (soft phones) when left out.
    pub name: Option<String>,
    pub mac: Option<String>,
    pub model: String,
    pub protocol: Option<String>,
    pub system: Option<String>,
    pub description: String,
    pub device_pool: String,
    pub button_template: String,
    pub softkey_template: String,
    pub calling_search_space: String,
    pub location: String,
    pub security_mode: Option<SecurityMode>,
    pub security_profile: String,
    pub allow_cti_control: Option<bool>,
    pub owner_user_id: Option<String>,
    pub dnd: Option<DndMode>,
    pub expansion_modules: Vec<String>,
    pub logout_profile: Option<String>,
    pub primary_phone: Option<String>,
    pub lines: Vec<AppearanceInput>,
    pub services: Vec<Subscription>,
    pub speed_dials: Vec<SpeedDial>,
    /// Not taken: a phone's own provisioning parameters are the device scope's
    /// (`PUT /api/v1/parameters/device?target=NAME`); a value here is refused, saying so.
    #[schema(value_type = Object)]
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// Where the phone listens for SIP (`host:port` or `host`), when not where its requests
    /// come from.
    pub sip_contact: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PhonePatch {
    pub version: i64,
    pub name: Option<String>,
    pub mac: Option<String>,
    pub model: Option<String>,
    pub protocol: Option<String>,
    /// A phone never moves between systems: present only to give a clear error.
    pub system: Option<String>,
    pub description: Option<String>,
    pub device_pool: Option<String>,
    pub button_template: Option<String>,
    pub softkey_template: Option<String>,
    pub calling_search_space: Option<String>,
    pub location: Option<String>,
    pub security_mode: Option<SecurityMode>,
    pub security_profile: Option<String>,
    pub allow_cti_control: Option<bool>,
    pub owner_user_id: Option<String>,
    pub dnd: Option<DndMode>,
    pub expansion_modules: Option<Vec<String>>,
    pub logout_profile: Option<String>,
    pub primary_phone: Option<String>,
    /// Replaces all line appearances.
    pub lines: Option<Vec<AppearanceInput>>,
    pub services: Option<Vec<Subscription>>,
    pub speed_dials: Option<Vec<SpeedDial>>,
    /// Not taken: a phone's own provisioning parameters are the device scope's
    /// (`PUT /api/v1/parameters/device?target=NAME`); a value here is refused, saying so.
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
    /// `""` clears it.
    pub sip_contact: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceProfile {
    pub id: i64,
    pub name: String,
    pub model: String,
    pub protocol: String,
    pub system: String,
    pub description: String,
    pub button_template: String,
    pub softkey_template: String,
    pub mlpp_domain: String,
    pub mlpp_indication: bool,
    pub mlpp_preemption: bool,
    pub expansion_modules: Vec<String>,
    pub lines: Vec<Appearance>,
    pub services: Vec<Subscription>,
    pub speed_dials: Vec<SpeedDial>,
    pub users: Vec<String>,
    /// Phones that load this profile when a user logs out.
    pub logout_profile_of: Vec<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewDeviceProfile {
    pub name: String,
    pub model: String,
    pub protocol: Option<String>,
    pub system: Option<String>,
    pub description: String,
    pub button_template: String,
    pub softkey_template: String,
    pub mlpp_domain: String,
    pub mlpp_indication: bool,
    pub mlpp_preemption: bool,
    pub expansion_modules: Vec<String>,
    pub lines: Vec<AppearanceInput>,
    pub services: Vec<Subscription>,
    pub speed_dials: Vec<SpeedDial>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceProfilePatch {
    pub version: i64,
    pub name: Option<String>,
    pub model: Option<String>,
    pub protocol: Option<String>,
    pub system: Option<String>,
    pub description: Option<String>,
    pub button_template: Option<String>,
    pub softkey_template: Option<String>,
    pub mlpp_domain: Option<String>,
    pub mlpp_indication: Option<bool>,
    pub mlpp_preemption: Option<bool>,
    pub expansion_modules: Option<Vec<String>>,
    pub lines: Option<Vec<AppearanceInput>>,
    pub services: Option<Vec<Subscription>>,
    pub speed_dials: Option<Vec<SpeedDial>>,
}

// ---------------------------------------------------------------------------------------------
// IP phone services

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceParameter {
    pub name: String,
    pub display_name: String,
    pub default: String,
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PhoneService {
    pub id: i64,
    pub system: String,
    pub name: String,
    pub url: String,
    pub description: String,
    pub parameters: Vec<ServiceParameter>,
    /// Phones and device profiles subscribed.
    pub subscribers: i64,
    pub version: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewPhoneService {
    pub name: String,
    pub system: Option<String>,
    pub url: String,
    pub description: String,
    pub parameters: Vec<ServiceParameter>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PhoneServicePatch {
    pub version: i64,
    pub name: Option<String>,
    pub url: Option<String>,
    pub description: Option<String>,
    pub parameters: Option<Vec<ServiceParameter>>,
    pub system: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Audit log and batch results

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Partial,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
        }
    }
    pub fn from_db(s: &str) -> Outcome {
        match s {
            "ok" => Outcome::Ok,
            "partial" => Outcome::Partial,
            _ => Outcome::Failed,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    /// `create`, `update`, `delete`, `batch_delete`, `login`, …
    pub action: String,
    /// `user`, `phone`, `line`, …
    pub resource: String,
    pub target: String,
    pub system: String,
    pub result: Outcome,
    pub detail: String,
}

/// Names of records to act on together.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Natural keys (or ids) of the records.
    pub targets: Vec<String>,
    /// Needed when a user ID exists on several systems.
    #[serde(default)]
    pub system: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchFailure {
    pub target: String,
    pub field: Option<String>,
    pub message: String,
}

/// What an operation on many records did: each part succeeded or failed on its own.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchResult {
    pub result: Outcome,
    pub succeeded: Vec<String>,
    pub failed: Vec<BatchFailure>,
}

// ---------------------------------------------------------------------------------------------
// Administrators

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewToken {
    /// What the token is for (shown in the audit log).
    pub name: String,
    /// Days until it stops working: 1 to 3650; 90 when left out.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// Its id, to revoke it (`DELETE /api/v1/tokens/{id}`).
    pub id: i64,
    pub name: String,
    /// Shown once: send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
}

/// An API token as its owner sees it listed: never the token itself.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    /// When it stops working (RFC 3339); absent: never (a token made before expiry existed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// The longest a token may be made to last, and how long one lasts when not said.
pub const TOKEN_DAYS_MAX: u32 = 3650;
pub const TOKEN_DAYS_DEFAULT: u32 = 90;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    pub username: String,
    /// What the administrator's roles allow; `null` when they allow everything.
    pub privileges: Option<Vec<crate::Privilege>>,
}

// ---------------------------------------------------------------------------------------------
// Provisioning parameter profiles

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParamScope {
    /// Every device of a product system.
    System,
    /// The devices of one device pool of a system.
    DevicePool,
    /// The devices of one model on a system.
    Model,
    /// One device.
    Device,
}

impl ParamScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamScope::System => "system",
            ParamScope::DevicePool => "device_pool",
            ParamScope::Model => "model",
            ParamScope::Device => "device",
        }
    }
    pub fn parse(s: &str) -> Option<ParamScope> {
        Some(match s {
            "system" => ParamScope::System,
            "device_pool" => ParamScope::DevicePool,
            "model" => ParamScope::Model,
            "device" => ParamScope::Device,
            _ => return None,
        })
    }
}

/// Provisioning parameters set at one scope.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ParameterSet {
    pub scope: ParamScope,
    pub system: String,
    /// The device pool, the model or the device name; `""` for a system.
    pub target: String,
    /// Parameter key → value, as stored (`Yes`/`No`, seconds, text).
    pub values: BTreeMap<String, String>,
    pub version: i64,
    pub updated_at: String,
    /// Values kept but ignored by the phone (e.g. an invalid Resync At).
    pub warnings: Vec<FieldWarning>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ParameterSetInput {
    /// The version read, when replacing an existing set.
    pub version: Option<i64>,
    pub values: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldWarning {
    pub field: String,
    pub message: String,
}

/// One parameter as a device gets it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResolvedParameter {
    pub key: String,
    /// The field on the phone's web page.
    pub web_name: String,
    pub value: String,
    /// `default`, `system`, `device_pool`, `model` or `device`.
    pub origin: String,
    /// The system, pool, model or device the value was set on.
    pub origin_target: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResolvedParameters {
    pub device: String,
    pub parameters: Vec<ResolvedParameter>,
    pub behaviour: crate::provisioning::Behaviour,
    pub warnings: Vec<FieldWarning>,
}

/// What a device last fetched, from where, with what; what it reported of its resyncs over
/// syslog; the NOTIFYs sent to it; when its file last changed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceStatus {
    pub device: String,
    /// `never_seen` (no request yet), `failing` (its last resync report is a failure, or the
    /// last NOTIFY was not accepted), `not_resynced` (its file changed after its last resync or
    /// fetch), or `ok`.
    pub state: String,
    /// False until the device has fetched one of its files.
    pub seen: bool,
    pub last_seen: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub file: Option<String>,
    /// `http` or `tftp`.
    pub protocol: Option<String>,
    pub requests: i64,
    /// From the phone's syslog (`$SWVER`) or its User-Agent.
    pub firmware: Option<String>,
    pub resync_requested_at: Option<String>,
    pub resync_succeeded_at: Option<String>,
    pub resync_failed_at: Option<String>,
    /// The reason the phone gave for its last failed resync.
    pub resync_error: Option<String>,
    pub notified_at: Option<String>,
    /// How the last NOTIFY ended (`accepted (200)`, `no answer (timer F)`, …).
    pub notify_outcome: Option<String>,
    /// When the device's file last changed (a committed change that altered it).
    pub file_changed_at: Option<String>,
    /// The user logged in on it (extension mobility).
    pub logged_in: Option<String>,
}

/// Which phones to resync (at least one selector; they add up).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ResyncRequest {
    /// Device names.
    pub devices: Vec<String>,
    /// Every phone of this device pool.
    pub device_pool: Option<String>,
    /// Every phone of this model.
    pub model: Option<String>,
    /// Every phone.
    pub all: bool,
}

/// A phone that gets no NOTIFY, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResyncSkipped {
    pub device: String,
    pub reason: String,
}

/// What a resync request did: NOTIFYs queued (sent at the server's pace; outcomes in each
/// phone's status) and phones skipped.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResyncAnswer {
    pub queued: usize,
    pub skipped: Vec<ResyncSkipped>,
}

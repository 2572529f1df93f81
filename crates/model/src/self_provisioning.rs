//! Self-provisioning (docs/self-provisioning.md): universal device and line templates, user
//! profiles, the system's self-provisioning settings, and the patterns (`#FirstName#
//! #LastName#`) that make a device's description and a line's labels from a user's fields.

use crate::{DndMode, Invalid, Secret, SpeedDial, Subscription};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// ---------------------------------------------------------------------------------------------
// Patterns

/// The tokens a pattern may hold, each between `#` signs, and what they stand for.
pub const PATTERN_TOKENS: &[(&str, &str)] = &[
    ("FirstName", "the user's first name"),
    ("LastName", "the user's last name"),
    ("DisplayName", "the user's display name"),
    ("UserID", "the user ID"),
    ("Department", "the user's department"),
    ("Mail", "the user's mail address"),
    ("Extension", "the user's primary extension"),
    ("Product", "the phone's model"),
    ("Protocol", "the phone's protocol (SIP or SCCP)"),
    ("DeviceName", "the phone's device name"),
];

/// What a pattern's tokens are replaced with.
#[derive(Debug, Clone, Default)]
pub struct PatternValues<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub display_name: &'a str,
    pub user_id: &'a str,
    pub department: &'a str,
    pub mail: &'a str,
    pub extension: &'a str,
    pub product: &'a str,
    pub protocol: &'a str,
    pub device_name: &'a str,
}

impl PatternValues<'_> {
    fn get(&self, token: &str) -> Option<&str> {
        Some(match token {
            "FirstName" => self.first_name,
            "LastName" => self.last_name,
            "DisplayName" => self.display_name,
            "UserID" => self.user_id,
            "Department" => self.department,
            "Mail" => self.mail,
            "Extension" => self.extension,
            "Product" => self.product,
            "Protocol" => self.protocol,
            "DeviceName" => self.device_name,
            _ => return None,
        })
    }
}

/// Splits a pattern into text and tokens; an unknown token or a lone `#` is refused.
fn pieces<'p>(field: &str, pattern: &'p str) -> Result<Vec<(bool, &'p str)>, Invalid> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(start) = rest.find('#') {
        out.push((false, &rest[..start]));
        let after = &rest[start + 1..];
        let Some(end) = after.find('#') else {
            return Err(Invalid::new(
                field,
                format!("`{pattern}` opens a token with `#` and does not close it: write tokens as #FirstName#"),
            ));
        };
        let token = &after[..end];
        if !PATTERN_TOKENS.iter().any(|(t, _)| *t == token) {
            let known: Vec<String> = PATTERN_TOKENS
                .iter()
                .map(|(t, _)| format!("#{t}#"))
                .collect();
            return Err(Invalid::new(
                field,
                format!(
                    "`#{token}#` is not a token; a pattern may use {}",
                    known.join(" ")
                ),
            ));
        }
        out.push((true, token));
        rest = &after[end + 1..];
    }
    out.push((false, rest));
    Ok(out)
}

/// Checks a pattern: its tokens are known and it is at most `max` characters once filled in
/// with nothing (the text around the tokens).
pub fn check_pattern(field: &str, pattern: &str, max: usize) -> Result<(), Invalid> {
    let parts = pieces(field, pattern)?;
    let text: usize = parts
        .iter()
        .filter(|(token, _)| !token)
        .map(|(_, s)| s.chars().count())
        .sum();
    if text > max || pattern.chars().any(char::is_control) {
        return Err(Invalid::new(
            field,
            format!(
                "`{pattern}` is too long or holds control characters: at most {max} characters"
            ),
        ));
    }
    Ok(())
}

/// Fills a pattern in: tokens replaced, runs of spaces left by empty values made one, the
/// ends trimmed, and the result cut to `max` characters.
pub fn expand(pattern: &str, v: &PatternValues<'_>, max: usize) -> String {
    let Ok(parts) = pieces("", pattern) else {
        return pattern.chars().take(max).collect();
    };
    let mut s = String::new();
    for (token, p) in parts {
        if token {
            s.push_str(v.get(p).unwrap_or(""));
        } else {
            s.push_str(p);
        }
    }
    let mut out = String::with_capacity(s.len());
    for w in s.split(' ').filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    // "()" left by a pattern whose tokens were all empty reads as noise.
    let out = out.replace(" ()", "").replace("()", "");
    out.trim().chars().take(max).collect()
}

// ---------------------------------------------------------------------------------------------
// Universal device templates

fn default_device_description() -> String {
    "#FirstName# #LastName# (#Product#)".into()
}

/// A universal device template (UDT): the settings a phone gets when it is auto-registered or
/// provisioned for a user (docs/self-provisioning.md).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UniversalDeviceTemplate {
    pub id: i64,
    pub system: String,
    pub name: String,
    pub description: String,
    pub device: DeviceTemplateSettings,
    /// User profiles that name it, and whether auto-registration uses it.
    pub used_by: Vec<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// What a UDT gives a phone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceTemplateSettings {
    /// The phone's description, a pattern (`#FirstName# #LastName# (#Product#)`).
    pub device_description: String,
    pub device_pool: String,
    pub button_template: String,
    pub softkey_template: String,
    pub calling_search_space: String,
    pub location: String,
    pub dnd: DndMode,
    pub expansion_modules: Vec<String>,
    /// Speed dials; the seed's tip: one to the self-provisioning IVR extension, for whoever
    /// provisions many phones.
    pub speed_dials: Vec<SpeedDial>,
    /// IP phone services the phone subscribes to.
    pub services: Vec<Subscription>,
    /// Provisioning parameters of the phone (MPP phones; docs/phones.md).
    #[schema(value_type = Object)]
    pub parameters: serde_json::Map<String, serde_json::Value>,
}

impl Default for DeviceTemplateSettings {
    fn default() -> Self {
        DeviceTemplateSettings {
            device_description: default_device_description(),
            device_pool: String::new(),
            button_template: String::new(),
            softkey_template: String::new(),
            calling_search_space: String::new(),
            location: String::new(),
            dnd: DndMode::Off,
            expansion_modules: Vec::new(),
            speed_dials: Vec::new(),
            services: Vec::new(),
            parameters: serde_json::Map::new(),
        }
    }
}

impl DeviceTemplateSettings {
    /// Checks what can be checked without the directory: the pattern and the speed dials.
    pub fn check(&self) -> Result<(), Invalid> {
        check_pattern("device.device_description", &self.device_description, 128)?;
        let mut seen = std::collections::BTreeSet::new();
        for (i, d) in self.speed_dials.iter().enumerate() {
            if d.position < 1 || !seen.insert(d.position) {
                return Err(Invalid::new(
                    format!("device.speed_dials[{i}].position"),
                    format!(
                        "position {} is below 1 or given twice: speed dials take positions 1, 2, …",
                        d.position
                    ),
                ));
            }
            if d.number.trim().is_empty() {
                return Err(Invalid::new(
                    format!("device.speed_dials[{i}].number"),
                    "a speed dial needs the number it dials",
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewUniversalDeviceTemplate {
    pub name: String,
    /// The call-control system; may be left out when there is only one.
    pub system: Option<String>,
    pub description: String,
    pub device: DeviceTemplateSettings,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct UniversalDeviceTemplatePatch {
    /// The `version` you read; a stale one is refused with 409.
    pub version: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Replaces the device settings as a whole.
    pub device: Option<DeviceTemplateSettings>,
    /// A template never moves between systems: present only to give a clear error.
    pub system: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Universal line templates

fn user_name_pattern() -> String {
    "#FirstName# #LastName#".into()
}

/// A universal line template (ULT): the settings of a user's line and of its appearance on a
/// self-provisioned or auto-registered phone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UniversalLineTemplate {
    pub id: i64,
    pub system: String,
    pub name: String,
    pub description: String,
    pub line: LineTemplateSettings,
    pub used_by: Vec<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LineTemplateSettings {
    /// The route partition of lines this template makes (auto-registered numbers).
    pub partition: String,
    /// Patterns: the line's description, its alerting name, the appearance's text label and
    /// its display (caller ID) name.
    pub line_description: String,
    pub alerting_name: String,
    pub label: String,
    pub display: String,
    /// External phone number mask: digits, then `X`s standing for the extension's last digits
    /// (`972813XXXX`); at most 30 characters.
    pub external_mask: String,
    pub voicemail_profile: String,
    pub forward_all: String,
    pub forward_busy_internal: String,
    pub forward_busy_external: String,
    pub forward_no_answer_internal: String,
    pub forward_no_answer_external: String,
    pub pickup_group: String,
    pub max_calls: i64,
    pub busy_trigger: i64,
}

impl Default for LineTemplateSettings {
    fn default() -> Self {
        LineTemplateSettings {
            partition: String::new(),
            line_description: user_name_pattern(),
            alerting_name: user_name_pattern(),
            label: user_name_pattern(),
            display: user_name_pattern(),
            external_mask: String::new(),
            voicemail_profile: String::new(),
            forward_all: String::new(),
            forward_busy_internal: String::new(),
            forward_busy_external: String::new(),
            forward_no_answer_internal: String::new(),
            forward_no_answer_external: String::new(),
            pickup_group: String::new(),
            max_calls: 4,
            busy_trigger: 2,
        }
    }
}

impl LineTemplateSettings {
    pub fn check(&self) -> Result<(), Invalid> {
        for (f, p, max) in [
            ("line.line_description", &self.line_description, 50),
            ("line.alerting_name", &self.alerting_name, 50),
            ("line.label", &self.label, 30),
            ("line.display", &self.display, 50),
        ] {
            check_pattern(f, p, max)?;
        }
        let m = self.external_mask.trim();
        let body = m.strip_prefix('+').unwrap_or(m);
        let digits = body.trim_end_matches(['X', 'x']);
        if m.len() > 30 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(Invalid::new(
                "line.external_mask",
                format!("`{m}` is not a mask: digits (a leading + allowed), then Xs for the extension's digits, at most 30 characters (972813XXXX)"),
            ));
        }
        crate::rules::check_line_calls(self.max_calls, self.busy_trigger)
            .map_err(|e| e.within("line"))?;
        Ok(())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewUniversalLineTemplate {
    pub name: String,
    pub system: Option<String>,
    pub description: String,
    pub line: LineTemplateSettings,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct UniversalLineTemplatePatch {
    pub version: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Replaces the line settings as a whole.
    pub line: Option<LineTemplateSettings>,
    pub system: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// User profiles

/// The most phones a profile may let a user provision (and the default, as the seed gives it).
pub const MAX_PHONE_LIMIT: i64 = 100;
pub const DEFAULT_PHONE_LIMIT: i64 = 10;

fn default_phone_limit() -> i64 {
    DEFAULT_PHONE_LIMIT
}

/// A user profile: the templates a user's new phones and lines get, and whether the user may
/// provision their own phones (and how many).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserProfile {
    pub id: i64,
    pub system: String,
    pub name: String,
    pub description: String,
    /// The UDT for the user's desk phones.
    pub device_template: Option<String>,
    /// The ULT for the user's lines.
    pub line_template: Option<String>,
    pub allow_self_provisioning: bool,
    /// How many phones the user may hold before self-provisioning refuses another.
    pub phone_limit: i64,
    /// How many users name it.
    pub users: i64,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewUserProfile {
    pub name: String,
    pub system: Option<String>,
    pub description: String,
    pub device_template: Option<String>,
    pub line_template: Option<String>,
    pub allow_self_provisioning: bool,
    #[serde(default = "default_phone_limit")]
    pub phone_limit: i64,
}

impl Default for NewUserProfile {
    fn default() -> Self {
        NewUserProfile {
            name: String::new(),
            system: None,
            description: String::new(),
            device_template: None,
            line_template: None,
            allow_self_provisioning: false,
            phone_limit: DEFAULT_PHONE_LIMIT,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct UserProfilePatch {
    pub version: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    /// `""` removes it.
    pub device_template: Option<String>,
    /// `""` removes it.
    pub line_template: Option<String>,
    pub allow_self_provisioning: Option<bool>,
    pub phone_limit: Option<i64>,
    pub system: Option<String>,
}

/// A phone limit is 1 to [`MAX_PHONE_LIMIT`].
pub fn check_phone_limit(n: i64) -> Result<(), Invalid> {
    if (1..=MAX_PHONE_LIMIT).contains(&n) {
        Ok(())
    } else {
        Err(Invalid::new(
            "phone_limit",
            format!("a phone limit is 1 to {MAX_PHONE_LIMIT} (the default is {DEFAULT_PHONE_LIMIT}); {n} is not"),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The system's settings

/// How the self-provisioning IVR and services authenticate whoever claims a phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SelfProvisioningAuth {
    /// Non-secure: the user ID or self-provisioning ID alone (not for day-to-day use).
    None,
    /// The user's password or PIN.
    #[default]
    EndUser,
    /// The user's password or PIN, or the administrators' authentication code.
    EndUserOrAdminCode,
}

impl SelfProvisioningAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            SelfProvisioningAuth::None => "none",
            SelfProvisioningAuth::EndUser => "end_user",
            SelfProvisioningAuth::EndUserOrAdminCode => "end_user_or_admin_code",
        }
    }
}

/// The IVR's prompt languages Dialtone ships.
pub const IVR_LANGUAGES: &[&str] = &["en_US", "fr_FR", "de_DE", "es_ES"];

fn default_languages() -> Vec<String> {
    vec!["en_US".into()]
}

/// Self-provisioning on a call-control system.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SelfProvisioningSettings {
    pub authentication: SelfProvisioningAuth,
    /// Write-only: the administrators' authentication code, 0 to 20 digits, stored as an
    /// argon2 hash; left out, it stays as it is; `""` removes it.
    #[serde(skip_serializing)]
    #[schema(value_type = Option<String>, format = Password)]
    pub authentication_code: Option<Secret>,
    /// Read-only: whether an authentication code is set (ignored when sent).
    pub has_authentication_code: bool,
    /// The extension users dial to reach the self-provisioning IVR.
    pub ivr_extension: String,
    /// Prompt languages, the first the IVR's default.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
}

impl Default for SelfProvisioningSettings {
    fn default() -> Self {
        SelfProvisioningSettings {
            authentication: SelfProvisioningAuth::EndUser,
            authentication_code: None,
            has_authentication_code: false,
            ivr_extension: String::new(),
            languages: default_languages(),
        }
    }
}

impl std::fmt::Debug for SelfProvisioningSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfProvisioningSettings")
            .field("authentication", &self.authentication)
            .field("has_authentication_code", &self.has_authentication_code)
            .field("ivr_extension", &self.ivr_extension)
            .field("languages", &self.languages)
            .finish_non_exhaustive()
    }
}

impl SelfProvisioningSettings {
    pub fn check(&self) -> Result<(), Invalid> {
        if let Some(c) = &self.authentication_code {
            let c = c.expose();
            if c.len() > 20 || !c.chars().all(|d| d.is_ascii_digit()) {
                return Err(Invalid::new(
                    "settings.self_provisioning.authentication_code",
                    "an authentication code is 0 to 20 digits",
                ));
            }
        }
        let x = self.ivr_extension.trim();
        if !x.is_empty()
            && (x.len() > 24
                || !x
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '*' || c == '#'))
        {
            return Err(Invalid::new(
                "settings.self_provisioning.ivr_extension",
                format!("`{x}` is not an extension: digits, * and #, at most 24"),
            ));
        }
        if self.languages.is_empty() {
            return Err(Invalid::new(
                "settings.self_provisioning.languages",
                format!(
                    "give at least one prompt language: {}",
                    IVR_LANGUAGES.join(", ")
                ),
            ));
        }
        for (i, l) in self.languages.iter().enumerate() {
            if !IVR_LANGUAGES.contains(&l.as_str()) {
                return Err(Invalid::new(
                    format!("settings.self_provisioning.languages[{i}]"),
                    format!(
                        "there are no prompts in `{l}`; the languages are {}",
                        IVR_LANGUAGES.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A self-provisioning ID: digits, 1 to 24 of them.
pub fn check_self_service_id(s: &str) -> Result<(), Invalid> {
    if s.is_empty() || s.len() > 24 || !s.chars().all(|c| c.is_ascii_digit()) {
        return Err(Invalid::new(
            "self_service_id",
            format!("`{s}` is not a self-provisioning ID: 1 to 24 digits"),
        ));
    }
    Ok(())
}

/// The digits of an extension, as a user's self-provisioning ID defaults to them.
pub fn digits_of(extension: &str) -> String {
    extension.chars().filter(char::is_ascii_digit).collect()
}

/// The auto-registration range: the numbers between start and end, both included, as
/// numbers of the same width. Equal ends turn auto-registration off, as CUCM does.
pub fn auto_registration_range(
    start: &str,
    end: &str,
) -> Result<Option<(u64, u64, usize)>, Invalid> {
    let (s, e) = (start.trim(), end.trim());
    if s.is_empty() && e.is_empty() {
        return Ok(None);
    }
    let num = |f: &str, v: &str| -> Result<u64, Invalid> {
        if v.is_empty() || v.len() > 18 || !v.chars().all(|c| c.is_ascii_digit()) {
            return Err(Invalid::new(
                format!("settings.{f}"),
                format!("`{v}` is not a directory number: 1 to 18 digits"),
            ));
        }
        Ok(v.parse().expect("digits"))
    };
    let (a, b) = (
        num("auto_registration_start_dn", s)?,
        num("auto_registration_end_dn", e)?,
    );
    if s.len() != e.len() {
        return Err(Invalid::new(
            "settings.auto_registration_end_dn",
            format!(
                "the range {s} to {e} mixes widths: give both ends with the same number of digits"
            ),
        ));
    }
    if a > b {
        return Err(Invalid::new(
            "settings.auto_registration_end_dn",
            format!("the range ends ({e}) before it starts ({s})"),
        ));
    }
    if a == b {
        return Ok(None);
    }
    Ok(Some((a, b, s.len())))
}

// ---------------------------------------------------------------------------------------------
// Claims and auto-registration, as the API answers them

/// A claim through the API (`POST /api/v1/self-provisioning/claims`): what a phone's user
/// keys in the IVR or the phone's service.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimRequest {
    /// The phone: its name, its MAC, or the auto-registered number it shows.
    pub phone: String,
    /// The user ID or the self-provisioning ID.
    pub user: String,
    /// The PIN or password (or the administrators' authentication code), as the system's
    /// `self_provisioning.authentication` asks.
    #[schema(value_type = Option<String>, format = Password)]
    pub secret: Option<Secret>,
}

impl std::fmt::Debug for ClaimRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimRequest")
            .field("phone", &self.phone)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// A phone claimed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Claimed {
    pub phone: String,
    pub device_id: i64,
    pub user_id: String,
    /// The user's primary extension, now line 1.
    pub extension: String,
    /// The auto-registered number the phone had, free again.
    pub freed_number: Option<String>,
    /// Phones the user has now, and their limit.
    pub phones: i64,
    pub phone_limit: i64,
}

/// Why a claim was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClaimRefusal {
    /// No phone has that name, MAC or number.
    NoPhone,
    /// The phone is not auto-registered (an administrator added it, or a user has it).
    NotClaimable,
    /// No user has that user ID or self-provisioning ID.
    NoUser,
    NoPrimaryExtension,
    NoUserProfile,
    /// The user's profile does not allow self-provisioning.
    NotAllowed,
    PhoneLimit,
    /// The secret was missing or wrong.
    WrongSecret,
    /// Too many wrong secrets lately, for the user or from the phone.
    LockedOut,
    /// The directory could not be read or written.
    Failed,
}

/// Where auto-registration stands on a system (`GET /api/v1/self-provisioning/status`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AutoRegistrationStatus {
    pub system: String,
    /// Phones not in the directory are answered (`XMLDefault.cnf.xml`, first-contact files).
    pub on: bool,
    /// The range, when they also get records of their own.
    pub start_dn: Option<String>,
    pub end_dn: Option<String>,
    pub numbers: u64,
    /// Numbers of the range taken (by auto-registered phones or anyone else).
    pub numbers_taken: u64,
    pub numbers_free: u64,
    /// Auto-registered phones not yet claimed.
    pub phones: i64,
    /// Unknown phones this server auto-registered since it started.
    pub registered_here: u64,
    /// Unknown phones this server refused since it started (range exhausted, model unknown,
    /// templates that make no valid phone); its log says why.
    pub refused_here: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_fill_in_and_tidy() {
        let v = PatternValues {
            first_name: "Ada",
            last_name: "Lovelace",
            product: "8861",
            ..Default::default()
        };
        assert_eq!(
            expand("#FirstName# #LastName# (#Product#)", &v, 128),
            "Ada Lovelace (8861)"
        );
        let empty = PatternValues::default();
        assert_eq!(
            expand("#FirstName# #LastName# (#Product#)", &empty, 128),
            ""
        );
        assert_eq!(expand("Lobby #Extension#", &empty, 128), "Lobby");
        assert_eq!(expand("#FirstName# #LastName#", &v, 5), "Ada L");
    }

    #[test]
    fn unknown_tokens_are_named() {
        let e = check_pattern("line.label", "#First# x", 30).unwrap_err();
        assert!(e.message.contains("`#First#` is not a token"), "{e}");
        assert!(e.message.contains("#FirstName#"), "{e}");
        let e = check_pattern("line.label", "#FirstName", 30).unwrap_err();
        assert!(e.message.contains("does not close"), "{e}");
        check_pattern("line.label", "#FirstName# #LastName#", 30).unwrap();
    }

    #[test]
    fn ranges() {
        assert_eq!(auto_registration_range("", "").unwrap(), None);
        assert_eq!(auto_registration_range("1000", "1000").unwrap(), None);
        assert_eq!(
            auto_registration_range("1000", "1099").unwrap(),
            Some((1000, 1099, 4))
        );
        assert!(auto_registration_range("1099", "1000").is_err());
        assert!(auto_registration_range("100", "1000").is_err());
        assert!(auto_registration_range("1000", "").is_err());
    }

    #[test]
    fn masks_and_limits() {
        let mut l = LineTemplateSettings {
            external_mask: "972813XXXX".into(),
            ..Default::default()
        };
        l.check().unwrap();
        l.external_mask = "97X2".into();
        assert!(l.check().is_err());
        assert!(check_phone_limit(0).is_err());
        check_phone_limit(10).unwrap();
    }

    #[test]
    fn the_code_never_shows() {
        let s = SelfProvisioningSettings {
            authentication_code: Some(Secret::new("12345")),
            ..Default::default()
        };
        assert!(!format!("{s:?}").contains("12345"));
        assert!(!serde_json::to_string(&s).unwrap().contains("12345"));
    }
}

//! Extension mobility (seed 000, "Understanding Device Profiles"; seed 003, "Configuring
//! Extension Mobility"): a user logs in on a phone, which takes their device profile (lines,
//! speed dials, services) on its own model; logging out loads the phone's logout profile.

use crate::Secret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a login on a second phone does (CUCM's "Multiple Logins Behavior").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MultipleLogin {
    /// Refused, naming the phone the user is logged in on.
    #[default]
    Refuse,
    /// The user is logged out of the other phone first.
    AutoLogout,
}

/// Extension mobility on a call-control system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ExtensionMobilitySettings {
    pub multiple_login: MultipleLogin,
    /// Minutes after which a login ends by itself (the phone loads its logout profile); 0: a
    /// login lasts until the user logs out. At most 10080 (a week).
    pub max_login_minutes: u32,
}

/// The longest login a system may set, in minutes (a week).
pub const MAX_LOGIN_MINUTES: u32 = 7 * 24 * 60;

/// A login asked for by a script (or a phone's service).
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LoginRequest {
    pub user_id: String,
    /// Write-only: the user's PIN.
    #[schema(value_type = String, format = Password)]
    pub pin: Secret,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// Who is logged in on a phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Login {
    pub phone: String,
    pub user_id: String,
    pub system: String,
    /// The device profile the phone runs.
    pub profile: String,
    pub logged_in_at: String,
    /// When the login ends by itself (the system's maximum login time), if it does.
    pub expires_at: Option<String>,
}

/// A phone's login state: who is logged in, or which profile it runs while nobody is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginState {
    pub phone: String,
    pub login: Option<Login>,
    /// The profile the phone loads when nobody is logged in (none: its own settings).
    pub logout_profile: Option<String>,
    /// Lines of the profile in use that the phone's model has no button for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_shown: Vec<String>,
}

/// A phone's services menu: the IP phone services it subscribes to (those of the device
/// profile it runs, when it runs one) with their parameters filled in, and whether it has
/// extension mobility.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceMenu {
    pub device: String,
    pub services: Vec<MenuService>,
    pub extension_mobility: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MenuService {
    /// The subscription's label, else the service's name.
    pub name: String,
    /// The service's URL with the subscription's parameters (or their defaults) in its query.
    pub url: String,
}

/// A query string value, percent-encoded (every byte but the unreserved ones of RFC 3986).
pub fn query_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `url` with `params` added to its query string (percent-encoded).
pub fn with_query(url: &str, params: &[(String, String)]) -> String {
    if params.is_empty() {
        return url.to_string();
    }
    let q: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", query_encode(k), query_encode(v)))
        .collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", q.join("&"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameters_go_in_the_query() {
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(super::with_query("http://s/w", &[]), "http://s/w");
        assert_eq!(
            super::with_query("http://s/w", &[p("city", "San José"), p("u", "a&b")]),
            "http://s/w?city=San%20Jos%C3%A9&u=a%26b"
        );
        assert_eq!(
            super::with_query("http://s/w?x=1", &[p("y", "2")]),
            "http://s/w?x=1&y=2"
        );
    }
}

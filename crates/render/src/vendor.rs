//! What the templates of other vendors' phones (Yealink, Poly, Grandstream, Snom) see of a
//! device: one context for the four, in the terms their files use (accounts numbered from 1,
//! keys by position, forwards and DND as the phone's own, the periodic resync in seconds).
//! Operators who override a vendor's template get the same names (docs/phones.md).

use crate::view::{DeviceView, Server};
use model::DndMode;
use serde::Serialize;

#[derive(Serialize)]
pub(crate) struct VendorCtx<'a> {
    pub d: VendorDevice<'a>,
    pub version_stamp: &'static str,
}

#[derive(Serialize)]
pub(crate) struct VendorDevice<'a> {
    pub name: &'a str,
    /// 12 hex digits, lower case (`805ec0112233`).
    pub mac: String,
    /// 12 hex digits, upper case.
    pub mac_upper: String,
    pub model: &'a str,
    pub description: &'a str,
    pub servers: &'a [Server],
    /// `udp`, `tcp` or `tls`.
    pub transport: &'static str,
    /// The registrations ("accounts"), numbered from 1 in button order.
    pub accounts: Vec<Account<'a>>,
    /// Every programmable key in use, by position: lines, speed dials and BLF.
    pub keys: Vec<Key<'a>>,
    /// Each key of the phone itself, 1 to `key_count` (`slots[n - 1]` is key n), with what is
    /// on it or none: templates that write every key walk this once.
    pub slots: Vec<Option<Key<'a>>>,
    /// The keys on the phone itself (the catalogue's `lines`), and on each of its expansion
    /// modules; a key past the phone's is on a module.
    pub key_count: u32,
    pub module_keys: u32,
    pub modules: usize,
    /// The registrations the model takes (the catalogue's `accounts`; 16 when it says none).
    pub max_accounts: u32,
    /// Do Not Disturb, calls rejected (the one kind these phones have).
    pub dnd: bool,
    /// `off`, `ringer_off` or `call_reject`, for templates that tell them apart.
    pub dnd_mode: &'static str,
    /// The phone's call forwards (its first line's; empty: not set).
    pub forward_all: &'a str,
    pub forward_busy: &'a str,
    pub forward_no_answer: &'a str,
    pub voicemail: &'a str,
    /// The corporate directory service on the phone listener (empty: none).
    pub directory_url: &'a str,
    /// This server as the phone reached it, without a trailing slash; its scheme (`http`,
    /// `https`, `tftp`) and the rest (`host:port`).
    pub provisioning_url: &'a str,
    pub provisioning_scheme: &'a str,
    pub provisioning_server: &'a str,
    /// Where a Snom fetches its first file again: `snom<model>.htm` on this server, with the
    /// phone's credential in the URL when it has one (percent-encoded).
    pub setting_server: String,
    /// The phone's HTTP credential (empty when it has none).
    pub http_user: &'a str,
    pub http_password: &'a str,
    /// The periodic resync, in seconds (0: none), and in minutes (rounded up, at least 1).
    pub resync_secs: u64,
    pub resync_minutes: u64,
    /// Whether the phone fetches its files again when it gets a resync NOTIFY.
    pub resync_from_sip: bool,
    pub user_locale: &'a str,
    pub network_locale: &'a str,
    /// The corporate directory, when the phone has one.
    pub ldap: Option<Ldap<'a>>,
}

/// An LDAP directory in the terms phones' settings use: filters with `%` for what the user
/// types, attribute lists separated by spaces.
#[derive(Serialize)]
pub(crate) struct Ldap<'a> {
    pub host: &'a str,
    pub port: u16,
    /// `tcp`, `ldaps` or `start_tls`.
    pub security: &'a str,
    pub base: &'a str,
    pub user: &'a str,
    pub password: &'a str,
    /// `sub` (below the base too) or `one`.
    pub scope: &'static str,
    /// `(|(givenName=%)(sn=%))`, `(|(telephoneNumber=%)(mobile=%))`.
    pub name_filter: String,
    pub number_filter: String,
    /// `givenName sn`, `telephoneNumber mobile`.
    pub name_attributes: String,
    pub number_attributes: String,
    /// The attribute a phone shows for an entry (the display name's, else the last name's).
    pub display: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub numbers: &'a [String],
}

/// `(|(a=%)(b=%))` of `attributes`, or `(a=%)` of one.
fn any_of(attributes: &[&str]) -> String {
    match attributes {
        [] => String::new(),
        [one] => format!("({one}=%)"),
        many => format!(
            "(|{})",
            many.iter().map(|a| format!("({a}=%)")).collect::<String>()
        ),
    }
}

#[derive(Serialize)]
pub(crate) struct Account<'a> {
    /// 1, 2, … in button order.
    pub n: usize,
    /// The key it is on.
    pub button: i64,
    pub number: &'a str,
    pub display_name: &'a str,
    /// What the key shows: the line's label, or its number.
    pub label: &'a str,
    pub auth_name: &'a str,
    pub password: &'a str,
    pub shared: bool,
    pub max_calls: i64,
}

#[derive(Serialize, Clone)]
pub(crate) struct Key<'a> {
    pub button: i64,
    /// `line`, `speed_dial` or `blf`.
    pub kind: &'static str,
    /// The account a line key is (0 for the others).
    pub account: usize,
    /// The number a speed dial or BLF key dials (a line key: its number).
    pub number: &'a str,
    pub label: &'a str,
}

impl DeviceView {
    pub(crate) fn vendor_context(&self) -> VendorCtx<'_> {
        let mac = self.mac.as_deref().unwrap_or_default();
        let mut accounts: Vec<Account<'_>> = self
            .lines
            .iter()
            .map(|l| Account {
                n: 0,
                button: l.button,
                number: &l.pattern,
                display_name: &l.display_name,
                label: if l.label.is_empty() {
                    &l.pattern
                } else {
                    &l.label
                },
                auth_name: if l.auth_name.is_empty() {
                    &l.pattern
                } else {
                    &l.auth_name
                },
                password: l.auth_password.expose(),
                shared: l.shared,
                max_calls: l.max_calls,
            })
            .collect();
        accounts.sort_by_key(|a| a.button);
        for (i, a) in accounts.iter_mut().enumerate() {
            a.n = i + 1;
        }
        let mut keys: Vec<Key<'_>> = accounts
            .iter()
            .map(|a| Key {
                button: a.button,
                kind: "line",
                account: a.n,
                number: a.number,
                label: a.label,
            })
            .chain(self.speed_dials.iter().map(|sd| Key {
                button: sd.button,
                kind: if sd.blf { "blf" } else { "speed_dial" },
                account: 0,
                number: &sd.number,
                label: if sd.label.is_empty() {
                    &sd.number
                } else {
                    &sd.label
                },
            }))
            .collect();
        keys.sort_by_key(|k| k.button);
        let first = self.lines.first();
        let t = model::Catalog::builtin().get(&self.model);
        let key_count = t.map_or(0, |t| t.lines);
        let mut slots: Vec<Option<Key<'_>>> = vec![None; key_count as usize];
        for k in &keys {
            if let Some(s) = usize::try_from(k.button - 1)
                .ok()
                .and_then(|i| slots.get_mut(i))
            {
                *s = Some(k.clone());
            }
        }
        let module_keys = t
            .and_then(|t| t.expansion_modules.first())
            .and_then(|m| model::Catalog::builtin().get(m))
            .map_or(0, |m| m.lines);
        let resync_secs = self
            .parameter("resync_periodic")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(3600);
        let (http_user, http_password) = match &self.http_credential {
            Some((u, p)) => (u.as_str(), p.expose()),
            None => ("", ""),
        };
        let setting_server = {
            let url = self.provisioning_url.trim_end_matches('/');
            let url = match (&self.http_credential, url.split_once("://")) {
                (Some((u, p)), Some((scheme, rest))) if scheme != "tftp" => format!(
                    "{scheme}://{}:{}@{rest}",
                    percent_encode(u),
                    percent_encode(p.expose())
                ),
                _ => url.to_string(),
            };
            format!("{url}/snom{}.htm", self.model)
        };
        VendorCtx {
            d: VendorDevice {
                setting_server,
                name: &self.name,
                mac: mac.to_ascii_lowercase(),
                mac_upper: mac.to_ascii_uppercase(),
                model: &self.model,
                description: &self.description,
                servers: &self.servers,
                transport: match self.transport {
                    crate::Transport::Udp => "udp",
                    crate::Transport::Tcp => "tcp",
                    crate::Transport::Tls => "tls",
                },
                accounts,
                keys,
                key_count,
                slots,
                max_accounts: t.and_then(|t| t.accounts).unwrap_or(16),
                module_keys,
                modules: self.expansion_modules.len(),
                dnd: self.dnd == DndMode::CallReject,
                dnd_mode: match self.dnd {
                    DndMode::Off => "off",
                    DndMode::RingerOff => "ringer_off",
                    DndMode::CallReject => "call_reject",
                },
                forward_all: first.map_or("", |l| l.forward_all.as_str()),
                forward_busy: first.map_or("", |l| l.forward_busy.as_str()),
                forward_no_answer: first.map_or("", |l| l.forward_no_answer.as_str()),
                voicemail: first.map_or("", |l| l.voicemail.as_str()),
                directory_url: &self.directory_url,
                provisioning_url: self.provisioning_url.trim_end_matches('/'),
                provisioning_scheme: self
                    .provisioning_url
                    .split_once("://")
                    .map_or("http", |(s, _)| s),
                provisioning_server: self
                    .provisioning_url
                    .split_once("://")
                    .map_or(self.provisioning_url.as_str(), |(_, r)| r)
                    .trim_end_matches('/'),
                http_user,
                http_password,
                resync_secs,
                resync_minutes: if resync_secs == 0 {
                    0
                } else {
                    resync_secs.div_ceil(60)
                },
                resync_from_sip: self.resync_from_sip(),
                user_locale: &self.user_locale,
                network_locale: &self.network_locale,
                ldap: self.directory.as_ref().map(|l| {
                    let names: Vec<&str> = [l.first_name.as_str(), l.last_name.as_str()]
                        .into_iter()
                        .filter(|a| !a.is_empty())
                        .collect();
                    let numbers: Vec<&str> = l.numbers.iter().map(String::as_str).collect();
                    Ldap {
                        host: &l.host,
                        port: l.port,
                        security: &l.security,
                        base: &l.base,
                        user: &l.bind_dn,
                        password: l.password.expose(),
                        scope: if l.recursive { "sub" } else { "one" },
                        name_filter: any_of(&names),
                        number_filter: any_of(&numbers),
                        name_attributes: names.join(" "),
                        number_attributes: numbers.join(" "),
                        display: if l.display_name.is_empty() {
                            &l.last_name
                        } else {
                            &l.display_name
                        },
                        first_name: &l.first_name,
                        last_name: &l.last_name,
                        numbers: &l.numbers,
                    }
                }),
            },
            version_stamp: crate::STAMP_PLACEHOLDER,
        }
    }

    /// A resolved provisioning parameter's value.
    pub(crate) fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the phone takes a resync NOTIFY (provisioning parameter Resync From SIP, on
    /// unless set to No).
    pub(crate) fn resync_from_sip(&self) -> bool {
        self.parameter("resync_from_sip").is_none_or(|v| v == "Yes")
    }
}

/// `s` with every byte but letters, digits and `-._~` percent-encoded (RFC 3986, for a user name
/// or password in a URL).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

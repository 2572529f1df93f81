//! Records the console edits through a table of their fields: voicemail subscribers, product
//! systems and lines. Each has the same pages, written once here and driven by its [`Field`]s:
//! view, add, edit (a stale save shows both versions), delete. The form's values become the
//! JSON the API takes, so the service checks them exactly as it checks the API's.

use super::record_fields::*;
use super::*;
use model::soft_client::ClientKind;
use serde_json::{Map, Value as Json};

/// How a field is typed in the form.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Input {
    Text,
    Number,
    /// Write-only (a PIN): left empty, it stays as it is.
    Secret,
    Check,
    Choice(&'static [&'static str]),
    /// A product system of this kind, among those there are.
    System(SystemKind),
    /// A model of the device type catalogue: any, or (`true`) one with device profiles.
    Model(bool),
    /// Words separated by commas.
    List,
    /// Call-control servers, one per line: `host [SIP port [SIP TLS port [SCCP port]]]`.
    Servers,
    /// Speed dials, one per line: `position number [label]`.
    SpeedDials,
    /// Restriction table rows, one per line: `pattern allow` or `pattern block`.
    Restrictions,
}

pub(super) struct Field {
    /// The field of the API's record; `settings.x` is `x` inside `settings`.
    pub name: &'static str,
    pub label: &'static str,
    pub input: Input,
    /// Given when the record is added, and not changed afterwards (its key, its system).
    pub new_only: bool,
}

impl Field {
    /// A stored value as a record's page shows it: a choice's slug in words ("Ringer off").
    pub(super) fn shown_value(&self, raw: &str) -> String {
        match self.input {
            Input::Choice(_) if !raw.is_empty() => lists::words(raw),
            _ => raw.to_string(),
        }
    }

    /// The label as a record's page shows it: without the hint on how to write the value
    /// (`(… commas between …)`), which only its form needs.
    pub(super) fn shown(&self) -> &'static str {
        let label: &'static str = self.label;
        match label.find(" (") {
            Some(i) if label.ends_with(')') && label[i..].contains("commas between") => &label[..i],
            _ => label,
        }
    }
}

pub(super) const fn field(name: &'static str, label: &'static str, input: Input) -> Field {
    Field {
        name,
        label,
        input,
        new_only: false,
    }
}

pub(super) const fn key(name: &'static str, label: &'static str, input: Input) -> Field {
    Field {
        name,
        label,
        input,
        new_only: true,
    }
}

/// Which kind of record a page is about.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Res {
    Subscriber,
    System,
    Line,
    DeviceTemplate,
    LineTemplate,
    UserProfile,
    RestrictionTable,
    SubscriberTemplate,
    LdapServer,
    LdapProfile,
    /// A server or profile soft clients learn of.
    Client(ClientKind),
}

/// Where a record is besides its key: its system (subscribers, lines) and partition (lines).
#[derive(serde::Deserialize, Default, Clone)]
#[serde(default)]
pub(super) struct At {
    system: Option<String>,
    partition: Option<String>,
}

impl At {
    fn system(&self) -> Option<&str> {
        self.system.as_deref()
    }
    /// A line's partition: none given is the empty partition.
    fn partition(&self) -> Option<&str> {
        Some(self.partition.as_deref().unwrap_or(""))
    }
}

impl Res {
    /// The list page and menu entry.
    fn here(self) -> &'static str {
        match self {
            Res::Subscriber => "voicemail-subscribers",
            Res::System => "systems",
            Res::Line => "lines",
            Res::DeviceTemplate => "universal-device-templates",
            Res::LineTemplate => "universal-line-templates",
            Res::UserProfile => "user-profiles",
            Res::RestrictionTable => "restriction-tables",
            Res::SubscriberTemplate => "subscriber-templates",
            Res::LdapServer => "ldap-servers",
            Res::LdapProfile => "ldap-profiles",
            Res::Client(k) => k.path(),
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Res::Subscriber => "voicemail subscriber",
            Res::System => "product system",
            Res::Line => "line",
            Res::DeviceTemplate => "universal device template",
            Res::LineTemplate => "universal line template",
            Res::UserProfile => "user profile",
            Res::RestrictionTable => "restriction table",
            Res::SubscriberTemplate => "subscriber template",
            Res::LdapServer => "LDAP server",
            Res::LdapProfile => "LDAP profile",
            Res::Client(k) => k.noun(),
        }
    }
    /// The resource of privileges.
    fn resource(self) -> &'static str {
        match self {
            Res::Subscriber => "voicemail_subscriber",
            Res::System => "system",
            Res::Line => "line",
            Res::DeviceTemplate => "universal_device_template",
            Res::LineTemplate => "universal_line_template",
            Res::UserProfile => "user_profile",
            Res::RestrictionTable => "restriction_table",
            Res::SubscriberTemplate => "subscriber_template",
            Res::LdapServer => "ldap_server",
            Res::LdapProfile => "ldap_profile",
            Res::Client(k) => k.as_str(),
        }
    }
    fn fields(self) -> &'static [Field] {
        match self {
            Res::Subscriber => SUBSCRIBER_FIELDS,
            Res::System => SYSTEM_FIELDS,
            Res::Line => LINE_FIELDS,
            Res::DeviceTemplate => DEVICE_TEMPLATE_FIELDS,
            Res::LineTemplate => LINE_TEMPLATE_FIELDS,
            Res::UserProfile => USER_PROFILE_FIELDS,
            Res::RestrictionTable => RESTRICTION_TABLE_FIELDS,
            Res::SubscriberTemplate => SUBSCRIBER_TEMPLATE_FIELDS,
            Res::LdapServer => LDAP_SERVER_FIELDS,
            Res::LdapProfile => LDAP_PROFILE_FIELDS,
            Res::Client(ClientKind::PresenceSubcluster) => SUBCLUSTER_FIELDS,
            Res::Client(ClientKind::ProxyProfile) => PROXY_PROFILE_FIELDS,
            Res::Client(ClientKind::CtiGatewayServer) => CTI_SERVER_FIELDS,
            Res::Client(ClientKind::CtiGatewayProfile) => CTI_PROFILE_FIELDS,
            Res::Client(ClientKind::DialRule) => DIAL_RULE_FIELDS,
        }
    }

    /// The record's key, and the system a privilege about it names.
    fn names(self, r: &Json) -> (String, String) {
        let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
        match self {
            Res::Subscriber => (text("alias"), text("system")),
            Res::System => (text("name"), text("name")),
            Res::Line => (text("pattern"), text("system")),
            Res::DeviceTemplate
            | Res::LineTemplate
            | Res::UserProfile
            | Res::RestrictionTable
            | Res::SubscriberTemplate => (text("name"), text("system")),
            Res::LdapServer | Res::LdapProfile | Res::Client(_) => (text("name"), String::new()),
        }
    }

    /// The record's page (`then`: `/edit`, `/delete`, or nothing).
    fn path(self, r: &Json, then: &str) -> String {
        let text = |k: &str| urlencode(r[k].as_str().unwrap_or(""));
        match self {
            Res::Subscriber => format!(
                "/voicemail-subscribers/{}{then}?system={}",
                text("alias"),
                text("system")
            ),
            Res::System => format!("/systems/{}{then}", text("name")),
            Res::Line => format!(
                "/lines/{}{then}?partition={}&system={}",
                text("pattern"),
                text("partition"),
                text("system")
            ),
            Res::DeviceTemplate
            | Res::LineTemplate
            | Res::UserProfile
            | Res::RestrictionTable
            | Res::SubscriberTemplate => format!(
                "/{}/{}{then}?system={}",
                self.here(),
                text("name"),
                text("system")
            ),
            Res::LdapServer | Res::LdapProfile | Res::Client(_) => {
                format!("/{}/{}{then}", self.here(), text("name"))
            }
        }
    }

    async fn get(self, s: &AppState, key: &str, at: &At) -> service::Result<Json> {
        let svc = &s.service;
        match self {
            Res::Subscriber => json(svc.voicemail_subscriber(key, at.system()).await?),
            Res::System => json(svc.system(key).await?),
            Res::Line => json(svc.line(key, at.partition(), at.system()).await?),
            Res::DeviceTemplate => json(svc.device_template(key, at.system()).await?),
            Res::LineTemplate => json(svc.line_template(key, at.system()).await?),
            Res::UserProfile => json(svc.user_profile(key, at.system()).await?),
            Res::RestrictionTable => json(svc.restriction_table(key, at.system()).await?),
            Res::SubscriberTemplate => json(svc.subscriber_template(key, at.system()).await?),
            Res::LdapServer => json(svc.ldap_server(key).await?),
            Res::LdapProfile => json(svc.ldap_profile(key).await?),
            Res::Client(k) => svc.client_record(k, key).await,
        }
    }

    async fn create(
        self,
        s: &AppState,
        actor: &Actor,
        m: Map<String, Json>,
    ) -> service::Result<Json> {
        let svc = &s.service;
        match self {
            Res::Subscriber => json(svc.create_voicemail_subscriber(actor, parse(m)?).await?),
            Res::System => json(svc.create_system(actor, parse(m)?).await?),
            Res::Line => json(svc.create_line(actor, parse(m)?).await?),
            Res::DeviceTemplate => json(svc.create_device_template(actor, parse(m)?).await?),
            Res::LineTemplate => json(svc.create_line_template(actor, parse(m)?).await?),
            Res::UserProfile => json(svc.create_user_profile(actor, parse(m)?).await?),
            Res::RestrictionTable => json(svc.create_restriction_table(actor, parse(m)?).await?),
            Res::SubscriberTemplate => {
                json(svc.create_subscriber_template(actor, parse(m)?).await?)
            }
            Res::LdapServer => json(svc.create_ldap_server(actor, parse(m)?).await?),
            Res::LdapProfile => json(svc.create_ldap_profile(actor, parse(m)?).await?),
            Res::Client(k) => svc.create_client_record(actor, k, Json::Object(m)).await,
        }
    }

    async fn update(
        self,
        s: &AppState,
        actor: &Actor,
        key: &str,
        at: &At,
        m: Map<String, Json>,
    ) -> service::Result<Json> {
        let svc = &s.service;
        match self {
            Res::Subscriber => json(
                svc.update_voicemail_subscriber(actor, key, at.system(), parse(m)?)
                    .await?,
            ),
            Res::System => json(svc.update_system(actor, key, parse(m)?).await?),
            Res::Line => json(
                svc.update_line(actor, key, at.partition(), at.system(), parse(m)?)
                    .await?,
            ),
            Res::DeviceTemplate => json(
                svc.update_device_template(actor, key, at.system(), parse(m)?)
                    .await?,
            ),
            Res::LineTemplate => json(
                svc.update_line_template(actor, key, at.system(), parse(m)?)
                    .await?,
            ),
            Res::UserProfile => json(
                svc.update_user_profile(actor, key, at.system(), parse(m)?)
                    .await?,
            ),
            Res::RestrictionTable => json(
                svc.update_restriction_table(actor, key, at.system(), parse(m)?)
                    .await?,
            ),
            Res::SubscriberTemplate => json(
                svc.update_subscriber_template(actor, key, at.system(), parse(m)?)
                    .await?,
            ),
            Res::LdapServer => json(svc.update_ldap_server(actor, key, parse(m)?).await?),
            Res::LdapProfile => json(svc.update_ldap_profile(actor, key, parse(m)?).await?),
            Res::Client(k) => {
                svc.update_client_record(actor, k, key, Json::Object(m))
                    .await
            }
        }
    }

    async fn delete(self, s: &AppState, actor: &Actor, key: &str, at: &At) -> service::Result<()> {
        let svc = &s.service;
        match self {
            Res::Subscriber => {
                svc.delete_voicemail_subscriber(actor, key, at.system())
                    .await
            }
            Res::System => svc.delete_system(actor, key).await,
            Res::Line => {
                svc.delete_line(actor, key, at.partition(), at.system())
                    .await
            }
            Res::DeviceTemplate => svc.delete_device_template(actor, key, at.system()).await,
            Res::LineTemplate => svc.delete_line_template(actor, key, at.system()).await,
            Res::UserProfile => svc.delete_user_profile(actor, key, at.system()).await,
            Res::RestrictionTable => svc.delete_restriction_table(actor, key, at.system()).await,
            Res::SubscriberTemplate => {
                svc.delete_subscriber_template(actor, key, at.system())
                    .await
            }
            Res::LdapServer => svc.delete_ldap_server(actor, key).await,
            Res::LdapProfile => svc.delete_ldap_profile(actor, key).await,
            Res::Client(k) => svc.delete_client_record(actor, k, key).await,
        }
    }

    /// What the record's page shows besides its fields.
    fn more_rows(self, r: &Json) -> Vec<Value> {
        match self {
            Res::Subscriber => {
                let mut rows = Vec::new();
                for (i, c) in r["conflicts"].as_array().into_iter().flatten().enumerate() {
                    rows.push(context! { label => "Conflict", value => c["message"].as_str().unwrap_or(""), id => format!("conflict{i}"), conflict => true });
                }
                rows
            }
            Res::System => Vec::new(),
            Res::RestrictionTable => {
                let used: Vec<String> = r["used_by"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|u| u.as_str().map(str::to_string))
                    .collect();
                let value = if used.is_empty() {
                    "no class of service".to_string()
                } else {
                    used.join(", ")
                };
                vec![context! { label => "Used by", value, id => "used-by" }]
            }
            Res::SubscriberTemplate => vec![
                context! { label => "Subscribers made from it", value => r["subscribers"].to_string(), id => "subscribers" },
            ],
            Res::DeviceTemplate | Res::LineTemplate => {
                let used: Vec<&str> = r["used_by"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|u| u.as_str())
                    .collect();
                let value = if used.is_empty() {
                    "nothing".to_string()
                } else {
                    used.join(", ")
                };
                vec![context! { label => "Used by", value, id => "used-by" }]
            }
            Res::UserProfile => {
                vec![context! { label => "Users", value => r["users"].to_string(), id => "users" }]
            }
            // Servers: the profiles that name them.
            Res::LdapServer | Res::Client(ClientKind::CtiGatewayServer) => {
                let used: Vec<&str> = r["used_by"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|u| u.as_str())
                    .collect();
                let value = if used.is_empty() {
                    "no profile".to_string()
                } else {
                    used.join(", ")
                };
                vec![context! { label => "Used by", value, id => "used-by" }]
            }
            Res::Client(ClientKind::DialRule) => Vec::new(),
            Res::Client(_) => {
                vec![context! { label => "Users", value => r["users"].to_string(), id => "users" }]
            }
            Res::LdapProfile => {
                let name = r["name"].as_str().unwrap_or("");
                let last = match r["last_sync_at"].as_str() {
                    Some(at) => format!("{at}: {}", r["last_sync"].as_str().unwrap_or("")),
                    None => "never".to_string(),
                };
                vec![
                    context! { label => "Users", value => r["users"].to_string(), id => "users" },
                    context! { label => "Last sync", id => "last-sync",
                    links => links(vec![(format!("/ldap-profiles/{}/sync", urlencode(name)), format!("{last} (sync…)"))]) },
                ]
            }
            Res::Line => {
                let on: Vec<(String, String)> = r["appearances"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        let device = a["device"].as_str().unwrap_or("");
                        let href = if a["class"] == "phone" {
                            format!("/phones/{device}")
                        } else {
                            format!("/device-profiles/{}", urlencode(device))
                        };
                        (href, format!("{device} (button {})", a["button"]))
                    })
                    .collect();
                vec![context! { label => "Appears on", id => "appearances", links => links(on) }]
            }
        }
    }

    fn heading(self, r: &Json) -> String {
        let (key, _) = self.names(r);
        match self {
            Res::Subscriber => format!(
                "Voicemail subscriber {key} on {}",
                r["system"].as_str().unwrap_or("")
            ),
            Res::System => format!(
                "Product system {key} ({})",
                r["kind"].as_str().unwrap_or("").replace('_', "-")
            ),
            Res::Line => format!(
                "Line {key}{}",
                if r["shared"] == true { " (shared)" } else { "" }
            ),
            Res::LdapServer | Res::LdapProfile | Res::Client(_) => {
                let mut n = self.noun().to_string();
                n[..1].make_ascii_uppercase();
                format!("{n} {key}")
            }
            Res::DeviceTemplate
            | Res::LineTemplate
            | Res::UserProfile
            | Res::RestrictionTable
            | Res::SubscriberTemplate => {
                let mut n = self.noun().to_string();
                n[..1].make_ascii_uppercase();
                format!("{n} {key} on {}", r["system"].as_str().unwrap_or(""))
            }
        }
    }
}

pub(super) fn json<T: serde::Serialize>(v: T) -> service::Result<Json> {
    serde_json::to_value(v).map_err(|e| service::Error::Internal(e.to_string()))
}

/// The request the form's JSON makes, or what of it does not fit (named by its field).
pub(super) fn parse<T: serde::de::DeserializeOwned>(m: Map<String, Json>) -> service::Result<T> {
    serde_json::from_value(Json::Object(m))
        .map_err(|e| service::Error::Invalid(Invalid::new("", e.to_string())))
}

/// The value at a dotted path of a record.
fn at<'a>(r: &'a Json, path: &str) -> &'a Json {
    path.split('.').fold(r, |v, k| &v[k])
}

/// A stored record's fields as the form shows them.
pub(super) fn values_of(r: &Json, fields: &[Field]) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|f| {
            let v = at(r, f.name);
            let text = match f.input {
                Input::Secret => String::new(),
                Input::Check => if v == true { "true" } else { "" }.to_string(),
                Input::List => v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                Input::Servers => v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        format!(
                            "{} {} {} {}",
                            s["host"].as_str().unwrap_or(""),
                            s["sip_port"],
                            s["secure_sip_port"],
                            s["sccp_port"]
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                Input::Restrictions => v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        format!(
                            "{} {}",
                            e["pattern"].as_str().unwrap_or(""),
                            if e["allowed"] == true {
                                "allow"
                            } else {
                                "block"
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                Input::SpeedDials => v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| {
                        format!(
                            "{} {} {}",
                            d["position"],
                            d["number"].as_str().unwrap_or(""),
                            d["label"].as_str().unwrap_or("")
                        )
                        .trim_end()
                        .to_string()
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => match v {
                    Json::String(s) => s.clone(),
                    Json::Null => String::new(),
                    other => other.to_string(),
                },
            };
            (f.name.to_string(), text)
        })
        .collect()
}

/// The JSON of what the form says: everything on an edit (a record's settings are replaced
/// whole), what was filled in when adding. A value that cannot be what its field takes is said
/// with the field's label.
pub(super) fn json_of(
    values: &BTreeMap<String, String>,
    fields: &[Field],
    adding: bool,
) -> Result<Map<String, Json>, String> {
    let mut m = Map::new();
    for f in fields.iter().filter(|f| adding || !f.new_only) {
        let raw = values.get(f.name).map(|v| v.trim()).unwrap_or("");
        let v = match f.input {
            Input::Text => {
                if adding && raw.is_empty() {
                    continue;
                }
                Json::from(raw)
            }
            // A choice the form did not send is left as it is.
            Input::Choice(_) | Input::System(_) | Input::Model(_) if raw.is_empty() => continue,
            Input::Choice(_) | Input::System(_) | Input::Model(_) => Json::from(raw),
            Input::Secret if raw.is_empty() => continue,
            Input::Number if raw.is_empty() && adding => continue,
            Input::Number if raw.is_empty() => {
                return Err(format!("{}: give a whole number", f.label))
            }
            Input::Secret => Json::from(raw),
            Input::Number => Json::from(
                raw.parse::<i64>()
                    .map_err(|_| format!("{}: `{raw}` is not a whole number", f.label))?,
            ),
            Input::Check => Json::from(raw == "true"),
            // Left empty when adding: the record's default (a system's prompt languages).
            Input::List if adding && raw.is_empty() => continue,
            Input::List => Json::from(
                raw.split([',', '\n'])
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .collect::<Vec<_>>(),
            ),
            Input::Servers => {
                let mut servers = Vec::new();
                for line in raw.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    let mut words = line.split_whitespace();
                    let mut s = Map::new();
                    s.insert("host".into(), words.next().unwrap_or("").into());
                    for port in ["sip_port", "secure_sip_port", "sccp_port"] {
                        if let Some(w) = words.next() {
                            let n: u16 = w.parse().map_err(|_| {
                                format!("{}: `{line}`: `{w}` is not a port (1 to 65535)", f.label)
                            })?;
                            s.insert(port.into(), n.into());
                        }
                    }
                    if let Some(extra) = words.next() {
                        return Err(format!(
                            "{}: `{line}`: `{extra}` is one word too many: write host [SIP port [SIP TLS port [SCCP port]]]",
                            f.label
                        ));
                    }
                    servers.push(Json::Object(s));
                }
                Json::Array(servers)
            }
            Input::Restrictions => {
                let mut rows = Vec::new();
                for line in raw.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    let mut words = line.split_whitespace();
                    let pattern = words.next().unwrap_or("");
                    let allowed = match words.next() {
                        Some("allow") => true,
                        Some("block") => false,
                        _ => {
                            return Err(format!(
                                "{}: `{line}`: write the pattern, then allow or block",
                                f.label
                            ))
                        }
                    };
                    let mut e = Map::new();
                    e.insert("pattern".into(), pattern.into());
                    e.insert("allowed".into(), allowed.into());
                    rows.push(Json::Object(e));
                }
                Json::Array(rows)
            }
            Input::SpeedDials => {
                let mut dials = Vec::new();
                for line in raw.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    let mut words = line.splitn(3, char::is_whitespace);
                    let position = words.next().unwrap_or("");
                    let position: i64 = position.parse().map_err(|_| {
                        format!(
                            "{}: `{line}`: `{position}` is not a position (1, 2, …)",
                            f.label
                        )
                    })?;
                    let Some(number) = words.next().map(str::trim).filter(|n| !n.is_empty()) else {
                        return Err(format!(
                            "{}: `{line}`: give the number after the position",
                            f.label
                        ));
                    };
                    let mut d = Map::new();
                    d.insert("position".into(), position.into());
                    d.insert("number".into(), number.into());
                    d.insert("label".into(), words.next().unwrap_or("").trim().into());
                    dials.push(Json::Object(d));
                }
                Json::Array(dials)
            }
        };
        // `settings.self_provisioning.languages`: objects inside objects.
        let mut path: Vec<&str> = f.name.split('.').collect();
        let last = path.pop().expect("a field has a name");
        let mut o = &mut m;
        for k in path {
            let e = o.entry(k).or_insert_with(|| Json::Object(Map::new()));
            if !e.is_object() {
                *e = Json::Object(Map::new());
            }
            o = e.as_object_mut().expect("an object");
        }
        o.insert(last.into(), v);
    }
    Ok(m)
}

/// Fills the objects of an edit (`settings`, a template's `device`) with what is stored for
/// the keys the form does not show, so that saving a form never drops them.
fn keep_unshown(m: &mut Map<String, Json>, stored: &Json) {
    for (k, v) in m.iter_mut() {
        if let (Json::Object(inner), Json::Object(was)) = (v, &stored[k.as_str()]) {
            fill_from(inner, was);
        }
    }
}

/// Adds to `inner` every key of `was` it lacks, at every depth.
fn fill_from(inner: &mut Map<String, Json>, was: &Map<String, Json>) {
    for (k, w) in was {
        match (inner.get_mut(k), w) {
            (None, _) => {
                inner.insert(k.clone(), w.clone());
            }
            (Some(Json::Object(i)), Json::Object(w)) => fill_from(i, w),
            _ => {}
        }
    }
}

/// The inputs of the form, each with its value and, for a choice, its options.
pub(super) async fn inputs(
    s: &AppState,
    fields: &[Field],
    values: &BTreeMap<String, String>,
    adding: bool,
) -> Vec<Value> {
    let mut out = Vec::new();
    for f in fields.iter().filter(|f| adding || !f.new_only) {
        let value = values.get(f.name).cloned().unwrap_or_default();
        // A select's options as (value, what it says): a choice's slugs in words, systems and
        // models by their names.
        let named = |names: Vec<String>| -> Vec<Value> {
            names
                .into_iter()
                .map(|n| context! { label => n.clone(), value => n })
                .collect()
        };
        let (ty, options): (&str, Vec<Value>) = match f.input {
            Input::Text => ("text", Vec::new()),
            Input::Number => ("number", Vec::new()),
            Input::Secret => ("password", Vec::new()),
            Input::Check => ("checkbox", Vec::new()),
            Input::List => ("text", Vec::new()),
            Input::Servers | Input::SpeedDials | Input::Restrictions => ("textarea", Vec::new()),
            Input::Choice(o) => (
                "select",
                o.iter()
                    .map(|x| context! { value => x, label => lists::words(x) })
                    .collect(),
            ),
            Input::System(kind) => ("select", named(systems_of_kind(s, kind).await)),
            Input::Model(profiles) => ("select", named(models(s, profiles))),
        };
        let value = if ty == "password" {
            String::new()
        } else {
            value
        };
        out.push(context! { name => f.name, label => f.label, type => ty, options, value });
    }
    out
}

async fn form(
    s: &AppState,
    c: &Console,
    res: Res,
    editing: Option<&Json>,
    values: &BTreeMap<String, String>,
    error: Option<String>,
) -> Response {
    let adding = editing.is_none();
    let fields = inputs(s, res.fields(), values, adding).await;
    let (heading, action, back, version) = match editing {
        Some(r) => (
            format!("Edit {} {}", res.noun(), res.names(r).0),
            res.path(r, ""),
            res.path(r, ""),
            values
                .get("version")
                .cloned()
                .unwrap_or_else(|| r["version"].to_string()),
        ),
        None => (
            format!("Add a {}", res.noun()),
            format!("/{}", res.here()),
            format!("/{}", res.here()),
            String::new(),
        ),
    };
    let status = form_status(&error);
    (
        status,
        render(
            "record_form.html",
            c.page(
                res.here(),
                &heading,
                context! { heading, action, back, version, fields, error, adding },
            ),
        ),
    )
        .into_response()
}

/// A record the administrator may see: the page of one of another system is refused.
async fn get_readable(
    s: &AppState,
    c: &Console,
    res: Res,
    key: &str,
    at: &At,
) -> Result<Json, Response> {
    let r = res.get(s, key, at).await.map_err(|e| c.failed(e))?;
    let (_, system) = res.names(&r);
    if !c.actor().may_read(&system, res.resource()) {
        let why = crate::auth::cannot_read(c.actor(), res.resource(), Some(&system));
        return Err(c.error(
            StatusCode::FORBIDDEN,
            "Not yours to see",
            &why.detail.message,
        ));
    }
    Ok(r)
}

pub(super) async fn view(s: AppState, c: Console, res: Res, key: String, at: At) -> Response {
    let r = match get_readable(&s, &c, res, &key, &at).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let values = values_of(&r, res.fields());
    let mut rows: Vec<Value> = res
        .fields()
        .iter()
        .map(|f| {
            let value = match f.input {
                Input::Secret => {
                    // `settings.self_provisioning.authentication_code` is set when
                    // `settings.self_provisioning.has_authentication_code` says so.
                    let has = match f.name.rsplit_once('.') {
                        Some((parent, last)) => format!("{parent}.has_{last}"),
                        None => format!("has_{}", f.name),
                    };
                    if self::at(&r, &has) == true {
                        "set".to_string()
                    } else {
                        "not set".to_string()
                    }
                }
                Input::Check => if values[f.name].is_empty() {
                    "no"
                } else {
                    "yes"
                }
                .to_string(),
                _ => f.shown_value(&values[f.name]),
            };
            let lines = matches!(
                f.input,
                Input::Servers | Input::SpeedDials | Input::Restrictions
            );
            context! { label => f.shown(), value, id => f.name.replace('.', "-"), lines }
        })
        .collect();
    rows.extend(res.more_rows(&r));
    if matches!(res, Res::Line) {
        // What a call meets now, by the DND modes of the phones the line is on (seed 003).
        let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        if let Ok(o) = s
            .service
            .call_outcome(
                &text("pattern"),
                Some(&text("partition")),
                Some(&text("system")),
                "internal",
            )
            .await
        {
            rows.push(context! { label => "A call now (internal caller)", value => o.explanation.join(" "), id => "call-outcome" });
        }
    }
    rows.push(context! { label => "Version", value => r["version"].to_string(), id => "version" });
    let (_, system) = res.names(&r);
    let a = c.actor();
    let heading = res.heading(&r);
    render(
        "record.html",
        c.page(
            res.here(),
            &heading,
            context! {
                heading,
                edit => a.may(&system, res.resource(), "update").then(|| res.path(&r, "/edit")),
                delete => a.may(&system, res.resource(), "delete").then(|| res.path(&r, "/delete")),
                back => format!("/{}", res.here()),
                back_label => format!("All {}s", res.noun()),
                rows,
            },
        ),
    )
}

pub(super) async fn new(s: AppState, c: Console, res: Res, at: At) -> Response {
    let mut values = BTreeMap::new();
    if let Some(sys) = at.system {
        values.insert("system".to_string(), sys);
    }
    form(&s, &c, res, None, &values, None).await
}

pub(super) async fn create(
    s: AppState,
    c: Console,
    res: Res,
    pairs: Vec<(String, String)>,
) -> Response {
    let v = form_map(pairs);
    if let Some(r) = c.forged(v.get("csrf").map(String::as_str).unwrap_or("")) {
        return r;
    }
    let r = match json_of(&v, res.fields(), true) {
        Ok(m) => res.create(&s, c.actor(), m).await.map_err(|e| match e {
            e @ service::Error::Forbidden(_) => Err(e),
            e => Ok(field_message(&e)),
        }),
        Err(message) => Err(Ok(message)),
    };
    match r {
        Ok(r) => Redirect::to(&res.path(&r, "")).into_response(),
        Err(Err(e)) => c.failed(e),
        Err(Ok(message)) => form(&s, &c, res, None, &v, Some(message)).await,
    }
}

pub(super) async fn edit(s: AppState, c: Console, res: Res, key: String, at: At) -> Response {
    match get_readable(&s, &c, res, &key, &at).await {
        Ok(r) => {
            let values = values_of(&r, res.fields());
            form(&s, &c, res, Some(&r), &values, None).await
        }
        Err(page) => page,
    }
}

pub(super) async fn update(
    s: AppState,
    c: Console,
    res: Res,
    key: String,
    at: At,
    pairs: Vec<(String, String)>,
) -> Response {
    let v = form_map(pairs);
    if let Some(r) = c.forged(v.get("csrf").map(String::as_str).unwrap_or("")) {
        return r;
    }
    let version: i64 = v.get("version").and_then(|x| x.parse().ok()).unwrap_or(0);
    let stored = match res.get(&s, &key, &at).await {
        Ok(r) => r,
        Err(e) => return c.failed(e),
    };
    let r = match json_of(&v, res.fields(), false) {
        Ok(mut m) => {
            keep_unshown(&mut m, &stored);
            m.insert("version".into(), version.into());
            res.update(&s, c.actor(), &key, &at, m).await
        }
        Err(message) => return form(&s, &c, res, Some(&stored), &v, Some(message)).await,
    };
    match r {
        Ok(r) => Redirect::to(&res.path(&r, "")).into_response(),
        // Someone saved it meanwhile: both versions, and the choice.
        Err(service::Error::Stale { .. }) => {
            let now = values_of(&stored, res.fields());
            let shown = res
                .fields()
                .iter()
                .filter(|f| !f.new_only && f.input != Input::Secret);
            let rows = shown
                .clone()
                .map(|f| {
                    row(
                        f.label,
                        v.get(f.name).map(String::as_str).unwrap_or(""),
                        &now[f.name],
                    )
                })
                .collect();
            let hidden = shown
                .map(|f| self::hidden(f.name, v.get(f.name).map(String::as_str).unwrap_or("")))
                .collect();
            let path = res.path(&stored, "");
            let version_now = stored["version"].as_i64().unwrap_or(0);
            stale(
                &c,
                res.here(),
                res.noun(),
                &key,
                version,
                version_now,
                rows,
                hidden,
                &path,
            )
        }
        Err(e @ service::Error::Forbidden(_)) => c.failed(e),
        Err(e) => form(&s, &c, res, Some(&stored), &v, Some(field_message(&e))).await,
    }
}

pub(super) async fn delete(
    s: AppState,
    c: Console,
    res: Res,
    key: String,
    at: At,
    csrf: String,
) -> Response {
    if let Some(r) = c.forged(&csrf) {
        return r;
    }
    match res.delete(&s, c.actor(), &key, &at).await {
        Ok(()) => Redirect::to(&format!("/{}", res.here())).into_response(),
        Err(e) => c.failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_make_the_json_the_api_takes_and_back() {
        let mut v = BTreeMap::new();
        v.insert("name".into(), " branch ".into());
        v.insert(
            "settings.servers".into(),
            "cm1.example.com\ncm2.example.com 5070 5071 2001\n".into(),
        );
        v.insert("settings.tftp_servers".into(), "10.0.0.1, 10.0.0.2,".into());
        v.insert("settings.auto_registration".into(), "true".into());
        let m = json_of(&v, SYSTEM_FIELDS, true).unwrap();
        let j = Json::Object(m.clone());
        assert_eq!(j["name"], "branch");
        assert_eq!(
            j["settings"]["servers"][0],
            serde_json::json!({"host": "cm1.example.com"})
        );
        assert_eq!(
            j["settings"]["servers"][1],
            serde_json::json!({"host": "cm2.example.com", "sip_port": 5070, "secure_sip_port": 5071, "sccp_port": 2001})
        );
        assert_eq!(
            j["settings"]["tftp_servers"],
            serde_json::json!(["10.0.0.1", "10.0.0.2"])
        );
        assert_eq!(j["settings"]["auto_registration"], true);
        // What it makes is a request the API takes, and a stored record reads back the same.
        let req: NewSystem = parse(m).unwrap();
        let back = values_of(&serde_json::to_value(&req).unwrap(), SYSTEM_FIELDS);
        assert_eq!(back["settings.tftp_servers"], "10.0.0.1, 10.0.0.2");

        v.insert("settings.servers".into(), "cm1 50x0".into());
        let e = json_of(&v, SYSTEM_FIELDS, true).unwrap_err();
        assert!(e.contains("`50x0` is not a port"), "{e}");
        v.insert("settings.servers".into(), "cm1 1 2 3 4".into());
        assert!(json_of(&v, SYSTEM_FIELDS, true)
            .unwrap_err()
            .contains("one word too many"));

        let mut l = BTreeMap::new();
        l.insert("max_calls".into(), "four".into());
        let e = json_of(&l, LINE_FIELDS, false).unwrap_err();
        assert_eq!(e, "Maximum number of calls: `four` is not a whole number");
        // Emptied on an edit, a number is not silently kept as it was; left out when adding.
        l.insert("max_calls".into(), "".into());
        let e = json_of(&l, LINE_FIELDS, false).unwrap_err();
        assert_eq!(e, "Maximum number of calls: give a whole number");
        l.insert("pattern".into(), "2000".into());
        let m = json_of(&l, LINE_FIELDS, true).unwrap();
        assert!(!m.contains_key("max_calls") && m["pattern"] == "2000");
        // An edit leaves out what is given only when adding, and an empty PIN.
        let mut p = BTreeMap::new();
        p.insert("alias".into(), "jsmith".into());
        p.insert("pin".into(), "".into());
        let m = json_of(&p, SUBSCRIBER_FIELDS, false).unwrap();
        assert!(!m.contains_key("alias") && !m.contains_key("pin") && !m.contains_key("system"));
        assert_eq!(m["distribution_lists"], serde_json::json!([]));
    }
}

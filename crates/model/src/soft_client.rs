//! The servers a soft client (seed 003: Cisco Unified Personal Communicator) learns of besides
//! its call-control servers (docs/soft-clients.md): presence subclusters and the users' home
//! nodes, SIP proxy profiles, CTI gateway servers and profiles, and the settings every soft
//! client shares (instant messaging, the contact list's size, the TFTP servers it reads its file
//! from). Each record is checked here, by the seed's rules; that the records it names exist is
//! the service's to check.

use crate::{Invalid, Name};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The CTI port of Cisco's CTIManager (the seed: "Enter 2748").
pub const CTI_PORT: u16 = 2748;
/// What a client waits before each try to reach a CTI gateway again after losing it (the seed:
/// "intervals of 4, 8, 16, 32, and 60 seconds (maximum)"), round-robin from the primary.
pub const CTI_RECONNECT_SECONDS: [u32; 5] = [4, 8, 16, 32, 60];
/// The most contacts a list may hold (the seed: "a number from 0 to 200").
pub const MAX_CONTACT_LIST: u32 = 200;
/// A primary TFTP server and at most two backups.
pub const MAX_TFTP_SERVERS: usize = 3;
/// Backups of a CTI gateway profile.
pub const MAX_CTI_BACKUPS: usize = 2;

/// The kinds of record kept here, each with the same API and console pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKind {
    PresenceSubcluster,
    ProxyProfile,
    CtiGatewayServer,
    CtiGatewayProfile,
    /// An application dial rule or a directory lookup rule (`crate::dial_rules`).
    DialRule,
}

impl ClientKind {
    pub const ALL: [ClientKind; 5] = [
        ClientKind::PresenceSubcluster,
        ClientKind::ProxyProfile,
        ClientKind::CtiGatewayServer,
        ClientKind::CtiGatewayProfile,
        ClientKind::DialRule,
    ];

    /// As the store, the audit log and privileges write it.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::PresenceSubcluster => "presence_subcluster",
            ClientKind::ProxyProfile => "proxy_profile",
            ClientKind::CtiGatewayServer => "cti_gateway_server",
            ClientKind::CtiGatewayProfile => "cti_gateway_profile",
            ClientKind::DialRule => "dial_rule",
        }
    }

    /// The API's and console's path segment.
    pub fn path(self) -> &'static str {
        match self {
            ClientKind::PresenceSubcluster => "presence-subclusters",
            ClientKind::ProxyProfile => "proxy-profiles",
            ClientKind::CtiGatewayServer => "cti-gateway-servers",
            ClientKind::CtiGatewayProfile => "cti-gateway-profiles",
            ClientKind::DialRule => "dial-rules",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            ClientKind::PresenceSubcluster => "presence subcluster",
            ClientKind::ProxyProfile => "proxy profile",
            ClientKind::CtiGatewayServer => "CTI gateway server",
            ClientKind::CtiGatewayProfile => "CTI gateway profile",
            ClientKind::DialRule => "dial rule",
        }
    }

    /// `record` (a JSON object) read as this kind's spec and checked, in its canonical form
    /// (trimmed, defaults filled in).
    pub fn check(self, record: serde_json::Value) -> Result<ClientSpec, Invalid> {
        fn read<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, Invalid> {
            serde_json::from_value(v).map_err(|e| {
                let msg = e.to_string();
                let field = msg
                    .split('`')
                    .nth(1)
                    .filter(|_| msg.starts_with("unknown field"))
                    .unwrap_or("")
                    .to_string();
                Invalid::new(field, msg)
            })
        }
        let mut spec = match self {
            ClientKind::PresenceSubcluster => ClientSpec::PresenceSubcluster(read(record)?),
            ClientKind::ProxyProfile => ClientSpec::ProxyProfile(read(record)?),
            ClientKind::CtiGatewayServer => ClientSpec::CtiGatewayServer(read(record)?),
            ClientKind::CtiGatewayProfile => ClientSpec::CtiGatewayProfile(read(record)?),
            ClientKind::DialRule => ClientSpec::DialRule(read(record)?),
        };
        spec.check()?;
        Ok(spec)
    }
}

/// A host name or address (IPv4, IPv6, or a fully qualified domain name).
pub fn check_host(field: &str, h: &str) -> Result<(), Invalid> {
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if ok {
        Ok(())
    } else if h.is_empty() {
        Err(Invalid::new(field, "a host name or IP address is needed"))
    } else {
        Err(Invalid::new(
            field,
            format!("`{h}` is not a host name or IP address"),
        ))
    }
}

fn name(field: &str, v: &mut String) -> Result<(), Invalid> {
    *v = Name::parse(field, v)?.into_string();
    Ok(())
}

fn host(field: &str, v: &mut String) -> Result<(), Invalid> {
    *v = v.trim().to_ascii_lowercase();
    check_host(field, v)
}

/// A presence subcluster (seed 003, "Configuring Nodes"): a primary and a secondary node. Each
/// soft-client user is homed on one of the two; the other is their failover.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PresenceSubclusterSpec {
    pub name: String,
    pub description: String,
    /// Host name or address.
    pub primary_node: String,
    /// Host name or address; empty: a subcluster of one node, with no failover.
    pub secondary_node: String,
}

/// Which SIP proxy listener a soft client's presence traffic goes to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProxyListener {
    #[default]
    Tcp,
    /// Refused: the seed says why.
    Udp,
}

/// A SIP proxy profile (seed 003, "Selecting the Proxy Listener and Creating Proxy Profiles").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyProfileSpec {
    pub name: String,
    pub description: String,
    /// TCP (the default, and the only one taken).
    pub listener: ProxyListener,
    /// `host` or `host:port` (5060 when left out).
    pub primary_proxy: String,
    /// Refused when given: soft clients take no redundant proxy.
    pub backup_proxy: String,
}

/// How a CTI gateway is reached: TCP alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CtiProtocol {
    #[default]
    Tcp,
    /// Refused: CTIManager takes TCP alone.
    Udp,
}

/// A CTI gateway server (seed 003, "Specifying CTI Gateway Server Names and Addresses"): the
/// CTIManager of a call-control server, for desk-phone control.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CtiGatewayServerSpec {
    pub name: String,
    pub description: String,
    pub host: String,
    /// 2748 when left out.
    pub port: Option<u16>,
    pub protocol: CtiProtocol,
}

/// A CTI gateway profile (seed 003, "Creating CTI Gateway Profiles"): a primary server and up to
/// two backups, tried in order, round-robin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CtiGatewayProfileSpec {
    pub name: String,
    pub description: String,
    /// A CTI gateway server's name.
    pub primary: String,
    /// CTI gateway servers' names, in the order tried.
    pub backups: Vec<String>,
    /// New users get the default profile.
    pub default_profile: bool,
}

/// One record of any kind, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientSpec {
    PresenceSubcluster(PresenceSubclusterSpec),
    ProxyProfile(ProxyProfileSpec),
    CtiGatewayServer(CtiGatewayServerSpec),
    CtiGatewayProfile(CtiGatewayProfileSpec),
    DialRule(crate::dial_rules::DialRuleSpec),
}

impl ClientSpec {
    pub fn kind(&self) -> ClientKind {
        match self {
            ClientSpec::PresenceSubcluster(_) => ClientKind::PresenceSubcluster,
            ClientSpec::ProxyProfile(_) => ClientKind::ProxyProfile,
            ClientSpec::CtiGatewayServer(_) => ClientKind::CtiGatewayServer,
            ClientSpec::CtiGatewayProfile(_) => ClientKind::CtiGatewayProfile,
            ClientSpec::DialRule(_) => ClientKind::DialRule,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            ClientSpec::PresenceSubcluster(s) => &s.name,
            ClientSpec::ProxyProfile(s) => &s.name,
            ClientSpec::CtiGatewayServer(s) => &s.name,
            ClientSpec::CtiGatewayProfile(s) => &s.name,
            ClientSpec::DialRule(s) => &s.name,
        }
    }

    /// As stored and shown.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ClientSpec::PresenceSubcluster(s) => serde_json::to_value(s),
            ClientSpec::ProxyProfile(s) => serde_json::to_value(s),
            ClientSpec::CtiGatewayServer(s) => serde_json::to_value(s),
            ClientSpec::CtiGatewayProfile(s) => serde_json::to_value(s),
            ClientSpec::DialRule(s) => serde_json::to_value(s),
        }
        .unwrap_or_default()
    }

    /// The records of other kinds this one names: (kind, name).
    pub fn names(&self) -> Vec<(ClientKind, &str)> {
        match self {
            ClientSpec::CtiGatewayProfile(p) => std::iter::once(&p.primary)
                .chain(&p.backups)
                .map(|s| (ClientKind::CtiGatewayServer, s.as_str()))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn check(&mut self) -> Result<(), Invalid> {
        match self {
            ClientSpec::PresenceSubcluster(s) => {
                name("name", &mut s.name)?;
                s.description = s.description.trim().into();
                host("primary_node", &mut s.primary_node)?;
                s.secondary_node = s.secondary_node.trim().to_ascii_lowercase();
                if !s.secondary_node.is_empty() {
                    check_host("secondary_node", &s.secondary_node)?;
                    if s.secondary_node == s.primary_node {
                        return Err(Invalid::new(
                            "secondary_node",
                            "the secondary node is the primary's failover: it must be another node",
                        ));
                    }
                }
            }
            ClientSpec::ProxyProfile(s) => {
                name("name", &mut s.name)?;
                s.description = s.description.trim().into();
                if s.listener == ProxyListener::Udp {
                    return Err(Invalid::new(
                        "listener",
                        "use the TCP listener: over UDP, availability of contacts may be missing for large contact lists \
                         and over moderately lossy networks such as a VPN over the Internet",
                    ));
                }
                s.primary_proxy = s.primary_proxy.trim().to_ascii_lowercase();
                let (h, port) = split_port(&s.primary_proxy);
                check_host("primary_proxy", h)?;
                if port == Some(0) || port.is_none() && s.primary_proxy.ends_with(':') {
                    return Err(Invalid::new("primary_proxy", "a port is 1 to 65535"));
                }
                if !s.backup_proxy.trim().is_empty() {
                    return Err(Invalid::new(
                        "backup_proxy",
                        "leave the backup proxy empty: soft clients do not support redundant SIP proxy servers",
                    ));
                }
                s.backup_proxy.clear();
            }
            ClientSpec::CtiGatewayServer(s) => {
                name("name", &mut s.name)?;
                s.description = s.description.trim().into();
                host("host", &mut s.host)?;
                if s.protocol != CtiProtocol::Tcp {
                    return Err(Invalid::new(
                        "protocol",
                        "a CTI gateway is reached over TCP (CTIManager takes no other protocol)",
                    ));
                }
                let port = s.port.unwrap_or(CTI_PORT);
                if port == 0 {
                    return Err(Invalid::new(
                        "port",
                        "a port is 1 to 65535 (CTIManager listens on 2748)",
                    ));
                }
                s.port = Some(port);
            }
            ClientSpec::CtiGatewayProfile(s) => {
                name("name", &mut s.name)?;
                s.description = s.description.trim().into();
                s.primary = s.primary.trim().into();
                if s.primary.is_empty() {
                    return Err(Invalid::new(
                        "primary",
                        "a CTI gateway profile needs a primary CTI gateway server",
                    ));
                }
                let mut backups: Vec<String> = Vec::new();
                for (i, b) in s.backups.iter().enumerate() {
                    let b = b.trim();
                    if b.is_empty() {
                        continue;
                    }
                    if b == s.primary || backups.iter().any(|x| x == b) {
                        return Err(Invalid::new(
                            format!("backups[{i}]"),
                            format!("{b} is named twice: each server once, the primary first"),
                        ));
                    }
                    backups.push(b.to_string());
                }
                if backups.len() > MAX_CTI_BACKUPS {
                    return Err(Invalid::new(
                        "backups",
                        format!(
                            "a profile has at most {MAX_CTI_BACKUPS} backup CTI gateway servers"
                        ),
                    ));
                }
                s.backups = backups;
            }
            ClientSpec::DialRule(r) => *r = std::mem::take(r).checked()?,
        }
        Ok(())
    }
}

/// `host[:port]` (an IPv6 address in brackets when a port follows).
pub fn split_port(s: &str) -> (&str, Option<u16>) {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((h, p)) = rest.split_once("]:") {
            return (h, Some(p.parse().unwrap_or(0)));
        }
        return (rest.trim_end_matches(']'), None);
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p.parse().unwrap_or(0))),
        _ => (s, None),
    }
}

/// What every soft client shares (seed 003, "Disabling Instant Messaging Globally",
/// "Configuring the Maximum Contact List Size", "Specifying TFTP Server Addresses").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SoftClientSettings {
    /// Off: "Send an Instant Message" is dimmed in every client.
    pub instant_messaging: bool,
    /// 0 to 200, for soft clients and IP Phone Messenger alike.
    pub max_contact_list: u32,
    /// The primary TFTP server (required) and up to two backups, in the order clients try them;
    /// until set, clients get their call-control system's TFTP servers.
    pub tftp_servers: Vec<String>,
}

impl Default for SoftClientSettings {
    fn default() -> Self {
        SoftClientSettings {
            instant_messaging: true,
            max_contact_list: MAX_CONTACT_LIST,
            tftp_servers: Vec::new(),
        }
    }
}

impl SoftClientSettings {
    /// The settings, trimmed, by the seed's rules.
    pub fn checked(mut self) -> Result<SoftClientSettings, Invalid> {
        if self.max_contact_list > MAX_CONTACT_LIST {
            return Err(Invalid::new(
                "max_contact_list",
                format!("the maximum contact list size is a number from 0 to {MAX_CONTACT_LIST}"),
            ));
        }
        let servers: Vec<String> = self
            .tftp_servers
            .iter()
            .map(|t| t.trim().to_ascii_lowercase())
            .collect();
        if servers.first().is_none_or(|p| p.is_empty()) {
            return Err(Invalid::new(
                "tftp_servers[0]",
                "the primary TFTP server is required: soft clients read their configuration file from it \
                 (backups are optional)",
            ));
        }
        if servers.len() > MAX_TFTP_SERVERS {
            return Err(Invalid::new(
                "tftp_servers",
                format!(
                    "a primary TFTP server and at most {} backups",
                    MAX_TFTP_SERVERS - 1
                ),
            ));
        }
        let mut kept: Vec<String> = Vec::new();
        for (i, t) in servers.into_iter().enumerate() {
            if t.is_empty() {
                continue;
            }
            check_host(&format!("tftp_servers[{i}]"), &t)?;
            if kept.contains(&t) {
                return Err(Invalid::new(
                    format!("tftp_servers[{i}]"),
                    format!("{t} is named twice"),
                ));
            }
            kept.push(t);
        }
        self.tftp_servers = kept;
        Ok(self)
    }
}

/// Moves every user homed on one presence node to another.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Rehome {
    pub from_node: String,
    pub to_node: String,
}

/// The result of moving users from one node to another.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Rehomed {
    pub from_node: String,
    pub to_node: String,
    /// How many users moved.
    pub users: i64,
}

/// What `POST /api/v1/cti-gateway-servers/from-systems` made.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CtiFromSystems {
    /// The CTI gateway servers made (one per call-control server not yet known by its host).
    pub servers: Vec<String>,
    /// The CTI gateway profiles made (one per system that had none of its servers in one).
    pub profiles: Vec<String>,
}

/// What a soft client's file carries besides its call-control servers and lines: who it is,
/// its presence nodes, proxy, CTI gateways, directory (never the bind password) and the shared
/// settings. Empty text and lists are left out of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClientFile {
    pub user_id: String,
    pub home_node: String,
    pub failover_node: String,
    pub instant_messaging: bool,
    pub max_contact_list: u32,
    /// The shared TFTP servers (empty: the call-control system's).
    pub tftp_servers: Vec<String>,
    /// The primary proxy (`host[:port]`), over TCP.
    pub proxy: String,
    pub cti_profile: String,
    pub cti_servers: Vec<ClientServer>,
    /// The reconnect intervals, comma-separated (4,8,16,32,60).
    pub cti_reconnect: String,
    pub ldap: Option<ClientLdap>,
    /// Application dial rules, then directory lookup rules, each in the order they are tried.
    pub dial_rules: Vec<crate::dial_rules::DialRuleSpec>,
    pub voicemail_profile: String,
    pub conferencing_profile: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClientServer {
    pub host: String,
    pub port: u16,
    /// `TCP`, or for a directory `tcp`, `ldaps` or `start_tls`.
    pub protocol: String,
}

/// The user's LDAP profile as a client searches with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClientLdap {
    pub profile: String,
    pub servers: Vec<ClientServer>,
    pub anonymous_bind: bool,
    pub bind_dn: String,
    pub search_base: String,
    pub recursive: bool,
    /// (Dialtone field, LDAP attribute) for every mapped field.
    pub attributes: Vec<ClientAttribute>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClientAttribute {
    pub field: String,
    pub attribute: String,
}

/// The reconnect schedule as a file writes it.
pub fn cti_reconnect_text() -> String {
    CTI_RECONNECT_SECONDS.map(|s| s.to_string()).join(",")
}

/// The node a user is homed on when none is set: the nodes share the users out evenly by a
/// stable hash of the user ID (FNV-1a), so each user keeps their node while the nodes stay.
pub fn spread_node<'a>(user_id: &str, nodes: &'a [String]) -> Option<&'a String> {
    if nodes.is_empty() {
        return None;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in user_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    nodes.get((h % nodes.len() as u64) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(kind: ClientKind, v: serde_json::Value) -> Invalid {
        kind.check(v).unwrap_err()
    }

    #[test]
    fn proxy_profiles_take_tcp_and_no_backup() {
        let p = ClientKind::ProxyProfile
            .check(json!({"name": "proxy", "primary_proxy": " CUP1.example.com:5070 "}))
            .unwrap();
        let ClientSpec::ProxyProfile(p) = p else {
            panic!()
        };
        assert_eq!(
            (p.listener, p.primary_proxy.as_str()),
            (ProxyListener::Tcp, "cup1.example.com:5070")
        );
        let e = refused(
            ClientKind::ProxyProfile,
            json!({"name": "p", "listener": "udp", "primary_proxy": "cup1"}),
        );
        assert_eq!(e.field, "listener");
        assert!(e.message.contains("large contact lists"), "{}", e.message);
        let e = refused(
            ClientKind::ProxyProfile,
            json!({"name": "p", "primary_proxy": "cup1", "backup_proxy": "cup2"}),
        );
        assert_eq!(e.field, "backup_proxy");
        assert!(e.message.contains("redundant"), "{}", e.message);
        assert_eq!(
            refused(ClientKind::ProxyProfile, json!({"name": "p"})).field,
            "primary_proxy"
        );
        assert_eq!(
            refused(
                ClientKind::ProxyProfile,
                json!({"name": "p", "primary_proxy": "a:0"})
            )
            .field,
            "primary_proxy"
        );
        assert_eq!(
            refused(
                ClientKind::ProxyProfile,
                json!({"name": "p", "primary_proxy": "a", "transport": "tcp"})
            )
            .field,
            "transport"
        );
    }

    #[test]
    fn cti_servers_default_to_2748_over_tcp() {
        let ClientSpec::CtiGatewayServer(s) = ClientKind::CtiGatewayServer
            .check(json!({"name": "cm1", "host": "10.0.0.1"}))
            .unwrap()
        else {
            panic!()
        };
        assert_eq!((s.port, s.protocol), (Some(2748), CtiProtocol::Tcp));
        assert_eq!(
            refused(
                ClientKind::CtiGatewayServer,
                json!({"name": "x", "host": "a", "protocol": "udp"})
            )
            .field,
            "protocol"
        );
        assert_eq!(
            refused(
                ClientKind::CtiGatewayServer,
                json!({"name": "x", "host": "bad host"})
            )
            .field,
            "host"
        );
        assert_eq!(
            refused(
                ClientKind::CtiGatewayServer,
                json!({"name": "x", "host": "a", "port": 0})
            )
            .field,
            "port"
        );
    }

    #[test]
    fn cti_profiles_have_a_primary_and_two_backups_at_most() {
        let p = ClientKind::CtiGatewayProfile
            .check(json!({"name": "cti", "primary": "cm1", "backups": ["cm2", " ", "cm3"]}))
            .unwrap();
        assert_eq!(
            p.names(),
            [
                (ClientKind::CtiGatewayServer, "cm1"),
                (ClientKind::CtiGatewayServer, "cm2"),
                (ClientKind::CtiGatewayServer, "cm3")
            ]
        );
        assert_eq!(
            refused(ClientKind::CtiGatewayProfile, json!({"name": "c"})).field,
            "primary"
        );
        assert_eq!(
            refused(
                ClientKind::CtiGatewayProfile,
                json!({"name": "c", "primary": "a", "backups": ["b", "a"]})
            )
            .field,
            "backups[1]"
        );
        assert_eq!(
            refused(
                ClientKind::CtiGatewayProfile,
                json!({"name": "c", "primary": "a", "backups": ["b", "c", "d"]})
            )
            .field,
            "backups"
        );
    }

    #[test]
    fn subclusters_have_two_different_nodes() {
        let ClientSpec::PresenceSubcluster(s) = ClientKind::PresenceSubcluster
            .check(json!({"name": "sc1", "primary_node": "CUP1.example.com", "secondary_node": "cup2.example.com"}))
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(s.primary_node, "cup1.example.com");
        assert_eq!(
            refused(
                ClientKind::PresenceSubcluster,
                json!({"name": "s", "primary_node": "a", "secondary_node": "A"})
            )
            .field,
            "secondary_node"
        );
        assert_eq!(
            refused(ClientKind::PresenceSubcluster, json!({"name": "s"})).field,
            "primary_node"
        );
        assert_eq!(
            refused(
                ClientKind::PresenceSubcluster,
                json!({"name": "", "primary_node": "a"})
            )
            .field,
            "name"
        );
    }

    #[test]
    fn settings_need_a_primary_tftp_server_and_a_contact_list_of_200_at_most() {
        let d = SoftClientSettings::default();
        assert!(d.instant_messaging);
        assert_eq!(d.max_contact_list, 200);
        let e = d.clone().checked().unwrap_err();
        assert_eq!(e.field, "tftp_servers[0]");
        assert!(e.message.contains("primary TFTP server is required"));
        let ok = SoftClientSettings {
            tftp_servers: vec![" TFTP1.example.com ".into(), "10.0.0.2".into()],
            max_contact_list: 0,
            ..d.clone()
        }
        .checked()
        .unwrap();
        assert_eq!(ok.tftp_servers, ["tftp1.example.com", "10.0.0.2"]);
        let big = SoftClientSettings {
            tftp_servers: vec!["a".into()],
            max_contact_list: 201,
            ..d.clone()
        };
        assert_eq!(big.checked().unwrap_err().field, "max_contact_list");
        let four = SoftClientSettings {
            tftp_servers: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            ..d
        };
        assert_eq!(four.checked().unwrap_err().field, "tftp_servers");
    }

    #[test]
    fn users_are_spread_over_the_nodes_evenly_and_stay() {
        let nodes: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            let n = spread_node(&format!("user{i:04}"), &nodes).unwrap();
            counts[nodes.iter().position(|x| x == n).unwrap()] += 1;
        }
        assert!(
            counts.iter().all(|&c| (900..=1100).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(spread_node("jdoe", &nodes), spread_node("jdoe", &nodes));
        assert_eq!(spread_node("jdoe", &[]), None);
    }

    #[test]
    fn hosts_and_ports_split() {
        assert_eq!(
            split_port("a.example.com:5060"),
            ("a.example.com", Some(5060))
        );
        assert_eq!(split_port("a.example.com"), ("a.example.com", None));
        assert_eq!(split_port("[::1]:5061"), ("::1", Some(5061)));
        assert_eq!(split_port("::1"), ("::1", None));
    }
}

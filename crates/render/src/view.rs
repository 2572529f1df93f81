//! What a renderer knows of a device: everything resolved (lines with their credentials,
//! servers, parameters), nothing to look up.

use model::provisioning::{element_name, line_element_name, PARAMS};
use model::{DeviceFamily, DndMode, Secret, SecurityMode};
use serde::Serialize;

/// A call-control server, in the order phones try them.
#[derive(Debug, Clone, Serialize)]
pub struct Server {
    pub host: String,
    pub sip_port: u16,
    pub secure_sip_port: u16,
    pub sccp_port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// Cisco's `transportLayerProtocol` code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Transport::Tcp => 1,
            Transport::Udp => 2,
            Transport::Tls => 4,
        }
    }
}

/// A line on a button.
#[derive(Debug, Clone, Serialize)]
pub struct LineView {
    pub button: i64,
    pub pattern: String,
    pub display_name: String,
    pub label: String,
    /// The SIP digest user.
    pub auth_name: String,
    /// The SIP digest credential, in clear: this is what goes into the file (never `Debug`).
    pub auth_password: Secret,
    pub max_calls: i64,
    pub busy_trigger: i64,
    pub shared: bool,
    /// The voicemail pilot number.
    pub voicemail: String,
    /// Call forward all, busy and no answer (empty: not set).
    pub forward_all: String,
    pub forward_busy: String,
    pub forward_no_answer: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpeedDialView {
    pub button: i64,
    pub number: String,
    pub label: String,
    /// Busy lamp field: enterprise feature 21 (speed dial with BLF), MPP `fnc=blf+sd+cp`.
    pub blf: bool,
}

/// A device as its files show it.
#[derive(Debug, Clone)]
pub struct DeviceView {
    pub name: String,
    /// 12 hex digits.
    pub mac: Option<String>,
    pub model: String,
    pub family: DeviceFamily,
    pub psn: Option<String>,
    /// The model's file name patterns (from the catalogue).
    pub file_patterns: Vec<String>,
    pub protocol: String,
    pub description: String,
    pub device_pool: String,
    pub user_locale: String,
    pub user_locale_lang: String,
    pub network_locale: String,
    pub servers: Vec<Server>,
    pub transport: Transport,
    pub security_mode: Option<SecurityMode>,
    pub lines: Vec<LineView>,
    pub speed_dials: Vec<SpeedDialView>,
    pub services_url: String,
    /// The corporate directory service (a phone's Directories button; an MPP phone's XML
    /// directory), empty when unknown.
    pub directory_url: String,
    pub expansion_modules: Vec<String>,
    pub dnd: DndMode,
    pub tftp_servers: Vec<String>,
    /// Resolved provisioning parameters, key → value, for MPP phones.
    pub parameters: Vec<(String, String)>,
    /// The profile rule the first-contact file gives an MPP phone (to its own file here).
    pub provisioning_rule: String,
    /// An auto-registered phone's self-provisioning service (a Cisco IP Phone XML service):
    /// enterprise phones get it as their services URL, MPP phones as their XML application.
    pub self_provisioning_url: Option<String>,
    /// A soft client's servers besides call control (seed 003), when it is a soft client.
    pub soft_client: Option<model::soft_client::ClientFile>,
    /// The firmware load chosen for it (enterprise `<loadInformation>`), if any.
    pub load: Option<String>,
    /// Where an MPP phone fetches that load's manifest (its `Upgrade_Rule`).
    pub upgrade_rule: String,
    /// This server as the phone reached it (`http://host:6970`, `tftp://host:69`): where the
    /// files of other vendors' phones send them back for their next resync.
    pub provisioning_url: String,
    /// The user name and password the phone sends when it fetches its files (its HTTP
    /// credential), for the files of vendors that carry it; never `Debug`.
    pub http_credential: Option<(String, Secret)>,
    /// The corporate directory another vendor's phone searches (its owner's LDAP profile).
    pub directory: Option<DirectoryView>,
}

/// An LDAP directory as a desk phone searches it.
#[derive(Debug, Clone)]
pub struct DirectoryView {
    pub host: String,
    pub port: u16,
    /// `tcp`, `ldaps` or `start_tls`.
    pub security: String,
    pub base: String,
    /// Empty with an anonymous bind.
    pub bind_dn: String,
    pub password: Secret,
    /// Below the base too.
    pub recursive: bool,
    /// The attributes of a person's first, last and display name (empty: not mapped).
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    /// The attributes of a person's numbers (business, mobile, home, other), those mapped.
    pub numbers: Vec<String>,
}

/// `XMLDefault.cnf.xml`.
#[derive(Debug, Clone, Serialize)]
pub struct DefaultView {
    pub servers: Vec<Server>,
    pub auto_registration: bool,
    pub version_stamp: &'static str,
}

impl DefaultView {
    pub fn new(servers: Vec<Server>, auto_registration: bool) -> DefaultView {
        DefaultView {
            servers,
            auto_registration,
            version_stamp: crate::STAMP_PLACEHOLDER,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct Ctx<'a> {
    d: CtxDevice<'a>,
    version_stamp: &'static str,
}

#[derive(Serialize)]
struct CtxDevice<'a> {
    name: &'a str,
    mac: &'a str,
    model: &'a str,
    protocol: &'a str,
    description: &'a str,
    device_pool: &'a str,
    user_locale: &'a str,
    user_locale_lang: &'a str,
    network_locale: &'a str,
    servers: &'a [Server],
    transport_code: u8,
    security_mode_code: u8,
    dnd_control: u8,
    lines: &'a [LineView],
    speed_dials: &'a [SpeedDialView],
    services_url: &'a str,
    directory_url: &'a str,
    expansion_modules: &'a [String],
    tftp_servers: &'a [String],
    soft_client: Option<&'a model::soft_client::ClientFile>,
    load: &'a str,
    flat: Vec<FlatEntry>,
}

/// One element of an MPP `<flat-profile>`.
#[derive(Serialize)]
struct FlatEntry {
    element: String,
    ua: &'static str,
    value: String,
}

impl DeviceView {
    pub(crate) fn context(&self) -> Ctx<'_> {
        Ctx {
            d: CtxDevice {
                name: &self.name,
                mac: self.mac.as_deref().unwrap_or_default(),
                model: &self.model,
                protocol: &self.protocol,
                description: &self.description,
                device_pool: &self.device_pool,
                user_locale: &self.user_locale,
                user_locale_lang: &self.user_locale_lang,
                network_locale: &self.network_locale,
                servers: &self.servers,
                transport_code: self.transport.code(),
                security_mode_code: match self.security_mode {
                    None | Some(SecurityMode::NonSecure) => 1,
                    Some(SecurityMode::Authenticated) => 2,
                    Some(SecurityMode::Encrypted) => 3,
                },
                dnd_control: match self.dnd {
                    DndMode::Off => 0,
                    DndMode::RingerOff => 1,
                    DndMode::CallReject => 2,
                },
                lines: &self.lines,
                speed_dials: &self.speed_dials,
                services_url: &self.services_url,
                directory_url: &self.directory_url,
                expansion_modules: &self.expansion_modules,
                tftp_servers: &self.tftp_servers,
                soft_client: self.soft_client.as_ref(),
                load: self.load.as_deref().unwrap_or_default(),
                flat: if self.family == DeviceFamily::Mpp {
                    self.flat_profile()
                } else {
                    Vec::new()
                },
            },
            version_stamp: crate::STAMP_PLACEHOLDER,
        }
    }

    /// The MPP `<flat-profile>` entries: station, provisioning parameters (seed order), lines.
    fn flat_profile(&self) -> Vec<FlatEntry> {
        let mut out = Vec::with_capacity(PARAMS.len() + 2 + 10 * self.lines.len());
        self.each_flat_entry(|element, ua, value| {
            out.push(FlatEntry {
                element: element.to_string(),
                ua,
                value: value.to_string(),
            })
        });
        out
    }

    /// Calls `f` with each `<flat-profile>` entry (element, ua, value), in file order.
    pub(crate) fn each_flat_entry(&self, mut f: impl FnMut(&str, &'static str, &str)) {
        f("Station_Name", "ro", &self.name);
        f("Station_Display_Name", "rw", &self.description);
        // Do Not Disturb: MPP phones have one kind, calls rejected (Phone > Supplementary
        // Services "DND Serv" offers it, User > "DND Setting" turns it on). Ringer off is not a
        // mode they have: it leaves DND off (docs/phones.md).
        f("DND_Serv", "na", "Yes");
        f(
            "DND_Setting",
            "rw",
            if self.dnd == DndMode::CallReject {
                "Yes"
            } else {
                "No"
            },
        );
        let names = param_elements();
        for (p, element) in PARAMS.iter().zip(names) {
            let value = self
                .parameters
                .iter()
                .find(|(k, _)| k == p.key)
                .map_or(p.default, |(_, v)| v.as_str());
            f(element, "na", value);
        }
        // The chosen firmware load (Provisioning > Firmware Upgrade: "Upgrade Enable",
        // "Upgrade Rule"); without one the phone keeps its own upgrade settings.
        if self.load.is_some() {
            f("Upgrade_Enable", "na", "Yes");
            f("Upgrade_Rule", "na", &self.upgrade_rule);
        }
        let proxy = self
            .servers
            .first()
            .map(|s| format!("{}:{}", s.host, s.sip_port))
            .unwrap_or_default();
        for (i, l) in self.lines.iter().enumerate() {
            let n = i as u32 + 1;
            let mut line =
                |web: &str, ua: &'static str, value: &str| f(&line_element_name(web, n), ua, value);
            line("Line Enable", "na", "Yes");
            line("Display Name", "ro", &l.display_name);
            line("User ID", "na", &l.pattern);
            line("Auth ID", "na", &l.auth_name);
            line(
                "Use Auth ID",
                "na",
                if l.auth_name.is_empty() { "No" } else { "Yes" },
            );
            line("Password", "na", l.auth_password.expose());
            line("Proxy", "na", &proxy);
            line("Extension", "na", &n.to_string());
            line(
                "Short Name",
                "rw",
                if l.label.is_empty() {
                    &l.pattern
                } else {
                    &l.label
                },
            );
            line("Voice Mail Server", "na", &l.voicemail);
            // Shared line appearance (Cisco IP Phone 8800 Multiplatform administration guide,
            // Ext(n) > Share Line Appearance: `Share_Ext_1_`, `Shared_User_ID_1_`).
            line("Share Ext", "na", if l.shared { "Yes" } else { "No" });
            line(
                "Shared User ID",
                "na",
                if l.shared { &l.pattern } else { "" },
            );
        }
        // Call forward (the same guide, "Parameters for Enable Call Forward on User Tab":
        // `Cfwd_All`, `Cfwd_All_Dest`, …) is the phone's, not a line's: the first line's.
        if let Some(l) = self.lines.first() {
            let yes = |v: &str| if v.is_empty() { "No" } else { "Yes" };
            f("Cfwd_All", "rw", yes(&l.forward_all));
            f("Cfwd_All_Dest", "rw", &l.forward_all);
            f("Cfwd_Busy", "rw", yes(&l.forward_busy));
            f("Cfwd_Busy_Dest", "rw", &l.forward_busy);
            f("Cfwd_No_Answer", "rw", yes(&l.forward_no_answer));
            f("Cfwd_No_Answer_Dest", "rw", &l.forward_no_answer);
            // Calls per line (the same guide, Voice > Phone > Miscellaneous Line Key Settings,
            // "Call Appearances Per Line", 1 to 10) is the phone's too: the first line's max
            // calls. MPP phones have no busy trigger of their own; the call control applies it.
            f(
                "Call_Appearances_Per_Line",
                "na",
                &l.max_calls.clamp(1, 10).to_string(),
            );
        }
        // Speed dials on their line keys (the key's `Extension_n_` Disabled, its
        // `Extended_Function_n_` `fnc=sd;ext=…@$PROXY;nme=…`), as the enterprise file puts them
        // on their buttons. A busy lamp field one subscribes to the number's state and picks up
        // its calls too (Cisco IP Phone 8800 MPP administration guide, "Configure Busy Lamp
        // Field": `fnc=blf+sd+cp;sub=…@$PROXY`).
        for sd in &self.speed_dials {
            let n = sd.button as u32;
            f(&line_element_name("Extension", n), "na", "Disabled");
            let label: String = sd.label.chars().filter(|c| *c != ';').collect();
            let number: String = sd.number.chars().filter(|c| *c != ';').collect();
            f(
                &line_element_name("Extended Function", n),
                "na",
                &if sd.blf {
                    format!("fnc=blf+sd+cp;sub={number}@$PROXY;ext={number}@$PROXY;nme={label}")
                } else {
                    format!("fnc=sd;ext={number}@$PROXY;nme={label}")
                },
            );
        }
        if !self.directory_url.is_empty() {
            f("XML_Directory_Service_Name", "na", "Corporate directory");
            f("XML_Directory_Service_URL", "na", &self.directory_url);
        }
        if let Some(url) = &self.self_provisioning_url {
            f("XML_Application_Service_Name", "na", "Self-provisioning");
            f("XML_Application_Service_URL", "na", url);
        }
    }
}

/// The element name of every provisioning parameter, in `PARAMS` order (made once).
fn param_elements() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| PARAMS.iter().map(|p| element_name(p.web_name)).collect())
}

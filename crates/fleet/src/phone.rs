//! One simulated phone: boots after its random delay, follows its profile rules (MPP) or fetches
//! its `SEP<MAC>.cnf.xml` (enterprise), applies the resync parameters it received, logs its
//! resyncs over syslog, and resyncs again when its timers say so or a NOTIFY wakes it.

use crate::sip::SipSide;
use crate::tftp;
use model::extension_mobility::query_encode;
use model::macros::PhoneMacros;
use model::profile_rule::ProfileRule;
use model::provisioning::{self, Behaviour, Origin, PARAMS};
use rand::Rng;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What every phone shares.
pub struct Fleet {
    /// The servers' HTTP base URLs: several are the nodes of a cluster, which a phone tries in
    /// turn when the one it uses does not answer (as it does the addresses a name resolves to,
    /// or DHCP option 150's list).
    pub http: Vec<String>,
    /// The servers' TFTP addresses, likewise.
    pub tftp: Vec<SocketAddr>,
    pub syslog: Option<SocketAddr>,
    pub scale: f64,
    pub blksize: u16,
    /// TFTP window the phones ask for (RFC 7440; 1: one block per acknowledgement).
    pub windowsize: u16,
    /// Resync Random Delay the phones boot with, in units of 20 s.
    pub boot_random_delay: u64,
    /// The Profile Rule MPP phones boot with (DHCP option 160), when given.
    pub profile_rule: Option<String>,
    pub start: Instant,
    /// The simulated time of day at start, in seconds.
    pub sim_start_of_day: f64,
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    pub latencies_us: Mutex<Vec<u32>>,
    /// Requests open at once, at most (the simulator's machine is not 100,000 phones).
    pub open: tokio::sync::Semaphore,
    /// Phones that have their own file, for the run that ends when all have.
    pub provisioned: AtomicU64,
    /// Extension mobility: each phone logs in with the user this makes of its index (`{i}`
    /// replaced) and this PIN, from its services menu, once it has its file.
    pub em_user: Option<String>,
    pub em_pin: String,
    /// Phone-time seconds after a login that the phone logs out again (none: it stays).
    pub em_logout_after: Option<f64>,
    /// Phone-time seconds after it got its file that the user walks up and logs in.
    pub em_login_after: f64,
    pub em_logins: AtomicU64,
    pub em_logouts: AtomicU64,
    /// Firmware loads fetched (a phone told of a load it does not run fetches it), and their
    /// bytes.
    pub upgrades: AtomicU64,
    pub upgrade_bytes: AtomicU64,
}

impl Fleet {
    fn phone_time(&self, secs: f64) -> Duration {
        Duration::from_secs_f64((secs / self.scale).max(0.0))
    }

    /// Seconds since midnight, simulated.
    fn sim_time_of_day(&self) -> f64 {
        (self.sim_start_of_day + self.start.elapsed().as_secs_f64() * self.scale) % 86_400.0
    }

    fn record(&self, started: Instant, ok: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let us = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        self.latencies_us.lock().expect("latencies").push(us);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Mpp,
    Enterprise,
    Yealink,
    Polycom,
    Grandstream,
    Snom,
}

impl Family {
    /// The family of a model of the catalogue (enterprise when it is not there).
    pub fn of_model(model: &str) -> Family {
        use model::DeviceFamily as D;
        match model::Catalog::builtin().get(model).map(|t| t.family) {
            Some(D::Mpp) => Family::Mpp,
            Some(D::Yealink) => Family::Yealink,
            Some(D::Polycom) => Family::Polycom,
            Some(D::Grandstream) => Family::Grandstream,
            Some(D::Snom) => Family::Snom,
            _ => Family::Enterprise,
        }
    }

    /// Another vendor's phone (`crate::vendor`).
    pub fn other_vendor(self) -> bool {
        !matches!(self, Family::Mpp | Family::Enterprise)
    }

    /// The NOTIFY event it resyncs on (`Event:` without its parameters).
    pub fn event(self) -> &'static str {
        match self {
            Family::Mpp => "resync",
            _ => "check-sync",
        }
    }
}

/// What a phone ends with.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    /// Its own file's name and the bytes it last got.
    pub file: String,
    pub bytes: Option<Vec<u8>>,
    /// When it first got those bytes.
    pub got_at: Option<Duration>,
    /// How it got them: `http` or `tftp`.
    pub via: &'static str,
    /// Where it got them: `http://host:port` or `tftp://host:port` (a node of a cluster).
    pub base: String,
    pub notifies: u64,
}

pub struct Phone {
    pub mac: String,
    pub model: String,
    pub family: Family,
    pub ip: IpAddr,
    pub sip: Arc<SipSide>,
    params: BTreeMap<String, String>,
    rules: [String; 4],
    out: Outcome,
    /// Set when the first full config arrived (counted once).
    counted: bool,
    /// The phone's index in the fleet (extension mobility's user).
    pub index: usize,
    /// Its services menu URL (enterprise files' `<servicesURL>`).
    services_url: Option<String>,
    /// Extension mobility: when it logged in (fleet time), and whether it logged out since.
    logged_in_at: Option<Instant>,
    logged_out: bool,
    /// When it first got its own file.
    provisioned_at: Option<Instant>,
    /// Its user tried to log in (once, whatever came of it).
    em_tried: bool,
    /// The firmware it runs, and the load its file names with where to fetch it (the manifest's
    /// name over TFTP for enterprise phones, MPP's Upgrade_Rule).
    pub firmware: String,
    load_wanted: Option<(String, String)>,
    /// The node it uses (an index in the fleet's lists): the one that last answered.
    pub node: usize,
    /// Where its last successful fetch went (`http://host:port`, `tftp://host:port`).
    last_base: String,
    /// The HTTP credential another vendor's phone was given in its files, sent when asked.
    http_credential: Option<(String, String)>,
}

enum Fetch {
    Got(Vec<u8>),
    NotFound(String),
    Failed(String),
}

impl Phone {
    pub fn new(mac: String, model: String, family: Family, ip: IpAddr, sip: Arc<SipSide>) -> Phone {
        let file = crate::vendor::own_file(family, &mac);
        Phone {
            out: Outcome {
                name: format!("SEP{}", mac.to_ascii_uppercase()),
                file,
                bytes: None,
                got_at: None,
                via: "http",
                base: String::new(),
                notifies: 0,
            },
            mac,
            family,
            ip,
            sip,
            params: BTreeMap::new(),
            rules: Default::default(),
            counted: false,
            index: 0,
            services_url: None,
            logged_in_at: None,
            logged_out: false,
            provisioned_at: None,
            em_tried: false,
            firmware: match family {
                Family::Mpp => "sip88xx.11-3-1MPP".into(),
                _ => format!("sip{model}.12-8-1"),
            },
            load_wanted: None,
            node: 0,
            last_base: String::new(),
            http_credential: None,
            model,
        }
    }

    /// The HTTP base URL of the node it uses.
    fn http_base(&self, fleet: &Fleet) -> Option<String> {
        (!fleet.http.is_empty()).then(|| fleet.http[self.node % fleet.http.len()].clone())
    }

    /// The TFTP server of the node it uses.
    fn tftp_server(&self, fleet: &Fleet) -> Option<SocketAddr> {
        (!fleet.tftp.is_empty()).then(|| fleet.tftp[self.node % fleet.tftp.len()])
    }

    fn psn(&self) -> String {
        format!("{}-3PCC", self.model)
    }

    fn macros(&self, extra: &[(&str, String)]) -> PhoneMacros {
        PhoneMacros {
            mac: self.mac.clone(),
            product_name: format!("CP-{}", self.psn()),
            product_serial_name: self.psn(),
            serial_number: format!("FCH{}", &self.mac[6..]),
            extra: std::iter::once(("SWVER".to_string(), self.firmware.clone()))
                .chain(extra.iter().map(|(k, v)| (k.to_string(), v.clone())))
                .collect(),
        }
    }

    fn behaviour(&self) -> Behaviour {
        provisioning::resolve(&[(Origin::Default, &self.params)]).behaviour()
    }

    fn param(&self, key: &str) -> String {
        self.params.get(key).cloned().unwrap_or_else(|| {
            PARAMS
                .iter()
                .find(|p| p.key == key)
                .map(|p| p.default.to_string())
                .unwrap_or_default()
        })
    }

    fn log(&mut self, fleet: &Fleet, key: &str, extra: &[(&str, String)]) {
        let Some(to) = fleet.syslog else { return };
        let text = self.param(key);
        if text.is_empty() {
            return;
        }
        let msg = self.macros(extra).expand(&text).into_owned();
        let stamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[month repr:short] [day padding:space] [hour]:[minute]:[second]"
            ))
            .unwrap_or_default();
        // A socket for the message alone: a phone's few log lines do not need one held open.
        if let Ok(s) = std::net::UdpSocket::bind(SocketAddr::new(self.ip, 0)) {
            let _ = s.send_to(format!("<134>{stamp} {} {msg}", self.ip).as_bytes(), to);
        }
    }

    /// A client for one resync: a phone holds no connection between resyncs (and 100,000
    /// phones' idle connections would be 100,000 descriptors and clients).
    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(self.ip)
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTP client")
    }

    /// GET `url`; when it is on a node of the cluster that does not answer, on the next
    /// nodes in turn (the phone then stays on the one that answered).
    async fn http_get(
        &mut self,
        fleet: &Fleet,
        url: &str,
        cred: Option<(String, String)>,
    ) -> Fetch {
        let on = fleet.http.iter().position(|b| {
            url.strip_prefix(b.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
        let Some(k) = on else {
            let got = self.http_get_once(fleet, url, cred).await;
            if matches!(got, Fetch::Got(_)) {
                self.last_base = url_base(url);
            }
            return got;
        };
        let rest = &url[fleet.http[k].len()..];
        let n = fleet.http.len();
        let mut got = Fetch::Failed("no node".into());
        for j in 0..n {
            let node = (k + j) % n;
            got = self
                .http_get_once(fleet, &format!("{}{rest}", fleet.http[node]), cred.clone())
                .await;
            match &got {
                Fetch::Failed(why) if why.starts_with("HTTP: ") => continue,
                Fetch::Got(_) => {
                    self.node = node;
                    self.last_base = fleet.http[node].clone();
                    break;
                }
                _ => break,
            }
        }
        got
    }

    async fn http_get_once(
        &mut self,
        fleet: &Fleet,
        url: &str,
        cred: Option<(String, String)>,
    ) -> Fetch {
        let ua = match self.family {
            Family::Mpp => format!(
                "Cisco-CP-{}/11.3.1 ({})",
                self.psn(),
                self.mac.to_ascii_lowercase()
            ),
            Family::Enterprise => format!("Cisco-CP{}G/8.0", self.model),
            other => crate::vendor::user_agent(other, &self.model, &self.mac),
        };
        let client = self.client();
        let _permit = fleet.open.acquire().await.expect("semaphore");
        let started = Instant::now();
        let first = client
            .get(url)
            .header(reqwest::header::USER_AGENT, &ua)
            .send()
            .await;
        let r = match (first, &cred) {
            (Ok(r), Some((user, pass))) if r.status() == reqwest::StatusCode::UNAUTHORIZED => {
                fleet.record(started, false);
                let challenges: Vec<String> = r
                    .headers()
                    .get_all(reqwest::header::WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_string))
                    .collect();
                let path = reqwest::Url::parse(url)
                    .map(|u| u.path().to_string())
                    .unwrap_or_default();
                let digest = challenges
                    .iter()
                    .filter(|c| c.starts_with("Digest"))
                    .find(|c| c.contains("MD5"))
                    .and_then(|c| {
                        let mut w = digest_auth::WwwAuthenticateHeader::parse(c).ok()?;
                        w.respond(&digest_auth::AuthContext::new(
                            user.as_str(),
                            pass.as_str(),
                            path.as_str(),
                        ))
                        .ok()
                        .map(|a| a.to_header_string())
                    });
                let started = Instant::now();
                let again = client.get(url).header(reqwest::header::USER_AGENT, &ua);
                let again = match digest {
                    Some(d) => again.header(reqwest::header::AUTHORIZATION, d),
                    None => again.basic_auth(user, Some(pass)),
                };
                let r = again.send().await;
                return self.finish(fleet, started, r).await;
            }
            (r, _) => r,
        };
        self.finish(fleet, started, r).await
    }

    async fn finish(
        &mut self,
        fleet: &Fleet,
        started: Instant,
        r: Result<reqwest::Response, reqwest::Error>,
    ) -> Fetch {
        match r {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(b) => {
                    fleet.record(started, true);
                    Fetch::Got(b.to_vec())
                }
                Err(e) => {
                    fleet.record(started, false);
                    Fetch::Failed(format!("HTTP body: {e}"))
                }
            },
            Ok(r) => {
                fleet.record(started, false);
                let s = r.status();
                let why = format!("HTTP {} {}", s.as_u16(), s.canonical_reason().unwrap_or(""));
                if s == reqwest::StatusCode::NOT_FOUND {
                    Fetch::NotFound(why)
                } else {
                    Fetch::Failed(why)
                }
            }
            Err(e) => {
                fleet.record(started, false);
                Fetch::Failed(format!("HTTP: {e}"))
            }
        }
    }

    /// Reads `file` from `server`; when it is a node of the cluster that does not answer, from
    /// the next nodes in turn (the phone then stays on the one that answered).
    async fn tftp_get(&mut self, fleet: &Fleet, server: SocketAddr, file: &str) -> Fetch {
        let Some(k) = fleet.tftp.iter().position(|t| *t == server) else {
            let got = self.tftp_get_once(fleet, server, file).await;
            if matches!(got, Fetch::Got(_)) {
                self.last_base = format!("tftp://{server}");
            }
            return got;
        };
        let n = fleet.tftp.len();
        let mut got = Fetch::Failed("no node".into());
        for j in 0..n {
            let node = (k + j) % n;
            got = self.tftp_get_once(fleet, fleet.tftp[node], file).await;
            match &got {
                Fetch::Failed(_) => continue,
                Fetch::Got(_) => {
                    self.node = node;
                    self.last_base = format!("tftp://{}", fleet.tftp[node]);
                    break;
                }
                Fetch::NotFound(_) => break,
            }
        }
        got
    }

    async fn tftp_get_once(&mut self, fleet: &Fleet, server: SocketAddr, file: &str) -> Fetch {
        let _permit = fleet.open.acquire().await.expect("semaphore");
        let started = Instant::now();
        let r = tftp::get(
            self.ip,
            server,
            file,
            fleet.blksize,
            fleet.windowsize,
            Duration::from_secs(2),
        )
        .await;
        fleet.record(started, r.is_ok());
        match r {
            Ok(b) => Fetch::Got(b),
            Err(tftp::TftpError::Server(1, m)) => {
                Fetch::NotFound(format!("TFTP file not found ({m})"))
            }
            Err(e) => Fetch::Failed(e.to_string()),
        }
    }

    /// Takes in a file: MPP parameters and rules, the line credential, and, when it is the
    /// phone's own file, its bytes.
    fn apply(&mut self, fleet: &Fleet, file: &str, bytes: Vec<u8>, via: &'static str) {
        let text = String::from_utf8_lossy(&bytes).to_string();
        if let Ok(doc) = roxmltree::Document::parse(&text) {
            let root = doc.root_element();
            if root.has_tag_name("flat-profile") {
                let mut auth: Option<String> = None;
                let mut user: Option<String> = None;
                let mut pass: Option<String> = None;
                let (mut upgrade, mut rule) = (false, String::new());
                for el in root.children().filter(|n| n.is_element()) {
                    let tag = el.tag_name().name();
                    let value = el.text().unwrap_or("").to_string();
                    if let Some(p) = PARAMS
                        .iter()
                        .find(|p| provisioning::element_name(p.web_name) == tag)
                    {
                        self.params.insert(p.key.to_string(), value.clone());
                    }
                    match tag {
                        "Auth_ID_1_" => auth = Some(value),
                        "User_ID_1_" => user = Some(value),
                        "Password_1_" => pass = Some(value),
                        "Upgrade_Enable" => upgrade = value == "Yes",
                        "Upgrade_Rule" => rule = value,
                        _ => {}
                    }
                }
                // The load is the rule's file without `.loads`.
                if upgrade && !rule.is_empty() {
                    let file = rule.rsplit('/').next().unwrap_or_default();
                    let load = model::firmware::load_of_file(file).unwrap_or(file);
                    self.load_wanted = Some((load.to_string(), rule));
                }
                for (i, key) in [
                    "profile_rule",
                    "profile_rule_b",
                    "profile_rule_c",
                    "profile_rule_d",
                ]
                .iter()
                .enumerate()
                {
                    if let Some(v) = self.params.get(*key) {
                        self.rules[i] = v.clone();
                    }
                }
                if let Some(p) = pass.filter(|p| !p.is_empty()) {
                    let name = auth.filter(|a| !a.is_empty()).or(user).unwrap_or_default();
                    *self.sip.credential.lock().expect("credential") = Some((name, p));
                }
            } else if root.has_tag_name("device") {
                let find = |n: &str| {
                    root.descendants()
                        .find(|x| x.has_tag_name(n))
                        .and_then(|x| x.text())
                        .map(str::to_string)
                };
                if let Some(u) = find("servicesURL").filter(|u| !u.is_empty()) {
                    self.services_url = Some(u);
                }
                if let Some(l) = find("loadInformation").filter(|l| !l.is_empty()) {
                    let file = format!("{l}{}", model::firmware::LOADS_SUFFIX);
                    self.load_wanted = Some((l, file));
                }
                if let (Some(a), Some(p)) = (find("authName"), find("authPassword")) {
                    if !p.is_empty() {
                        *self.sip.credential.lock().expect("credential") = Some((a, p));
                    }
                }
            }
        }
        if file.eq_ignore_ascii_case(&self.out.file) {
            self.out.via = via;
            self.out.base = self.last_base.clone();
            if self.out.bytes.as_deref() != Some(&bytes[..]) {
                self.out.bytes = Some(bytes);
                self.out.got_at = Some(fleet.start.elapsed());
            }
            if !self.counted {
                self.counted = true;
                self.provisioned_at = Some(Instant::now());
                fleet.provisioned.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    /// One resync: every profile rule in turn (MPP), or the phone's file (enterprise). True
    /// when nothing failed.
    async fn resync(&mut self, fleet: &Fleet) -> bool {
        if self.family.other_vendor() {
            return self.vendor_resync(fleet).await;
        }
        if self.family == Family::Enterprise {
            let file = self.out.file.clone();
            let (got, via) = match (self.http_base(fleet), self.tftp_server(fleet)) {
                (Some(base), _) => (
                    self.http_get(fleet, &format!("{base}/{file}"), None).await,
                    "http",
                ),
                (None, Some(t)) => (self.tftp_get(fleet, t, &file).await, "tftp"),
                (None, None) => return false,
            };
            return match got {
                Fetch::Got(b) => {
                    self.apply(fleet, &file, b, via);
                    true
                }
                _ => false,
            };
        }
        if self.rules.iter().all(|r| r.trim().is_empty()) {
            self.rules[0] = match (&fleet.profile_rule, self.http_base(fleet)) {
                (Some(rule), _) => rule.clone(),
                (None, Some(base)) => format!("{base}/$PSN.xml"),
                (None, None) => "/$PSN.xml".into(),
            };
        }
        let fails_on_fnf = self.behaviour().fails_on_fnf;
        let mut ok = true;
        for i in 0..4 {
            let text = self.rules[i].clone();
            if text.trim().is_empty() {
                continue;
            }
            let Ok(rule) = ProfileRule::parse("rule", &text) else {
                ok = false;
                self.log(
                    fleet,
                    "log_failure_msg",
                    &[("ERR", format!("bad profile rule {text}"))],
                );
                continue;
            };
            let macros = self.macros(&[]);
            let expand = |s: &str| macros.expand(s).into_owned();
            let Some(alt) = rule.choose(&expand) else {
                continue;
            };
            let scheme = alt.url.scheme.clone().map(|s| expand(&s));
            let path = expand(&alt.url.path);
            let (server, port) = match (&scheme, &alt.url.server) {
                (Some(_), Some(s)) => (
                    expand(s),
                    alt.url
                        .port
                        .as_deref()
                        .map(&expand)
                        .unwrap_or_else(|| alt.url.default_port().to_string()),
                ),
                _ => match self.tftp_server(fleet) {
                    Some(t) => (t.ip().to_string(), t.port().to_string()),
                    None => (String::new(), String::new()),
                },
            };
            let scheme_name = scheme.clone().unwrap_or_else(|| "tftp".into());
            let url_macros = [
                ("SCHEME", scheme_name.clone()),
                ("SERVIP", server.clone()),
                ("PORT", port.clone()),
                ("PATH", path.clone()),
            ];
            self.log(fleet, "log_request_msg", &url_macros);
            let cred = alt.uid.as_ref().map(|u| {
                (
                    expand(u),
                    alt.pwd.as_deref().map(&expand).unwrap_or_default(),
                )
            });
            let got = match scheme_name.as_str() {
                "http" | "https" => {
                    let url = format!("{scheme_name}://{server}:{port}{path}");
                    self.http_get(fleet, &url, cred).await
                }
                _ => match format!("{server}:{port}").parse::<SocketAddr>() {
                    Ok(a) => {
                        let file = path.trim_start_matches('/').to_string();
                        self.tftp_get(fleet, a, &file).await
                    }
                    Err(_) => Fetch::Failed("no TFTP server".into()),
                },
            };
            let file = path.rsplit('/').next().unwrap_or("").to_string();
            match got {
                Fetch::Got(bytes) => {
                    let via = if matches!(scheme_name.as_str(), "http" | "https") {
                        "http"
                    } else {
                        "tftp"
                    };
                    self.apply(fleet, &file, bytes, via);
                    self.log(fleet, "log_success_msg", &url_macros);
                }
                Fetch::NotFound(why) if fails_on_fnf => {
                    ok = false;
                    self.log(fleet, "log_failure_msg", &[("ERR", why)]);
                }
                Fetch::NotFound(_) => {}
                Fetch::Failed(why) => {
                    ok = false;
                    self.log(fleet, "log_failure_msg", &[("ERR", why)]);
                }
            }
        }
        ok
    }

    /// One resync of another vendor's phone: the files its vendor's phones ask for, in their
    /// order, each naming the next where the vendor's do (`crate::vendor`), over HTTP with its
    /// User-Agent and the credential its files gave it, or over TFTP. True when nothing failed.
    async fn vendor_resync(&mut self, fleet: &Fleet) -> bool {
        use crate::vendor::{self, Missing};
        let files = model::Catalog::builtin()
            .get(&self.model)
            .map(|t| t.files.clone())
            .unwrap_or_default();
        let mut queue: std::collections::VecDeque<vendor::Step> =
            vendor::first_steps(self.family, &self.model, &self.mac, &files).into();
        let mut ok = true;
        // A phone asks for a bounded number of files in one resync, whatever the files say.
        let mut left = 16;
        while let Some(step) = queue.pop_front() {
            left -= 1;
            if left == 0 {
                return false;
            }
            let (got, via) = match (self.http_base(fleet), self.tftp_server(fleet)) {
                (Some(base), _) => {
                    let url = format!("{base}/{}", step.file);
                    let cred = self.http_credential.clone();
                    (self.http_get(fleet, &url, cred).await, "http")
                }
                (None, Some(t)) => (self.tftp_get(fleet, t, &step.file).await, "tftp"),
                (None, None) => return false,
            };
            match got {
                Fetch::Got(bytes) => {
                    let text = String::from_utf8_lossy(&bytes).to_string();
                    let learned = vendor::learn(self.family, &text, &self.mac);
                    for s in learned.next.into_iter().rev() {
                        queue.push_front(s);
                    }
                    if let Some(c) = learned.sip_credential {
                        *self.sip.credential.lock().expect("credential") = Some(c);
                    }
                    if learned.http_credential.is_some() {
                        self.http_credential = learned.http_credential;
                    }
                    if let Some(secs) = learned.periodic_secs {
                        self.params
                            .insert("resync_periodic".into(), secs.to_string());
                    }
                    self.apply(fleet, &step.file, bytes, via);
                }
                Fetch::NotFound(_) => match step.on_missing {
                    Missing::Skip => {}
                    Missing::Instead(file) => queue.push_front(vendor::Step {
                        file,
                        on_missing: Missing::Fail,
                    }),
                    Missing::Fail => ok = false,
                },
                Fetch::Failed(_) => ok = false,
            }
        }
        ok
    }

    /// Seconds until the next resync the timers ask for, `None` for none.
    fn next_resync(&self, fleet: &Fleet, ok: bool) -> Option<f64> {
        let b = self.behaviour();
        let mut rng = rand::thread_rng();
        if !ok && b.error_retry_secs > 0 {
            return Some(b.error_retry_secs as f64);
        }
        if let Some((h, m)) = b.resync_at {
            let at = f64::from(h) * 3600.0 + f64::from(m) * 60.0;
            let now = fleet.sim_time_of_day();
            let mut wait = at - now;
            if wait <= 0.0 {
                wait += 86_400.0;
            }
            let extra = if b.at_random_delay_secs > 0 {
                rng.gen_range(0..=b.at_random_delay_secs) as f64
            } else {
                0.0
            };
            return Some(wait + extra);
        }
        if b.periodic_secs > 0 {
            let extra = if b.random_delay_secs > 0 {
                rng.gen_range(0..=b.random_delay_secs) as f64
            } else {
                0.0
            };
            return Some(b.periodic_secs as f64 + extra);
        }
        None
    }

    /// Lives until the fleet's end (or, without one, forever: the caller stops it).
    pub async fn run(
        mut self,
        fleet: Arc<Fleet>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Outcome {
        let boot = if fleet.boot_random_delay > 0 {
            rand::thread_rng().gen_range(0..=fleet.boot_random_delay * 20) as f64
        } else {
            0.0
        };
        tokio::select! {
            _ = tokio::time::sleep(fleet.phone_time(boot)) => {}
            _ = stop.changed() => return self.done(),
        }
        let mut chained = 0;
        loop {
            if *stop.borrow() {
                return self.done();
            }
            let rules_before = self.rules.clone();
            let ok = self.resync(&fleet).await;
            // A file that gave the phone new profile rules sends it on at once (the first-contact
            // file does that), a few times at most.
            if ok && self.rules != rules_before && chained < 3 {
                chained += 1;
                continue;
            }
            chained = 0;
            if ok && self.counted {
                self.upgrade(&fleet).await;
                self.extension_mobility(&fleet).await;
            }
            let mut wait = self.next_resync(&fleet, ok);
            // A phone whose user has yet to walk up wakes to log in (once).
            if let (Some(at), Some(_), None, false, true) = (
                self.provisioned_at,
                &fleet.em_user,
                self.logged_in_at,
                self.em_tried,
                self.services_url.is_some(),
            ) {
                let left =
                    (fleet.em_login_after - at.elapsed().as_secs_f64() * fleet.scale).max(0.0);
                wait = Some(wait.map_or(left, |w| w.min(left)));
            }
            // A phone logged in wakes when its login's time is up, to log out.
            if let (Some(at), Some(after), false) =
                (self.logged_in_at, fleet.em_logout_after, self.logged_out)
            {
                let left = (after - at.elapsed().as_secs_f64() * fleet.scale).max(0.0);
                wait = Some(wait.map_or(left, |w| w.min(left)));
            }
            let timer = async {
                match wait {
                    Some(s) => tokio::time::sleep(fleet.phone_time(s)).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = timer => {}
                _ = self.sip.resync.notified() => {}
                _ = stop.changed() => return self.done(),
            }
        }
    }

    /// Fetches the load its file names when it runs another: an enterprise phone its manifest
    /// over TFTP (over HTTP when the fleet has no TFTP server), an MPP phone what its
    /// Upgrade_Rule says. It then runs that load (the manifest's signed contents are Cisco's,
    /// not simulated), which its syslog `$SWVER` says from then on.
    async fn upgrade(&mut self, fleet: &Fleet) {
        let Some((load, from)) = self.load_wanted.clone() else {
            return;
        };
        if model::firmware::runs(&self.firmware, &load) {
            return;
        }
        let got = if from.starts_with("http://") || from.starts_with("https://") {
            self.http_get(fleet, &from, None).await
        } else {
            let file = from
                .strip_prefix("tftp://")
                .map(|r| r.split_once('/').map_or("", |(_, f)| f))
                .unwrap_or(&from)
                .trim_start_matches('/')
                .to_string();
            match (self.tftp_server(fleet), self.http_base(fleet)) {
                (Some(t), _) => self.tftp_get(fleet, t, &file).await,
                (None, Some(h)) => self.http_get(fleet, &format!("{h}/{file}"), None).await,
                (None, None) => return,
            }
        };
        match got {
            Fetch::Got(bytes) => {
                fleet.upgrades.fetch_add(1, Ordering::Relaxed);
                fleet
                    .upgrade_bytes
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                self.firmware = load;
            }
            // It keeps what it runs, and tries again at its next resync.
            Fetch::NotFound(_) | Fetch::Failed(_) => {}
        }
    }

    /// A Cisco IP Phone XML object from the phone's services, as the phone would fetch it.
    async fn service_get(&mut self, fleet: &Fleet, url: &str) -> Option<String> {
        match self.http_get(fleet, url, None).await {
            Fetch::Got(b) => Some(String::from_utf8_lossy(&b).to_string()),
            _ => None,
        }
    }

    /// Extension mobility as a user at the phone does it: Services, Extension Mobility, then
    /// the user ID and PIN (or, when its time is up, Log out). True when it logged in or out.
    async fn extension_mobility(&mut self, fleet: &Fleet) -> bool {
        let (Some(user), Some(menu_url)) = (fleet.em_user.clone(), self.services_url.clone())
        else {
            return false;
        };
        let logout_due = match (self.logged_in_at, fleet.em_logout_after) {
            (Some(at), Some(after)) => !self.logged_out && at.elapsed() >= fleet.phone_time(after),
            _ => false,
        };
        if self.logged_in_at.is_some() && !logout_due {
            return false;
        }
        let walked_up = self
            .provisioned_at
            .is_some_and(|at| at.elapsed() >= fleet.phone_time(fleet.em_login_after));
        if self.logged_in_at.is_none() && (!walked_up || self.em_tried) {
            return false;
        }
        if self.logged_in_at.is_none() {
            self.em_tried = true;
        }
        let Some(menu) = self.service_get(fleet, &menu_url).await else {
            return false;
        };
        let Some(em_url) = menu_item(&menu, "Extension Mobility") else {
            return false;
        };
        let Some(page) = self.service_get(fleet, &em_url).await else {
            return false;
        };
        if logout_due {
            let Some(out) = soft_key(&page, "Log out") else {
                return false;
            };
            if self
                .service_get(fleet, &out)
                .await
                .is_some_and(|t| t.contains("Logged out"))
            {
                self.logged_out = true;
                fleet.em_logouts.fetch_add(1, Ordering::AcqRel);
                return true;
            }
            return false;
        }
        if page.contains("<CiscoIPPhoneText>") {
            // Someone is logged in already (from an earlier run): the phone takes it as its own.
            self.logged_in_at = Some(Instant::now());
            return false;
        }
        let Some(action) = tag_text(&page, "URL") else {
            return false;
        };
        let user = user.replace("{i}", &self.index.to_string());
        let url = format!(
            "{action}&user={}&pin={}",
            query_encode(&user),
            query_encode(&fleet.em_pin)
        );
        if self
            .service_get(fleet, &url)
            .await
            .is_some_and(|t| t.contains("Welcome"))
        {
            self.logged_in_at = Some(Instant::now());
            fleet.em_logins.fetch_add(1, Ordering::AcqRel);
            return true;
        }
        false
    }

    fn done(mut self) -> Outcome {
        self.out.notifies = self.sip.notifies.load(Ordering::Relaxed);
        self.out
    }
}

/// The text of the first `<tag>` in an XML object.
fn tag_text(xml: &str, tag: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    doc.descendants()
        .find(|n| n.has_tag_name(tag))
        .and_then(|n| n.text())
        .map(str::to_string)
}

/// The URL of the `<MenuItem>` (or `<SoftKeyItem>`) named `name`.
fn item_url(xml: &str, item: &str, name: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    doc.descendants()
        .filter(|n| n.has_tag_name(item))
        .find(|n| {
            n.children()
                .any(|c| c.has_tag_name("Name") && c.text() == Some(name))
        })
        .and_then(|n| n.children().find(|c| c.has_tag_name("URL")))
        .and_then(|u| u.text())
        .map(str::to_string)
}

fn menu_item(xml: &str, name: &str) -> Option<String> {
    item_url(xml, "MenuItem", name)
}

fn soft_key(xml: &str, name: &str) -> Option<String> {
    item_url(xml, "SoftKeyItem", name)
}

/// `scheme://host[:port]` of a URL.
fn url_base(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest))
        }
        None => String::new(),
    }
}

//! From a phone's request (file name, user agent) to the device and the bytes it gets: which
//! device asks (MAC in the file name, case-insensitive, or the MPP User-Agent), its resolved view
//! (lines with credentials, system settings, provisioning parameters), the renderer, and a cache
//! of rendered files that is never stale: every entry carries the store's generation, which
//! every committed write increases, and is used only while the generation is unchanged.
#![forbid(unsafe_code)]

pub mod reports;
pub mod resync;

use model::rules::DeviceClass;
use model::{Catalog, DeviceFamily, Mac, PhoneAuth, SipTransport, SystemKind};
use render::{DefaultView, DeviceView, LineView, Renderer, Server, SpeedDialView, Transport};
use service::Service;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Service(#[from] service::Error),
    #[error("{0}")]
    Store(#[from] store::Error),
    #[error("{0}")]
    Render(#[from] render::RenderError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Who may have a file (system setting `phone_auth`).
#[derive(Debug, Clone)]
pub enum Access {
    /// Whoever asks.
    Anyone,
    /// Only a client presenting the device's own HTTP credential.
    Device(Arc<service::DeviceCredential>),
    /// The file needs the device's credential and the device has none: nobody, until an
    /// administrator sets one.
    Nobody,
}

/// What a request gets.
#[derive(Debug, Clone)]
pub enum Answer {
    File {
        bytes: bytes::Bytes,
        content_type: &'static str,
        /// The device it was rendered for, when there is one.
        device: Option<String>,
        device_id: Option<i64>,
        /// Who may have it: the servers check this before sending a byte.
        access: Access,
    },
    /// Nothing to serve, and why (for the log, never for the phone).
    NotFound(String),
}

#[derive(Clone)]
struct Cached {
    generation: i64,
    bytes: bytes::Bytes,
    content_type: &'static str,
    device: Option<String>,
    device_id: Option<i64>,
    access: Access,
}

/// Beyond this many cached files the cache starts again empty (the Host header is part of a
/// key, and a client can send any).
const CACHE_LIMIT: usize = 1_000_000;

/// Serves phone files.
pub struct Provisioner {
    service: Service,
    renderer: Arc<Renderer>,
    cache: Mutex<HashMap<String, Cached>>,
    /// Requests seen since the last flush, by device.
    seen: Mutex<HashMap<i64, store::status::Seen>>,
}

impl std::fmt::Debug for Provisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioner")
            .field("renderer", &self.renderer)
            .finish_non_exhaustive()
    }
}

/// A file name as a phone may ask for it: the last segment of the path, refused when it could
/// name anything outside the namespace.
pub fn file_name(path: &str) -> Option<&str> {
    if path.contains('\0') || path.contains('\\') || path.split('/').any(|s| s == "..") {
        return None;
    }
    let name = path.rsplit('/').next()?;
    (!name.is_empty() && name != "." && name.len() <= 128).then_some(name)
}

/// The MAC an MPP phone gives in its User-Agent: `Cisco-CP-8861-3PCC/11.3.1 (00562b043615)`.
pub fn mac_from_user_agent(ua: &str) -> Option<Mac> {
    if !ua.starts_with("Cisco-CP-") {
        return None;
    }
    let inner = ua.rsplit_once('(')?.1.split(')').next()?;
    Mac::parse(inner.trim()).ok()
}

fn content_type(file: &str) -> &'static str {
    if file.to_ascii_lowercase().ends_with(".xml") {
        "text/xml; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    }
}

fn servers(s: &model::SystemSettings) -> Vec<Server> {
    s.servers
        .iter()
        .map(|x| Server {
            host: x.host.clone(),
            sip_port: x.sip_port,
            secure_sip_port: x.secure_sip_port,
            sccp_port: x.sccp_port,
        })
        .collect()
}

/// Which device a file name names, before the store is asked.
enum Wanted {
    Mac(Mac),
    Name(String),
    FirstContact,
    Default,
    Never,
    Unknown,
}

fn wanted(file: &str) -> Wanted {
    let lower = file.to_ascii_lowercase();
    if (lower.starts_with("ctlsep") && lower.ends_with(".tlv"))
        || (lower.starts_with("itl") && lower.ends_with(".tlv"))
    {
        return Wanted::Never;
    }
    if lower == "xmldefault.cnf.xml" {
        return Wanted::Default;
    }
    if let Some(mac) = lower
        .strip_prefix("sep")
        .and_then(|r| r.strip_suffix(".cnf.xml"))
    {
        return Mac::parse(mac).map(Wanted::Mac).unwrap_or(Wanted::Unknown);
    }
    if let Some(rest) = lower.strip_suffix(".xml") {
        if rest.len() == 12 {
            if let Ok(m) = Mac::parse(rest) {
                return Wanted::Mac(m);
            }
        }
    }
    if lower.starts_with("upc") && lower.ends_with(".cnf.xml") {
        return Wanted::Name(file[..file.len() - ".cnf.xml".len()].to_string());
    }
    let psn = lower.strip_suffix(".xml").or_else(|| {
        lower
            .strip_prefix("spa")
            .and_then(|r| r.strip_suffix(".cfg"))
    });
    if let Some(psn) = psn {
        if Catalog::builtin().devices().any(|t| {
            t.psn
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case(psn))
        }) {
            return Wanted::FirstContact;
        }
    }
    Wanted::Unknown
}

impl Provisioner {
    pub fn new(service: Service, renderer: Arc<Renderer>) -> Provisioner {
        Provisioner {
            service,
            renderer,
            cache: Mutex::new(HashMap::new()),
            seen: Mutex::new(HashMap::new()),
        }
    }

    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Answers a phone's request for `path`. `user_agent` identifies MPP phones; `base_url` is
    /// how the phone reached this server (`http://host:port`), for the rule of the first-contact
    /// file.
    pub async fn fetch(
        &self,
        path: &str,
        user_agent: Option<&str>,
        base_url: &str,
    ) -> Result<Answer> {
        let Some(file) = file_name(path) else {
            return Ok(Answer::NotFound(format!(
                "`{path}` is outside the phone files"
            )));
        };
        let wanted = wanted(file);
        if let Wanted::Never = wanted {
            return Ok(Answer::NotFound(format!(
                "{file}: Dialtone serves no security files"
            )));
        }
        let ua_mac = user_agent.and_then(mac_from_user_agent);
        // Rules in first-contact and MPP files point back at the address the phone used.
        let key = format!("{}|{base_url}", file.to_ascii_lowercase());
        // The first-contact file is the same for every phone of a model; who asks (and whether
        // an unknown phone may have it) is decided per request, never cached.
        let first_contact = if let Wanted::FirstContact = wanted {
            let id = match &ua_mac {
                Some(m) => {
                    let mut c = self.service.store().read().await?;
                    store::devices::by_mac(&mut c, m.as_str())
                        .await?
                        .map(|(id, _)| id)
                }
                None => None,
            };
            if id.is_none() && self.auto_registration().await?.is_none() {
                return Ok(Answer::NotFound(format!(
                    "{file}: the phone is not in the directory and auto-registration is off"
                )));
            }
            Some(id)
        } else {
            None
        };
        let generation = self.service.store().generation().await?;
        if let Some(c) = self.cache.lock().expect("cache lock").get(&key) {
            if c.generation == generation {
                return Ok(Answer::File {
                    bytes: c.bytes.clone(),
                    content_type: c.content_type,
                    device: c.device.clone(),
                    device_id: first_contact.unwrap_or(c.device_id),
                    access: c.access.clone(),
                });
            }
        }
        let answer = self.render_fresh(file, wanted, base_url).await?;
        let answer = match (answer, first_contact) {
            (
                Answer::File {
                    bytes,
                    content_type,
                    device,
                    access,
                    ..
                },
                Some(id),
            ) => Answer::File {
                bytes,
                content_type,
                device,
                device_id: id,
                access,
            },
            (a, _) => a,
        };
        if let Answer::File {
            bytes,
            content_type,
            device,
            device_id,
            access,
        } = &answer
        {
            let mut cache = self.cache.lock().expect("cache lock");
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(
                key,
                Cached {
                    generation,
                    bytes: bytes.clone(),
                    content_type,
                    device: device.clone(),
                    device_id: *device_id,
                    access: access.clone(),
                },
            );
        }
        Ok(answer)
    }

    async fn render_fresh(&self, file: &str, wanted: Wanted, base_url: &str) -> Result<Answer> {
        let id = {
            let mut c = self.service.store().read().await?;
            match &wanted {
                Wanted::Mac(m) => store::devices::by_mac(&mut c, m.as_str())
                    .await?
                    .map(|(id, _)| id),
                Wanted::Name(n) => store::devices::id_by_name(&mut c, n)
                    .await?
                    .filter(|(_, k)| *k == DeviceClass::Phone)
                    .map(|(id, _)| id),
                _ => None,
            }
        };
        match (wanted, id) {
            // Who asks was settled by `fetch`.
            (Wanted::FirstContact, _) => {
                let render::Rendered {
                    bytes,
                    fallback: problem,
                } = self
                    .renderer
                    .render_first_contact(&format!("{base_url}/$MA.xml"))?;
                report(problem);
                Ok(Answer::File {
                    bytes: bytes::Bytes::from(bytes),
                    content_type: content_type(file),
                    device: None,
                    device_id: None,
                    access: Access::Anyone,
                })
            }
            (Wanted::Default, _) => match self.auto_registration().await? {
                Some(settings) => {
                    let render::Rendered {
                        bytes,
                        fallback: problem,
                    } = self
                        .renderer
                        .render_default(&DefaultView::new(servers(&settings), true))?;
                    report(problem);
                    Ok(Answer::File {
                        bytes: bytes::Bytes::from(bytes),
                        content_type: content_type(file),
                        device: None,
                        device_id: None,
                        access: Access::Anyone,
                    })
                }
                None => Ok(Answer::NotFound(
                    "XMLDefault.cnf.xml: auto-registration is off".into(),
                )),
            },
            (_, Some(id)) => {
                let (view, access) = self.view(id, base_url).await?;
                match self.renderer.render(&view, file) {
                    Some(r) => {
                        let render::Rendered { bytes, fallback } = r?;
                        report(fallback);
                        Ok(Answer::File {
                            bytes: bytes::Bytes::from(bytes),
                            content_type: content_type(file),
                            device: Some(view.name),
                            device_id: Some(id),
                            access,
                        })
                    }
                    None => Ok(Answer::NotFound(format!(
                        "{file}: {} does not fetch this file",
                        view.name
                    ))),
                }
            }
            (_, None) => Ok(Answer::NotFound(format!(
                "{file}: no device in the directory has this file"
            ))),
        }
    }

    /// Notes that a device fetched `file`; written to the store by `flush_status`, in batches, so
    /// a boot storm does not become a storm of writes.
    pub fn seen(&self, device_id: i64, ip: &str, user_agent: &str, file: &str, protocol: &str) {
        let at = store::now();
        let mut m = self.seen.lock().expect("seen lock");
        let e = m.entry(device_id).or_insert_with(|| store::status::Seen {
            device_id,
            at: String::new(),
            ip: String::new(),
            user_agent: String::new(),
            file: String::new(),
            protocol: String::new(),
            requests: 0,
        });
        e.at = at;
        e.ip = ip.to_string();
        if !user_agent.is_empty() {
            e.user_agent = user_agent.to_string();
        }
        e.file = file.to_string();
        e.protocol = protocol.to_string();
        e.requests += 1;
    }

    /// Writes the requests seen since the last flush (without bumping the generation: no file
    /// changes with a status).
    pub async fn flush_status(&self) -> Result<usize> {
        let batch: Vec<store::status::Seen> = self
            .seen
            .lock()
            .expect("seen lock")
            .drain()
            .map(|(_, v)| v)
            .collect();
        if batch.is_empty() {
            return Ok(0);
        }
        let mut tx = self.service.store().write_unversioned().await?;
        store::status::record(tx.conn(), &batch).await?;
        tx.commit().await?;
        Ok(batch.len())
    }

    /// Renders every file of device `id` as phones get them through `base_url`, and keeps them
    /// in the cache under `generation` (read before this call), so the phones a NOTIFY sends
    /// here find them ready. A device that fetches no file gives an empty list.
    pub async fn render_device(
        &self,
        id: i64,
        base_url: &str,
        generation: i64,
    ) -> Result<Vec<(String, bytes::Bytes)>> {
        let (view, access) = self.view(id, base_url).await?;
        let mut out = Vec::new();
        for file in view.files() {
            let Some(r) = self.renderer.render(&view, &file) else {
                continue;
            };
            let render::Rendered { bytes, fallback } = r?;
            report(fallback);
            let bytes = bytes::Bytes::from(bytes);
            let mut cache = self.cache.lock().expect("cache lock");
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(
                format!("{}|{base_url}", file.to_ascii_lowercase()),
                Cached {
                    generation,
                    bytes: bytes.clone(),
                    content_type: content_type(&file),
                    device: Some(view.name.clone()),
                    device_id: Some(id),
                    access: access.clone(),
                },
            );
            drop(cache);
            out.push((file, bytes));
        }
        Ok(out)
    }

    /// The settings of the first call-control system with auto-registration on, if any.
    async fn auto_registration(&self) -> Result<Option<model::SystemSettings>> {
        Ok(self
            .service
            .systems()
            .await?
            .into_iter()
            .find(|s| s.kind == SystemKind::CallControl && s.settings.auto_registration)
            .map(|s| s.settings))
    }

    /// The names of the files a phone fetches.
    pub async fn files_of(&self, name: &str) -> Result<Vec<String>> {
        let phone = self.service.phone(name).await?;
        Ok(self.view(phone.id, "").await?.0.files())
    }

    /// The exact bytes a phone gets for `file` (the administrators' preview).
    pub async fn preview(
        &self,
        name: &str,
        file: &str,
        base_url: &str,
    ) -> Result<Option<(bytes::Bytes, &'static str)>> {
        let phone = self.service.phone(name).await?;
        let (view, _) = self.view(phone.id, base_url).await?;
        if view.file_kind(file).is_none() {
            return Ok(None);
        }
        let ua = phone
            .mac
            .as_deref()
            .map(|m| format!("Cisco-CP-preview/0 ({m})"));
        match self.fetch(file, ua.as_deref(), base_url).await? {
            Answer::File {
                bytes,
                content_type,
                ..
            } => Ok(Some((bytes, content_type))),
            Answer::NotFound(_) => Ok(None),
        }
    }

    /// Everything the renderer needs to know of a phone, and who may have its files.
    async fn view(&self, id: i64, base_url: &str) -> Result<(DeviceView, Access)> {
        let mut c = self.service.store().read().await?;
        let d = store::devices::by_id(&mut c, id).await?;
        let system = store::systems::by_id(&mut c, d.row.system_id).await?;
        let mut lines = Vec::new();
        for (line_id, a) in &d.appearances {
            let l = store::lines::by_id(&mut c, *line_id).await?;
            lines.push((a.clone(), l));
        }
        drop(c);
        let t = Catalog::builtin().get(&d.row.model);
        let (auth_name, auth_password) = match &d.owner_user_id {
            Some(u) => (
                u.clone(),
                self.service
                    .digest_credential(u, Some(&d.system))
                    .await?
                    .unwrap_or_default(),
            ),
            None => (String::new(), model::Secret::default()),
        };
        let mpp = t.map(|t| t.family) == Some(DeviceFamily::Mpp);
        // Only MPP phones send HTTP credentials (profile rules with `--uid`/`--pwd`); the
        // files of enterprise phones and soft clients stay open (see docs/phones.md).
        let credential = if mpp {
            self.service.device_credential(&d)?
        } else {
            None
        };
        let mut params: Vec<(String, String)> = Vec::new();
        if mpp {
            for p in self.service.phone_parameters(&d.row.name).await?.parameters {
                let value = if p.key == "profile_rule" {
                    own_rule(&p.value, &p.origin, base_url, credential.as_ref())
                } else {
                    p.value
                };
                params.push((p.key, value));
            }
        }
        let s = &system.settings;
        let carries_secret =
            credential.is_some() || lines.iter().any(|_| !auth_password.expose().is_empty());
        let access = match (mpp, s.phone_auth, credential) {
            (false, _, _) | (_, PhoneAuth::Off, _) => Access::Anyone,
            (true, PhoneAuth::Secrets, _) if !carries_secret => Access::Anyone,
            (true, _, Some(c)) => Access::Device(Arc::new(c)),
            (true, _, None) => Access::Nobody,
        };
        let view = DeviceView {
            name: d.row.name.clone(),
            mac: d.row.mac.clone(),
            model: d.row.model.clone(),
            family: t.map(|t| t.family).unwrap_or(DeviceFamily::Enterprise),
            psn: t.and_then(|t| t.psn.clone()),
            file_patterns: t.map(|t| t.files.clone()).unwrap_or_default(),
            protocol: d.row.protocol.clone(),
            description: d.row.description.clone(),
            device_pool: d.row.device_pool.clone(),
            user_locale: s.user_locale.clone(),
            user_locale_lang: s.user_locale_lang.clone(),
            network_locale: s.network_locale.clone(),
            servers: servers(s),
            transport: match s.transport {
                SipTransport::Udp => Transport::Udp,
                SipTransport::Tcp => Transport::Tcp,
                SipTransport::Tls => Transport::Tls,
            },
            security_mode: d.row.security_mode,
            lines: lines
                .into_iter()
                .map(|(a, l)| LineView {
                    button: a.button,
                    pattern: a.pattern.clone(),
                    display_name: if a.display.is_empty() {
                        l.alerting_name.clone()
                    } else {
                        a.display.clone()
                    },
                    label: a.label.clone(),
                    auth_name: auth_name.clone(),
                    auth_password: auth_password.clone(),
                    max_calls: l.max_calls,
                    busy_trigger: l.busy_trigger,
                    shared: !a.shared_with.is_empty(),
                    voicemail: s.voicemail_pilot.clone(),
                })
                .collect(),
            speed_dials: d
                .row
                .speed_dials
                .iter()
                .map(|sd| SpeedDialView {
                    button: sd.position,
                    number: sd.number.clone(),
                    label: sd.label.clone(),
                })
                .collect(),
            services_url: s.services_url.clone(),
            expansion_modules: d.row.expansion_modules.clone(),
            dnd: d.row.dnd,
            tftp_servers: s.tftp_servers.clone(),
            parameters: params,
            provisioning_rule: format!("{base_url}/$MA.xml"),
        };
        Ok((view, access))
    }
}

/// The Profile Rule an MPP phone's own file gives it. A rule an administrator set is sent as
/// written. Left at its default (`/spa$PSN.cfg`, which sends the phone back through the
/// first-contact file), it becomes this server's URL of the phone's own file, as the phone
/// reached it: over HTTP with the device's credential in front (`[--uid $MA --pwd …]`) when it
/// has one, so that the phone sends it on every resync; over TFTP (which has no credentials)
/// as `tftp://server/$MA.xml`, since a TFTP request for `spa$PSN.cfg` cannot say which phone
/// asks and would be refused with auto-registration off.
fn own_rule(
    value: &str,
    origin: &str,
    base_url: &str,
    credential: Option<&service::DeviceCredential>,
) -> String {
    if origin != "default" || base_url.is_empty() {
        return value.to_string();
    }
    if base_url.starts_with("tftp") {
        return format!("{base_url}/$MA.xml");
    }
    match credential {
        Some(c) => format!(
            "[--uid $MA --pwd {}]{base_url}/$MA.xml",
            c.password.expose()
        ),
        None => format!("{base_url}/$MA.xml"),
    }
}

fn report(problem: Option<render::RenderError>) {
    if let Some(p) = problem {
        tracing::error!(%p, "an operator template failed; the built-in one served");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_cannot_escape() {
        assert_eq!(
            file_name("/SEP00562B043615.cnf.xml"),
            Some("SEP00562B043615.cnf.xml")
        );
        assert_eq!(
            file_name("/dms/CP-8861-3PCC/8861-3PCC.xml"),
            Some("8861-3PCC.xml")
        );
        for bad in ["/../etc/passwd", "/a/../b", "/a\\b", "/a\0b", "/", ""] {
            assert_eq!(file_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn user_agents() {
        assert_eq!(
            mac_from_user_agent("Cisco-CP-8861-3PCC/11.3.1 (00562b043615)")
                .unwrap()
                .as_str(),
            "00562B043615"
        );
        assert!(mac_from_user_agent("curl/8.0").is_none());
        assert!(mac_from_user_agent("Cisco-CP-8861-3PCC/11.3.1 (nope)").is_none());
    }

    #[test]
    fn what_a_file_names() {
        assert!(matches!(wanted("SEP00562B043615.cnf.xml"), Wanted::Mac(_)));
        assert!(matches!(wanted("sep00562b043615.CNF.XML"), Wanted::Mac(_)));
        assert!(matches!(wanted("00562b043615.xml"), Wanted::Mac(_)));
        assert!(matches!(wanted("UPCJSMITH.cnf.xml"), Wanted::Name(n) if n == "UPCJSMITH"));
        assert!(matches!(wanted("8861-3PCC.xml"), Wanted::FirstContact));
        assert!(matches!(wanted("spa8861-3PCC.cfg"), Wanted::FirstContact));
        assert!(matches!(wanted("XMLDefault.cnf.xml"), Wanted::Default));
        assert!(matches!(wanted("CTLSEP00562B043615.tlv"), Wanted::Never));
        assert!(matches!(wanted("ITLSEP00562B043615.tlv"), Wanted::Never));
        assert!(matches!(wanted("passwd"), Wanted::Unknown));
    }
}

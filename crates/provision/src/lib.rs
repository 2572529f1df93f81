//! From a phone's request (file name, user agent) to the device and the bytes it gets: the
//! device families of `render` say what a file name or User-Agent names; the directory is read
//! through `service` alone ([`service::Service::phone_configs`]: every device a batch of
//! requests names, in one snapshot, with a fixed number of statements); the family renders the
//! file; and a cache bounded in bytes keeps rendered files until a committed change reaches
//! their device (the change journal, [`service::Service::changes_since`]).
//!
//! Requests that miss the cache at the same moment (a boot storm) are read and rendered
//! together: while one batch is being read, the next one gathers.
#![forbid(unsafe_code)]

mod cache;
mod firmware;
pub mod guard;
pub mod metrics;
pub mod reports;
pub mod resync;
mod view;

use cache::{Cached, FileCache};
use model::status::Seen;
use render::{Asked, DefaultView, DeviceKey, DeviceView, Renderer};
use service::{PhoneConfig, PhoneKeys, Service};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

tokio::task_local! {
    /// The id of the phone request being answered (set by the HTTP and TFTP listeners with
    /// [`new_request_id`]): the render and the status write it leads to log it, so that one
    /// request can be followed through the log.
    pub static REQUEST_ID: String;
}

/// A new id for a phone request: this process's start time and a count, in hex.
pub fn new_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    format!("{start:x}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Service(#[from] service::Error),
    #[error("{0}")]
    Render(#[from] render::RenderError),
    /// A batch this request waited on failed.
    #[error("{0}")]
    Batch(String),
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

/// Whether a phone's own file is also served encrypted (`<mac>.cfg`), and whether the clear
/// one is kept to HTTPS (system setting `profile_encryption`, MPP phones with a key).
#[derive(Debug, Clone)]
pub enum Sealing {
    /// Served in clear only.
    Clear,
    /// `<mac>.cfg` is the file encrypted with this key; the clear file is served as ever.
    Offered(Arc<model::Secret>),
    /// As offered, and the clear file is served over HTTPS only.
    Required(Arc<model::Secret>),
}

impl Sealing {
    /// The key, when the file is served encrypted.
    pub fn key(&self) -> Option<&model::Secret> {
        match self {
            Sealing::Clear => None,
            Sealing::Offered(k) | Sealing::Required(k) => Some(k),
        }
    }
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
        /// Whether the clear file is kept to HTTPS ([`Sealing::Required`]): the servers check.
        sealing: Sealing,
    },
    /// A file of the firmware folder (docs/firmware.md): HTTP streams it from `path` (with
    /// ranges), TFTP reads it through [`Provisioner::firmware_bytes`].
    Firmware {
        path: std::path::PathBuf,
        name: String,
    },
    /// Nothing to serve, and why (for the log, never for the phone).
    NotFound(String),
    /// The requester asked for too many devices the directory does not have: it must wait this
    /// long before a device's file is answered ([`guard`]).
    Throttled(std::time::Duration),
    /// The files not in the cache wait longer than the server allows to be read and rendered
    /// (the store is slow or the server past its capacity): ask again after this long.
    Busy(std::time::Duration),
}

impl Answer {
    /// The bytes of a rendered file; what else the answer is, as an error (for tools that
    /// render phone files outside a server: the benchmarks, the exporter).
    pub fn file_bytes(self) -> std::result::Result<bytes::Bytes, String> {
        match self {
            Answer::File { bytes, .. } => Ok(bytes),
            Answer::NotFound(why) => Err(why),
            Answer::Throttled(w) => Err(format!("throttled for {w:?}")),
            Answer::Busy(w) => Err(format!("turned away for {w:?}")),
            Answer::Firmware { name, .. } => Err(format!("{name} is firmware")),
        }
    }
}

impl From<Cached> for Answer {
    fn from(c: Cached) -> Answer {
        if c.encrypted {
            if let Some(k) = c.sealing.key() {
                return Answer::File {
                    bytes: render::family::encrypt_profile(&c.bytes, k.expose(), rand::random())
                        .into(),
                    content_type: "application/octet-stream",
                    device: c.device,
                    device_id: c.device_id,
                    access: c.access,
                    // What goes out is encrypted: any transport may carry it.
                    sealing: Sealing::Clear,
                };
            }
        }
        Answer::File {
            bytes: c.bytes,
            content_type: c.content_type,
            device: c.device,
            device_id: c.device_id,
            access: c.access,
            sealing: c.sealing,
        }
    }
}

/// The render cache's default budget: room for the files of 100,000 phones (2.3 KB on average
/// with their keys) with some to spare.
pub const DEFAULT_CACHE_BYTES: u64 = 320 << 20;

/// At most this many devices are read and rendered in one batch.
const BATCH: usize = 500;

/// A request that missed the cache, waiting for its batch.
struct Miss {
    /// The request that missed ([`REQUEST_ID`]), for the render's log line.
    request_id: Option<String>,
    file: String,
    key: DeviceKey,
    base_url: String,
    cache_key: String,
    answer: oneshot::Sender<Result<Answer, String>>,
    /// When it joined the queue.
    queued: std::time::Instant,
}

#[derive(Default)]
struct Pending {
    misses: Vec<Miss>,
    /// A task is reading and rendering batches.
    running: bool,
    /// When the batch being read and rendered now started.
    batch_since: Option<std::time::Instant>,
}

/// How long the files not in the cache may wait to be read and rendered before new misses are
/// turned away ([`Answer::Busy`]) by default.
pub const DEFAULT_SHED_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

struct Inner {
    service: Service,
    renderer: Arc<Renderer>,
    cache: FileCache,
    /// Files that are no device's own (first contact, XMLDefault): kept for one generation.
    shared: Mutex<HashMap<String, Cached>>,
    /// Requests seen since the last flush, by device, with the last one's id.
    seen: Mutex<HashMap<i64, (Seen, Option<String>)>>,
    /// One flush of `seen` at a time: two at once could write an older request last.
    flushing: tokio::sync::Mutex<()>,
    pending: Mutex<Pending>,
    /// One catch-up with the change journal at a time.
    follow: tokio::sync::Mutex<()>,
    /// Devices reached by changes, gathered for the resync engine once it asks for them.
    touched: Mutex<Option<Touched>>,
    auto: AutoCounts,
    /// The phone HTTP listener's port (0: none), for links in files fetched over TFTP.
    http_port: std::sync::atomic::AtomicU16,
    /// Firmware files as TFTP sends them.
    firmware: firmware::FirmwareCache,
    metrics: Arc<metrics::Metrics>,
    guard: guard::Guard,
    /// Milliseconds a miss may wait before new ones are turned away ([`DEFAULT_SHED_AFTER`]).
    shed_after_ms: AtomicU64,
    /// Misses turned away since the server started.
    shed: AtomicU64,
}

/// Auto-registrations since the server started.
#[derive(Default)]
struct AutoCounts {
    registered: AtomicU64,
    refused: AtomicU64,
}

/// Devices reached by changes since the resync engine last looked.
#[derive(Debug, Default, Clone)]
pub struct Touched {
    pub all: bool,
    pub devices: std::collections::BTreeSet<i64>,
}

/// Serves phone files.
#[derive(Clone)]
pub struct Provisioner {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Provisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioner")
            .field("renderer", &self.inner.renderer)
            .field("cached", &self.inner.cache.len())
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

fn content_type(file: &str) -> &'static str {
    if file.to_ascii_lowercase().ends_with(".xml") {
        "text/xml; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    }
}

fn cache_key(file: &str, base_url: &str) -> String {
    format!("{}|{base_url}", file.to_ascii_lowercase())
}

/// A rendered file, its failed operator template logged.
fn bytes_of(r: render::Rendered) -> bytes::Bytes {
    if let Some(p) = r.fallback {
        tracing::error!(%p, "an operator template failed; the built-in one served");
    }
    // A copy of exactly its length: `Bytes::from(Vec)` keeps the vector's spare capacity, and
    // the renderers reserve more than a typical file (a cached file then held about a quarter more
    // memory than the cache's byte budget counted).
    bytes::Bytes::copy_from_slice(&r.bytes)
}

impl Provisioner {
    pub fn new(service: Service, renderer: Arc<Renderer>) -> Provisioner {
        Provisioner::with_cache(service, renderer, DEFAULT_CACHE_BYTES)
    }

    /// A provisioner whose render cache holds at most `cache_bytes` of files.
    pub fn with_cache(service: Service, renderer: Arc<Renderer>, cache_bytes: u64) -> Provisioner {
        Provisioner {
            inner: Arc::new(Inner {
                service,
                renderer,
                cache: FileCache::new(cache_bytes),
                shared: Mutex::default(),
                seen: Mutex::default(),
                flushing: tokio::sync::Mutex::default(),
                pending: Mutex::default(),
                follow: tokio::sync::Mutex::new(()),
                touched: Mutex::new(None),
                auto: AutoCounts::default(),
                http_port: std::sync::atomic::AtomicU16::new(0),
                firmware: firmware::FirmwareCache::new(firmware::DEFAULT_BYTES),
                metrics: Arc::new(metrics::Metrics::new()),
                guard: guard::Guard::default(),
                shed_after_ms: AtomicU64::new(DEFAULT_SHED_AFTER.as_millis() as u64),
                shed: AtomicU64::new(0),
            }),
        }
    }

    /// How long the files not in the cache may wait to be read and rendered: past it, while
    /// the batch being read or the oldest waiting miss is older, new misses are answered
    /// [`Answer::Busy`] at once instead of joining a queue that does not move (cache hits are
    /// served as ever).
    pub fn set_shed_after(&self, after: std::time::Duration) {
        self.inner
            .shed_after_ms
            .store(after.as_millis().max(1) as u64, Ordering::Relaxed);
    }

    /// When misses wait too long ([`Provisioner::set_shed_after`]): how long a phone should
    /// wait before it asks again.
    fn overloaded(&self) -> Option<std::time::Duration> {
        let after =
            std::time::Duration::from_millis(self.inner.shed_after_ms.load(Ordering::Relaxed));
        let p = self.inner.pending.lock().expect("pending lock");
        let oldest = p
            .batch_since
            .into_iter()
            .chain(p.misses.first().map(|m| m.queued))
            .min()?;
        (oldest.elapsed() > after).then(|| (after * 2).max(std::time::Duration::from_secs(1)))
    }

    /// Says on which port the phone HTTP listener is, so that files fetched over TFTP can link
    /// to it (the self-provisioning service), on the host the phone reached.
    pub fn set_http_port(&self, port: u16) {
        self.inner.http_port.store(port, Ordering::Relaxed);
    }

    /// The phone HTTP listener as a phone that reached this server through `base_url` reaches
    /// it (empty when there is none).
    fn http_of(&self, base_url: &str) -> String {
        if base_url.starts_with("http") {
            return base_url.to_string();
        }
        let port = self.inner.http_port.load(Ordering::Relaxed);
        let host = base_url
            .strip_prefix("tftp://")
            .and_then(|h| h.rsplit_once(':').map(|(h, _)| h).or(Some(h)))
            .filter(|h| !h.is_empty());
        match (host, port) {
            (Some(h), p) if p != 0 => format!("http://{h}:{p}"),
            _ => String::new(),
        }
    }

    pub fn service(&self) -> &Service {
        &self.inner.service
    }

    /// The bytes of a firmware file for TFTP, shared while unchanged.
    pub async fn firmware_bytes(&self, path: &std::path::Path) -> std::io::Result<bytes::Bytes> {
        self.inner.firmware.read(path).await
    }

    /// A phone at `ip` fetched firmware file `name`: a load's manifest is recorded as the load
    /// the phone at that address runs (enterprise phones report no firmware of their own).
    pub fn firmware_fetched(&self, name: &str, ip: &str) {
        let Some(load) = model::firmware::load_of_file(name) else {
            return;
        };
        // The phone seen at that address: among the requests not yet written, else as stored.
        let pending: Vec<i64> = {
            let m = self.inner.seen.lock().expect("seen lock");
            m.values()
                .filter(|(v, _)| v.ip == ip)
                .map(|(v, _)| v.device_id)
                .collect()
        };
        let (service, load, ip) = (self.inner.service.clone(), load.to_string(), ip.to_string());
        tokio::spawn(async move {
            let device = match pending.as_slice() {
                [one] => Ok(Some(*one)),
                [] => service.device_at(&ip).await,
                _ => Ok(None),
            };
            let r = match device {
                Ok(Some(id)) => service.record_load(id, &load).await.map(|_| Some(id)),
                other => other,
            };
            match r {
                Ok(Some(_)) => tracing::info!(%ip, load, "a phone fetched a firmware load"),
                Ok(None) => {
                    tracing::info!(%ip, load, "firmware load fetched from an address no one phone was seen at")
                }
                Err(e) => {
                    tracing::warn!(%ip, load, error = %e, "could not record a firmware fetch")
                }
            }
        });
    }

    /// What this node counts (`/metrics`, the console's dashboard).
    /// What holds back hosts that guess MACs or phone passwords.
    pub fn guard(&self) -> &guard::Guard {
        &self.inner.guard
    }

    pub fn metrics(&self) -> &Arc<metrics::Metrics> {
        &self.inner.metrics
    }

    /// Files cached, and the bytes they hold.
    pub fn cached(&self) -> (usize, u64) {
        (self.inner.cache.len(), self.inner.cache.weight())
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
        self.fetch_for(path, user_agent, base_url, None).await
    }

    /// [`Provisioner::fetch`] for a request from `peer`, which waits once it has asked for too
    /// many devices the directory does not have ([`guard::Guard`]): then a device's file is
    /// [`Answer::Throttled`] unless it was sent to `peer` before.
    pub async fn fetch_from(
        &self,
        path: &str,
        user_agent: Option<&str>,
        base_url: &str,
        peer: std::net::IpAddr,
    ) -> Result<Answer> {
        self.fetch_for(path, user_agent, base_url, Some(peer)).await
    }

    async fn fetch_for(
        &self,
        path: &str,
        user_agent: Option<&str>,
        base_url: &str,
        peer: Option<std::net::IpAddr>,
    ) -> Result<Answer> {
        let Some(file) = file_name(path) else {
            return Ok(Answer::NotFound(format!(
                "`{path}` is outside the phone files"
            )));
        };
        let Some((family, asked)) = render::family::identify(file) else {
            if let Some(path) = self.inner.service.firmware_file(file) {
                return Ok(Answer::Firmware {
                    path,
                    name: file.to_string(),
                });
            }
            return Ok(Answer::NotFound(format!(
                "{file}: no device in the directory has this file, and the firmware folder neither"
            )));
        };
        match asked {
            Asked::Refused(why) => Ok(Answer::NotFound(format!("{file}: {why}"))),
            Asked::Default => self.default_file(file).await,
            Asked::FirstContact => self.first_contact(file, user_agent, base_url).await,
            Asked::Common => self.common_file(family, file, user_agent, base_url).await,
            Asked::Device(key) => {
                if let Some(w) = peer.and_then(|ip| self.inner.guard.sweep_wait(file, ip)) {
                    return Ok(Answer::Throttled(w));
                }
                let a = self.device_file(file, key.clone(), base_url).await?;
                let a = match (&a, &key) {
                    (Answer::NotFound(why), DeviceKey::Mac(mac)) => {
                        self.unknown_phone(file, mac, user_agent, base_url, why)
                            .await?
                    }
                    _ => a,
                };
                if let (Answer::NotFound(_), Some(ip)) = (&a, peer) {
                    self.inner.guard.missed(file, ip);
                }
                Ok(a)
            }
        }
    }

    /// A device's own file, from the cache or read and rendered in a batch.
    async fn device_file(&self, file: &str, key: DeviceKey, base_url: &str) -> Result<Answer> {
        self.catch_up().await?;
        let ck = cache_key(file, base_url);
        if let Some(c) = self.inner.cache.get(&ck) {
            self.inner.metrics.cache_hit();
            return Ok(c.into());
        }
        self.inner.metrics.cache_miss();
        if let Some(wait) = self.overloaded() {
            let n = self.inner.shed.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n.is_multiple_of(1000) {
                tracing::warn!(
                    shed = n,
                    "phone files not in the cache wait longer than allowed to be read and rendered: new ones are turned away (HTTP 503, TFTP busy) until the queue moves"
                );
            }
            return Ok(Answer::Busy(wait));
        }
        let (tx, rx) = oneshot::channel();
        self.enqueue(Miss {
            request_id: REQUEST_ID.try_with(Clone::clone).ok(),
            file: file.to_string(),
            key,
            base_url: base_url.to_string(),
            cache_key: ck,
            answer: tx,
            queued: std::time::Instant::now(),
        });
        match rx.await {
            Ok(Ok(a)) => Ok(a),
            Ok(Err(e)) => Err(Error::Batch(e)),
            Err(_) => Err(Error::Batch("the batch reading this file stopped".into())),
        }
    }

    /// A phone not in the directory asked for its own file: it is auto-registered when the
    /// system says so (`service::Service::auto_register`), and then gets its file.
    async fn unknown_phone(
        &self,
        file: &str,
        mac: &model::Mac,
        user_agent: Option<&str>,
        base_url: &str,
        why: &str,
    ) -> Result<Answer> {
        let model = render::family::model_of_request(file, user_agent);
        match self.register(mac, model.as_deref()).await? {
            Some(_) => {
                self.device_file(file, DeviceKey::Mac(mac.clone()), base_url)
                    .await
            }
            None => Ok(Answer::NotFound(why.to_string())),
        }
    }

    /// Auto-registers `mac`, counting and logging a refusal; answers the device's id when it
    /// has a record now.
    async fn register(&self, mac: &model::Mac, model: Option<&str>) -> Result<Option<i64>> {
        use service::{AutoRefusal, AutoRegistration};
        match self.inner.service.auto_register(mac, model).await? {
            AutoRegistration::Registered {
                device_id, number, ..
            } => {
                if !number.is_empty() {
                    self.inner.auto.registered.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Some(device_id))
            }
            AutoRegistration::Refused {
                reason: AutoRefusal::Off,
                ..
            } => Ok(None),
            AutoRegistration::Refused { message, .. } => {
                let n = self.inner.auto.refused.fetch_add(1, Ordering::Relaxed) + 1;
                // Phones retry every few minutes: the first refusal and every thousandth after
                // it are logged at warning level.
                if n == 1 || n.is_multiple_of(1000) {
                    tracing::warn!(%mac, refused = n, "auto-registration refused: {message}");
                } else {
                    tracing::debug!(%mac, "auto-registration refused: {message}");
                }
                Ok(None)
            }
        }
    }

    /// Unknown phones auto-registered, and refused (not for auto-registration being off), by
    /// this server since it started.
    pub fn auto_registration_counts(&self) -> (u64, u64) {
        (
            self.inner.auto.registered.load(Ordering::Relaxed),
            self.inner.auto.refused.load(Ordering::Relaxed),
        )
    }

    /// Notes every change committed since the last look: the cache stops serving the files of
    /// the devices they reached, and the resync engine (when it listens) learns of them.
    /// Answers the generation caught up to.
    pub async fn catch_up(&self) -> Result<i64> {
        let i = &self.inner;
        let now = i.service.generation().await?;
        if i.cache.applied() >= now {
            return Ok(now);
        }
        let _one = i.follow.lock().await;
        let applied = i.cache.applied();
        if applied >= now {
            return Ok(now);
        }
        if applied < 0 {
            // Nothing is cached or rendered yet: nothing to throw away.
            i.cache.apply(now, None, &[]);
            return Ok(now);
        }
        let ch = i.service.changes_since(applied).await?;
        i.cache.apply(ch.through, ch.all, &ch.devices);
        if let Some(t) = i.touched.lock().expect("touched lock").as_mut() {
            t.all |= ch.all.is_some();
            t.devices.extend(ch.devices.iter().map(|(id, _)| *id));
        }
        Ok(ch.through.max(now))
    }

    /// From now on, gathers the devices changes reach for [`Provisioner::take_touched`].
    pub fn gather_touched(&self) {
        let mut t = self.inner.touched.lock().expect("touched lock");
        if t.is_none() {
            *t = Some(Touched::default());
        }
    }

    /// The devices changes reached since the last call (see [`Provisioner::gather_touched`]).
    pub fn take_touched(&self) -> Touched {
        self.inner
            .touched
            .lock()
            .expect("touched lock")
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn enqueue(&self, miss: Miss) {
        let start = {
            let mut p = self.inner.pending.lock().expect("pending lock");
            p.misses.push(miss);
            !std::mem::replace(&mut p.running, true)
        };
        if start {
            let me = self.clone();
            tokio::spawn(async move { me.drain().await });
        }
    }

    /// Reads and renders the waiting misses, a batch at a time, until none wait.
    async fn drain(self) {
        loop {
            let batch: Vec<Miss> = {
                let mut p = self.inner.pending.lock().expect("pending lock");
                if p.misses.is_empty() {
                    p.running = false;
                    p.batch_since = None;
                    return;
                }
                p.batch_since = Some(std::time::Instant::now());
                let n = p.misses.len().min(BATCH);
                p.misses.drain(..n).collect()
            };
            tracing::trace!(misses = batch.len(), "reading and rendering a batch");
            if let Err(e) = self.serve_batch(batch).await {
                tracing::warn!(error = %e, "reading phone files failed");
            }
        }
    }

    async fn serve_batch(&self, batch: Vec<Miss>) -> Result<()> {
        let mut keys = PhoneKeys::default();
        for m in &batch {
            match &m.key {
                DeviceKey::Mac(mac) => keys.macs.push(mac.clone()),
                DeviceKey::Name(n) => keys.names.push(n.clone()),
            }
        }
        let configs = match self.inner.service.phone_configs(&keys).await {
            Ok(c) => c,
            Err(e) => {
                let text = e.to_string();
                for m in batch {
                    let _ = m.answer.send(Err(text.clone()));
                }
                return Err(e.into());
            }
        };
        let by_mac: HashMap<&str, &PhoneConfig> = configs
            .phones
            .iter()
            .filter_map(|p| p.mac.as_deref().map(|m| (m, p)))
            .collect();
        let by_name: HashMap<String, &PhoneConfig> = configs
            .phones
            .iter()
            .map(|p| (p.name.to_lowercase(), p))
            .collect();
        // One view per device and base URL, shared by the requests for it.
        let mut views: HashMap<(i64, &str), (DeviceView, Access)> = HashMap::new();
        let mut answers = Vec::with_capacity(batch.len());
        for m in &batch {
            let phone = match &m.key {
                DeviceKey::Mac(mac) => by_mac.get(mac.as_str()),
                DeviceKey::Name(n) => by_name.get(&n.to_lowercase()),
            };
            let answer = match phone {
                None => Ok(Answer::NotFound(format!(
                    "{}: no device in the directory has this file",
                    m.file
                ))),
                Some(p) => {
                    let (v, access) = views
                        .entry((p.id, m.base_url.as_str()))
                        .or_insert_with(|| view::view(p, &m.base_url, &self.http_of(&m.base_url)));
                    let started = std::time::Instant::now();
                    let sealing = view::sealing(p);
                    // `<mac>.cfg` is a Yealink's or a Poly's own file, and an MPP phone's
                    // own file encrypted with its profile key (docs/phones.md, "Encrypted
                    // profiles").
                    let (rendered, encrypted) = match self.inner.renderer.render(v, &m.file) {
                        None => match render::family::plain_of_encrypted(&m.file) {
                            Some(plain) if v.family == model::DeviceFamily::Mpp => {
                                if sealing.key().is_some() {
                                    (self.inner.renderer.render(v, &plain), true)
                                } else {
                                    answers.push(Ok(Answer::NotFound(format!(
                                        "{}: {} has no encrypted profile (its system's profile_encryption is off, or neither it nor its system has a key)",
                                        m.file, v.name
                                    ))));
                                    continue;
                                }
                            }
                            _ => (None, false),
                        },
                        r => (r, false),
                    };
                    if let Some(Ok(_)) = &rendered {
                        let took = started.elapsed();
                        self.inner.metrics.rendered(took);
                        tracing::debug!(
                            request_id = m.request_id.as_deref().unwrap_or("-"),
                            device = %v.name,
                            file = %m.file,
                            took_us = took.as_micros() as u64,
                            "rendered"
                        );
                    }
                    match rendered {
                        None => Ok(Answer::NotFound(format!(
                            "{}: {} does not fetch this file",
                            m.file, v.name
                        ))),
                        Some(Err(e)) => Err(e.to_string()),
                        Some(Ok(r)) => {
                            let c = Cached {
                                generation: configs.generation,
                                bytes: bytes_of(r),
                                content_type: content_type(&m.file),
                                device: Some(v.name.clone()),
                                device_id: Some(p.id),
                                access: access.clone(),
                                sealing,
                                encrypted,
                            };
                            self.inner.cache.insert(m.cache_key.clone(), c.clone());
                            Ok(c.into())
                        }
                    }
                }
            };
            answers.push(answer);
        }
        drop(views);
        for (m, a) in batch.into_iter().zip(answers) {
            let _ = m.answer.send(a);
        }
        Ok(())
    }

    /// A file every phone of a model gets (or every unknown phone), kept while the generation
    /// holds.
    fn shared_cached(&self, key: &str, generation: i64) -> Option<Cached> {
        let s = self.inner.shared.lock().expect("shared lock");
        s.get(key).filter(|c| c.generation == generation).cloned()
    }

    fn keep_shared(&self, key: String, c: &Cached) {
        let mut s = self.inner.shared.lock().expect("shared lock");
        if s.len() >= 10_000 {
            s.clear();
        }
        s.insert(key, c.clone());
    }

    /// The MPP first-contact file: the same for every phone of a model; who asks (and whether
    /// an unknown phone may have it) is decided per request.
    async fn first_contact(
        &self,
        file: &str,
        user_agent: Option<&str>,
        base_url: &str,
    ) -> Result<Answer> {
        let i = &self.inner;
        let mac = user_agent.and_then(render::family::device_from_user_agent);
        let mut id = match &mac {
            Some(m) => i.service.device_with_mac(m).await?,
            None => None,
        };
        if let (None, Some(m)) = (id, &mac) {
            // The first-contact file names the model; the User-Agent, the phone.
            let model = render::family::model_of_request(file, user_agent);
            id = self.register(m, model.as_deref()).await?;
        }
        if id.is_none() && self.auto_registration().await?.is_none() {
            return Ok(Answer::NotFound(format!(
                "{file}: the phone is not in the directory and auto-registration is off"
            )));
        }
        self.shared_file(file, base_url, id, || {
            i.renderer
                .render_first_contact(&format!("{base_url}/$MA.xml"))
        })
        .await
    }

    /// A file every phone of a family (or model) gets the same (Yealink `y0000000000xx.cfg`,
    /// Poly `000000000000.cfg`, Snom `snom<model>.htm`): served to whoever asks, kept while the
    /// generation holds. When the User-Agent names a phone of the directory, the fetch is noted
    /// in its status.
    async fn common_file(
        &self,
        family: &'static dyn render::Family,
        file: &str,
        user_agent: Option<&str>,
        base_url: &str,
    ) -> Result<Answer> {
        let i = &self.inner;
        let id = match user_agent.and_then(|ua| family.device_from_user_agent(ua)) {
            Some(m) => i.service.device_with_mac(&m).await?,
            None => None,
        };
        self.shared_file(file, base_url, id, || {
            family.render_common(&i.renderer, file, base_url)
        })
        .await
    }

    /// A file that names no device (first contact, a common file), the same for whoever asks
    /// through `base_url`: kept while the generation holds, rendered by `render` otherwise, and
    /// answered as fetched by device `id` when the request said which.
    async fn shared_file(
        &self,
        file: &str,
        base_url: &str,
        id: Option<i64>,
        render: impl FnOnce() -> std::result::Result<render::Rendered, render::RenderError>,
    ) -> Result<Answer> {
        let generation = self.inner.service.generation().await?;
        let key = cache_key(file, base_url);
        let c = match self.shared_cached(&key, generation) {
            Some(c) => c,
            None => {
                let c = Cached {
                    generation,
                    bytes: bytes_of(render()?),
                    content_type: content_type(file),
                    device: None,
                    device_id: None,
                    access: Access::Anyone,
                    sealing: Sealing::Clear,
                    encrypted: false,
                };
                self.keep_shared(key, &c);
                c
            }
        };
        Ok(Answer::File {
            bytes: c.bytes,
            content_type: c.content_type,
            device: None,
            device_id: id,
            access: c.access,
            sealing: c.sealing,
        })
    }

    /// `XMLDefault.cnf.xml`, when auto-registration is on.
    async fn default_file(&self, file: &str) -> Result<Answer> {
        let i = &self.inner;
        let generation = i.service.generation().await?;
        let key = cache_key(file, "");
        if let Some(c) = self.shared_cached(&key, generation) {
            return Ok(c.into());
        }
        let Some(settings) = self.auto_registration().await? else {
            return Ok(Answer::NotFound(
                "XMLDefault.cnf.xml: auto-registration is off".into(),
            ));
        };
        let r = i
            .renderer
            .render_default(&DefaultView::new(view::servers(&settings), true))?;
        let c = Cached {
            generation,
            bytes: bytes_of(r),
            content_type: content_type(file),
            device: None,
            device_id: None,
            access: Access::Anyone,
            sealing: Sealing::Clear,
            encrypted: false,
        };
        self.keep_shared(key, &c);
        Ok(c.into())
    }

    /// The settings of the call-control system with auto-registration on, if any.
    async fn auto_registration(&self) -> Result<Option<model::SystemSettings>> {
        Ok(self
            .inner
            .service
            .auto_registration_system()
            .await?
            .map(|s| s.settings))
    }

    /// Notes that a device fetched `file`; written to the store by `flush_status`, in batches, so
    /// a boot storm does not become a storm of writes.
    pub fn seen(&self, device_id: i64, ip: &str, user_agent: &str, file: &str, protocol: &str) {
        let at = service::now();
        let request_id = REQUEST_ID.try_with(Clone::clone).ok();
        let mut m = self.inner.seen.lock().expect("seen lock");
        let (e, last) = m.entry(device_id).or_insert_with(|| {
            let s = Seen {
                device_id,
                at: String::new(),
                ip: String::new(),
                user_agent: String::new(),
                file: String::new(),
                protocol: String::new(),
                requests: 0,
                firmware: String::new(),
            };
            (s, None)
        });
        *last = request_id;
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
    /// changes with a status). Every half second, and before a status is read, so that a phone
    /// that has just fetched its file shows it.
    pub async fn flush_status(&self) -> Result<usize> {
        let _one = self.inner.flushing.lock().await;
        let (batch, ids): (Vec<Seen>, Vec<Option<String>>) = self
            .inner
            .seen
            .lock()
            .expect("seen lock")
            .drain()
            .map(|(_, v)| v)
            .unzip();
        self.inner.service.record_seen(&batch).await?;
        if tracing::enabled!(tracing::Level::DEBUG) {
            for (s, id) in batch.iter().zip(&ids) {
                tracing::debug!(
                    request_id = id.as_deref().unwrap_or("-"),
                    device_id = s.device_id,
                    requests = s.requests,
                    "status written"
                );
            }
        }
        Ok(batch.len())
    }

    /// Reads and renders every file of these phones as phones get them through `base_url`,
    /// in batches, keeping them in the cache so that the phones a NOTIFY sends here find them
    /// ready. Answers each phone that exists with its files and its view (phones that fetch
    /// no file get an empty list).
    pub async fn render_phones(
        &self,
        ids: &[i64],
        base_url: &str,
    ) -> Result<Vec<(PhoneConfig, DeviceView, Vec<(String, bytes::Bytes)>)>> {
        self.catch_up().await?;
        let mut out = Vec::with_capacity(ids.len());
        for part in ids.chunks(BATCH) {
            let configs = self
                .inner
                .service
                .phone_configs(&PhoneKeys {
                    ids: part.to_vec(),
                    ..Default::default()
                })
                .await?;
            for p in configs.phones {
                let (v, access) = view::view(&p, base_url, &self.http_of(base_url));
                let mut files = Vec::new();
                for file in v.files() {
                    let Some(r) = self.inner.renderer.render(&v, &file) else {
                        continue;
                    };
                    let bytes = bytes_of(r?);
                    self.inner.cache.insert(
                        cache_key(&file, base_url),
                        Cached {
                            generation: configs.generation,
                            bytes: bytes.clone(),
                            content_type: content_type(&file),
                            device: Some(v.name.clone()),
                            device_id: Some(p.id),
                            access: access.clone(),
                            sealing: view::sealing(&p),
                            encrypted: false,
                        },
                    );
                    files.push((file, bytes));
                }
                out.push((p, v, files));
            }
        }
        Ok(out)
    }

    /// These phones as their files show them through `base_url` (those that exist).
    pub async fn phone_views(
        &self,
        ids: &[i64],
        base_url: &str,
    ) -> Result<Vec<(PhoneConfig, DeviceView)>> {
        let mut out = Vec::with_capacity(ids.len());
        for part in ids.chunks(BATCH) {
            let configs = self
                .inner
                .service
                .phone_configs(&PhoneKeys {
                    ids: part.to_vec(),
                    ..Default::default()
                })
                .await?;
            for p in configs.phones {
                let (v, _) = view::view(&p, base_url, &self.http_of(base_url));
                out.push((p, v));
            }
        }
        Ok(out)
    }

    /// One phone by name, as its files show it through `base_url`.
    async fn phone_view(&self, name: &str, base_url: &str) -> Result<(PhoneConfig, DeviceView)> {
        let configs = self
            .inner
            .service
            .phone_configs(&PhoneKeys {
                names: vec![name.to_string()],
                ..Default::default()
            })
            .await?;
        let p = configs
            .phones
            .into_iter()
            .next()
            .ok_or_else(|| service::Error::NotFound(format!("there is no phone {name}")))?;
        let (v, _) = view::view(&p, base_url, &self.http_of(base_url));
        Ok((p, v))
    }

    /// The names of the files a phone fetches.
    pub async fn files_of(&self, name: &str) -> Result<Vec<String>> {
        Ok(self.phone_view(name, "").await?.1.files())
    }

    /// The exact bytes a phone gets for `file` (the administrators' preview), with the secrets
    /// they carry, so an administrator without the privilege to read them is shown
    /// [`Preview::masked`].
    pub async fn preview(&self, name: &str, file: &str, base_url: &str) -> Result<Option<Preview>> {
        let (p, v) = self.phone_view(name, base_url).await?;
        if v.pattern_of(file).is_none() {
            return Ok(None);
        }
        let ua = p
            .mac
            .as_deref()
            .map(|m| format!("Cisco-CP-preview/0 ({m})"));
        let mut secrets: Vec<model::Secret> = v
            .lines
            .iter()
            .map(|l| l.auth_password.clone())
            .chain(p.owner.iter().map(|(_, s)| s.clone()))
            .chain(p.http_credential.iter().map(|c| c.password.clone()))
            .chain(p.profile_key.iter().cloned())
            .chain(p.directory.iter().map(|d| d.password.clone()))
            .chain(
                v.parameters
                    .iter()
                    .filter(|(k, _)| secret_parameter(k))
                    .map(|(_, v)| model::Secret::new(v.clone())),
            )
            .filter(|s| !s.expose().is_empty())
            .collect();
        // The longest first, so one secret inside another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.expose().len()));
        match self.fetch(file, ua.as_deref(), base_url).await? {
            Answer::File {
                bytes,
                content_type,
                ..
            } => Ok(Some(Preview {
                bytes,
                content_type,
                secrets,
            })),
            _ => Ok(None),
        }
    }
}

/// Whether a device parameter holds a secret by its name (`Admin_Passwd`, `User_Password`,
/// `Voice_Mail_PIN`).
fn secret_parameter(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["passw", "pwd", "secret", "pin"]
        .iter()
        .any(|w| n.contains(w))
}

/// A phone's file as the administrators' preview shows it.
pub struct Preview {
    pub bytes: bytes::Bytes,
    pub content_type: &'static str,
    /// What in the bytes is secret: the lines' SIP passwords, the phone's HTTP password,
    /// parameters named as passwords or PINs.
    secrets: Vec<model::Secret>,
}

impl std::fmt::Debug for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preview")
            .field("bytes", &self.bytes.len())
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// What a secret is shown as.
pub const MASK: &str = "********";

impl Preview {
    /// Whether the file carries any secret.
    pub fn has_secrets(&self) -> bool {
        let text = String::from_utf8_lossy(&self.bytes);
        self.secrets
            .iter()
            .any(|s| forms(s.expose()).iter().any(|f| text.contains(f.as_str())))
    }

    /// The bytes with every secret, as written and as XML escapes it, replaced by [`MASK`].
    pub fn masked(&self) -> bytes::Bytes {
        let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
        for s in &self.secrets {
            for f in forms(s.expose()) {
                text = text.replace(&f, MASK);
            }
        }
        text.into()
    }
}

/// A secret as a file may carry it: as is, and XML-escaped.
fn forms(secret: &str) -> Vec<String> {
    let escaped = secret
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;");
    // A Snom's setting server carries the phone's password in its URL, percent-encoded.
    let encoded = render::percent_encode(secret);
    let mut out = vec![secret.to_string()];
    for f in [escaped, encoded] {
        if !out.contains(&f) {
            out.insert(0, f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_preview_hides_each_secret_as_written_and_as_escaped() {
        let p = Preview {
            bytes: "<a>p&amp;ss</a><b>p&ss</b><c>longsecret</c><d>long</d><e>p%26ss</e>".into(),
            content_type: "text/xml",
            secrets: vec![
                model::Secret::new("longsecret"),
                model::Secret::new("p&ss"),
                model::Secret::new("nowhere"),
            ],
        };
        assert!(p.has_secrets());
        assert_eq!(
            p.masked(),
            "<a>********</a><b>********</b><c>********</c><d>long</d><e>********</e>",
            "escaped for XML, and percent-encoded as a URL carries it"
        );
        assert!(!format!("{p:?}").contains("longsecret"));
        assert!(secret_parameter("Admin_Passwd") && secret_parameter("Voice_Mail_PIN"));
        assert!(!secret_parameter("Display_Name"));
    }

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
}

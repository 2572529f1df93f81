//! Resync by SIP NOTIFY: which phones to tell, where they listen, and at what pace.
//!
//! - **Automatically**, after a committed change: once the store's generation has moved and
//!   stayed still for the debounce window (so several changes give one NOTIFY), every phone's
//!   files are rendered (warming the cache the phones will read from) and digested; a phone
//!   whose digest moved is notified. Digests are kept in the store and moved by compare-and-set,
//!   so of several nodes seeing the same change one alone notifies, and a restarted node
//!   notifies for changes made while it was down. A phone's first digest is a baseline: adding a
//!   phone notifies no one.
//! - **On demand**: `request` queues phones (API, CLI).
//!
//! Every NOTIFY goes through one paced queue: at most `rate` started per second, each phone once
//! however many times it was queued meanwhile. Its outcome goes to the device's status.

use crate::{Provisioner, Result};
use model::{Catalog, DeviceFamily};
use sha2::{Digest, Sha256};
use sip::{Notifier, Outcome, ResyncEvent, Target};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};

/// How resync behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The port phones listen on when their device has no explicit contact.
    pub phone_port: u16,
    /// NOTIFYs started per second at most.
    pub rate: u32,
    /// Changes within this window give one NOTIFY.
    pub debounce: Duration,
    /// Rendered files' rules point at this URL (the phone HTTP listener), as phones reach it.
    pub base_url: String,
}

/// Why a phone was not notified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    NotAPhone,
    /// Soft clients and conference stations take no NOTIFY.
    NoNotify(String),
    /// An MPP phone with Resync From SIP off.
    ResyncFromSipOff,
    /// Never seen and no contact set: no address to send to.
    NoContact,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::NotAPhone => f.write_str("not a phone"),
            Skip::NoNotify(m) => write!(f, "a {m} takes no resync NOTIFY"),
            Skip::ResyncFromSipOff => {
                f.write_str("Resync From SIP is off for this phone (provisioning parameter)")
            }
            Skip::NoContact => f.write_str(
                "no address to send to: the phone has never made a request and has no sip_contact",
            ),
        }
    }
}

/// Where and how to notify a device.
pub(crate) async fn target(
    p: &Provisioner,
    id: i64,
    phone_port: u16,
) -> Result<Result<Target, Skip>> {
    let (d, status) = {
        let mut c = p.service.store().read().await?;
        let d = store::devices::by_id(&mut c, id).await?;
        let status = store::status::of_device(&mut c, id).await?;
        (d, status)
    };
    if d.row.class != model::rules::DeviceClass::Phone {
        return Ok(Err(Skip::NotAPhone));
    }
    let family = Catalog::builtin()
        .get(&d.row.model)
        .map(|t| t.family)
        .unwrap_or(DeviceFamily::Enterprise);
    let event = match family {
        DeviceFamily::Enterprise => ResyncEvent::CheckSync,
        DeviceFamily::Mpp => {
            let params = p.service.phone_parameters(&d.row.name).await?;
            if !params.behaviour.resync_from_sip {
                return Ok(Err(Skip::ResyncFromSipOff));
            }
            ResyncEvent::Resync
        }
        other => return Ok(Err(Skip::NoNotify(format!("{other:?}").to_lowercase()))),
    };
    let addr = match d.row.sip_contact.as_deref() {
        Some(c) => match resolve(c, phone_port).await {
            Some(a) => a,
            None => return Ok(Err(Skip::NoContact)),
        },
        None => {
            let ip = status.as_ref().and_then(|s| {
                s.seen
                    .as_ref()
                    .map(|x| x.ip.clone())
                    .filter(|ip| !ip.is_empty())
                    .or_else(|| {
                        s.resync
                            .as_ref()
                            .map(|r| r.syslog_ip.clone())
                            .filter(|ip| !ip.is_empty())
                    })
            });
            match ip.and_then(|ip| ip.parse::<IpAddr>().ok()) {
                Some(ip) => SocketAddr::new(ip, phone_port),
                None => return Ok(Err(Skip::NoContact)),
            }
        }
    };
    let credential = match &d.owner_user_id {
        Some(u) => p
            .service
            .digest_credential(u, Some(&d.system))
            .await?
            .map(|s| (u.clone(), s)),
        None => None,
    };
    let user = d
        .appearances
        .iter()
        .min_by_key(|(_, a)| a.button)
        .map(|(_, a)| a.pattern.clone());
    Ok(Ok(Target {
        addr,
        user,
        event,
        credential,
    }))
}

async fn resolve(contact: &str, default_port: u16) -> Option<SocketAddr> {
    let with_port = if contact
        .rsplit_once(':')
        .is_some_and(|(h, p)| p.parse::<u16>().is_ok() && (!h.contains(':') || h.ends_with(']')))
    {
        contact.to_string()
    } else {
        format!("{contact}:{default_port}")
    };
    tokio::net::lookup_host(with_port).await.ok()?.next()
}

/// The resync engine of a running server.
pub struct Resync {
    provisioner: Arc<Provisioner>,
    notifier: Arc<Notifier>,
    settings: Settings,
    queue: mpsc::UnboundedSender<i64>,
    queued: Mutex<HashSet<i64>>,
    sent: std::sync::atomic::AtomicU64,
    /// The generation the last finished scan covered.
    scanned: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for Resync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resync")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The digest of a device's files as phones get them.
fn digest(files: &[(String, bytes::Bytes)]) -> String {
    let mut h = Sha256::new();
    for (name, bytes) in files {
        h.update(name.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Resync {
    /// Starts the sender and the watcher of changes; both stop when the returned handle and
    /// every clone of it are dropped and `stop` fires.
    pub fn start(
        provisioner: Arc<Provisioner>,
        notifier: Notifier,
        settings: Settings,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> (Arc<Resync>, Vec<tokio::task::JoinHandle<()>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let r = Arc::new(Resync {
            provisioner,
            notifier: Arc::new(notifier),
            settings,
            queue: tx,
            queued: Mutex::new(HashSet::new()),
            sent: Default::default(),
            scanned: std::sync::atomic::AtomicI64::new(-1),
        });
        let sender = tokio::spawn(r.clone().send_loop(rx, stop.clone()));
        let watcher = tokio::spawn(r.clone().watch_loop(stop));
        (r, vec![sender, watcher])
    }

    /// The store generation the last finished scan of the phones' files covered: every change
    /// committed up to it has had its NOTIFYs queued.
    pub fn scanned_generation(&self) -> i64 {
        self.scanned.load(std::sync::atomic::Ordering::Acquire)
    }

    /// NOTIFYs sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Queues phones for a NOTIFY; answers those that cannot get one, and why.
    pub async fn request(&self, ids: &[i64]) -> Result<(usize, Vec<(i64, Skip)>)> {
        let mut queued = 0;
        let mut skipped = Vec::new();
        for &id in ids {
            match target(&self.provisioner, id, self.settings.phone_port).await? {
                Ok(_) => {
                    self.enqueue(id);
                    queued += 1;
                }
                Err(why) => skipped.push((id, why)),
            }
        }
        Ok((queued, skipped))
    }

    fn enqueue(&self, id: i64) {
        if self.queued.lock().expect("queued lock").insert(id) {
            let _ = self.queue.send(id);
        }
    }

    async fn send_loop(
        self: Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<i64>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let per = Duration::from_secs_f64(1.0 / f64::from(self.settings.rate.max(1)));
        let mut pace = tokio::time::interval(per);
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Transactions last up to 64·T1 each: bound how many are open at once.
        let open = Arc::new(Semaphore::new(4096));
        loop {
            let id = tokio::select! {
                id = rx.recv() => match id { Some(id) => id, None => return },
                _ = stop.changed() => return,
            };
            pace.tick().await;
            self.queued.lock().expect("queued lock").remove(&id);
            let Ok(permit) = open.clone().acquire_owned().await else {
                return;
            };
            let me = self.clone();
            tokio::spawn(async move {
                let _permit = permit;
                if let Err(e) = me.notify_one(id).await {
                    tracing::warn!(device_id = id, error = %e, "resync NOTIFY not sent");
                }
            });
        }
    }

    async fn notify_one(&self, id: i64) -> Result<()> {
        let t = match target(&self.provisioner, id, self.settings.phone_port).await? {
            Ok(t) => t,
            Err(why) => {
                tracing::debug!(device_id = id, %why, "no NOTIFY");
                return Ok(());
            }
        };
        let outcome = self.notifier.notify(&t).await;
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match &outcome {
            Outcome::Accepted { .. } => {
                tracing::debug!(device_id = id, to = %t.addr, "NOTIFY accepted")
            }
            o => {
                tracing::info!(device_id = id, to = %t.addr, outcome = %o.describe(), "NOTIFY not accepted")
            }
        }
        let mut tx = self.provisioner.service.store().write_unversioned().await?;
        store::status::record_notify(tx.conn(), id, &store::now(), &outcome.describe()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn watch_loop(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let store = self.provisioner.service.store().clone();
        let mut seen = -1;
        loop {
            let now = match store.generation().await {
                Ok(g) => g,
                Err(e) => {
                    tracing::warn!(error = %e, "resync: cannot read the store's generation");
                    -1
                }
            };
            if now != seen && now >= 0 {
                // Let a burst of changes end (up to 5 windows) before looking.
                let mut last = now;
                for _ in 0..5 {
                    tokio::select! {
                        _ = tokio::time::sleep(self.settings.debounce) => {}
                        _ = stop.changed() => return,
                    }
                    match store.generation().await {
                        Ok(g) if g != last => last = g,
                        _ => break,
                    }
                }
                let started = std::time::Instant::now();
                match self.scan(last).await {
                    Ok((scanned, changed)) => {
                        seen = last;
                        self.scanned
                            .store(last, std::sync::atomic::Ordering::Release);
                        let ms = started.elapsed().as_millis() as u64;
                        if changed > 0 {
                            tracing::info!(
                                scanned,
                                changed,
                                ms,
                                "files changed: resync NOTIFYs queued"
                            );
                        } else {
                            tracing::debug!(scanned, ms, "files scanned: none changed");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "resync: scanning the phones' files failed")
                    }
                }
            }
            // This process's commits are seen at once, other nodes' within GENERATION_RECHECK.
            tokio::select! {
                _ = tokio::time::sleep(store::GENERATION_RECHECK) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Renders every phone's files, moves the digests that changed and queues those phones.
    async fn scan(&self, generation: i64) -> Result<(usize, usize)> {
        let p = &self.provisioner;
        let (ids, known) = {
            let mut c = p.service.store().read().await?;
            (
                store::devices::phone_ids(&mut c).await?,
                store::status::file_digests(&mut c).await?,
            )
        };
        let mut moves: Vec<(i64, String, String)> = Vec::new();
        for id in &ids {
            let files = match p
                .render_device(*id, &self.settings.base_url, generation)
                .await
            {
                Ok(f) => f,
                // Deleted meanwhile.
                Err(crate::Error::Store(store::Error::NotFound)) => continue,
                Err(e) => return Err(e),
            };
            if files.is_empty() {
                continue;
            }
            let d = digest(&files);
            let old = known.get(id).cloned().unwrap_or_default();
            if d != old {
                moves.push((*id, old, d));
            }
        }
        let mut changed = Vec::new();
        if !moves.is_empty() {
            let at = store::now();
            let mut tx = p.service.store().write_unversioned().await?;
            for (id, old, new) in &moves {
                if store::status::move_file_digest(tx.conn(), *id, old, new, &at).await?
                    && !old.is_empty()
                {
                    changed.push(*id);
                }
            }
            tx.commit().await?;
        }
        for id in &changed {
            self.enqueue(*id);
        }
        Ok((ids.len(), changed.len()))
    }
}

/// Outcomes of a resync run from the command line, by device.
pub type RunReport = HashMap<i64, std::result::Result<Outcome, Skip>>;

/// Notifies `ids` now, paced at `rate` per second, waiting for every outcome and recording it
/// (the CLI's `dialtone resync`, which runs without a server).
pub async fn run_once(
    p: &Provisioner,
    notifier: Arc<Notifier>,
    ids: &[i64],
    phone_port: u16,
    rate: u32,
) -> Result<RunReport> {
    let per = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut pace = tokio::time::interval(per);
    let mut report = RunReport::new();
    let mut running = tokio::task::JoinSet::new();
    for &id in ids {
        match target(p, id, phone_port).await? {
            Err(why) => {
                report.insert(id, Err(why));
            }
            Ok(t) => {
                pace.tick().await;
                let n = notifier.clone();
                running.spawn(async move { (id, n.notify(&t).await) });
            }
        }
    }
    while let Some(done) = running.join_next().await {
        let Ok((id, outcome)) = done else { continue };
        let mut tx = p.service.store().write_unversioned().await?;
        store::status::record_notify(tx.conn(), id, &store::now(), &outcome.describe()).await?;
        tx.commit().await?;
        report.insert(id, Ok(outcome));
    }
    Ok(report)
}

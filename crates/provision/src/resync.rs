//! Resync by SIP NOTIFY: which phones to tell, where they listen, and at what pace.
//!
//! - **Automatically**, after a committed change: the change journal says which devices the
//!   change reached (a line: the devices it appears on; a parameter scope: the devices under
//!   it; a system: its devices; a user: the phones they own). Once the store's generation has
//!   stayed still for the debounce window (so several changes give one NOTIFY), those phones'
//!   files are rendered (warming the cache the phones will read from) and digested; a phone
//!   whose digest moved is notified. Digests are kept in the store and moved by
//!   compare-and-set, so of several nodes seeing the same change one alone notifies. At start,
//!   every phone is rendered once, so a restarted node notifies for changes made while it was
//!   down. A phone's first digest is a baseline: adding a phone notifies no one.
//! - **On demand**: `request` queues phones (API, CLI).
//!
//! Every NOTIFY goes through one paced queue: at most `rate` started per second, each phone once
//! however many times it was queued meanwhile. Its outcome goes to the device's status.

use crate::{Provisioner, Result};
use render::{DeviceView, ResyncBy};
use service::PhoneConfig;
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
    /// Its family takes no NOTIFY, or not with its settings: why.
    NoNotify(String),
    /// Never seen and no contact set: no address to send to.
    NoContact,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::NotAPhone => f.write_str("not a phone"),
            Skip::NoNotify(why) => f.write_str(why),
            Skip::NoContact => f.write_str(
                "no address to send to: the phone has never made a request and has no sip_contact",
            ),
        }
    }
}

/// Where and how to notify each of `ids` (phones that do not exist are left out).
pub(crate) async fn targets(
    p: &Provisioner,
    ids: &[i64],
    phone_port: u16,
) -> Result<Vec<(i64, Result<Target, Skip>)>> {
    let phones = p.phone_views(ids, "").await?;
    let seen: Vec<i64> = phones
        .iter()
        .filter(|(c, _)| c.sip_contact.is_none())
        .map(|(c, _)| c.id)
        .collect();
    let addresses = p.service().last_addresses(&seen).await?;
    let mut out = Vec::with_capacity(phones.len());
    for (c, v) in &phones {
        let t = target(c, v, addresses.get(&c.id), phone_port).await;
        out.push((c.id, t));
    }
    let found: std::collections::HashSet<i64> = out.iter().map(|(id, _)| *id).collect();
    for id in ids {
        if !found.contains(id) {
            out.push((*id, Err(Skip::NotAPhone)));
        }
    }
    Ok(out)
}

async fn target(
    c: &PhoneConfig,
    v: &DeviceView,
    last_ip: Option<&String>,
    phone_port: u16,
) -> Result<Target, Skip> {
    let event = match v.family().map(|f| f.resync(v)) {
        Some(ResyncBy::Event("check-sync")) => ResyncEvent::CheckSync,
        Some(ResyncBy::Event("resync")) => ResyncEvent::Resync,
        Some(ResyncBy::Event("check-sync;reboot=false")) => ResyncEvent::CheckSyncNoReboot,
        Some(ResyncBy::Event(other)) => {
            return Err(Skip::NoNotify(format!(
                "Dialtone cannot send `Event: {other}` yet"
            )))
        }
        Some(ResyncBy::No(why)) => return Err(Skip::NoNotify(why)),
        None => {
            return Err(Skip::NoNotify(format!(
                "a {} takes no resync NOTIFY",
                v.model
            )))
        }
    };
    let addr = match c.sip_contact.as_deref() {
        Some(contact) => resolve(contact, phone_port).await.ok_or(Skip::NoContact)?,
        None => match last_ip.and_then(|ip| ip.parse::<IpAddr>().ok()) {
            Some(ip) => SocketAddr::new(ip, phone_port),
            None => return Err(Skip::NoContact),
        },
    };
    Ok(Target {
        addr,
        user: c.lines.first().map(|l| l.pattern.clone()),
        event,
        credential: c.owner.clone().filter(|(_, s)| !s.expose().is_empty()),
    })
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

/// What a digest of [`digest`] starts with. A stored digest without it was made before
/// digests left the node's own address out: it is a baseline, not a change.
const DIGEST_MARK: &str = "u";

/// The digest of a device's files as phones get them, rendered for `base_url`, with
/// `base_url` left out: nodes of a cluster render rules pointing at themselves, and must agree
/// that a file changed (or did not) whichever node looked.
fn digest(files: &[(String, bytes::Bytes)], base_url: &str) -> String {
    let mut h = Sha256::new();
    for (name, bytes) in files {
        h.update(name.as_bytes());
        h.update([0]);
        let mut rest: &[u8] = bytes;
        let needle = base_url.as_bytes();
        while let Some(i) = (!needle.is_empty())
            .then(|| rest.windows(needle.len()).position(|w| w == needle))
            .flatten()
        {
            h.update(&rest[..i]);
            h.update([0]);
            rest = &rest[i + needle.len()..];
        }
        h.update(rest);
        h.update([0xff]);
    }
    let hex: String = h
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{DIGEST_MARK}{hex}")
}

impl Resync {
    /// Starts the sender and the watcher of changes; both stop when the returned handle and
    /// every clone of it are dropped and `stop` fires.
    pub fn start(
        provisioner: Arc<Provisioner>,
        notifier: Arc<Notifier>,
        settings: Settings,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> (Arc<Resync>, Vec<tokio::task::JoinHandle<()>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let r = Arc::new(Resync {
            provisioner,
            notifier,
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
        for (id, t) in targets(&self.provisioner, ids, self.settings.phone_port).await? {
            match t {
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
        let t = match targets(&self.provisioner, &[id], self.settings.phone_port)
            .await?
            .pop()
        {
            Some((_, Ok(t))) => t,
            Some((_, Err(why))) => {
                tracing::debug!(device_id = id, %why, "no NOTIFY");
                self.provisioner.service().settle_notify(id).await?;
                return Ok(());
            }
            None => return Ok(()),
        };
        let outcome = self.notifier.notify(&t).await;
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.provisioner.metrics().notified(outcome.kind());
        match &outcome {
            Outcome::Accepted { .. } => {
                tracing::debug!(device_id = id, to = %t.addr, "NOTIFY accepted")
            }
            o => {
                tracing::info!(device_id = id, to = %t.addr, outcome = %o.describe(), "NOTIFY not accepted")
            }
        }
        self.provisioner
            .service()
            .record_notify(id, &outcome.describe())
            .await?;
        Ok(())
    }

    async fn watch_loop(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let p = self.provisioner.clone();
        p.gather_touched();
        // At start, every phone: changes made while this node was down are found by digest.
        let mut pending = crate::Touched {
            all: true,
            ..Default::default()
        };
        loop {
            let now = match p.catch_up().await {
                Ok(g) => g,
                Err(e) => {
                    tracing::warn!(error = %e, "resync: cannot read the change journal");
                    -1
                }
            };
            let t = p.take_touched();
            pending.all |= t.all;
            pending.devices.extend(t.devices);
            if now >= 0 && (pending.all || !pending.devices.is_empty()) {
                // Let a burst of changes end (up to 5 windows) before looking.
                let mut last = now;
                for _ in 0..5 {
                    tokio::select! {
                        _ = tokio::time::sleep(self.settings.debounce) => {}
                        _ = stop.changed() => return,
                    }
                    match p.catch_up().await {
                        Ok(g) if g != last => last = g,
                        _ => break,
                    }
                }
                let t = p.take_touched();
                pending.all |= t.all;
                pending.devices.extend(t.devices);
                let started = std::time::Instant::now();
                let work = std::mem::take(&mut pending);
                match self.scan(&work).await {
                    Ok((scanned, changed)) => {
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
                            tracing::debug!(scanned, ms, "files rendered: none changed");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "resync: rendering the phones' files failed");
                        // Look again at the same phones next time.
                        pending = work;
                    }
                }
            } else if now >= 0 {
                self.scanned
                    .fetch_max(now, std::sync::atomic::Ordering::AcqRel);
            }
            // This process's commits are seen at once, other nodes' within GENERATION_RECHECK.
            tokio::select! {
                _ = tokio::time::sleep(service::GENERATION_RECHECK) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Renders the phones changes reached (every phone for `all`), moves the digests that
    /// changed and queues those phones.
    async fn scan(&self, work: &crate::Touched) -> Result<(usize, usize)> {
        let p = &self.provisioner;
        let ids: Vec<i64> = if work.all {
            p.service().phone_ids().await?
        } else {
            work.devices.iter().copied().collect()
        };
        let mut rendered = 0;
        let mut changed = 0;
        for part in ids.chunks(2_000) {
            let phones = p.render_phones(part, &self.settings.base_url).await?;
            let with_files: Vec<i64> = phones
                .iter()
                .filter(|(_, _, f)| !f.is_empty())
                .map(|(c, _, _)| c.id)
                .collect();
            let known = p.service().file_digests(&with_files).await?;
            let mut moves: Vec<(i64, String, String)> = Vec::new();
            let mut baselines: Vec<(i64, String, String)> = Vec::new();
            for (c, _, files) in &phones {
                if files.is_empty() {
                    continue;
                }
                rendered += 1;
                let d = digest(files, &self.settings.base_url);
                let old = known.get(&c.id).cloned().unwrap_or_default();
                if d != old {
                    if old.is_empty() || old.starts_with(DIGEST_MARK) {
                        moves.push((c.id, old, d));
                    } else {
                        baselines.push((c.id, old, d));
                    }
                }
            }
            // Digests of the earlier kind are replaced without a NOTIFY.
            p.service().move_file_digests(&baselines, false).await?;
            for id in p.service().move_file_digests(&moves, true).await? {
                self.enqueue(id);
                changed += 1;
            }
        }
        if work.all {
            tracing::info!(rendered, changed, "every phone's files rendered");
        } else {
            tracing::info!(
                rendered,
                changed,
                "a change reached {} devices: their files rendered",
                ids.len()
            );
        }
        Ok((rendered, changed))
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
    for (id, t) in targets(p, ids, phone_port).await? {
        match t {
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
        p.metrics().notified(outcome.kind());
        p.service().record_notify(id, &outcome.describe()).await?;
        report.insert(id, Ok(outcome));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(base: &str, extra: &str) -> Vec<(String, bytes::Bytes)> {
        vec![(
            "SEP00562B000001.cnf.xml".to_string(),
            bytes::Bytes::from(format!(
                "<rule>{base}/$MA.xml</rule><services>{base}/services</services>{extra}"
            )),
        )]
    }

    #[test]
    fn nodes_agree_on_a_digest_whatever_their_own_address() {
        let a = digest(&files("http://10.0.0.1:6970", ""), "http://10.0.0.1:6970");
        let b = digest(&files("http://10.0.0.2:6970", ""), "http://10.0.0.2:6970");
        assert_eq!(a, b);
        assert!(a.starts_with(DIGEST_MARK));
        // A change to what the file says is a change on every node.
        let c = digest(
            &files("http://10.0.0.2:6970", "<dnd/>"),
            "http://10.0.0.2:6970",
        );
        assert_ne!(a, c);
        // Where the address was is part of what is digested: moving it is a change.
        let moved = vec![(
            "SEP00562B000001.cnf.xml".to_string(),
            bytes::Bytes::from(
                "<rule>/$MA.xml</rule><services>http://10.0.0.1:6970/services</services>",
            ),
        )];
        assert_ne!(a, digest(&moved, ""));
    }
}

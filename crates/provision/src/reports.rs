//! What phones report over syslog: each datagram is parsed (crate `syslog`) against the resync
//! log messages the phones were given, attributed to a device (by the MAC in the message, else
//! by the sender's address when one device alone makes requests from it), and recorded in the
//! device's status in batches, like requests are.

use crate::Result;
use service::Service;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use syslog::{Kind, Parsed, Templates};

/// Counts of what the receiver got, for the log and the tests.
#[derive(Debug, Default)]
pub struct Counters {
    pub datagrams: AtomicU64,
    pub events: AtomicU64,
    /// Well-formed syslog lines that are no resync message.
    pub other: AtomicU64,
    pub malformed: AtomicU64,
    /// Resync messages of no device in the directory.
    pub unknown_device: AtomicU64,
    /// Datagrams dropped because the queue before matching was full.
    pub dropped: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub datagrams: u64,
    pub events: u64,
    pub other: u64,
    pub malformed: u64,
    pub unknown_device: u64,
    pub dropped: u64,
}

pub struct Reports {
    service: Service,
    /// The templates and the generation they were read at.
    templates: tokio::sync::RwLock<(i64, Templates)>,
    pending: Mutex<Vec<model::status::ResyncReport>>,
    counters: Counters,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl std::fmt::Debug for Reports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reports")
            .field("counters", &self.counts())
            .finish_non_exhaustive()
    }
}

impl Reports {
    /// Reports recorded through `service`, counted in `metrics` (the provisioner's).
    pub fn new(service: Service, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Reports {
        Reports {
            service,
            templates: tokio::sync::RwLock::new((-1, Templates::default())),
            pending: Mutex::new(Vec::new()),
            counters: Counters::default(),
            metrics,
        }
    }

    pub fn counts(&self) -> Counts {
        let c = &self.counters;
        Counts {
            datagrams: c.datagrams.load(Ordering::Relaxed),
            events: c.events.load(Ordering::Relaxed),
            other: c.other.load(Ordering::Relaxed),
            malformed: c.malformed.load(Ordering::Relaxed),
            unknown_device: c.unknown_device.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
        }
    }

    /// The templates phones were given: the seed defaults and every Log … Msg text set in a
    /// parameter profile; read again when the store changed.
    async fn templates(&self) -> Result<Templates> {
        let generation = self.service.generation().await?;
        {
            let t = self.templates.read().await;
            if t.0 == generation {
                return Ok(t.1.clone());
            }
        }
        let sets = self.service.parameter_sets(None).await?;
        let mut texts: BTreeSet<(Kind, String)> = BTreeSet::new();
        for s in &sets {
            for (key, kind) in [
                ("log_request_msg", Kind::Request),
                ("log_success_msg", Kind::Success),
                ("log_failure_msg", Kind::Failure),
            ] {
                if let Some(v) = s.values.get(key) {
                    texts.insert((kind, v.clone()));
                }
            }
        }
        let t = Templates::new(texts.iter().map(|(k, v)| (*k, v.as_str())));
        for tpl in t.iter().filter(|t| !t.names_the_device()) {
            tracing::debug!(text = tpl.text(), "a resync log message without $MA/$MAU/$MAC: its lines are attributed by the sender's address");
        }
        *self.templates.write().await = (generation, t.clone());
        Ok(t)
    }

    /// Counts a datagram the receiver had no room for.
    pub fn dropped(&self) {
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Handles one datagram from `from`.
    pub async fn handle(&self, datagram: &[u8], from: IpAddr) -> Result<()> {
        self.counters.datagrams.fetch_add(1, Ordering::Relaxed);
        let templates = self.templates().await?;
        let event = match syslog::parse(datagram, &templates) {
            Ok(Parsed::Event(e)) => e,
            Ok(Parsed::Other) => {
                self.counters.other.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            Err(why) => {
                self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%from, %why, "syslog: dropped a datagram");
                return Ok(());
            }
        };
        let ip = from.to_string();
        let device = match &event.mac {
            Some(m) => self.service.device_with_mac(m).await?,
            None => self.service.device_at(&ip).await?,
        };
        let Some(device_id) = device else {
            self.counters.unknown_device.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%from, mac = ?event.mac, "syslog: a resync message of no device in the directory");
            return Ok(());
        };
        self.counters.events.fetch_add(1, Ordering::Relaxed);
        let report = match event.kind {
            Kind::Request => model::status::Report::Requested,
            Kind::Success => model::status::Report::Succeeded,
            Kind::Failure => model::status::Report::Failed,
        };
        if report != model::status::Report::Requested {
            self.metrics.happened(crate::metrics::Event::Resync);
        }
        if report == model::status::Report::Failed {
            tracing::info!(device_id, %from, error = event.error.as_deref().unwrap_or(""), "a phone reports a failed resync");
        }
        self.pending
            .lock()
            .expect("reports lock")
            .push(model::status::ResyncReport {
                device_id,
                at: service::now(),
                report,
                error: event.error.unwrap_or_default(),
                firmware: event.firmware.unwrap_or_default(),
                ip,
            });
        Ok(())
    }

    /// Writes the reports gathered since the last flush; how many.
    pub async fn flush(&self) -> Result<usize> {
        let batch = std::mem::take(&mut *self.pending.lock().expect("reports lock"));
        if batch.is_empty() {
            return Ok(0);
        }
        self.service.record_reports(&batch).await?;
        Ok(batch.len())
    }
}

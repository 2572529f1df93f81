//! What this node counts, for `/metrics` (the Prometheus text format, written by the
//! `prometheus-client` crate) and for the console's dashboard: phone requests by protocol and
//! outcome, the render cache's hits and misses, how long renders take, resync NOTIFYs by
//! outcome, and the resync reports phones send over syslog. Counted in memory as things happen,
//! from the server's start, on this node alone. Beside the counters, a minute-by-minute history
//! of the last day feeds the dashboard's chart. What other parts own (import rows, the database
//! pool, the cache's size) is read from them when `/metrics` is asked ([`Scrape`]).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// What a NOTIFY's outcome is counted as (`sip::Outcome::kind`).
const NOTIFY_OUTCOMES: [&str; 5] = [
    "accepted",
    "refused",
    "unauthorized",
    "timeout",
    "send_failed",
];

/// The listeners whose refusals are counted ([`Metrics::refused`]).
pub const LISTENERS: [&str; 3] = ["phone_http", "admin", "tftp"];

/// The caps a listener refuses at: connections (transfers) from one address, or in all.
pub const CAPS: [&str; 2] = ["per_source", "total"];

/// The `Content-Type` of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// How a phone's request for a file went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The file was sent.
    Ok,
    /// No such file for this phone (or no such phone).
    NotFound,
    /// The file needs credentials the request did not carry, or carried wrong.
    Unauthorized,
    /// The server failed (the store, a render).
    Error,
    /// The requester must wait first: too many unknown devices asked for, or wrong
    /// credentials ([`crate::guard`]).
    Throttled,
    /// Turned away because files wait too long to be read and rendered (overload).
    Shed,
}

impl Outcome {
    const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::NotFound,
        Outcome::Unauthorized,
        Outcome::Error,
        Outcome::Throttled,
        Outcome::Shed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::NotFound => "not_found",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Error => "error",
            Outcome::Throttled => "throttled",
            Outcome::Shed => "shed",
        }
    }
}

/// The protocol a phone asked over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Tftp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Tftp => "tftp",
        }
    }
}

/// What the chart counts per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A phone's request for a file (any outcome).
    Request = 0,
    /// A phone reported a finished resync over syslog (succeeded or failed).
    Resync = 1,
    /// A NOTIFY the phone accepted.
    NotifyAccepted = 2,
    /// A NOTIFY refused, unanswered or not sent.
    NotifyFailed = 3,
}

const EVENTS: usize = 4;
/// Minutes of history kept: a day.
pub const DAY_MINUTES: u64 = 24 * 60;

/// One minute of the history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Minute {
    /// Minutes since the Unix epoch.
    pub at: u64,
    pub requests: u32,
    pub resyncs: u32,
    pub notifies_accepted: u32,
    pub notifies_failed: u32,
}

/// A minute's slot in the ring of a day.
#[derive(Debug, Default)]
struct Slot {
    at: AtomicU64,
    counts: [AtomicU32; EVENTS],
}

/// What `/metrics` reads from the other parts when it is asked.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// Import rows done since the start, by kind: (kind, ok, failed).
    pub import_rows: Vec<(String, u64, u64)>,
    /// The database pool: connections open, and idle among them.
    pub pool: (u64, u64),
    /// Syslog datagrams received, and how they were taken: (what, count).
    pub syslog: Vec<(&'static str, u64)>,
}

pub struct Metrics {
    registry: Registry,
    /// By protocol, then outcome ([`Outcome::ALL`]'s order).
    requests: [[Counter; 6]; 2],
    cache_hits: Counter,
    cache_misses: Counter,
    render_seconds: Histogram,
    notifies: Family<[(&'static str, &'static str); 1], Counter>,
    refused: Family<[(&'static str, &'static str); 2], Counter>,
    history: Vec<Slot>,
    /// The cache's files and bytes, as last noted ([`Metrics::set_cached`]).
    cached: (AtomicU64, AtomicU64),
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn now_minute() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("dialtone");
        let requests_family = Family::<[(&'static str, &'static str); 2], Counter>::default();
        registry.register(
            "phone_requests",
            "Phone file requests by protocol and outcome",
            requests_family.clone(),
        );
        let requests = [Protocol::Http, Protocol::Tftp].map(|p| {
            Outcome::ALL.map(|o| {
                requests_family
                    .get_or_create(&[("protocol", p.as_str()), ("outcome", o.as_str())])
                    .clone()
            })
        });
        let cache = Family::<[(&'static str, &'static str); 1], Counter>::default();
        registry.register(
            "render_cache_lookups",
            "Phone files looked up in the render cache, by result",
            cache.clone(),
        );
        let cache_hits = cache.get_or_create(&[("result", "hit")]).clone();
        let cache_misses = cache.get_or_create(&[("result", "miss")]).clone();
        // 50 µs to about 1.6 s, doubling.
        let render_seconds = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(0.00005, 2.0, 16),
        );
        registry.register(
            "render_seconds",
            "Time to render one phone file",
            render_seconds.clone(),
        );
        let notifies = Family::default();
        registry.register("notifies", "Resync NOTIFYs by outcome", notifies.clone());
        // Every outcome from the start, at 0: a series that appears only when it first counts
        // cannot be told from one that is not collected.
        for kind in NOTIFY_OUTCOMES {
            let _ = notifies.get_or_create(&[("outcome", kind)]);
        }
        let refused = Family::default();
        registry.register(
            "connections_refused",
            "Connections (TFTP: transfers) refused because a cap was reached, by listener and cap",
            refused.clone(),
        );
        for listener in LISTENERS {
            for cap in CAPS {
                let _ = refused.get_or_create(&[("listener", listener), ("cap", cap)]);
            }
        }
        Metrics {
            registry,
            requests,
            cache_hits,
            cache_misses,
            render_seconds,
            notifies,
            refused,
            history: (0..DAY_MINUTES).map(|_| Slot::default()).collect(),
            cached: Default::default(),
        }
    }

    /// A phone's request for a file, and how it went.
    pub fn request(&self, protocol: Protocol, outcome: Outcome) {
        let p = match protocol {
            Protocol::Http => 0,
            Protocol::Tftp => 1,
        };
        let o = Outcome::ALL.iter().position(|x| *x == outcome).unwrap_or(3);
        self.requests[p][o].inc();
        self.happened(Event::Request);
    }

    /// Phone file requests answered since the start, every protocol and outcome.
    pub fn requests_total(&self) -> u64 {
        self.requests.iter().flatten().map(|c| c.get()).sum()
    }

    /// NOTIFYs sent since the start, every outcome.
    pub fn notifies_total(&self) -> u64 {
        NOTIFY_OUTCOMES
            .iter()
            .map(|k| self.notifies.get_or_create(&[("outcome", k)]).get())
            .sum()
    }

    pub fn cache_hit(&self) {
        self.cache_hits.inc();
    }

    pub fn cache_miss(&self) {
        self.cache_misses.inc();
    }

    pub fn rendered(&self, took: std::time::Duration) {
        self.render_seconds.observe(took.as_secs_f64());
    }

    /// A NOTIFY's outcome (`sip::Outcome::kind`: accepted, refused, unauthorized, timeout,
    /// send_failed).
    pub fn notified(&self, kind: &'static str) {
        self.notifies.get_or_create(&[("outcome", kind)]).inc();
        self.happened(if kind == "accepted" {
            Event::NotifyAccepted
        } else {
            Event::NotifyFailed
        });
    }

    /// A connection (for TFTP, a transfer) the `listener` (one of [`LISTENERS`]) refused because
    /// its `cap` (one of [`CAPS`]) was reached.
    pub fn refused(&self, listener: &'static str, cap: &'static str) {
        self.refused
            .get_or_create(&[("listener", listener), ("cap", cap)])
            .inc();
    }

    /// Counts `e` in this minute of the history. Two threads that meet a new minute at once
    /// may lose a count or two of it to the reset: the chart is a picture, the counters above
    /// are exact.
    pub fn happened(&self, e: Event) {
        let m = now_minute();
        let slot = &self.history[(m % DAY_MINUTES) as usize];
        let at = slot.at.load(Ordering::Acquire);
        if at != m
            && slot
                .at
                .compare_exchange(at, m, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            for c in &slot.counts {
                c.store(0, Ordering::Relaxed);
            }
        }
        slot.counts[e as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The last `n` minutes up to this one, oldest first; minutes with nothing are zeros.
    pub fn history(&self, n: u64) -> Vec<Minute> {
        let now = now_minute();
        let n = n.min(DAY_MINUTES);
        (now + 1 - n..=now)
            .map(|m| {
                let slot = &self.history[(m % DAY_MINUTES) as usize];
                let c = |e: Event| slot.counts[e as usize].load(Ordering::Relaxed);
                if slot.at.load(Ordering::Acquire) == m {
                    Minute {
                        at: m,
                        requests: c(Event::Request),
                        resyncs: c(Event::Resync),
                        notifies_accepted: c(Event::NotifyAccepted),
                        notifies_failed: c(Event::NotifyFailed),
                    }
                } else {
                    Minute {
                        at: m,
                        ..Default::default()
                    }
                }
            })
            .collect()
    }

    /// Notes the cache's size for the next [`Metrics::encode`].
    pub fn set_cached(&self, files: u64, bytes: u64) {
        self.cached.0.store(files, Ordering::Relaxed);
        self.cached.1.store(bytes, Ordering::Relaxed);
    }

    /// Everything, in the Prometheus text format (version 0.0.4,
    /// [`prometheus_text::CONTENT_TYPE`]).
    pub fn encode(&self, s: &Scrape) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_text::encode(&mut out, &self.registry)?;
        let mut now = Registry::with_prefix("dialtone");
        now.register_collector(Box::new(Counted {
            name: "import_rows",
            help: "CSV import rows done, by kind and result",
            values: s
                .import_rows
                .iter()
                .flat_map(|(kind, ok, failed)| {
                    [
                        (vec![("kind", kind.clone()), ("result", "ok".into())], *ok),
                        (
                            vec![("kind", kind.clone()), ("result", "failed".into())],
                            *failed,
                        ),
                    ]
                })
                .collect(),
        }));
        now.register_collector(Box::new(Counted {
            name: "syslog_datagrams",
            help: "Syslog datagrams received, by how they were taken",
            values: s
                .syslog
                .iter()
                .map(|(what, n)| (vec![("taken", what.to_string())], *n))
                .collect(),
        }));
        for (name, help, v) in [
            ("db_connections", "Database pool connections open", s.pool.0),
            (
                "db_connections_idle",
                "Database pool connections open and idle",
                s.pool.1,
            ),
            (
                "render_cache_files",
                "Phone files held in the render cache",
                self.cached.0.load(Ordering::Relaxed),
            ),
            (
                "render_cache_bytes",
                "Bytes of phone files held in the render cache",
                self.cached.1.load(Ordering::Relaxed),
            ),
        ] {
            now.register(name, help, ConstGauge::new(v as i64));
        }
        prometheus_text::encode(&mut out, &now)?;
        Ok(out)
    }
}

/// Counters read from elsewhere when `/metrics` is asked.
#[derive(Debug)]
struct Counted {
    name: &'static str,
    help: &'static str,
    values: Vec<(Vec<(&'static str, String)>, u64)>,
}

impl Collector for Counted {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family =
            encoder.encode_descriptor(self.name, self.help, None, MetricType::Counter)?;
        for (labels, n) in &self.values {
            ConstCounter::new(*n).encode(family.encode_family(labels)?)?;
        }
        Ok(())
    }
}

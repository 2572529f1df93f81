//! Back-off after failed log-ins, per account and per source address, as OpenSSH's
//! `PerSourcePenalties` and Keycloak's brute-force detection do. A few failures are free (people
//! mistype); past them each failure makes the key wait, twice as long each time up to a ceiling,
//! and an attempt while waiting is refused before any password is checked, so a flood of guesses
//! costs no argon2 work and cannot starve a real log-in. A success clears the key.
//!
//! Kept in memory, on this node: a node restarted or another node starts afresh (issue 17 may
//! move it to the database). Bounded: at most [`KEYS`] keys, the oldest quiet ones dropped first.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys remembered at most (a flood from many addresses cannot grow it without bound).
const KEYS: usize = 100_000;

/// How a kind of key is held back.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures within `window` that cost nothing.
    pub free: u32,
    /// Failures are forgotten this long after the last one.
    pub window: Duration,
    /// The first wait, doubled at each further failure.
    pub first: Duration,
    /// The longest wait.
    pub ceiling: Duration,
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    last: Instant,
    until: Option<Instant>,
}

/// Failures by key, and the waits they earned.
#[derive(Debug)]
pub struct Throttle<K> {
    policy: Policy,
    keys: Mutex<HashMap<K, Entry>>,
}

/// What a failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// Still within the free failures.
    Free,
    /// The key must now wait this long (a new wait began: worth a log line and an audit entry).
    Wait(Duration),
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    pub fn new(policy: Policy) -> Self {
        Throttle {
            policy,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// How long `key` must still wait before it may try again, if it must.
    pub fn waiting(&self, key: &K) -> Option<Duration> {
        let m = self.keys.lock().expect("throttle");
        let until = m.get(key)?.until?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// Counts a failure of `key`.
    pub fn failed(&self, key: &K) -> Failed {
        let now = Instant::now();
        let mut m = self.keys.lock().expect("throttle");
        if m.len() >= KEYS && !m.contains_key(key) {
            let window = self.policy.window;
            m.retain(|_, e| {
                now.duration_since(e.last) < window || e.until.is_some_and(|u| u > now)
            });
            if m.len() >= KEYS {
                // Still full of recent keys: the oldest half goes.
                let mut lasts: Vec<Instant> = m.values().map(|e| e.last).collect();
                lasts.sort_unstable();
                let cut = lasts[lasts.len() / 2];
                m.retain(|_, e| e.last > cut);
            }
        }
        let e = m.entry(key.clone()).or_insert(Entry {
            failures: 0,
            last: now,
            until: None,
        });
        if now.duration_since(e.last) >= self.policy.window {
            e.failures = 0;
        }
        e.failures += 1;
        e.last = now;
        if e.failures <= self.policy.free {
            return Failed::Free;
        }
        let doublings = (e.failures - self.policy.free - 1).min(30);
        let wait = self
            .policy
            .first
            .saturating_mul(1u32 << doublings.min(20))
            .min(self.policy.ceiling);
        e.until = Some(now + wait);
        Failed::Wait(wait)
    }

    /// Forgets `key`'s failures (it logged in).
    pub fn succeeded(&self, key: &K) {
        self.keys.lock().expect("throttle").remove(key);
    }
}

/// Whole seconds to wait, rounded up (what `Retry-After` and a message say).
pub fn secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_failures_then_doubling_waits_up_to_the_ceiling_and_success_clears() {
        let t = Throttle::new(Policy {
            free: 3,
            window: Duration::from_secs(900),
            first: Duration::from_secs(1),
            ceiling: Duration::from_secs(5),
        });
        let k = "admin".to_string();
        for _ in 0..3 {
            assert_eq!(t.failed(&k), Failed::Free);
            assert_eq!(t.waiting(&k), None);
        }
        assert_eq!(t.failed(&k), Failed::Wait(Duration::from_secs(1)));
        assert!(t.waiting(&k).is_some());
        assert_eq!(t.failed(&k), Failed::Wait(Duration::from_secs(2)));
        assert_eq!(t.failed(&k), Failed::Wait(Duration::from_secs(4)));
        assert_eq!(t.failed(&k), Failed::Wait(Duration::from_secs(5)));
        assert_eq!(t.failed(&k), Failed::Wait(Duration::from_secs(5)));
        assert_eq!(t.waiting(&"other".to_string()), None, "keys are apart");
        t.succeeded(&k);
        assert_eq!(t.waiting(&k), None);
        assert_eq!(t.failed(&k), Failed::Free);
    }

    #[test]
    fn failures_are_forgotten_after_the_window() {
        let t = Throttle::new(Policy {
            free: 1,
            window: Duration::from_millis(50),
            first: Duration::from_secs(1),
            ceiling: Duration::from_secs(1),
        });
        assert_eq!(t.failed(&1), Failed::Free);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(t.failed(&1), Failed::Free);
        assert_eq!(t.failed(&1), Failed::Wait(Duration::from_secs(1)));
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(secs(Duration::from_millis(1)), 1);
        assert_eq!(secs(Duration::from_secs(2)), 2);
        assert_eq!(secs(Duration::from_millis(2001)), 3);
    }
}

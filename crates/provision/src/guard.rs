//! What holds back a host that guesses (issue 16, findings 4 and 5), over HTTP and TFTP alike:
//!
//! - **MAC sweeps.** A request naming a device the directory does not have is a miss. A real
//!   phone not yet added misses once or twice as it boots; a host walking through MACs misses
//!   thousands of times. Past [`SWEEP_POLICY`]'s free misses an address waits, doubling, before
//!   any device-named request of it is answered, found or not (else the answers would still tell
//!   a hit from a miss at full speed).
//! - **Phone passwords.** A wrong credential for a file that needs one counts against the
//!   address ([`CREDENTIAL_SOURCE_POLICY`]) and the device ([`CREDENTIAL_DEVICE_POLICY`]).
//!
//! Neither wait holds a phone back from a file it was served from the same address before: a
//! guesser cannot lock a working phone out, and a site behind one NAT address keeps booting.
//! Each wait that begins is logged. Kept in memory on each node, bounded.

use service::throttle::{secs, Failed, Policy, Throttle};
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

/// Device-named requests for devices not in the directory, from one address: a hundred within
/// ten minutes are free (a site behind NAT adding phones); then 1 s, doubling to a minute.
pub const SWEEP_POLICY: Policy = Policy {
    free: 100,
    window: Duration::from_secs(600),
    first: Duration::from_secs(1),
    ceiling: Duration::from_secs(60),
};

/// Wrong phone credentials from one address: ten within 15 minutes are free; then 2 s,
/// doubling to 15 minutes.
pub const CREDENTIAL_SOURCE_POLICY: Policy = Policy {
    free: 10,
    window: Duration::from_secs(900),
    first: Duration::from_secs(2),
    ceiling: Duration::from_secs(900),
};

/// Wrong credentials for one device from anywhere: five are free; then 1 s, doubling to a
/// minute.
pub const CREDENTIAL_DEVICE_POLICY: Policy = Policy {
    free: 5,
    window: Duration::from_secs(900),
    first: Duration::from_secs(1),
    ceiling: Duration::from_secs(60),
};

/// (file, address) pairs remembered as served at most.
const SERVED: usize = 200_000;

#[derive(Debug)]
pub struct Guard {
    sweeps: Throttle<IpAddr>,
    credential_sources: Throttle<IpAddr>,
    credential_devices: Throttle<String>,
    /// Files served to an address since this node started ([`served_key`]).
    served: Mutex<HashSet<(u64, IpAddr)>>,
}

impl Default for Guard {
    fn default() -> Self {
        Guard {
            sweeps: Throttle::new(SWEEP_POLICY),
            credential_sources: Throttle::new(CREDENTIAL_SOURCE_POLICY),
            credential_devices: Throttle::new(CREDENTIAL_DEVICE_POLICY),
            served: Mutex::default(),
        }
    }
}

/// A file name, case aside, as a number (no allocation on the request path), with the address.
fn served_key(file: &str, ip: IpAddr) -> (u64, IpAddr) {
    use std::hash::Hasher;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for b in file.bytes() {
        h.write_u8(b.to_ascii_lowercase());
    }
    (h.finish(), ip)
}

impl Guard {
    fn was_served(&self, file: &str, ip: IpAddr) -> bool {
        self.served
            .lock()
            .expect("served files")
            .contains(&served_key(file, ip))
    }

    /// Notes that `file` was sent to `ip`.
    pub fn served(&self, file: &str, ip: IpAddr) {
        let key = served_key(file, ip);
        let mut s = self.served.lock().expect("served files");
        if s.len() >= SERVED && !s.contains(&key) {
            s.clear();
        }
        s.insert(key);
    }

    /// How long `ip` must wait before a device-named request for `file` is answered.
    pub fn sweep_wait(&self, file: &str, ip: IpAddr) -> Option<Duration> {
        let w = self.sweeps.waiting(&ip)?;
        (!self.was_served(file, ip)).then_some(w)
    }

    /// Counts a request from `ip` for `file`, which names a device the directory does not have.
    pub fn missed(&self, file: &str, ip: IpAddr) {
        if let Failed::Wait(w) = self.sweeps.failed(&ip) {
            tracing::warn!(source = %ip, file, wait_s = secs(w), "a MAC sweep, it seems: more than {} requests for devices not in the directory within {} minutes; device files for {ip} now wait {} s", SWEEP_POLICY.free, SWEEP_POLICY.window.as_secs() / 60, secs(w));
        }
    }

    /// How long `ip` must wait before its credentials for `device`'s `file` are checked.
    pub fn credential_wait(&self, device: &str, file: &str, ip: IpAddr) -> Option<Duration> {
        if self.was_served(file, ip) {
            return None;
        }
        match (
            self.credential_sources.waiting(&ip),
            self.credential_devices.waiting(&device.to_string()),
        ) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or_default().max(b.unwrap_or_default())),
        }
    }

    /// Counts wrong credentials from `ip` for `device`.
    pub fn credential_failed(&self, device: &str, ip: IpAddr) {
        if let Failed::Wait(w) = self.credential_sources.failed(&ip) {
            tracing::warn!(source = %ip, device, wait_s = secs(w), "repeated wrong phone credentials from {ip}: its credentials now wait {} s", secs(w));
        }
        if let Failed::Wait(w) = self.credential_devices.failed(&device.to_string()) {
            tracing::warn!(source = %ip, device, wait_s = secs(w), "repeated wrong credentials for {device}: they now wait {} s (addresses it was served from before are not held)", secs(w));
        }
    }

    /// Clears the credential failures of `device` and `ip` (a right answer).
    pub fn credential_passed(&self, device: &str, ip: IpAddr) {
        self.credential_sources.succeeded(&ip);
        self.credential_devices.succeeded(&device.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_waits_but_a_phone_served_before_does_not() {
        let g = Guard::default();
        let sweeper: IpAddr = [10, 0, 0, 9].into();
        g.served("SEP000000000001.cnf.xml", sweeper);
        for i in 0..SWEEP_POLICY.free {
            g.missed(&format!("SEP{i:012X}.cnf.xml"), sweeper);
            assert_eq!(g.sweep_wait("SEP0000000000FF.cnf.xml", sweeper), None);
        }
        g.missed("SEPFFFFFFFFFFFF.cnf.xml", sweeper);
        assert!(g.sweep_wait("SEP0000000000FF.cnf.xml", sweeper).is_some());
        assert_eq!(
            g.sweep_wait("sep000000000001.cnf.xml", sweeper),
            None,
            "served before from there"
        );
        assert_eq!(
            g.sweep_wait("SEP0000000000FF.cnf.xml", [10, 0, 0, 8].into()),
            None,
            "other addresses are apart"
        );
    }

    #[test]
    fn wrong_credentials_wait_per_device_and_per_address() {
        let g = Guard::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let phone: IpAddr = [10, 0, 0, 2].into();
        g.served("aabbccddeeff.xml", phone);
        for _ in 0..CREDENTIAL_DEVICE_POLICY.free + 1 {
            g.credential_failed("SEPAABBCCDDEEFF", ip);
        }
        assert!(g
            .credential_wait("SEPAABBCCDDEEFF", "aabbccddeeff.xml", [10, 0, 0, 3].into())
            .is_some());
        assert_eq!(
            g.credential_wait("SEPAABBCCDDEEFF", "aabbccddeeff.xml", phone),
            None,
            "the phone itself is not locked out"
        );
        g.credential_passed("SEPAABBCCDDEEFF", ip);
        assert_eq!(
            g.credential_wait("SEPAABBCCDDEEFF", "aabbccddeeff.xml", ip),
            None
        );
    }
}

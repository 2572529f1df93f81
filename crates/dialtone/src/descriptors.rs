//! Every connection and every TFTP transfer holds a file descriptor. When a flood used them all
//! up, the admin listener, `/healthz` and the database stopped too (issue 16). At start the
//! soft limit is raised to the hard one (as nginx's `worker_rlimit_nofile` does), and the
//! listeners' caps are fitted under it, with room kept for the database, SIP, syslog and files.

use crate::Config;

/// Descriptors kept for everything but the capped listeners: the database pool, SIP, syslog,
/// the log, firmware and template files, the listening sockets themselves.
pub const RESERVED: u64 = 512;

/// Raises the soft descriptor limit to the hard one; returns the limit now in force.
pub fn raise_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use nix::sys::resource::{getrlimit, setrlimit, Resource};
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
        if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
            return Some(hard);
        }
        Some(soft)
    }
    #[cfg(not(unix))]
    None
}

/// `cfg` with the phone HTTP, admin and TFTP caps lowered, in proportion, until they and
/// [`RESERVED`] fit in `limit` descriptors. Returns whether anything was lowered.
pub fn fit(cfg: &mut Config, limit: u64) -> bool {
    let http = if cfg.http.listen.trim().is_empty() {
        0
    } else {
        cfg.http.max_connections as u64
    };
    let tftp = if cfg.tftp.listen.trim().is_empty() {
        0
    } else {
        cfg.tftp.max_transfers as u64
    };
    let admin = cfg.admin.max_connections as u64;
    let want = http + tftp + admin;
    let room = limit.saturating_sub(RESERVED).max(64);
    if want <= room {
        return false;
    }
    let scale = |n: usize| ((n as u64 * room / want).max(8)) as usize;
    cfg.http.max_connections = scale(cfg.http.max_connections);
    cfg.tftp.max_transfers = scale(cfg.tftp.max_transfers);
    cfg.admin.max_connections = scale(cfg.admin.max_connections);
    cfg.http.max_connections_per_source = cfg
        .http
        .max_connections_per_source
        .min(cfg.http.max_connections);
    cfg.tftp.max_transfers_per_source = cfg
        .tftp
        .max_transfers_per_source
        .min(cfg.tftp.max_transfers);
    cfg.admin.max_connections_per_source = cfg
        .admin
        .max_connections_per_source
        .min(cfg.admin.max_connections);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_fit_under_a_low_limit_in_proportion() {
        let mut cfg = Config::default();
        cfg.admin.https_listen.clear();
        cfg.tftp.listen = "127.0.0.1:0".into();
        assert!(
            !fit(&mut cfg, 20_000),
            "the defaults fit 20,000 descriptors"
        );
        assert!(fit(&mut cfg, 1024));
        let total = cfg.http.max_connections + cfg.tftp.max_transfers + cfg.admin.max_connections;
        assert!(total as u64 <= 1024 - RESERVED, "{total}");
        assert!(cfg.http.max_connections > cfg.admin.max_connections);
        assert!(cfg.http.max_connections_per_source <= cfg.http.max_connections);
        assert!(cfg.admin.max_connections >= 8);
    }
}

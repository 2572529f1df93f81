//! What devices do, as the data plane records it: the requests they make and the resync
//! reports they send.

/// One request a device made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub device_id: i64,
    pub at: String,
    pub ip: String,
    pub user_agent: String,
    pub file: String,
    /// `http` or `tftp`.
    pub protocol: String,
    /// Requests since the last record.
    pub requests: i64,
    /// The firmware the request's User-Agent names; empty when it names none.
    pub firmware: String,
}

/// What a phone reported over syslog about a resync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    Requested,
    Succeeded,
    Failed,
}

/// One resync report of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResyncReport {
    pub device_id: i64,
    pub at: String,
    pub report: Report,
    /// The reason of a failure.
    pub error: String,
    /// Empty when the message did not say.
    pub firmware: String,
    /// Where the syslog datagram came from.
    pub ip: String,
}

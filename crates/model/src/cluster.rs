//! The nodes of a cluster as the API shows them (`GET /api/v1/cluster`, docs/scale-out.md).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A node's heartbeat older than this (by the database's clock) means it is down: its import
/// jobs are taken over and its leases may be taken.
pub const NODE_DEAD_MS: i64 = 10_000;

/// How often a node says it is alive.
pub const HEARTBEAT_MS: i64 = 2_000;

/// Where a node listens (empty: not listening there).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NodeAddresses {
    #[serde(default)]
    pub admin: String,
    #[serde(default)]
    pub admin_https: String,
    #[serde(default)]
    pub http: String,
    #[serde(default)]
    pub https: String,
    #[serde(default)]
    pub tftp: String,
    #[serde(default)]
    pub sip: String,
    #[serde(default)]
    pub syslog: String,
}

/// What a node is doing, as of its last heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NodeDoing {
    /// The import jobs it runs.
    #[serde(default)]
    pub imports: Vec<i64>,
    /// The work it does for the whole cluster (`scheduler`: scheduled LDAP syncs, ending
    /// expired extension mobility logins, pruning the change journal).
    #[serde(default)]
    pub leases: Vec<String>,
    /// Phone file requests answered since it started.
    #[serde(default)]
    pub phone_requests: u64,
    /// Files in its render cache.
    #[serde(default)]
    pub cached_files: u64,
    /// Resync NOTIFYs it sent since it started.
    #[serde(default)]
    pub notifies: u64,
}

/// `up` (heard from within the last 10 s), `down` (not heard from: killed, or cut off from the
/// database) or `stopped` (stopped on purpose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    Up,
    Down,
    Stopped,
}

/// A node of the cluster.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClusterNode {
    pub name: String,
    /// The node answering this request.
    pub this_node: bool,
    pub state: NodeState,
    /// Dialtone's version on it.
    pub version: String,
    pub addresses: NodeAddresses,
    /// The address phones are given for it (soft clients' TFTP server lists); empty for none.
    pub tftp_host: String,
    /// When this run of it started (RFC 3339).
    pub started_at: String,
    /// Milliseconds since it last said it was alive (the database's clock).
    pub heartbeat_age_ms: i64,
    pub doing: NodeDoing,
}

/// `GET /api/v1/cluster`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Cluster {
    /// The database every node shares: `sqlite` or `postgresql`.
    pub backend: String,
    pub nodes: Vec<ClusterNode>,
}

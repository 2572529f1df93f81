//! This process as a node of a cluster on one database (issue 17, docs/scale-out.md): its
//! record and heartbeat, the lease on the work one node does for all (`scheduler`), the import
//! jobs it takes over from a dead node, and the cluster as the API shows it.

use crate::{Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::cluster::*;
use std::sync::atomic::{AtomicBool, Ordering};
use store::changes::Change;

/// The lease on the work one node does for the whole cluster: scheduled LDAP syncs, ending
/// expired extension mobility logins, pruning the change journal.
pub const SCHEDULER: &str = "scheduler";

/// This process as a node; a process that is no node (a command run from the shell) has an
/// empty `run`, and the import jobs it runs are done in the foreground (never taken over).
#[derive(Debug, Default)]
pub struct Node {
    pub name: String,
    /// This start of the node: a random id.
    pub run: String,
    /// It held the scheduler lease at its last heartbeat.
    scheduler: AtomicBool,
    /// Its name was taken by another process at its last heartbeat (told once).
    displaced: AtomicBool,
    /// Its first heartbeat is done: whether it holds the scheduler lease is known.
    heard: AtomicBool,
    heard_now: tokio::sync::Notify,
}

impl Node {
    fn new(name: &str) -> Node {
        use rand::RngCore;
        let mut b = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut b);
        Node {
            name: name.to_string(),
            run: format!(
                "{name}#{}",
                b.iter().map(|x| format!("{x:02x}")).collect::<String>()
            ),
            ..Node::default()
        }
    }
}

impl Service {
    /// This service as node `name` of the cluster (a new run of it).
    pub fn with_node(mut self, name: &str) -> Service {
        self.node = std::sync::Arc::new(Node::new(name));
        self
    }

    /// Follows other nodes' commits as they happen ([`store::Store::follow_commits`]; on
    /// PostgreSQL).
    pub fn follow_commits(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.store.follow_commits()
    }

    /// This process as a node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Whether this node does the cluster's scheduled work now ([`SCHEDULER`]).
    pub fn is_scheduler(&self) -> bool {
        self.node.scheduler.load(Ordering::Acquire)
    }

    /// Waits for this node's first heartbeat, after which [`Service::is_scheduler`] says
    /// whether it does the cluster's scheduled work (a loop of that work waits for it before
    /// its first look).
    pub async fn until_heard(&self) {
        loop {
            let woken = self.node.heard_now.notified();
            if self.node.heard.load(Ordering::Acquire) {
                return;
            }
            woken.await;
        }
    }

    /// Records this run of the node, where it listens and the address phones are given for it.
    /// A new node, or one whose phone address changed, changes the files that list the nodes
    /// (soft clients' TFTP servers).
    pub async fn join_cluster(&self, addresses: &NodeAddresses, tftp_host: &str) -> Result<()> {
        let at = self.store.clock_ms().await?;
        let row = store::cluster::NodeRow {
            name: self.node.name.clone(),
            run: self.node.run.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            addresses: serde_json::to_string(addresses)
                .map_err(|e| Error::Internal(e.to_string()))?,
            tftp_host: tftp_host.to_string(),
            started_at: store::now(),
            heartbeat_ms: at,
            stopped: false,
            doing: String::new(),
        };
        let mut tx = self.store.write().await?;
        let before = store::cluster::register(tx.conn(), &row).await?;
        if before.as_ref().map(|b| b.tftp_host.as_str()) != Some(tftp_host) {
            tx.changed(Change::All);
        }
        // The run before this one under the name is over (killed, or stopped): its leases go
        // now rather than when they run out.
        if let Some(b) = &before {
            store::cluster::drop_leases(tx.conn(), &b.run).await?;
        }
        tx.commit().await?;
        if let Some(b) = before {
            if !b.stopped && at - b.heartbeat_ms < NODE_DEAD_MS {
                tracing::warn!(
                    node = %b.name,
                    heard_ms_ago = at - b.heartbeat_ms,
                    "the previous run of this node was heard from a moment ago: if it still runs, two servers share a name ([cluster] node)"
                );
            }
        }
        tracing::info!(node = %self.node.name, run = %self.node.run, tftp_host, "joined the cluster");
        Ok(())
    }

    /// Says this node is alive and what it is doing, and takes or keeps the scheduler lease
    /// (answers whether it holds it).
    pub async fn heartbeat(&self, doing: &NodeDoing) -> Result<bool> {
        let at = self.store.clock_ms().await?;
        let doing = serde_json::to_string(doing).map_err(|e| Error::Internal(e.to_string()))?;
        let mut tx = self.store.write_unversioned().await?;
        let mine =
            store::cluster::heartbeat(tx.conn(), &self.node.name, &self.node.run, at, &doing)
                .await?;
        // A node whose name another process took holds no lease: the other does the work.
        let lead = mine
            && store::cluster::lease(tx.conn(), SCHEDULER, &self.node.run, at, NODE_DEAD_MS)
                .await?;
        tx.commit().await?;
        if !mine && !self.node.displaced.swap(true, Ordering::AcqRel) {
            tracing::error!(node = %self.node.name, "another server took this node's name: give each node its own ([cluster] node)");
        } else if mine {
            self.node.displaced.store(false, Ordering::Release);
        }
        let was = self.node.scheduler.swap(lead, Ordering::AcqRel);
        if !self.node.heard.swap(true, Ordering::AcqRel) {
            self.node.heard_now.notify_waiters();
        }
        if was != lead {
            tracing::info!(
                node = %self.node.name,
                "{}",
                if lead {
                    "this node now does the cluster's scheduled work"
                } else {
                    "another node now does the cluster's scheduled work"
                }
            );
        }
        Ok(lead)
    }

    /// This run stops on purpose: its jobs and lease are for the others to take at once.
    pub async fn leave_cluster(&self) -> Result<()> {
        if self.node.run.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.write_unversioned().await?;
        store::cluster::stopped(tx.conn(), &self.node.name, &self.node.run).await?;
        tx.commit().await?;
        self.node.scheduler.store(false, Ordering::Release);
        Ok(())
    }

    /// The nodes, as of their last heartbeats.
    pub async fn cluster(&self) -> Result<Cluster> {
        let at = self.store.clock_ms().await?;
        let mut c = self.store.read().await?;
        let rows = store::cluster::nodes(&mut c).await?;
        let leases = store::cluster::leases(&mut c, at).await?;
        let mut nodes = Vec::with_capacity(rows.len());
        for r in rows {
            let mut doing: NodeDoing = serde_json::from_str(&r.doing).unwrap_or_default();
            doing.imports = store::cluster::jobs_of(&mut c, &r.run).await?;
            doing.leases = leases
                .iter()
                .filter(|(_, run)| *run == r.run)
                .map(|(name, _)| name.clone())
                .collect();
            let age = (at - r.heartbeat_ms).max(0);
            nodes.push(ClusterNode {
                this_node: r.run == self.node.run,
                state: if r.stopped {
                    NodeState::Stopped
                } else if age < NODE_DEAD_MS {
                    NodeState::Up
                } else {
                    NodeState::Down
                },
                addresses: serde_json::from_str(&r.addresses).unwrap_or_default(),
                name: r.name,
                version: r.version,
                tftp_host: r.tftp_host,
                started_at: r.started_at,
                heartbeat_age_ms: age,
                doing,
            });
        }
        Ok(Cluster {
            backend: match self.store.backend() {
                store::Backend::Sqlite => "sqlite",
                store::Backend::Postgres => "postgresql",
            }
            .into(),
            nodes,
        })
    }

    /// Forgets a node that is gone for good: it leaves the phones' server lists. A node that
    /// is up is refused (stop it first); one that starts again joins again.
    pub async fn forget_node(&self, actor: &Actor, name: &str) -> Result<()> {
        let a = Audit {
            action: Action::Delete,
            resource: Resource::Node,
            target: name.to_string(),
            system: String::new(),
        };
        let at = self.store.clock_ms().await?;
        self.change_named(actor, a, async |tx, _| {
            let row = store::cluster::nodes(tx.conn())
                .await?
                .into_iter()
                .find(|n| n.name == name)
                .ok_or_else(|| Error::NotFound(format!("there is no node {name}")))?;
            if !row.stopped && at - row.heartbeat_ms < NODE_DEAD_MS {
                return Err(Error::Conflict {
                    field: None,
                    message: format!(
                        "node {name} is up (heard from {} ms ago): stop it before forgetting it",
                        (at - row.heartbeat_ms).max(0)
                    ),
                });
            }
            store::cluster::forget(tx.conn(), name).await?;
            if !row.tftp_host.is_empty() {
                tx.changed(Change::All);
            }
            Ok(())
        })
        .await
    }

    /// The addresses phones are given for the nodes (soft clients' TFTP server lists when the
    /// settings name none), by node name.
    pub async fn node_tftp_hosts(&self) -> Result<Vec<String>> {
        let mut c = self.store.read().await?;
        Ok(store::cluster::tftp_hosts(&mut c).await?)
    }

    /// Claims the background import jobs whose node is dead (or stopped), for this run: the
    /// ids it got (of several nodes claiming, one gets each).
    pub async fn claim_orphaned_imports(&self) -> Result<Vec<i64>> {
        if self.node.run.is_empty() {
            return Ok(Vec::new());
        }
        let at = self.store.clock_ms().await?;
        let orphans = {
            let mut c = self.store.read().await?;
            store::cluster::orphaned_jobs(&mut c, at - NODE_DEAD_MS).await?
        };
        let mut got = Vec::new();
        for (id, from) in orphans {
            let mut tx = self.store.write_unversioned().await?;
            let mine = store::cluster::claim_job(tx.conn(), id, &from, &self.node.run).await?;
            tx.commit().await?;
            if mine {
                tracing::info!(job = id, from = %from, "took over an import job whose node is gone");
                got.push(id);
            }
        }
        Ok(got)
    }
}

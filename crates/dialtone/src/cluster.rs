//! This server as a node of a cluster (docs/scale-out.md): it joins at start, says every 2 s
//! that it is alive and what it is doing, holds or waits for the lease on the cluster's
//! scheduled work, carries on the import jobs of nodes that died, and says it stops when it
//! stops, so that the others take its work at once.

use model::cluster::{NodeAddresses, NodeDoing, HEARTBEAT_MS};
use provision::Provisioner;
use service::Service;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Joins the cluster and starts the heartbeat; answers its stop and its task.
pub(crate) async fn start(
    service: &Service,
    provisioner: Arc<Provisioner>,
    resync: Option<Arc<provision::resync::Resync>>,
    addresses: &NodeAddresses,
    tftp_host: &str,
) -> anyhow::Result<(
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
)> {
    service.join_cluster(addresses, tftp_host).await?;
    let svc = service.clone();
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(HEARTBEAT_MS as u64));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = &mut stopped => break,
            }
            let doing = NodeDoing {
                phone_requests: provisioner.metrics().requests_total(),
                cached_files: provisioner.cached().0 as u64,
                notifies: provisioner.metrics().notifies_total(),
                ..NodeDoing::default()
            };
            let beat = async {
                svc.heartbeat(&doing).await?;
                // NOTIFYs a dead node owed: sent from here (a node that sends none leaves them).
                if let Some(r) = &resync {
                    let owed = svc.claim_owed_notifies().await?;
                    if !owed.is_empty() {
                        tracing::info!(
                            phones = owed.len(),
                            "sending the NOTIFYs a node that died owed"
                        );
                        match r.request(&owed).await {
                            Ok((_, skipped)) => {
                                for (id, _) in skipped {
                                    svc.settle_notify(id).await?;
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "could not queue the NOTIFYs a node owed")
                            }
                        }
                    }
                }
                for id in svc.claim_orphaned_imports().await? {
                    // Its file is read back first: not in the way of the next heartbeat.
                    let svc = svc.clone();
                    tokio::spawn(async move {
                        if let Err(e) = svc.resume_import(id).await {
                            tracing::warn!(job = id, error = %e, "could not carry on an import job");
                        }
                    });
                }
                Ok::<_, service::Error>(())
            };
            match beat.await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("the cluster hears this node again");
                }
                Ok(()) => {}
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "could not tell the cluster this node is alive");
                }
                Err(_) => {}
            }
        }
        if let Err(e) = svc.leave_cluster().await {
            tracing::warn!(error = %e, "could not tell the cluster this node stops");
        }
        Ok(())
    });
    Ok((stop, task))
}

/// The address phones are given for this node: `[cluster] tftp_host`, else the TFTP
/// listener's address unless it listens on every interface.
pub(crate) fn tftp_host(configured: &str, tftp: Option<std::net::SocketAddr>) -> String {
    let c = configured.trim();
    if !c.is_empty() {
        return c.to_string();
    }
    match tftp {
        Some(a) if !a.ip().is_unspecified() => {
            if a.port() == 69 {
                a.ip().to_string()
            } else {
                a.to_string()
            }
        }
        _ => String::new(),
    }
}

/// `dialtone cluster`: the nodes, a line each (or the API's JSON).
pub async fn print(svc: &Service, json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let c = svc.cluster().await?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&c)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<16} {:<8} {:>9} {:<22} {:<22} {:<16} DOING",
        "NODE", "STATE", "HEARD", "ADMIN", "PHONE HTTP", "TFTP HOST"
    )?;
    for n in &c.nodes {
        let mut doing = Vec::new();
        if !n.doing.leases.is_empty() {
            doing.push(n.doing.leases.join(","));
        }
        if !n.doing.imports.is_empty() {
            let ids: Vec<String> = n.doing.imports.iter().map(|i| i.to_string()).collect();
            doing.push(format!("imports {}", ids.join(",")));
        }
        doing.push(format!("{} phone requests", n.doing.phone_requests));
        let state = match n.state {
            model::cluster::NodeState::Up => "up",
            model::cluster::NodeState::Down => "down",
            model::cluster::NodeState::Stopped => "stopped",
        };
        writeln!(
            out,
            "{:<16} {:<8} {:>7.1} s {:<22} {:<22} {:<16} {}",
            n.name,
            state,
            n.heartbeat_age_ms as f64 / 1000.0,
            n.addresses.admin,
            n.addresses.http,
            n.tftp_host,
            doing.join("; ")
        )?;
    }
    if c.nodes.is_empty() {
        writeln!(out, "no node has served this {} database yet", c.backend)?;
    }
    Ok(())
}

//! Dialtone's TFTP server: read requests only, RFC 1350 with options (RFC 2347), blksize (RFC
//! 2348), timeout and tsize (RFC 2349) and windowsize (RFC 7440); octet and netascii. Files come
//! from a `FileSource` (the provisioner), never from the disk, and no name can leave the
//! namespace. Each transfer runs on a socket of its own (its TID) as a tokio task.
//!
//! Written here rather than taken from async-tftp: that crate gives its handler neither the
//! transfer mode (so netascii cannot be honoured) nor concurrency (one handler behind a lock, on
//! an executor of its own), and our files are rendered, not read.
#![forbid(unsafe_code)]

pub mod packet;

use packet::{Mode, Reply, Request};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;

/// Why a file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    NotFound,
    Denied(String),
    /// The client must wait before it asks again (the message says how long).
    Throttled(String),
    /// The server is past its capacity: the client should ask again later (the message says
    /// when).
    Busy(String),
    Internal(String),
}

/// Where files come from.
pub trait FileSource: Send + Sync + 'static {
    /// The bytes of `name` for the client at `peer`.
    fn read(
        &self,
        name: &str,
        peer: SocketAddr,
    ) -> impl Future<Output = Result<bytes::Bytes, ReadError>> + Send;
}

#[derive(Clone)]
pub struct Config {
    /// Largest block a client may ask for (RFC 2348 allows 65464).
    pub max_block_size: u16,
    /// Largest window a client may ask for (RFC 7440).
    pub max_window: u16,
    /// Retransmission timeout when the client names none.
    pub timeout: Duration,
    /// Retransmissions of one window before the transfer is given up.
    pub retries: u32,
    /// Transfers at once; requests past it are refused with an error. Each transfer holds a
    /// socket (a descriptor), so this stays well under the process's descriptor limit.
    pub max_transfers: usize,
    /// Transfers at once to one address.
    pub max_per_source: usize,
    /// How long a transfer waits for an acknowledgement that moves it on before it is given
    /// up, whatever the client asks: a `timeout` option above it is not acknowledged, and
    /// retransmissions stop once this much time has passed without progress.
    pub give_up: Duration,
    /// How long one transfer may last in all (a client acknowledging one block at a time just
    /// before each timeout cannot hold its socket for longer).
    pub max_transfer_time: Duration,
    /// Told of each request refused because a cap was reached: `per_source` or `total`.
    pub on_refused: Option<Arc<dyn Fn(std::net::IpAddr, &'static str) + Send + Sync>>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("max_block_size", &self.max_block_size)
            .field("max_window", &self.max_window)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("max_transfers", &self.max_transfers)
            .field("max_per_source", &self.max_per_source)
            .field("give_up", &self.give_up)
            .field("max_transfer_time", &self.max_transfer_time)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_block_size: 65464,
            max_window: 256,
            timeout: Duration::from_secs(1),
            retries: 5,
            max_transfers: 1024,
            max_per_source: 32,
            give_up: Duration::from_secs(10),
            max_transfer_time: Duration::from_secs(300),
            on_refused: None,
        }
    }
}

/// A name a client may ask for: one leading `/` is dropped; `..`, `\`, empty names are refused.
pub fn clean_name(name: &str) -> Option<&str> {
    let n = name.strip_prefix('/').unwrap_or(name);
    if n.is_empty()
        || n.contains('\\')
        || n.starts_with('/')
        || n.split('/').any(|s| s == ".." || s.is_empty())
    {
        return None;
    }
    Some(n)
}

/// What was agreed with the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub block_size: usize,
    pub window: u16,
    pub timeout: Duration,
    /// The options to acknowledge (none: no OACK, data starts at once).
    pub ack: Vec<(String, String)>,
}

/// Negotiates the options of a read request (RFC 2347–2349, 7440). Options out of range or
/// unknown are left out of the answer, as RFC 2347 says; an option given twice counts once, as
/// first given (the OACK names each option once). A `timeout` longer than the server waits for
/// progress ([`Config::give_up`]) is left out too: the client keeps its default.
pub fn negotiate(req: &Request, size: usize, cfg: &Config) -> Negotiated {
    let mut n = Negotiated {
        block_size: 512,
        window: 1,
        timeout: cfg.timeout,
        ack: Vec::new(),
    };
    let mut seen: Vec<&str> = Vec::new();
    for (k, v) in &req.options {
        if seen.contains(&k.as_str()) {
            continue;
        }
        seen.push(k);
        let Ok(x) = v.trim().parse::<u64>() else {
            continue;
        };
        match k.as_str() {
            "blksize" if (8..=65464).contains(&x) => {
                n.block_size = x.min(cfg.max_block_size as u64) as usize;
                n.ack.push((k.clone(), n.block_size.to_string()));
            }
            "timeout" if (1..=255).contains(&x) && Duration::from_secs(x) <= cfg.give_up => {
                n.timeout = Duration::from_secs(x);
                n.ack.push((k.clone(), x.to_string()));
            }
            "tsize" => n.ack.push((k.clone(), size.to_string())),
            "windowsize" if (1..=65535).contains(&x) => {
                n.window = x.min(cfg.max_window as u64) as u16;
                n.ack.push((k.clone(), n.window.to_string()));
            }
            _ => {}
        }
    }
    n
}

/// A bound server, ready to serve.
pub struct TftpServer<S: FileSource> {
    socket: Arc<UdpSocket>,
    source: Arc<S>,
    config: Config,
}

impl<S: FileSource> TftpServer<S> {
    pub async fn bind(
        addr: &str,
        source: Arc<S>,
        config: Config,
    ) -> std::io::Result<TftpServer<S>> {
        let socket = UdpSocket::bind(addr).await?;
        Ok(TftpServer {
            socket: Arc::new(socket),
            source,
            config,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The same socket, serving from another source (one that may need the bound address).
    pub fn with_source<T: FileSource>(self, source: Arc<T>) -> TftpServer<T> {
        TftpServer {
            socket: self.socket,
            source,
            config: self.config,
        }
    }

    /// Serves until `stop` resolves.
    pub async fn serve(self, stop: impl Future<Output = ()>) {
        let busy: Arc<Mutex<HashSet<SocketAddr>>> = Arc::default();
        let open: Arc<Open> = Arc::default();
        let local_ip = self.socket.local_addr().map(|a| a.ip()).ok();
        let mut buf = vec![0u8; 2048];
        tokio::pin!(stop);
        loop {
            let (len, peer) = tokio::select! {
                _ = &mut stop => return,
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "tftp receive failed");
                        continue;
                    }
                },
            };
            let req = match packet::parse_request(&buf[..len]) {
                Ok(r) => r,
                Err(packet::PacketError::NotRequest(_)) => continue, // a stray ACK or DATA: not ours to answer here
                Err(e @ packet::PacketError::Mode(_)) => {
                    let _ = self
                        .socket
                        .send_to(&packet::error(packet::ERR_ILLEGAL, &e.to_string()), peer)
                        .await;
                    continue;
                }
                Err(e) => {
                    let _ = self
                        .socket
                        .send_to(
                            &packet::error(packet::ERR_ILLEGAL, &format!("malformed request: {e}")),
                            peer,
                        )
                        .await;
                    continue;
                }
            };
            if req.write {
                let _ = self
                    .socket
                    .send_to(
                        &packet::error(
                            packet::ERR_ACCESS,
                            "write requests are refused: this server only serves files",
                        ),
                        peer,
                    )
                    .await;
                continue;
            }
            if !busy.lock().expect("busy lock").insert(peer) {
                continue; // a retransmitted request of a transfer under way
            }
            let slot = match open.take(peer.ip(), &self.config) {
                Ok(s) => s,
                Err(cap) => {
                    busy.lock().expect("busy lock").remove(&peer);
                    if let Some(f) = &self.config.on_refused {
                        f(peer.ip(), cap);
                    }
                    let _ = self
                        .socket
                        .send_to(
                            &packet::error(packet::ERR_NOT_DEFINED, "server busy, try again"),
                            peer,
                        )
                        .await;
                    continue;
                }
            };
            let (source, config, busy) = (self.source.clone(), self.config.clone(), busy.clone());
            tokio::spawn(async move {
                let r = tokio::time::timeout(
                    config.max_transfer_time,
                    transfer(req, peer, local_ip, source, &config),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the transfer took longer than it may",
                    ))
                });
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "tftp transfer ended early");
                }
                busy.lock().expect("busy lock").remove(&peer);
                drop(slot);
            });
        }
    }
}

/// The transfers under way, in all and by address.
#[derive(Debug, Default)]
struct Open {
    counts: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

impl Open {
    /// A place for a transfer to `ip`, or the cap it would pass.
    fn take(self: &Arc<Self>, ip: IpAddr, cfg: &Config) -> Result<Slot, &'static str> {
        let mut c = self.counts.lock().expect("transfer counts");
        if c.0 >= cfg.max_transfers {
            return Err("total");
        }
        let n = c.1.entry(ip).or_insert(0);
        if *n >= cfg.max_per_source {
            return Err("per_source");
        }
        *n += 1;
        c.0 += 1;
        Ok(Slot {
            open: self.clone(),
            ip,
        })
    }
}

/// One transfer's place, given back when it ends.
struct Slot {
    open: Arc<Open>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.open.counts.lock().expect("transfer counts");
        c.0 -= 1;
        if let Some(n) = c.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.1.remove(&self.ip);
            }
        }
    }
}

async fn transfer<S: FileSource>(
    req: Request,
    peer: SocketAddr,
    local_ip: Option<std::net::IpAddr>,
    source: Arc<S>,
    cfg: &Config,
) -> std::io::Result<()> {
    let bind = SocketAddr::new(local_ip.unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])), 0);
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(peer).await?;
    let Some(name) = clean_name(&req.filename) else {
        sock.send(&packet::error(
            packet::ERR_ACCESS,
            "that name is outside the served files",
        ))
        .await?;
        return Ok(());
    };
    let bytes = match source.read(name, peer).await {
        Ok(b) => b,
        Err(ReadError::NotFound) => {
            sock.send(&packet::error(packet::ERR_NOT_FOUND, "file not found"))
                .await?;
            return Ok(());
        }
        Err(ReadError::Denied(m)) => {
            sock.send(&packet::error(packet::ERR_ACCESS, &m)).await?;
            return Ok(());
        }
        Err(ReadError::Throttled(m) | ReadError::Busy(m)) => {
            sock.send(&packet::error(packet::ERR_NOT_DEFINED, &m))
                .await?;
            return Ok(());
        }
        Err(ReadError::Internal(m)) => {
            tracing::error!(%peer, name, error = %m, "tftp source failed");
            sock.send(&packet::error(packet::ERR_NOT_DEFINED, "server error"))
                .await?;
            return Ok(());
        }
    };
    let data: std::borrow::Cow<[u8]> = match req.mode {
        Mode::Octet => std::borrow::Cow::Borrowed(&bytes[..]),
        Mode::Netascii => std::borrow::Cow::Owned(packet::to_netascii(&bytes)),
    };
    let n = negotiate(&req, data.len(), cfg);
    send_file(&sock, &data, &n, cfg).await
}

/// Sends `data` in windows of blocks, as RFC 7440 describes: after each window the client acks
/// the last block it received in order, and sending goes on from the next one; a window not
/// acked in time is sent again.
async fn send_file(
    sock: &UdpSocket,
    data: &[u8],
    n: &Negotiated,
    cfg: &Config,
) -> std::io::Result<()> {
    let retries = cfg.retries;
    // Retransmissions stop at `retries` or once `give_up` has passed without progress,
    // whichever comes first.
    let mut progress = tokio::time::Instant::now();
    let stalled = |progress: tokio::time::Instant| progress.elapsed() >= cfg.give_up;
    let mut rbuf = vec![0u8; 1024];
    if !n.ack.is_empty() {
        let oack = packet::oack(&n.ack);
        let mut tries = 0;
        loop {
            sock.send(&oack).await?;
            match wait_ack(sock, &mut rbuf, n.timeout).await? {
                Some(Reply::Ack(0)) => {
                    progress = tokio::time::Instant::now();
                    break;
                }
                Some(Reply::Error(code, msg)) => {
                    return Err(std::io::Error::other(format!(
                        "client refused the options: {code} {msg}"
                    )))
                }
                _ => {
                    tries += 1;
                    if tries > retries || stalled(progress) {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "no ACK of the OACK",
                        ));
                    }
                }
            }
        }
    }
    // Blocks 1..=last; the last is shorter than the block size (possibly empty).
    let last = (data.len() / n.block_size) as u64 + 1;
    let block = |i: u64| -> &[u8] {
        let start = ((i - 1) as usize * n.block_size).min(data.len());
        let end = (start + n.block_size).min(data.len());
        &data[start..end]
    };
    let mut next = 1u64; // first block not yet acknowledged
    let mut tries = 0;
    let mut out = Vec::with_capacity(n.block_size + 4);
    while next <= last {
        let end = (next + n.window as u64 - 1).min(last);
        for i in next..=end {
            packet::data(i as u16, block(i), &mut out);
            sock.send(&out).await?;
        }
        // Wait for an ACK that moves us on; duplicates and stale ones do not resend
        // (no Sorcerer's Apprentice).
        let deadline = tokio::time::Instant::now() + n.timeout;
        let mut advanced = false;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            match wait_ack(sock, &mut rbuf, left).await? {
                Some(Reply::Ack(a)) => {
                    // The absolute block this ACK names, within what was sent.
                    if let Some(k) = (next.saturating_sub(1)..=end).find(|k| (*k as u16) == a) {
                        if k >= next {
                            next = k + 1;
                            advanced = true;
                            break;
                        }
                    }
                }
                Some(Reply::Error(code, msg)) => {
                    return Err(std::io::Error::other(format!("client error {code}: {msg}")))
                }
                Some(Reply::Other) => {}
                None => break,
            }
        }
        if advanced {
            tries = 0;
            progress = tokio::time::Instant::now();
        } else {
            tries += 1;
            if tries > retries || stalled(progress) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no ACK after block {}", next - 1),
                ));
            }
        }
    }
    Ok(())
}

async fn wait_ack(
    sock: &UdpSocket,
    buf: &mut [u8],
    timeout: Duration,
) -> std::io::Result<Option<Reply>> {
    match tokio::time::timeout(timeout, sock.recv(buf)).await {
        Ok(Ok(len)) => Ok(Some(packet::parse_reply(&buf[..len]))),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(e),
        Ok(Err(_)) => Ok(Some(Reply::Other)),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside() {
        assert_eq!(
            clean_name("SEP00562B043615.cnf.xml"),
            Some("SEP00562B043615.cnf.xml")
        );
        assert_eq!(
            clean_name("/SEP00562B043615.cnf.xml"),
            Some("SEP00562B043615.cnf.xml")
        );
        assert_eq!(clean_name("dms/8861-3PCC.xml"), Some("dms/8861-3PCC.xml"));
        for bad in [
            "",
            "/",
            "//etc/passwd",
            "../etc/passwd",
            "a/../../b",
            "a\\b",
            "a//b",
            "/..",
        ] {
            assert_eq!(clean_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn options_are_negotiated_within_the_rfcs() {
        let req = |opts: &[(&str, &str)]| Request {
            write: false,
            filename: "f".into(),
            mode: Mode::Octet,
            options: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let cfg = Config::default();
        let n = negotiate(
            &req(&[
                ("blksize", "1428"),
                ("windowsize", "16"),
                ("tsize", "0"),
                ("timeout", "3"),
            ]),
            5000,
            &cfg,
        );
        assert_eq!(
            (n.block_size, n.window, n.timeout),
            (1428, 16, Duration::from_secs(3))
        );
        assert_eq!(n.ack.iter().find(|(k, _)| k == "tsize").unwrap().1, "5000");
        let n = negotiate(
            &req(&[
                ("blksize", "7"),
                ("windowsize", "0"),
                ("timeout", "300"),
                ("color", "red"),
            ]),
            1,
            &cfg,
        );
        assert!(
            n.ack.is_empty(),
            "out of range and unknown options are left out"
        );
        assert_eq!((n.block_size, n.window), (512, 1));
        let n = negotiate(
            &req(&[("blksize", "65464"), ("windowsize", "65535")]),
            1,
            &cfg,
        );
        assert_eq!(
            (n.block_size, n.window),
            (65464, 256),
            "capped by the server"
        );
        // A timeout longer than the server waits for progress is not granted.
        let n = negotiate(&req(&[("timeout", "30"), ("tsize", "0")]), 1, &cfg);
        assert_eq!(n.timeout, cfg.timeout);
        assert_eq!(n.ack, vec![("tsize".to_string(), "1".to_string())]);
        // An option given twice is acknowledged once, as first given.
        let n = negotiate(
            &req(&[
                ("blksize", "1024"),
                ("tsize", "0"),
                ("blksize", "512"),
                ("tsize", "0"),
            ]),
            77,
            &cfg,
        );
        assert_eq!(n.block_size, 1024);
        assert_eq!(
            n.ack,
            vec![
                ("blksize".to_string(), "1024".to_string()),
                ("tsize".to_string(), "77".to_string())
            ]
        );
    }
}

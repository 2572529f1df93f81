//! TFTP side by side: `serve` runs Dialtone's TFTP server over the files of a directory (held in
//! memory, as Dialtone holds rendered files); `load` runs C clients that each fetch a file again
//! and again (RFC 7440 windows when asked), bounded in time and count, and prints transfers/s
//! and MB/s as JSON.
//! Usage: tftp-load serve --dir DIR --seconds S
//!        tftp-load load --server HOST:PORT --file NAME --clients C --seconds S [--blksize B] [--windowsize W]

use anyhow::{bail, Context};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

struct Dir(HashMap<String, bytes::Bytes>);

impl tftp::FileSource for Dir {
    async fn read(&self, name: &str, _peer: SocketAddr) -> Result<bytes::Bytes, tftp::ReadError> {
        self.0.get(name).cloned().ok_or(tftp::ReadError::NotFound)
    }
}

/// One transfer; answers the bytes received.
async fn fetch(
    server: SocketAddr,
    file: &str,
    blksize: Option<u16>,
    window: Option<u16>,
) -> anyhow::Result<usize> {
    let sock = UdpSocket::bind("127.0.0.1:0").await?;
    let mut req = vec![0u8, 1];
    let mut push = |s: &str| {
        req.extend_from_slice(s.as_bytes());
        req.push(0);
    };
    push(file);
    push("octet");
    if let Some(b) = blksize {
        push("blksize");
        push(&b.to_string());
    }
    if let Some(w) = window {
        push("windowsize");
        push(&w.to_string());
    }
    sock.send_to(&req, server).await?;
    // What the server agreed to (its OACK) is what counts: without one, 512-byte blocks and a
    // window of 1 (RFC 2347, 7440).
    let mut bs = 512usize;
    let mut win = 1u64;
    let mut buf = vec![0u8; blksize.unwrap_or(512) as usize + 4 + 64];
    let mut expected: u64 = 1;
    let mut in_window = 0u64;
    let mut total = 0usize;
    let mut peer: Option<SocketAddr> = None;
    let mut tries = 0;
    loop {
        let r = tokio::time::timeout(Duration::from_secs(1), sock.recv_from(&mut buf)).await;
        let (n, from) = match r {
            Ok(r) => r?,
            Err(_) => {
                tries += 1;
                if tries > 5 {
                    bail!("timed out at block {expected}");
                }
                match peer {
                    Some(p) => {
                        sock.send_to(
                            &[0, 4, ((expected - 1) >> 8) as u8, (expected - 1) as u8],
                            p,
                        )
                        .await?
                    }
                    None => sock.send_to(&req, server).await?,
                };
                in_window = 0;
                continue;
            }
        };
        let p = *peer.get_or_insert(from);
        if from != p || n < 4 {
            continue;
        }
        match buf[1] {
            6 => {
                let fields: Vec<String> = buf[2..n]
                    .split(|b| *b == 0)
                    .map(|f| String::from_utf8_lossy(f).to_ascii_lowercase())
                    .collect();
                for kv in fields.chunks(2) {
                    if let [k, v] = kv {
                        match k.as_str() {
                            "blksize" => bs = v.parse().unwrap_or(512),
                            "windowsize" => win = v.parse().unwrap_or(1),
                            _ => {}
                        }
                    }
                }
                sock.send_to(&[0, 4, 0, 0], p).await?;
            }
            3 => {
                let block = u16::from_be_bytes([buf[2], buf[3]]);
                if block != expected as u16 {
                    // Out of order: ack what we have so the window restarts there.
                    sock.send_to(
                        &[0, 4, ((expected - 1) >> 8) as u8, (expected - 1) as u8],
                        p,
                    )
                    .await?;
                    in_window = 0;
                    continue;
                }
                tries = 0;
                total += n - 4;
                in_window += 1;
                let last = n - 4 < bs;
                if last || in_window == win {
                    sock.send_to(&[0, 4, buf[2], buf[3]], p).await?;
                    in_window = 0;
                }
                expected += 1;
                if last {
                    return Ok(total);
                }
            }
            5 => bail!("server error {}", String::from_utf8_lossy(&buf[4..n])),
            _ => {}
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = arg(&args, "--seconds")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10);
    match args.get(1).map(String::as_str) {
        Some("serve") => {
            let dir = arg(&args, "--dir").context("--dir")?;
            let mut files = HashMap::new();
            for e in std::fs::read_dir(&dir)? {
                let e = e?;
                files.insert(
                    e.file_name().to_string_lossy().to_string(),
                    bytes::Bytes::from(std::fs::read(e.path())?),
                );
            }
            let server = tftp::TftpServer::bind(
                "127.0.0.1:0",
                Arc::new(Dir(files)),
                tftp::Config::default(),
            )
            .await?;
            println!("READY {}", server.local_addr()?);
            server
                .serve(tokio::time::sleep(Duration::from_secs(seconds)))
                .await;
            Ok(())
        }
        Some("load") => {
            let server: SocketAddr = arg(&args, "--server").context("--server")?.parse()?;
            let file = arg(&args, "--file").context("--file")?;
            let clients: usize = arg(&args, "--clients")
                .map(|s| s.parse())
                .transpose()?
                .unwrap_or(16);
            let blksize: Option<u16> = arg(&args, "--blksize").map(|s| s.parse()).transpose()?;
            let window: Option<u16> = arg(&args, "--windowsize").map(|s| s.parse()).transpose()?;
            let done = Arc::new(AtomicU64::new(0));
            let bytes = Arc::new(AtomicU64::new(0));
            let errors = Arc::new(AtomicU64::new(0));
            let start = Instant::now();
            let until = start + Duration::from_secs(seconds);
            let mut tasks = Vec::new();
            for _ in 0..clients {
                let (done, bytes, errors, file) =
                    (done.clone(), bytes.clone(), errors.clone(), file.clone());
                tasks.push(tokio::spawn(async move {
                    while Instant::now() < until && done.load(Ordering::Relaxed) < 10_000_000 {
                        match fetch(server, &file, blksize, window).await {
                            Ok(n) => {
                                done.fetch_add(1, Ordering::Relaxed);
                                bytes.fetch_add(n as u64, Ordering::Relaxed);
                            }
                            Err(_) => {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }));
            }
            for t in tasks {
                t.await?;
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{{\"file\": \"{file}\", \"clients\": {clients}, \"blksize\": {}, \"windowsize\": {}, \"transfers\": {}, \"errors\": {}, \"transfers_per_s\": {:.0}, \"mb_per_s\": {:.2}}}",
                blksize.unwrap_or(512),
                window.unwrap_or(1),
                done.load(Ordering::Relaxed),
                errors.load(Ordering::Relaxed),
                done.load(Ordering::Relaxed) as f64 / secs,
                bytes.load(Ordering::Relaxed) as f64 / secs / 1e6
            );
            Ok(())
        }
        _ => bail!("usage: tftp-load serve|load …"),
    }
}

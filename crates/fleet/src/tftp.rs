//! A TFTP client as a phone has one: a read request with blksize and tsize (RFC 1350, 2347,
//! 2348, 2349), acknowledged block by block, the request repeated on time-out. Written here
//! because the client half is a page of code and no maintained crate offers one for tokio.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;

/// How a transfer ended without a file.
#[derive(Debug)]
pub enum TftpError {
    /// The server's error packet: code and message (1 is file not found).
    Server(u16, String),
    Timeout,
    Io(std::io::Error),
    Protocol(&'static str),
}

impl std::fmt::Display for TftpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TftpError::Server(1, m) => write!(f, "TFTP file not found ({m})"),
            TftpError::Server(c, m) => write!(f, "TFTP error {c}: {m}"),
            TftpError::Timeout => f.write_str("TFTP timeout"),
            TftpError::Io(e) => write!(f, "TFTP: {e}"),
            TftpError::Protocol(m) => write!(f, "TFTP: {m}"),
        }
    }
}

impl From<std::io::Error> for TftpError {
    fn from(e: std::io::Error) -> Self {
        TftpError::Io(e)
    }
}

/// Fetches `file` from `server`, from address `local`.
pub async fn get(
    local: IpAddr,
    server: SocketAddr,
    file: &str,
    blksize: u16,
    timeout: Duration,
) -> Result<Vec<u8>, TftpError> {
    let sock = UdpSocket::bind(SocketAddr::new(local, 0)).await?;
    let mut rrq = vec![0, 1];
    for f in [file, "octet", "blksize", &blksize.to_string(), "tsize", "0"] {
        rrq.extend_from_slice(f.as_bytes());
        rrq.push(0);
    }
    let mut buf = vec![0u8; usize::from(blksize.max(512)) + 4];
    let mut block_size = 512usize;
    let mut expected: u16 = 1;
    let mut out = Vec::new();
    let mut peer: Option<SocketAddr> = None;
    sock.send_to(&rrq, server).await?;
    let mut last_sent = rrq;
    let mut tries = 0;
    loop {
        let (n, from) = match tokio::time::timeout(timeout, sock.recv_from(&mut buf)).await {
            Ok(r) => r?,
            Err(_) => {
                tries += 1;
                if tries > 5 {
                    return Err(TftpError::Timeout);
                }
                sock.send_to(&last_sent, peer.unwrap_or(server)).await?;
                continue;
            }
        };
        if let Some(p) = peer {
            if p != from {
                continue; // RFC 1350: another TID; not ours.
            }
        }
        if n < 4 {
            return Err(TftpError::Protocol("a packet shorter than 4 bytes"));
        }
        match u16::from_be_bytes([buf[0], buf[1]]) {
            6 => {
                // OACK: what the server granted.
                peer = Some(from);
                let fields: Vec<&[u8]> = buf[2..n].split(|b| *b == 0).collect();
                for kv in fields.chunks(2) {
                    if let [k, v] = kv {
                        if k.eq_ignore_ascii_case(b"blksize") {
                            block_size = std::str::from_utf8(v)
                                .ok()
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(512);
                        }
                    }
                }
                last_sent = vec![0, 4, 0, 0];
                sock.send_to(&last_sent, from).await?;
                tries = 0;
            }
            3 => {
                peer = Some(from);
                let block = u16::from_be_bytes([buf[2], buf[3]]);
                let ack = [0, 4, buf[2], buf[3]];
                if block == expected {
                    out.extend_from_slice(&buf[4..n]);
                    expected = expected.wrapping_add(1);
                    last_sent = ack.to_vec();
                    sock.send_to(&ack, from).await?;
                    tries = 0;
                    if n - 4 < block_size {
                        return Ok(out);
                    }
                } else {
                    // A duplicate: acknowledge it again.
                    sock.send_to(&ack, from).await?;
                }
            }
            5 => {
                let code = u16::from_be_bytes([buf[2], buf[3]]);
                let msg = String::from_utf8_lossy(&buf[4..n])
                    .trim_end_matches('\0')
                    .to_string();
                return Err(TftpError::Server(code, msg));
            }
            _ => return Err(TftpError::Protocol("an unexpected packet")),
        }
    }
}

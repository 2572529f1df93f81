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

/// Fetches `file` from `server`, from address `local`, asking for blocks of `blksize` and, when
/// `windowsize` is more than 1, windows of that many blocks per acknowledgement (RFC 7440).
pub async fn get(
    local: IpAddr,
    server: SocketAddr,
    file: &str,
    blksize: u16,
    windowsize: u16,
    timeout: Duration,
) -> Result<Vec<u8>, TftpError> {
    let sock = UdpSocket::bind(SocketAddr::new(local, 0)).await?;
    let mut rrq = vec![0, 1];
    let (b, w) = (blksize.to_string(), windowsize.to_string());
    let mut fields = vec![file, "octet", "blksize", &b, "tsize", "0"];
    if windowsize > 1 {
        fields.extend(["windowsize", &w]);
    }
    for f in fields {
        rrq.extend_from_slice(f.as_bytes());
        rrq.push(0);
    }
    // Blocks taken since the last acknowledgement, and the window agreed (1 until the OACK
    // says more).
    let mut in_window = 0u16;
    let mut window = 1u16;
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
                        let n = std::str::from_utf8(v).ok().and_then(|v| v.parse().ok());
                        if k.eq_ignore_ascii_case(b"blksize") {
                            block_size = n.unwrap_or(512);
                        } else if k.eq_ignore_ascii_case(b"windowsize") {
                            window = n.and_then(|n: usize| u16::try_from(n).ok()).unwrap_or(1);
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
                    tries = 0;
                    in_window += 1;
                    let last = n - 4 < block_size;
                    // RFC 7440: one acknowledgement per window, and for the last block.
                    if in_window >= window || last {
                        sock.send_to(&ack, from).await?;
                        in_window = 0;
                    }
                    if last {
                        return Ok(out);
                    }
                } else {
                    // Out of order or a duplicate: acknowledge the last block taken in order,
                    // so the server sends again from the one after it.
                    let got = expected.wrapping_sub(1).to_be_bytes();
                    last_sent = vec![0, 4, got[0], got[1]];
                    sock.send_to(&last_sent, from).await?;
                    in_window = 0;
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

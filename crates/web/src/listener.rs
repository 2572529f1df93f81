//! Serving a router to hosts nobody vouches for. `axum::serve` times nothing out and caps
//! nothing: one host holding thousands of silent or half-sent connections used up the process's
//! descriptors and stopped every listener (issue 16). This loop, like nginx's
//! `client_header_timeout`, `send_timeout` and `limit_conn`, bounds what one connection and one
//! address may hold:
//! - a request's head must arrive within `header_timeout` of the server starting to wait for it
//!   (hyper's header read timeout, so an idle keep-alive connection is closed then too);
//! - a request body may pause at most `body_timeout` between pieces;
//! - a response may wait at most `send_timeout` for the client to take more of it;
//! - at most `max_connections` are open at once, and `max_per_source` from one address: a
//!   connection past either is answered `503` with `Retry-After` and closed, counted in
//!   `dialtone_connections_refused_total` and logged (at most one line every ten seconds).
//!
//! Each listener has its own caps, so the admin listener keeps answering while the phone listener
//! is flooded. The caller keeps the caps of all listeners under the descriptor limit.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;

/// What one listener allows.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections open at once on this listener.
    pub max_connections: usize,
    /// Connections open at once from one address.
    pub max_per_source: usize,
    /// How long a request's head may take, from when the server starts waiting for it (so also
    /// how long an idle keep-alive connection stays open).
    pub header_timeout: Duration,
    /// The longest pause within a request body.
    pub body_timeout: Duration,
    /// The longest a response may wait for the client to read it.
    pub send_timeout: Duration,
}

/// What a connection past a cap is told before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain\r\nContent-Length: 43\r\nConnection: close\r\n\r\nToo many connections: try again in a while\n";

/// How a request reached the server: over HTTPS or plain HTTP (an extension on every request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Http,
    Https,
}

/// Serves `router` on `tcp` until `stop` resolves, then lets the requests under way finish.
/// `name` is the listener's name in logs and metrics (`phone_http`, `admin`); with `tls` the
/// listener speaks HTTPS, and a handshake must end within the header timeout.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    tcp: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
    name: &'static str,
    metrics: Arc<provision::metrics::Metrics>,
    stop: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let open = Arc::new(Open::default());
    let refusals = Refusals::default();
    let (stopping, stopped) = tokio::sync::watch::channel(());
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            r = tcp.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    accept_failed(name, &e).await;
                    continue;
                }
            },
        };
        let slot = match open.take(peer.ip(), &limits) {
            Ok(s) => s,
            Err(cap) => {
                // A best effort: the answer fits any socket buffer, and a client that cannot
                // take it is closed anyway.
                let _ = stream.try_write(BUSY);
                metrics.refused(name, cap);
                refusals.note(name, peer.ip(), cap, &limits);
                continue;
            }
        };
        let conn = Connection {
            router: router.clone(),
            limits: limits.clone(),
            peer,
            stopped: stopped.clone(),
        };
        match &tls {
            None => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(conn.run(stream, slot, Transport::Http));
            }
            Some(config) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let handshake =
                        tokio::time::timeout(conn.limits.header_timeout, acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(tls)) => conn.run(tls, slot, Transport::Https).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
    drop(tcp);
    drop(stopped);
    let _ = stopping.send(());
    // Every connection holds a receiver: closed means all have ended.
    stopping.closed().await;
    Ok(())
}

/// An accept that failed: a connection given up before it was taken is nothing; running out
/// of descriptors is logged, and accepting pauses so the loop does not spin.
async fn accept_failed(name: &str, e: &std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::error!(listener = name, error = %e, "cannot accept connections");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

struct Connection {
    router: Router,
    limits: Limits,
    peer: SocketAddr,
    stopped: tokio::sync::watch::Receiver<()>,
}

impl Connection {
    async fn run<S>(mut self, stream: S, slot: Slot, transport: Transport)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let _slot = slot;
        let io = TokioIo::new(SendTimeout::new(stream, self.limits.send_timeout));
        let (router, peer, body_timeout) = (self.router, self.peer, self.limits.body_timeout);
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut req =
                req.map(|b| Body::new(tower_http::timeout::TimeoutBody::new(body_timeout, b)));
            req.extensions_mut().insert(ConnectInfo(peer));
            req.extensions_mut().insert(transport);
            if transport == Transport::Https {
                // What a TLS-terminating proxy would say, so the console's secure-context
                // checks (Secure cookies) hold for our own HTTPS too.
                req.headers_mut().insert(
                    "x-forwarded-proto",
                    hyper::header::HeaderValue::from_static("https"),
                );
            }
            tower::Service::call(&mut router.clone(), req)
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout);
        let conn = http.serve_connection(io, service);
        tokio::pin!(conn);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
            }
            _ = self.stopped.changed() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    }
}

/// The connections open on one listener, in all and by address.
#[derive(Debug, Default)]
struct Open {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_source: HashMap<IpAddr, usize>,
}

impl Open {
    /// A place for a connection from `ip`, or the cap it would pass.
    fn take(self: &Arc<Self>, ip: IpAddr, limits: &Limits) -> Result<Slot, &'static str> {
        let mut c = self.counts.lock().expect("connection counts");
        if c.total >= limits.max_connections {
            return Err("total");
        }
        let n = c.by_source.entry(ip).or_insert(0);
        if *n >= limits.max_per_source {
            return Err("per_source");
        }
        *n += 1;
        c.total += 1;
        Ok(Slot {
            open: self.clone(),
            ip,
        })
    }
}

/// One open connection's place, given back when it closes.
struct Slot {
    open: Arc<Open>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.open.counts.lock().expect("connection counts");
        c.total -= 1;
        if let Some(n) = c.by_source.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.by_source.remove(&self.ip);
            }
        }
    }
}

/// Refusals are logged at most once every ten seconds per listener, with how many there were.
#[derive(Debug, Default)]
struct Refusals {
    state: Mutex<(Option<Instant>, u64)>,
}

impl Refusals {
    fn note(&self, listener: &str, ip: IpAddr, cap: &str, limits: &Limits) {
        let mut s = self.state.lock().expect("refusals");
        s.1 += 1;
        if s.0.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
            return;
        }
        let limit = if cap == "total" {
            limits.max_connections
        } else {
            limits.max_per_source
        };
        let what = if cap == "total" {
            "connections open in all"
        } else {
            "connections open from one address"
        };
        tracing::warn!(
            listener,
            source = %ip,
            refused = s.1,
            "refusing connections: {limit} {what} (the last from {ip}); {} refused since the last such line",
            s.1
        );
        *s = (Some(Instant::now()), 0);
    }
}

/// A stream whose writes fail once they have waited `limit` for the peer to read.
struct SendTimeout<T> {
    io: T,
    limit: Duration,
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> SendTimeout<T> {
    fn new(io: T, limit: Duration) -> Self {
        SendTimeout {
            io,
            limit,
            waiting: None,
        }
    }

    /// After a write came back pending: pending still, or an error once it has waited too long.
    fn stalled<R>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<R>> {
        let limit = self.limit;
        let wait = self
            .waiting
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match wait.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client took nothing of the answer for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Passes on a write's outcome, starting or clearing the wait.
    fn wrote<R>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<std::io::Result<R>>,
    ) -> Poll<std::io::Result<R>> {
        match r {
            Poll::Pending => self.stalled(cx),
            done => {
                self.waiting = None;
                done
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SendTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SendTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.wrote(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_shutdown(cx);
        self.wrote(cx, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_source: usize) -> Limits {
        Limits {
            max_connections: total,
            max_per_source: per_source,
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            send_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn caps_count_per_source_and_in_all_and_give_back_on_close() {
        let open = Arc::new(Open::default());
        let l = limits(3, 2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let a1 = open.take(a, &l).unwrap();
        let _a2 = open.take(a, &l).unwrap();
        assert_eq!(open.take(a, &l).err(), Some("per_source"));
        let _b1 = open.take(b, &l).unwrap();
        assert_eq!(open.take(b, &l).err(), Some("total"));
        drop(a1);
        let _b2 = open.take(b, &l).unwrap();
        assert_eq!(open.counts.lock().unwrap().total, 3);
    }

    #[test]
    fn the_busy_answer_says_its_length() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}

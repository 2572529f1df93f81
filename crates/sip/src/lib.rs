//! SIP NOTIFY for resync: builds the request (`Event: check-sync` for Cisco enterprise phones,
//! `Event: resync` for MPP phones), runs it as an RFC 3261 non-INVITE client transaction over
//! UDP (timer E retransmissions from T1 doubling to T2, timer F = 64·T1, stop on a final
//! response), and answers one 401/407 challenge with the device's credentials.
//!
//! Messages are printed and parsed with `ezk-sip-types` (typed headers, the status line, the
//! line splitter); digest answers are computed by `digest_auth` with the method `NOTIFY`. What no
//! crate gives for a client alone is here: the transaction timers and matching responses to
//! transactions by the Via branch on one shared socket. Choosing whom to notify belongs to the
//! caller.
#![forbid(unsafe_code)]

mod inbound;
pub use inbound::{is_request, parse_request, Inbound};

use bytes::Bytes;
use ezk_sip_types::header::typed::{CSeq, CallID, Contact, Event, FromTo, MaxForwards, Via};
use ezk_sip_types::host::HostPort;
use ezk_sip_types::msg::{Line, PullParser, RequestLine, StatusLine};
use ezk_sip_types::parse::Parse;
use ezk_sip_types::print::{AppendCtx, PrintCtx};
use ezk_sip_types::uri::{NameAddr, SipUri, SipUriUserPart};
use ezk_sip_types::{Headers, Method, Name};
use rand::Rng;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not a SIP response: {0}")]
    Malformed(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// RFC 3261 timers: T1 (round-trip estimate, 500 ms) and T2 (largest retransmit interval for
/// non-INVITE requests, 4 s). Timer F, the transaction's time-out, is 64·T1.
#[derive(Debug, Clone, Copy)]
pub struct Timers {
    pub t1: Duration,
    pub t2: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
        }
    }
}

/// Which NOTIFY a phone understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncEvent {
    /// Cisco enterprise phones: `Event: check-sync`.
    CheckSync,
    /// Cisco MPP phones (with Resync From SIP on): `Event: resync`.
    Resync,
    /// Yealink, Snom and others that read the event's parameter: fetch the files again and
    /// reboot only if a change needs it, `Event: check-sync;reboot=false`.
    CheckSyncNoReboot,
}

impl ResyncEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            ResyncEvent::CheckSync => "check-sync",
            ResyncEvent::Resync => "resync",
            ResyncEvent::CheckSyncNoReboot => "check-sync;reboot=false",
        }
    }
}

/// A phone to notify.
#[derive(Clone)]
pub struct Target {
    /// Where the phone listens for SIP.
    pub addr: SocketAddr,
    /// The user part of the request URI (e.g. the phone's first line), if any.
    pub user: Option<String>,
    pub event: ResyncEvent,
    /// The device's SIP credentials (auth name, password), for a 401/407 challenge.
    pub credential: Option<(String, model::Secret)>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .field("event", &self.event)
            .field("credential", &self.credential.as_ref().map(|(u, _)| u))
            .finish()
    }
}

/// How a NOTIFY ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx.
    Accepted { code: u16 },
    /// A final response other than 2xx (after the challenge, if there was one).
    Refused { code: u16, reason: String },
    /// Challenged, and no credentials to answer with, or the answer was challenged again.
    Unauthorized { code: u16, answered: bool },
    /// No final response within timer F.
    Timeout,
    /// The request could not be sent.
    SendFailed(String),
}

impl Outcome {
    pub fn is_accepted(&self) -> bool {
        matches!(self, Outcome::Accepted { .. })
    }

    /// The outcome in a word, for counting: `accepted`, `refused`, `unauthorized`, `timeout`
    /// or `send_failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Accepted { .. } => "accepted",
            Outcome::Refused { .. } => "refused",
            Outcome::Unauthorized { .. } => "unauthorized",
            Outcome::Timeout => "timeout",
            Outcome::SendFailed(_) => "send_failed",
        }
    }

    /// One line for the device status and the log.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Accepted { code } => format!("accepted ({code})"),
            Outcome::Refused { code, reason } => format!("refused: {code} {reason}"),
            Outcome::Unauthorized {
                code,
                answered: false,
            } => format!("challenged ({code}) and the device has no SIP credentials"),
            Outcome::Unauthorized {
                code,
                answered: true,
            } => format!("credentials refused ({code})"),
            Outcome::Timeout => "no answer (timer F)".into(),
            Outcome::SendFailed(e) => format!("could not send: {e}"),
        }
    }
}

/// A SIP response as far as a client transaction needs it.
#[derive(Debug, Clone)]
pub struct Response {
    pub code: u16,
    pub reason: String,
    /// The branch of the top Via: which transaction it answers.
    pub branch: Option<String>,
    pub cseq: Option<u32>,
    pub www_authenticate: Vec<String>,
    pub proxy_authenticate: Vec<String>,
}

pub(crate) fn malformed(what: &str) -> Error {
    Error::Malformed(what.to_string())
}

/// Parses a datagram as a SIP response.
pub fn parse_response(datagram: &[u8]) -> Result<Response, Error> {
    let src = Bytes::copy_from_slice(datagram);
    let mut lines = PullParser::new(&src, 0);
    let first = lines
        .next()
        .ok_or_else(|| malformed("empty"))?
        .map_err(|_| malformed("incomplete head"))?;
    let first = std::str::from_utf8(first).map_err(|_| malformed("not UTF-8"))?;
    let (_, status) = StatusLine::parse(&src)(first).map_err(|_| malformed("no status line"))?;
    let mut headers = Headers::new();
    for l in lines {
        let l = l.map_err(|_| malformed("incomplete head"))?;
        let text = std::str::from_utf8(l).map_err(|_| malformed("not UTF-8"))?;
        let (_, line) = Line::parse(&src, text).map_err(|_| malformed("a header line"))?;
        headers.insert(line.name, line.value);
    }
    let branch = headers
        .get_named::<Via>()
        .ok()
        .and_then(|v| v.params.get_val("branch").map(|b| b.to_string()));
    let cseq = headers.get_named::<CSeq>().ok().map(|c| c.cseq);
    let raw = |n: &Name| -> Vec<String> { headers.get_raw(n).map(|v| v.to_string()).collect() };
    Ok(Response {
        code: status.code.into_u16(),
        reason: status.reason.map(|r| r.to_string()).unwrap_or_default(),
        branch,
        cseq,
        www_authenticate: raw(&Name::WWW_AUTHENTICATE),
        proxy_authenticate: raw(&Name::PROXY_AUTHENTICATE),
    })
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.gen::<u8>()))
        .collect()
}

/// One NOTIFY dialog's fixed parts; each transaction (first try, answer to a challenge) gets a
/// new branch and CSeq.
struct Request {
    uri: SipUri,
    uri_text: String,
    from: FromTo,
    to: FromTo,
    call_id: String,
    event: ResyncEvent,
    local: SocketAddr,
}

impl Request {
    fn new(target: &Target, local: SocketAddr) -> Request {
        let mut uri = SipUri::new(HostPort::from(target.addr));
        if let Some(u) = &target.user {
            uri.user_part = SipUriUserPart::User(u.clone().into());
        }
        let uri_text = uri.default_print_ctx().to_string();
        let mut me = SipUri::new(HostPort::from(local));
        me.user_part = SipUriUserPart::User("dialtone".into());
        Request {
            from: FromTo::new(NameAddr::uri(me), Some(random_hex(6).into())),
            to: FromTo::new(NameAddr::uri(uri.clone()), None),
            uri,
            uri_text,
            call_id: format!("{}@dialtone", random_hex(12)),
            event: target.event,
            local,
        }
    }

    /// The request as sent, with its branch.
    fn print(&self, cseq: u32, authorization: Option<(&Name, &str)>) -> (String, Vec<u8>) {
        let branch = format!("z9hG4bK{}", random_hex(10));
        let mut h = Headers::new();
        h.insert_named(&Via::new("UDP", self.local, branch.clone()));
        h.insert_named(&MaxForwards(70));
        h.insert_type(Name::FROM, &self.from);
        h.insert_type(Name::TO, &self.to);
        h.insert_named(&CallID::new(self.call_id.clone()));
        h.insert_named(&CSeq::new(cseq, Method::NOTIFY));
        let mut me = SipUri::new(HostPort::from(self.local));
        me.user_part = SipUriUserPart::User("dialtone".into());
        h.insert_named(&Contact::new(NameAddr::uri(me)));
        h.insert_named(&Event::new(self.event.as_str()));
        if let Some((name, value)) = authorization {
            h.insert(name.clone(), value.to_string());
        }
        h.insert(
            Name::USER_AGENT,
            concat!("Dialtone/", env!("CARGO_PKG_VERSION")),
        );
        h.insert(Name::CONTENT_LENGTH, "0");
        let method = Method::NOTIFY;
        let ctx = PrintCtx {
            method: Some(&method),
            uri: None,
        };
        let line = RequestLine {
            method: Method::NOTIFY,
            uri: self.uri.clone(),
        };
        let text = format!("{}\r\n{h}\r\n", line.print_ctx(ctx));
        (branch, text.into_bytes())
    }
}

/// The `Authorization` answer to the first Digest challenge we can answer.
fn answer(challenges: &[String], uri: &str, user: &str, password: &str) -> Option<String> {
    challenges.iter().find_map(|c| {
        let mut w = digest_auth::WwwAuthenticateHeader::parse(c).ok()?;
        let ctx = digest_auth::AuthContext::new_with_method(
            user,
            password,
            uri,
            None::<&[u8]>,
            digest_auth::HttpMethod("NOTIFY".into()),
        );
        w.respond(&ctx).ok().map(|a| a.to_header_string())
    })
}

type Pending = Mutex<HashMap<String, mpsc::UnboundedSender<Response>>>;
/// Where requests that reach the socket go, once someone listens for them.
type Requests = Mutex<Option<mpsc::UnboundedSender<Inbound>>>;

/// Sends NOTIFYs from one UDP socket; any number of transactions at once.
pub struct Notifier {
    sock: Arc<UdpSocket>,
    local: SocketAddr,
    pending: Arc<Pending>,
    timers: Timers,
    strays: Arc<AtomicU64>,
    requests: Arc<Requests>,
    receiver: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("local", &self.local)
            .field("timers", &self.timers)
            .finish_non_exhaustive()
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.receiver.abort();
    }
}

impl Notifier {
    /// Binds `addr` (port 0 for any) and starts reading responses.
    pub async fn bind(addr: SocketAddr, timers: Timers) -> Result<Notifier, Error> {
        let sock = Arc::new(UdpSocket::bind(addr).await?);
        let local = sock.local_addr()?;
        let pending: Arc<Pending> = Arc::default();
        let strays = Arc::new(AtomicU64::new(0));
        let requests: Arc<Requests> = Arc::default();
        let receiver = tokio::spawn(receive(
            sock.clone(),
            pending.clone(),
            strays.clone(),
            requests.clone(),
        ));
        Ok(Notifier {
            sock,
            local,
            pending,
            timers,
            strays,
            requests,
            receiver,
        })
    }

    /// From now on, the requests that reach the socket (an INVITE, its ACK, BYE, INFO, …) come
    /// here; before anyone asks, they are dropped as strays.
    pub fn requests(&self) -> mpsc::UnboundedReceiver<Inbound> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.requests.lock().expect("requests lock") = Some(tx);
        rx
    }

    /// Sends a datagram (a response) from the SIP socket.
    pub async fn send_to(&self, bytes: &[u8], to: SocketAddr) -> Result<(), Error> {
        self.sock.send_to(bytes, to).await?;
        Ok(())
    }

    /// The timers of this socket's transactions.
    pub fn timers(&self) -> Timers {
        self.timers
    }

    /// The address the peer at `to` sees us at (for Via and Contact headers).
    pub async fn local_address_for(&self, to: SocketAddr) -> SocketAddr {
        self.local_for(to).await
    }

    /// Runs a request we send (a BYE) as a non-INVITE client transaction: its final response,
    /// or `None` at timer F. `branch` is the one its top Via carries.
    pub async fn request(
        &self,
        branch: &str,
        bytes: &[u8],
        to: SocketAddr,
    ) -> Result<Option<Response>, Error> {
        self.transaction(branch, bytes, to).await
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Datagrams that answered no transaction of ours (late retransmissions, garbage).
    pub fn strays(&self) -> u64 {
        self.strays.load(Ordering::Relaxed)
    }

    /// The address the phone sees us at: the bound one, or, bound to a wildcard, the local
    /// address the system routes to the phone from.
    async fn local_for(&self, to: SocketAddr) -> SocketAddr {
        if !self.local.ip().is_unspecified() {
            return self.local;
        }
        let probe = async {
            let s = UdpSocket::bind(SocketAddr::new(self.local.ip(), 0)).await?;
            s.connect(to).await?;
            s.local_addr()
        };
        match probe.await {
            Ok(a) => SocketAddr::new(a.ip(), self.local.port()),
            Err(_) => self.local,
        }
    }

    /// Sends a NOTIFY to `target` and waits for its outcome (at most about 2·64·T1).
    pub async fn notify(&self, target: &Target) -> Outcome {
        let req = Request::new(target, self.local_for(target.addr).await);
        let (branch, bytes) = req.print(1, None);
        let first = match self.transaction(&branch, &bytes, target.addr).await {
            Ok(Some(r)) => r,
            Ok(None) => return Outcome::Timeout,
            Err(e) => return Outcome::SendFailed(e.to_string()),
        };
        let (challenges, header) = match first.code {
            401 => (&first.www_authenticate, Name::AUTHORIZATION),
            407 => (&first.proxy_authenticate, Name::PROXY_AUTHORIZATION),
            c => return final_outcome(c, &first.reason),
        };
        let Some((user, password)) = &target.credential else {
            return Outcome::Unauthorized {
                code: first.code,
                answered: false,
            };
        };
        let Some(auth) = answer(challenges, &req.uri_text, user, password.expose()) else {
            return Outcome::Unauthorized {
                code: first.code,
                answered: false,
            };
        };
        let (branch, bytes) = req.print(2, Some((&header, &auth)));
        match self.transaction(&branch, &bytes, target.addr).await {
            Ok(Some(r)) if r.code == 401 || r.code == 407 => Outcome::Unauthorized {
                code: r.code,
                answered: true,
            },
            Ok(Some(r)) => final_outcome(r.code, &r.reason),
            Ok(None) => Outcome::Timeout,
            Err(e) => Outcome::SendFailed(e.to_string()),
        }
    }

    /// One non-INVITE client transaction over UDP: the final response, or `None` at timer F.
    async fn transaction(
        &self,
        branch: &str,
        bytes: &[u8],
        to: SocketAddr,
    ) -> Result<Option<Response>, Error> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.pending
            .lock()
            .expect("pending lock")
            .insert(branch.to_string(), tx);
        let _forget = Forget {
            pending: &self.pending,
            branch,
        };
        self.sock.send_to(bytes, to).await?;
        let timer_f = Instant::now() + self.timers.t1 * 64;
        let mut timer_e = self.timers.t1;
        let mut next = Instant::now() + timer_e;
        loop {
            tokio::select! {
                r = rx.recv() => match r {
                    Some(r) if r.code >= 200 => return Ok(Some(r)),
                    // A provisional answer: keep waiting, retransmitting every T2 (17.1.2.2).
                    Some(_) => {
                        timer_e = self.timers.t2;
                        next = Instant::now() + timer_e;
                    }
                    None => return Ok(None),
                },
                _ = tokio::time::sleep_until(next) => {
                    if Instant::now() >= timer_f {
                        return Ok(None);
                    }
                    self.sock.send_to(bytes, to).await?;
                    timer_e = (timer_e * 2).min(self.timers.t2);
                    next = (Instant::now() + timer_e).min(timer_f);
                }
            }
        }
    }
}

fn final_outcome(code: u16, reason: &str) -> Outcome {
    if (200..300).contains(&code) {
        Outcome::Accepted { code }
    } else {
        Outcome::Refused {
            code,
            reason: reason.to_string(),
        }
    }
}

struct Forget<'a> {
    pending: &'a Pending,
    branch: &'a str,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.pending
            .lock()
            .expect("pending lock")
            .remove(self.branch);
    }
}

async fn receive(
    sock: Arc<UdpSocket>,
    pending: Arc<Pending>,
    strays: Arc<AtomicU64>,
    requests: Arc<Requests>,
) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(got) => got,
            // ICMP port unreachable from a phone that is off surfaces here on some systems.
            Err(e) => {
                tracing::debug!(%e, "sip: receive error");
                continue;
            }
        };
        if is_request(&buf[..n]) {
            let to = requests.lock().expect("requests lock").clone();
            let delivered = match (to, parse_request(&buf[..n], from)) {
                (Some(tx), Ok(r)) => tx.send(r).is_ok(),
                (_, Err(e)) => {
                    tracing::debug!(%e, %from, "sip: dropped a request");
                    false
                }
                (None, Ok(_)) => false,
            };
            if !delivered {
                strays.fetch_add(1, Ordering::Relaxed);
            }
            continue;
        }
        let delivered = match parse_response(&buf[..n]) {
            Ok(r) => {
                let to = r
                    .branch
                    .as_ref()
                    .and_then(|b| pending.lock().expect("pending lock").get(b).cloned());
                match to {
                    Some(tx) => tx.send(r).is_ok(),
                    None => false,
                }
            }
            Err(e) => {
                tracing::debug!(%e, "sip: dropped a datagram");
                false
            }
        };
        if !delivered {
            strays.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ezk_sip_types::msg::RequestLine;

    fn target(addr: SocketAddr, credential: bool) -> Target {
        Target {
            addr,
            user: Some("2000".into()),
            event: ResyncEvent::Resync,
            credential: credential.then(|| ("jsmith".into(), model::Secret::new("d1gest"))),
        }
    }

    /// Print, then parse back with the same crate: what we send is well-formed SIP.
    #[test]
    fn a_notify_prints_and_parses_back() {
        let local: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        let req = Request::new(&target("127.0.0.2:5060".parse().unwrap(), false), local);
        let (branch, bytes) = req.print(1, None);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with("NOTIFY sip:2000@127.0.0.2:5060 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"), "{text}");
        let src = Bytes::from(bytes);
        let mut lines = PullParser::new(&src, 0);
        let first = std::str::from_utf8(lines.next().unwrap().unwrap()).unwrap();
        let (_, rl) = RequestLine::parse(&src)(first).unwrap();
        assert_eq!(rl.method, Method::NOTIFY);
        let mut h = Headers::new();
        for l in lines {
            let (_, line) = Line::parse(&src, std::str::from_utf8(l.unwrap()).unwrap()).unwrap();
            h.insert(line.name, line.value);
        }
        let via = h.get_named::<Via>().unwrap();
        assert_eq!(via.params.get_val("branch").unwrap().to_string(), branch);
        assert!(branch.starts_with("z9hG4bK"));
        assert_eq!(h.get_named::<CSeq>().unwrap().cseq, 1);
        assert_eq!(h.get_named::<Event>().unwrap().0.to_string(), "resync");
        let from: FromTo = h.get(Name::FROM).unwrap();
        assert!(from.tag.is_some());
        let to: FromTo = h.get(Name::TO).unwrap();
        assert!(to.tag.is_none());
        assert_eq!(h.get_named::<MaxForwards>().unwrap().0, 70);
    }

    #[test]
    fn responses_parse_and_garbage_does_not() {
        let r = parse_response(
            b"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc\r\n\
              CSeq: 1 NOTIFY\r\nWWW-Authenticate: Digest realm=\"x\", nonce=\"n\", algorithm=MD5\r\n\
              Content-Length: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.code, r.reason.as_str()), (401, "Unauthorized"));
        assert_eq!(r.branch.as_deref(), Some("z9hG4bKabc"));
        assert_eq!(r.cseq, Some(1));
        assert_eq!(r.www_authenticate.len(), 1);
        for junk in [
            &b""[..],
            b"hello",
            b"NOTIFY sip:a@b SIP/2.0\r\n\r\n",
            b"SIP/2.0 abc\r\n\r\n",
            b"\xff\xfe\r\n\r\n",
        ] {
            assert!(parse_response(junk).is_err(), "{junk:?}");
        }
    }

    /// A phone of our own making: loses the first NOTIFY, challenges the second, checks the
    /// answer with the client half of `digest_auth`, accepts.
    #[tokio::test]
    async fn retransmits_answers_the_challenge_and_ends_on_the_final_response() {
        let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = phone.local_addr().unwrap();
        let timers = Timers {
            t1: Duration::from_millis(20),
            t2: Duration::from_millis(80),
        };
        let n = Notifier::bind("127.0.0.1:0".parse().unwrap(), timers)
            .await
            .unwrap();
        let phone_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut seen = Vec::new();
            loop {
                let (len, from) = phone.recv_from(&mut buf).await.unwrap();
                let text = String::from_utf8_lossy(&buf[..len]).to_string();
                seen.push(text.clone());
                let via = text
                    .lines()
                    .find(|l| l.starts_with("Via:"))
                    .unwrap()
                    .to_string();
                let cseq = text
                    .lines()
                    .find(|l| l.starts_with("CSeq:"))
                    .unwrap()
                    .to_string();
                if seen.len() == 1 {
                    continue; // lost
                }
                if !text.contains("Authorization:") {
                    let r = format!("SIP/2.0 401 Unauthorized\r\n{via}\r\n{cseq}\r\nWWW-Authenticate: Digest realm=\"phone\", nonce=\"abc123\", qop=\"auth\", algorithm=MD5\r\nContent-Length: 0\r\n\r\n");
                    phone.send_to(r.as_bytes(), from).await.unwrap();
                    continue;
                }
                let auth = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Authorization: "))
                    .unwrap();
                let given = digest_auth::AuthorizationHeader::parse(auth).unwrap();
                let mut expected = given.clone();
                expected.digest(&digest_auth::AuthContext::new_with_method(
                    "jsmith",
                    "d1gest",
                    given.uri.as_str(),
                    None::<&[u8]>,
                    digest_auth::HttpMethod("NOTIFY".into()),
                ));
                let code = if expected.response == given.response
                    && given.uri == "sip:2000@".to_string() + &addr.to_string()
                {
                    "200 OK"
                } else {
                    "403 Forbidden"
                };
                let r = format!("SIP/2.0 {code}\r\n{via}\r\n{cseq}\r\nContent-Length: 0\r\n\r\n");
                phone.send_to(r.as_bytes(), from).await.unwrap();
                return seen;
            }
        });
        let outcome = n.notify(&target(addr, true)).await;
        assert_eq!(outcome, Outcome::Accepted { code: 200 });
        let seen = phone_task.await.unwrap();
        assert_eq!(
            seen.len(),
            3,
            "first lost, retransmitted, then answered: {seen:#?}"
        );
        assert_eq!(seen[0], seen[1], "a retransmission is the same request");
        assert!(seen[2].contains("CSeq: 2 NOTIFY"));
        // Without credentials the challenge ends it.
        let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = phone.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let (len, from) = phone.recv_from(&mut buf).await.unwrap();
            let text = String::from_utf8_lossy(&buf[..len]).to_string();
            let via = text.lines().find(|l| l.starts_with("Via:")).unwrap();
            let r = format!("SIP/2.0 401 Unauthorized\r\n{via}\r\nCSeq: 1 NOTIFY\r\nWWW-Authenticate: Digest realm=\"p\", nonce=\"n\"\r\nContent-Length: 0\r\n\r\n");
            phone.send_to(r.as_bytes(), from).await.unwrap();
        });
        assert_eq!(
            n.notify(&target(addr, false)).await,
            Outcome::Unauthorized {
                code: 401,
                answered: false
            }
        );
    }

    #[tokio::test]
    async fn a_phone_that_never_answers_times_out_at_timer_f() {
        let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let timers = Timers {
            t1: Duration::from_millis(5),
            t2: Duration::from_millis(40),
        };
        let n = Notifier::bind("127.0.0.1:0".parse().unwrap(), timers)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let outcome = n.notify(&target(phone.local_addr().unwrap(), false)).await;
        assert_eq!(outcome, Outcome::Timeout);
        assert!(started.elapsed() >= Duration::from_millis(5 * 64));
        // E: 5, 10, 20, 40, 40, … within F = 320 ms: about 10 sends.
        let mut count = 0;
        let mut buf = [0u8; 2048];
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(50), phone.recv_from(&mut buf)).await
        {
            count += 1;
        }
        assert!((6..=12).contains(&count), "{count} sends");
    }
}

//! A phone's SIP side, as far as resync goes: NOTIFYs are parsed with `ezk-sip-types`, answered
//! 200 (after a 401 digest challenge when asked, checked with `digest_auth`), and the event its
//! phone takes (`Event: resync` for MPP, `check-sync` for the others, parameters aside) wakes
//! it. Retransmissions of a request get the same answer and wake nobody twice.

use bytes::Bytes;
use ezk_sip_types::header::typed::{CSeq, CallID};
use ezk_sip_types::msg::{Line, PullParser, RequestLine};
use ezk_sip_types::parse::Parse;
use ezk_sip_types::{Headers, Method, Name};
use rand::Rng;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;
use tokio::sync::Notify;

/// What the SIP side needs from its phone and tells it.
pub struct SipSide {
    /// The line credentials from the phone's configuration (auth name, password).
    pub credential: Mutex<Option<(String, String)>>,
    /// Challenge every NOTIFY once before accepting it.
    pub challenge: bool,
    /// The event its phone resyncs on (`resync` for MPP, `check-sync` for the others); any
    /// other is answered 489 Bad Event.
    pub event: &'static str,
    /// Woken by an accepted resync NOTIFY.
    pub resync: Notify,
    pub notifies: std::sync::atomic::AtomicU64,
}

struct Request {
    method: Method,
    headers: Headers,
}

fn parse(datagram: &[u8]) -> Option<Request> {
    let src = Bytes::copy_from_slice(datagram);
    let mut lines = PullParser::new(&src, 0);
    let first = std::str::from_utf8(lines.next()?.ok()?).ok()?;
    let (_, rl) = RequestLine::parse(&src)(first).ok()?;
    let mut headers = Headers::new();
    for l in lines {
        let text = std::str::from_utf8(l.ok()?).ok()?;
        let (_, line) = Line::parse(&src, text).ok()?;
        headers.insert(line.name, line.value);
    }
    Some(Request {
        method: rl.method,
        headers,
    })
}

/// A response to `req`: its Via, From, To (with our tag), Call-ID and CSeq, and `extra`.
fn respond(req: &Request, status: &str, extra: &[(Name, String)]) -> Vec<u8> {
    let mut h = Headers::new();
    for v in req.headers.get_raw(&Name::VIA) {
        h.insert(Name::VIA, v.clone());
    }
    for name in [Name::FROM, Name::TO, Name::CALL_ID, Name::CSEQ] {
        for v in req.headers.get_raw(&name) {
            let v = if name == Name::TO && !v.contains("tag=") {
                format!("{v};tag=fleet").into()
            } else {
                v.clone()
            };
            h.insert(name.clone(), v);
        }
    }
    for (n, v) in extra {
        h.insert(n.clone(), v.clone());
    }
    h.insert(Name::CONTENT_LENGTH, "0");
    format!("SIP/2.0 {status}\r\n{h}\r\n").into_bytes()
}

fn header(req: &Request, name: &Name) -> Option<String> {
    req.headers.get_raw(name).next().map(|v| v.to_string())
}

fn digest_ok(req: &Request, nonce: &str, user: &str, password: &str) -> bool {
    let Some(auth) = header(req, &Name::AUTHORIZATION) else {
        return false;
    };
    let Ok(given) = digest_auth::AuthorizationHeader::parse(&auth) else {
        return false;
    };
    if given.nonce != nonce || given.username != user {
        return false;
    }
    let mut expected = given.clone();
    expected.digest(&digest_auth::AuthContext::new_with_method(
        user,
        password,
        given.uri.as_str(),
        None::<&[u8]>,
        digest_auth::HttpMethod("NOTIFY".into()),
    ));
    expected.response == given.response
}

/// Answers requests on `sock` until the task is dropped.
pub async fn serve(sock: UdpSocket, side: Arc<SipSide>) {
    let mut buf = vec![0u8; 8192];
    // Answers already given, by Call-ID and CSeq, for retransmissions.
    let mut answered: VecDeque<((String, u32), Vec<u8>)> = VecDeque::new();
    let mut nonces: VecDeque<(String, String)> = VecDeque::new();
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            return;
        };
        let Some(req) = parse(&buf[..n]) else {
            continue;
        };
        let call_id = req
            .headers
            .get_named::<CallID>()
            .map(|c| c.0.to_string())
            .unwrap_or_default();
        let cseq = req.headers.get_named::<CSeq>().map(|c| c.cseq).unwrap_or(0);
        let key = (call_id.clone(), cseq);
        if let Some((_, a)) = answered.iter().find(|(k, _)| *k == key) {
            let _ = sock.send_to(a, from).await;
            continue;
        }
        let answer = if req.method != Method::NOTIFY {
            respond(
                &req,
                "405 Method Not Allowed",
                &[(Name::ALLOW, "NOTIFY".into())],
            )
        } else {
            let event = header(&req, &Name::EVENT).unwrap_or_default();
            let event = event
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if event != side.event {
                respond(&req, "489 Bad Event", &[])
            } else {
                let cred = side.credential.lock().expect("credential lock").clone();
                let pending = nonces
                    .iter()
                    .find(|(c, _)| *c == call_id)
                    .map(|(_, n)| n.clone());
                match (side.challenge, cred, pending) {
                    (true, Some((user, pw)), Some(nonce)) => {
                        if digest_ok(&req, &nonce, &user, &pw) {
                            side.notifies
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            side.resync.notify_one();
                            respond(&req, "200 OK", &[])
                        } else {
                            respond(&req, "403 Forbidden", &[])
                        }
                    }
                    (true, Some(_), None) => {
                        let nonce: String = (0..16)
                            .map(|_| format!("{:02x}", rand::thread_rng().gen::<u8>()))
                            .collect();
                        nonces.push_back((call_id.clone(), nonce.clone()));
                        if nonces.len() > 64 {
                            nonces.pop_front();
                        }
                        respond(
                            &req,
                            "401 Unauthorized",
                            &[(
                                Name::WWW_AUTHENTICATE,
                                format!("Digest realm=\"fleet\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5"),
                            )],
                        )
                    }
                    _ => {
                        side.notifies
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        side.resync.notify_one();
                        respond(&req, "200 OK", &[])
                    }
                }
            }
        };
        let _ = sock.send_to(&answer, from).await;
        answered.push_back((key, answer));
        if answered.len() > 32 {
            answered.pop_front();
        }
    }
}

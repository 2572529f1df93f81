//! The self-provisioning IVR (docs/self-provisioning.md): with `--sip`, Dialtone answers an
//! INVITE to a system's IVR extension (the call-control server routes the extension to
//! Dialtone's SIP address, as CUCM routes it to a CTI route point). It tells the calling phone by
//! the MAC in its Contact's `+sip.instance` or its auto-registered number (From), answers with
//! SDP (G.711 µ-law or A-law, telephone-event), plays prompts over RTP, collects digits as
//! RFC 4733 events and as SIP INFO, asks for the self-provisioning ID and the secret the
//! system's mode needs, runs the claim (`service::Service::claim`), says what it did, and hangs
//! up.
//!
//! SIP messages are parsed by `ezk-sip-types` (the `sip` crate), SDP by `ezk-sdp-types`, RTP by
//! `rtp-types`. The dialog's few timers (the 2xx resent until the ACK) are here.
#![forbid(unsafe_code)]

mod call;
mod media;
mod prompts;

use service::Service;
use sip::{Inbound, Notifier};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Calls at once at most: each holds an RTP port and a task; one more is answered 486 Busy
/// Here.
pub const MAX_CALLS: usize = 64;

/// The methods the IVR answers.
pub(crate) const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, INFO, OPTIONS";

/// How patient the IVR is.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// For the first digit of an entry.
    pub first_digit: Duration,
    /// Between digits (an entry ends with `#`, or when this passes).
    pub between_digits: Duration,
    /// Times a question is asked before the call ends.
    pub attempts: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            first_digit: Duration::from_secs(10),
            between_digits: Duration::from_secs(5),
            attempts: 3,
        }
    }
}

/// Told the device id of each phone a call claimed (the server sends it a NOTIFY).
pub type OnClaimed = Arc<dyn Fn(i64) + Send + Sync>;

pub(crate) struct Ctx {
    pub notifier: Arc<Notifier>,
    pub service: Service,
    pub on_claimed: OnClaimed,
    pub settings: Settings,
}

type Calls = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Inbound>>>>;

/// Answers the requests that reach `notifier`'s socket until it closes.
pub fn start(
    notifier: Arc<Notifier>,
    service: Service,
    on_claimed: OnClaimed,
    settings: Settings,
) -> tokio::task::JoinHandle<()> {
    let mut requests = notifier.requests();
    let ctx = Arc::new(Ctx {
        notifier,
        service,
        on_claimed,
        settings,
    });
    let calls: Calls = Arc::default();
    tokio::spawn(async move {
        while let Some(r) = requests.recv().await {
            let existing = calls.lock().expect("calls lock").get(&r.call_id).cloned();
            if let Some(tx) = existing {
                let _ = tx.send(r);
                continue;
            }
            let n = &ctx.notifier;
            let answer = match r.method.as_str() {
                "INVITE"
                    if r.to_tag.is_none()
                        && calls.lock().expect("calls lock").len() >= MAX_CALLS =>
                {
                    tracing::warn!(from = %r.source, "ivr: {MAX_CALLS} calls at once already: busy");
                    let tag = format!("{:016x}", rand::random::<u64>());
                    r.response(486, "Busy Here", Some(&tag), &[], None)
                }
                "INVITE" if r.to_tag.is_none() => {
                    let (tx, rx) = mpsc::unbounded_channel();
                    let id = r.call_id.clone();
                    calls.lock().expect("calls lock").insert(id.clone(), tx);
                    let (ctx, calls) = (ctx.clone(), calls.clone());
                    tokio::spawn(async move {
                        call::run(ctx, r, rx).await;
                        calls.lock().expect("calls lock").remove(&id);
                    });
                    continue;
                }
                "ACK" => continue,
                "OPTIONS" => r.response(200, "OK", None, &[("Allow", ALLOW)], None),
                "BYE" | "INFO" | "CANCEL" | "INVITE" => {
                    r.response(481, "Call/Transaction Does Not Exist", None, &[], None)
                }
                _ => r.response(405, "Method Not Allowed", None, &[("Allow", ALLOW)], None),
            };
            if let Err(e) = n.send_to(&answer, r.source).await {
                tracing::debug!(%e, "ivr: answering a request");
            }
        }
    })
}

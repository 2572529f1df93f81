//! One call to the IVR: the INVITE answered (RFC 3261 §13.3: the 2xx sent again on timer G
//! until the ACK comes, given up at timer H), the caller's in-dialog requests (BYE, INFO,
//! CANCEL, a retransmitted INVITE), the conversation, and our BYE at its end.

use crate::media::{info_digit, Entry, Media, Played, PCMA, PCMU};
use crate::prompts::{lang, Lang};
use crate::Ctx;
use bytes::Bytes;
use model::{ClaimRefusal, SelfProvisioningAuth, System, SystemKind};
use service::{Actor, Claim};
use sip::Inbound;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

fn tag() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// What the caller's SDP offers that we can use: where to send, the codec, telephone-event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Offer {
    pub remote: SocketAddr,
    pub codec: u8,
    pub te: Option<u8>,
}

/// Reads an SDP offer (`ezk-sdp-types`): its first audio stream with G.711 (µ-law preferred).
pub(crate) fn read_offer(body: &Bytes) -> Result<Offer, String> {
    let text =
        bytesstr::BytesStr::from_utf8_bytes(body.clone()).map_err(|_| "the SDP is not UTF-8")?;
    let sdp = ezk_sdp_types::SessionDescription::parse(&text)
        .map_err(|e| format!("the SDP does not parse: {e}"))?;
    let m = sdp
        .media_descriptions
        .iter()
        .find(|m| m.media.media_type == ezk_sdp_types::MediaType::Audio && m.media.port != 0)
        .ok_or("the SDP offers no audio")?;
    let address = m
        .connection
        .as_ref()
        .or(sdp.connection.as_ref())
        .ok_or("the SDP has no connection address")?;
    let ip: IpAddr = match &address.address {
        ezk_sdp_types::TaggedAddress::IP4(a) => IpAddr::V4(*a),
        ezk_sdp_types::TaggedAddress::IP6(a) => IpAddr::V6(*a),
        other => {
            return Err(format!(
                "the SDP's address {other:?} is a name, not an address"
            ))
        }
    };
    let codec = [PCMU, PCMA]
        .into_iter()
        .find(|c| m.media.fmts.contains(c))
        .ok_or("the SDP offers neither G.711 µ-law (0) nor A-law (8)")?;
    let te = m
        .rtpmap
        .iter()
        .find(|r| r.encoding.eq_ignore_ascii_case("telephone-event") && r.clock_rate == 8000)
        .map(|r| r.payload)
        .filter(|p| m.media.fmts.contains(p));
    Ok(Offer {
        remote: SocketAddr::new(ip, m.media.port),
        codec,
        te,
    })
}

/// Our SDP answer.
pub(crate) fn answer(ip: IpAddr, port: u16, o: &Offer) -> String {
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let id = rand::random::<u32>();
    let (codec, name) = if o.codec == PCMA {
        (PCMA, "PCMA")
    } else {
        (PCMU, "PCMU")
    };
    let mut s = format!(
        "v=0\r\no=dialtone {id} 1 IN {family} {ip}\r\ns=Dialtone self-provisioning\r\nc=IN {family} {ip}\r\nt=0 0\r\n"
    );
    match o.te {
        Some(te) => s.push_str(&format!(
            "m=audio {port} RTP/AVP {codec} {te}\r\na=rtpmap:{codec} {name}/8000\r\na=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-15\r\n"
        )),
        None => s.push_str(&format!("m=audio {port} RTP/AVP {codec}\r\na=rtpmap:{codec} {name}/8000\r\n")),
    }
    s.push_str("a=ptime:20\r\na=sendrecv\r\n");
    s
}

/// Runs a call from its INVITE to its end; `rx` brings the call's later requests.
pub(crate) async fn run(ctx: Arc<Ctx>, invite: Inbound, mut rx: mpsc::UnboundedReceiver<Inbound>) {
    let n = &ctx.notifier;
    let reply = |r: &Inbound, code: u16, reason: &str, to_tag: Option<&str>| {
        r.response(code, reason, to_tag, &[], None)
    };
    let send = |bytes: Vec<u8>, to: SocketAddr| async move {
        if let Err(e) = n.send_to(&bytes, to).await {
            tracing::debug!(%e, "ivr: sending a response");
        }
    };
    let dialled = invite.to_user.clone().unwrap_or_default();
    let system = match ctx.service.systems().await {
        Ok(all) => all.into_iter().find(|s| {
            s.kind == SystemKind::CallControl
                && !dialled.is_empty()
                && s.settings.self_provisioning.ivr_extension == dialled
        }),
        Err(e) => {
            tracing::warn!(%e, "ivr: reading the systems");
            send(
                reply(&invite, 500, "Server Internal Error", None),
                invite.source,
            )
            .await;
            return;
        }
    };
    let Some(system) = system else {
        tracing::info!(%dialled, from = %invite.source, "ivr: a call to a number that is no system's IVR extension");
        send(
            reply(&invite, 404, "Not Found", Some(&tag())),
            invite.source,
        )
        .await;
        return;
    };
    let offer = match read_offer(&invite.body) {
        Ok(o) => o,
        Err(why) => {
            tracing::info!(%why, from = %invite.source, "ivr: refused an offer");
            send(
                reply(&invite, 488, "Not Acceptable Here", Some(&tag())),
                invite.source,
            )
            .await;
            return;
        }
    };
    let local = n.local_address_for(invite.source).await;
    let rtp = match UdpSocket::bind(SocketAddr::new(local.ip(), 0)).await {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::warn!(%e, "ivr: binding an RTP port");
            send(
                reply(&invite, 503, "Service Unavailable", Some(&tag())),
                invite.source,
            )
            .await;
            return;
        }
    };
    let rtp_port = rtp.local_addr().map(|a| a.port()).unwrap_or(0);
    let our_tag = tag();
    let sdp = answer(local.ip(), rtp_port, &offer);
    let contact = format!("<sip:{dialled}@{local}>");
    let ok = invite.response(
        200,
        "OK",
        Some(&our_tag),
        &[("Contact", &contact), ("Allow", crate::ALLOW)],
        Some(("application/sdp", sdp.as_bytes())),
    );
    send(ok.clone(), invite.source).await;
    // Who calls: the MAC in the Contact's +sip.instance, else the auto-registered number.
    let phone = invite.instance_mac.clone().or(invite.from_user.clone());
    tracing::info!(phone = ?phone, system = %system.name, codec = offer.codec, "ivr: call answered");

    let (hangup_tx, hangup) = watch::channel(false);
    let (digit_tx, digit_rx) = mpsc::unbounded_channel();
    let media = Media::start(
        rtp,
        offer.remote,
        offer.codec,
        offer.te,
        (digit_tx.clone(), digit_rx),
        hangup,
    );
    let mut talk = tokio::spawn(converse(ctx.clone(), media, phone, system));

    let timers = n.timers();
    let mut acked = false;
    let mut timer_g = timers.t1;
    let mut resend_at = Instant::now() + timer_g;
    let timer_h = Instant::now() + timers.t1 * 64;
    let mut they_hung_up = false;
    loop {
        tokio::select! {
            r = rx.recv() => {
                let Some(r) = r else { break };
                match r.method.as_str() {
                    "INVITE" if r.to_tag.is_none() => send(ok.clone(), r.source).await,
                    "ACK" => acked = true,
                    "BYE" => {
                        send(reply(&r, 200, "OK", None), r.source).await;
                        they_hung_up = true;
                        let _ = hangup_tx.send(true);
                    }
                    "INFO" => {
                        if let Some(d) = info_digit(r.content_type.as_deref(), &r.body) {
                            // Which key is never logged: it may be part of a PIN.
                            tracing::trace!("ivr: a key (SIP INFO)");
                            let _ = digit_tx.send(d);
                        }
                        send(reply(&r, 200, "OK", None), r.source).await;
                    }
                    // Too late to cancel: the call is answered (§9.2).
                    "CANCEL" => send(reply(&r, 200, "OK", None), r.source).await,
                    _ => send(r.response(405, "Method Not Allowed", None, &[("Allow", crate::ALLOW)], None), r.source).await,
                }
            }
            _ = tokio::time::sleep_until(resend_at), if !acked => {
                if Instant::now() >= timer_h {
                    tracing::info!("ivr: no ACK for the 200 OK: hanging up");
                    let _ = hangup_tx.send(true);
                    acked = true;
                } else {
                    send(ok.clone(), invite.source).await;
                    timer_g = (timer_g * 2).min(timers.t2);
                    resend_at = Instant::now() + timer_g;
                }
            }
            _ = &mut talk => break,
        }
    }
    let _ = hangup_tx.send(true);
    talk.abort();
    if !they_hung_up {
        bye(&ctx, &invite, &our_tag, local).await;
    }
}

/// Ends the call from our side.
async fn bye(ctx: &Ctx, invite: &Inbound, our_tag: &str, local: SocketAddr) {
    let branch = format!("z9hG4bK{:016x}", rand::random::<u64>());
    let target = invite
        .contact
        .clone()
        .unwrap_or_else(|| format!("sip:{}", invite.source));
    let text = format!(
        "BYE {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch}\r\nMax-Forwards: 70\r\n\
         From: {};tag={our_tag}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 BYE\r\n\
         User-Agent: Dialtone/{}\r\nContent-Length: 0\r\n\r\n",
        invite.to_header(),
        invite.from_header(),
        invite.call_id,
        env!("CARGO_PKG_VERSION"),
    );
    match ctx
        .notifier
        .request(&branch, text.as_bytes(), invite.source)
        .await
    {
        Ok(Some(r)) => tracing::debug!(code = r.code, "ivr: BYE answered"),
        Ok(None) => tracing::info!("ivr: the BYE got no answer"),
        Err(e) => tracing::info!(%e, "ivr: sending the BYE"),
    }
}

/// The conversation: the language, then the self-provisioning ID and the secret the system's
/// mode asks for, each asked again when wrong or slow, then the claim and what it did.
async fn converse(ctx: Arc<Ctx>, mut m: Media, phone: Option<String>, system: System) {
    let sp = &system.settings.self_provisioning;
    let l = choose_language(&ctx, &mut m, &sp.languages).await;
    let Some(l) = l else { return };
    let Some(phone) = phone else {
        m.play(&[l.refused], false).await;
        return;
    };
    if let Err(e) = ctx
        .service
        .claimable_phone(&phone, Some(&system.name))
        .await
    {
        tracing::info!(%phone, why = %e, "ivr: not a phone to claim");
        let p = if e.reason == ClaimRefusal::NotClaimable {
            l.not_claimable
        } else {
            l.refused
        };
        m.play(&[p], false).await;
        return;
    }
    if m.play(&[l.welcome], true).await == Played::HungUp {
        return;
    }
    let attempts = ctx.settings.attempts;
    let ask_secret = match sp.authentication {
        SelfProvisioningAuth::None => None,
        SelfProvisioningAuth::EndUser => Some(l.ask_pin),
        SelfProvisioningAuth::EndUserOrAdminCode => Some(l.ask_pin_or_code),
    };
    let (mut id_asked, mut secret_asked) = (0, 0);
    let mut id: Option<String> = None;
    loop {
        if id.is_none() {
            if id_asked == attempts {
                m.play(&[l.goodbye], false).await;
                return;
            }
            id_asked += 1;
            match ask(&ctx, &mut m, l.ask_id).await {
                Entry::Digits(d) if !d.is_empty() => id = Some(d),
                Entry::HungUp => return,
                _ => {
                    if m.play(&[l.again], true).await == Played::HungUp {
                        return;
                    }
                    continue;
                }
            }
        }
        let secret = match ask_secret {
            None => None,
            Some(prompt) => {
                if secret_asked == attempts {
                    m.play(&[l.goodbye], false).await;
                    return;
                }
                secret_asked += 1;
                match ask(&ctx, &mut m, prompt).await {
                    Entry::Digits(d) if !d.is_empty() => Some(model::Secret::new(d)),
                    Entry::HungUp => return,
                    _ => {
                        if m.play(&[l.again], true).await == Played::HungUp {
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        let c = Claim {
            phone: phone.clone(),
            user: id.clone().unwrap_or_default(),
            secret,
            via: "ivr",
            system: Some(system.name.clone()),
            authenticated: false,
        };
        match ctx
            .service
            .claim(&Actor::new("self-provisioning IVR"), &c)
            .await
        {
            Ok(done) => {
                (ctx.on_claimed)(done.device_id);
                let mut clips = vec![l.done];
                clips.extend(
                    done.extension
                        .chars()
                        .filter_map(|d| d.to_digit(10))
                        .map(|d| l.digits[d as usize]),
                );
                clips.push(l.restart);
                m.play(&clips, false).await;
                return;
            }
            Err(e) => {
                tracing::info!(%phone, why = %e, "ivr: claim refused");
                match e.reason {
                    ClaimRefusal::NoUser => {
                        id = None;
                        if m.play(&[l.again], true).await == Played::HungUp {
                            return;
                        }
                    }
                    ClaimRefusal::WrongSecret => {
                        if m.play(&[l.again], true).await == Played::HungUp {
                            return;
                        }
                    }
                    ClaimRefusal::LockedOut => {
                        m.play(&[l.locked], false).await;
                        return;
                    }
                    ClaimRefusal::NoPhone | ClaimRefusal::NotClaimable => {
                        m.play(&[l.not_claimable], false).await;
                        return;
                    }
                    _ => {
                        m.play(&[l.refused], false).await;
                        return;
                    }
                }
            }
        }
    }
}

/// Plays a question and collects the answer (a digit keyed over the question counts).
async fn ask(ctx: &Ctx, m: &mut Media, prompt: &[u8]) -> Entry {
    if m.play(&[prompt], true).await == Played::HungUp {
        return Entry::HungUp;
    }
    m.collect(ctx.settings.first_digit, ctx.settings.between_digits, 24)
        .await
}

/// With several languages, a menu (`For English, press 1`, each in its own language); the
/// first language when nothing is keyed in time.
async fn choose_language(ctx: &Ctx, m: &mut Media, languages: &[String]) -> Option<&'static Lang> {
    let first = lang(languages.first().map(String::as_str).unwrap_or("en_US"));
    if languages.len() < 2 {
        return Some(first);
    }
    let mut clips = Vec::new();
    for (i, code) in languages.iter().enumerate().take(9) {
        let l = lang(code);
        clips.push(l.lang_press);
        clips.push(l.digits[i + 1]);
    }
    if m.play(&clips, true).await == Played::HungUp {
        return None;
    }
    match m
        .collect(ctx.settings.between_digits, ctx.settings.between_digits, 1)
        .await
    {
        Entry::HungUp => None,
        Entry::Digits(d) => {
            let i = d
                .parse::<usize>()
                .ok()
                .filter(|i| (1..=languages.len()).contains(i));
            Some(i.map(|i| lang(&languages[i - 1])).unwrap_or(first))
        }
        Entry::Timeout => Some(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_and_answers() {
        let offer = Bytes::from_static(
            b"v=0\r\no=sipp 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
              m=audio 6000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
        );
        let o = read_offer(&offer).unwrap();
        assert_eq!(
            o,
            Offer {
                remote: "127.0.0.2:6000".parse().unwrap(),
                codec: PCMU,
                te: Some(101)
            }
        );
        let a = answer("127.0.0.1".parse().unwrap(), 7000, &o);
        assert!(a.contains("m=audio 7000 RTP/AVP 0 101\r\n"), "{a}");
        // Our answer parses with the same crate, and offers what we chose.
        let back = read_offer(&Bytes::from(a)).unwrap();
        assert_eq!(
            back,
            Offer {
                remote: "127.0.0.1:7000".parse().unwrap(),
                codec: PCMU,
                te: Some(101)
            }
        );
        let alaw_only = Bytes::from_static(
            b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\nc=IN IP4 10.0.0.9\r\n",
        );
        assert_eq!(read_offer(&alaw_only).unwrap().codec, PCMA);
        assert_eq!(read_offer(&alaw_only).unwrap().te, None);
        let g729 = Bytes::from_static(
            b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\n",
        );
        assert!(read_offer(&g729).unwrap_err().contains("neither G.711"));
        assert!(read_offer(&Bytes::from_static(b"nonsense")).is_err());
    }
}

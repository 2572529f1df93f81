//! The call's audio: prompts sent over RTP in 20 ms packets of G.711 (µ-law as stored, A-law
//! converted), and the digits the caller keys, read from RFC 4733 telephone-events.
//!
//! RTP packets are written and parsed by `rtp-types`. The G.711 µ-law to A-law conversion is
//! the ITU-T G.711 tables' arithmetic (a few lines, no crate needed for it).

use rtp_types::{RtpPacket, RtpPacketBuilder};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

/// G.711 µ-law, payload type 0.
pub(crate) const PCMU: u8 = 0;
/// G.711 A-law, payload type 8.
pub(crate) const PCMA: u8 = 8;
/// 20 ms of 8 kHz audio.
const FRAME: usize = 160;
/// µ-law silence.
const ULAW_SILENCE: u8 = 0xFF;

/// A µ-law sample as 16-bit linear (G.711).
pub(crate) fn ulaw_to_linear(u: u8) -> i16 {
    let u = !u;
    let t = ((i32::from(u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

/// A 16-bit linear sample as A-law (G.711).
pub(crate) fn linear_to_alaw(pcm: i16) -> u8 {
    const SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let mut v = i32::from(pcm) >> 3;
    let mask = if v >= 0 {
        0xD5
    } else {
        v = -v - 1;
        0x55
    };
    let Some(seg) = SEG_END.iter().position(|e| v <= *e) else {
        return 0x7F ^ mask;
    };
    let mut a = (seg as u8) << 4;
    a |= if seg < 2 {
        ((v >> 1) & 0x0F) as u8
    } else {
        ((v >> seg) & 0x0F) as u8
    };
    a ^ mask
}

/// What a prompt's playing ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Played {
    Done,
    /// The caller keyed a digit over it (it is not lost: [`Media::collect`] starts with it).
    Digit,
    HungUp,
}

/// What the caller keyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// Digits up to `#` (or up to the most an entry holds).
    Digits(String),
    /// Nothing in time.
    Timeout,
    HungUp,
}

pub(crate) struct Media {
    sock: Arc<UdpSocket>,
    remote: SocketAddr,
    codec: u8,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    digits: mpsc::UnboundedReceiver<char>,
    /// A digit keyed during a prompt, for the next entry.
    early: Option<char>,
    hangup: watch::Receiver<bool>,
    receiver: tokio::task::JoinHandle<()>,
}

impl Drop for Media {
    fn drop(&mut self) {
        self.receiver.abort();
    }
}

impl Media {
    /// Media on `sock` towards `remote`; `te` is the telephone-event payload type agreed, and
    /// `digits` also receives what SIP INFO carries (the dialog's side).
    pub(crate) fn start(
        sock: Arc<UdpSocket>,
        remote: SocketAddr,
        codec: u8,
        te: Option<u8>,
        digits: (mpsc::UnboundedSender<char>, mpsc::UnboundedReceiver<char>),
        hangup: watch::Receiver<bool>,
    ) -> Media {
        let receiver = tokio::spawn(receive(sock.clone(), te, digits.0));
        Media {
            sock,
            remote,
            codec,
            seq: rand::random(),
            timestamp: rand::random(),
            ssrc: rand::random(),
            digits: digits.1,
            early: None,
            hangup,
            receiver,
        }
    }

    fn hung_up(&self) -> bool {
        *self.hangup.borrow()
    }

    /// Plays `clips` one after the other, 20 ms a packet; a digit keyed meanwhile stops it
    /// (barge-in) when `barge`.
    pub(crate) async fn play(&mut self, clips: &[&[u8]], barge: bool) -> Played {
        let audio: Vec<u8> = clips.iter().flat_map(|c| c.iter().copied()).collect();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut first = true;
        for chunk in audio.chunks(FRAME) {
            if self.hung_up() {
                return Played::HungUp;
            }
            tokio::select! {
                _ = tick.tick() => {}
                d = self.digits.recv(), if barge && self.early.is_none() => {
                    match d {
                        Some(d) => {
                            self.early = Some(d);
                            return Played::Digit;
                        }
                        None => return Played::HungUp,
                    }
                }
                _ = self.hangup.changed() => return Played::HungUp,
            }
            let mut frame = [ULAW_SILENCE; FRAME];
            frame[..chunk.len()].copy_from_slice(chunk);
            if self.codec == PCMA {
                for s in &mut frame {
                    *s = linear_to_alaw(ulaw_to_linear(*s));
                }
            }
            let packet = RtpPacketBuilder::<&[u8], &[u8]>::new()
                .payload_type(self.codec)
                .marker_bit(first)
                .sequence_number(self.seq)
                .timestamp(self.timestamp)
                .ssrc(self.ssrc)
                .payload(&frame[..])
                .write_vec_unchecked();
            first = false;
            self.seq = self.seq.wrapping_add(1);
            self.timestamp = self.timestamp.wrapping_add(FRAME as u32);
            if let Err(e) = self.sock.send_to(&packet, self.remote).await {
                tracing::debug!(%e, "ivr: sending RTP");
            }
        }
        if barge && self.early.is_some() {
            Played::Digit
        } else {
            Played::Done
        }
    }

    /// Collects digits up to `#`: `first` to wait for the first, `between` for each next one,
    /// at most `max` digits.
    pub(crate) async fn collect(
        &mut self,
        first: Duration,
        between: Duration,
        max: usize,
    ) -> Entry {
        let mut got = String::new();
        let mut wait = first;
        if let Some(d) = self.early.take() {
            if d == '#' {
                return Entry::Digits(got);
            }
            got.push(d);
            wait = between;
        }
        loop {
            if got.len() >= max {
                return Entry::Digits(got);
            }
            tokio::select! {
                d = self.digits.recv() => match d {
                    Some('#') => return Entry::Digits(got),
                    Some(d) => {
                        got.push(d);
                        wait = between;
                    }
                    None => return Entry::HungUp,
                },
                _ = tokio::time::sleep(wait) => {
                    return if got.is_empty() { Entry::Timeout } else { Entry::Digits(got) };
                }
                _ = self.hangup.changed() => return Entry::HungUp,
            }
        }
    }
}

/// The digit an RFC 4733 event code stands for.
fn event_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some((b'0' + event) as char),
        10 => Some('*'),
        11 => Some('#'),
        _ => None,
    }
}

/// Telephone-events as keyed digits: one digit per event, reported at its first end packet
/// (the end is sent three times); a packet that is not an end starts the next event.
#[derive(Default)]
pub(crate) struct Events {
    ended: Option<(u32, u8)>,
}

impl Events {
    pub(crate) fn packet(&mut self, timestamp: u32, payload: &[u8]) -> Option<char> {
        if payload.len() < 4 {
            return None;
        }
        let (event, end) = (payload[0], payload[1] & 0x80 != 0);
        if !end {
            self.ended = None;
            return None;
        }
        if self.ended == Some((timestamp, event)) {
            return None;
        }
        self.ended = Some((timestamp, event));
        event_digit(event)
    }
}

async fn receive(sock: Arc<UdpSocket>, te: Option<u8>, digits: mpsc::UnboundedSender<char>) {
    let mut buf = vec![0u8; 2048];
    let mut events = Events::default();
    loop {
        let Ok((n, _)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(p) = RtpPacket::parse(&buf[..n]) else {
            continue;
        };
        if Some(p.payload_type()) != te {
            continue;
        }
        if let Some(d) = events.packet(p.timestamp(), p.payload()) {
            // Which key is never logged: it may be part of a PIN.
            tracing::trace!("ivr: a key (RFC 4733)");
            if digits.send(d).is_err() {
                return;
            }
        }
    }
}

/// The digit a SIP INFO body carries: `application/dtmf-relay` (`Signal=5`) or
/// `application/dtmf` (`5`).
pub(crate) fn info_digit(content_type: Option<&str>, body: &[u8]) -> Option<char> {
    let text = std::str::from_utf8(body).ok()?;
    let ty = content_type.unwrap_or("").to_ascii_lowercase();
    let signal = if ty.starts_with("application/dtmf-relay") {
        text.lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Signal=")
                    .or_else(|| l.trim().strip_prefix("Signal ="))
            })?
            .trim()
    } else if ty.starts_with("application/dtmf") {
        text.trim()
    } else {
        return None;
    };
    match signal {
        "10" => Some('*'),
        "11" => Some('#'),
        s if s.len() == 1 => s
            .chars()
            .next()
            .filter(|c| c.is_ascii_digit() || *c == '*' || *c == '#'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alaw_to_linear(a: u8) -> i16 {
        let a = a ^ 0x55;
        let mut t = i32::from(a & 0x0F) << 4;
        let seg = (a & 0x70) >> 4;
        match seg {
            0 => t += 8,
            1 => t += 0x108,
            _ => {
                t += 0x108;
                t <<= seg - 1;
            }
        }
        (if a & 0x80 != 0 { t } else { -t }) as i16
    }

    #[test]
    fn g711_conversions_keep_the_signal() {
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        for u in 0..=255u8 {
            let lin = i32::from(ulaw_to_linear(u));
            let back = i32::from(alaw_to_linear(linear_to_alaw(lin as i16)));
            // A-law's step at this level, at most.
            let step = (lin.abs() / 16).max(16);
            assert!(
                (lin - back).abs() <= step,
                "µ-law {u:#04x}: {lin} became {back}"
            );
        }
    }

    #[test]
    fn telephone_events_make_one_digit_each() {
        let mut e = Events::default();
        let start = [5, 0x0a, 0, 0];
        let end = [5, 0x8a, 3, 0];
        assert_eq!(e.packet(100, &start), None);
        assert_eq!(e.packet(100, &end), Some('5'));
        assert_eq!(e.packet(100, &end), None, "the end's retransmissions");
        assert_eq!(e.packet(100, &end), None);
        // The same key again (same timestamp, as a replayed capture has): a new event.
        assert_eq!(e.packet(100, &start), None);
        assert_eq!(e.packet(100, &end), Some('5'));
        assert_eq!(e.packet(900, &[11, 0x8a, 3, 0]), Some('#'));
        assert_eq!(e.packet(950, &[10, 0x8a, 3, 0]), Some('*'));
        assert_eq!(e.packet(990, &[16, 0x8a, 3, 0]), None, "not a key");
        assert_eq!(e.packet(990, &[1]), None, "too short");
    }

    #[test]
    fn info_bodies() {
        assert_eq!(
            info_digit(
                Some("application/dtmf-relay"),
                b"Signal=5\r\nDuration=160\r\n"
            ),
            Some('5')
        );
        assert_eq!(
            info_digit(Some("application/dtmf-relay"), b"Signal=#\r\n"),
            Some('#')
        );
        assert_eq!(
            info_digit(Some("application/dtmf-relay"), b"Signal=11\r\n"),
            Some('#')
        );
        assert_eq!(info_digit(Some("application/dtmf"), b"7"), Some('7'));
        assert_eq!(info_digit(Some("text/plain"), b"7"), None);
        assert_eq!(
            info_digit(Some("application/dtmf-relay"), b"Duration=160"),
            None
        );
    }
}

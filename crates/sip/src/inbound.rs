//! Requests that reach the SIP socket (the self-provisioning IVR's INVITE, ACK, BYE, INFO,
//! CANCEL): parsed with `ezk-sip-types`, and answered with the headers RFC 3261 §8.2.6 says a
//! response copies (every Via, From, To with our tag, Call-ID, CSeq).

use crate::{malformed, Error};
use bytes::Bytes;
use ezk_sip_types::header::typed::{CSeq, CallID, Contact, FromTo};
use ezk_sip_types::msg::{Line, PullParser, RequestLine};
use ezk_sip_types::parse::Parse;
use ezk_sip_types::print::AppendCtx;
use ezk_sip_types::uri::SipUriUserPart;
use ezk_sip_types::{Headers, Name};
use std::net::SocketAddr;

/// A request as the IVR needs it.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// `INVITE`, `ACK`, `BYE`, `INFO`, `CANCEL`, …
    pub method: String,
    /// The user part of the Request-URI (the number dialled).
    pub to_user: Option<String>,
    /// The user part of the From URI (the caller's number).
    pub from_user: Option<String>,
    pub from_tag: Option<String>,
    pub to_tag: Option<String>,
    pub call_id: String,
    pub cseq: u32,
    /// The caller's Contact URI (where in-dialog requests go), as written.
    pub contact: Option<String>,
    /// The device the `+sip.instance` Contact parameter names (`<urn:uuid:…-00562b043615>`):
    /// its last twelve hex digits, a Cisco phone's MAC.
    pub instance_mac: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
    /// Where it came from.
    pub source: SocketAddr,
    /// The headers a response copies, as received.
    vias: Vec<String>,
    from: String,
    to: String,
    cseq_raw: String,
}

fn user_of(part: &SipUriUserPart) -> Option<String> {
    match part {
        SipUriUserPart::Empty => None,
        other => {
            let s = match other {
                SipUriUserPart::User(u) => u.to_string(),
                SipUriUserPart::UserPw(u) => u.user.to_string(),
                SipUriUserPart::Empty => unreachable!(),
            };
            Some(s)
        }
    }
}

/// Whether a datagram is a request (not a response).
pub fn is_request(datagram: &[u8]) -> bool {
    !datagram.starts_with(b"SIP/2.0")
}

/// Parses a datagram as a SIP request from `source`.
pub fn parse_request(datagram: &[u8], source: SocketAddr) -> Result<Inbound, Error> {
    let src = Bytes::copy_from_slice(datagram);
    let mut lines = PullParser::new(&src, 0);
    let first = lines
        .next()
        .ok_or_else(|| malformed("empty"))?
        .map_err(|_| malformed("incomplete head"))?;
    let first = std::str::from_utf8(first).map_err(|_| malformed("not UTF-8"))?;
    let (_, rl) = RequestLine::parse(&src)(first).map_err(|_| malformed("no request line"))?;
    let mut headers = Headers::new();
    let mut head_end = 0;
    for l in lines.by_ref() {
        let l = l.map_err(|_| malformed("incomplete head"))?;
        let text = std::str::from_utf8(l).map_err(|_| malformed("not UTF-8"))?;
        let (_, line) = Line::parse(&src, text).map_err(|_| malformed("a header line"))?;
        headers.insert(line.name, line.value);
    }
    // The body follows the blank line.
    if let Some(p) = datagram.windows(4).position(|w| w == b"\r\n\r\n") {
        head_end = p + 4;
    }
    let raw = |n: &Name| -> Vec<String> { headers.get_raw(n).map(|v| v.to_string()).collect() };
    let from_to = |n: Name| -> Result<FromTo, Error> {
        headers
            .get::<FromTo>(n)
            .map_err(|_| malformed("From or To"))
    };
    let from = from_to(Name::FROM)?;
    let to = from_to(Name::TO)?;
    let call_id = headers
        .get_named::<CallID>()
        .map_err(|_| malformed("Call-ID"))?
        .0
        .to_string();
    let cseq = headers.get_named::<CSeq>().map_err(|_| malformed("CSeq"))?;
    let vias = raw(&Name::VIA);
    if vias.is_empty() {
        return Err(malformed("Via"));
    }
    let contact_raw = raw(&Name::CONTACT).into_iter().next();
    let contact = headers
        .get_named::<Contact>()
        .ok()
        .map(|c| c.uri.uri.default_print_ctx().to_string());
    let instance_mac = contact_raw.as_deref().and_then(instance_mac);
    let length: usize = raw(&Name::CONTENT_LENGTH)
        .first()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(datagram.len().saturating_sub(head_end));
    let body_end = (head_end + length).min(datagram.len());
    let body = if head_end > 0 && head_end <= body_end {
        Bytes::copy_from_slice(&datagram[head_end..body_end])
    } else {
        Bytes::new()
    };
    let sip_uri =
        |u: &ezk_sip_types::uri::NameAddr| -> Option<String> { user_of(&u.uri.user_part) };
    Ok(Inbound {
        method: rl.method.to_string(),
        to_user: user_of(&rl.uri.user_part),
        from_user: sip_uri(&from.uri),
        from_tag: from.tag.as_ref().map(|t| t.to_string()),
        to_tag: to.tag.as_ref().map(|t| t.to_string()),
        call_id,
        cseq: cseq.cseq,
        contact,
        instance_mac,
        content_type: raw(&Name::CONTENT_TYPE).into_iter().next(),
        body,
        source,
        vias,
        from: raw(&Name::FROM).into_iter().next().unwrap_or_default(),
        to: raw(&Name::TO).into_iter().next().unwrap_or_default(),
        cseq_raw: raw(&Name::CSEQ).into_iter().next().unwrap_or_default(),
    })
}

/// The MAC a `+sip.instance="<urn:uuid:00000000-0000-0000-0000-00562b043615>"` names.
fn instance_mac(contact: &str) -> Option<String> {
    let i = contact.find("+sip.instance=")?;
    let v = &contact[i + "+sip.instance=".len()..];
    let uuid = v
        .trim_start_matches(['"', '<'])
        .strip_prefix("urn:uuid:")?
        .split(['>', '"'])
        .next()?;
    let hex: String = uuid.chars().filter(|c| *c != '-').collect();
    (hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex[20..].to_ascii_uppercase())
}

impl Inbound {
    /// A response to this request: `to_tag` is added to To when it has none (our side of the
    /// dialog); `extra` headers and a body (with its type) as given.
    pub fn response(
        &self,
        code: u16,
        reason: &str,
        to_tag: Option<&str>,
        extra: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> Vec<u8> {
        let mut s = format!("SIP/2.0 {code} {reason}\r\n");
        for v in &self.vias {
            s.push_str(&format!("Via: {v}\r\n"));
        }
        s.push_str(&format!("From: {}\r\n", self.from));
        match (to_tag, &self.to_tag) {
            (Some(t), None) => s.push_str(&format!("To: {};tag={t}\r\n", self.to)),
            _ => s.push_str(&format!("To: {}\r\n", self.to)),
        }
        s.push_str(&format!("Call-ID: {}\r\n", self.call_id));
        s.push_str(&format!("CSeq: {}\r\n", self.cseq_raw));
        for (k, v) in extra {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str(concat!(
            "Server: Dialtone/",
            env!("CARGO_PKG_VERSION"),
            "\r\n"
        ));
        let (ty, b) = body.unwrap_or(("", b""));
        if !ty.is_empty() {
            s.push_str(&format!("Content-Type: {ty}\r\n"));
        }
        s.push_str(&format!("Content-Length: {}\r\n\r\n", b.len()));
        let mut out = s.into_bytes();
        out.extend_from_slice(b);
        out
    }

    /// The header values as received: From (the remote party of the dialog) and To.
    pub fn from_header(&self) -> &str {
        &self.from
    }
    pub fn to_header(&self) -> &str {
        &self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:5000@127.0.0.1:5070 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK776asdhds\r\n\
        Max-Forwards: 70\r\n\
        To: <sip:5000@127.0.0.1:5070>\r\n\
        From: \"Auto 1000\" <sip:1000@127.0.0.2:5060>;tag=1928301774\r\n\
        Call-ID: a84b4c76e66710@127.0.0.2\r\n\
        CSeq: 314159 INVITE\r\n\
        Contact: <sip:1000@127.0.0.2:5060>;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-00562b043615>\"\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 4\r\n\r\nv=0\n";

    #[test]
    fn an_invite_reads_and_is_answered_with_its_headers() {
        let from: SocketAddr = "127.0.0.2:5060".parse().unwrap();
        let r = parse_request(INVITE.as_bytes(), from).unwrap();
        assert_eq!(r.method, "INVITE");
        assert_eq!(r.to_user.as_deref(), Some("5000"));
        assert_eq!(r.from_user.as_deref(), Some("1000"));
        assert_eq!(r.from_tag.as_deref(), Some("1928301774"));
        assert_eq!(r.cseq, 314159);
        assert_eq!(r.instance_mac.as_deref(), Some("00562B043615"));
        assert_eq!(r.contact.as_deref(), Some("sip:1000@127.0.0.2:5060"));
        assert_eq!(&r.body[..], b"v=0\n");
        let resp = String::from_utf8(r.response(180, "Ringing", Some("abc"), &[], None)).unwrap();
        assert!(resp.starts_with("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK776asdhds\r\n"), "{resp}");
        assert!(
            resp.contains("To: <sip:5000@127.0.0.1:5070>;tag=abc\r\n"),
            "{resp}"
        );
        assert!(resp.contains("CSeq: 314159 INVITE\r\n"), "{resp}");
        // What we send parses back as a response of the same transaction.
        let back = crate::parse_response(resp.as_bytes()).unwrap();
        assert_eq!(
            (back.code, back.branch.as_deref()),
            (180, Some("z9hG4bK776asdhds"))
        );
        assert!(is_request(INVITE.as_bytes()) && !is_request(resp.as_bytes()));
    }

    #[test]
    fn broken_requests_are_errors() {
        let from: SocketAddr = "127.0.0.2:5060".parse().unwrap();
        for bad in [
            "",
            "INVITE\r\n\r\n",
            "INVITE sip:5000@x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n",
        ] {
            assert!(parse_request(bad.as_bytes(), from).is_err(), "{bad:?}");
        }
    }
}

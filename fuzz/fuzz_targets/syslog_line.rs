//! A syslog datagram (RFC 3164 or 5424 framing) against the seed's resync texts and an
//! operator's own, whose macros are in the input too.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first line is an operator's Log Request Msg, the rest the datagram.
    let (text, datagram) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let text = String::from_utf8_lossy(text);
    let templates = syslog::Templates::new([(syslog::Kind::Request, text.as_ref())]);
    let _ = syslog::parse(datagram, &templates);
});

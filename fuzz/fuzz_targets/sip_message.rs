//! A SIP datagram: an answer to a NOTIFY (resync) and a request to the IVR (self-provisioning
//! calls), as a phone or anything on the network may send them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sip::parse_response(data);
    let from: std::net::SocketAddr = "127.0.0.1:5060".parse().unwrap();
    let _ = sip::is_request(data);
    let _ = sip::parse_request(data, from);
});

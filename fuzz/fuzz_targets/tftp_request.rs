//! A TFTP datagram as a client sends it: the request (file name, mode, options), the options
//! negotiated and the OACK made of them, the name cleaned, and a reply (ACK, ERROR).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = tftp::packet::parse_request(data) {
        let cfg = tftp::Config::default();
        let n = tftp::negotiate(&req, data.len() * 1000, &cfg);
        assert!(n.block_size >= 8 && n.block_size <= 65464);
        let oack = tftp::packet::oack(&n.ack);
        assert!(oack.len() >= 2);
        // Each option is answered at most once.
        for (i, (name, _)) in n.ack.iter().enumerate() {
            assert!(!n.ack[..i].iter().any(|(o, _)| o == name), "{name} twice");
        }
        if let Some(clean) = tftp::clean_name(&req.filename) {
            assert!(!clean.split('/').any(|s| s == ".."));
            assert!(!clean.starts_with('/'));
        }
    }
    let _ = tftp::packet::parse_reply(data);
});

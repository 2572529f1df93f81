//! A profile rule as an administrator types it (MPP `[--key …] URL` with macros and
//! conditions), and macro expansion of any text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = model::profile_rule::ProfileRule::parse("rule", &text);
    let expanded = model::macros::expand(&text, |name| match name {
        "MA" => Some("00562b000001".into()),
        "PN" => Some("CP-8861-3PCC".into()),
        "SWVER" => Some("11.3.1".into()),
        _ => None,
    });
    assert!(expanded.len() <= text.len() * 12 + 16);
});

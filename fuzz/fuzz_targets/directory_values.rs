//! The values of the directory an administrator, a CSV file or a phone gives: MACs, device
//! names, directory numbers, partitions, user IDs, names.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(m) = model::Mac::parse(&s) {
        // A MAC parsed is 12 hex digits, and parses again as itself.
        assert_eq!(m.as_str().len(), 12);
        assert_eq!(model::Mac::parse(m.as_str()).unwrap().as_str(), m.as_str());
    }
    let _ = model::DeviceName::parse(&s);
    let _ = model::DeviceName::parse_sep(&s);
    let _ = model::DirectoryNumber::parse(&s);
    let _ = model::Partition::parse(&s);
    let _ = model::UserId::parse(&s);
    let _ = model::Name::parse("name", &s);
});

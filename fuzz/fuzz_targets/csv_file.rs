//! A CSV file uploaded for import: the first byte picks the kind, the rest is the file; its
//! header is checked and every row read as the import reads it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&k, file)) = data.split_first() else {
        return;
    };
    let kind = bulk::Kind::ALL[k as usize % bulk::Kind::ALL.len()];
    if let Ok(rows) = bulk::reader(kind, file) {
        for row in rows.take(10_000) {
            let _ = row;
        }
    }
});

//! Entries a directory answers (any attributes, any values) planned into users through the
//! default attribute map, against users already there.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    // Entries separated by blank lines; `attribute: value` lines; the first line the DN.
    let text = String::from_utf8_lossy(data);
    let entries: Vec<ldap::Entry> = text
        .split("\n\n")
        .take(200)
        .map(|block| {
            let mut lines = block.lines();
            let dn = lines.next().unwrap_or("").to_string();
            let mut attrs: HashMap<String, Vec<String>> = HashMap::new();
            for l in lines {
                let (k, v) = l.split_once(':').unwrap_or((l, ""));
                attrs
                    .entry(k.trim().to_string())
                    .or_default()
                    .push(v.trim().to_string());
            }
            ldap::Entry { dn, attrs }
        })
        .collect();
    let mut map =
        model::directory::AttributeFields::preset(model::directory::DirectoryType::ActiveDirectory);
    map.photo = "http://photos.example.com/%%sAMAccountName%%".into();
    let users = vec![model::directory::KnownUser {
        id: 1,
        version: 1,
        user_id: "jsmith".into(),
        fields: Default::default(),
        ldap_synced: true,
        ldap_profile: Some("corp".into()),
        inactive: false,
    }];
    let _ = ldap::sync::plan(&entries, &map, "corp", &users);
});

//! CSV files into the records the service takes, and back.

use bulk::{reader, write, FileError, Kind, Row, Ty};
use dialtone_bulk as bulk;
use serde_json::{json, Map, Value};

fn rows(kind: Kind, text: &str) -> Vec<Row> {
    reader(kind, text.as_bytes())
        .expect("a good header")
        .collect()
}

fn ok(r: &Row) -> &Map<String, Value> {
    r.record
        .as_ref()
        .unwrap_or_else(|e| panic!("line {}: {e:?}", r.line))
}

/// A value every column of the type takes (and the model accepts).
fn sample(header: &str, ty: Ty, n: usize) -> String {
    match (header, ty) {
        (_, Ty::Int) => "2".into(),
        (_, Ty::Bool) => "t".into(),
        ("DEVICE SECURITY MODE", _) => "encrypted".into(),
        ("DO NOT DISTURB", _) => "ringer_off".into(),
        ("RULE TYPE", _) => "directory_lookup".into(),
        _ => format!("v{n}"),
    }
}

/// Every column of every kind lands on a field of the record the service takes: a row with
/// every column filled deserialises into the model's type, which refuses unknown fields.
#[test]
fn every_column_is_a_field_of_the_record() {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct AppProfileRow {
        user_id: String,
        system: Option<String>,
        app_profiles: model::AppProfiles,
    }
    for kind in Kind::ALL {
        let mut header = Vec::new();
        let mut cells = Vec::new();
        for c in kind.columns() {
            if c.header.ends_with("{n}") {
                for n in [1, 2] {
                    header.push(c.header.replace("{n}", &n.to_string()));
                    cells.push(sample(c.header, c.ty, n));
                }
            } else {
                header.push(c.header.to_string());
                cells.push(sample(c.header, c.ty, 0));
            }
        }
        let text = format!("{}\n{}\n", header.join(","), cells.join(","));
        let r = rows(kind, &text);
        assert_eq!(r.len(), 1, "{kind:?}");
        let v = Value::Object(ok(&r[0]).clone());
        let checked = match kind {
            Kind::Users => serde_json::from_value::<model::NewUser>(v.clone()).map(|_| ()),
            // The user columns (BAT's phones with users) are the phone's user, a new user.
            Kind::Phones => {
                let mut phone = v.clone();
                let user = phone
                    .as_object_mut()
                    .and_then(|p| p.remove("user"))
                    .expect("the user columns fill `user`");
                serde_json::from_value::<model::NewUser>(user)
                    .and_then(|_| serde_json::from_value::<model::NewPhone>(phone))
                    .map(|_| ())
            }
            Kind::DeviceProfiles => {
                serde_json::from_value::<model::NewDeviceProfile>(v.clone()).map(|_| ())
            }
            Kind::Lines => serde_json::from_value::<model::NewLine>(v.clone()).map(|_| ()),
            Kind::VoicemailSubscribers => {
                serde_json::from_value::<model::NewVoicemailSubscriber>(v.clone()).map(|_| ())
            }
            Kind::AppProfiles => serde_json::from_value::<AppProfileRow>(v.clone()).map(|_| ()),
            Kind::UserProfiles => {
                serde_json::from_value::<model::NewUserProfile>(v.clone()).map(|_| ())
            }
            Kind::UniversalDeviceTemplates => {
                serde_json::from_value::<model::NewUniversalDeviceTemplate>(v.clone()).map(|_| ())
            }
            Kind::UniversalLineTemplates => {
                serde_json::from_value::<model::NewUniversalLineTemplate>(v.clone()).map(|_| ())
            }
            Kind::DialRules => {
                serde_json::from_value::<model::dial_rules::DialRuleSpec>(v.clone()).map(|_| ())
            }
        };
        checked.unwrap_or_else(|e| panic!("{kind:?}: {e}\n{v:#}"));
    }
}

#[test]
fn headers_tolerate_case_spacing_underscores_and_a_bom() {
    let text = "\u{feff}user_id , First  Name,last name,PASSWORD,Enable CUP,User Group 2\r\n\
                jsmith,John,Smith,s3cret-pw,y,Managers\r\n";
    let r = rows(Kind::Users, text);
    assert_eq!(r[0].key, "jsmith");
    assert_eq!(
        Value::Object(ok(&r[0]).clone()),
        json!({"user_id": "jsmith", "first_name": "John", "last_name": "Smith", "password": "s3cret-pw",
               "capabilities": {"presence": true}, "groups": ["Managers"]})
    );
    assert_eq!(r[0].line, 2);
}

#[test]
fn phone_lines_go_on_the_buttons_their_columns_name() {
    let text = "MAC ADDRESS,DEVICE TYPE,DIRECTORY NUMBER 1,LINE TEXT LABEL 1,DIRECTORY NUMBER 3,DISPLAY 3,SPEED DIAL NUMBER 2,EXPANSION MODULE 1\n\
                00562B000001,7960,2000,Reception,2001,Front,9001,7914\n";
    let r = rows(Kind::Phones, text);
    let rec = Value::Object(ok(&r[0]).clone());
    assert_eq!(
        rec["lines"],
        json!([{"button": 1, "pattern": "2000", "label": "Reception"}, {"button": 3, "pattern": "2001", "display": "Front"}])
    );
    assert_eq!(
        rec["speed_dials"],
        json!([{"position": 2, "number": "9001"}])
    );
    assert_eq!(rec["expansion_modules"], json!(["7914"]));
    let phone: model::NewPhone = serde_json::from_value(rec).unwrap();
    assert_eq!(phone.lines[1].button, Some(3));
}

#[test]
fn a_soft_phone_is_named_by_its_device_name() {
    let text = "MAC ADDRESS,DEVICE NAME,DEVICE TYPE\n,UPCJSMITH,CUPC\n00562B000002,,7960\n,,7960\n";
    let r = rows(Kind::Phones, text);
    assert_eq!(r[0].key, "UPCJSMITH");
    assert_eq!(r[1].key, "00562B000002");
    let e = r[2].record.as_ref().unwrap_err();
    assert_eq!(e[0].column.as_deref(), Some("MAC ADDRESS or DEVICE NAME"));
    assert_eq!(e[0].line, 4);
}

#[test]
fn each_bad_row_says_its_line_column_and_reason_and_reading_goes_on() {
    let text = "DIRECTORY NUMBER,MAXIMUM NUMBER OF CALLS,BUSY TRIGGER\n\
                2000,4,2\n\
                2001,four,2\n\
                \n\
                ,4,2\n\
                2003,4,2,extra\n\
                2004,\"4\n";
    let r = rows(Kind::Lines, text);
    assert!(r[0].record.is_ok());
    let e = |i: usize| r[i].record.as_ref().unwrap_err().clone();
    assert_eq!(
        e(1),
        vec![bulk::RowError {
            line: 3,
            column: Some("MAXIMUM NUMBER OF CALLS".into()),
            reason: "`four` is not a whole number".into()
        }]
    );
    // The blank line 4 is no row; line 5 has no key.
    assert_eq!(e(2)[0].line, 5);
    assert_eq!(e(2)[0].reason, "is empty: every row needs it");
    assert_eq!(e(3)[0].line, 6);
    assert!(
        e(3)[0]
            .reason
            .contains("4 fields, but the header names 3 columns"),
        "{:?}",
        e(3)
    );
    // An unclosed quote runs to the end of the file: that row, at its line, is the error.
    assert_eq!(r.len(), 5);
    assert_eq!(r[4].key, "2004");
}

#[test]
fn a_row_that_is_not_utf8_is_an_error_of_its_own() {
    let mut bytes = b"DIRECTORY NUMBER,DESCRIPTION\n2000,ok\n2001,caf".to_vec();
    bytes.push(0xE9); // Latin-1 é
    bytes.extend_from_slice(b"\n2002,fine\n");
    let r: Vec<Row> = reader(Kind::Lines, &bytes[..]).unwrap().collect();
    assert_eq!(r.len(), 3);
    assert!(r[0].record.is_ok() && r[2].record.is_ok());
    let e = r[1].record.as_ref().unwrap_err();
    assert_eq!(e[0].line, 3);
    assert!(e[0].reason.contains("not UTF-8"), "{e:?}");
}

#[test]
fn header_problems_are_said_before_any_row() {
    let err = |kind, text: &str| reader(kind, text.as_bytes()).unwrap_err();
    match err(Kind::Users, "USER ID,SHOE SIZE\n") {
        FileError::UnknownColumn {
            column,
            header,
            known,
            ..
        } => {
            assert_eq!((column, header.as_str()), (2, "SHOE SIZE"));
            assert!(known.contains("PRIMARY EXTENSION") && known.contains("USER GROUP N"));
        }
        e => panic!("{e}"),
    }
    assert!(
        matches!(err(Kind::Users, "USER ID,user_id\n"), FileError::Duplicate(h) if h == "USER ID")
    );
    let e = err(Kind::Phones, "DESCRIPTION\nx\n");
    assert_eq!(
        e.to_string(),
        "the header has no MAC ADDRESS or DEVICE NAME column: every row needs one"
    );
    assert!(matches!(err(Kind::Lines, ""), FileError::Empty(_)));
    assert!(matches!(
        err(Kind::Lines, "\u{feff}\n"),
        FileError::Empty(_)
    ));
    // An index past the model's reach is no column.
    assert!(matches!(
        err(Kind::Phones, "MAC ADDRESS,EXPANSION MODULE 3\n"),
        FileError::UnknownColumn { .. }
    ));
}

#[test]
fn what_is_written_reads_back_the_same_and_secrets_are_never_written() {
    // As the API answers: with ids, versions and flags the file leaves out.
    let phones = vec![
        json!({"id": 7, "version": 3, "name": "SEP00562B000001", "mac": "00562B000001", "model": "7960",
               "description": "Lobby, east \"door\"", "allow_cti_control": true,
               "lines": [{"button": 1, "pattern": "2000", "partition": "", "label": "Lobby", "display": "", "external_mask": "", "shared_with": []},
                         {"button": 4, "pattern": "2001", "partition": "PT", "label": "", "display": "Desk", "external_mask": "", "shared_with": ["SEPX"]}],
               "expansion_modules": ["7914"]}),
        json!({"id": 8, "version": 1, "name": "UPCJSMITH", "mac": null, "model": "CUPC", "description": "", "allow_cti_control": false, "lines": [], "expansion_modules": []}),
    ];
    let mut out = Vec::new();
    write(Kind::Phones, &phones, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.contains("DIRECTORY NUMBER 4") && !header.contains("DIRECTORY NUMBER 5"),
        "{header}"
    );
    let r = rows(Kind::Phones, &text);
    let a = ok(&r[0]);
    assert_eq!(a["description"], "Lobby, east \"door\"");
    assert_eq!(a["allow_cti_control"], true);
    assert_eq!(
        a["lines"],
        json!([{"button": 1, "pattern": "2000", "label": "Lobby"}, {"button": 4, "pattern": "2001", "partition": "PT", "display": "Desk"}])
    );
    assert_eq!(r[1].key, "UPCJSMITH");
    assert_eq!(ok(&r[1])["allow_cti_control"], false);

    let users = vec![
        json!({"user_id": "jsmith", "first_name": "José", "password": "never", "pin": "1234", "has_password": true, "groups": ["A", "B"]}),
    ];
    let mut out = Vec::new();
    write(Kind::Users, &users, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        !text.contains("never") && !text.contains("1234") && !text.contains("PASSWORD"),
        "{text}"
    );
    let r = rows(Kind::Users, &text);
    assert_eq!(
        Value::Object(ok(&r[0]).clone()),
        json!({"user_id": "jsmith", "first_name": "José", "groups": ["A", "B"]})
    );
}

#[test]
fn a_field_named_by_the_service_is_found_as_its_column() {
    let r = rows(
        Kind::Phones,
        "MAC ADDRESS,DIRECTORY NUMBER 1,DIRECTORY NUMBER 3,LINE TEXT LABEL 3\n00562B000001,2000,2001,x\n",
    );
    let rec = ok(&r[0]);
    let col = |f: &str| bulk::column_for(Kind::Phones, f, rec);
    assert_eq!(col("mac").as_deref(), Some("MAC ADDRESS"));
    assert_eq!(col("lines[1].label").as_deref(), Some("LINE TEXT LABEL 3"));
    assert_eq!(
        col("lines[1].button").as_deref(),
        Some("DIRECTORY NUMBER 3")
    );
    assert_eq!(
        col("lines[0].pattern").as_deref(),
        Some("DIRECTORY NUMBER 1")
    );
    assert_eq!(col("lines[7].pattern"), None);
    assert_eq!(col("parameters"), None);
    assert_eq!(
        bulk::column_for(Kind::Users, "capabilities", &Map::new()).as_deref(),
        Some("ENABLE CUP")
    );
}

/// docs/csv.md documents every column of every kind.
#[test]
fn the_csv_guide_names_every_column() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/csv.md"))
        .expect("docs/csv.md");
    for kind in Kind::ALL {
        let section = doc
            .split(&format!("\n## {}\n", kind.name()))
            .nth(1)
            .unwrap_or_else(|| panic!("docs/csv.md has no section `## {}`", kind.name()));
        let section = section.split("\n## ").next().unwrap();
        for c in kind.columns() {
            let h = format!("`{}`", c.header.replace("{n}", "N"));
            assert!(section.contains(&h), "docs/csv.md, {}: no {h}", kind.name());
        }
    }
}

/// No input panics: generated files of header names, cells, quotes, separators, blank lines,
/// BOMs and stray bytes either fail at the header or give rows whose lines only go forward.
#[test]
fn generated_files_never_panic() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pieces: &[&[u8]] = &[
        b"USER ID",
        b"MAC ADDRESS",
        b"DIRECTORY NUMBER",
        b"DIRECTORY NUMBER 1",
        b"LINE TEXT LABEL 200",
        b"DIRECTORY NUMBER 0",
        b"DIRECTORY NUMBER 99999999999999999999",
        b"ENABLE CUP",
        b"BUSY TRIGGER",
        b",",
        b",",
        b"\"",
        b"\"\"",
        b"\n",
        b"\r\n",
        b"\r",
        b"\xEF\xBB\xBF",
        b"\xFF",
        b"\xC3",
        b"t",
        b"x",
        b"12",
        b"-1",
        b" ",
        b"jsmith",
        b"00562B000001",
        b"\0",
    ];
    for _ in 0..5_000 {
        let mut text = Vec::new();
        for _ in 0..(next() % 40) {
            text.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
        }
        let kind = Kind::ALL[(next() % Kind::ALL.len() as u64) as usize];
        if let Ok(r) = reader(kind, &text[..]) {
            let mut last = 1;
            for row in r {
                assert!(
                    row.line >= last,
                    "{kind:?} {:?}: line {} after {last}",
                    String::from_utf8_lossy(&text),
                    row.line
                );
                last = row.line;
                if let Err(e) = &row.record {
                    assert!(!e.is_empty());
                }
            }
        }
    }
}

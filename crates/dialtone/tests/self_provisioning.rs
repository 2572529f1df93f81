//! Self-provisioning over the REST API, on SQLite and on PostgreSQL: universal device and line
//! templates, user profiles, the system's auto-registration and self-provisioning settings,
//! and the users that name them.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::testing::TestDb;

const UDT: &str = "/api/v1/universal-device-templates";
const ULT: &str = "/api/v1/universal-line-templates";
const PROFILES: &str = "/api/v1/user-profiles";

async fn system(t: &TestApp) -> Value {
    let (s, v) = t.get("/api/v1/systems/default").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn set_settings(t: &TestApp, settings: Value) -> (StatusCode, Value) {
    let v = system(t).await;
    t.patch(
        "/api/v1/systems/default",
        json!({"version": v["version"], "settings": settings}),
    )
    .await
}

#[tokio::test]
async fn templates_and_profiles_are_checked_and_kept_consistent() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;

        // Universal line templates: patterns are checked, token by token.
        let m = t.refused(
            t.post(
                ULT,
                json!({"name": "Sales lines", "line": {"label": "#First# #LastName#"}}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "line.label",
        );
        assert!(m.contains("`#First#` is not a token"), "{m}");
        let m = t.refused(
            t.post(
                ULT,
                json!({"name": "Sales lines", "line": {"max_calls": 2, "busy_trigger": 3}}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "line.busy_trigger",
        );
        assert!(m.contains("more than max calls"), "{m}");
        let ult = t
            .create(
                ULT,
                json!({"name": "Sales lines", "line": {"partition": "Internal", "external_mask": "972813XXXX", "voicemail_profile": "Default"}}),
            )
            .await;
        assert_eq!(ult["system"], "default");
        assert_eq!(ult["line"]["label"], "#FirstName# #LastName#", "{ult}");
        assert_eq!(ult["line"]["max_calls"], 4);
        assert_eq!(ult["used_by"], json!([]));
        let (s, v) = t.post(ULT, json!({"name": "Sales lines"})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");

        // Universal device templates: the seed's tip, a speed dial to the IVR.
        let m = t.refused(
            t.post(UDT, json!({"name": "Sales phones", "device": {"speed_dials": [{"position": 0, "number": "5000"}]}}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "device.speed_dials[0].position",
        );
        assert!(m.contains("position 0"), "{m}");
        let udt = t
            .create(
                UDT,
                json!({"name": "Sales phones", "device": {"device_pool": "Sales", "dnd": "ringer_off",
                    "speed_dials": [{"position": 1, "number": "5000", "label": "Self-provisioning"}]}}),
            )
            .await;
        assert_eq!(
            udt["device"]["device_description"],
            "#FirstName# #LastName# (#Product#)"
        );
        assert_eq!(udt["device"]["dnd"], "ringer_off");

        // User profiles name templates of their system; the phone limit defaults to 10.
        let m = t.refused(
            t.post(
                PROFILES,
                json!({"name": "Sales", "device_template": "Nope"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "device_template",
        );
        assert!(m.contains("no universal device template Nope"), "{m}");
        t.refused(
            t.post(PROFILES, json!({"name": "Sales", "phone_limit": 0}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "phone_limit",
        );
        let p = t
            .create(
                PROFILES,
                json!({"name": "Sales", "device_template": "Sales phones", "line_template": "Sales lines",
                    "allow_self_provisioning": true}),
            )
            .await;
        assert_eq!(p["phone_limit"], 10, "{p}");
        assert_eq!(p["users"], 0);
        let (_, v) = t.get(&format!("{UDT}/Sales%20phones")).await;
        assert_eq!(v["used_by"], json!(["user profile Sales"]), "{v}");

        // A user's profile must be one of their system's.
        t.create(
            "/api/v1/lines",
            json!({"pattern": "2001", "partition": "Internal"}),
        )
        .await;
        let m = t.refused(
            t.post(
                "/api/v1/users",
                json!({"user_id": "ada", "last_name": "Lovelace", "user_profile": "Nope"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "user_profile",
        );
        assert!(m.contains("no user profile Nope"), "{m}");
        let ada = t
            .create(
                "/api/v1/users",
                json!({"user_id": "ada", "last_name": "Lovelace", "user_profile": "Sales",
                    "primary_extension": "2001", "primary_extension_partition": "Internal", "self_service_id": "42"}),
            )
            .await;
        assert_eq!(ada["user_profile"], "Sales");
        assert_eq!(ada["self_service_id"], "42");
        // Self-provisioning IDs are digits, one user's each.
        t.refused(
            t.post(
                "/api/v1/users",
                json!({"user_id": "bob", "last_name": "B", "self_service_id": "4x"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "self_service_id",
        );
        let m = t.refused(
            t.post(
                "/api/v1/users",
                json!({"user_id": "bob", "last_name": "B", "self_service_id": "42"}),
            )
            .await,
            StatusCode::CONFLICT,
            "self_service_id",
        );
        assert!(m.contains("ada already has"), "{m}");

        // What is in use cannot go; a rename carries its users along.
        let m = t.refused(
            t.delete(&format!("{UDT}/Sales%20phones")).await,
            StatusCode::CONFLICT,
            "name",
        );
        assert!(m.contains("user profile Sales"), "{m}");
        let m = t.refused(
            t.delete(&format!("{PROFILES}/Sales")).await,
            StatusCode::CONFLICT,
            "name",
        );
        assert!(m.contains("ada"), "{m}");
        let (s, p) = t
            .patch(
                &format!("{PROFILES}/Sales"),
                json!({"version": p["version"], "name": "Sales floor", "phone_limit": 3}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(
            (p["users"].as_i64(), p["phone_limit"].as_i64()),
            (Some(1), Some(3))
        );
        let (_, ada) = t.get("/api/v1/users/ada").await;
        assert_eq!(ada["user_profile"], "Sales floor", "{ada}");
        // A stale version is refused with what is stored now.
        let (s, v) = t
            .patch(
                &format!("{PROFILES}/Sales%20floor"),
                json!({"version": 1, "phone_limit": 4}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");

        // Auto-registration names templates of its system, and follows their renames.
        let m = t.refused(
            set_settings(
                &t,
                json!({"auto_registration": true, "auto_registration_device_template": "Nope"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "settings.auto_registration_device_template",
        );
        assert!(m.contains("Nope"), "{m}");
        let m = t.refused(
            set_settings(
                &t,
                json!({"auto_registration_start_dn": "1099", "auto_registration_end_dn": "1000"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "settings.auto_registration_end_dn",
        );
        assert!(m.contains("before it starts"), "{m}");
        let (s, v) = set_settings(
            &t,
            json!({"auto_registration": true, "auto_registration_start_dn": "1000", "auto_registration_end_dn": "1099",
                "auto_registration_device_template": "Sales phones", "auto_registration_line_template": "Sales lines"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (_, udt) = t.get(&format!("{UDT}/Sales%20phones")).await;
        assert_eq!(
            udt["used_by"],
            json!(["user profile Sales floor", "auto-registration on default"]),
            "{udt}"
        );
        let (s, v) = t
            .patch(
                &format!("{UDT}/Sales%20phones"),
                json!({"version": udt["version"], "name": "Desk phones"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let sys = system(&t).await;
        assert_eq!(
            sys["settings"]["auto_registration_device_template"],
            "Desk phones"
        );
        let (_, p) = t.get(&format!("{PROFILES}/Sales%20floor")).await;
        assert_eq!(p["device_template"], "Desk phones", "{p}");

        // The authentication code is write-only, hashed, kept when left out, removed by "".
        let mut settings = sys["settings"].clone();
        settings["self_provisioning"] = json!({"authentication": "end_user_or_admin_code",
            "authentication_code": "12345", "ivr_extension": "5000", "languages": ["en_US", "fr_FR"]});
        let (s, v) = set_settings(&t, settings.clone()).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(!v.to_string().contains("12345"), "{v}");
        assert_eq!(
            v["settings"]["self_provisioning"]["has_authentication_code"],
            true
        );
        let stored = store_text(
            &db,
            "SELECT settings_json FROM systems WHERE name = 'default'",
        )
        .await;
        assert!(!stored.contains("12345"), "{stored}");
        settings["self_provisioning"]
            .as_object_mut()
            .unwrap()
            .remove("authentication_code");
        settings["transport"] = json!("tcp");
        let (_, v) = set_settings(&t, settings.clone()).await;
        assert_eq!(
            v["settings"]["self_provisioning"]["has_authentication_code"], true,
            "{v}"
        );
        settings["self_provisioning"]["authentication_code"] = json!("12ab");
        t.refused(
            set_settings(&t, settings.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "settings.self_provisioning.authentication_code",
        );
        settings["self_provisioning"]["languages"] = json!(["xx_XX"]);
        settings["self_provisioning"]["authentication_code"] = json!("");
        t.refused(
            set_settings(&t, settings.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "settings.self_provisioning.languages[0]",
        );
        settings["self_provisioning"]["languages"] = json!(["en_US"]);
        let (_, v) = set_settings(&t, settings).await;
        assert_eq!(
            v["settings"]["self_provisioning"]["has_authentication_code"], false,
            "{v}"
        );

        // Every change above is audited under its resource.
        let (_, audit) = t.get("/api/v1/audit?limit=200").await;
        let resources: Vec<&str> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["resource"].as_str())
            .collect();
        for r in [
            "universal_device_template",
            "universal_line_template",
            "user_profile",
        ] {
            assert!(resources.contains(&r), "{r} in {resources:?}");
        }
        t.stop().await;
    }
}

async fn store_text(db: &TestDb, sql: &str) -> String {
    let s = store::Store::connect(&db.url).await.unwrap();
    let mut c = s.read().await.unwrap();
    store::query_text(&mut c, sql).await.unwrap()
}

/// A phone's GET on the phone listener, with a User-Agent: the status and the body.
async fn phone_get(t: &TestApp, file: &str, ua: &str) -> (StatusCode, String) {
    let url = format!(
        "http://{}/{file}",
        t.app.http_addr.expect("the phone listener")
    );
    let r = t
        .client
        .get(url)
        .header("User-Agent", ua)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn claim(t: &TestApp, phone: &str, user: &str, secret: &str) -> (StatusCode, Value) {
    t.post(
        "/api/v1/self-provisioning/claims",
        json!({"phone": phone, "user": user, "secret": secret}),
    )
    .await
}

#[tokio::test]
async fn unknown_phones_auto_register_and_users_claim_them() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        t.create(
            ULT,
            json!({"name": "Auto lines", "line": {"partition": "Auto", "label": "#Extension#"}}),
        )
        .await;
        t.create(
            UDT,
            json!({"name": "Lobby", "device": {"device_pool": "Lobby"}}),
        )
        .await;
        t.create(ULT, json!({"name": "Sales lines", "line": {"partition": "Internal", "external_mask": "972813XXXX"}}))
            .await;
        t.create(
            UDT,
            json!({"name": "Sales phones", "device": {"device_pool": "Sales",
            "speed_dials": [{"position": 1, "number": "5000", "label": "Self-provisioning"}]}}),
        )
        .await;
        t.create(PROFILES, json!({"name": "Sales", "device_template": "Sales phones", "line_template": "Sales lines",
            "allow_self_provisioning": true, "phone_limit": 2}))
            .await;
        t.create(
            PROFILES,
            json!({"name": "Visitors", "allow_self_provisioning": false}),
        )
        .await;
        for (ext, user, first, profile) in [
            ("2001", "ada", "Ada", "Sales"),
            ("2002", "bob", "Bob", "Sales"),
            ("2003", "eve", "Eve", "Visitors"),
        ] {
            t.create(
                "/api/v1/lines",
                json!({"pattern": ext, "partition": "Internal"}),
            )
            .await;
            t.create("/api/v1/users", json!({"user_id": user, "first_name": first, "last_name": "Tester",
                "primary_extension": ext, "primary_extension_partition": "Internal", "user_profile": profile,
                "pin": "13579", "password": "correct horse battery"}))
                .await;
        }
        // Unknown phones are refused while auto-registration is off.
        let ua = "Cisco-CP7960G/8.0";
        let (s, _) = phone_get(&t, "SEP00AA00000001.cnf.xml", ua).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, v) = set_settings(
            &t,
            json!({"auto_registration": true, "auto_registration_start_dn": "1000", "auto_registration_end_dn": "1002",
                "auto_registration_device_template": "Lobby", "auto_registration_line_template": "Auto lines"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");

        // Two phones booting at once get two numbers.
        let (a, b) = tokio::join!(
            phone_get(&t, "SEP00AA00000001.cnf.xml", ua),
            phone_get(&t, "SEP00AA00000002.cnf.xml", ua)
        );
        assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK), "{a:?} {b:?}");
        let (_, p1) = t.get("/api/v1/phones/SEP00AA00000001").await;
        let (_, p2) = t.get("/api/v1/phones/SEP00AA00000002").await;
        assert_eq!(p1["auto_registered"], true, "{p1}");
        assert_eq!(
            (p1["model"].as_str(), p1["device_pool"].as_str()),
            (Some("7960"), Some("Lobby"))
        );
        let mut numbers = vec![
            p1["lines"][0]["pattern"].as_str().unwrap().to_string(),
            p2["lines"][0]["pattern"].as_str().unwrap().to_string(),
        ];
        numbers.sort();
        assert_eq!(numbers, ["1000", "1001"], "{p1} {p2}");
        assert_eq!(p1["lines"][0]["partition"], "Auto");
        let n1 = p1["lines"][0]["pattern"].as_str().unwrap().to_string();
        assert_eq!(p1["description"], format!("Auto {n1}"));
        assert_eq!(
            p1["lines"][0]["label"],
            n1.as_str(),
            "the line template's label pattern"
        );
        assert!(p1["owner_user_id"].is_null());
        assert!(
            a.1.contains(&n1) || b.1.contains(&n1),
            "the file carries the number: {}",
            a.1
        );

        // An MPP phone says who it is in its User-Agent and its model in the first-contact file.
        let mpp_ua = "Cisco-CP-8861-3PCC/11.3.1 (00aa00000003)";
        let (s, _) = phone_get(&t, "8861-3PCC.xml", mpp_ua).await;
        assert_eq!(s, StatusCode::OK);
        let (_, p3) = t.get("/api/v1/phones/SEP00AA00000003").await;
        assert_eq!(
            (p3["model"].as_str(), p3["lines"][0]["pattern"].as_str()),
            (Some("8861"), Some("1002")),
            "{p3}"
        );
        let (s, body) = phone_get(&t, "00aa00000003.xml", mpp_ua).await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains("1002"), "{body}");

        // The range is exhausted: refused, counted, said.
        let (s, _) = phone_get(&t, "SEP00AA00000004.cnf.xml", ua).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (_, st) = t.get("/api/v1/self-provisioning/status").await;
        assert_eq!(st["numbers_free"], 0, "{st}");
        assert_eq!(
            (
                st["phones"].as_i64(),
                st["registered_here"].as_u64(),
                st["refused_here"].as_u64()
            ),
            (Some(3), Some(3), Some(1)),
            "{st}"
        );
        // TFTP says no model: refused unless the system names one.
        let tftp_phone = model::Mac::parse("00AA00000009").unwrap();
        let r = t
            .app
            .service
            .auto_register(&tftp_phone, None)
            .await
            .unwrap();
        assert!(
            matches!(
                r,
                service::AutoRegistration::Refused {
                    reason: service::AutoRefusal::ModelUnknown,
                    ..
                }
            ),
            "{r:?}"
        );

        // Claims: each check with its reason.
        let (s, v) = claim(&t, "SEP00AA00000099", "ada", "13579").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("no_phone")),
            "{v}"
        );
        let (s, v) = claim(&t, &n1, "nobody", "13579").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("no_user")),
            "{v}"
        );
        let (s, v) = claim(&t, &n1, "eve", "13579").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("not_allowed")),
            "{v}"
        );
        let (s, v) = claim(&t, &n1, "ada", "00000").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("wrong_secret")),
            "{v}"
        );
        assert!(!v.to_string().contains("00000"), "{v}");
        // By the auto-registered number the phone shows and the self-provisioning ID (the
        // digits of the primary extension), with the PIN.
        let (s, c) = claim(&t, &n1, "2001", "13579").await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        assert_eq!(
            (
                c["user_id"].as_str(),
                c["extension"].as_str(),
                c["freed_number"].as_str()
            ),
            (Some("ada"), Some("2001"), Some(n1.as_str())),
            "{c}"
        );
        let (_, p1) = t.get("/api/v1/phones/SEP00AA00000001").await;
        assert_eq!(p1["auto_registered"], false, "{p1}");
        assert_eq!(p1["owner_user_id"], "ada");
        assert_eq!(p1["users"], json!(["ada"]));
        assert_eq!(p1["description"], "Ada Tester (7960)");
        assert_eq!(p1["device_pool"], "Sales");
        assert_eq!(p1["speed_dials"][0]["number"], "5000");
        assert_eq!(p1["lines"].as_array().unwrap().len(), 1, "{p1}");
        assert_eq!(
            (
                p1["lines"][0]["pattern"].as_str(),
                p1["lines"][0]["label"].as_str()
            ),
            (Some("2001"), Some("Ada Tester"))
        );
        assert_eq!(p1["lines"][0]["external_mask"], "972813XXXX");
        let (_, line) = t.get("/api/v1/lines/2001?partition=Internal").await;
        assert_eq!(line["alerting_name"], "Ada Tester", "{line}");
        // A claimed phone cannot be claimed again.
        let (s, v) = claim(&t, "SEP00AA00000001", "bob", "13579").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("not_claimable")),
            "{v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("ada's phone"),
            "{v}"
        );
        // The freed number goes to the next unknown phone.
        let (s, _) = phone_get(&t, "SEP00AA00000004.cnf.xml", ua).await;
        assert_eq!(s, StatusCode::OK);
        let (_, p4) = t.get("/api/v1/phones/SEP00AA00000004").await;
        assert_eq!(p4["lines"][0]["pattern"], n1.as_str(), "{p4}");

        // On the phone's screen: its file leads to the self-provisioning XML service, which
        // asks for the ID and the masked PIN, and claims.
        let (_, file) = phone_get(&t, "SEP00AA00000004.cnf.xml", ua).await;
        let doc = roxmltree::Document::parse(&file).unwrap();
        let services = doc
            .descendants()
            .find(|n| n.has_tag_name("servicesURL"))
            .and_then(|n| n.text())
            .unwrap_or_default()
            .to_string();
        assert!(
            services.ends_with("/services/self-provisioning?device=SEP00AA00000004"),
            "{file}"
        );
        let form = t
            .client
            .get(&services)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let doc = roxmltree::Document::parse(&form).unwrap();
        let items: Vec<(String, String)> = doc
            .descendants()
            .filter(|n| n.has_tag_name("InputItem"))
            .map(|n| {
                let f = |t: &str| {
                    n.children()
                        .find(|c| c.has_tag_name(t))
                        .and_then(|c| c.text())
                        .unwrap_or_default()
                        .to_string()
                };
                (f("QueryStringParam"), f("InputFlags"))
            })
            .collect();
        assert_eq!(
            items,
            [("user".into(), "A".into()), ("pin".into(), "NP".into())],
            "{form}"
        );
        let action = doc
            .descendants()
            .find(|n| n.has_tag_name("URL"))
            .and_then(|n| n.text())
            .unwrap()
            .to_string();
        // The phone appends what was keyed to the URL.
        let answer = t
            .client
            .get(format!("{action}&user=bob&pin=2468"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            answer.contains("<CiscoIPPhoneText>")
                && answer.contains("wrong PIN or password for bob"),
            "{answer}"
        );
        let answer = t
            .client
            .get(format!("{action}&user=bob&pin=13579"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            answer.contains("This phone is now bob&apos;s, extension 2002"),
            "{answer}"
        );
        let (_, p4) = t.get("/api/v1/phones/SEP00AA00000004").await;
        assert_eq!(
            (
                p4["owner_user_id"].as_str(),
                p4["lines"][0]["pattern"].as_str()
            ),
            (Some("bob"), Some("2002")),
            "{p4}"
        );
        // A claimed phone's file no longer leads there.
        let (_, file) = phone_get(&t, "SEP00AA00000004.cnf.xml", ua).await;
        assert!(!file.contains("self-provisioning"), "{file}");

        // The phone limit (2 for Sales): ada's second phone by password, then a third refused.
        let (s, c) = claim(&t, "SEP00AA00000003", "ada", "correct horse battery").await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        assert_eq!(
            (c["phones"].as_i64(), c["phone_limit"].as_i64()),
            (Some(2), Some(2))
        );
        let (s, v) = claim(&t, "SEP00AA00000002", "ada", "13579").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("phone_limit")),
            "{v}"
        );
        // Wrong secrets lock the user out, even from the right one (bob keyed one wrong PIN on
        // the phone above, forgotten once he keyed the right one).
        for _ in 0..2 {
            let (s, _) = claim(&t, "SEP00AA00000002", "bob", "1").await;
            assert_eq!(s, StatusCode::FORBIDDEN);
        }
        let (s, v) = claim(&t, "SEP00AA00000002", "bob", "1").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("locked_out")),
            "{v}"
        );
        let (s, v) = claim(&t, "SEP00AA00000002", "bob", "13579").await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("locked for 5 minutes"),
            "{v}"
        );
        // ... and from that phone.
        let (s, v) = claim(&t, "SEP00AA00000002", "2003", "13579").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("locked_out")),
            "{v}"
        );

        // Deleting an auto-registered phone frees its number too (the lowest free number goes
        // first: phone 4's, freed when bob claimed it, and now phone 2's).
        let (_, p2) = t.get("/api/v1/phones/SEP00AA00000002").await;
        let n2 = p2["lines"][0]["pattern"].as_str().unwrap().to_string();
        let (s, _) = t.delete("/api/v1/phones/SEP00AA00000002").await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = phone_get(&t, "SEP00AA00000005.cnf.xml", ua).await;
        assert_eq!(s, StatusCode::OK);
        let (_, p5) = t.get("/api/v1/phones/SEP00AA00000005").await;
        assert_eq!(
            p5["lines"][0]["pattern"],
            n1.as_str().min(n2.as_str()),
            "{p5}"
        );
        let (s, _) = phone_get(&t, "SEP00AA00000007.cnf.xml", ua).await;
        assert_eq!(s, StatusCode::OK);
        let (_, p7) = t.get("/api/v1/phones/SEP00AA00000007").await;
        assert_eq!(
            p7["lines"][0]["pattern"],
            n1.as_str().max(n2.as_str()),
            "{p7}"
        );

        // Equal ends turn auto-registration off, XMLDefault included.
        let sys = system(&t).await;
        let mut settings = sys["settings"].clone();
        settings["auto_registration_end_dn"] = json!("1000");
        let (s, v) = set_settings(&t, settings).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, _) = phone_get(&t, "XMLDefault.cnf.xml", ua).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = phone_get(&t, "SEP00AA00000006.cnf.xml", ua).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // Claims and auto-registrations are audited.
        let (_, audit) = t.get("/api/v1/audit?limit=500").await;
        let items = audit["items"].as_array().unwrap();
        assert!(
            items.iter().any(|e| e["action"] == "claim"
                && e["result"] == "ok"
                && e["target"] == "SEP00AA00000001"),
            "{audit}"
        );
        assert!(
            items
                .iter()
                .any(|e| e["action"] == "claim" && e["result"] == "failed"),
            "{audit}"
        );
        assert!(
            items
                .iter()
                .any(|e| e["actor"] == "auto-registration" && e["action"] == "create"),
            "{audit}"
        );
        t.stop().await;
    }
}

/// Runs sipp as a phone calling the IVR extension `5000` from `from`, keying `keys` (RFC 2833
/// events from sip-tester's captures); answers whether sipp saw the call through to the IVR's
/// BYE.
fn ivr_call(sipp: &std::path::Path, sip: std::net::SocketAddr, from: &str, keys: &str) -> bool {
    let scenario = include_str!("sipp/ivr_call.xml");
    let mut digits = String::new();
    for k in keys.chars() {
        let name = match k {
            '#' => "pound".to_string(),
            '*' => "star".to_string(),
            d => d.to_string(),
        };
        digits.push_str(&format!(
            "  <nop><action><exec play_pcap_audio=\"/usr/share/sip-tester/dtmf_2833_{name}.pcap\"/></action></nop>\n  <pause milliseconds=\"400\"/>\n"
        ));
    }
    let text = scenario
        .replace("DIGITS\n", &digits)
        .replace("FROM_USER", from);
    let dir = std::env::temp_dir().join(format!(
        "dialtone-ivr-{}-{from}-{}",
        std::process::id(),
        keys.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ivr_call.xml");
    std::fs::write(&file, text).unwrap();
    let free = |kind: &str| {
        let p = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let _ = kind;
        p
    };
    let out = std::process::Command::new(sipp)
        .arg(sip.to_string())
        .arg("-sf")
        .arg(&file)
        .args([
            "-s",
            "5000",
            "-i",
            "127.0.0.1",
            "-p",
            &free("sip").to_string(),
        ])
        .args(["-mi", "127.0.0.1", "-mp", &free("media").to_string()])
        .args(["-m", "1", "-timeout", "90s", "-nostdin"])
        .current_dir(&dir)
        .output()
        .expect("run sipp");
    if !out.status.success() {
        eprintln!(
            "sipp: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    out.status.success()
}

/// The IVR with a real SIP peer (sipp) on both backends: a phone calls the IVR extension from
/// its auto-registered number and keys the self-provisioning ID and PIN as RFC 2833 events; it
/// ends claimed. Another keys a wrong PIN three times: refused, locked out, not claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ivr_claims_a_phone_that_calls_it() {
    let Some(sipp) = common::peer("sipp") else {
        return;
    };
    for db in TestDb::all().await {
        let t = TestApp::spawn_with(&db, |cfg| {
            cfg.sip.listen = "127.0.0.1:0".into();
            cfg.sip.t1_ms = 100;
        })
        .await;
        let sip = t.app.sip_addr.expect("the SIP socket");
        t.create(ULT, json!({"name": "Auto", "line": {"partition": "Auto"}}))
            .await;
        t.create(
            UDT,
            json!({"name": "Desk", "device": {"device_pool": "Sales"}}),
        )
        .await;
        t.create(
            PROFILES,
            json!({"name": "Sales", "device_template": "Desk", "allow_self_provisioning": true}),
        )
        .await;
        for (ext, user) in [("2001", "ada"), ("2002", "bob")] {
            t.create("/api/v1/lines", json!({"pattern": ext})).await;
            t.create(
                "/api/v1/users",
                json!({"user_id": user, "last_name": "Tester", "primary_extension": ext,
                "user_profile": "Sales", "pin": "13579"}),
            )
            .await;
        }
        let (s, v) = set_settings(
            &t,
            json!({"auto_registration": true, "auto_registration_start_dn": "1000", "auto_registration_end_dn": "1099",
                "auto_registration_device_template": "Desk", "auto_registration_line_template": "Auto",
                "self_provisioning": {"authentication": "end_user", "ivr_extension": "5000"}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for mac in ["00AA000000C1", "00AA000000C2"] {
            let (s, _) = phone_get(&t, &format!("SEP{mac}.cnf.xml"), "Cisco-CP7960G/8.0").await;
            assert_eq!(s, StatusCode::OK);
        }
        let (_, p) = t.get("/api/v1/phones/SEP00AA000000C1").await;
        let n1 = p["lines"][0]["pattern"].as_str().unwrap().to_string();
        let (_, p) = t.get("/api/v1/phones/SEP00AA000000C2").await;
        let n2 = p["lines"][0]["pattern"].as_str().unwrap().to_string();

        // The first phone: ID 2001, PIN 13579.
        let (sipp1, n1c) = (sipp.clone(), n1.clone());
        let ok = tokio::task::spawn_blocking(move || ivr_call(&sipp1, sip, &n1c, "2001#13579#"))
            .await
            .unwrap();
        assert!(ok, "[{}] sipp saw the call through", db.label);
        let (_, p) = t.get("/api/v1/phones/SEP00AA000000C1").await;
        assert_eq!(
            (
                p["owner_user_id"].as_str(),
                p["lines"][0]["pattern"].as_str(),
                p["auto_registered"].as_bool()
            ),
            (Some("ada"), Some("2001"), Some(false)),
            "[{}] {p}",
            db.label
        );

        // The second: a wrong PIN three times.
        let (sipp2, n2c) = (sipp.clone(), n2.clone());
        let ok = tokio::task::spawn_blocking(move || {
            ivr_call(&sipp2, sip, &n2c, "2002#1111#2222#3333#")
        })
        .await
        .unwrap();
        assert!(ok, "[{}] sipp saw the call through", db.label);
        let (_, p) = t.get("/api/v1/phones/SEP00AA000000C2").await;
        assert_eq!(
            (p["auto_registered"].as_bool(), p["owner_user_id"].as_str()),
            (Some(true), None),
            "[{}] {p}",
            db.label
        );
        let (_, audit) = t.get("/api/v1/audit?limit=50").await;
        let items = audit["items"].as_array().unwrap();
        assert!(
            items.iter().any(|e| e["action"] == "claim"
                && e["result"] == "ok"
                && e["actor"].as_str().unwrap_or("").contains("via ivr")),
            "[{}] {audit}",
            db.label
        );
        assert!(
            items.iter().any(|e| e["action"] == "claim"
                && e["result"] == "failed"
                && e["detail"]
                    .as_str()
                    .unwrap_or("")
                    .contains("claiming is locked")),
            "[{}] {audit}",
            db.label
        );
        t.stop().await;
    }
}

/// The command line beside a running server, on both backends: where auto-registration stands,
/// and a claim with the secret from the environment.
#[tokio::test]
async fn the_command_line_says_the_status_and_claims() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        t.create(ULT, json!({"name": "Auto", "line": {"partition": "Auto"}}))
            .await;
        t.create(
            PROFILES,
            json!({"name": "Sales", "allow_self_provisioning": true}),
        )
        .await;
        t.create("/api/v1/lines", json!({"pattern": "2001"})).await;
        t.create(
            "/api/v1/users",
            json!({"user_id": "ada", "last_name": "Lovelace", "primary_extension": "2001",
            "user_profile": "Sales", "pin": "13579"}),
        )
        .await;
        let (s, v) = set_settings(
            &t,
            json!({"auto_registration": true, "auto_registration_start_dn": "1000", "auto_registration_end_dn": "1099",
                "auto_registration_line_template": "Auto"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, _) = phone_get(&t, "SEP00AA000000D1.cnf.xml", "Cisco-CP7960G/8.0").await;
        assert_eq!(s, StatusCode::OK);

        let out = common::dialtone(&db, &["self-provisioning", "status"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "[{}] {text} {}",
            db.label,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            text.trim(),
            "auto-registration on default: 1000 to 1099, 1 number taken, 99 free; 1 phone not claimed yet",
            "[{}]",
            db.label
        );
        let out = common::command(&db, &["self-provisioning", "claim", "1000", "ada"])
            .env("DIALTONE_CLAIM_SECRET", "99999")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("wrong PIN or password for ada"),
            "[{}] {err}",
            db.label
        );
        let out = common::command(&db, &["self-provisioning", "claim", "1000", "ada"])
            .env("DIALTONE_CLAIM_SECRET", "13579")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "[{}] {text} {}",
            db.label,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            text.trim(),
            "SEP00AA000000D1 is ada's now, with extension 2001 (1000 is free again)",
            "[{}]",
            db.label
        );
        let (_, p) = t.get("/api/v1/phones/SEP00AA000000D1").await;
        assert_eq!(p["owner_user_id"], "ada", "[{}] {p}", db.label);
        t.stop().await;
    }
}

/// What the IVR will not take, over raw SIP: a number that is no IVR extension (404), an offer
/// without G.711 (488), and more calls at once than it holds (486 Busy Here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ivr_refuses_what_it_cannot_answer() {
    let db = TestDb::sqlite();
    let t = TestApp::spawn_with(&db, |cfg| {
        cfg.sip.listen = "127.0.0.1:0".into();
        cfg.sip.t1_ms = 100;
    })
    .await;
    let (s, v) = set_settings(&t, json!({"self_provisioning": {"ivr_extension": "5000"}})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let sip = t.app.sip_addr.unwrap();
    let phone = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = phone.local_addr().unwrap();
    // Where the IVR's RTP goes: a socket nobody reads.
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let media = sink.local_addr().unwrap().port();
    let invite = |to: &str, call: usize, codec: &str| {
        let sdp = format!("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {media} RTP/AVP {codec}\r\n");
        format!(
            "INVITE sip:{to}@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKcall{call}\r\nMax-Forwards: 70\r\n\
             From: <sip:1000@{me}>;tag=t{call}\r\nTo: <sip:{to}@{sip}>\r\nCall-ID: call-{call}@test\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:1000@{me}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
    };
    let mut buf = vec![0u8; 65_535];
    // The final answer to call `call` (retransmitted 200s and BYEs of other calls are skipped).
    async fn answer(phone: &tokio::net::UdpSocket, buf: &mut [u8], call: usize) -> u16 {
        let want = format!("Call-ID: call-{call}@test");
        loop {
            let (n, _) =
                tokio::time::timeout(std::time::Duration::from_secs(5), phone.recv_from(buf))
                    .await
                    .expect("an answer")
                    .unwrap();
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            if text.starts_with("SIP/2.0 ")
                && text.contains(&want)
                && !text.starts_with("SIP/2.0 100")
            {
                return text[8..11].parse().unwrap();
            }
        }
    }
    phone
        .send_to(invite("4999", 0, "0").as_bytes(), sip)
        .await
        .unwrap();
    assert_eq!(answer(&phone, &mut buf, 0).await, 404);
    phone
        .send_to(invite("5000", 1, "18").as_bytes(), sip)
        .await
        .unwrap();
    assert_eq!(answer(&phone, &mut buf, 1).await, 488);
    for call in 2..2 + ivr::MAX_CALLS {
        phone
            .send_to(invite("5000", call, "0").as_bytes(), sip)
            .await
            .unwrap();
        assert_eq!(answer(&phone, &mut buf, call).await, 200, "call {call}");
    }
    let one_more = 2 + ivr::MAX_CALLS;
    phone
        .send_to(invite("5000", one_more, "0").as_bytes(), sip)
        .await
        .unwrap();
    assert_eq!(answer(&phone, &mut buf, one_more).await, 486);
    t.stop().await;
}

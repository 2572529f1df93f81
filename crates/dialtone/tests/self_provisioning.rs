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

//! End-to-end tests of the REST API: the real server over HTTP, on SQLite and on PostgreSQL,
//! through every rule of the directory.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::testing::TestDb;

#[tokio::test]
async fn authentication_is_required_and_tokens_work() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let r = t.client.get(t.url("/api/v1/users")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().get("www-authenticate").is_some());
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");

        let r = t
            .client
            .get(t.url("/api/v1/whoami"))
            .basic_auth("admin", Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = t
            .client
            .get(t.url("/api/v1/whoami"))
            .basic_auth("nobody", Some("x"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = t
            .client
            .get(t.url("/api/v1/whoami"))
            .basic_auth("admin", Some(common::PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.unwrap()["username"], "admin");
        let r = t
            .client
            .get(t.url("/api/v1/whoami"))
            .bearer_auth("dt_not_a_token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let (s, v) = t.get("/api/v1/whoami").await;
        assert_eq!((s, v["username"].as_str()), (StatusCode::OK, Some("admin")));

        // The health check needs no credentials.
        let r = t.client.get(t.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);

        // A path or a method the API does not have is said in JSON, not an empty answer.
        let (s, v) = t.put("/api/v1/parameters/model/8861", json!({})).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
        assert_eq!(v["error"]["code"], "not_found");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.contains("PUT /api/v1/parameters/model/8861"), "{m}");
        assert!(m.contains("openapi.json"), "{m}");
        let (s, v) = t.delete("/api/v1/whoami").await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{v}");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not take DELETE"));
        t.stop().await;
    }
}

/// A token keeps no more than its administrator has now: a role narrowed, or the administrator
/// deleted, reaches the very next request made with the token (the server keeps what a token
/// stands for between requests; a write makes it read again).
#[tokio::test]
async fn a_token_follows_its_administrators_roles() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let users_create = json!([{"system": "*", "resource": "user", "action": "create"}]);
        t.create(
            "/api/v1/roles",
            json!({"name": "user-makers", "privileges": users_create}),
        )
        .await;
        t.create(
            "/api/v1/admins",
            json!({"username": "ops", "password": "ops-password-1", "roles": ["user-makers"]}),
        )
        .await;
        let token = common::new_token(&t.client, &t.url(""), "ops", "ops-password-1").await;
        let create_user = |id: &str| {
            t.client
                .post(t.url("/api/v1/users"))
                .bearer_auth(&token)
                .json(&json!({"user_id": id, "last_name": "Ops"}))
                .send()
        };
        // Twice: the second answer comes from what the server kept.
        for id in ["ops1", "ops2"] {
            assert_eq!(create_user(id).await.unwrap().status(), StatusCode::CREATED);
        }
        let (s, role) = t.get("/api/v1/roles/user-makers").await;
        assert_eq!(s, StatusCode::OK, "{role}");
        let (s, v) = t
            .patch(
                "/api/v1/roles/user-makers",
                json!({"version": role["version"], "privileges": []}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let r = create_user("ops3").await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let (s, v) = t.delete("/api/v1/admins/ops").await;
        assert!(s.is_success(), "{s} {v}");
        let r = create_user("ops4").await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        t.stop().await;
    }
}

#[tokio::test]
async fn systems_and_the_first_start() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let (s, v) = t.get("/api/v1/systems").await;
        assert_eq!(s, StatusCode::OK);
        let systems = v["items"].as_array().unwrap();
        assert_eq!(
            systems.len(),
            1,
            "one call-control system after the first start"
        );
        assert_eq!(systems[0]["kind"], "call_control");

        let vm = t
            .create(
                "/api/v1/systems",
                json!({"name": "unity", "kind": "voicemail"}),
            )
            .await;
        assert_eq!(vm["kind"], "voicemail");
        let (_, v) = t.get("/api/v1/systems?kind=voicemail").await;
        assert_eq!(v["total"], 1);
        let (_, v) = t.get("/api/v1/systems?q=UN").await;
        assert_eq!(v["items"][0]["name"], "unity");
        t.refused(
            t.post("/api/v1/systems", json!({"name": "unity"})).await,
            StatusCode::CONFLICT,
            "name",
        );
        // A call-control record cannot go to a voicemail system.
        let m = t.refused(
            t.post(
                "/api/v1/lines",
                json!({"pattern": "1000", "system": "unity"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "system",
        );
        assert!(m.contains("voicemail"), "{m}");
        t.create("/api/v1/lines", json!({"pattern": "1000"})).await;
        // The last call-control system holding records cannot go.
        let m = t.refused(
            t.delete("/api/v1/systems/default").await,
            StatusCode::CONFLICT,
            "system",
        );
        assert!(m.contains("holds 1 line: delete them first"), "{m}");
        let (s, _) = t.delete("/api/v1/systems/unity").await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        t.stop().await;
    }
}

#[tokio::test]
async fn users_with_secrets_conflicts_and_stale_versions() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        t.create("/api/v1/lines", json!({"pattern": "1000"})).await;
        let u = t
            .create(
                "/api/v1/users",
                json!({"user_id": "jsmith", "first_name": "John", "last_name": "Smith", "password": "s3cret-pass",
                       "pin": "12345", "primary_extension": "1000", "groups": ["Standard CTI Enabled"]}),
            )
            .await;
        let text = u.to_string();
        assert!(
            !text.contains("s3cret") && !text.contains("12345") && !text.contains("argon2"),
            "secrets leak: {text}"
        );
        assert_eq!(u["has_password"], true);
        assert_eq!(u["has_pin"], true);
        assert_eq!(u["primary_extension"], "1000");
        assert_eq!(u["version"], 1);

        // Bad input names the field.
        t.refused(
            t.post(
                "/api/v1/users",
                json!({"user_id": "x", "last_name": "Y", "pin": "12a"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "pin",
        );
        t.refused(
            t.post("/api/v1/users", json!({"user_id": "x"})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "last_name",
        );
        t.refused(
            t.post(
                "/api/v1/users",
                json!({"user_id": "x", "last_name": "Y", "primary_extension": "9999"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "primary_extension",
        );
        let m = t.refused(
            t.post("/api/v1/users", json!({"user_id": "x", "lastname": "Y"}))
                .await,
            StatusCode::BAD_REQUEST,
            "lastname",
        );
        assert!(m.contains("unknown field"), "{m}");
        t.refused(
            t.post(
                "/api/v1/users",
                json!({"user_id": "jsmith", "last_name": "Smith"}),
            )
            .await,
            StatusCode::CONFLICT,
            "user_id",
        );

        // PATCH carries the version it read; a stale one gets 409 with the current record.
        let (s, v) = t
            .patch(
                "/api/v1/users/jsmith",
                json!({"version": 1, "department": "Sales"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["version"], 2);
        assert_eq!(v["first_name"], "John", "fields left out are unchanged");
        let (s, v) = t
            .patch(
                "/api/v1/users/jsmith",
                json!({"version": 1, "department": "Legal"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(v["error"]["code"], "stale");
        assert_eq!(v["error"]["version"], 2);
        assert_eq!(v["error"]["current"]["department"], "Sales");
        let m = t.refused(
            t.patch("/api/v1/users/jsmith", json!({"department": "Legal"}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "version",
        );
        assert!(m.contains("you read"), "{m}");
        let m = t.refused(
            t.patch(
                "/api/v1/users/jsmith",
                json!({"version": 2, "system": "elsewhere"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "system",
        );
        assert!(m.contains("delete"), "{m}");

        // The same user ID on a second call-control system is a conflict, on the record and in
        // finds.
        t.create("/api/v1/systems", json!({"name": "branch"})).await;
        t.create("/api/v1/users", json!({"user_id": "jsmith", "first_name": "John", "last_name": "Smith", "system": "branch"})).await;
        let (s, v) = t.get("/api/v1/users/jsmith").await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(v["error"]["code"], "ambiguous");
        assert!(v["error"]["message"].as_str().unwrap().contains("?system="));
        let (_, v) = t.get("/api/v1/users/jsmith?system=branch").await;
        assert_eq!(v["conflicts"][0]["kind"], "same_id_on_several_systems");
        assert_eq!(v["conflicts"][0]["systems"], json!(["default"]));
        let (_, v) = t.get("/api/v1/users?q=jsm").await;
        assert_eq!(v["total"], 2);
        assert!(v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| !u["conflicts"].as_array().unwrap().is_empty()));

        // The same user ID with another name on the voicemail system is a conflict too.
        t.create(
            "/api/v1/systems",
            json!({"name": "unity", "kind": "voicemail"}),
        )
        .await;
        t.create("/api/v1/voicemail-subscribers", json!({"alias": "jsmith", "first_name": "Joe", "last_name": "Smith", "extension": "1000"})).await;
        let (_, v) = t.get("/api/v1/voicemail-subscribers/jsmith").await;
        let kinds: Vec<&str> = v["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, vec!["different_names"], "{v}");
        let (_, v) = t.get("/api/v1/users?conflicts=true").await;
        assert_eq!(v["total"], 2);

        // Resolving: delete the branch copy and fix the name; the conflicts are gone.
        let (s, _) = t.delete("/api/v1/users/jsmith?system=branch").await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, sub) = t.get("/api/v1/voicemail-subscribers/jsmith").await;
        let (s, _) = t
            .patch(
                "/api/v1/voicemail-subscribers/jsmith",
                json!({"version": sub["version"], "first_name": "John"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, v) = t.get("/api/v1/users/jsmith").await;
        assert_eq!(v["conflicts"], json!([]), "{v}");
        t.stop().await;
    }
}

#[tokio::test]
async fn finding_with_prefixes_filters_paging_and_sorting() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        for (i, (f, l)) in [
            ("Ann", "Baker"),
            ("Bob", "Bakerson"),
            ("Cid", "Adams"),
            ("Dee", "baldwin"),
            ("Eve", "Carter"),
        ]
        .iter()
        .enumerate()
        {
            t.create("/api/v1/users", json!({"user_id": format!("u{i}"), "first_name": f, "last_name": l, "department": if i % 2 == 0 {"Sales"} else {"Legal"}})).await;
        }
        let (_, v) = t.get("/api/v1/users?q=bak").await;
        assert_eq!(v["total"], 2);
        let (_, v) = t.get("/api/v1/users?q=BAL").await;
        assert_eq!(v["total"], 1, "case-insensitive");
        let (_, v) = t
            .get("/api/v1/users?q=ba&sort=last_name&order=desc&limit=2")
            .await;
        let names: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["last_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["baldwin", "Bakerson"]);
        assert_eq!(v["total"], 3);
        let (_, v) = t
            .get("/api/v1/users?q=ba&sort=last_name&limit=2&offset=2")
            .await;
        assert_eq!(v["items"][0]["last_name"], "baldwin");
        let (_, v) = t.get("/api/v1/users?q=ba&offset=10").await;
        assert_eq!(
            (v["total"].as_i64(), v["items"].as_array().map(Vec::len)),
            (Some(3), Some(0)),
            "past the last page"
        );
        // Without a sort, a prefix lists users by the name that matched (Eve Carter by
        // "carter" before Cid Adams by "cid"); a sort orders them all by it.
        let last_names = |v: &Value| -> Vec<String> {
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["last_name"].as_str().unwrap().to_string())
                .collect()
        };
        let (_, v) = t.get("/api/v1/users?q=c").await;
        assert_eq!(last_names(&v), ["Carter", "Adams"], "{v}");
        assert_eq!(
            (v["total"].as_i64(), v["total_exact"].as_bool()),
            (Some(2), Some(true))
        );
        let (_, v) = t.get("/api/v1/users?q=c&sort=last_name").await;
        assert_eq!(last_names(&v), ["Adams", "Carter"]);
        let (_, v) = t.get("/api/v1/users?q=c&count=exact").await;
        assert_eq!(v["total"], 2);
        t.refused(
            t.get("/api/v1/users?count=all").await,
            StatusCode::BAD_REQUEST,
            "count",
        );
        let (_, v) = t.get("/api/v1/users?q=b&sort=first_name").await;
        let firsts: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["first_name"].as_str().unwrap())
            .collect();
        assert_eq!(
            firsts,
            vec!["Ann", "Bob", "Dee"],
            "prefix on first or last name, sorted by first name"
        );
        let (_, v) = t
            .get("/api/v1/users?q=u&sort=user_id&order=desc&limit=2")
            .await;
        assert_eq!(v["items"][0]["user_id"], "u4");
        let (_, v) = t.get("/api/v1/users?department=Sales").await;
        assert_eq!(v["total"], 3);
        t.refused(
            t.get("/api/v1/users?sort=password").await,
            StatusCode::BAD_REQUEST,
            "sort",
        );
        t.refused(
            t.get("/api/v1/users?colour=red").await,
            StatusCode::BAD_REQUEST,
            "colour",
        );
        t.refused(
            t.get("/api/v1/users?limit=0").await,
            StatusCode::BAD_REQUEST,
            "limit",
        );
        t.stop().await;
    }
}

#[tokio::test]
async fn phones_names_macs_models_and_lines() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        // MAC in any usual spelling; stored in one; the name derives from it.
        let p = t
            .create(
                "/api/v1/phones",
                json!({"mac": "00:56:2b:04:36:15", "model": "7960", "description": "desk",
                       "lines": [{"pattern": "1000", "label": "Ann", "display": "Ann Baker"}, {"pattern": "1001"}]}),
            )
            .await;
        assert_eq!(p["name"], "SEP00562B043615");
        assert_eq!(p["mac"], "00562B043615");
        assert_eq!(p["lines"][1]["button"], 2);
        let (s, v) = t.get("/api/v1/phones/sep00562b043615").await;
        assert_eq!(
            (s, v["name"].as_str()),
            (StatusCode::OK, Some("SEP00562B043615")),
            "names are found case-insensitively"
        );

        let m = t.refused(
            t.post(
                "/api/v1/phones",
                json!({"mac": "00562B04361", "model": "7960"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "mac",
        );
        assert!(m.contains("12 hex digits"), "{m}");
        t.refused(
            t.post("/api/v1/phones", json!({"name": "SEPXYZ", "model": "7960"}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        );
        t.refused(
            t.post(
                "/api/v1/phones",
                json!({"name": "SEP00562B043616", "mac": "00562B043617", "model": "7960"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "mac",
        );
        t.refused(
            t.post(
                "/api/v1/phones",
                json!({"mac": "0056.2b04.3615", "model": "7940"}),
            )
            .await,
            StatusCode::CONFLICT,
            // The field the request gave (the name is made of it).
            "mac",
        );
        let m = t.refused(
            t.post(
                "/api/v1/phones",
                json!({"mac": "00562B000001", "model": "7999"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "model",
        );
        assert!(m.contains("7960"), "lists the models: {m}");

        // What the model does not support is refused.
        let m = t.refused(
            t.post(
                "/api/v1/phones",
                json!({"mac": "00562B000002", "model": "7912", "security_mode": "encrypted"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "security_mode",
        );
        assert!(m.contains("7912"), "{m}");
        t.create(
            "/api/v1/phones",
            json!({"mac": "00562B000003", "model": "7970", "security_mode": "encrypted"}),
        )
        .await;
        let m = t
            .refused(t.post("/api/v1/phones", json!({"mac": "00562B000004", "model": "7960", "expansion_modules": ["7914", "7914", "7914"]})).await, StatusCode::UNPROCESSABLE_ENTITY, "expansion_modules");
        assert!(m.contains("at most 2"), "{m}");
        let lines: Vec<Value> = (0..7)
            .map(|i| json!({"pattern": format!("20{i:02}")}))
            .collect();
        let m = t.refused(
            t.post(
                "/api/v1/phones",
                json!({"mac": "00562B000005", "model": "7960", "lines": lines}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "lines",
        );
        assert!(
            m.contains("7 lines do not fit on a 7960 with 6 buttons"),
            "{m}"
        );
        let (s, _) = t.get("/api/v1/lines/2000").await;
        assert_eq!(
            s,
            StatusCode::NOT_FOUND,
            "a refused phone leaves no half-written line behind"
        );
        t.create("/api/v1/phones", json!({"mac": "00562B000005", "model": "7960", "expansion_modules": ["7914"], "lines": lines})).await;

        // A line on two devices is a shared line.
        let p2 = t.create("/api/v1/phones", json!({"mac": "00562B000006", "model": "8861", "lines": [{"pattern": "1000", "label": "Ann (shared)"}]})).await;
        assert_eq!(p2["lines"][0]["shared_with"], json!(["SEP00562B043615"]));
        let (_, l) = t.get("/api/v1/lines/1000").await;
        assert_eq!(l["shared"], true);
        assert_eq!(l["appearances"].as_array().unwrap().len(), 2);

        // Lines: pattern + partition unique per system; busy trigger at most max calls.
        t.refused(
            t.post("/api/v1/lines", json!({"pattern": "1000"})).await,
            StatusCode::CONFLICT,
            "pattern",
        );
        t.create(
            "/api/v1/lines",
            json!({"pattern": "1000", "partition": "PT-Internal"}),
        )
        .await;
        let (s, v) = t.get("/api/v1/lines/1000").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("ambiguous"))
        );
        let (s, _) = t.get("/api/v1/lines/1000?partition=PT-Internal").await;
        assert_eq!(s, StatusCode::OK);
        let m = t.refused(
            t.post(
                "/api/v1/lines",
                json!({"pattern": "3000", "max_calls": 2, "busy_trigger": 3}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "busy_trigger",
        );
        assert!(m.contains("max calls"), "{m}");
        let (_, l) = t.get("/api/v1/lines/1001").await;
        t.refused(
            t.patch(
                "/api/v1/lines/1001",
                json!({"version": l["version"], "busy_trigger": 9}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "busy_trigger",
        );
        let m = t.refused(
            t.delete("/api/v1/lines/1001").await,
            StatusCode::CONFLICT,
            "pattern",
        );
        assert!(m.contains("SEP00562B043615"), "{m}");

        // A phone never moves between systems.
        t.create("/api/v1/systems", json!({"name": "branch"})).await;
        let m = t.refused(
            t.patch(
                "/api/v1/phones/SEP00562B043615",
                json!({"version": 1, "system": "branch"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "system",
        );
        assert!(m.contains("delete it and add it again"), "{m}");

        // Two administrators editing one phone: the second, stale, edit is refused.
        let (_, ph) = t.get("/api/v1/phones/SEP00562B043615").await;
        let v0 = ph["version"].clone();
        let (s, _) = t
            .patch(
                "/api/v1/phones/SEP00562B043615",
                json!({"version": v0, "description": "first admin"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, v) = t
            .patch(
                "/api/v1/phones/SEP00562B043615",
                json!({"version": v0, "description": "second admin"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(v["error"]["code"], "stale");
        assert_eq!(v["error"]["current"]["description"], "first admin");
        let (_, ph) = t.get("/api/v1/phones/SEP00562B043615").await;
        assert_eq!(ph["description"], "first admin");
        // Replacing the lines through PATCH.
        let (s, v) = t
            .patch(
                "/api/v1/phones/SEP00562B043615",
                json!({"version": ph["version"], "lines": [{"pattern": "1001", "button": 3}]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["lines"].as_array().unwrap().len(), 1);
        assert_eq!(v["lines"][0]["button"], 3);
        let (_, l) = t.get("/api/v1/lines/1000?partition=").await;
        assert_eq!(l["shared"], false);
        let (_, v) = t.get("/api/v1/phones?model=7960").await;
        assert_eq!(v["total"], 2);
        let (_, v) = t.get("/api/v1/phones?line=1001").await;
        assert_eq!(v["total"], 1);
        t.stop().await;
    }
}

#[tokio::test]
async fn soft_phones_secondaries_and_device_profiles() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        for u in ["johnnie_jackson", "johnniejackson", "john.jackson"] {
            t.create(
                "/api/v1/users",
                json!({"user_id": u, "last_name": "Jackson"}),
            )
            .await;
        }
        let desk = t
            .create(
                "/api/v1/phones",
                json!({"mac": "00562B100001", "model": "7970", "owner_user_id": "john.jackson"}),
            )
            .await;
        // The soft phone is named after its user (docs/phones.md, "What each phone fetches").
        let s1 = t
            .create(
                "/api/v1/phones",
                json!({"model": "CUPC", "owner_user_id": "johnnie_jackson"}),
            )
            .await;
        assert_eq!(s1["name"], "UPCJOHNNIEJACKS");
        let m = t.refused(
            t.post(
                "/api/v1/phones",
                json!({"model": "CUPC", "owner_user_id": "johnniejackson"}),
            )
            .await,
            StatusCode::CONFLICT,
            "owner_user_id",
        );
        assert!(
            m.contains("johnnie_jackson") && m.contains("johnniejackson") && m.contains("collide"),
            "{m}"
        );
        t.refused(
            t.post(
                "/api/v1/phones",
                json!({"model": "CUPC", "owner_user_id": "john.jackson", "name": "UPCJOHN"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        );
        t.refused(
            t.post("/api/v1/phones", json!({"model": "CUPC"})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "owner_user_id",
        );
        t.refused(
            t.post(
                "/api/v1/phones",
                json!({"model": "CUPC", "owner_user_id": "nobody"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "owner_user_id",
        );

        // Secondary (adjunct) phones: soft clients only, at most 2, primary kept while it has any.
        let name = desk["name"].as_str().unwrap();
        t.create(
            "/api/v1/phones",
            json!({"model": "CUPC", "owner_user_id": "john.jackson", "primary_phone": name}),
        )
        .await;
        t.create(
            "/api/v1/phones",
            json!({"model": "IPC", "name": "IPCJJ", "primary_phone": name}),
        )
        .await;
        let m = t.refused(
            t.post(
                "/api/v1/phones",
                json!({"model": "IPC", "name": "IPCJJ2", "primary_phone": name}),
            )
            .await,
            StatusCode::CONFLICT,
            "primary_phone",
        );
        assert!(m.contains("at most 2"), "{m}");
        let m = t.refused(
            t.post(
                "/api/v1/phones",
                json!({"mac": "00562B100002", "model": "7960", "primary_phone": name}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "primary_phone",
        );
        assert!(m.contains("only soft clients"), "{m}");
        t.refused(
            t.post(
                "/api/v1/phones",
                json!({"model": "IPC", "name": "IPCX", "primary_phone": "UPCJOHNNIEJACKS"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "primary_phone",
        );
        let (_, d) = t.get(&format!("/api/v1/phones/{name}")).await;
        assert_eq!(d["secondary_phones"], json!(["IPCJJ", "UPCJOHNJACKSON"]));
        let m = t.refused(
            t.delete(&format!("/api/v1/phones/{name}")).await,
            StatusCode::CONFLICT,
            "name",
        );
        assert!(m.contains("secondary"), "{m}");

        // Device profiles: a logout profile in use cannot be deleted.
        let dp = t
            .create(
                "/api/v1/device-profiles",
                json!({"name": "EM-Logout", "model": "7960", "lines": [{"pattern": "5000"}]}),
            )
            .await;
        assert_eq!(dp["lines"][0]["pattern"], "5000");
        t.refused(
            t.post(
                "/api/v1/device-profiles",
                json!({"name": "EM-x", "model": "7902"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "model",
        );
        t.refused(
            t.post(
                "/api/v1/device-profiles",
                json!({"name": "SEP00562B100001", "model": "7960"}),
            )
            .await,
            StatusCode::CONFLICT,
            "name",
        );
        let (_, d) = t.get(&format!("/api/v1/phones/{name}")).await;
        let (s, v) = t
            .patch(
                &format!("/api/v1/phones/{name}"),
                json!({"version": d["version"], "logout_profile": "EM-Logout"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (_, p) = t.get("/api/v1/device-profiles/EM-Logout").await;
        assert_eq!(p["logout_profile_of"], json!([name]));
        let m = t.refused(
            t.delete("/api/v1/device-profiles/EM-Logout").await,
            StatusCode::CONFLICT,
            "name",
        );
        assert!(m.contains("logout profile"), "{m}");
        let (_, d) = t.get(&format!("/api/v1/phones/{name}")).await;
        t.patch(
            &format!("/api/v1/phones/{name}"),
            json!({"version": d["version"], "logout_profile": ""}),
        )
        .await;
        let (s, _) = t.delete("/api/v1/device-profiles/EM-Logout").await;
        assert_eq!(s, StatusCode::NO_CONTENT);

        // Associations and the default (extension mobility) profile.
        t.create(
            "/api/v1/device-profiles",
            json!({"name": "EM-jj", "model": "7970"}),
        )
        .await;
        let (_, u) = t.get("/api/v1/users/john.jackson").await;
        let (s, u) = t
            .patch("/api/v1/users/john.jackson", json!({"version": u["version"], "devices": [name], "device_profiles": ["EM-jj"], "default_device_profile": "EM-jj"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{u}");
        assert_eq!(u["default_device_profile"], "EM-jj");
        t.refused(
            t.patch(
                "/api/v1/users/john.jackson",
                json!({"version": u["version"], "devices": ["EM-jj"]}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "devices[0]",
        );
        t.stop().await;
    }
}

#[tokio::test]
async fn services_voicemail_and_device_types() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let (_, types) = t.get("/api/v1/device-types").await;
        let models: Vec<&str> = types["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["model"].as_str().unwrap())
            .collect();
        for m in [
            "7902", "7905", "7910", "7912", "7920", "7935", "7936", "7940", "7960", "7970", "7914",
            "IPC", "CUPC", "7811", "7821", "7841", "7861", "8811", "8841", "8845", "8851", "8861",
            "8865",
        ] {
            assert!(models.contains(&m), "{m} missing");
        }
        let (_, mpp) = t.get("/api/v1/device-types?family=mpp&q=88").await;
        assert_eq!(mpp["total"], 6, "8811, 8841, 8845, 8851, 8861, 8865: {mpp}");
        let (_, d) = t.get("/api/v1/device-types/7914").await;
        assert_eq!(d["lines"], 14);

        t.refused(
            t.post("/api/v1/services", json!({"name": "Dir", "url": "ftp://x"}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "url",
        );
        t.create(
            "/api/v1/services",
            json!({"name": "Weather", "url": "http://weather.example.com/p",
            "parameters": [{"name": "city", "required": true}, {"name": "units", "default": "C"}]}),
        )
        .await;
        t.refused(t.post("/api/v1/phones", json!({"mac": "00562B200001", "model": "7960", "services": [{"service": "Weather"}]})).await, StatusCode::UNPROCESSABLE_ENTITY, "services[0].parameters.city");
        t.refused(
            t.post(
                "/api/v1/phones",
                json!({"mac": "00562B200001", "model": "7960", "services": [{"service": "Nope"}]}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "services[0].service",
        );
        let p = t.create("/api/v1/phones", json!({"mac": "00562B200001", "model": "7960", "services": [{"service": "Weather", "parameters": {"city": "Oslo"}}]})).await;
        assert_eq!(
            p["services"][0]["parameters"],
            json!({"city": "Oslo", "units": "C"})
        );
        t.refused(
            t.delete("/api/v1/services/Weather").await,
            StatusCode::CONFLICT,
            "name",
        );

        // Voicemail: a system of its own with a default class of service; distribution lists.
        t.refused(
            t.post(
                "/api/v1/voicemail-subscribers",
                json!({"alias": "a", "last_name": "B", "extension": "1"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "system",
        );
        t.create(
            "/api/v1/systems",
            json!({"name": "unity", "kind": "voicemail"}),
        )
        .await;
        let (_, cos) = t.get("/api/v1/classes-of-service").await;
        assert_eq!(cos["items"][0]["name"], "Default Subscriber");
        // Restriction tables are named records, shared by classes of service: the predefined
        // ones, and one of our own with a wrong row refused.
        let (_, rts) = t.get("/api/v1/restriction-tables").await;
        let names: Vec<&str> = rts["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["Default Fax", "Default Outdial", "Default Transfer"],
            "{rts}"
        );
        assert_eq!(
            rts["items"][2]["used_by"],
            json!(["Default Subscriber"]),
            "{rts}"
        );
        t.refused(
            t.post(
                "/api/v1/restriction-tables",
                json!({"name": "Bad", "entries": [{"pattern": "abc", "allowed": true}]}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "entries[0].pattern",
        );
        t.create("/api/v1/restriction-tables", json!({"name": "No international",
            "entries": [{"pattern": "9011*", "allowed": false}, {"pattern": "*", "allowed": true}]})).await;
        t.create(
            "/api/v1/classes-of-service",
            json!({"name": "Executives", "max_message_seconds": 600, "send_to_public_lists": true,
            "transfer_restriction": "No international"}),
        )
        .await;
        t.refused(
            t.post(
                "/api/v1/classes-of-service",
                json!({"name": "Bad", "fax_restriction": "Nowhere"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "fax_restriction",
        );
        // In use: not deleted; changed: every class of service naming it follows.
        let (s, v) = t
            .delete("/api/v1/restriction-tables/No%20international")
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Executives"),
            "{v}"
        );
        let (_, rt) = t.get("/api/v1/restriction-tables/No%20international").await;
        let (s, v) = t.patch("/api/v1/restriction-tables/No%20international",
            json!({"version": rt["version"], "name": "No overseas", "entries": [{"pattern": "9011*", "allowed": false}]})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (_, cos) = t.get("/api/v1/classes-of-service?q=exec").await;
        let exec = &cos["items"][0];
        let path = format!("/api/v1/classes-of-service/{}", exec["id"]);
        let (s, v) = t
            .patch(
                &path,
                json!({"version": exec["version"], "max_message_seconds": 900}),
            )
            .await;
        assert_eq!(
            (s, v["max_message_seconds"].as_i64()),
            (StatusCode::OK, Some(900)),
            "{v}"
        );
        assert_eq!(
            (
                v["transfer_restriction"].as_str(),
                v["fax_restriction"].as_str()
            ),
            (Some("No overseas"), Some("Default Fax")),
            "the renamed table, and the predefined one when none was named: {v}"
        );
        t.refused(
            t.patch(
                &path,
                json!({"version": v["version"], "max_message_seconds": 0}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "max_message_seconds",
        );
        let (s, v) = t
            .patch(
                &path,
                json!({"version": exec["version"], "secure_logon": true}),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("stale"))
        );
        t.create("/api/v1/distribution-lists", json!({"name": "All Staff"}))
            .await;
        let (_, dls) = t.get("/api/v1/distribution-lists").await;
        let dl = &dls["items"][0];
        let (s, v) = t
            .patch(
                &format!("/api/v1/distribution-lists/{}", dl["id"]),
                json!({"version": dl["version"], "description": "Everyone"}),
            )
            .await;
        assert_eq!(
            (s, v["description"].as_str()),
            (StatusCode::OK, Some("Everyone"))
        );
        let s = t
            .create(
                "/api/v1/voicemail-subscribers",
                json!({"alias": "ann", "last_name": "Baker", "extension": "1000", "pin": "4321",
            "class_of_service": "Executives", "distribution_lists": ["All Staff"]}),
            )
            .await;
        assert_eq!(s["has_pin"], true);
        assert!(!s.to_string().contains("4321"));
        t.refused(t.post("/api/v1/voicemail-subscribers", json!({"alias": "bob", "last_name": "B", "extension": "1001", "class_of_service": "Nope"})).await, StatusCode::UNPROCESSABLE_ENTITY, "class_of_service");
        t.refused(t.post("/api/v1/voicemail-subscribers", json!({"alias": "bob", "last_name": "B", "extension": "1001", "distribution_lists": ["Nope"]})).await, StatusCode::UNPROCESSABLE_ENTITY, "distribution_lists[0]");
        let (_, dls) = t.get("/api/v1/distribution-lists").await;
        assert_eq!(dls["items"][0]["members"], 1);
        t.stop().await;
    }
}

#[tokio::test]
async fn batches_report_partial_failures_and_everything_is_audited() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        for u in ["a1", "a2"] {
            t.create("/api/v1/users", json!({"user_id": u, "last_name": "X"}))
                .await;
        }
        let (s, v) = t
            .post(
                "/api/v1/users/batch-delete",
                json!({"targets": ["a1", "ghost", "a2"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["result"], "partial");
        assert_eq!(v["succeeded"], json!(["a1", "a2"]));
        assert_eq!(v["failed"][0]["target"], "ghost");
        assert!(v["failed"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no user"));

        let (_, a) = t
            .get("/api/v1/audit?resource=user&action=batch_delete")
            .await;
        assert_eq!(a["items"][0]["result"], "partial");
        assert!(a["items"][0]["detail"].as_str().unwrap().contains("ghost"));
        let (_, a) = t.get("/api/v1/audit?resource=user&target=a1").await;
        let actions: Vec<&str> = a["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, vec!["delete", "create"], "newest first");
        for (order, want) in [
            ("desc", ["delete", "create"]),
            ("asc", ["create", "delete"]),
        ] {
            let (_, a) = t
                .get(&format!(
                    "/api/v1/audit?resource=user&target=a1&order={order}"
                ))
                .await;
            let actions: Vec<&str> = a["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["action"].as_str().unwrap())
                .collect();
            assert_eq!(actions, want, "order={order}");
        }
        assert_eq!(a["items"][0]["actor"], "admin");
        assert_eq!(a["items"][0]["system"], "default");
        // A refused change is in the log too, with its reason.
        t.post("/api/v1/phones", json!({"mac": "bad", "model": "7960"}))
            .await;
        let (_, a) = t.get("/api/v1/audit?resource=phone&result=failed").await;
        assert_eq!(a["total"], 1);
        assert!(
            a["items"][0]["detail"]
                .as_str()
                .unwrap()
                .starts_with("mac:"),
            "{}",
            a["items"][0]
        );
        t.stop().await;
    }
}

#[tokio::test]
async fn the_committed_openapi_document_is_current() {
    let db = TestDb::sqlite();
    let t = TestApp::spawn(&db).await;
    let served = t
        .client
        .get(t.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var("DIALTONE_UPDATE_OPENAPI").is_ok() {
        std::fs::write(&path, format!("{served}\n")).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed.trim_end() == served.trim_end(),
        "docs/openapi.json is stale: run `DIALTONE_UPDATE_OPENAPI=1 cargo test -p dialtone --test api the_committed_openapi` and commit it"
    );
    let doc: Value = serde_json::from_str(&served).unwrap();
    for p in [
        "/api/v1/users",
        "/api/v1/phones/{name}",
        "/api/v1/device-profiles",
        "/api/v1/lines",
        "/api/v1/systems",
        "/api/v1/services",
        "/api/v1/voicemail-subscribers",
        "/api/v1/device-types",
        "/api/v1/audit",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the OpenAPI document"
        );
    }
    t.stop().await;
}

#[tokio::test]
async fn sip_digest_credentials_are_sealed_at_rest() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let u = t.create("/api/v1/users", json!({"user_id": "sip1", "last_name": "Phone", "digest_credential": "d1gest-Secret"})).await;
        assert_eq!(u["has_digest_credential"], true);
        assert!(!u.to_string().contains("d1gest"), "never answered: {u}");
        // What the database holds is sealed, not the secret.
        let raw: String = sqlx_raw(
            &db,
            "SELECT digest_credential_enc FROM users WHERE user_id = 'sip1'",
        )
        .await;
        assert!(raw.starts_with("v1:") && !raw.contains("d1gest"), "{raw}");
        // The service opens it for the configuration files phones fetch.
        let clear = t
            .app
            .service
            .digest_credential("sip1", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(clear.expose(), "d1gest-Secret");
        // A patch without it keeps it; "" removes it.
        let (_, u) = t
            .patch(
                "/api/v1/users/sip1",
                json!({"version": u["version"], "department": "IT"}),
            )
            .await;
        assert_eq!(u["has_digest_credential"], true);
        let (_, u) = t
            .patch(
                "/api/v1/users/sip1",
                json!({"version": u["version"], "digest_credential": ""}),
            )
            .await;
        assert_eq!(u["has_digest_credential"], false);
        t.stop().await;

        // The same database with another key: the server refuses to start, and says why.
        let mut cfg = dialtone::Config::default();
        cfg.admin.https_listen.clear();
        cfg.database.url = db.url.clone();
        cfg.admin.listen = "127.0.0.1:0".into();
        cfg.secret_key = Some(service::SecretKey::generate().to_base64());
        let err = dialtone::App::build(&cfg)
            .await
            .err()
            .expect("a wrong key is refused");
        assert!(
            format!("{err:#}").contains("secret key is not the one"),
            "{err:#}"
        );
    }
}

/// What the database itself holds, read on a connection of its own.
async fn sqlx_raw(db: &TestDb, sql: &str) -> String {
    let store = store::Store::connect(&db.url).await.unwrap();
    let mut c = store.read().await.unwrap();
    let text = store::query_text(&mut c, sql).await.unwrap();
    drop(c);
    store.close().await;
    text
}

#[tokio::test]
async fn provisioning_parameters_resolve_most_specific_first() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        t.create(
            "/api/v1/phones",
            json!({"mac": "00562B300001", "model": "8861", "device_pool": "DP-HQ"}),
        )
        .await;
        t.create(
            "/api/v1/phones",
            json!({"mac": "00562B300002", "model": "7841", "device_pool": "DP-HQ"}),
        )
        .await;
        let put = |path: &'static str, body: Value| t.put(path, body);
        let (s, v) = put(
            "/api/v1/parameters/system",
            json!({"values": {"resync_periodic": "7200", "resync_random_delay": "3"}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, _) = put(
            "/api/v1/parameters/device_pool?target=DP-HQ",
            json!({"values": {"resync_periodic": "1800"}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let (s, set) = put(
            "/api/v1/parameters/device?target=SEP00562B300001",
            json!({"values": {"resync_at": "2560", "resync_from_sip": "no"}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{set}");
        assert_eq!(set["values"]["resync_from_sip"], "No");
        assert!(
            set["warnings"][0]["message"]
                .as_str()
                .unwrap()
                .contains("ignores it"),
            "an invalid Resync At is kept, with a warning: {set}"
        );

        let (_, r) = t.get("/api/v1/phones/SEP00562B300001/parameters").await;
        let p = |key: &str| {
            r["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["key"] == key)
                .unwrap()
                .clone()
        };
        assert_eq!(
            (
                p("resync_periodic")["value"].as_str(),
                p("resync_periodic")["origin"].as_str()
            ),
            (Some("1800"), Some("device_pool"))
        );
        assert_eq!(
            (
                p("resync_random_delay")["value"].as_str(),
                p("resync_random_delay")["origin"].as_str()
            ),
            (Some("3"), Some("system"))
        );
        assert_eq!(p("resync_from_sip")["origin_target"], "SEP00562B300001");
        assert_eq!(p("forced_resync_delay")["origin"], "default");
        assert_eq!(p("resync_at")["web_name"], "Resync At (HHmm)");
        assert_eq!(r["behaviour"]["random_delay_secs"], 60, "3 units of 20 s");
        assert_eq!(
            r["behaviour"]["periodic_secs"], 1800,
            "the invalid Resync At leaves Resync Periodic on"
        );
        assert_eq!(r["behaviour"]["resync_from_sip"], false);
        let (_, r2) = t.get("/api/v1/phones/SEP00562B300002/parameters").await;
        assert_eq!(
            r2["behaviour"]["resync_from_sip"], true,
            "the other phone keeps the default"
        );

        // Resync triggers are conditions (seeds 002 and 004), checked; a blank Profile Rule is
        // allowed and sent blank (seed 002: B to D still run).
        let (s, v) = put(
            "/api/v1/parameters/model?target=7841",
            json!({"values": {"resync_trigger_1": "$REGTMR1 300", "profile_rule": ""}}),
        )
        .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("values.resync_trigger_1")
            ),
            "{v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`300` where a comparison"),
            "{v}"
        );
        let (s, v) = put(
            "/api/v1/parameters/model?target=7841",
            json!({"values": {"resync_trigger_1": "$REGTMR1 gt 300 and $PRVTMR ge 1200", "profile_rule": "", "profile_rule_b": "http://10.0.0.5/$MA.xml"}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let mpp = t.file_preview("SEP00562B300002", "00562b300002.xml").await;
        assert!(
            mpp.contains("<Profile_Rule ua=\"na\"></Profile_Rule>"),
            "{mpp}"
        );
        assert!(mpp.contains("$REGTMR1 gt 300 and $PRVTMR ge 1200"), "{mpp}");

        // The phone record's retired `parameters`: refused, saying where they belong.
        let (s, v) = t
            .post("/api/v1/phones", json!({"mac": "00562B300003", "model": "8861", "parameters": {"resync_periodic": "60"}}))
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("parameters")),
            "{v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("/api/v1/parameters/device?target="),
            "{v}"
        );
        let (_, ph) = t.get("/api/v1/phones/SEP00562B300002").await;
        assert!(ph.get("parameters").is_none(), "{ph}");
        let (s, v) = t
            .patch(
                "/api/v1/phones/SEP00562B300002",
                json!({"version": ph["version"], "parameters": {"resync_periodic": "60"}}),
            )
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("parameters")),
            "{v}"
        );

        // Bad values and scopes are refused with the field; a set that exists needs its version.
        let (s, v) = put(
            "/api/v1/parameters/model?target=8861",
            json!({"values": {"resync_random_delay": "-2"}}),
        )
        .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("values.resync_random_delay")
            )
        );
        let (s, v) = put(
            "/api/v1/parameters/model?target=8861",
            json!({"values": {"profile_rule": "ftp://x/y"}}),
        )
        .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("values.profile_rule")
            )
        );
        let (s, v) = put(
            "/api/v1/parameters/model?target=9999",
            json!({"values": {}}),
        )
        .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("target"))
        );
        let (s, v) = put("/api/v1/parameters/galaxy", json!({"values": {}})).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("scope"))
        );
        let (s, v) = put(
            "/api/v1/parameters/device_pool?target=DP-HQ",
            json!({"values": {"resync_periodic": "60"}}),
        )
        .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("version"))
        );
        let (s, v) = put(
            "/api/v1/parameters/device_pool?target=DP-HQ",
            json!({"version": 1, "values": {"resync_periodic": "60"}}),
        )
        .await;
        assert_eq!((s, v["version"].as_i64()), (StatusCode::OK, Some(2)));
        let (s, v) = put(
            "/api/v1/parameters/device_pool?target=DP-HQ",
            json!({"version": 1, "values": {}}),
        )
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("stale"))
        );

        // A device's parameters go with it.
        let (s, _) = t.delete("/api/v1/phones/SEP00562B300001").await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, sets) = t.get("/api/v1/parameters").await;
        assert!(
            sets.as_array()
                .unwrap()
                .iter()
                .all(|s| s["scope"] != "device"),
            "{sets}"
        );
        let (s, _) = t
            .delete("/api/v1/parameters/device_pool?target=DP-HQ")
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        t.stop().await;
    }
}

/// A script opening many connections at once with the same Basic credentials: every request
/// is answered (the argon2 checks take turns, and the later ones find the first one's answer),
/// and a wrong password among them is still refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_basic_logins_at_once() {
    let db = TestDb::sqlite();
    let t = TestApp::spawn(&db).await;
    let mut all = tokio::task::JoinSet::new();
    for i in 0..48 {
        let (client, url) = (t.client.clone(), t.url("/api/v1/whoami"));
        let password = if i == 17 {
            "wrong-password"
        } else {
            common::PASSWORD
        };
        all.spawn(async move {
            let r = client
                .get(url)
                .basic_auth("admin", Some(password))
                .send()
                .await
                .unwrap();
            (i, r.status())
        });
    }
    while let Some(r) = all.join_next().await {
        let (i, status) = r.unwrap();
        let want = if i == 17 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        assert_eq!(status, want, "request {i}");
    }
    t.stop().await;
}

/// Users and voicemail subscribers found together (seed 000's "Manage User"), by ID, a user
/// before the subscriber of the same ID, conflicts between systems on each.
#[tokio::test]
async fn users_and_subscribers_are_found_together() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        t.create(
            "/api/v1/systems",
            json!({"name": "unity", "kind": "voicemail"}),
        )
        .await;
        t.create(
            "/api/v1/users",
            json!({"user_id": "jsmith", "first_name": "John", "last_name": "Smith"}),
        )
        .await;
        t.create(
            "/api/v1/users",
            json!({"user_id": "ann", "first_name": "Ann", "last_name": "Ash"}),
        )
        .await;
        t.create("/api/v1/voicemail-subscribers", json!({"alias": "jsmith", "system": "unity", "first_name": "Joe", "last_name": "Smith", "extension": "2000"})).await;
        t.create("/api/v1/voicemail-subscribers", json!({"alias": "bob", "system": "unity", "first_name": "Bob", "last_name": "Birch", "extension": "2001"})).await;
        let (s, v) = t.get("/api/v1/people").await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");
        let got: Vec<(String, String)> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["key"].as_str().unwrap().to_string(),
                    p["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let want = [
            ("ann", "user"),
            ("bob", "voicemail_subscriber"),
            ("jsmith", "user"),
            ("jsmith", "voicemail_subscriber"),
        ];
        assert_eq!(
            got,
            want.map(|(a, b)| (a.to_string(), b.to_string())),
            "[{l}] {v}"
        );
        assert_eq!(v["total"], 4);
        // John and Joe Smith share an ID: both say so.
        for p in &v["items"].as_array().unwrap()[2..] {
            assert!(!p["conflicts"].as_array().unwrap().is_empty(), "[{l}] {p}");
        }
        let (_, v) = t.get("/api/v1/people?q=js").await;
        assert_eq!(v["items"].as_array().unwrap().len(), 2, "[{l}] {v}");
        let (_, v) = t.get("/api/v1/people?limit=1&offset=1").await;
        assert_eq!(v["items"][0]["key"], "bob", "[{l}] {v}");
        let (_, v) = t.get("/api/v1/people?system=unity").await;
        assert_eq!(v["total"], 2, "[{l}] {v}");
        t.refused(
            t.get("/api/v1/people?offset=1000").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "offset",
        );
        t.stop().await;
    }
}

/// One place to add a person to both (seed 000's "Manage User"): the user and the subscriber
/// are added together, the subscriber taking the user's ID, names and PIN; when either part is
/// refused, neither is added, and the error names the part.
#[tokio::test]
async fn a_person_is_added_as_user_and_subscriber_or_not_at_all() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        t.create(
            "/api/v1/systems",
            json!({"name": "unity", "kind": "voicemail"}),
        )
        .await;
        let (s, p) = t
            .post("/api/v1/people", json!({"user": {"user_id": "kim", "first_name": "Kim", "last_name": "Lee", "pin": "24680"},
                "subscriber": {"extension": "3001"}}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "[{l}] {p}");
        assert_eq!(
            (
                p["subscriber"]["alias"].as_str(),
                p["subscriber"]["last_name"].as_str(),
                p["subscriber"]["has_pin"].as_bool(),
                p["user"]["has_pin"].as_bool()
            ),
            (Some("kim"), Some("Lee"), Some(true), Some(true)),
            "[{l}] {p}"
        );
        assert!(!p.to_string().contains("24680"), "[{l}]");
        let (_, people) = t.get("/api/v1/people?q=kim").await;
        assert_eq!(people["total"], 2, "[{l}] {people}");

        // The subscriber refused (no extension): no user either.
        let m = t.refused(
            t.post(
                "/api/v1/people",
                json!({"user": {"user_id": "lou", "last_name": "Lane"}, "subscriber": {}}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "subscriber.extension",
        );
        assert!(m.contains("extension"), "[{l}] {m}");
        assert_eq!(
            t.get("/api/v1/users/lou").await.0,
            StatusCode::NOT_FOUND,
            "[{l}] nothing half-added"
        );
        // The user refused: no subscriber.
        t.refused(
            t.post(
                "/api/v1/people",
                json!({"user": {"user_id": "max"}, "subscriber": {"extension": "3003"}}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "user.last_name",
        );
        assert_eq!(
            t.get("/api/v1/voicemail-subscribers/max").await.0,
            StatusCode::NOT_FOUND,
            "[{l}]"
        );
        // A subscriber alias taken already: refused before the user is added.
        let (s, v) = t
            .post("/api/v1/people", json!({"user": {"user_id": "nia", "last_name": "N"}, "subscriber": {"alias": "kim", "extension": "3004"}}))
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::CONFLICT, Some("subscriber.alias")),
            "[{l}] {v}"
        );
        assert_eq!(
            t.get("/api/v1/users/nia").await.0,
            StatusCode::NOT_FOUND,
            "[{l}]"
        );
        // A user alone.
        let (s, p) = t
            .post(
                "/api/v1/people",
                json!({"user": {"user_id": "oli", "last_name": "O"}}),
            )
            .await;
        assert_eq!(
            (s, p["subscriber"].is_null()),
            (StatusCode::CREATED, true),
            "[{l}] {p}"
        );
        t.stop().await;
    }
}

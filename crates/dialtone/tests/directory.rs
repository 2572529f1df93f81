//! The corporate directory's records over the REST API, on SQLite and PostgreSQL: LDAP
//! servers and LDAP profiles, with the seed's rules (docs/directory.md).

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::json;
use store::testing::TestDb;

const SERVERS: &str = "/api/v1/ldap-servers";
const PROFILES: &str = "/api/v1/ldap-profiles";

#[tokio::test]
async fn ldap_servers_and_profiles_follow_the_seeds_rules() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        // Servers: 389 by default, 636 for LDAPS, 3268 as given (a Global Catalog).
        let dc1 = t
            .create(SERVERS, json!({"name": "dc1", "host": "dc1.example.com"}))
            .await;
        assert_eq!(
            (
                dc1["port"].as_u64(),
                dc1["directory_type"].as_str(),
                dc1["security"].as_str()
            ),
            (Some(389), Some("active_directory"), Some("tcp")),
            "[{l}] {dc1}"
        );
        let dc2 = t.create(SERVERS, json!({"name": "dc2", "host": "10.0.0.6", "security": "ldaps", "ca_file": "/etc/ssl/corp-ca.pem"})).await;
        assert_eq!(dc2["port"], 636, "[{l}]");
        t.create(
            SERVERS,
            json!({"name": "gc", "host": "gc.example.com", "port": 3268}),
        )
        .await;
        t.create(SERVERS, json!({"name": "openldap1", "host": "ldap.example.com", "directory_type": "openldap", "security": "start_tls"})).await;
        t.refused(
            t.post(SERVERS, json!({"name": "bad", "host": "not a host"}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "host",
        );
        t.refused(
            t.post(
                SERVERS,
                json!({"name": "bad", "host": "h", "ca_file": "ca.pem"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "ca_file",
        );
        t.refused(
            t.post(SERVERS, json!({"name": "dc1", "host": "h"})).await,
            StatusCode::CONFLICT,
            "name",
        );

        // Profiles: the servers must exist, be of one type, a primary and at most two backups.
        let m = t.refused(
            t.post(PROFILES, json!({"name": "Corp", "bind_dn": "cn=reader,dc=example,dc=com", "primary_server": "nope"})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "primary_server",
        );
        assert!(m.contains("add it first"), "[{l}] {m}");
        let m = t.refused(
            t.post(PROFILES, json!({"name": "Corp", "anonymous_bind": true, "bind_dn": "cn=x", "primary_server": "dc1"})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "anonymous_bind",
        );
        assert!(m.contains("no bind DN or password"), "[{l}] {m}");
        let m = t.refused(
            t.post(PROFILES, json!({"name": "Corp", "bind_dn": "cn=reader", "primary_server": "dc1", "backup_servers": ["openldap1"]})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "backup_servers",
        );
        assert!(m.contains("one directory type"), "[{l}] {m}");
        t.refused(
            t.post(PROFILES, json!({"name": "Corp", "bind_dn": "cn=reader", "primary_server": "dc1", "backup_servers": ["dc2", "gc", "dc1"]})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "backup_servers",
        );
        let corp = t.create(PROFILES, json!({"name": "Corp", "bind_dn": "cn=reader,cn=users,dc=example,dc=com",
            "password": "s3cret-bind", "search_context": "cn=users,dc=example,dc=com", "recursive": true,
            "primary_server": "dc1", "backup_servers": ["dc2", "gc"], "default_profile": true})).await;
        assert_eq!(corp["has_password"], true, "[{l}]");
        assert!(!corp.to_string().contains("s3cret-bind"), "[{l}] {corp}");
        assert_eq!(corp["backup_servers"], json!(["dc2", "gc"]));
        let stored = store_text(&db, "SELECT password_enc FROM ldap_profiles").await;
        assert!(
            !stored.contains("s3cret-bind") && !stored.is_empty(),
            "[{l}] sealed at rest: {stored}"
        );
        // One default profile at a time.
        let other = t.create(PROFILES, json!({"name": "Lab", "anonymous_bind": true, "primary_server": "openldap1", "default_profile": true})).await;
        assert_eq!(other["default_profile"], true);
        let (_, corp) = t.get(&format!("{PROFILES}/Corp")).await;
        assert_eq!(corp["default_profile"], false, "[{l}] {corp}");

        // What is in use stays: a server of a profile, a profile of users.
        let (_, dc1) = t.get(&format!("{SERVERS}/dc1")).await;
        assert_eq!(dc1["used_by"], json!(["Corp"]));
        t.refused(
            t.delete(&format!("{SERVERS}/dc1")).await,
            StatusCode::CONFLICT,
            "name",
        );
        let m = t.refused(
            t.patch(
                &format!("{SERVERS}/dc1"),
                json!({"version": dc1["version"], "directory_type": "openldap"}),
            )
            .await,
            StatusCode::CONFLICT,
            "directory_type",
        );
        assert!(m.contains("Corp"), "[{l}] {m}");
        t.create(
            "/api/v1/users",
            json!({"user_id": "ada", "last_name": "Lovelace", "app_profiles": {"ldap": "Corp"}}),
        )
        .await;
        // A user's LDAP profile must exist; a new user without one gets the default (Lab).
        let m = t.refused(
            t.post(
                "/api/v1/users",
                json!({"user_id": "eve", "last_name": "E", "app_profiles": {"ldap": "Nope"}}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "app_profiles.ldap",
        );
        assert!(m.contains("there is no LDAP profile Nope"), "[{l}] {m}");
        let bob = t
            .create("/api/v1/users", json!({"user_id": "bob", "last_name": "B"}))
            .await;
        assert_eq!(bob["app_profiles"]["ldap"], "Lab", "[{l}] {bob}");
        let (_, corp) = t.get(&format!("{PROFILES}/Corp")).await;
        assert_eq!(corp["users"], 1, "[{l}]");
        let m = t.refused(
            t.delete(&format!("{PROFILES}/Corp")).await,
            StatusCode::CONFLICT,
            "name",
        );
        assert!(m.contains("ada"), "[{l}] {m}");
        // A rename carries the users along; the password stays when left out, "" removes it.
        let (s, corp) = t
            .patch(
                &format!("{PROFILES}/Corp"),
                json!({"version": corp["version"], "name": "Corporate"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {corp}");
        assert_eq!(corp["has_password"], true);
        let (_, ada) = t.get("/api/v1/users/ada").await;
        assert_eq!(ada["app_profiles"]["ldap"], "Corporate", "[{l}] {ada}");
        let (s, corp) = t
            .patch(&format!("{PROFILES}/Corporate"), json!({"version": corp["version"], "password": "", "bind_dn": "", "anonymous_bind": true}))
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {corp}");
        assert_eq!(corp["has_password"], false);
        let (s, v) = t
            .patch(
                &format!("{PROFILES}/Corporate"),
                json!({"version": 1, "recursive": false}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "[{l}] a stale version: {v}");

        let (_, audit) = t.get("/api/v1/audit?limit=100").await;
        let resources: Vec<&str> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["resource"].as_str())
            .collect();
        assert!(
            resources.contains(&"ldap_server") && resources.contains(&"ldap_profile"),
            "[{l}] {resources:?}"
        );
        assert!(!audit.to_string().contains("s3cret-bind"));
        t.stop().await;
    }
}

async fn store_text(db: &TestDb, sql: &str) -> String {
    let s = store::Store::connect(&db.url).await.unwrap();
    let mut c = s.read().await.unwrap();
    store::query_text(&mut c, sql).await.unwrap()
}

/// The attribute map: Active Directory's factory defaults, the seed's rules (the user ID
/// mapped, one LDAP field per Dialtone field, a photo URL template of at most 50 characters),
/// and "Restore Defaults" per directory type.
#[tokio::test]
async fn the_attribute_map_keeps_the_seeds_rules() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        const MAP: &str = "/api/v1/ldap-attribute-map";
        let (s, m) = t.get(MAP).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            (
                m["directory_type"].as_str(),
                m["fields"]["user_id"].as_str(),
                m["fields"]["last_name"].as_str()
            ),
            (Some("active_directory"), Some("sAMAccountName"), Some("sn")),
            "[{l}] {m}"
        );
        let mut bad = m.clone();
        bad["fields"]["user_id"] = json!("");
        t.refused(
            t.put(MAP, bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "fields.user_id",
        );
        let mut bad = m.clone();
        bad["fields"]["nickname"] = json!("sn");
        let msg = t.refused(
            t.put(MAP, bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "fields.nickname",
        );
        assert!(msg.contains("already mapped to last_name"), "[{l}] {msg}");
        let mut bad = m.clone();
        bad["fields"]["photo"] =
            json!("http://wwwin.cisco.com/dir/photo/std/%%sAMAccountName%%.jpg");
        let msg = t.refused(
            t.put(MAP, bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "fields.photo",
        );
        assert!(msg.contains("at most 50 characters"), "[{l}] {msg}");
        let mut good = m.clone();
        good["fields"]["photo"] = json!("http://tinyurl.com/2rwkf9/%%sAMAccountName%%");
        let (s, v) = t.put(MAP, good).await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");
        let (_, m) = t.get(MAP).await;
        assert_eq!(
            m["fields"]["photo"], "http://tinyurl.com/2rwkf9/%%sAMAccountName%%",
            "[{l}]"
        );
        let (s, m) = t
            .post(
                &format!("{MAP}/restore-defaults"),
                json!({"directory_type": "openldap"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {m}");
        assert_eq!(
            (
                m["directory_type"].as_str(),
                m["fields"]["user_id"].as_str(),
                m["fields"]["photo"].as_str()
            ),
            (Some("openldap"), Some("uid"), Some("jpegPhoto")),
            "[{l}]"
        );
        let (_, audit) = t.get("/api/v1/audit?limit=20").await;
        assert!(
            audit["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["resource"] == "ldap_attribute_map" && e["result"] == "ok"),
            "[{l}]"
        );
        t.stop().await;
    }
}

#[path = "../../ldap/tests/support/slapd.rs"]
mod slapd;

/// A user as the API answers it.
async fn user(t: &TestApp, id: &str) -> serde_json::Value {
    let (s, u) = t.get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{u}");
    u
}

#[tokio::test]
async fn an_ldap_sync_reads_a_real_slapd_and_keeps_dialtone_in_step() {
    let (Some(slapd_bin), Some(slapadd)) = (slapd::program("slapd"), slapd::program("slapadd"))
    else {
        return;
    };
    let Some(_) = slapd::program("ldapmodify") else {
        return;
    };
    for db in TestDb::all().await {
        let d = slapd::start(&slapd_bin, &slapadd, 300);
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let dead = slapd::free_port();
        t.create(SERVERS, json!({"name": "dead", "host": "127.0.0.1", "port": dead, "directory_type": "openldap"})).await;
        t.create(SERVERS, json!({"name": "ldap1", "host": "127.0.0.1", "port": d.port, "directory_type": "openldap"})).await;
        t.create(PROFILES, json!({
            "name": "corp", "bind_dn": format!("cn=reader,{}", slapd::SUFFIX), "password": "reader-pw",
            "search_context": format!("ou=people,{}", slapd::SUFFIX), "recursive": true,
            "primary_server": "dead", "backup_servers": ["ldap1"]
        }))
        .await;
        t.put(
            "/api/v1/ldap-attribute-map",
            json!({"directory_type": "openldap", "fields": model::AttributeFields::preset(model::DirectoryType::OpenLdap)}),
        )
        .await;
        // A local user the directory also has becomes synced; another stays local.
        t.create(
            "/api/v1/users",
            json!({"user_id": "user0007", "last_name": "Local"}),
        )
        .await;
        t.create(
            "/api/v1/users",
            json!({"user_id": "localonly", "last_name": "Kept"}),
        )
        .await;
        let sync = "/api/v1/ldap-profiles/corp/sync";

        // The dry run: the plan, through the dead primary to its backup; nothing written.
        let (s, r) = t.post(sync, json!({"dry_run": true})).await;
        assert_eq!(s, StatusCode::OK, "[{l}] {r}");
        assert_eq!(
            (
                r["to_create"].as_u64(),
                r["to_update"].as_u64(),
                r["server"].as_str()
            ),
            (Some(299), Some(1), Some("ldap1")),
            "[{l}] {r}"
        );
        assert_eq!(r["unreachable"].as_array().unwrap().len(), 1, "[{l}]");
        let u7 = &r["update"][0];
        assert_eq!(u7["user_id"], "user0007");
        assert!(u7["becomes_synced"].as_bool().unwrap());
        assert!(
            u7["changes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["field"] == "last_name"
                    && c["stored"] == "Local"
                    && c["directory"] == "Last0007"),
            "[{l}] {u7}"
        );
        let (_, users) = t.get("/api/v1/users?limit=1").await;
        assert_eq!(users["total"], 2, "[{l}] a dry run writes nothing");

        // The run: 299 created, 1 updated, each audited; the sync's summary kept on the profile.
        let (s, r) = t.post(sync, json!({})).await;
        assert_eq!(s, StatusCode::OK, "[{l}] {r}");
        assert_eq!(r["failed_users"], 0, "[{l}] {r}");
        assert_eq!(
            (r["created"].as_u64(), r["updated"].as_u64()),
            (Some(299), Some(1)),
            "[{l}]"
        );
        let u = user(&t, "user0042").await;
        assert_eq!(
            (
                u["first_name"].as_str(),
                u["last_name"].as_str(),
                u["mail"].as_str(),
                u["telephone_number"].as_str()
            ),
            (
                Some("First0042"),
                Some("Last0042"),
                Some("user0042@example.com"),
                Some("+1 408 555 0042")
            ),
            "[{l}]"
        );
        assert_eq!(
            (
                u["ldap_synced"].as_bool(),
                u["app_profiles"]["ldap"].as_str()
            ),
            (Some(true), Some("corp")),
            "[{l}]"
        );
        let u7 = user(&t, "user0007").await;
        assert_eq!(
            (u7["last_name"].as_str(), u7["ldap_synced"].as_bool()),
            (Some("Last0007"), Some(true)),
            "[{l}]"
        );
        let (_, p) = t.get("/api/v1/ldap-profiles/corp").await;
        assert!(
            p["last_sync"]
                .as_str()
                .unwrap()
                .starts_with("299 created, 1 updated, 0 unchanged, 0 made inactive"),
            "[{l}] {p}"
        );
        let (_, audit) = t.get("/api/v1/audit?q=user0042").await;
        assert!(
            audit["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "create" && e["target"] == "user0042"),
            "[{l}] {audit}"
        );

        // Synced fields are read-only, with the reason; the others are not.
        let v = u["version"].as_i64().unwrap();
        let msg = t.refused(
            t.patch(
                "/api/v1/users/user0042",
                json!({"version": v, "last_name": "Other"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "last_name",
        );
        assert!(msg.contains("synced from LDAP"), "[{l}] {msg}");
        let (s, _) = t
            .patch(
                "/api/v1/users/user0042",
                json!({"version": v, "groups": ["sales"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}]");

        // The same directory again: nothing to do.
        let (_, r) = t.post(sync, json!({})).await;
        assert_eq!(
            (
                r["unchanged"].as_u64(),
                r["created"].as_u64(),
                r["updated"].as_u64()
            ),
            (Some(300), Some(0), Some(0)),
            "[{l}] {r}"
        );

        // A change and a removal in the directory: one update, one made inactive.
        slapd::modify(
            &d,
            &format!(
                "dn: uid=user0042,ou=people,{s}\nchangetype: modify\nreplace: sn\nsn: Married\n\n\
             dn: uid=user0043,ou=people,{s}\nchangetype: delete\n",
                s = slapd::SUFFIX
            ),
        );
        let (_, r) = t.post(sync, json!({"dry_run": true})).await;
        assert_eq!(
            (r["to_update"].as_u64(), r["to_deactivate"].as_u64()),
            (Some(1), Some(1)),
            "[{l}] {r}"
        );
        let (_, r) = t.post(sync, json!({})).await;
        assert_eq!(
            (
                r["updated"].as_u64(),
                r["deactivated"].as_u64(),
                r["unchanged"].as_u64()
            ),
            (Some(1), Some(1), Some(298)),
            "[{l}] {r}"
        );
        assert_eq!(user(&t, "user0042").await["last_name"], "Married", "[{l}]");
        let gone = user(&t, "user0043").await;
        assert!(gone["ldap_inactive_since"].is_string(), "[{l}] {gone}");
        assert!(
            user(&t, "localonly").await["ldap_inactive_since"].is_null(),
            "[{l}] a local user is not the sync's"
        );
        // The directory phones and soft clients search shows the synced users, not the one
        // who left.
        let (s, found) = phone_get(&t, "/directory/contacts?last=last004").await;
        assert_eq!(s, StatusCode::OK, "[{l}] {found}");
        let found: serde_json::Value = serde_json::from_str(&found).unwrap();
        let ids: Vec<&str> = found["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["user_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids.len(),
            8,
            "[{l}] 0040-0049 less 0043 (gone) and 0042 (now Married): {found}"
        );
        assert!(!ids.contains(&"user0043"), "[{l}] {found}");
        assert_eq!(
            found["contacts"][0]["name"], "First0040 Last0040",
            "[{l}] {found}"
        );
        assert_eq!(
            found["contacts"][0]["number"], "+1 408 555 0040",
            "[{l}] {found}"
        );

        // A bad bind password: a clear error, and nothing changed.
        let (_, p) = t.get("/api/v1/ldap-profiles/corp").await;
        t.patch(
            "/api/v1/ldap-profiles/corp",
            json!({"version": p["version"], "password": "wrong"}),
        )
        .await;
        slapd::modify(
            &d,
            &format!(
                "dn: uid=user0044,ou=people,{s}\nchangetype: modify\nreplace: sn\nsn: Never\n",
                s = slapd::SUFFIX
            ),
        );
        let (s, e) = t.post(sync, json!({})).await;
        assert_eq!(s, StatusCode::BAD_GATEWAY, "[{l}] {e}");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("refused the bind") && msg.contains("cn=reader"),
            "[{l}] {msg}"
        );
        assert_eq!(user(&t, "user0044").await["last_name"], "Last0044", "[{l}]");
        let (_, p) = t.get("/api/v1/ldap-profiles/corp").await;
        assert!(
            p["last_sync"]
                .as_str()
                .unwrap()
                .contains("refused the bind"),
            "[{l}] {p}"
        );

        // The CLI on the same database: the dry run says what it would do.
        t.patch(
            "/api/v1/ldap-profiles/corp",
            json!({"version": p["version"], "password": "reader-pw"}),
        )
        .await;
        let out = common::dialtone(&db, &["ldap", "sync", "corp", "--dry-run"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "[{l}] {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("1 to update")
                && text.contains("~ user0044: last_name: \"Last0044\" → \"Never\""),
            "[{l}] {text}"
        );
        t.stop().await;
    }
}

/// A GET on the phone listener: status and body.
async fn phone_get(t: &TestApp, path_and_query: &str) -> (StatusCode, String) {
    let url = format!("http://{}{path_and_query}", t.app.http_addr.unwrap());
    let r = t.client.get(url).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The text of every `tag` element of an XML document, in order.
fn texts(xml: &str, tag: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    doc.descendants()
        .filter(|n| n.has_tag_name(tag))
        .map(|n| n.text().unwrap_or_default().to_string())
        .collect()
}

/// The names of a `CiscoIPPhoneDirectory`'s entries.
fn entry_names(xml: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("DirectoryEntry"))
        .filter_map(|e| e.children().find(|c| c.has_tag_name("Name")))
        .map(|n| n.text().unwrap_or_default().to_string())
        .collect()
}

/// The URL of the soft key `name` of a Cisco IP Phone XML object.
fn soft_key(xml: &str, name: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("SoftKeyItem"))
        .find(|k| {
            k.children()
                .any(|c| c.has_tag_name("Name") && c.text() == Some(name))
        })
        .and_then(|k| k.children().find(|c| c.has_tag_name("URL")))
        .and_then(|u| u.text().map(str::to_string))
}

#[tokio::test]
async fn phones_and_soft_clients_search_the_corporate_directory() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        for i in 1..=40 {
            t.create(
                "/api/v1/users",
                json!({"user_id": format!("smith{i:02}"), "first_name": format!("A{i:02}"), "last_name": "Smith",
                       "telephone_number": format!("+1408555{i:04}")}),
            )
            .await;
        }
        t.create("/api/v1/lines", json!({"pattern": "2001"})).await;
        t.create(
            "/api/v1/users",
            json!({"user_id": "jjones", "first_name": "Jo", "last_name": "Jones", "primary_extension": "2001"}),
        )
        .await;
        t.create(
            "/api/v1/users",
            json!({"user_id": "nonumber", "last_name": "Jonas"}),
        )
        .await;
        t.create(
            "/api/v1/phones",
            json!({"mac": "00562B000101", "model": "7960"}),
        )
        .await;

        // A phone's file leads to the directory (Directories button) and to the services menu
        // that lists it (the system has no services URL of its own).
        let (s, file) = phone_get(&t, "/SEP00562B000101.cnf.xml").await;
        assert_eq!(s, StatusCode::OK, "[{l}] {file}");
        let phone_http = format!("http://{}", t.app.http_addr.unwrap());
        assert_eq!(
            texts(&file, "directoryURL"),
            [format!("{phone_http}/services/directory")],
            "[{l}]"
        );
        assert_eq!(
            texts(&file, "servicesURL"),
            [format!("{phone_http}/services?device=SEP00562B000101")],
            "[{l}]"
        );
        let (_, menu) = phone_get(&t, "/services?device=SEP00562B000101").await;
        assert_eq!(
            texts(&menu, "Name"),
            ["Extension Mobility", "Corporate directory"],
            "[{l}] {menu}"
        );
        assert_eq!(
            texts(&menu, "URL"),
            [
                format!("{phone_http}/services/em?device=SEP00562B000101"),
                format!("{phone_http}/services/directory")
            ],
            "[{l}]"
        );
        let (_, form) = phone_get(&t, "/services/directory").await;
        assert_eq!(
            texts(&form, "QueryStringParam"),
            ["first", "last", "number"],
            "[{l}] {form}"
        );
        assert_eq!(texts(&form, "InputFlags"), ["A", "A", "T"], "[{l}]");
        assert_eq!(
            texts(&form, "URL"),
            [format!("{phone_http}/services/directory/search")],
            "[{l}]"
        );

        // 40 Smiths: 32 on the first page (a phone shows no more), 8 on the next.
        let (_, p1) = phone_get(&t, "/services/directory/search?last=smi").await;
        let names = entry_names(&p1);
        assert_eq!(names[0], "A01 Smith", "[{l}] {p1}");
        assert_eq!(texts(&p1, "Telephone").len(), 32, "[{l}] {p1}");
        assert_eq!(texts(&p1, "Telephone")[31], "+14085550032", "[{l}]");
        assert_eq!(
            texts(&p1, "Prompt"),
            ["Records 1 to 32 (more follow)"],
            "[{l}]"
        );
        assert_eq!(
            soft_key(&p1, "Dial").as_deref(),
            Some("SoftKey:Dial"),
            "[{l}]"
        );
        assert_eq!(soft_key(&p1, "Previous"), None, "[{l}]");
        let next = soft_key(&p1, "Next").expect("a Next key");
        let (_, p2) = phone_get(&t, next.strip_prefix(&phone_http).unwrap()).await;
        assert_eq!(texts(&p2, "Telephone").len(), 8, "[{l}] {p2}");
        assert_eq!(texts(&p2, "Prompt"), ["Records 33 to 40"], "[{l}]");
        assert_eq!(soft_key(&p2, "Next"), None, "[{l}]");
        assert!(
            soft_key(&p2, "Previous").unwrap().contains("page=1"),
            "[{l}]"
        );
        // By first name and last name together, any case; by number (the extension serves
        // for a user without a business number); a user with no number is not on a phone.
        let (_, one) = phone_get(&t, "/services/directory/search?first=a0&last=SMITH").await;
        assert_eq!(texts(&one, "Telephone").len(), 9, "[{l}] {one}");
        let (_, by_number) =
            phone_get(&t, "/services/directory/search?number=%2B140855500%31%30").await;
        assert_eq!(entry_names(&by_number), ["A10 Smith"], "[{l}] {by_number}");
        let (_, jo) = phone_get(&t, "/services/directory/search?last=jon").await;
        assert_eq!(entry_names(&jo), ["Jo Jones"], "[{l}] {jo}");
        assert_eq!(texts(&jo, "Telephone"), ["2001"], "[{l}]");
        let (_, none) = phone_get(&t, "/services/directory/search?last=zz").await;
        assert_eq!(texts(&none, "Prompt"), ["No one found"], "[{l}] {none}");
        let (_, bad) = phone_get(&t, "/services/directory/search?number=12ab").await;
        assert!(
            bad.contains("<CiscoIPPhoneText>") && bad.contains("a number is digits"),
            "[{l}] {bad}"
        );

        // Soft clients: the same search as JSON, everyone (with a number or not), with photo
        // URLs from the attribute map's template.
        let (_, map) = t.get("/api/v1/ldap-attribute-map").await;
        let mut map = map;
        map["fields"]["photo"] = json!("http://p.example/%%sAMAccountName%%.jpg");
        let (s, v) = t.put("/api/v1/ldap-attribute-map", map).await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");
        let (s, j) = phone_get(&t, "/directory/contacts?last=jon&per_page=5").await;
        assert_eq!(s, StatusCode::OK, "[{l}] {j}");
        let j: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(
            j["contacts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["user_id"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["nonumber", "jjones"],
            "[{l}] {j}"
        );
        assert_eq!(
            j["contacts"][1]["photo_url"], "http://p.example/jjones.jpg",
            "[{l}]"
        );
        assert_eq!(j["contacts"][0]["name"], "Jonas", "[{l}] {j}");
        assert_eq!(
            (j["page"].as_u64(), j["more"].as_bool()),
            (Some(1), Some(false)),
            "[{l}]"
        );
        let (_, j) = phone_get(&t, "/directory/contacts?last=smith&per_page=30&page=2").await;
        let j: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(j["contacts"].as_array().unwrap().len(), 10, "[{l}] {j}");
        assert_eq!(j["contacts"][0]["user_id"], "smith31", "[{l}]");
        // What cannot be read is a bad request; what is read and wrong, invalid.
        const BAD: StatusCode = StatusCode::BAD_REQUEST;
        const INVALID: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
        for (q, status, field) in [
            ("per_page=500", INVALID, "per_page"),
            ("page=two", BAD, "page"),
            ("surname=x", BAD, "surname"),
            ("number=x1", INVALID, "number"),
        ] {
            let (s, e) = phone_get(&t, &format!("/directory/contacts?{q}")).await;
            let e: serde_json::Value = serde_json::from_str(&e).unwrap();
            assert_eq!(
                (s, e["error"]["field"].as_str()),
                (status, Some(field)),
                "[{l}] {q}: {e}"
            );
        }
        t.stop().await;
    }
}

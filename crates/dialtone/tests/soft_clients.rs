//! The servers soft clients learn of (seed 003; docs/soft-clients.md), on both backends:
//! presence subclusters and home nodes, proxy profiles, CTI gateway servers and profiles, the
//! shared settings, application profiles, and the soft client's file a real HTTP client reads.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::testing::TestDb;

/// A GET on the phone listener: status and body.
async fn phone_get(t: &TestApp, path: &str) -> (StatusCode, String) {
    let url = format!("http://{}{path}", t.app.http_addr.unwrap());
    let r = t.client.get(url).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The text of the first element `path` (tags from the root down, `/` between).
fn at(xml: &str, path: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let mut node = doc.root_element();
    for tag in path.split('/') {
        node = node.children().find(|c| c.has_tag_name(tag))?;
    }
    Some(node.text().unwrap_or_default().to_string())
}

/// The texts of every `tag` under the first element `path`.
fn all(xml: &str, path: &str, tag: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let mut node = doc.root_element();
    for t in path.split('/') {
        match node.children().find(|c| c.has_tag_name(t)) {
            Some(n) => node = n,
            None => return Vec::new(),
        }
    }
    node.descendants()
        .filter(|n| n.has_tag_name(tag))
        .map(|n| n.text().unwrap_or_default().to_string())
        .collect()
}

async fn version(t: &TestApp, path: &str) -> Value {
    let (s, v) = t.get(path).await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v["version"].clone()
}

#[tokio::test]
async fn soft_clients_get_presence_proxy_cti_and_directory_servers() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        const INVALID: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

        // CTI gateway servers made from the call-control servers (port 2748, TCP), with a
        // default profile over them; asking again makes nothing new.
        let v = version(&t, "/api/v1/systems/default").await;
        let (s, sys) = t
            .patch(
                "/api/v1/systems/default",
                json!({"version": v, "settings": {"servers": [{"host": "CM1.example.com"}, {"host": "cm2.example.com"}]}}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {sys}");
        let (s, made) = t
            .post("/api/v1/cti-gateway-servers/from-systems", json!(null))
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {made}");
        assert_eq!(
            made["servers"],
            json!(["cm1.example.com", "cm2.example.com"]),
            "[{l}]"
        );
        assert_eq!(made["profiles"], json!(["default-cti-tcp"]), "[{l}]");
        let (_, again) = t
            .post("/api/v1/cti-gateway-servers/from-systems", json!(null))
            .await;
        assert_eq!(again, json!({"servers": [], "profiles": []}), "[{l}]");
        let (_, cm1) = t.get("/api/v1/cti-gateway-servers/cm1.example.com").await;
        assert_eq!(
            (
                cm1["port"].as_u64(),
                cm1["protocol"].as_str(),
                cm1["used_by"].clone()
            ),
            (Some(2748), Some("tcp"), json!(["default-cti-tcp"])),
            "[{l}] {cm1}"
        );
        let (_, p) = t.get("/api/v1/cti-gateway-profiles/default-cti-tcp").await;
        assert_eq!(
            (
                p["primary"].as_str(),
                p["backups"].clone(),
                p["default_profile"].as_bool()
            ),
            (
                Some("cm1.example.com"),
                json!(["cm2.example.com"]),
                Some(true)
            ),
            "[{l}] {p}"
        );
        let e = t.refused(
            t.post(
                "/api/v1/cti-gateway-servers",
                json!({"name": "x", "host": "10.0.0.9", "protocol": "udp"}),
            )
            .await,
            INVALID,
            "protocol",
        );
        assert!(e.contains("TCP"), "[{l}] {e}");
        t.refused(
            t.post(
                "/api/v1/cti-gateway-profiles",
                json!({"name": "p", "primary": "nope"}),
            )
            .await,
            INVALID,
            "primary",
        );
        t.refused(
            t.delete("/api/v1/cti-gateway-servers/cm2.example.com")
                .await,
            StatusCode::CONFLICT,
            "name",
        );

        // Proxy profiles: TCP only, with the seed's reason; no backup proxy.
        let e = t.refused(
            t.post(
                "/api/v1/proxy-profiles",
                json!({"name": "p", "listener": "udp", "primary_proxy": "cup1.example.com"}),
            )
            .await,
            INVALID,
            "listener",
        );
        assert!(e.contains("large contact lists"), "[{l}] {e}");
        t.refused(
            t.post(
                "/api/v1/proxy-profiles",
                json!({"name": "p", "primary_proxy": "cup1", "backup_proxy": "cup2"}),
            )
            .await,
            INVALID,
            "backup_proxy",
        );
        t.create(
            "/api/v1/proxy-profiles",
            json!({"name": "cup-proxy", "primary_proxy": "cup1.example.com:5060"}),
        )
        .await;

        // Presence subclusters: a node is in one subcluster.
        t.create("/api/v1/presence-subclusters", json!({"name": "sc1", "primary_node": "cup1.example.com", "secondary_node": "cup2.example.com"})).await;
        t.create("/api/v1/presence-subclusters", json!({"name": "sc2", "primary_node": "cup3.example.com", "secondary_node": "cup4.example.com"})).await;
        t.refused(
            t.post(
                "/api/v1/presence-subclusters",
                json!({"name": "sc3", "primary_node": "cup2.example.com"}),
            )
            .await,
            StatusCode::CONFLICT,
            "primary_node",
        );

        // The shared settings: IM on and 200 contacts by default; a primary TFTP server needed.
        let (_, d) = t.get("/api/v1/soft-client-settings").await;
        assert_eq!(
            d,
            json!({"instant_messaging": true, "max_contact_list": 200, "tftp_servers": []}),
            "[{l}]"
        );
        t.refused(
            t.put(
                "/api/v1/soft-client-settings",
                json!({"instant_messaging": false}),
            )
            .await,
            INVALID,
            "tftp_servers[0]",
        );
        t.refused(
            t.put(
                "/api/v1/soft-client-settings",
                json!({"max_contact_list": 201, "tftp_servers": ["tftp1"]}),
            )
            .await,
            INVALID,
            "max_contact_list",
        );
        let (s, v) = t
            .put(
                "/api/v1/soft-client-settings",
                json!({"instant_messaging": false, "max_contact_list": 50, "tftp_servers": ["tftp1.example.com", "tftp2.example.com"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");

        // An LDAP profile with a password the file must never carry.
        t.create(
            "/api/v1/ldap-servers",
            json!({"name": "dc1", "host": "dc1.example.com"}),
        )
        .await;
        t.create("/api/v1/ldap-profiles", json!({"name": "corp", "primary_server": "dc1", "bind_dn": "cn=reader,dc=example,dc=com",
            "password": "Bind-Secret-42", "search_context": "ou=people,dc=example,dc=com", "recursive": true})).await;

        // Application profiles must exist.
        for (field, body) in [
            (
                "app_profiles.cti",
                json!({"user_id": "x", "last_name": "X", "app_profiles": {"cti": "nope"}}),
            ),
            (
                "app_profiles.proxy",
                json!({"user_id": "x", "last_name": "X", "app_profiles": {"proxy": "nope"}}),
            ),
            (
                "app_profiles.voicemail",
                json!({"user_id": "x", "last_name": "X", "app_profiles": {"voicemail": "nope"}}),
            ),
            (
                "presence_home_node",
                json!({"user_id": "x", "last_name": "X", "presence_home_node": "cup9.example.com"}),
            ),
        ] {
            t.refused(t.post("/api/v1/users", body).await, INVALID, field);
        }
        // A soft-client user: the default CTI profile, homed on the node with the fewest users.
        let u = t
            .create(
                "/api/v1/users",
                json!({"user_id": "jsmith", "first_name": "John", "last_name": "Smith",
                       "capabilities": {"soft_client": true, "presence": true},
                       "app_profiles": {"proxy": "cup-proxy", "ldap": "corp"}}),
            )
            .await;
        assert_eq!(
            (
                u["app_profiles"]["cti"].as_str(),
                u["presence_home_node"].as_str()
            ),
            (Some("default-cti-tcp"), Some("cup1.example.com")),
            "[{l}] {u}"
        );
        let u2 = t
            .create(
                "/api/v1/users",
                json!({"user_id": "adoe", "last_name": "Doe", "capabilities": {"soft_client": true}}),
            )
            .await;
        assert_eq!(
            u2["presence_home_node"], "cup2.example.com",
            "[{l}] the least loaded node"
        );
        t.create(
            "/api/v1/phones",
            json!({"model": "CUPC", "owner_user_id": "jsmith"}),
        )
        .await;

        // The file a soft client reads carries it all, under both names.
        let (s, file) = phone_get(&t, "/UPCJSMITH.cnf.xml").await;
        assert_eq!(s, StatusCode::OK, "[{l}] {file}");
        let (_, csf) = phone_get(&t, "/CSFJSMITH.cnf.xml").await;
        assert_eq!(csf, file, "[{l}] the Jabber-style name reads the same file");
        assert_eq!(
            all(&file, "tftpServers", "server"),
            ["tftp1.example.com", "tftp2.example.com"],
            "[{l}]"
        );
        assert_eq!(
            at(&file, "softClient/userId").as_deref(),
            Some("jsmith"),
            "[{l}]"
        );
        assert_eq!(
            at(&file, "softClient/presence/homeNode").as_deref(),
            Some("cup1.example.com"),
            "[{l}]"
        );
        assert_eq!(
            at(&file, "softClient/presence/failoverNode").as_deref(),
            Some("cup2.example.com"),
            "[{l}]"
        );
        assert_eq!(
            at(&file, "softClient/presence/instantMessaging").as_deref(),
            Some("false"),
            "[{l}]"
        );
        assert_eq!(
            at(&file, "softClient/presence/maxContactListSize").as_deref(),
            Some("50"),
            "[{l}]"
        );
        assert_eq!(
            at(&file, "softClient/proxy/listener").as_deref(),
            Some("TCP"),
            "[{l}]"
        );
        assert_eq!(
            at(&file, "softClient/proxy/server").as_deref(),
            Some("cup1.example.com:5060"),
            "[{l}]"
        );
        assert_eq!(
            all(&file, "softClient/ctiGateway", "host"),
            ["cm1.example.com", "cm2.example.com"],
            "[{l}]"
        );
        assert_eq!(
            all(&file, "softClient/ctiGateway", "port"),
            ["2748", "2748"],
            "[{l}]"
        );
        assert_eq!(
            at(&file, "softClient/ctiGateway/reconnectSeconds").as_deref(),
            Some("4,8,16,32,60"),
            "[{l}]"
        );
        assert_eq!(
            all(&file, "softClient/ldap", "host"),
            ["dc1.example.com"],
            "[{l}]"
        );
        assert_eq!(
            at(&file, "softClient/ldap/bindDN").as_deref(),
            Some("cn=reader,dc=example,dc=com"),
            "[{l}]"
        );
        assert!(
            !file.contains("Bind-Secret-42"),
            "[{l}] the LDAP password never reaches a file"
        );
        assert_eq!(
            all(&file, "devicePool", "processNodeName"),
            ["CM1.example.com", "cm2.example.com"],
            "[{l}]"
        );

        // Rehoming moves the users of a node; their files follow.
        let e = t.refused(
            t.delete("/api/v1/presence-subclusters/sc1").await,
            StatusCode::CONFLICT,
            "name",
        );
        assert!(e.contains("rehome"), "[{l}] {e}");
        t.refused(
            t.post(
                "/api/v1/presence-subclusters/rehome",
                json!({"from_node": "cup1.example.com", "to_node": "cup9.example.com"}),
            )
            .await,
            INVALID,
            "to_node",
        );
        let (s, r) = t
            .post(
                "/api/v1/presence-subclusters/rehome",
                json!({"from_node": "cup1.example.com", "to_node": "cup3.example.com"}),
            )
            .await;
        assert_eq!(
            (s, r["users"].as_i64()),
            (StatusCode::OK, Some(1)),
            "[{l}] {r}"
        );
        let (_, file) = phone_get(&t, "/UPCJSMITH.cnf.xml").await;
        assert_eq!(
            at(&file, "softClient/presence/homeNode").as_deref(),
            Some("cup3.example.com"),
            "[{l}]"
        );
        assert_eq!(
            at(&file, "softClient/presence/failoverNode").as_deref(),
            Some("cup4.example.com"),
            "[{l}]"
        );
        let (_, sc2) = t.get("/api/v1/presence-subclusters/sc2").await;
        assert_eq!(sc2["users"], 1, "[{l}] {sc2}");

        // Renaming a profile takes its users along; what is in use is not deleted.
        let v = version(&t, "/api/v1/cti-gateway-profiles/default-cti-tcp").await;
        let (s, p) = t
            .patch(
                "/api/v1/cti-gateway-profiles/default-cti-tcp",
                json!({"version": v, "name": "cti-hq"}),
            )
            .await;
        assert_eq!(
            (s, p["users"].as_i64()),
            (StatusCode::OK, Some(2)),
            "[{l}] {p}"
        );
        let (_, u) = t.get("/api/v1/users/jsmith").await;
        assert_eq!(u["app_profiles"]["cti"], "cti-hq", "[{l}] {u}");
        let e = t.refused(
            t.delete("/api/v1/proxy-profiles/cup-proxy").await,
            StatusCode::CONFLICT,
            "name",
        );
        assert!(e.contains("jsmith"), "[{l}] {e}");
        let (s, v) = t
            .patch(
                "/api/v1/proxy-profiles/cup-proxy",
                json!({"version": 1, "backup_proxy": "x"}),
            )
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (INVALID, Some("backup_proxy")),
            "[{l}] {v}"
        );
        let (s, v) = t
            .patch(
                "/api/v1/proxy-profiles/cup-proxy",
                json!({"version": 7, "description": "x"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "[{l}] a stale version: {v}");
        // Settings changes reach the file.
        t.put(
            "/api/v1/soft-client-settings",
            json!({"instant_messaging": true, "max_contact_list": 0, "tftp_servers": ["tftp3.example.com"]}),
        )
        .await;
        let (_, file) = phone_get(&t, "/UPCJSMITH.cnf.xml").await;
        assert_eq!(
            at(&file, "softClient/presence/instantMessaging").as_deref(),
            Some("true"),
            "[{l}]"
        );
        assert_eq!(
            at(&file, "softClient/presence/maxContactListSize").as_deref(),
            Some("0"),
            "[{l}]"
        );
        assert_eq!(
            all(&file, "tftpServers", "server"),
            ["tftp3.example.com"],
            "[{l}]"
        );
        // Each change is audited.
        let (_, audit) = t.get("/api/v1/audit?limit=200").await;
        for resource in [
            "presence_subcluster",
            "proxy_profile",
            "cti_gateway_server",
            "cti_gateway_profile",
            "soft_client_settings",
        ] {
            assert!(
                audit["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["resource"] == resource),
                "[{l}] no audit entry for {resource}"
            );
        }
        t.stop().await;
    }
}

#[tokio::test]
async fn dial_rules_transform_numbers_as_the_seed_says() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        const INVALID: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
        t.create(
            "/api/v1/dial-rules",
            json!({"name": "strip-area", "kind": "directory_lookup", "begins_with": "408",
                   "number_of_digits": 10, "digits_removed": 5, "priority": 1}),
        )
        .await;
        let r = t
            .create(
                "/api/v1/dial-rules",
                json!({"name": "outside", "kind": "application", "number_of_digits": 7, "prefix": "9", "priority": 1}),
            )
            .await;
        assert_eq!(r["digits_removed"], 0, "[{l}] {r}");
        for (body, field) in [
            (
                json!({"name": "x", "number_of_digits": 7, "prefix": "9-", "priority": 1}),
                "prefix",
            ),
            (
                json!({"name": "x", "number_of_digits": 7, "digits_removed": 9, "priority": 1}),
                "digits_removed",
            ),
            (
                json!({"name": "x", "number_of_digits": 0, "priority": 1}),
                "number_of_digits",
            ),
            (
                json!({"name": "x", "number_of_digits": 7, "priority": 0}),
                "priority",
            ),
            (
                json!({"name": "x", "number_of_digits": 7, "priority": 1, "stripped": 1}),
                "stripped",
            ),
        ] {
            t.refused(t.post("/api/v1/dial-rules", body).await, INVALID, field);
        }
        let test = |number: &str, kind: &str| json!({"number": number, "kind": kind});
        let (s, v) = t
            .post(
                "/api/v1/dial-rules/test",
                test("4089023139", "directory_lookup"),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");
        assert_eq!(
            (v["result"].as_str(), v["rule"].as_str()),
            (Some("23139"), Some("strip-area")),
            "[{l}] {v}"
        );
        let (_, v) = t
            .post("/api/v1/dial-rules/test", test("902-3139", "application"))
            .await;
        assert_eq!(
            (v["result"].as_str(), v["rule"].as_str()),
            (Some("99023139"), Some("outside")),
            "[{l}] {v}"
        );
        let (_, v) = t
            .post(
                "/api/v1/dial-rules/test",
                test("1800-GOTMILK", "application"),
            )
            .await;
        assert_eq!(
            (v["plain"].as_str(), v["result"].as_str(), v["rule"].clone()),
            (Some("18004686455"), Some("18004686455"), json!(null)),
            "[{l}] {v}"
        );
        t.refused(
            t.post("/api/v1/dial-rules/test", test(" ", "application"))
                .await,
            INVALID,
            "number",
        );
        // A lower priority number goes first.
        let v = version(&t, "/api/v1/dial-rules/outside").await;
        t.create(
            "/api/v1/dial-rules",
            json!({"name": "local-8", "kind": "application", "number_of_digits": 7, "begins_with": "902", "prefix": "8", "priority": 2}),
        )
        .await;
        let (_, v2) = t
            .patch(
                "/api/v1/dial-rules/outside",
                json!({"version": v, "priority": 3}),
            )
            .await;
        assert_eq!(v2["priority"], 3, "[{l}] {v2}");
        let (_, v) = t
            .post("/api/v1/dial-rules/test", test("902-3139", "application"))
            .await;
        assert_eq!(
            (v["result"].as_str(), v["rule"].as_str()),
            (Some("89023139"), Some("local-8")),
            "[{l}] {v}"
        );
        // Soft clients get the rules in their file, application rules first, by priority.
        t.create(
            "/api/v1/users",
            json!({"user_id": "jsmith", "last_name": "Smith"}),
        )
        .await;
        t.create(
            "/api/v1/phones",
            json!({"model": "CUPC", "owner_user_id": "jsmith"}),
        )
        .await;
        let (_, file) = phone_get(&t, "/UPCJSMITH.cnf.xml").await;
        assert_eq!(
            all(&file, "softClient/dialRules", "prefix"),
            ["8", "9", ""],
            "[{l}] {file}"
        );
        assert_eq!(
            all(&file, "softClient/dialRules", "beginsWith"),
            ["902", "", "408"],
            "[{l}]"
        );
        let (s, _) = t.delete("/api/v1/dial-rules/local-8").await;
        assert_eq!(s, StatusCode::NO_CONTENT, "[{l}]");

        // The phones' directory finds a caller through the directory lookup rules: 4089023139
        // calls, the rule makes it 23139, the user whose extension that is comes up.
        t.create("/api/v1/lines", json!({"pattern": "23139"})).await;
        t.create(
            "/api/v1/users",
            json!({"user_id": "caller", "first_name": "Cal", "last_name": "Ler", "primary_extension": "23139"}),
        )
        .await;
        let (s, body) = phone_get(&t, "/directory/contacts?number=4089023139").await;
        assert_eq!(s, StatusCode::OK, "[{l}] {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["contacts"][0]["number"], "23139", "[{l}] {v}");
        assert_eq!(
            (v["number_searched"].as_str(), v["lookup_rule"].as_str()),
            (Some("23139"), Some("strip-area")),
            "[{l}] {v}"
        );
        let (_, xml) = phone_get(&t, "/services/directory/search?number=4089023139").await;
        assert!(xml.contains("Ler") && xml.contains("23139"), "[{l}] {xml}");
        // A number no rule changes is searched as it is.
        let (_, body) = phone_get(&t, "/directory/contacts?number=2313").await;
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (
                v["contacts"][0]["number"].as_str(),
                v.get("number_searched")
            ),
            (Some("23139"), None),
            "[{l}] {v}"
        );
        t.stop().await;
    }
}

/// Dial rules in bulk and from the command line: a CSV file imported (a wrong rule type named
/// on its line and column), exported and imported again as it was; the CLI adds, lists, tries
/// and removes rules.
#[tokio::test]
async fn dial_rules_by_csv_and_cli() {
    for db in TestDb::all().await {
        let l = db.label;
        let dir = std::env::temp_dir().join(format!("dialtone-dial-{}-{l}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let run = |args: &[&str]| {
            let o = common::dialtone(&db, args);
            (
                o.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                ),
            )
        };
        let csv = dir.join("rules.csv");
        std::fs::write(
            &csv,
            "NAME,RULE TYPE,BEGINS WITH,NUMBER OF DIGITS,TOTAL DIGITS TO BE REMOVED,PREFIX WITH PATTERN,PRIORITY\n\
             outside,application,,7,0,9,1\n\
             strip-area,directory_lookup,408,10,5,,1\n\
             bad,dialling,,7,0,,1\n",
        )
        .unwrap();
        let (ok, out) = run(&["import", "--kind", "dial-rules", csv.to_str().unwrap()]);
        assert!(!ok, "[{l}] {out}");
        assert!(
            out.contains("line 4, column RULE TYPE") && out.contains("3 rows: 2 ok, 1 failed"),
            "[{l}] {out}"
        );
        let (ok, out) = run(&[
            "dial-rule",
            "test",
            "4089023139",
            "--kind",
            "directory_lookup",
        ]);
        assert!(
            ok && out.contains("Result:     23139") && out.contains("strip-area"),
            "[{l}] {out}"
        );
        let (ok, out) = run(&[
            "dial-rule",
            "add",
            "intl",
            "--digits",
            "11",
            "--begins-with",
            "1",
            "--prefix",
            "+",
            "--priority",
            "2",
        ]);
        assert!(ok, "[{l}] {out}");
        let (ok, out) = run(&["dial-rule", "add", "wrong", "--digits", "30"]);
        assert!(!ok && out.contains("number_of_digits"), "[{l}] {out}");
        let (_, list) = run(&["dial-rule", "list"]);
        let names: Vec<&str> = list
            .lines()
            .skip(1)
            .filter_map(|x| x.split_whitespace().next())
            .collect();
        assert_eq!(names, ["outside", "intl", "strip-area"], "[{l}] {list}");
        let (ok, exported) = run(&["export", "--kind", "dial-rules"]);
        assert!(ok, "[{l}]");
        let again = dir.join("again.csv");
        std::fs::write(&again, exported.as_bytes()).unwrap();
        let (ok, out) = run(&["import", "--kind", "dial-rules", again.to_str().unwrap()]);
        assert!(
            ok && out.contains("3 ok") && out.contains("3 of the ok were there already"),
            "[{l}] {out}"
        );
        let (ok, out) = run(&["dial-rule", "remove", "intl"]);
        assert!(ok, "[{l}] {out}");
        let (ok, out) = run(&["dial-rule", "remove", "intl"]);
        assert!(!ok && out.contains("no dial rule intl"), "[{l}] {out}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

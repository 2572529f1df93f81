//! Phones fetching their files over HTTP with a real client (curl), on SQLite and PostgreSQL.

mod common;

use common::{curl, peer, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use store::testing::TestDb;

// curl runs as a blocking child process: the server needs threads of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_get_their_files_and_never_a_stale_one() {
    let Some(curl_bin) = peer("curl") else { return };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let phone = format!(
            "http://{}",
            t.app.http_addr.expect("the phone listener is on")
        );
        let (_, sys) = t.get("/api/v1/systems/default").await;
        let (s, v) = t
            .patch(
                "/api/v1/systems/default",
                json!({"version": sys["version"], "settings": {"servers": [{"host": "cucm1.example.com"}], "voicemail_pilot": "8000"}}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        t.create(
            "/api/v1/users",
            json!({"user_id": "jsmith", "last_name": "Smith", "digest_credential": "d1gest"}),
        )
        .await;
        t.create(
            "/api/v1/phones",
            json!({"mac": "00562B043615", "model": "7960", "protocol": "SIP", "owner_user_id": "jsmith",
                   "lines": [{"pattern": "2000", "label": "John", "display": "John Smith"}, {"pattern": "2001", "label": "Reception"}]}),
        )
        .await;
        t.create("/api/v1/phones", json!({"mac": "00562B043616", "model": "8861", "owner_user_id": "jsmith", "lines": [{"pattern": "2000"}]})).await;
        let (s, _) = t
            .put(
                "/api/v1/parameters/model?target=8861",
                json!({"values": {"resync_periodic": "1800"}}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);

        // An enterprise phone asks for SEP<MAC>.cnf.xml (any case).
        let (code, body) = curl(&curl_bin, &[&format!("{phone}/sep00562b043615.cnf.xml")]);
        assert_eq!(code, 200, "[{}] {body}", t.label);
        let doc = roxml(&body);
        let lines: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert!(
            body.contains("<authPassword>d1gest</authPassword>")
                && body.contains("<processNodeName>cucm1.example.com</processNodeName>")
        );
        assert!(body.contains("<messagesNumber>8000</messagesNumber>"));

        // An MPP phone: the first-contact file sends it to its own file, which carries its lines
        // and the resolved parameters; it is known by its User-Agent too.
        let ua = "Cisco-CP-8861-3PCC/11.3.1 (00562b043616)";
        let (code, first) = curl(
            &curl_bin,
            &["-A", ua, &format!("{phone}/dms/CP-8861-3PCC/8861-3PCC.xml")],
        );
        assert_eq!(code, 200, "{first}");
        assert!(
            first.contains(&format!(
                "<Profile_Rule ua=\"na\">{phone}/$MA.xml</Profile_Rule>"
            )),
            "{first}"
        );
        let (code, own) = curl(&curl_bin, &["-A", ua, &format!("{phone}/00562b043616.xml")]);
        assert_eq!(code, 200);
        roxml(&own);
        assert!(
            own.contains("<Resync_Periodic ua=\"na\">1800</Resync_Periodic>")
                && own.contains("<User_ID_1_ ua=\"na\">2000</User_ID_1_>"),
            "{own}"
        );

        // Every request updates the device's status: when, from where, with what, which file.
        let (_, before) = t.get("/api/v1/phones/SEP00562B300009/status").await;
        assert_eq!(before["error"]["code"], "not_found");
        let st = t.status_now("SEP00562B043616").await;
        assert_eq!(st["seen"], true, "{st}");
        assert_eq!(
            (st["ip"].as_str(), st["protocol"].as_str()),
            (Some("127.0.0.1"), Some("http"))
        );
        assert_eq!(st["user_agent"], ua);
        assert_eq!(st["file"], "00562b043616.xml");
        assert_eq!(st["requests"], 2, "the first-contact file and its own");

        // What the phone gets is what the administrator previews.
        let (_, files) = t.get("/api/v1/phones/SEP00562B043616/files").await;
        assert_eq!(files["files"], json!(["8861-3PCC.xml", "00562b043616.xml"]));
        let preview = t
            .client
            .get(t.url("/api/v1/phones/SEP00562B043616/files/00562b043616.xml"))
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap();
        assert_eq!(preview.status(), StatusCode::OK);
        assert_eq!(preview.text().await.unwrap(), own);
        let (s, v) = t
            .get("/api/v1/phones/SEP00562B043616/files/SEP00562B043615.cnf.xml")
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

        // Unknown phones, security files, escapes, other methods.
        for path in [
            "/SEP0000000000AA.cnf.xml",
            "/CTLSEP00562B043615.tlv",
            "/ITLSEP00562B043615.tlv",
            "/../../etc/passwd",
            "/a/..\\..\\x",
            "/XMLDefault.cnf.xml",
            "/7841-3PCC.xml",
        ] {
            let (code, _) = curl(&curl_bin, &[&format!("{phone}{path}")]);
            assert_eq!(code, 404, "{path}");
        }
        let (code, _) = curl(
            &curl_bin,
            &[
                "-X",
                "PUT",
                "--data",
                "x",
                &format!("{phone}/SEP00562B043615.cnf.xml"),
            ],
        );
        assert_eq!(code, 405);

        // A change is in the next file; so is a change another process commits.
        let (_, p) = t.get("/api/v1/phones/SEP00562B043615").await;
        let (s, _) = t
            .patch("/api/v1/phones/SEP00562B043615", json!({"version": p["version"], "lines": [{"pattern": "2000", "label": "Changed label"}]}))
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, body) = curl(&curl_bin, &[&format!("{phone}/SEP00562B043615.cnf.xml")]);
        assert!(
            body.contains("<featureLabel>Changed label</featureLabel>")
                && !body.contains("Reception"),
            "{body}"
        );
        {
            let mut cfg = dialtone::Config::default();
            cfg.admin.https_listen.clear();
            cfg.database.url = db.url.clone();
            cfg.secret_key = Some(common::SECRET_KEY.into());
            let (other, _) = dialtone::open_service(&cfg).await.unwrap();
            let p = other.phone("SEP00562B043615").await.unwrap();
            let patch = model::PhonePatch {
                version: p.version,
                description: Some("changed elsewhere".into()),
                ..Default::default()
            };
            other
                .update_phone(&service::Actor::new("other"), "SEP00562B043615", patch)
                .await
                .unwrap();
            other.close().await;
        }
        // Another process's commit reaches this one's files within store::GENERATION_RECHECK.
        let start = std::time::Instant::now();
        let body = loop {
            let (_, body) = curl(&curl_bin, &[&format!("{phone}/SEP00562B043615.cnf.xml")]);
            if body.contains("<phoneLabel>changed elsewhere</phoneLabel>")
                || start.elapsed() > std::time::Duration::from_secs(3)
            {
                break body;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert!(
            body.contains("<phoneLabel>changed elsewhere</phoneLabel>"),
            "{body}"
        );
        assert!(
            start.elapsed() < store::GENERATION_RECHECK * 4,
            "took {:?}",
            start.elapsed()
        );

        // Auto-registration on: unknown phones get XMLDefault.cnf.xml and MPP first contact.
        let (_, sys) = t.get("/api/v1/systems/default").await;
        let mut settings = sys["settings"].clone();
        settings["auto_registration"] = json!(true);
        t.patch(
            "/api/v1/systems/default",
            json!({"version": sys["version"], "settings": settings}),
        )
        .await;
        let (code, body) = curl(&curl_bin, &[&format!("{phone}/XMLDefault.cnf.xml")]);
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("<autoRegistration>true</autoRegistration>"));
        let (code, _) = curl(&curl_bin, &[&format!("{phone}/spa7841-3PCC.cfg")]);
        assert_eq!(code, 200);
        t.stop().await;
    }
}

fn roxml(text: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("not XML: {e}\n{text}"))
}

/// Runs curl and gives (HTTP code, headers and body as one text).
fn curl_with_headers(curl_bin: &std::path::Path, args: &[&str]) -> (u16, String) {
    let mut all = vec!["-i"];
    all.extend_from_slice(args);
    curl(curl_bin, &all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_with_secrets_need_the_phones_own_credentials() {
    let Some(curl_bin) = peer("curl") else { return };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let phone = format!("http://{}", t.app.http_addr.expect("phone listener"));
        let tftp = t.app.tftp_addr.expect("tftp listener");
        let (_, sys) = t.get("/api/v1/systems/default").await;
        let mut settings = sys["settings"].clone();
        settings["servers"] = json!([{"host": "cucm1.example.com"}]);
        let (s, sys) = t
            .patch(
                "/api/v1/systems/default",
                json!({"version": sys["version"], "settings": settings}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{sys}");
        t.create(
            "/api/v1/users",
            json!({"user_id": "jsmith", "last_name": "Smith", "digest_credential": "d1gest"}),
        )
        .await;
        // An MPP phone with a SIP password in its file, an MPP phone without one, an enterprise
        // phone with one.
        let mpp = t.create("/api/v1/phones", json!({"mac": "00562B043616", "model": "8861", "owner_user_id": "jsmith", "lines": [{"pattern": "2000"}]})).await;
        t.create(
            "/api/v1/phones",
            json!({"mac": "00562B043617", "model": "8841", "lines": [{"pattern": "2001"}]}),
        )
        .await;
        t.create("/api/v1/phones", json!({"mac": "00562B043615", "model": "7960", "protocol": "SIP", "owner_user_id": "jsmith", "lines": [{"pattern": "2002"}]})).await;
        let file = format!("{phone}/00562b043616.xml");

        // Off (the default), no password: open, and the phone is sent back here for its file.
        let (code, body) = curl(&curl_bin, &[&file]);
        assert_eq!(code, 200, "[{}] {body}", t.label);
        assert!(
            body.contains(&format!(
                "<Profile_Rule ua=\"na\">{phone}/$MA.xml</Profile_Rule>"
            )),
            "{body}"
        );

        // Setting the password: checked, versioned, never shown.
        let path = "/api/v1/phones/SEP00562B043616/http-credential";
        let got = t
            .put(
                path,
                json!({"version": mpp["version"], "password": "has space"}),
            )
            .await;
        t.refused(got, StatusCode::UNPROCESSABLE_ENTITY, "password");
        let (s, _) = t
            .put(path, json!({"version": 99, "password": "Ph0ne-pass.1"}))
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (s, p) = t
            .put(
                path,
                json!({"version": mpp["version"], "password": "Ph0ne-pass.1"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(p["has_http_password"], json!(true));
        assert!(!p.to_string().contains("Ph0ne-pass.1"));
        let (_, audit) = t.get("/api/v1/audit?limit=5").await;
        assert!(audit.to_string().contains("set http credential"));
        assert!(!audit.to_string().contains("Ph0ne-pass.1"));

        // Still off: served to anyone, now telling the phone to send its credentials (so that
        // turning the policy on later needs no visit to the phone).
        let (code, body) = curl(&curl_bin, &[&file]);
        assert_eq!(code, 200);
        assert!(
            body.contains(&format!(
                "<Profile_Rule ua=\"na\">[--uid $MA --pwd Ph0ne-pass.1]{phone}/$MA.xml</Profile_Rule>"
            )),
            "{body}"
        );

        // `secrets`: the files that carry one need the credentials.
        let (_, sys) = t.get("/api/v1/systems/default").await;
        settings["phone_auth"] = json!("secrets");
        let (s, sys) = t
            .patch(
                "/api/v1/systems/default",
                json!({"version": sys["version"], "settings": settings}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{sys}");
        let (code, head) = curl_with_headers(&curl_bin, &[&file]);
        assert_eq!(code, 401, "{head}");
        let lower = head.to_ascii_lowercase();
        assert!(
            lower.contains(
                "www-authenticate: digest realm=\"dialtone phones\", qop=\"auth\", algorithm=md5"
            ) && lower.contains("www-authenticate: basic realm=\"dialtone phones\""),
            "{head}"
        );
        assert!(!head.contains("d1gest"));
        for auth in ["--digest", "--basic"] {
            let (code, body) = curl(
                &curl_bin,
                &[auth, "--user", "00562b043616:Ph0ne-pass.1", &file],
            );
            assert_eq!(code, 200, "{auth}: {body}");
            assert!(
                body.contains("<Password_1_ ua=\"na\">d1gest</Password_1_>"),
                "{body}"
            );
            let (code, body) = curl(
                &curl_bin,
                &[auth, "--user", "00562b043616:wrong-pass", &file],
            );
            assert_eq!(code, 401, "{auth}: {body}");
            assert!(!body.contains("d1gest"));
            let (code, _) = curl(
                &curl_bin,
                &[auth, "--user", "00562b043617:Ph0ne-pass.1", &file],
            );
            assert_eq!(code, 401, "{auth}: another phone's name");
        }
        // An MPP file without secrets stays open; enterprise phones cannot authenticate, so
        // theirs stays open too (docs/phones.md says how to protect them).
        let (code, _) = curl(&curl_bin, &[&format!("{phone}/00562b043617.xml")]);
        assert_eq!(code, 200);
        let (code, body) = curl(&curl_bin, &[&format!("{phone}/SEP00562B043615.cnf.xml")]);
        assert_eq!((code, body.contains("d1gest")), (200, true));
        // TFTP cannot carry credentials: refused with an access violation (code 2) that says so.
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        sock.send_to(b"\x00\x0100562b043616.xml\x00octet\x00", tftp)
            .unwrap();
        let mut buf = [0u8; 600];
        let (n, _) = sock.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..4], &[0, 5, 0, 2], "{:?}", &buf[..n]);
        assert!(String::from_utf8_lossy(&buf[4..n]).contains("credentials"));
        // The administrators' preview is not a phone: it shows the file.
        let r = t
            .client
            .get(t.url("/api/v1/phones/SEP00562B043616/files/00562b043616.xml"))
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);

        // `all`: every MPP file of a device in the directory; one without a password: nobody.
        let (_, sys) = t.get("/api/v1/systems/default").await;
        settings["phone_auth"] = json!("all");
        t.patch(
            "/api/v1/systems/default",
            json!({"version": sys["version"], "settings": settings}),
        )
        .await;
        let (code, _) = curl(&curl_bin, &[&format!("{phone}/00562b043617.xml")]);
        assert_eq!(code, 401);
        let (code, _) = curl(
            &curl_bin,
            &["--digest", "--user", "00562b043616:Ph0ne-pass.1", &file],
        );
        assert_eq!(code, 200);

        // Removing the password: the version is asked for, then the file is closed to all.
        let (_, p) = t.get("/api/v1/phones/SEP00562B043616").await;
        let got = t.delete(path).await;
        t.refused(got, StatusCode::UNPROCESSABLE_ENTITY, "version");
        let (s, p) = t.delete(&format!("{path}?version={}", p["version"])).await;
        assert_eq!(
            (s, &p["has_http_password"]),
            (StatusCode::OK, &json!(false))
        );
        let (code, _) = curl(
            &curl_bin,
            &["--digest", "--user", "00562b043616:Ph0ne-pass.1", &file],
        );
        assert_eq!(code, 401);
        t.stop().await;
    }
}

/// The first-contact file is the same bytes for every phone of a model, but who asks is each
/// request's own: a known phone's request does not open it to unknown phones, nor count for
/// another phone's status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_contact_is_decided_per_phone() {
    let Some(curl_bin) = peer("curl") else { return };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let phone = format!("http://{}", t.app.http_addr.unwrap());
        for mac in ["00562B0A0001", "00562B0A0002"] {
            t.create("/api/v1/phones", json!({"mac": mac, "model": "8861"}))
                .await;
        }
        let url = format!("{phone}/8861-3PCC.xml");
        let ua = |mac: &str| format!("Cisco-CP-8861-3PCC/11.3.1 ({mac})");
        let (code, _) = curl(&curl_bin, &["-A", &ua("00562b0a0001"), &url]);
        assert_eq!(code, 200, "[{}]", t.label);
        // Auto-registration is off: an unknown phone gets nothing, cached file or not.
        let (code, _) = curl(&curl_bin, &["-A", &ua("00562b0affff"), &url]);
        assert_eq!(code, 404);
        let (code, _) = curl(&curl_bin, &["-A", &ua("00562b0a0002"), &url]);
        assert_eq!(code, 200);
        let st = t.status_now("SEP00562B0A0002").await;
        assert_eq!(
            st["user_agent"],
            json!(ua("00562b0a0002")),
            "the second phone's request is the second phone's: {st}"
        );
        let (_, st) = t.get("/api/v1/phones/SEP00562B0A0001/status").await;
        assert_eq!(st["requests"], 1, "{st}");
        t.stop().await;
    }
}

/// The change journal: each kind of write reaches exactly the devices whose files it may alter,
/// and the phones' files follow (a cached file of a phone the change did not reach stays).
#[tokio::test]
async fn a_change_reaches_only_the_phones_it_alters() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let http = t.app.http_addr.unwrap();
        let svc = t.app.service.clone();
        t.create(
            "/api/v1/users",
            json!({"user_id": "owner1", "last_name": "Owner", "digest_credential": "s3cret-1"}),
        )
        .await;
        // A and B share 5000; C has its own line and is owned by owner1; D is an MPP phone.
        let a = t.create("/api/v1/phones", json!({"mac": "00562B400001", "model": "7960", "protocol": "SIP", "lines": [{"pattern": "5000"}]})).await;
        let b = t.create("/api/v1/phones", json!({"mac": "00562B400002", "model": "7960", "protocol": "SIP", "lines": [{"pattern": "5000"}, {"pattern": "5002"}]})).await;
        let c = t.create("/api/v1/phones", json!({"mac": "00562B400003", "model": "7960", "protocol": "SIP", "owner_user_id": "owner1", "lines": [{"pattern": "5003"}]})).await;
        let d = t
            .create(
                "/api/v1/phones",
                json!({"mac": "00562B400004", "model": "8861", "lines": [{"pattern": "5004"}]}),
            )
            .await;
        let id = |v: &serde_json::Value| v["id"].as_i64().unwrap();
        let (a, b, c, d) = (id(&a), id(&b), id(&c), id(&d));
        let reached = |after: i64| {
            let svc = svc.clone();
            async move {
                let ch = svc.changes_since(after).await.unwrap();
                assert!(ch.all.is_none(), "{ch:?}");
                let mut ids: Vec<i64> = ch.devices.iter().map(|(id, _)| *id).collect();
                ids.sort();
                (ch.through, ids)
            }
        };
        let g = svc.generation().await.unwrap();

        // A line's settings: the phones it appears on.
        let (s, line) = t.get("/api/v1/lines/5000").await;
        assert_eq!(s, StatusCode::OK, "{line}");
        let (s, v) = t
            .patch(
                "/api/v1/lines/5000",
                json!({"version": line["version"], "alerting_name": "Front desk"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (g, ids) = reached(g).await;
        assert_eq!(ids, vec![a, b], "[{}] a line change", t.label);

        // A phone dropping a shared line: itself and the phone that no longer shares it.
        let (_, pa) = t.get("/api/v1/phones/SEP00562B400001").await;
        let (s, v) = t
            .patch(
                "/api/v1/phones/SEP00562B400001",
                json!({"version": pa["version"], "lines": [{"pattern": "5001"}]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (g, ids) = reached(g).await;
        assert_eq!(ids, vec![a, b], "[{}] a shared line dropped", t.label);
        let (_, file) = curl_file(http, "SEP00562B400002.cnf.xml").await;
        assert!(
            file.contains("<sharedLine>false</sharedLine>"),
            "B no longer shares 5000: {file}"
        );

        // The owner's credential: the phones they own.
        let (_, u) = t.get("/api/v1/users/owner1").await;
        let (s, v) = t
            .patch(
                "/api/v1/users/owner1",
                json!({"version": u["version"], "digest_credential": "s3cret-2"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (g, ids) = reached(g).await;
        assert_eq!(ids, vec![c], "[{}] a user change", t.label);
        let (_, file) = curl_file(http, "SEP00562B400003.cnf.xml").await;
        assert!(file.contains("s3cret-2"), "C carries the new credential");

        // Parameters of one model: its phones only.
        let (s, v) = t
            .put(
                "/api/v1/parameters/model?target=8861",
                json!({"values": {"resync_periodic": "600"}}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (g, ids) = reached(g).await;
        assert_eq!(ids, vec![d], "[{}] a model's parameters", t.label);

        // The system: every device on it.
        let (_, sys) = t.get("/api/v1/systems/default").await;
        let mut settings = sys["settings"].clone();
        settings["voicemail_pilot"] = json!("8999");
        let (s, v) = t
            .patch(
                "/api/v1/systems/default",
                json!({"version": sys["version"], "settings": settings}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (g, ids) = reached(g).await;
        assert_eq!(ids, vec![a, b, c, d], "[{}] a system change", t.label);

        // Records no phone file shows reach no device.
        t.create(
            "/api/v1/users",
            json!({"user_id": "nobody2", "last_name": "Else"}),
        )
        .await;
        let (_, ids) = reached(g).await;
        assert_eq!(ids, Vec::<i64>::new(), "[{}] a new user", t.label);
        t.stop().await;
    }
}

/// A phone file over HTTP (status, body).
async fn curl_file(http: std::net::SocketAddr, file: &str) -> (u16, String) {
    let r = reqwest::get(format!("http://{http}/{file}")).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// `/metrics` counts what phones asked and how it went, in a text Prometheus's own checker
/// (promtool) accepts; only administrators read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_phone_requests_in_a_text_promtool_accepts() {
    let Some(curl_bin) = peer("curl") else { return };
    let Some(promtool) = peer("promtool") else {
        return;
    };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let phone = format!("http://{}", t.app.http_addr.unwrap());
        t.create(
            "/api/v1/phones",
            json!({"mac": "00562B600001", "model": "7960", "protocol": "SIP"}),
        )
        .await;
        // Its file twice (rendered, then from the cache), and a file no phone has.
        for _ in 0..2 {
            let (code, _) = curl(&curl_bin, &[&format!("{phone}/SEP00562B600001.cnf.xml")]);
            assert_eq!(code, 200, "[{}]", t.label);
        }
        let (code, _) = curl(&curl_bin, &[&format!("{phone}/SEP00562B6FFFFF.cnf.xml")]);
        assert_eq!(code, 404);

        let anonymous = reqwest::get(t.url("/metrics")).await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        let (s, text) = t.get("/metrics").await;
        assert_eq!(s, StatusCode::OK);
        let text = text.as_str().expect("text").to_string();
        let value = |series: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
                .unwrap_or_else(|| panic!("[{}] no {series} in\n{text}", t.label))
        };
        let ok = r#"dialtone_phone_requests_total{protocol="http",outcome="ok"}"#;
        let missing = r#"dialtone_phone_requests_total{protocol="http",outcome="not_found"}"#;
        assert_eq!(value(ok), 2.0, "[{}]", t.label);
        assert_eq!(value(missing), 1.0, "[{}]", t.label);
        assert_eq!(
            value(r#"dialtone_render_cache_lookups_total{result="hit"}"#),
            1.0,
            "[{}] the second fetch",
            t.label
        );
        assert_eq!(value("dialtone_render_seconds_count"), 1.0, "[{}]", t.label);
        assert!(value("dialtone_db_connections") >= 1.0, "[{}]", t.label);

        let mut check = std::process::Command::new(&promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        check
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = check.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "[{}] promtool: {}{}\n{text}",
            t.label,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        grafana_dashboard_reads_what_metrics_serves(&promtool, &text);
        t.stop().await;
    }
}

/// The Grafana dashboard in deploy/grafana: each panel's query is PromQL promtool accepts, and
/// names only series `/metrics` serves (`text`).
fn grafana_dashboard_reads_what_metrics_serves(promtool: &std::path::Path, text: &str) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/grafana/dialtone.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut rules = Vec::new();
    for p in dashboard["panels"].as_array().unwrap() {
        for target in p["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("dialtone_"))
            {
                let family = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(name);
                assert!(
                    text.contains(&format!("# TYPE {family} ")),
                    "panel {}: {name} is not in /metrics",
                    p["title"]
                );
            }
            // Grafana's variables as a query would have them.
            let expr = expr
                .replace("$__rate_interval", "5m")
                .replace("$instance", ".*");
            rules.push(json!({"record": format!("dashboard:panel_{}", rules.len()), "expr": expr}));
        }
    }
    let file = std::env::temp_dir().join(format!("dialtone-dashboard-{}.yml", std::process::id()));
    std::fs::write(
        &file,
        json!({"groups": [{"name": "dashboard", "rules": rules}]}).to_string(),
    )
    .unwrap();
    let out = std::process::Command::new(promtool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// With `log.format = "json"`, a phone's request has an id (also in its answer's
/// `X-Request-Id`) that the lines of its render and of its status write carry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_request_id_runs_through_the_json_log() {
    use std::io::BufRead;
    let Some(curl_bin) = peer("curl") else { return };
    for db in TestDb::all().await {
        let added = common::dialtone(
            &db,
            &["phone", "add", "--mac", "00562B610001", "--model", "7960"],
        );
        assert!(added.status.success(), "{added:?}");
        struct Killed(std::process::Child);
        impl Drop for Killed {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let mut server = Killed(
            common::command(
                &db,
                &["serve", "--admin", "127.0.0.1:0", "--http", "127.0.0.1:0"],
            )
            .env("DIALTONE_LOG__FORMAT", "json")
            .env("RUST_LOG", "info,dialtone_provision=debug")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        );
        let (tx, lines) = std::sync::mpsc::channel::<serde_json::Value>();
        let stderr = server.0.stderr.take().unwrap();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let v = serde_json::from_str(&l)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let next = |what: &dyn Fn(&serde_json::Value) -> bool| loop {
            let v = lines
                .recv_timeout(std::time::Duration::from_secs(20))
                .expect("a log line in time");
            if what(&v) {
                return v;
            }
        };
        let listening = next(&|v| v["fields"]["message"] == "phone HTTP listener");
        let addr = listening["fields"]["addr"].as_str().unwrap().to_string();
        let out = std::process::Command::new(&curl_bin)
            .args(["-s", "-D", "-", "-o", "/dev/null"])
            .arg(format!("http://{addr}/SEP00562B610001.cnf.xml"))
            .output()
            .unwrap();
        let headers = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            headers.starts_with("HTTP/1.1 200"),
            "[{}] {headers}",
            db.label
        );
        let id = headers
            .lines()
            .find_map(|l| l.strip_prefix("x-request-id: "))
            .unwrap_or_else(|| panic!("[{}] no X-Request-Id in {headers}", db.label))
            .trim()
            .to_string();
        let rendered = next(&|v| v["fields"]["message"] == "rendered");
        assert_eq!(
            rendered["fields"]["request_id"], id,
            "[{}] {rendered}",
            db.label
        );
        let written = next(&|v| v["fields"]["message"] == "status written");
        assert_eq!(
            written["fields"]["request_id"], id,
            "[{}] {written}",
            db.label
        );
        drop(server);
    }
}

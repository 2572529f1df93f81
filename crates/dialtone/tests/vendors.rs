//! Phones of other vendors end to end, on SQLite and PostgreSQL: each fetches what its vendor's
//! phones fetch, in their order, over HTTP with its own User-Agent (curl) and over TFTP
//! (atftp); their files need each phone's own credential once `phone_auth` asks for it; an
//! unknown phone is auto-registered as the model its User-Agent names; a resync NOTIFY carries
//! each vendor's event.

mod common;

use common::{answer_notifies, curl, fetch_from, peer, wait_for, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use std::process::Command;
use store::testing::TestDb;
use tokio::net::UdpSocket;

struct Vendor {
    model: &'static str,
    mac: &'static str,
    user_agent: &'static str,
    /// What its phones ask for, in order, and what they get.
    fetches: &'static [(&'static str, u16)],
    /// Its own file (the one with the SIP password), and the one with its speed dials.
    own: &'static str,
    speed_dials: &'static str,
    event: &'static str,
}

const VENDORS: &[Vendor] = &[
    Vendor {
        model: "T46U",
        mac: "805EC0112233",
        user_agent: "Yealink SIP-T46U 108.86.0.90 80:5e:c0:11:22:33",
        fetches: &[
            ("y000000000000.boot", 404),
            ("y000000000108.cfg", 200),
            ("805ec0112233.cfg", 200),
        ],
        own: "805ec0112233.cfg",
        speed_dials: "805ec0112233.cfg",
        event: "check-sync;reboot=false",
    },
    Vendor {
        model: "VVX450",
        mac: "0004F2ABCDEF",
        user_agent: "FileTransport PolycomVVX-VVX_450-UA/5.9.5.0614 Type/Application",
        fetches: &[
            ("0004f2abcdef.cfg", 200),
            ("0004f2abcdef-phone1.cfg", 200),
            ("0004f2abcdef-sip.cfg", 200),
            ("0004f2abcdef-directory.xml", 200),
        ],
        own: "0004f2abcdef-phone1.cfg",
        speed_dials: "0004f2abcdef-directory.xml",
        event: "check-sync",
    },
    Vendor {
        model: "GXP2170",
        mac: "000B82AABBCC",
        user_agent: "Grandstream Model HW GXP2170 SW 1.0.9.135 DevId 000b82aabbcc",
        fetches: &[("cfg000b82aabbcc", 404), ("cfg000b82aabbcc.xml", 200)],
        own: "cfg000b82aabbcc.xml",
        speed_dials: "cfg000b82aabbcc.xml",
        event: "check-sync",
    },
    Vendor {
        model: "D785",
        mac: "000413922D24",
        user_agent: "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)",
        fetches: &[("snomD785.htm", 200), ("000413922D24.xml", 200)],
        own: "000413922D24.xml",
        speed_dials: "000413922D24.xml",
        event: "check-sync;reboot=false",
    },
];

async fn set_settings(t: &TestApp, change: impl FnOnce(&mut serde_json::Value)) {
    let (_, sys) = t.get("/api/v1/systems/default").await;
    let mut settings = sys["settings"].clone();
    change(&mut settings);
    let (s, v) = t
        .patch(
            "/api/v1/systems/default",
            json!({"version": sys["version"], "settings": settings}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_vendor_gets_its_files_in_its_order_and_only_with_its_credential() {
    let Some(curl_bin) = peer("curl") else { return };
    let Some(atftp) = peer("atftp") else { return };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let http = format!("http://{}", t.app.http_addr.expect("phone listener"));
        let tftp = t.app.tftp_addr.expect("tftp listener");
        set_settings(&t, |s| s["servers"] = json!([{"host": "pbx.example.com"}])).await;
        t.create(
            "/api/v1/users",
            json!({"user_id": "jsmith", "last_name": "Smith", "digest_credential": "d1gest"}),
        )
        .await;
        for (i, v) in VENDORS.iter().enumerate() {
            t.create(
                "/api/v1/phones",
                json!({"mac": v.mac, "model": v.model, "owner_user_id": "jsmith",
                       "lines": [{"pattern": format!("40{i}0")}],
                       "speed_dials": [{"position": 3, "number": "5550100", "label": "Home"}]}),
            )
            .await;
        }
        for (i, v) in VENDORS.iter().enumerate() {
            for (file, want) in v.fetches {
                let (code, body) =
                    curl(&curl_bin, &["-A", v.user_agent, &format!("{http}/{file}")]);
                assert_eq!(code, *want, "[{}] {} {file}: {body}", t.label, v.model);
            }
            let (_, own) = curl(
                &curl_bin,
                &["-A", v.user_agent, &format!("{http}/{}", v.own)],
            );
            assert!(
                own.contains(&format!("40{i}0")),
                "[{}] {}: {own}",
                t.label,
                v.own
            );
            assert!(own.contains("d1gest"), "[{}] {}: {own}", t.label, v.own);
            let (_, sd) = curl(
                &curl_bin,
                &["-A", v.user_agent, &format!("{http}/{}", v.speed_dials)],
            );
            assert!(
                sd.contains("5550100"),
                "[{}] {}: {sd}",
                t.label,
                v.speed_dials
            );
            // What the phone fetched shows in its status, with its User-Agent.
            let st = t.status_now(&format!("SEP{}", v.mac)).await;
            assert_eq!(st["seen"], true, "[{}] {st}", t.label);
        }

        // Over TFTP (atftp): the same file, pointing the phone back at this server by TFTP.
        let dir = common::temp_folder("vendors-tftp");
        let out = dir.join("805ec0112233.cfg");
        let got = Command::new(&atftp)
            .args(["-g", "-r", "805ec0112233.cfg", "-l"])
            .arg(&out)
            .args(["127.0.0.1", &tftp.port().to_string()])
            .output()
            .unwrap();
        assert!(
            got.status.success(),
            "{}",
            String::from_utf8_lossy(&got.stderr)
        );
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.contains(&format!(
                "static.auto_provision.server.url = tftp://127.0.0.1:{}/",
                tftp.port()
            )),
            "{text}"
        );

        // Each phone's own HTTP credential, then phone_auth on: nothing without it.
        for v in VENDORS {
            let name = format!("SEP{}", v.mac);
            let (_, p) = t.get(&format!("/api/v1/phones/{name}")).await;
            let (s, body) = t
                .put(
                    &format!("/api/v1/phones/{name}/http-credential"),
                    json!({"version": p["version"], "password": format!("{}-pass.1", v.model)}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{body}");
        }
        // Before the policy: the files already tell each phone what to send.
        let (_, yealink) = curl(&curl_bin, &[&format!("{http}/805ec0112233.cfg")]);
        assert!(
            yealink.contains("static.auto_provision.server.password = T46U-pass.1"),
            "{yealink}"
        );
        let (_, poly) = curl(&curl_bin, &[&format!("{http}/0004f2abcdef-sip.cfg")]);
        assert!(
            poly.contains("device.prov.password=\"VVX450-pass.1\""),
            "{poly}"
        );
        let (_, gs) = curl(&curl_bin, &[&format!("{http}/cfg000b82aabbcc.xml")]);
        assert!(gs.contains("<P1361>GXP2170-pass.1</P1361>"), "{gs}");
        let (_, snom) = curl(&curl_bin, &[&format!("{http}/000413922D24.xml")]);
        assert!(
            snom.contains("http://000413922d24:D785-pass.1@127.0.0.1:"),
            "{snom}"
        );
        set_settings(&t, |s| s["phone_auth"] = json!("secrets")).await;
        for v in VENDORS {
            let url = format!("{http}/{}", v.own);
            let (code, _) = curl(&curl_bin, &["-A", v.user_agent, &url]);
            assert_eq!(code, 401, "[{}] {} without its credential", t.label, v.own);
            let user_pass = format!("{}:{}-pass.1", v.mac.to_ascii_lowercase(), v.model);
            let (code, body) = curl(
                &curl_bin,
                &["--digest", "-u", &user_pass, "-A", v.user_agent, &url],
            );
            assert_eq!(code, 200, "[{}] {} with it: {body}", t.label, v.own);
            let (code, _) = curl(
                &curl_bin,
                &[
                    "-u",
                    &format!("{}:wrong-pass.1", v.mac.to_ascii_lowercase()),
                    &url,
                ],
            );
            assert_eq!(code, 401, "[{}] {} with another", t.label, v.own);
        }
        // Common files carry no secret: open whatever the policy.
        for file in ["y000000000108.cfg", "000000000000.cfg", "snomD785.htm"] {
            let (code, _) = curl(&curl_bin, &[&format!("{http}/{file}")]);
            assert_eq!(code, 200, "[{}] {file}", t.label);
        }
        t.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_phone_is_auto_registered_as_the_model_its_user_agent_names() {
    let Some(curl_bin) = peer("curl") else { return };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let http = format!("http://{}", t.app.http_addr.expect("phone listener"));
        set_settings(&t, |s| {
            s["auto_registration"] = json!(true);
            s["auto_registration_start_dn"] = json!("7000");
            s["auto_registration_end_dn"] = json!("7099");
        })
        .await;
        for (ua, file, name, model) in [
            (
                "Yealink SIP-T54W 96.86.0.45 80:5e:c0:99:88:77",
                "805ec0998877.cfg",
                "SEP805EC0998877",
                "T54W",
            ),
            (
                "FileTransport PolycomVVX-VVX_250-UA/5.9.5.0614 Type/Application",
                "0004f2998877-phone1.cfg",
                "SEP0004F2998877",
                "VVX250",
            ),
            (
                "Grandstream Model HW GXP2140 SW 1.0.9.135 DevId 000b82998877",
                "cfg000b82998877.xml",
                "SEP000B82998877",
                "GXP2140",
            ),
            (
                "Mozilla/4.0 (compatible; snomD735-SIP 10.1.33.33 2010.12 000413998877)",
                "000413998877.xml",
                "SEP000413998877",
                "D735",
            ),
        ] {
            let (code, body) = curl(&curl_bin, &["-A", ua, &format!("{http}/{file}")]);
            assert_eq!(code, 200, "[{}] {file}: {body}", t.label);
            let (s, p) = t.get(&format!("/api/v1/phones/{name}")).await;
            assert_eq!(s, StatusCode::OK, "[{}] {p}", t.label);
            assert_eq!(p["model"], model, "[{}] {p}", t.label);
        }
        // A Yealink whose User-Agent names a model Dialtone does not know is not registered.
        let (code, _) = curl(
            &curl_bin,
            &[
                "-A",
                "Yealink SIP-T99X 1.1.1.1 80:5e:c0:99:88:66",
                &format!("{http}/805ec0998866.cfg"),
            ],
        );
        assert_eq!(code, 404, "[{}]", t.label);
        t.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_vendor_is_notified_with_its_own_event() {
    for db in TestDb::all().await {
        // One phone per vendor, each on its own loopback address, listening for SIP on one port.
        let first = UdpSocket::bind("127.0.0.2:0").await.unwrap();
        let port = first.local_addr().unwrap().port();
        let mut got = vec![answer_notifies(first)];
        for host in 3..=5u8 {
            let sock = UdpSocket::bind(std::net::SocketAddr::from(([127, 0, 0, host], port)))
                .await
                .unwrap();
            got.push(answer_notifies(sock));
        }
        let t = TestApp::spawn_with(&db, |c| {
            c.sip.listen = "127.0.0.1:0".into();
            c.sip.phone_port = port;
            c.sip.debounce_ms = 150;
            c.sip.t1_ms = 50;
            c.sip.t2_ms = 200;
        })
        .await;
        let http = format!("http://{}", t.app.http_addr.unwrap());
        t.create(
            "/api/v1/users",
            json!({"user_id": "jsmith", "last_name": "Smith", "digest_credential": "d1gest"}),
        )
        .await;
        let mut names = Vec::new();
        for (i, v) in VENDORS.iter().enumerate() {
            t.create(
                "/api/v1/phones",
                json!({"mac": v.mac, "model": v.model, "owner_user_id": "jsmith",
                       "lines": [{"pattern": format!("50{i}0")}]}),
            )
            .await;
            let ip = format!("127.0.0.{}", i + 2);
            let (s, body) = fetch_from(ip.parse().unwrap(), &format!("{http}/{}", v.own)).await;
            assert_eq!(s, StatusCode::OK, "[{}] {body}", t.label);
            names.push(format!("SEP{}", v.mac));
        }
        for name in &names {
            let start = std::time::Instant::now();
            while t.status_now(name).await["seen"] != true {
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(15),
                    "{name} not seen"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        let (s, v) = t.post("/api/v1/resync", json!({"devices": names})).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        assert_eq!(v["queued"], 4, "{v}");
        wait_for("a NOTIFY at each phone", || {
            got.iter().all(|g| !g.lock().unwrap().is_empty())
        })
        .await;
        for ((v, g), i) in VENDORS.iter().zip(&got).zip(0..) {
            let notify = g.lock().unwrap()[0].clone();
            assert!(
                notify.starts_with(&format!("NOTIFY sip:50{i}0@127.0.0.{}:", i + 2)),
                "[{}] {notify}",
                t.label
            );
            assert!(
                notify.contains(&format!("\r\nEvent: {}\r\n", v.event)),
                "[{}] {}: {notify}",
                t.label,
                v.model
            );
        }
        t.stop().await;
    }
}

/// BAT-style CSV with every vendor's models, through the real binary: the rows are phones like
/// any other (a model the catalogue does not have is refused on its own line), and each gets
/// its vendor's files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_of_every_vendor_imports_and_each_phone_gets_its_files() {
    for db in TestDb::all().await {
        let dir = common::temp_folder("vendors-csv");
        let csv = dir.join("phones.csv");
        std::fs::write(
            &csv,
            "MAC ADDRESS,DEVICE TYPE,DESCRIPTION,DIRECTORY NUMBER 1\n\
             805EC0223344,T54W,Yealink at reception,7101\n\
             0004F2223344,VVX350,Poly in the lab,7102\n\
             000B82223344,GXP2135,Grandstream in the store,7103\n\
             C074AD223344,GRP2616,Grandstream in the hall,7106\n\
             000413223344,D735,Snom in the office,7104\n\
             000413223345,D999,a model nobody makes,7105\n",
        )
        .unwrap();
        let out = common::dialtone(&db, &["import", "--kind", "phones", csv.to_str().unwrap()]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("D999"),
            "[{}] the bad row is named: {text}",
            db.label
        );
        assert!(
            text.contains("line 7"),
            "[{}] with its line: {text}",
            db.label
        );
        let t = TestApp::spawn(&db).await;
        for (name, model, file, number) in [
            ("SEP805EC0223344", "T54W", "805ec0223344.cfg", "7101"),
            (
                "SEP0004F2223344",
                "VVX350",
                "0004f2223344-phone1.cfg",
                "7102",
            ),
            ("SEP000B82223344", "GXP2135", "cfg000b82223344.xml", "7103"),
            ("SEPC074AD223344", "GRP2616", "cfgc074ad223344.xml", "7106"),
            ("SEP000413223344", "D735", "000413223344.xml", "7104"),
        ] {
            let (s, p) = t.get(&format!("/api/v1/phones/{name}")).await;
            assert_eq!(s, StatusCode::OK, "[{}] {p}", t.label);
            assert_eq!(p["model"], model, "[{}] {p}", t.label);
            let body = t.file_preview(name, file).await;
            assert!(body.contains(number), "[{}] {file}: {body}", t.label);
        }
        let (s, _) = t.get("/api/v1/phones/SEP000413223345").await;
        assert_eq!(s, StatusCode::NOT_FOUND, "[{}]", t.label);
        // A model that registers fewer lines than it has keys says so.
        let got = t
            .post(
                "/api/v1/phones",
                json!({"mac": "C074AD223399", "model": "GRP2612",
                       "lines": [{"pattern": "7201"}, {"pattern": "7202"}, {"pattern": "7203"}]}),
            )
            .await;
        let message = t.refused(got, StatusCode::UNPROCESSABLE_ENTITY, "lines");
        assert!(
            message.contains("registers 2 lines at most"),
            "[{}] {message}",
            t.label
        );
        t.stop().await;
    }
}

/// Other vendors' phones search their owner's LDAP profile (docs/directory.md), with its bind
/// password; a change to the profile's server reaches their next file (nothing cached stays).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_searches_its_owners_ldap_profile_and_follows_its_changes() {
    let Some(curl_bin) = peer("curl") else { return };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let http = format!("http://{}", t.app.http_addr.expect("phone listener"));
        t.create(
            "/api/v1/ldap-servers",
            json!({"name": "dc1", "host": "dc1.example.com", "security": "ldaps"}),
        )
        .await;
        t.create(
            "/api/v1/ldap-profiles",
            json!({"name": "corp", "primary_server": "dc1", "bind_dn": "cn=phones,dc=example,dc=com",
                   "password": "B1nd-pass", "search_context": "ou=people,dc=example,dc=com"}),
        )
        .await;
        t.create(
            "/api/v1/users",
            json!({"user_id": "jsmith", "last_name": "Smith", "digest_credential": "d1gest",
                   "app_profiles": {"ldap": "corp"}}),
        )
        .await;
        t.create("/api/v1/phones", json!({"mac": "805EC0445566", "model": "T54W", "owner_user_id": "jsmith", "lines": [{"pattern": "4100"}]})).await;
        t.create("/api/v1/phones", json!({"mac": "000413445566", "model": "D785", "owner_user_id": "jsmith", "lines": [{"pattern": "4101"}]})).await;
        // A Yealink without an owner has no directory.
        t.create(
            "/api/v1/phones",
            json!({"mac": "805EC0445567", "model": "T54W", "lines": [{"pattern": "4102"}]}),
        )
        .await;
        let (_, file) = curl(&curl_bin, &[&format!("{http}/805ec0445566.cfg")]);
        for want in [
            "ldap.enable = 1",
            "ldap.host = dc1.example.com",
            "ldap.port = 636",
            "ldap.tls_mode = 2",
            "ldap.base = ou=people,dc=example,dc=com",
            "ldap.user = cn=phones,dc=example,dc=com",
            "ldap.password = B1nd-pass",
        ] {
            assert!(file.contains(want), "[{}] {want}:\n{file}", t.label);
        }
        let (_, snom) = curl(&curl_bin, &[&format!("{http}/000413445566.xml")]);
        assert!(
            snom.contains("<ldap_server perm=\"R\">dc1.example.com</ldap_server>"),
            "[{}] {snom}",
            t.label
        );
        let (_, none) = curl(&curl_bin, &[&format!("{http}/805ec0445567.cfg")]);
        assert!(none.contains("ldap.enable = 0"), "[{}] {none}", t.label);

        let (_, s) = t.get("/api/v1/ldap-servers/dc1").await;
        let (code, v) = t
            .patch(
                "/api/v1/ldap-servers/dc1",
                json!({"version": s["version"], "host": "dc2.example.com"}),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{v}");
        let (_, file) = curl(&curl_bin, &[&format!("{http}/805ec0445566.cfg")]);
        assert!(
            file.contains("ldap.host = dc2.example.com"),
            "[{}] the change reached the file:\n{file}",
            t.label
        );
        t.stop().await;
    }
}

//! The loop closed, on SQLite and PostgreSQL: 200 simulated phones (the `fleet` binary, each
//! phone on its own loopback address) boot against `dialtone serve`; an administrator changes a
//! line 100 of them share; each of those gets a NOTIFY (answered after a 401 challenge, with
//! the credentials the server gave it), resyncs, and reports success over syslog; their status
//! shows it; the 100 others get no NOTIFY; at the end every phone holds what the server holds.
//! The last test does the same with phones of every vendor.

use dialtone::{App, Config};
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant};
use store::testing::TestDb;

const PASSWORD: &str = "fleet-test-admin";
const PHONES: usize = 200;

struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let r = rb.basic_auth("admin", Some(PASSWORD)).send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str) -> Value {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
            .1
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.client.post(format!("{}{path}", self.base)).json(&body))
            .await
    }
    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(
            self.client
                .patch(format!("{}{path}", self.base))
                .json(&body),
        )
        .await
    }
}

/// A server on loopback for `fleet`: every listener on a port of its own, quick SIP timers,
/// and the port the phones will listen on for NOTIFYs (free on their own addresses).
fn config(db: &TestDb) -> (Config, u16) {
    let sip_port = std::net::UdpSocket::bind("127.1.1.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = Config::default();
    cfg.admin.https_listen.clear();
    cfg.database.url = db.url.clone();
    cfg.admin.listen = "127.0.0.1:0".into();
    cfg.http.listen = "127.0.0.1:0".into();
    cfg.sip.listen = "127.0.0.1:0".into();
    cfg.sip.phone_port = sip_port;
    cfg.sip.debounce_ms = 200;
    // Timer F (64 × T1) is 16 s: a NOTIFY waits that long for a phone whose fleet is starved
    // of CPU by the tests beside it (at T1 = 100 ms, 6.4 s once ran out on a loaded CI machine).
    cfg.sip.t1_ms = 250;
    cfg.sip.rate = 500;
    cfg.syslog.listen = "127.0.0.1:0".into();
    cfg.admin_password = Some(PASSWORD.into());
    cfg.secret_key = Some("ZGlhbHRvbmUgdGVzdCBzZWNyZXQga2V5IDMyIGJ5dGU=".into());
    (cfg, sip_port)
}

fn name(i: usize) -> String {
    format!("SEP00562B{:06X}", i + 1)
}

/// Every phone's status, by name.
async fn statuses(api: &Api) -> Vec<Value> {
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let v = api
            .get(&format!(
                "/api/v1/status?q=SEP00562B&limit=1000&offset={offset}"
            ))
            .await;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        offset += items.len();
        all.extend(items);
        if offset as i64 >= v["total"].as_i64().unwrap_or(0) || offset == 0 {
            return all;
        }
    }
}

async fn until(what: &str, api: &Api, ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let s = statuses(api).await;
        if ok(&s) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "timed out waiting for {what}: {:#}",
            s.iter()
                .find(|x| x["state"] != "ok")
                .cloned()
                .unwrap_or(Value::Null)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_phones_boot_resync_on_a_change_and_report_it() {
    // The server's log, when RUST_LOG asks for it.
    if let Ok(f) = tracing_subscriber::EnvFilter::try_from_default_env() {
        let _ = tracing_subscriber::fmt().with_env_filter(f).try_init();
    }
    for db in TestDb::all().await {
        let (cfg, sip_port) = config(&db);
        let mut app = App::build(&cfg).await.unwrap();
        let api = Api {
            base: format!("http://{}", app.admin_addr),
            client: reqwest::Client::new(),
        };
        let http = format!("http://{}", app.http_addr.unwrap());
        let (s, v) = api
            .post(
                "/api/v1/users",
                json!({"user_id": "jsmith", "last_name": "Smith", "digest_credential": "d1gest"}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        for i in 0..PHONES {
            // The first 100 share 5000; every phone has a line of its own.
            let mut lines = vec![json!({"pattern": format!("{}", 6000 + i)})];
            if i < 100 {
                lines.insert(0, json!({"pattern": "5000"}));
            }
            let (s, v) = api
                .post(
                    "/api/v1/phones",
                    json!({"mac": format!("00562B{:06X}", i + 1), "model": "8861", "owner_user_id": "jsmith", "lines": lines}),
                )
                .await;
            assert_eq!(s, 201, "{v}");
        }

        let per_phone =
            std::env::temp_dir().join(format!("fleet-{}-{}.jsonl", std::process::id(), db.label));
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fleet"))
            .args(["--phones", &PHONES.to_string(), "--model", "8861"])
            .args(["--http", &http, "--admin", &api.base])
            .args(["--syslog", &app.syslog_addr.unwrap().to_string()])
            .args(["--sip-port", &sip_port.to_string(), "--challenge"])
            .args(["--time-scale", "60", "--duration", "20"])
            .arg("--per-phone")
            .arg(&per_phone)
            .env("FLEET_ADMIN_PASSWORD", PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run fleet");

        // Booted: every phone fetched its file and said so over syslog.
        let booted = until("every phone to boot", &api, |s| {
            s.len() == PHONES && s.iter().all(|x| x["resync_succeeded_at"].is_string())
        });
        let booted = tokio::time::timeout(Duration::from_secs(45), booted).await;
        assert!(
            booted.is_ok(),
            "[{}] not every phone booted: syslog {:?}",
            db.label,
            app.reports.counts()
        );
        // What they got is the baseline; wait for the scan that covers it.
        let resync = app.resync.clone().unwrap();
        let g = app.service.generation().await.unwrap();
        let start = Instant::now();
        while resync.scanned_generation() < g {
            assert!(start.elapsed() < Duration::from_secs(20));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let before = resync.sent();
        assert_eq!(before, 0, "booting phones need no NOTIFY");

        // The change.
        let changed_at = store::now();
        let line = api.get("/api/v1/lines/5000").await;
        let (s, v) = api
            .patch(
                "/api/v1/lines/5000",
                json!({"version": line["version"], "alerting_name": "Front desk"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let after = until("the 100 phones to resync and report it", &api, |s| {
            s.iter()
                .filter(|x| x["device"].as_str() < Some(name(100).as_str()))
                .all(|x| {
                    x["notify_outcome"] == "accepted (200)"
                        && x["resync_succeeded_at"].as_str() > Some(changed_at.as_str())
                        && x["state"] == "ok"
                })
        })
        .await;
        for x in &after {
            if x["device"].as_str() >= Some(name(100).as_str()) {
                assert!(x["notify_outcome"].is_null(), "an unaffected phone: {x}");
            }
        }

        let out = child.wait_with_output().await.unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "fleet printed no report: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert!(out.status.success(), "[{}] {report}", db.label);
        assert_eq!(report["phones"], PHONES, "{report}");
        assert_eq!(report["provisioned"], PHONES, "{report}");
        assert_eq!(report["notifies"], 100, "{report}");
        assert!(report["p99_ms"].as_f64().unwrap() > 0.0);
        let lines = std::fs::read_to_string(&per_phone).unwrap();
        let _ = std::fs::remove_file(&per_phone);
        for l in lines.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            let affected = v["name"].as_str() < Some(name(100).as_str());
            assert_eq!(v["notifies"], if affected { 1 } else { 0 }, "{v}");
        }
        assert_eq!(app.reports.counts().malformed, 0);
        // /metrics counted the fleet: each NOTIFY accepted, each phone's files and reports.
        let text = api
            .client
            .get(format!("{}/metrics", api.base))
            .basic_auth("admin", Some(PASSWORD))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let value = |series: &str| {
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(series)
                        .and_then(|v| v.trim().parse::<f64>().ok())
                })
                .unwrap_or(0.0)
        };
        assert_eq!(
            value(r#"dialtone_notifies_total{outcome="accepted"}"#),
            100.0,
            "[{}] {text}",
            db.label
        );
        assert!(
            value(r#"dialtone_phone_requests_total{protocol="http",outcome="ok"}"#)
                >= 2.0 * PHONES as f64,
            "[{}] every phone fetched at least its two files: {text}",
            db.label
        );
        assert!(
            value(r#"dialtone_syslog_datagrams_total{taken="resync_report"}"#) >= PHONES as f64,
            "[{}] {text}",
            db.label
        );
        // And the console's status dashboard draws them: its charts say their totals.
        let console = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let logged_in = console
            .post(format!("{}/login", api.base))
            .form(&[
                ("username", "admin"),
                ("password", PASSWORD),
                ("next", "/status"),
            ])
            .send()
            .await
            .unwrap();
        let cookie = logged_in.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let page = console
            .get(format!("{}/status", api.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let said = |chart: &str, series: &str| -> u64 {
            let label = page
                .split("aria-label=\"")
                .find(|l| l.starts_with(chart))
                .unwrap_or_else(|| panic!("no chart {chart} in the status page"));
            let label = &label[..label.find('"').unwrap()];
            label
                .split(", ")
                .find_map(|part| {
                    part.rsplit_once(": ")
                        .map_or(part, |(_, p)| p)
                        .strip_prefix(series)
                })
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {series} in {label}"))
        };
        assert!(
            said("Phone file requests, last hour", "requests") >= 2 * PHONES as u64,
            "[{}] the requests chart",
            db.label
        );
        assert_eq!(
            said("Resyncs and NOTIFYs, last hour", "NOTIFYs accepted"),
            100,
            "[{}] the NOTIFY chart",
            db.label
        );
        assert!(
            said("Resyncs and NOTIFYs, last hour", "resyncs reported") >= PHONES as u64,
            "[{}] the resyncs chart",
            db.label
        );
        app.stop().await.unwrap();
    }
}

/// Self-provisioning end to end, on SQLite and PostgreSQL: four `fleet` phones (two MPP, two
/// enterprise) boot unknown and auto-register with numbers of the range; one is claimed on its
/// own screen (the Cisco IP Phone XML service its file leads to), one through the API; each
/// claimed phone gets a NOTIFY, fetches its file again, and ends holding its user's line; the
/// two others keep their auto-registered numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_phones_auto_register_and_are_claimed_by_their_users() {
    for db in TestDb::all().await {
        let (cfg, sip_port) = config(&db);
        let mut app = App::build(&cfg).await.unwrap();
        let api = Api {
            base: format!("http://{}", app.admin_addr),
            client: reqwest::Client::new(),
        };
        let http = format!("http://{}", app.http_addr.unwrap());
        for (path, body) in [
            (
                "/api/v1/universal-line-templates",
                json!({"name": "Auto", "line": {"partition": "Auto", "label": "#Extension#"}}),
            ),
            (
                "/api/v1/universal-device-templates",
                json!({"name": "Desk", "device": {"device_pool": "Sales"}}),
            ),
            (
                "/api/v1/user-profiles",
                json!({"name": "Sales", "device_template": "Desk", "allow_self_provisioning": true}),
            ),
            ("/api/v1/lines", json!({"pattern": "2001"})),
            ("/api/v1/lines", json!({"pattern": "2002"})),
            (
                "/api/v1/users",
                json!({"user_id": "ada", "first_name": "Ada", "last_name": "Lovelace", "primary_extension": "2001", "user_profile": "Sales", "pin": "13579"}),
            ),
            (
                "/api/v1/users",
                json!({"user_id": "bob", "first_name": "Bob", "last_name": "Babbage", "primary_extension": "2002", "user_profile": "Sales", "pin": "24680"}),
            ),
        ] {
            let (s, v) = api.post(path, body).await;
            assert_eq!(s, 201, "{path}: {v}");
        }
        let sys = api.get("/api/v1/systems/default").await;
        let mut settings = sys["settings"].clone();
        for (k, v) in [
            ("auto_registration_start_dn", "1000"),
            ("auto_registration_end_dn", "1099"),
            ("auto_registration_device_template", "Desk"),
            ("auto_registration_line_template", "Auto"),
        ] {
            settings[k] = json!(v);
        }
        settings["auto_registration"] = json!(true);
        let (s, v) = api
            .patch(
                "/api/v1/systems/default",
                json!({"version": sys["version"], "settings": settings}),
            )
            .await;
        assert_eq!(s, 200, "{v}");

        let per_phone = std::env::temp_dir().join(format!(
            "fleet-sp-{}-{}.jsonl",
            std::process::id(),
            db.label
        ));
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fleet"))
            .args(["--phones", "4", "--model", "8861,7960,8861,7960"])
            .args(["--http", &http, "--admin", &api.base])
            .args(["--sip-port", &sip_port.to_string()])
            .args(["--time-scale", "60", "--duration", "15"])
            .arg("--per-phone")
            .arg(&per_phone)
            .env("FLEET_ADMIN_PASSWORD", PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run fleet");

        // All four auto-register, each with a number of its own.
        let start = Instant::now();
        let phones = loop {
            let v = api.get("/api/v1/phones?q=SEP00562B&limit=10").await;
            let items = v["items"].as_array().cloned().unwrap_or_default();
            let seen = statuses(&api)
                .await
                .iter()
                .filter(|s| s["last_seen"].is_string())
                .count();
            if items.len() == 4 && seen == 4 {
                break items;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "[{}] not all auto-registered: {v}",
                db.label
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let mut numbers: Vec<&str> = phones
            .iter()
            .map(|p| p["lines"][0]["pattern"].as_str().unwrap())
            .collect();
        numbers.sort();
        assert_eq!(numbers, ["1000", "1001", "1002", "1003"], "[{}]", db.label);
        assert!(phones.iter().all(|p| p["auto_registered"] == true));
        // The baseline the resync engine compares with.
        let resync = app.resync.clone().unwrap();
        let g = app.service.generation().await.unwrap();
        let start = Instant::now();
        while resync.scanned_generation() < g {
            assert!(start.elapsed() < Duration::from_secs(20));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let claimed_at = store::now();

        // Phone 1 (an MPP phone) on its own screen: its file's XML application, then the form.
        let mpp = name(0);
        // Fetched from the phone's own address (the fleet's first phone is 127.1.1.1): the
        // server tells a phone to resync at the address it last fetched from, and a fetch from
        // 127.0.0.1 would send the NOTIFY where no phone listens.
        let as_phone = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 1, 1, 1]))
            .build()
            .unwrap();
        let file = as_phone
            .get(format!("{http}/00562b000001.xml"))
            .header("User-Agent", "Cisco-CP-8861-3PCC/11.3.1 (00562b000001)")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let url = file
            .split("<XML_Application_Service_URL ua=\"na\">")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or_else(|| panic!("no self-provisioning service in {file}"))
            .replace("&amp;", "&");
        let form = api
            .client
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let action = form
            .split("<URL>")
            .nth(1)
            .and_then(|r| r.split("</URL>").next())
            .unwrap()
            .replace("&amp;", "&");
        let done = api
            .client
            .get(format!("{action}&user=ada&pin=13579"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            done.contains("now ada&apos;s, extension 2001"),
            "[{}] {done}",
            db.label
        );
        let seen_at = statuses(&api)
            .await
            .into_iter()
            .find(|x| x["device"] == mpp.as_str())
            .map(|x| x["ip"].clone());
        assert_eq!(
            seen_at,
            Some(json!("127.1.1.1")),
            "[{}] the phone's address, where its NOTIFY goes",
            db.label
        );
        // Phone 2 (an enterprise phone) through the API, by the number it shows.
        let enterprise = name(1);
        let number = phones
            .iter()
            .find(|p| p["name"] == enterprise.as_str())
            .unwrap()["lines"][0]["pattern"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, v) = api
            .post(
                "/api/v1/self-provisioning/claims",
                json!({"phone": number, "user": "2002", "secret": "24680"}),
            )
            .await;
        assert_eq!(s, 201, "[{}] {v}", db.label);

        // Both are told, fetch again, and hold their user's line.
        until("the claimed phones to resync", &api, |s| {
            [&mpp, &enterprise].iter().all(|n| {
                s.iter().any(|x| {
                    x["device"] == n.as_str()
                        && x["notify_outcome"] == "accepted (200)"
                        && x["last_seen"].as_str() > Some(claimed_at.as_str())
                })
            })
        })
        .await;
        let out = child.wait_with_output().await.unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "fleet printed no report: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert!(out.status.success(), "[{}] {report}", db.label);
        assert_eq!(
            report["provisioned"], 4,
            "[{}] every phone holds what the server holds: {report}",
            db.label
        );
        let lines = std::fs::read_to_string(&per_phone).unwrap();
        let _ = std::fs::remove_file(&per_phone);
        for l in lines.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            let claimed = v["name"] == mpp.as_str() || v["name"] == enterprise.as_str();
            assert_eq!(
                v["notifies"].as_u64().unwrap() > 0,
                claimed,
                "[{}] {v}",
                db.label
            );
        }
        for (n, user, ext) in [(&mpp, "ada", "2001"), (&enterprise, "bob", "2002")] {
            let p = api.get(&format!("/api/v1/phones/{n}")).await;
            assert_eq!(
                (
                    p["owner_user_id"].as_str(),
                    p["lines"][0]["pattern"].as_str(),
                    p["auto_registered"].as_bool()
                ),
                (Some(user), Some(ext), Some(false)),
                "[{}] {p}",
                db.label
            );
        }
        app.stop().await.unwrap();
    }
}

/// Extension mobility played by phones (docs/phones.md): six enterprise phones log in from their
/// services menu (Extension Mobility, user ID and PIN), are told to resync and end with their
/// users' profile lines; run again with a login time, they log in, log out and end with their
/// own lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_log_in_and_out_with_extension_mobility() {
    const N: usize = 6;
    for db in TestDb::all().await {
        let l = db.label;
        let (cfg, sip_port) = config(&db);
        let mut app = App::build(&cfg).await.unwrap();
        let api = Api {
            base: format!("http://{}", app.admin_addr),
            client: reqwest::Client::new(),
        };
        let http = format!("http://{}", app.http_addr.unwrap());
        for i in 0..N {
            for (path, body) in [
                (
                    "/api/v1/phones",
                    json!({"mac": &name(i)[3..], "model": "7960", "protocol": "SIP", "lines": [{"pattern": format!("{}", 3000 + i)}]}),
                ),
                (
                    "/api/v1/device-profiles",
                    json!({"name": format!("EM-{i}"), "model": "7960", "protocol": "SIP", "lines": [{"pattern": format!("{}", 6000 + i)}]}),
                ),
                (
                    "/api/v1/users",
                    json!({"user_id": format!("emuser{i}"), "last_name": "Mobile", "pin": "2468",
                    "device_profiles": [format!("EM-{i}")], "default_device_profile": format!("EM-{i}")}),
                ),
            ] {
                let (s, v) = api.post(path, body).await;
                assert_eq!(s, 201, "[{l}] {path}: {v}");
            }
        }
        let fleet = |extra: &[&str]| {
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_fleet"));
            c.args(["--phones", &N.to_string(), "--model", "7960"])
                .args(["--http", &http, "--admin", &api.base])
                .args(["--sip-port", &sip_port.to_string()])
                .args(["--time-scale", "60", "--duration", "10"])
                .args(["--em-user", "emuser{i}", "--em-pin", "2468"])
                .args(extra)
                .env("FLEET_ADMIN_PASSWORD", PASSWORD);
            c
        };
        let run = |mut c: std::process::Command| async move {
            let out = tokio::task::spawn_blocking(move || c.output().unwrap())
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            let v: Value = serde_json::from_str(text.trim()).unwrap_or_else(|_| {
                panic!(
                    "[{l}] fleet said {text} {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
            v
        };

        // Logged in, and holding the profiles' lines.
        let r = run(fleet(&[])).await;
        assert_eq!(
            (r["em_logins"].as_u64(), r["provisioned"].as_u64()),
            (Some(N as u64), Some(N as u64)),
            "[{l}] {r}"
        );
        assert_eq!(api.get("/api/v1/logins").await["total"], N, "[{l}]");
        for i in 0..N {
            let st = api.get(&format!("/api/v1/phones/{}/login", name(i))).await;
            assert_eq!(st["login"]["user_id"], format!("emuser{i}"), "[{l}] {st}");
        }
        let f = api
            .client
            .get(format!(
                "{}/api/v1/phones/{}/files/{}.cnf.xml",
                api.base,
                name(2),
                name(2)
            ))
            .basic_auth("admin", Some(PASSWORD))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            f.contains("<name>6002</name>") && !f.contains("<name>3002</name>"),
            "[{l}] {f}"
        );

        // Logged out after their time (2 minutes of phone time), back on their own lines.
        for i in 0..N {
            let (s, v) = api
                .post(&format!("/api/v1/phones/{}/logout", name(i)), json!({}))
                .await;
            assert_eq!(s, 200, "[{l}] {v}");
        }
        let r = run(fleet(&["--em-logout-after", "120"])).await;
        assert_eq!(
            (
                r["em_logins"].as_u64(),
                r["em_logouts"].as_u64(),
                r["provisioned"].as_u64()
            ),
            (Some(N as u64), Some(N as u64), Some(N as u64)),
            "[{l}] {r}"
        );
        assert_eq!(api.get("/api/v1/logins").await["total"], 0, "[{l}]");
        app.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_fetch_their_firmware_load_over_tftp_with_a_window_of_16() {
    const N: usize = 6;
    for db in TestDb::all().await {
        let l = db.label;
        let (mut cfg, sip_port) = config(&db);
        cfg.tftp.listen = "127.0.0.1:0".into();
        let folder = std::env::temp_dir().join(format!(
            "dialtone-fleet-firmware-{}-{l}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&folder);
        cfg.firmware.folder = Some(folder.display().to_string());
        let mut app = App::build(&cfg).await.unwrap();
        let api = Api {
            base: format!("http://{}", app.admin_addr),
            client: reqwest::Client::new(),
        };
        // Two loads: 400 KB for the 7960s (TFTP), 100 KB for the 8861s (HTTP, their rule).
        let loads = [
            ("sip7960.9-4-2SR3", 400_000usize, "7960"),
            ("sip88xx.14-2-1MPP-0001-154", 100_000, "8861"),
        ];
        for (load, size, model) in loads {
            let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let r = api
                .client
                .put(format!("{}/api/v1/firmware/files/{load}.loads", api.base))
                .basic_auth("admin", Some(PASSWORD))
                .body(bytes)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "[{l}] upload {load}");
            let r = api
                .client
                .put(format!("{}/api/v1/firmware/loads", api.base))
                .basic_auth("admin", Some(PASSWORD))
                .json(&json!({"model": model, "scope": "system", "load": load}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "[{l}] choose {load}");
        }
        for i in 0..N {
            let model = if i % 2 == 0 { "7960" } else { "8861" };
            let (s, v) = api
                .post(
                    "/api/v1/phones",
                    json!({"mac": &name(i)[3..], "model": model, "protocol": "SIP", "lines": [{"pattern": format!("{}", 3100 + i)}]}),
                )
                .await;
            assert_eq!(s, 201, "[{l}] {v}");
        }
        let off = api.get("/api/v1/firmware/phones-off-load").await;
        assert_eq!(off.as_array().map(Vec::len), Some(N), "[{l}] {off}");

        let tftp = app.tftp_addr.unwrap();
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_fleet"));
        c.args(["--phones", &N.to_string(), "--model", "7960,8861"])
            .args(["--http", &format!("http://{}", app.http_addr.unwrap())])
            .args(["--tftp", &tftp.to_string(), "--windowsize", "16"])
            .args(["--admin", &api.base, "--sip-port", &sip_port.to_string()])
            .args(["--time-scale", "60", "--duration", "5"])
            .env("FLEET_ADMIN_PASSWORD", PASSWORD);
        let out = tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let r: Value = serde_json::from_str(text.trim()).unwrap_or_else(|_| {
            panic!(
                "[{l}] fleet said {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(
            (
                r["provisioned"].as_u64(),
                r["firmware_upgrades"].as_u64(),
                r["firmware_bytes"].as_u64()
            ),
            (
                Some(N as u64),
                Some(N as u64),
                Some(3 * 400_000 + 3 * 100_000)
            ),
            "[{l}] {r}"
        );
        // Each phone recorded on the load it fetched, from the address it was seen at.
        let start = Instant::now();
        loop {
            let off = api.get("/api/v1/firmware/phones-off-load").await;
            if off.as_array().is_some_and(Vec::is_empty) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "[{l}] still off their load: {off}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let st = api.get(&format!("/api/v1/phones/{}/status", name(0))).await;
        assert_eq!(st["firmware"], "sip7960.9-4-2SR3", "[{l}] {st}");
        app.stop().await.unwrap();
        let _ = std::fs::remove_dir_all(&folder);
    }
}

/// A mixed fleet of all five vendors, on SQLite and PostgreSQL: Cisco MPP and enterprise,
/// Yealink, Poly, Grandstream and Snom phones boot against `dialtone serve`, each fetching what
/// its vendor's phones fetch in their order; each learns its HTTP credential from its files, so
/// `phone_auth` can then be turned on without a visit; a change to a line half of them share
/// reaches those with their own vendor's NOTIFY (challenged, answered with the credentials
/// their files gave them), they fetch again with their credentials, and at the end every phone
/// holds what the server holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_every_vendor_boots_and_resyncs_on_its_own_notify() {
    const MODELS: [&str; 7] = [
        "8861", "7960", "T46U", "VVX450", "GXP2170", "GRP2614", "D785",
    ];
    const N: usize = 42;
    for db in TestDb::all().await {
        let (cfg, sip_port) = config(&db);
        let mut app = App::build(&cfg).await.unwrap();
        let api = Api {
            base: format!("http://{}", app.admin_addr),
            client: reqwest::Client::new(),
        };
        let http = format!("http://{}", app.http_addr.unwrap());
        let (s, v) = api
            .post(
                "/api/v1/users",
                json!({"user_id": "jsmith", "last_name": "Smith", "digest_credential": "d1gest"}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        for i in 0..N {
            let model = MODELS[i % MODELS.len()];
            let mut lines = vec![json!({"pattern": format!("{}", 6000 + i)})];
            if i < N / 2 {
                lines.insert(0, json!({"pattern": "5000"}));
            }
            let (s, v) = api
                .post(
                    "/api/v1/phones",
                    json!({"mac": format!("00562B{:06X}", i + 1), "model": model, "protocol": "SIP",
                           "owner_user_id": "jsmith", "lines": lines}),
                )
                .await;
            assert_eq!(s, 201, "{model}: {v}");
            if model != "7960" {
                let (s, v) = api
                    .send(
                        api.client
                            .put(format!("{}/api/v1/phones/{}/http-credential", api.base, name(i)))
                            .json(&json!({"version": v["version"], "password": format!("Pass-{i}.word")})),
                    )
                    .await;
                assert_eq!(s, 200, "{v}");
            }
        }

        // The resync engine has looked at all of that before a phone boots: a credential set
        // after the engine's first look at its phone is a change, and had the phone already
        // asked for a file, it would be owed a NOTIFY (with no address yet, it is settled).
        let resync = app.resync.clone().unwrap();
        let g = app.service.generation().await.unwrap();
        let start = Instant::now();
        while resync.scanned_generation() < g {
            assert!(start.elapsed() < Duration::from_secs(20));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let per_phone = std::env::temp_dir().join(format!(
            "fleet-mixed-{}-{}.jsonl",
            std::process::id(),
            db.label
        ));
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fleet"))
            .args(["--phones", &N.to_string(), "--model", &MODELS.join(",")])
            .args(["--http", &http, "--admin", &api.base])
            .args(["--sip-port", &sip_port.to_string(), "--challenge"])
            .args(["--time-scale", "60", "--duration", "20"])
            .arg("--per-phone")
            .arg(&per_phone)
            .env("FLEET_ADMIN_PASSWORD", PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run fleet");

        // Booted: every phone has asked for its files.
        until("every phone to fetch its files", &api, |s| {
            s.len() == N && s.iter().all(|x| x["seen"] == true)
        })
        .await;
        let g = app.service.generation().await.unwrap();
        let start = Instant::now();
        while resync.scanned_generation() < g {
            assert!(start.elapsed() < Duration::from_secs(20));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            resync.sent(),
            0,
            "[{}] booting phones need no NOTIFY",
            db.label
        );

        // Their files carried their credentials: the policy goes on, then the change.
        let sys = api.get("/api/v1/systems/default").await;
        let mut settings = sys["settings"].clone();
        settings["phone_auth"] = json!("secrets");
        let (s, v) = api
            .patch(
                "/api/v1/systems/default",
                json!({"version": sys["version"], "settings": settings}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let line = api.get("/api/v1/lines/5000").await;
        let (s, v) = api
            .patch(
                "/api/v1/lines/5000",
                json!({"version": line["version"], "alerting_name": "Front desk"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        until(
            "the phones sharing 5000 to accept their NOTIFY",
            &api,
            |s| {
                s.iter()
                    .filter(|x| x["device"].as_str() <= Some(name(N / 2 - 1).as_str()))
                    .all(|x| x["notify_outcome"] == "accepted (200)")
            },
        )
        .await;

        let out = child.wait_with_output().await.unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "fleet printed no report: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let lines = std::fs::read_to_string(&per_phone).unwrap();
        let _ = std::fs::remove_file(&per_phone);
        assert!(out.status.success(), "[{}] {report}\n{lines}", db.label);
        assert_eq!(report["provisioned"], N, "[{}] {report}", db.label);
        assert_eq!(
            report["notifies"],
            N / 2,
            "[{}] {report}\n{lines}",
            db.label
        );
        for l in lines.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            let affected = v["name"].as_str() <= Some(name(N / 2 - 1).as_str());
            assert_eq!(v["provisioned"], true, "[{}] {v}", db.label);
            assert_eq!(
                v["notifies"],
                if affected { 1 } else { 0 },
                "[{}] {v}",
                db.label
            );
        }
        // Each vendor's phones fetched their own files, by their vendors' names.
        let text = api
            .client
            .get(format!("{}/api/v1/phones/{}/status", api.base, name(2)))
            .basic_auth("admin", Some(PASSWORD))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains("Yealink SIP-T46U"), "[{}] {text}", db.label);
        app.stop().await.unwrap();
    }
}

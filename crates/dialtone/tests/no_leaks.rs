//! No secret leaks (issue 16, "Transport and secrets"): the real server, logging everything
//! (debug), is given known passwords, PINs, SIP digest credentials, a phone's HTTP password, an
//! LDAP bind password and a token, through the API, a CSV import and the log-in forms, right
//! and wrong; then every log line it wrote and every answer an administrator can read (lists,
//! records, the audit log, jobs and their errors, exports, status, metrics, console pages, the
//! errors of refused requests) are searched for each of them. The only places a secret may be
//! are the files phones fetch and a preview by an administrator allowed to read them.

mod common;

use common::{Served, PASSWORD, SECRET_KEY};
use serde_json::{json, Value};
use store::testing::TestDb;

/// Every secret given to the server in this test.
const SECRETS: &[&str] = &[
    PASSWORD,
    SECRET_KEY,
    "Leak-Pw-7781",
    "99887766",
    "Dg-Leak-5521",
    "Ph-Leak-3390",
    "Pk-Leak-2201",
    "SysPk-Leak-9902",
    "Bad Leak$Key-3131",
    "Ldap-Leak-6612",
    "Csv-Leak-4471",
    "55443322",
    "Csv-Dg-Leak-8812",
    "Wrong-Leak-1",
    "Adm-Wrong-77",
    "Type-Leak-424242",
    // A PIN sent as a number (a wrong type): not echoed in the error.
    "424242",
];

struct Api<'a> {
    s: &'a Served,
    client: reqwest::Client,
    /// Every answer read, with what was asked.
    read: std::cell::RefCell<Vec<(String, String)>>,
}

impl Api<'_> {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let mut rb = self
            .client
            .request(method.clone(), format!("{}{path}", self.s.admin))
            .basic_auth("admin", Some(PASSWORD));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        self.read
            .borrow_mut()
            .push((format!("{method} {path} ({status})"), text.clone()));
        (status, text)
    }

    async fn get(&self, path: &str) -> Value {
        let (_, text) = self.send(reqwest::Method::GET, path, None).await;
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, text) = self.send(reqwest::Method::POST, path, Some(body)).await;
        (s, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_logged_or_answered() {
    let db = TestDb::sqlite();
    let mut cmd = common::command(
        &db,
        &["serve", "--admin", "127.0.0.1:0", "--http", "127.0.0.1:0"],
    );
    cmd.env("RUST_LOG", "debug");
    let s = Served::start(cmd);
    let api = Api {
        s: &s,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        read: Default::default(),
    };

    // Through the API: a user with a password, PIN and digest credential; a phone of theirs
    // with an HTTP password; an LDAP profile with a bind password.
    let (st, v) = api
        .post(
            "/api/v1/users",
            json!({"user_id": "leaky", "last_name": "Leaky", "password": "Leak-Pw-7781",
                   "pin": "99887766", "digest_credential": "Dg-Leak-5521"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (st, phone) = api
        .post(
            "/api/v1/phones",
            json!({"mac": "00562B990001", "model": "8861", "owner_user_id": "leaky",
                   "lines": [{"pattern": "2990"}]}),
        )
        .await;
    assert_eq!(st, 201, "{phone}");
    let (st, _) = api
        .send(
            reqwest::Method::PUT,
            "/api/v1/phones/SEP00562B990001/http-credential",
            Some(json!({"version": phone["version"], "password": "Ph-Leak-3390"})),
        )
        .await;
    assert_eq!(st, 200);
    // Profile keys, the phone's and its system's, with encrypted profiles on.
    let phone = api.get("/api/v1/phones/SEP00562B990001").await;
    let (st, v) = api
        .send(
            reqwest::Method::PUT,
            "/api/v1/phones/SEP00562B990001/profile-key",
            Some(json!({"version": phone["version"], "key": "Pk-Leak-2201"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let sys = api.get("/api/v1/systems/default").await;
    let (st, v) = api
        .send(
            reqwest::Method::PUT,
            "/api/v1/systems/default/profile-key",
            Some(json!({"version": sys["version"], "key": "SysPk-Leak-9902"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let sys: Value = serde_json::from_str(&v).unwrap();
    let mut settings = sys["settings"].clone();
    settings["profile_encryption"] = json!("on");
    let (st, v) = api
        .send(
            reqwest::Method::PATCH,
            "/api/v1/systems/default",
            Some(json!({"version": sys["version"], "settings": settings})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    // A key that breaks the rules is refused without being echoed.
    let phone = api.get("/api/v1/phones/SEP00562B990001").await;
    let (st, _) = api
        .send(
            reqwest::Method::PUT,
            "/api/v1/phones/SEP00562B990001/profile-key",
            Some(json!({"version": phone["version"], "key": "Bad Leak$Key-3131"})),
        )
        .await;
    assert_eq!(st, 422);
    let (st, v) = api
        .post(
            "/api/v1/ldap-servers",
            json!({"name": "dc1", "host": "dc1.example.com"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = api
        .post(
            "/api/v1/ldap-profiles",
            json!({"name": "Corp", "bind_dn": "cn=reader,dc=example,dc=com",
                   "password": "Ldap-Leak-6612", "primary_server": "dc1",
                   "search_context": "ou=users,dc=example,dc=com"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    // Refused requests that carry secrets: a wrong type, a rule broken, a duplicate.
    for body in [
        json!({"user_id": "typo", "last_name": "T", "pin": 424242i64}),
        json!({"user_id": "typo", "last_name": "T", "password": "Type-Leak-424242", "pin": "12"}),
        json!({"user_id": "leaky", "last_name": "Again", "password": "Type-Leak-424242"}),
    ] {
        let (st, _) = api.post("/api/v1/users", body).await;
        assert!((400..500).contains(&st), "{st}");
    }
    // A token, made and used.
    let (st, tok) = api
        .post("/api/v1/tokens", json!({"name": "leak test"}))
        .await;
    assert_eq!(st, 201, "{tok}");
    let token = tok["token"].as_str().unwrap().to_string();
    let r = api
        .client
        .get(format!("{}/api/v1/phones", s.admin))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A CSV import with passwords, PINs and digest credentials (a row failing too).
    let csv = "USER ID,LAST NAME,PASSWORD,PIN,DIGEST CREDENTIALS\n\
               csvleak,Csv,Csv-Leak-4471,55443322,Csv-Dg-Leak-8812\n\
               bad user,Csv,Csv-Leak-4471,55443322,Csv-Dg-Leak-8812\n";
    let r = api
        .client
        .post(format!(
            "{}/api/v1/imports?kind=users&source=leak.csv",
            s.admin
        ))
        .basic_auth("admin", Some(PASSWORD))
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let job: Value = r.json().await.unwrap();
    let id = job["id"].as_i64().unwrap();
    let start = std::time::Instant::now();
    while api.get(&format!("/api/v1/imports/{id}")).await["state"] == "running" {
        assert!(start.elapsed().as_secs() < 60);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Log-ins, right and wrong: the admin's console and API, an end user's self-care.
    for (user, pw) in [("admin", "Adm-Wrong-77"), ("admin", PASSWORD)] {
        let r = api
            .client
            .post(format!("{}/login", s.admin))
            .form(&[("username", user), ("password", pw), ("next", "/")])
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        api.read
            .borrow_mut()
            .push((format!("POST /login ({status})"), text));
    }
    let r = api
        .client
        .get(format!("{}/api/v1/phones", s.admin))
        .basic_auth("admin", Some("Adm-Wrong-77"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    for pw in ["Wrong-Leak-1", "Leak-Pw-7781"] {
        let r = api
            .client
            .post(format!("{}/self-care/login", s.admin))
            .form(&[("user_id", "leaky"), ("password", pw)])
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        api.read
            .borrow_mut()
            .push((format!("POST /self-care/login ({status})"), text));
    }

    // The phone fetches its file (the one place its secrets go), with its HTTP password.
    let r = api
        .client
        .get(format!("http://{}/00562b990001.xml", s.http))
        .header("User-Agent", "Cisco-CP-8861-3PCC/11.3.1 (00562b990001)")
        .send()
        .await
        .unwrap();
    let file = r.text().await.unwrap();
    assert!(
        file.contains("Dg-Leak-5521"),
        "the phone gets its SIP password"
    );
    assert!(file.contains("[--key Pk-Leak-2201"), "and its profile key");
    let sealed = api
        .client
        .get(format!("http://{}/00562b990001.cfg", s.http))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(sealed.starts_with(b"Salted__"), "its encrypted profile");

    // Everything an administrator reads.
    for path in [
        "/api/v1/users?q=",
        "/api/v1/users/leaky",
        "/api/v1/users/csvleak",
        "/api/v1/phones?q=",
        "/api/v1/phones/SEP00562B990001",
        "/api/v1/lines?q=",
        "/api/v1/ldap-servers",
        "/api/v1/ldap-profiles",
        "/api/v1/ldap-profiles/Corp",
        "/api/v1/audit?limit=1000",
        "/api/v1/imports",
        "/api/v1/tokens",
        "/api/v1/whoami",
        "/api/v1/status",
        "/metrics",
        "/users/leaky",
        "/phones/SEP00562B990001",
        "/audit",
        "/jobs",
    ] {
        api.send(reqwest::Method::GET, path, None).await;
    }
    api.send(reqwest::Method::GET, &format!("/api/v1/imports/{id}"), None)
        .await;
    api.send(
        reqwest::Method::GET,
        &format!("/api/v1/imports/{id}/errors"),
        None,
    )
    .await;
    api.send(reqwest::Method::GET, &format!("/jobs/{id}"), None)
        .await;
    for kind in [
        "users",
        "phones",
        "lines",
        "device-profiles",
        "voicemail-subscribers",
        "app-profiles",
    ] {
        api.send(
            reqwest::Method::GET,
            &format!("/api/v1/exports/{kind}"),
            None,
        )
        .await;
    }
    // Give the server a moment to write what it logs after answering.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let mut found = Vec::new();
    let log = s.log_lines();
    assert!(
        log.len() > 50,
        "the server logged {} lines at debug",
        log.len()
    );
    eprintln!(
        "searched {} log lines and {} answers for {} secrets",
        log.len(),
        api.read.borrow().len(),
        SECRETS.len() + 1
    );
    for line in &log {
        for secret in SECRETS.iter().chain([&token.as_str()]) {
            if line.contains(secret) {
                found.push(format!("log: {secret} in {line}"));
            }
        }
    }
    for (what, answer) in api.read.borrow().iter() {
        for secret in SECRETS.iter().chain([&token.as_str()]) {
            if answer.contains(secret)
                && !(what.starts_with("POST /api/v1/tokens") && *secret == token)
            {
                let at = answer.find(secret).unwrap();
                let around =
                    &answer[at.saturating_sub(80)..(at + secret.len() + 40).min(answer.len())];
                found.push(format!("{what}: {secret} in …{around}…"));
            }
        }
    }
    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n"));
}

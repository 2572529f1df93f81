//! Passwords and PINs in an imported users file (issue 18, docs/csv.md "Passwords and PINs"),
//! on SQLite and PostgreSQL: they go in sealed at the import's speed, users log in with them
//! while the server hashes them in the background (the console's self-care log-in with the
//! password, extension mobility through the API with the PIN), and after: once hashed, no
//! sealed copy is left, and a wrong secret is refused all along.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use store::testing::TestDb;

const USERS: usize = 150;

async fn import_users(t: &TestApp) -> Value {
    let mut csv = String::from("USER ID,FIRST NAME,LAST NAME,PIN,PASSWORD\n");
    for i in 0..USERS {
        csv.push_str(&format!(
            "sec{i:03},S,User {i},{},Pass-word-{i:03}\n",
            30000 + i
        ));
    }
    let r = t
        .client
        .post(t.url("/api/v1/imports?kind=users"))
        .bearer_auth(&t.token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED, "[{}]", t.label);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let start = Instant::now();
    loop {
        let (_, j) = t.get(&format!("/api/v1/imports/{id}")).await;
        if j["state"] != "running" {
            return j;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "[{}] {j}",
            t.label
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The console's self-care log-in: a session cookie and a redirect when the password is right.
async fn self_care(t: &TestApp, user: &str, password: &str) -> bool {
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = c
        .post(t.url("/self-care/login"))
        .form(&[("user_id", user), ("password", password), ("system", "")])
        .send()
        .await
        .unwrap();
    r.status() == StatusCode::SEE_OTHER && r.headers().contains_key("set-cookie")
}

async fn em_login(t: &TestApp, user: &str, pin: &str) -> StatusCode {
    let (s, _) = t
        .post(
            "/api/v1/phones/SEP00562B0E0001/login",
            json!({"user_id": user, "pin": pin}),
        )
        .await;
    if s == StatusCode::OK {
        t.post("/api/v1/phones/SEP00562B0E0001/logout", json!({}))
            .await;
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_secrets_work_while_they_are_hashed_and_after() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        t.create(
            "/api/v1/phones",
            json!({"mac": "00562B0E0001", "model": "7960", "protocol": "SIP"}),
        )
        .await;
        t.create("/api/v1/device-profiles", json!({"name": "EM-sec", "model": "7960", "protocol": "SIP", "lines": [{"pattern": "7777"}]})).await;
        let started = Instant::now();
        let job = import_users(&t).await;
        let imported = started.elapsed();
        assert_eq!(
            (job["ok"].as_i64(), job["failed"].as_i64()),
            (Some(USERS as i64), Some(0)),
            "[{l}] {job}"
        );
        let waiting = t.app.service.sealed_secrets().await.unwrap();
        assert!(
            waiting > 0,
            "[{l}] the import hashed {} secrets itself in {imported:?}",
            2 * USERS
        );
        // Give the last user a device profile (their sealed PIN is kept as it is).
        let last = format!("sec{:03}", USERS - 1);
        let (_, u) = t.get(&format!("/api/v1/users/{last}")).await;
        let (s, v) = t
            .patch(&format!("/api/v1/users/{last}"), json!({"version": u["version"], "device_profiles": ["EM-sec"], "default_device_profile": "EM-sec"}))
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");
        assert_eq!(u["has_pin"], true, "[{l}] {u}");

        // While hashing: the right secrets work, wrong ones do not.
        let pin = format!("{}", 30000 + USERS - 1);
        assert!(
            self_care(&t, &last, &format!("Pass-word-{:03}", USERS - 1)).await,
            "[{l}] password, sealed"
        );
        assert!(
            !self_care(&t, &last, "Pass-word-000").await,
            "[{l}] a wrong password"
        );
        assert_eq!(
            em_login(&t, &last, &pin).await,
            StatusCode::OK,
            "[{l}] PIN, sealed"
        );
        assert_ne!(
            em_login(&t, &last, "30000").await,
            StatusCode::OK,
            "[{l}] a wrong PIN"
        );
        assert!(
            t.app.service.sealed_secrets().await.unwrap() > 0,
            "[{l}] those log-ins were during the hashing"
        );

        // After: nothing sealed is left; the same secrets work against their hashes.
        let start = Instant::now();
        while t.app.service.sealed_secrets().await.unwrap() > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "[{l}] the hasher did not finish"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            self_care(&t, &last, &format!("Pass-word-{:03}", USERS - 1)).await,
            "[{l}] password, hashed"
        );
        assert!(
            self_care(&t, "sec000", "Pass-word-000").await,
            "[{l}] another user, hashed"
        );
        assert_eq!(
            em_login(&t, &last, &pin).await,
            StatusCode::OK,
            "[{l}] PIN, hashed"
        );
        t.stop().await;
    }
}

//! Guessing administrator passwords (issue 16, finding 3), on SQLite and PostgreSQL: failures
//! back off per address and per account, each checked failure is logged and audited, an attempt
//! while waiting is refused with 429 and Retry-After before any password is checked, and a flood
//! of guesses from one host neither locks out the real administrator nor keeps them waiting.
//! Guesses come from other loopback addresses (127.0.0.2, …); the administrator is on 127.0.0.1.
//! Also: a log-in form posted from another site is refused (log-in CSRF, finding 10), and the
//! admin listener's answers carry the security headers (finding 9).

mod common;

use common::{TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::Value;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use store::testing::TestDb;

fn client_from(host: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, host]))
        .build()
        .unwrap()
}

/// `GET /api/v1/phones` with Basic credentials: the status, and `Retry-After` when sent.
async fn basic(
    t: &TestApp,
    c: &reqwest::Client,
    user: &str,
    pw: &str,
) -> (StatusCode, Option<u64>, Value) {
    let r = c
        .get(t.url("/api/v1/phones"))
        .basic_auth(user, Some(pw))
        .send()
        .await
        .unwrap();
    let s = r.status();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (s, retry, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessed_log_ins_back_off_and_are_audited() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let guesser = client_from(2);

        // Five wrong passwords for `admin` cost nothing more; the sixth makes the account wait
        // for addresses it has not logged in from.
        for i in 1..=6 {
            let (s, _, v) = basic(&t, &guesser, "admin", &format!("guess-{i}")).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "[{l}] guess {i}: {v}");
            assert_eq!(
                v["error"]["message"], "user name or password is wrong",
                "[{l}]"
            );
        }
        let (s, retry, v) = basic(&t, &guesser, "admin", PASSWORD).await;
        assert_eq!(
            s,
            StatusCode::TOO_MANY_REQUESTS,
            "[{l}] even the right password waits: {v}"
        );
        assert_eq!(v["error"]["code"], "throttled", "[{l}]");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("this account"),
            "[{l}] {v}"
        );
        assert!(retry.is_some_and(|r| r >= 1), "[{l}] {retry:?}");
        // Another new address waits too; the administrator's own (it logged in) does not.
        let (s, _, _) = basic(&t, &client_from(3), "admin", PASSWORD).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "[{l}]");
        let (s, _, v) = basic(&t, &t.client, "admin", PASSWORD).await;
        assert_eq!(
            s,
            StatusCode::OK,
            "[{l}] the administrator is not locked out: {v}"
        );

        // Ten failures from one address, on names that do not exist: the eleventh makes the
        // address wait, for every account.
        let sweeper = client_from(4);
        for i in 1..=11 {
            let (s, _, v) = basic(&t, &sweeper, &format!("ghost{i}"), "x").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "[{l}] {i}: {v}");
        }
        let (s, retry, v) = basic(&t, &sweeper, "admin", PASSWORD).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "[{l}] {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("your address"),
            "[{l}] {v}"
        );
        assert!(retry.is_some_and(|r| r >= 2), "[{l}] {retry:?}");
        // The console's log-in form says so too.
        let r = sweeper
            .post(t.url("/login"))
            .form(&[("username", "admin"), ("password", PASSWORD), ("next", "/")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "[{l}]");
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("too many failed log-ins from your address"));

        // Every checked failure is audited with its address; the refusals while waiting are not
        // (they checked nothing).
        let (_, a) = t
            .get("/api/v1/audit?action=login&resource=admin&result=failed&limit=100")
            .await;
        let entries = a["items"].as_array().unwrap_or_else(|| panic!("[{l}] {a}"));
        let wrong: Vec<&Value> = entries.iter().filter(|e| e["actor"] == "admin").collect();
        assert_eq!(wrong.len(), 6, "[{l}] {a}");
        assert!(
            wrong.iter().all(|e| e["detail"]
                .as_str()
                .unwrap()
                .starts_with("from 127.0.0.2: wrong password")),
            "[{l}] {a}"
        );
        assert!(
            wrong.iter().any(|e| e["detail"]
                .as_str()
                .unwrap()
                .contains("log-ins to admin from other addresses now wait 1 s")),
            "[{l}] {a}"
        );
        let ghosts = entries
            .iter()
            .filter(|e| e["actor"].as_str().unwrap().starts_with("ghost"))
            .count();
        assert_eq!(ghosts, 11, "[{l}] {a}");
        assert!(
            entries.iter().any(|e| e["detail"]
                .as_str()
                .unwrap()
                .contains("log-ins from 127.0.0.4 now wait 2 s")),
            "[{l}] {a}"
        );
        t.stop().await;
    }
}

/// 64 clients on one host guessing at once, while the administrator logs in from another: the
/// guesses take turns among themselves and soon wait, and the real log-in goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_guesses_does_not_starve_a_real_log_in() {
    let db = TestDb::sqlite();
    let t = TestApp::spawn(&db).await;
    // An administrator whose password the server has never checked: their log-in needs an
    // argon2 verification, as a real one does.
    t.create(
        "/api/v1/admins",
        serde_json::json!({"username": "operator", "password": "operator-password-1", "roles": ["superadmin"]}),
    )
    .await;
    let flood = client_from(5);
    let base = t.url("/api/v1/phones");
    let mut guesses = tokio::task::JoinSet::new();
    for c in 0..64 {
        let (flood, base) = (flood.clone(), base.clone());
        guesses.spawn(async move {
            let mut codes = Vec::new();
            for i in 0..5 {
                let r = flood
                    .get(&base)
                    .basic_auth("admin", Some(format!("guess-{c}-{i}")))
                    .send()
                    .await
                    .unwrap();
                codes.push(r.status().as_u16());
            }
            codes
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A log-in the server has not seen (the console's form, a fresh session) from 127.0.0.1.
    let started = Instant::now();
    let r = client_from(1)
        .post(t.url("/login"))
        .form(&[
            ("username", "operator"),
            ("password", "operator-password-1"),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    eprintln!("a real log-in during 64 guessing clients took {took:?}");
    let mut codes = Vec::new();
    while let Some(c) = guesses.join_next().await {
        codes.extend(c.unwrap());
    }
    let checked = codes.iter().filter(|c| **c == 401).count();
    let refused = codes.iter().filter(|c| **c == 429).count();
    assert_eq!(checked + refused, 320, "{codes:?}");
    assert!(
        checked <= 12,
        "most guesses are refused unchecked: {checked} checked"
    );
    let (_, a) = t
        .get("/api/v1/audit?action=login&result=failed&limit=100")
        .await;
    assert_eq!(a["total"].as_i64(), Some(checked as i64), "{a}");
    t.stop().await;
}

#[tokio::test]
async fn log_ins_from_other_sites_are_refused_and_pages_carry_security_headers() {
    let db = TestDb::sqlite();
    let t = TestApp::spawn(&db).await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let host = t.base.trim_start_matches("http://").to_string();
    let form = [("username", "admin"), ("password", PASSWORD), ("next", "/")];
    let log_in = |headers: Vec<(&'static str, String)>| {
        let mut rb = c.post(t.url("/login")).form(&form);
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        rb.send()
    };
    // Another site's page posting the form: refused, no session.
    for headers in [
        vec![("Origin", "http://evil.example".to_string())],
        vec![("Origin", "null".to_string())],
        vec![
            ("Origin", format!("http://{host}")),
            ("Sec-Fetch-Site", "cross-site".to_string()),
        ],
    ] {
        let r = log_in(headers.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(r.headers().get("set-cookie").is_none(), "{headers:?}");
        let page = r.text().await.unwrap();
        assert!(page.contains("sent from another site"), "{page}");
    }
    // The console's own page, and a client that is no browser (no Origin): logged in.
    for headers in [
        vec![
            ("Origin", format!("http://{host}")),
            ("Sec-Fetch-Site", "same-origin".to_string()),
        ],
        vec![],
    ] {
        let r = log_in(headers.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{headers:?}");
        assert!(r.headers().get("set-cookie").is_some(), "{headers:?}");
    }
    // The end users' self-care log-in the same way.
    let r = c
        .post(t.url("/self-care/login"))
        .header("Origin", "http://evil.example")
        .form(&[("user_id", "ada"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Pages: a Content-Security-Policy without inline script, no framing, no sniffing, no
    // address sent elsewhere; API answers the same but the policy.
    let r = c.get(t.url("/login")).send().await.unwrap();
    let h = r.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self';") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    let r = c
        .get(t.url("/api/v1/phones"))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers().get("content-security-policy").is_none());
}

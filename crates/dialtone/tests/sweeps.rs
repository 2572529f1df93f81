//! Hosts that guess (issue 16, findings 4, 5 and the Digest replay of 9): a MAC sweep over HTTP
//! and TFTP is made to wait after a hundred unknown devices, without holding back a phone served
//! before or any other address; wrong phone passwords wait per address and per device; a
//! captured Digest answer cannot be sent again. Guessers are on 127.0.0.2 and up; real phones
//! and the administrator on 127.0.0.1.

mod common;

use common::{curl, peer, tftp_rrq, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use store::testing::TestDb;

fn client_from(host: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, host]))
        .build()
        .unwrap()
}

async fn get(c: &reqwest::Client, url: &str) -> (StatusCode, Option<String>, String) {
    let r = c.get(url).send().await.unwrap();
    let s = r.status();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (s, retry, r.text().await.unwrap())
}

fn metric(metrics: &str, line: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line))
        .unwrap_or_else(|| panic!("no {line} in the metrics"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mac_sweep_waits_and_real_phones_do_not() {
    let db = TestDb::sqlite();
    let t = TestApp::spawn(&db).await;
    let http = format!("http://{}", t.app.http_addr.unwrap());
    let tftp = t.app.tftp_addr.unwrap();
    for (mac, line) in [("00562B900001", "9001"), ("00562B900002", "9002")] {
        t.create(
            "/api/v1/phones",
            json!({"mac": mac, "model": "7960", "protocol": "SIP", "lines": [{"pattern": line}]}),
        )
        .await;
    }
    let sweeper = client_from(2);
    // A phone at the sweeper's address fetched its file before the sweep (a site behind NAT).
    let (s, _, _) = get(&sweeper, &format!("{http}/SEP00562B900001.cnf.xml")).await;
    assert_eq!(s, 200);

    // A hundred unknown MACs are answered 404 (a site adding phones misses a few); the
    // hundred-and-first begins a wait, and every device file for that address waits.
    let started = Instant::now();
    for i in 0..101u32 {
        let (s, _, _) = get(&sweeper, &format!("{http}/SEP00562BA{i:05X}.cnf.xml")).await;
        assert_eq!(s, 404, "guess {i}");
    }
    let free = started.elapsed();
    let (s, retry, body) = get(&sweeper, &format!("{http}/SEP00562BA99999.cnf.xml")).await;
    assert_eq!(s, 429, "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
    assert!(body.contains("devices not in the directory"), "{body}");
    // A real phone's file is held back too (else hits would still show), unless that phone
    // was served at this address before.
    let (s, _, _) = get(&sweeper, &format!("{http}/SEP00562B900002.cnf.xml")).await;
    assert_eq!(s, 429);
    let (s, _, _) = get(&sweeper, &format!("{http}/SEP00562B900001.cnf.xml")).await;
    assert_eq!(s, 200, "the phone behind the same address keeps its file");
    // Every other address is served as before.
    let (s, _, _) = get(&t.client, &format!("{http}/SEP00562B900002.cnf.xml")).await;
    assert_eq!(s, 200);
    // Waiting out the wait gives one more guess, and a longer wait.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, _, _) = get(&sweeper, &format!("{http}/SEP00562BA99998.cnf.xml")).await;
    assert_eq!(s, 404);
    let (s, retry, _) = get(&sweeper, &format!("{http}/SEP00562BA99997.cnf.xml")).await;
    assert_eq!((s.as_u16(), retry.as_deref()), (429, Some("2")));
    eprintln!("a sweep's 101 free guesses took {free:?}; then 1 s, 2 s, … to 60 s a guess");

    // Over TFTP the same: the sweep is counted per address whatever the protocol.
    for i in 0..101u32 {
        let (op, text) = tftp_rrq(3, tftp, &format!("SEP00562BB{i:05X}.cnf.xml"));
        assert_eq!(op, 5, "{text}");
        assert!(text.contains("not found"), "{i}: {text}");
    }
    let (op, text) = tftp_rrq(3, tftp, "SEP00562B900002.cnf.xml");
    assert_eq!(op, 5);
    assert!(text.contains("try again in 1 s"), "{text}");
    let (op, _) = tftp_rrq(4, tftp, "SEP00562B900002.cnf.xml");
    assert_eq!(op, 3, "another address gets its file");

    let (_, m) = t.get("/metrics").await;
    let m = m.as_str().unwrap().to_string();
    assert_eq!(
        metric(
            &m,
            "dialtone_phone_requests_total{protocol=\"http\",outcome=\"throttled\"} "
        ),
        3
    );
    assert_eq!(
        metric(
            &m,
            "dialtone_phone_requests_total{protocol=\"tftp\",outcome=\"throttled\"} "
        ),
        1
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_passwords_cannot_be_guessed_and_answers_not_replayed() {
    let Some(curl_bin) = peer("curl") else { return };
    let db = TestDb::sqlite();
    let t = TestApp::spawn(&db).await;
    let http = format!("http://{}", t.app.http_addr.unwrap());
    let (_, sys) = t.get("/api/v1/systems/default").await;
    let mut settings = sys["settings"].clone();
    settings["phone_auth"] = json!("all");
    let (s, _) = t
        .patch(
            "/api/v1/systems/default",
            json!({"version": sys["version"], "settings": settings}),
        )
        .await;
    assert_eq!(s, 200);
    let p = t
        .create(
            "/api/v1/phones",
            json!({"mac": "00562B900003", "model": "8861", "lines": [{"pattern": "9003"}]}),
        )
        .await;
    let (s, _) = t
        .put(
            "/api/v1/phones/SEP00562B900003/http-credential",
            json!({"version": p["version"], "password": "Ph0ne-pass.9"}),
        )
        .await;
    assert_eq!(s, 200);
    let file = format!("{http}/00562b900003.xml");
    let guess = |host: &str, pw: &str| {
        curl(
            &curl_bin,
            &[
                "--interface",
                host,
                "--digest",
                "--user",
                &format!("00562b900003:{pw}"),
                &file,
            ],
        )
        .0
    };
    // The phone itself, on 127.0.0.1, is served.
    assert_eq!(guess("127.0.0.1", "Ph0ne-pass.9"), 200);
    // Five wrong passwords from a guesser are answered 401; the sixth makes the device wait
    // for other addresses, so even the right one is refused there for now.
    for i in 0..6 {
        assert_eq!(guess("127.0.0.2", &format!("guess{i}")), 401, "guess {i}");
    }
    assert_eq!(guess("127.0.0.2", "Ph0ne-pass.9"), 429);
    assert_eq!(
        guess("127.0.0.1", "Ph0ne-pass.9"),
        200,
        "the phone is not locked out"
    );

    // A captured Digest answer sent again is refused with a fresh challenge (stale=true).
    let out = std::process::Command::new(&curl_bin)
        .args([
            "-s",
            "-v",
            "-o",
            "/dev/null",
            "--digest",
            "--user",
            "00562b900003:Ph0ne-pass.9",
            &file,
        ])
        .output()
        .unwrap();
    let trace = String::from_utf8_lossy(&out.stderr).to_string();
    let sent = trace
        .lines()
        .filter_map(|l| l.strip_prefix("> Authorization: "))
        .next_back()
        .unwrap_or_else(|| panic!("curl sent no Digest answer: {trace}"))
        .trim()
        .to_string();
    let replay = std::process::Command::new(&curl_bin)
        .args(["-s", "-i", "-H", &format!("Authorization: {sent}"), &file])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&replay.stdout).to_string();
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(head.to_ascii_lowercase().contains("stale=true"), "{head}");
    t.stop().await;
}

//! Overload (issue 16): when the files not in the cache stop moving (here: PostgreSQL holds
//! the devices table locked, as a slow or stuck database would), new misses are turned away at
//! once with 503 and Retry-After (TFTP: "busy") instead of queueing without bound; cached files
//! and the admin API keep answering; once the database moves again every phone gets its file.
//!
//! PostgreSQL only: SQLite's readers never wait for a writer (WAL), so nothing there can hold
//! a read the way a locked table does; the shedding itself is the same code on both.

mod common;

use common::TestApp;
use serde_json::json;
use sqlx::Connection;
use std::time::{Duration, Instant};
use store::testing::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_store_sheds_new_misses_and_keeps_serving_the_rest() {
    let Some(curl) = common::peer("curl") else {
        return;
    };
    let Some(db) = TestDb::postgres().await else {
        eprintln!("SKIPPED overload: PostgreSQL is not available (set DIALTONE_TEST_POSTGRES)");
        return;
    };
    let t = TestApp::spawn_with(&db, |c| c.http.shed_after_ms = 300).await;
    let http = format!("http://{}", t.app.http_addr.unwrap());
    let tftp = t.app.tftp_addr.unwrap();
    for (mac, line) in [
        ("00562B930001", "9301"),
        ("00562B930002", "9302"),
        ("00562B930003", "9303"),
    ] {
        t.create(
            "/api/v1/phones",
            json!({"mac": mac, "model": "8861", "lines": [{"pattern": line}]}),
        )
        .await;
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let get = |file: &str| client.get(format!("{http}/{file}")).send();
    // Phone 3's file is in the cache.
    assert_eq!(get("00562b930003.xml").await.unwrap().status(), 200);

    // The database stops answering reads of devices.
    sqlx::any::install_default_drivers();
    let mut lock = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut lock).await.unwrap();
    sqlx::query("LOCK TABLE devices IN ACCESS EXCLUSIVE MODE")
        .execute(&mut lock)
        .await
        .unwrap();

    // Phone 1 misses the cache and waits for the store…
    let first = tokio::spawn({
        let r = get("00562b930001.xml");
        async move { r.await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!first.is_finished(), "phone 1 waits for the locked table");

    // …and past 300 ms, phone 2 is turned away at once, over HTTP and TFTP.
    let start = Instant::now();
    let r = get("00562b930002.xml").await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let (op, text) = common::tftp_rrq(1, tftp, "00562b930002.xml");
    assert_eq!(op, 5, "an error packet");
    assert!(
        text.contains("the server is busy: try again in 1 s"),
        "{text}"
    );
    // A cached file and the admin API still answer.
    assert_eq!(get("00562b930003.xml").await.unwrap().status(), 200);
    let (s, _) = t.get("/healthz").await;
    assert_eq!(s, 200);
    let (_, m) = t.get("/metrics").await;
    let m = m.as_str().unwrap().to_string();
    assert!(
        m.contains("dialtone_phone_requests_total{protocol=\"http\",outcome=\"shed\"} 1\n"),
        "{m}"
    );
    assert!(m.contains("dialtone_phone_requests_total{protocol=\"tftp\",outcome=\"shed\"} 1\n"));

    // The database moves again: phone 1 gets its file, and phone 2 on its retry.
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    assert_eq!(first.await.unwrap().unwrap(), 200);
    assert_eq!(get("00562b930002.xml").await.unwrap().status(), 200);
    let (_, body) = common::curl(&curl, &[&format!("tftp://{tftp}/00562b930002.xml")]);
    assert!(
        body.contains("</flat-profile>"),
        "curl's whole TFTP transfer: {body}"
    );
    t.stop().await;
}

//! Resync end to end, on SQLite and PostgreSQL: phones (UDP sockets of this test, each on its
//! own loopback address, as a phone on its own IP) fetch their files over HTTP; an
//! administrator changes a shared line; the phones whose file it alters get a NOTIFY (the MPP
//! one `Event: resync`, the enterprise one `Event: check-sync`), the other none; phones report
//! over syslog and their status shows it; an administrator resyncs one phone on demand.

mod common;

use common::{answer_notifies, fetch_from, wait_for, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use store::testing::TestDb;
use tokio::net::UdpSocket;

async fn status_until(t: &TestApp, name: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (_, v) = t.get(&format!("/api/v1/phones/{name}/status")).await;
        if ok(&v) {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "{name}: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_notifies_the_phones_it_alters_and_their_reports_show() {
    for db in TestDb::all().await {
        // Three phones on three loopback addresses, listening for SIP on one port.
        let a_sock = UdpSocket::bind("127.0.0.2:0").await.unwrap();
        let port = a_sock.local_addr().unwrap().port();
        let b_sock = UdpSocket::bind(("127.0.0.3", port)).await.unwrap();
        let c_sock = UdpSocket::bind(("127.0.0.4", port)).await.unwrap();
        let (a_got, b_got, c_got) = (
            answer_notifies(a_sock),
            answer_notifies(b_sock),
            answer_notifies(c_sock),
        );
        let t = TestApp::spawn_with(&db, |c| {
            c.sip.listen = "127.0.0.1:0".into();
            c.sip.phone_port = port;
            c.sip.debounce_ms = 150;
            c.sip.t1_ms = 50;
            c.sip.t2_ms = 200;
            c.syslog.listen = "127.0.0.1:0".into();
        })
        .await;
        let http = format!("http://{}", t.app.http_addr.unwrap());
        let syslog = t.app.syslog_addr.unwrap();
        t.create(
            "/api/v1/users",
            json!({"user_id": "jsmith", "last_name": "Smith", "digest_credential": "d1gest"}),
        )
        .await;
        // A (MPP) and B (enterprise) share 2000; C has a line of its own.
        t.create("/api/v1/phones", json!({"mac": "00562B000001", "model": "8861", "owner_user_id": "jsmith", "lines": [{"pattern": "2000"}, {"pattern": "2001"}]})).await;
        t.create("/api/v1/phones", json!({"mac": "00562B000002", "model": "7960", "protocol": "SIP", "lines": [{"pattern": "2000"}]})).await;
        t.create(
            "/api/v1/phones",
            json!({"mac": "00562B000003", "model": "8841", "lines": [{"pattern": "3000"}]}),
        )
        .await;
        for (ip, file) in [
            ("127.0.0.2", "00562b000001.xml"),
            ("127.0.0.3", "SEP00562B000002.cnf.xml"),
            ("127.0.0.4", "00562b000003.xml"),
        ] {
            let (s, body) = fetch_from(ip.parse().unwrap(), &format!("{http}/{file}")).await;
            assert_eq!(s, StatusCode::OK, "[{}] {file}: {body}", t.label);
        }
        for name in ["SEP00562B000001", "SEP00562B000002", "SEP00562B000003"] {
            status_until(&t, name, |v| v["seen"] == true).await;
        }
        // The phones as they are now are the baseline: wait for the scan that covers them.
        let resync = t.app.resync.clone().expect("SIP is on");
        let g = t.app.service.generation().await.unwrap();
        wait_for("the baseline scan", || resync.scanned_generation() >= g).await;
        assert!(
            a_got.lock().unwrap().is_empty(),
            "adding phones notifies no one"
        );

        // The shared line's name: A's and B's files change, C's does not.
        let (_, line) = t.get("/api/v1/lines/2000").await;
        let (s, v) = t
            .patch(
                "/api/v1/lines/2000",
                json!({"version": line["version"], "alerting_name": "Sales desk"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        wait_for("NOTIFYs to A and B", || {
            !a_got.lock().unwrap().is_empty() && !b_got.lock().unwrap().is_empty()
        })
        .await;
        let g = t.app.service.generation().await.unwrap();
        wait_for("the scan of the change", || {
            resync.scanned_generation() >= g
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let a = a_got.lock().unwrap().clone();
        let b = b_got.lock().unwrap().clone();
        assert_eq!(a.len(), 1, "one NOTIFY for one change: {a:#?}");
        assert_eq!(b.len(), 1, "{b:#?}");
        assert!(a[0].starts_with("NOTIFY sip:2000@127.0.0.2:"), "{}", a[0]);
        assert!(a[0].contains("\r\nEvent: resync\r\n"), "{}", a[0]);
        assert!(b[0].contains("\r\nEvent: check-sync\r\n"), "{}", b[0]);
        assert!(c_got.lock().unwrap().is_empty(), "C's file did not change");
        let st = status_until(&t, "SEP00562B000001", |v| v["notify_outcome"].is_string()).await;
        assert_eq!(st["notify_outcome"], "accepted (200)", "{st}");
        assert_eq!(st["state"], "not_resynced", "{st}");

        // A resyncs and says so over syslog; C reports a failure; garbage is dropped.
        let (s, body) = fetch_from(
            "127.0.0.2".parse().unwrap(),
            &format!("{http}/00562b000001.xml"),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains("Sales desk"), "{body}");
        for (from, line) in [
            ("127.0.0.2", format!("<134>Nov 24 18:00:00 127.0.0.2 CP-8861-3PCC 00:56:2b:00:00:01 -- Successful resync {http}/00562b000001.xml")),
            ("127.0.0.4", "<131>1 2026-11-24T18:00:01Z 127.0.0.4 phone - - - CP-8841-3PCC 00:56:2b:00:00:03 -- Resync failed: HTTP 404 Not Found".to_string()),
            ("127.0.0.4", "not syslog at all".to_string()),
            ("127.0.0.4", "<134>Nov 24 18:00:02 127.0.0.4 kernel: link up".to_string()),
        ] {
            let s = std::net::UdpSocket::bind((from, 0)).unwrap();
            s.send_to(line.as_bytes(), syslog).unwrap();
        }
        let st = status_until(&t, "SEP00562B000001", |v| {
            v["resync_succeeded_at"].is_string()
        })
        .await;
        assert_eq!(st["state"], "ok", "{st}");
        let st = status_until(&t, "SEP00562B000003", |v| v["state"] == "failing").await;
        assert_eq!(st["resync_error"], "HTTP 404 Not Found", "{st}");
        wait_for("the syslog counters", || {
            let c = t.app.reports.counts();
            c.datagrams == 4 && c.malformed == 1 && c.other == 1 && c.events == 2
        })
        .await;

        // Lists by state.
        let (_, v) = t.get("/api/v1/status?state=failing").await;
        assert_eq!(v["total"], 1, "{v}");
        assert_eq!(v["items"][0]["device"], "SEP00562B000003");
        let (_, v) = t.get("/api/v1/status?state=not_resynced").await;
        assert_eq!(v["items"][0]["device"], "SEP00562B000002", "{v}");
        let got = t.get("/api/v1/status?state=bogus").await;
        t.refused(got, StatusCode::UNPROCESSABLE_ENTITY, "state");

        // On demand: C alone.
        let (s, v) = t
            .post("/api/v1/resync", json!({"devices": ["SEP00562B000003"]}))
            .await;
        assert_eq!((s, &v["queued"]), (StatusCode::ACCEPTED, &json!(1)), "{v}");
        wait_for("the NOTIFY to C", || c_got.lock().unwrap().len() == 1).await;
        let got = t.post("/api/v1/resync", json!({})).await;
        t.refused(got, StatusCode::UNPROCESSABLE_ENTITY, "devices");
        let got = t
            .post("/api/v1/resync", json!({"devices": ["SEPFFFFFFFFFFFF"]}))
            .await;
        t.refused(got, StatusCode::UNPROCESSABLE_ENTITY, "devices[0]");
        // A phone never seen and without a contact is skipped, with the reason.
        t.create(
            "/api/v1/phones",
            json!({"mac": "00562B000004", "model": "8841"}),
        )
        .await;
        let (_, v) = t.post("/api/v1/resync", json!({"model": "8841"})).await;
        assert_eq!(v["queued"], 1, "{v}");
        assert!(
            v["skipped"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("never made a request"),
            "{v}"
        );

        wait_for("the NOTIFY to C by model", || {
            c_got.lock().unwrap().len() == 2
        })
        .await;
        // A user's DND (seed 003): every phone associated with jsmith (A, which jsmith owns)
        // gets a NOTIFY; B and C do not.
        let (a_before, b_before, c_before) = (
            a_got.lock().unwrap().len(),
            b_got.lock().unwrap().len(),
            c_got.lock().unwrap().len(),
        );
        let (s, v) = t
            .put("/api/v1/users/jsmith/dnd", json!({"dnd": "call_reject"}))
            .await;
        assert_eq!(
            (s, &v["changed"]),
            (StatusCode::OK, &json!(["SEP00562B000001"])),
            "{v}"
        );
        wait_for("the NOTIFY after DND", || {
            a_got.lock().unwrap().len() == a_before + 1
        })
        .await;
        let g = t.app.service.generation().await.unwrap();
        wait_for("the scan of DND", || resync.scanned_generation() >= g).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(b_got.lock().unwrap().len(), b_before, "B is not jsmith's");
        assert_eq!(c_got.lock().unwrap().len(), c_before, "nor is C");
        let (_, body) = fetch_from(
            "127.0.0.2".parse().unwrap(),
            &format!("{http}/00562b000001.xml"),
        )
        .await;
        assert!(
            body.contains("<DND_Setting ua=\"rw\">Yes</DND_Setting>"),
            "{body}"
        );
        let _: SocketAddr = t.app.sip_addr.unwrap();
        t.stop().await;
    }
}

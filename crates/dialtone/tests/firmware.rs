//! Firmware loads (docs/firmware.md), on SQLite and PostgreSQL: files uploaded into the firmware
//! folder (refused with the reason when their name or content is wrong), a load chosen per model
//! on a system, a device pool or one phone (the narrowest wins), the phones' files naming it
//! (`<loadInformation>`, MPP's `Upgrade_Enable`/`Upgrade_Rule`), the files served to real
//! clients (curl with a range, atftp with windowsize 16), and the phones not on their load.

mod common;

use common::{curl, peer, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::Command;
use store::testing::TestDb;

const INVALID: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// Bytes that are not all alike (a load is binary; a repeated byte would hide an offset error).
fn load_bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

async fn upload(t: &TestApp, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let r = t
        .client
        .put(t.url(&format!("/api/v1/firmware/files/{name}")))
        .bearer_auth(&t.token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn element(xml: &str, tag: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let found = doc.descendants().find(|n| n.has_tag_name(tag));
    found.map(|n| n.text().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_are_uploaded_chosen_named_in_files_and_served() {
    let curl_bin = peer("curl");
    let atftp = peer("atftp");
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let enterprise = load_bytes(2_600_000, 1);
        let mpp = load_bytes(300_000, 2);

        // Uploads: wrong names and an empty body are refused, nothing is left behind.
        for bad in ["..hidden", "a%20b.loads", "x%3By.loads"] {
            let m = t.refused(upload(&t, bad, vec![1, 2, 3]).await, INVALID, "name");
            assert!(m.contains("firmware file name"), "[{l}] {bad}: {m}");
        }
        let m = t.refused(upload(&t, "empty.loads", Vec::new()).await, INVALID, "file");
        assert!(m.contains("empty"), "[{l}] {m}");
        let (s, fw) = t.get("/api/v1/firmware").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(fw["files"], json!([]), "[{l}] {fw}");

        let (s, f) = upload(&t, "sip7960.9-4-2SR3.loads", enterprise.clone()).await;
        assert_eq!(s, StatusCode::OK, "[{l}] {f}");
        assert_eq!(
            (f["bytes"].as_u64(), f["load"].as_str()),
            (Some(2_600_000), Some("sip7960.9-4-2SR3")),
            "[{l}] {f}"
        );
        let (s, _) = upload(&t, "sip88xx.14-2-1MPP-0001-154.loads", mpp.clone()).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = upload(&t, "P0S3-8-12-00.sb2", vec![7; 1000]).await;
        assert_eq!(s, StatusCode::OK);
        let (_, fw) = t.get("/api/v1/firmware").await;
        assert_eq!(
            fw["loads"],
            json!(["sip7960.9-4-2SR3", "sip88xx.14-2-1MPP-0001-154"]),
            "[{l}] {fw}"
        );
        assert_eq!(fw["files"].as_array().unwrap().len(), 3, "[{l}] {fw}");

        // Phones: two 7960s (one in pool Lab), an 8861.
        for (mac, model, pool) in [
            ("00562B700001", "7960", "Default"),
            ("00562B700002", "7960", "Lab"),
            ("00562B700003", "8861", "Default"),
        ] {
            t.create("/api/v1/phones", json!({"mac": mac, "model": model, "protocol": "SIP", "device_pool": pool, "lines": [{"pattern": format!("7{}", &mac[9..])}]})).await;
        }
        let tr = &t;
        let file_7960 = |n: &'static str| async move {
            tr.file_preview(
                &format!("SEP00562B70000{n}"),
                &format!("SEP00562B70000{n}.cnf.xml"),
            )
            .await
        };
        assert_eq!(
            element(&file_7960("1").await, "loadInformation").as_deref(),
            Some(""),
            "[{l}] no load chosen yet"
        );

        // Choices refused with the reason.
        let choose = |body: Value| t.put("/api/v1/firmware/loads", body);
        let m = t.refused(
            choose(json!({"model": "7960", "scope": "system", "load": "sip7960.9-9-9"})).await,
            INVALID,
            "load",
        );
        assert!(
            m.contains("no load sip7960.9-9-9") && m.contains("sip7960.9-4-2SR3"),
            "[{l}] {m}"
        );
        let m = t.refused(
            choose(json!({"model": "7970X", "scope": "system", "load": "sip7960.9-4-2SR3"})).await,
            INVALID,
            "model",
        );
        assert!(m.contains("no model"), "[{l}] {m}");
        let m = t.refused(
            choose(json!({"model": "IPC", "scope": "system", "load": "sip7960.9-4-2SR3"})).await,
            INVALID,
            "model",
        );
        assert!(m.contains("soft client"), "[{l}] {m}");
        let m = t.refused(choose(json!({"model": "8861", "scope": "device", "target": "SEP00562B700001", "load": "sip88xx.14-2-1MPP-0001-154"})).await, INVALID, "model");
        assert!(m.contains("is a 7960, not a 8861"), "[{l}] {m}");
        t.refused(
            choose(json!({"model": "7960", "scope": "device_pool", "load": "sip7960.9-4-2SR3"}))
                .await,
            INVALID,
            "target",
        );

        // The system's load for every 7960; phones not on it are listed (they never said).
        let (s, c) =
            choose(json!({"model": "7960", "scope": "system", "load": "SIP7960.9-4-2sr3"})).await;
        assert_eq!(s, StatusCode::OK, "[{l}] {c}");
        assert_eq!(
            (c["load"].as_str(), c["system"].as_str()),
            (Some("sip7960.9-4-2SR3"), Some("default")),
            "[{l}] as in the folder: {c}"
        );
        for n in ["1", "2"] {
            assert_eq!(
                element(&file_7960(n).await, "loadInformation").as_deref(),
                Some("sip7960.9-4-2SR3"),
                "[{l}] {n}"
            );
        }
        // A pool's load overrides the system's, a phone's overrides both.
        let (s, _) = upload(&t, "sip7960.9-4-3.loads", load_bytes(2000, 3)).await;
        assert_eq!(s, StatusCode::OK);
        choose(json!({"model": "7960", "scope": "device_pool", "target": "Lab", "load": "sip7960.9-4-3"})).await;
        assert_eq!(
            element(&file_7960("2").await, "loadInformation").as_deref(),
            Some("sip7960.9-4-3"),
            "[{l}]"
        );
        assert_eq!(
            element(&file_7960("1").await, "loadInformation").as_deref(),
            Some("sip7960.9-4-2SR3"),
            "[{l}]"
        );
        choose(json!({"model": "7960", "scope": "device", "target": "SEP00562B700001", "load": "sip7960.9-4-3"})).await;
        assert_eq!(
            element(&file_7960("1").await, "loadInformation").as_deref(),
            Some("sip7960.9-4-3"),
            "[{l}]"
        );
        let (s, _) = t
            .delete("/api/v1/firmware/loads?model=7960&scope=device&target=SEP00562B700001")
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(
            element(&file_7960("1").await, "loadInformation").as_deref(),
            Some("sip7960.9-4-2SR3"),
            "[{l}] back to the system's"
        );
        let (s, _) = t
            .delete("/api/v1/firmware/loads?model=7960&scope=device&target=SEP00562B700001")
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "[{l}] removed once");

        // MPP: the upgrade rule points at the manifest on the phone listener.
        choose(json!({"model": "8861", "scope": "system", "load": "sip88xx.14-2-1MPP-0001-154"}))
            .await;
        let x = t.file_preview("SEP00562B700003", "00562b700003.xml").await;
        assert_eq!(
            element(&x, "Upgrade_Enable").as_deref(),
            Some("Yes"),
            "[{l}] {x}"
        );
        let rule = element(&x, "Upgrade_Rule").unwrap();
        assert!(
            rule.starts_with("http://") && rule.ends_with("/sip88xx.14-2-1MPP-0001-154.loads"),
            "[{l}] {rule}"
        );

        // A load still chosen cannot be deleted; an unused file can.
        let (s, v) = t.delete("/api/v1/firmware/files/sip7960.9-4-3.loads").await;
        assert_eq!(s, StatusCode::CONFLICT, "[{l}] {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("device pool Lab"),
            "[{l}] {v}"
        );
        let (s, _) = t.delete("/api/v1/firmware/files/P0S3-8-12-00.sb2").await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = t.delete("/api/v1/firmware/files/P0S3-8-12-00.sb2").await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        let (_, off) = t.get("/api/v1/firmware/phones-off-load").await;
        let off = off.as_array().unwrap().clone();
        assert_eq!(off.len(), 3, "[{l}] {off:?}");
        assert!(off.iter().all(|p| p["running"].is_null()), "[{l}] {off:?}");
        assert_eq!(off[1]["chosen_by"], "device_pool", "[{l}] {off:?}");

        // Served over HTTP: whole, and a range of it (a phone resuming).
        let http = format!("http://{}", t.app.http_addr.unwrap());
        let r = t
            .client
            .get(format!("{http}/sip7960.9-4-2SR3.loads"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.bytes().await.unwrap().as_ref(), &enterprise[..], "[{l}]");
        if let Some(curl_bin) = &curl_bin {
            let out = Command::new(curl_bin)
                .args(["-s", "-r", "1000-1999", "-w", "%{http_code}"])
                .arg(format!("{http}/sip7960.9-4-2SR3.loads"))
                .output()
                .unwrap();
            let (body, code) = out.stdout.split_at(out.stdout.len() - 3);
            assert_eq!(code, b"206", "[{l}] curl -r");
            assert_eq!(body, &enterprise[1000..2000], "[{l}] curl -r");
            let (code, _) = curl(curl_bin, &[&format!("{http}/sip7960.9-9-9.loads")]);
            assert_eq!(code, 404, "[{l}]");
        }
        // Over TFTP with a window of 16 blocks (RFC 7440), as atftp asks.
        if let Some(atftp) = &atftp {
            let tftp = t.app.tftp_addr.unwrap();
            let out = common::temp_folder("atftp").join("got.loads");
            let o = Command::new(atftp)
                .args([
                    "--option",
                    "blksize 1428",
                    "--option",
                    "windowsize 16",
                    "-g",
                    "-r",
                    "sip7960.9-4-2SR3.loads",
                    "-l",
                ])
                .arg(&out)
                .arg(tftp.ip().to_string())
                .arg(tftp.port().to_string())
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "[{l}] atftp: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert_eq!(
                std::fs::read(&out).unwrap(),
                enterprise,
                "[{l}] atftp windowsize 16"
            );
        }

        // A replaced file is served new at once; the audit log has every change.
        let newer = load_bytes(5000, 9);
        let (s, f) = upload(&t, "sip7960.9-4-2SR3.loads", newer.clone()).await;
        assert_eq!(
            (s, f["bytes"].as_u64()),
            (StatusCode::OK, Some(5000)),
            "[{l}]"
        );
        let r = t
            .client
            .get(format!("{http}/sip7960.9-4-2SR3.loads"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.bytes().await.unwrap().as_ref(), &newer[..], "[{l}]");
        let (_, a) = t.get("/api/v1/audit?resource=firmware&limit=100").await;
        let actions: Vec<&str> = a["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        for want in ["create", "update", "set", "delete"] {
            assert!(actions.contains(&want), "[{l}] {want} in {actions:?}");
        }
        assert!(
            a["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["result"] == "failed"),
            "[{l}] refusals are audited"
        );

        // An administrator without the firmware privilege is refused, and nothing is written.
        t.create("/api/v1/roles", json!({"name": "Phones only", "privileges": [{"system": "*", "resource": "phone", "action": "*"}]})).await;
        t.create(
            "/api/v1/admins",
            json!({"username": "clerk", "password": "clerk-password", "roles": ["Phones only"]}),
        )
        .await;
        let clerk = common::new_token(&t.client, &t.base, "clerk", "clerk-password").await;
        let r = t
            .client
            .put(t.url("/api/v1/firmware/files/other.loads"))
            .bearer_auth(&clerk)
            .body(vec![1u8; 10])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "[{l}]");
        let r = t
            .client
            .put(t.url("/api/v1/firmware/loads"))
            .bearer_auth(&clerk)
            .json(&json!({"model": "7960", "scope": "system", "load": "sip7960.9-4-3"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "[{l}]");
        let (_, fw) = t.get("/api/v1/firmware").await;
        assert!(
            !fw["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "other.loads"),
            "[{l}] {fw}"
        );
        t.stop().await;
    }
}

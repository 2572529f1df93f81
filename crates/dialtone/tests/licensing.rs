//! Licence units (seed 003, "How to Configure Licensing"; docs/licensing.md), on both
//! backends: signed licence files, units used counted from the directory (a desk phone 1, a
//! soft phone 3 or 1 when adjunct, Enable CUP 1, Enable CUPC 1), every change that would use
//! more refused with the numbers (API, bulk assignment, CSV import rows), the report, the
//! calculator and the status summary; and the CLI that makes key pairs and licences.

mod common;

use common::{command, TestApp};
use model::licensing::{Licence, Units};
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::testing::TestDb;

const CONFLICT: StatusCode = StatusCode::CONFLICT;
const INVALID: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

fn licence(id: &str, device: i64, presence: i64, soft: i64) -> Licence {
    Licence {
        id: id.into(),
        issued_to: "ACME".into(),
        issued: "2026-01-01".into(),
        expires: None,
        units: Units {
            device,
            presence_user: presence,
            soft_client: soft,
        },
    }
}

async fn upload(t: &TestApp, name: &str, text: &str) -> (StatusCode, Value) {
    let r = t
        .client
        .post(t.url(&format!("/api/v1/licensing/licences?file_name={name}")))
        .bearer_auth(&t.token)
        .body(text.to_string())
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// (authorised, used, remaining) of a kind in the report.
async fn units(t: &TestApp, kind: &str) -> (i64, i64, i64) {
    let (_, r) = t.get("/api/v1/licensing").await;
    let l = r["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == kind)
        .unwrap()
        .clone();
    (
        l["authorised"].as_i64().unwrap(),
        l["used"].as_i64().unwrap(),
        l["remaining"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn licence_units_are_counted_and_refused_with_the_numbers() {
    let (private, public) = service::licence_key_pair().unwrap();
    for db in TestDb::all().await {
        let key = public.clone();
        let t = TestApp::spawn_with(&db, move |c| c.licensing.public_key = Some(key)).await;
        let l = t.label;
        let (_, r) = t.get("/api/v1/licensing").await;
        assert_eq!(r["enforced"], true, "[{l}] {r}");

        // Before any licence: no phone, no capability ("You must upload the license file
        // before you can assign capabilities").
        let m = t.refused(
            t.post(
                "/api/v1/phones",
                json!({"mac": "00562B000001", "model": "7960"}),
            )
            .await,
            CONFLICT,
            "model",
        );
        assert!(
            m.contains("needs 1 device unit, 0 remain") && m.contains("no licence is uploaded"),
            "[{l}] {m}"
        );
        t.create("/api/v1/lines", json!({"pattern": "2001"})).await;
        t.create(
            "/api/v1/users",
            json!({"user_id": "ann", "last_name": "A", "primary_extension": "2001"}),
        )
        .await;
        t.create("/api/v1/users", json!({"user_id": "bob", "last_name": "B"}))
            .await;
        t.create("/api/v1/users", json!({"user_id": "cat", "last_name": "C"}))
            .await;
        let m = t.refused(
            t.patch(
                "/api/v1/users/ann",
                json!({"version": 1, "capabilities": {"presence": true}}),
            )
            .await,
            CONFLICT,
            "capabilities",
        );
        assert!(
            m.contains("needs 1 presence user unit, 0 remain"),
            "[{l}] {m}"
        );
        let m = t.refused(
            t.post(
                "/api/v1/users",
                json!({"user_id": "dan", "last_name": "D", "capabilities": {"soft_client": true}}),
            )
            .await,
            CONFLICT,
            "capabilities",
        );
        assert!(
            m.contains("needs 1 soft-client unit, 0 remain"),
            "[{l}] {m}"
        );
        assert_eq!(
            t.get("/api/v1/users/dan").await.0,
            StatusCode::NOT_FOUND,
            "[{l}] nothing half-written"
        );

        // Licence files: the suffix, the signature, once each, not expired.
        let good = service::sign_licence(&private, &licence("ACME-1", 5, 1, 1)).unwrap();
        let m = t.refused(upload(&t, "acme.txt", &good).await, INVALID, "file");
        assert!(m.contains("must have a .lic suffix"), "[{l}] {m}");
        let m = t.refused(
            upload(
                &t,
                "acme.lic",
                &good.replace("device-units: 5", "device-units: 500"),
            )
            .await,
            INVALID,
            "file",
        );
        assert!(m.contains("signature does not match"), "[{l}] {m}");
        let (other, _) = service::licence_key_pair().unwrap();
        let foreign = service::sign_licence(&other, &licence("ACME-2", 5, 1, 1)).unwrap();
        let m = t.refused(upload(&t, "acme.lic", &foreign).await, INVALID, "file");
        assert!(m.contains("another seller's key"), "[{l}] {m}");
        let mut old = licence("ACME-OLD", 5, 1, 1);
        old.expires = Some("2026-06-30".into());
        let expired = service::sign_licence(&private, &old).unwrap();
        let m = t.refused(upload(&t, "old.lic", &expired).await, INVALID, "file");
        assert!(m.contains("expired on 2026-06-30"), "[{l}] {m}");
        let (s, v) = upload(&t, "acme.lic", &good).await;
        assert_eq!(s, StatusCode::CREATED, "[{l}] {v}");
        assert_eq!(v["units"]["device"], 5);
        let m = t.refused(upload(&t, "again.lic", &good).await, CONFLICT, "file");
        assert!(m.contains("uploaded already"), "[{l}] {m}");
        assert_eq!(units(&t, "device").await, (5, 0, 5), "[{l}]");

        // A desk phone 1 unit, a soft phone on its own 3: 4 used, 1 remains.
        let desk = t
            .create(
                "/api/v1/phones",
                json!({"mac": "00562B000001", "model": "7960", "owner_user_id": "ann"}),
            )
            .await;
        let desk = desk["name"].as_str().unwrap().to_string();
        t.create(
            "/api/v1/phones",
            json!({"model": "CUPC", "owner_user_id": "bob"}),
        )
        .await;
        assert_eq!(units(&t, "device").await, (5, 4, 1), "[{l}]");
        let m = t.refused(
            t.post(
                "/api/v1/phones",
                json!({"model": "CUPC", "owner_user_id": "cat"}),
            )
            .await,
            CONFLICT,
            "model",
        );
        assert!(
            m.starts_with("needs 3 device units, 1 remains"),
            "[{l}] {m}"
        );
        // Adjunct to a primary phone, a soft phone takes 1.
        let adj = t
            .create(
                "/api/v1/phones",
                json!({"model": "CUPC", "owner_user_id": "ann", "primary_phone": desk}),
            )
            .await;
        assert_eq!(units(&t, "device").await, (5, 5, 0), "[{l}]");
        // Made a soft phone on its own, it would take 2 more.
        let m = t.refused(
            t.patch(
                &format!("/api/v1/phones/{}", adj["name"].as_str().unwrap()),
                json!({"version": adj["version"], "primary_phone": ""}),
            )
            .await,
            CONFLICT,
            "model",
        );
        assert!(m.starts_with("needs 2 device units, 0 remain"), "[{l}] {m}");
        // Device profiles use no units.
        t.create(
            "/api/v1/device-profiles",
            json!({"name": "EM-ann", "model": "7960"}),
        )
        .await;

        // Capabilities: one presence user unit, one soft-client unit.
        t.patch(
            "/api/v1/users/ann",
            json!({"version": 1, "capabilities": {"presence": true}}),
        )
        .await;
        let (_, b) = t.get("/api/v1/users/bob").await;
        let m = t.refused(
            t.patch(
                "/api/v1/users/bob",
                json!({"version": b["version"], "capabilities": {"presence": true}}),
            )
            .await,
            CONFLICT,
            "capabilities",
        );
        assert!(
            m.starts_with("needs 1 presence user unit, 0 remain"),
            "[{l}] {m}"
        );
        // In bulk: each user on their own, the refusals with their numbers.
        let (s, r) = t
            .post(
                "/api/v1/licensing/capabilities",
                json!({"targets": ["ann", "bob", "nobody"], "soft_client": true}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {r}");
        assert_eq!(r["succeeded"], json!(["ann"]), "[{l}] {r}");
        assert_eq!(r["failed"][0]["target"], "bob");
        assert!(
            r["failed"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("needs 1 soft-client unit, 0 remain"),
            "[{l}] {r}"
        );
        assert_eq!(r["failed"][1]["target"], "nobody");
        t.refused(
            t.post(
                "/api/v1/licensing/capabilities",
                json!({"targets": ["ann"]}),
            )
            .await,
            INVALID,
            "presence",
        );

        // The report: authorised, used, remaining per kind, and what uses them.
        let (_, r) = t.get("/api/v1/licensing").await;
        assert_eq!(
            r["used_by"],
            json!({"desk_phones": 1, "soft_phones": 1, "adjunct_soft_phones": 1, "presence_users": 1, "soft_client_users": 1}),
            "[{l}] {r}"
        );
        assert_eq!(units(&t, "presence_user").await, (1, 1, 0));
        assert_eq!(units(&t, "soft_client").await, (1, 1, 0));
        assert_eq!(r["licences"][0]["id"], "ACME-1");

        // A second licence adds up; removing one is refused while its units are used.
        let more = service::sign_licence(&private, &licence("ACME-3", 3, 1, 0)).unwrap();
        assert_eq!(
            upload(&t, "more.LIC", &more).await.0,
            StatusCode::CREATED,
            "[{l}] the suffix in any case"
        );
        assert_eq!(units(&t, "device").await, (8, 5, 3));
        t.create(
            "/api/v1/phones",
            json!({"model": "CUPC", "owner_user_id": "cat"}),
        )
        .await;
        let m = t.refused(
            t.delete("/api/v1/licensing/licences/ACME-3").await,
            CONFLICT,
            "licence",
        );
        assert!(
            m.contains("8 device units used, 5 would remain authorised"),
            "[{l}] {m}"
        );
        assert_eq!(
            t.delete("/api/v1/licensing/licences/NOPE").await.0,
            StatusCode::NOT_FOUND
        );

        // The calculator.
        let (s, c) = t.post("/api/v1/licensing/calculator", json!({"desk_phones": 10, "soft_phones": 2, "adjunct_soft_phones": 3, "presence_users": 4, "soft_client_users": 5})).await;
        assert_eq!(s, StatusCode::OK, "[{l}] {c}");
        assert_eq!(
            c["needed"],
            json!({"device": 19, "presence_user": 4, "soft_client": 5})
        );
        assert_eq!(c["remaining_after"]["device"], 8 - 8 - 19);
        assert_eq!(c["fits"], false);
        let (_, c) = t
            .post("/api/v1/licensing/calculator", json!({"presence_users": 1}))
            .await;
        assert_eq!(c["fits"], true, "[{l}] {c}");
        t.refused(
            t.post("/api/v1/licensing/calculator", json!({"desk_phones": -1}))
                .await,
            INVALID,
            "desk_phones",
        );

        // The status summary: licensed users, with primary extension, devices and contacts.
        let (_, s) = t.get("/api/v1/licensing/users").await;
        assert_eq!(s["total"], 1, "[{l}] {s}");
        let ann = &s["items"][0];
        assert_eq!(
            (ann["user_id"].as_str(), ann["primary_extension"].as_str()),
            (Some("ann"), Some("2001")),
            "[{l}] {s}"
        );
        assert_eq!(
            (ann["presence"].as_bool(), ann["soft_client"].as_bool()),
            (Some(true), Some(true))
        );

        // Every upload and refusal is audited.
        let (_, a) = t.get("/api/v1/audit?resource=licence").await;
        assert!(a.to_string().contains("ACME-1"), "[{l}] {a}");
        t.stop().await;
    }
}

#[tokio::test]
async fn without_a_public_key_units_are_not_enforced_and_licences_not_taken() {
    let (private, _) = service::licence_key_pair().unwrap();
    let db = TestDb::sqlite();
    let t = TestApp::spawn(&db).await;
    let (_, r) = t.get("/api/v1/licensing").await;
    assert_eq!(r["enforced"], false);
    t.create("/api/v1/users", json!({"user_id": "ann", "last_name": "A", "capabilities": {"presence": true, "soft_client": true}})).await;
    t.create(
        "/api/v1/phones",
        json!({"model": "CUPC", "owner_user_id": "ann"}),
    )
    .await;
    assert_eq!(units(&t, "device").await, (0, 3, -3));
    let good = service::sign_licence(&private, &licence("ACME-1", 5, 1, 1)).unwrap();
    let m = t.refused(upload(&t, "acme.lic", &good).await, INVALID, "file");
    assert!(m.contains("no licence public key"), "{m}");
    t.stop().await;
}

/// The CLI: a seller's key pair and a signed licence; upload, report, and an import whose rows
/// past the units fail one by one with the numbers.
#[tokio::test]
async fn the_cli_makes_and_uploads_licences_and_imports_stop_at_the_units() {
    for db in TestDb::all().await {
        let l = db.label;
        let dir = std::env::temp_dir().join(format!("dialtone-licence-{}-{l}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("seller.key");
        let run = |args: &[&str], public: Option<&str>| {
            let mut c = command(&db, args);
            if let Some(p) = public {
                c.env("DIALTONE_LICENSING__PUBLIC_KEY", p);
            }
            let o = c.output().unwrap();
            (
                o.status.success(),
                String::from_utf8_lossy(&o.stdout).to_string(),
                String::from_utf8_lossy(&o.stderr).to_string(),
            )
        };
        let (ok, out, err) = run(&["licence", "keygen", "--out", key.to_str().unwrap()], None);
        assert!(ok, "[{l}] {err}");
        let public = out
            .split("public_key = \"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (ok, _, err) = run(&["licence", "keygen", "--out", key.to_str().unwrap()], None);
        assert!(!ok && err.contains("never overwritten"), "[{l}] {err}");
        let lic = dir.join("acme.lic");
        let (ok, _, err) = run(
            &[
                "licence",
                "make",
                "--key",
                key.to_str().unwrap(),
                "--id",
                "CLI-1",
                "--issued-to",
                "ACME",
                "--device-units",
                "2",
                "--out",
                lic.to_str().unwrap(),
            ],
            None,
        );
        assert!(ok, "[{l}] {err}");
        let (ok, _, err) = run(
            &[
                "licence",
                "make",
                "--key",
                key.to_str().unwrap(),
                "--id",
                "CLI-2",
                "--issued-to",
                "ACME",
                "--device-units",
                "2",
                "--out",
                dir.join("x.txt").to_str().unwrap(),
            ],
            None,
        );
        assert!(!ok && err.contains(".lic suffix"), "[{l}] {err}");
        let (ok, out, err) = run(&["licence", "upload", lic.to_str().unwrap()], Some(&public));
        assert!(ok, "[{l}] {err}");
        assert!(
            out.contains("Licence CLI-1 for ACME uploaded: 2 device units"),
            "[{l}] {out}"
        );

        // Three phones, units for two: the third row fails with the numbers.
        let csv = dir.join("phones.csv");
        std::fs::write(
            &csv,
            "MAC ADDRESS,DEVICE TYPE\n00562B000011,7960\n00562B000012,7960\n00562B000013,7960\n",
        )
        .unwrap();
        let (ok, out, err) = run(
            &["import", "--kind", "phones", csv.to_str().unwrap()],
            Some(&public),
        );
        assert!(!ok, "[{l}] a failed row fails the run: {out}");
        let all = format!("{out}{err}");
        assert!(
            all.contains("line 4") && all.contains("needs 1 device unit, 0 remain"),
            "[{l}] {all}"
        );
        assert!(all.contains("3 rows: 2 ok, 1 failed"), "[{l}] {all}");
        let (ok, out, _) = run(&["licence", "report"], Some(&public));
        assert!(ok);
        assert!(
            out.lines()
                .any(|x| x.split_whitespace().collect::<Vec<_>>() == ["device", "2", "2", "0"]),
            "[{l}] {out}"
        );
        let (ok, _, err) = run(&["licence", "remove", "CLI-1"], Some(&public));
        assert!(!ok && err.contains("cannot be removed"), "[{l}] {err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

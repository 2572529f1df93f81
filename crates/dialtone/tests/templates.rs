//! Templates (API and CLI) and import jobs in the background through the API, on SQLite and
//! PostgreSQL: a template holds a partial record unvalidated but for its name and fields, is
//! applied to named or found records each on its own, and fills what an import leaves out; an
//! upload runs as a job whose progress, failed rows and result are in the API.

mod common;

use common::{dialtone, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::testing::TestDb;

#[tokio::test]
async fn templates_are_checked_by_name_and_fields_and_applied_record_by_record() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        for i in 0..3 {
            t.create(
                "/api/v1/phones",
                json!({"mac": format!("0C00000000{i:02}"), "model": "8861", "description": "old"}),
            )
            .await;
        }
        t.create(
            "/api/v1/phones",
            json!({"mac": "0D0000000001", "model": "8861", "description": "other"}),
        )
        .await;

        // The name is checked, and that the fields are fields of a new phone; values are not.
        t.refused(
            t.post(
                "/api/v1/templates",
                json!({"kind": "phone", "name": "bad/name"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        );
        let m = t.refused(
            t.post(
                "/api/v1/templates",
                json!({"kind": "phone", "name": "x", "fields": {"colour": "red"}}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "fields",
        );
        assert!(m.contains("colour"), "[{l}] {m}");
        let tpl = t
            .create(
                "/api/v1/templates",
                json!({"kind": "phone", "name": "Sales desk", "fields": {
                    "description": "Sales floor", "device_pool": "Sales", "mac": "0C00"}}),
            )
            .await;
        assert_eq!(
            tpl["fields"]["mac"], "0C00",
            "[{l}] a part of a MAC is kept as it is"
        );
        t.refused(
            t.post(
                "/api/v1/templates",
                json!({"kind": "phone", "name": "Sales desk"}),
            )
            .await,
            StatusCode::CONFLICT,
            "name",
        );
        let (s, list) = t.get("/api/v1/templates?kind=phone").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(list.as_array().unwrap().len(), 1, "[{l}] {list}");

        // Applied to a found set (and one name that is no phone): each on its own.
        let (s, r) = t
            .post(
                "/api/v1/templates/phone/Sales%20desk/apply",
                json!({"find": {"q": "SEP0C"}, "targets": ["SEP0F0000000000"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {r}");
        assert_eq!(r["succeeded"].as_array().unwrap().len(), 3, "[{l}] {r}");
        assert_eq!(r["failed"][0]["target"], "SEP0F0000000000", "[{l}] {r}");
        assert_eq!(r["result"], "partial", "[{l}] {r}");
        let (_, p) = t.get("/api/v1/phones/SEP0C0000000001").await;
        assert_eq!(
            (
                p["description"].as_str(),
                p["device_pool"].as_str(),
                p["mac"].as_str()
            ),
            (Some("Sales floor"), Some("Sales"), Some("0C0000000001")),
            "[{l}] the template changes the fields it holds, never the MAC that names the phone"
        );
        let (_, other) = t.get("/api/v1/phones/SEP0D0000000001").await;
        assert_eq!(other["description"], "other", "[{l}]");

        // A value is checked when it is applied: the record that cannot take it says why.
        let (_, tpl) = t.get("/api/v1/templates/phone/Sales%20desk").await;
        let (s, tpl) = t
            .patch(
                "/api/v1/templates/phone/Sales%20desk",
                json!({"version": tpl["version"], "fields": {"owner_user_id": "nobody"}}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {tpl}");
        let (_, r) = t
            .post(
                "/api/v1/templates/phone/Sales%20desk/apply",
                json!({"targets": ["SEP0C0000000000"]}),
            )
            .await;
        assert_eq!(r["result"], "failed", "[{l}] {r}");
        assert!(
            r["failed"][0]["message"]
                .as_str()
                .unwrap()
                .contains("nobody"),
            "[{l}] {r}"
        );
        let (s, _) = t.delete("/api/v1/templates/phone/Sales%20desk").await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = t.get("/api/v1/templates/phone/Sales%20desk").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        t.stop().await;
    }
}

async fn upload(t: &TestApp, query: &str, csv: &str) -> (StatusCode, Value) {
    let r = t
        .client
        .post(t.url(&format!("/api/v1/imports?{query}")))
        .bearer_auth(&t.token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap())
}

#[tokio::test]
async fn an_uploaded_file_runs_as_a_job_with_progress_errors_and_a_result() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let mut csv = String::from("DIRECTORY NUMBER,DESCRIPTION,MAXIMUM NUMBER OF CALLS\n");
        for i in 0..1500 {
            csv.push_str(&format!(
                "{},Line {i},{}\n",
                50000 + i,
                if i == 700 { "many" } else { "4" }
            ));
        }

        // A header the kind does not have is refused before any row or job.
        let (s, e) = upload(&t, "kind=lines", "DIRECTORY NUMBER,COLOUR\n1,red\n").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "[{l}] {e}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains("COLOUR"),
            "[{l}] {e}"
        );
        let (s, e) = upload(&t, "kind=chairs", "X\n").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "[{l}] {e}");

        // A dry run: a job like any other, and nothing written.
        let (s, job) = upload(&t, "kind=lines&dry_run=true&source=lines.csv", &csv).await;
        assert_eq!(s, StatusCode::ACCEPTED, "[{l}] {job}");
        assert_eq!(job["rows_total"], 1500, "[{l}] {job}");
        let job = t.import_finished(job["id"].as_i64().unwrap()).await;
        assert_eq!(
            (
                job["state"].as_str(),
                job["ok"].as_i64(),
                job["failed"].as_i64()
            ),
            (Some("done"), Some(1499), Some(1)),
            "[{l}] {job}"
        );
        let (_, lines) = t.get("/api/v1/lines?q=5").await;
        assert_eq!(lines["total"], 0, "[{l}] a dry run writes nothing");

        // The job itself.
        let (_, job) = upload(&t, "kind=lines&source=lines.csv", &csv).await;
        let id = job["id"].as_i64().unwrap();
        let job = t.import_finished(id).await;
        assert_eq!(job["state"], "done", "[{l}] {job}");
        assert_eq!(
            (
                job["rows_done"].as_i64(),
                job["ok"].as_i64(),
                job["failed"].as_i64()
            ),
            (Some(1500), Some(1499), Some(1)),
            "[{l}] {job}"
        );
        assert_eq!(
            job["message"], "1500 rows: 1499 ok, 1 failed",
            "[{l}] {job}"
        );
        assert_eq!(job["source"], "lines.csv");
        let (_, errors) = t.get(&format!("/api/v1/imports/{id}/errors")).await;
        assert_eq!(errors[0]["line"], 702, "[{l}] {errors}");
        assert_eq!(
            errors[0]["column"], "MAXIMUM NUMBER OF CALLS",
            "[{l}] {errors}"
        );
        let r = t
            .client
            .get(t.url(&format!("/api/v1/imports/{id}/errors.csv")))
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment"));
        let text = r.text().await.unwrap();
        assert!(
            text.starts_with("LINE,COLUMN,REASON\n702,MAXIMUM NUMBER OF CALLS,"),
            "[{l}] {text}"
        );
        let (_, lines) = t.get("/api/v1/lines?q=5&limit=1&count=exact").await;
        assert_eq!(lines["total_exact"], true, "[{l}]");
        let (_, capped) = t.get("/api/v1/lines?q=5&limit=1").await;
        assert_eq!(
            (capped["total"].as_i64(), capped["total_exact"].as_bool()),
            (Some(1000), Some(false)),
            "[{l}] a list counts to 1,000"
        );
        assert_eq!(lines["total"], 1499, "[{l}]");
        let (_, jobs) = t.get("/api/v1/imports").await;
        assert_eq!(
            jobs["items"][0]["id"], id,
            "[{l}] the newest job first: {jobs}"
        );

        // The export of what went in, as a download.
        let r = t
            .client
            .get(t.url("/api/v1/exports/lines"))
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().await.unwrap();
        assert_eq!(text.lines().count(), 1 + 1499, "[{l}]");
        assert!(
            text.starts_with("DIRECTORY NUMBER,"),
            "[{l}] {}",
            &text[..80]
        );
        t.stop().await;
    }
}

#[tokio::test]
async fn a_template_fills_what_an_import_leaves_out() {
    for db in TestDb::all().await {
        let l = db.label;
        let dir = std::env::temp_dir().join(format!("dialtone-tpl-{}-{l}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users.csv");
        std::fs::write(
            &path,
            "USER ID,LAST NAME,DEPARTMENT\nann,Lee,\nbob,Ray,Support\n",
        )
        .unwrap();
        let path = path.to_str().unwrap();
        assert!(dialtone(&db, &["migrate"]).status.success());
        let o = dialtone(
            &db,
            &[
                "template",
                "add",
                "--kind",
                "user",
                "Sales",
                "department=Sales",
                "manager=carol",
            ],
        );
        assert!(
            o.status.success(),
            "[{l}] {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = dialtone(
            &db,
            &[
                "template",
                "add",
                "--kind",
                "user",
                "Broken",
                "shoe_size=44",
            ],
        );
        assert!(!o.status.success(), "[{l}] a field users do not have");
        assert!(String::from_utf8_lossy(&o.stderr).contains("shoe_size"));

        let lines = dir.join("lines.csv");
        std::fs::write(&lines, "DIRECTORY NUMBER\n1000\n").unwrap();
        let o = dialtone(
            &db,
            &[
                "import",
                "--kind",
                "lines",
                "--template",
                "Sales",
                lines.to_str().unwrap(),
            ],
        );
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr)
                .contains("templates are for users, phones and device profiles"),
            "[{l}]"
        );
        let o = dialtone(
            &db,
            &["import", "--kind", "users", "--template", "Nope", path],
        );
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("no user template `Nope`"),
            "[{l}] {}",
            String::from_utf8_lossy(&o.stderr)
        );

        let o = dialtone(
            &db,
            &["import", "--kind", "users", "--template", "Sales", path],
        );
        assert!(
            o.status.success(),
            "[{l}] {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = dialtone(&db, &["export", "--kind", "users"]);
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        let h = rows.headers().unwrap().clone();
        let col = |name: &str| h.iter().position(|c| c == name).unwrap();
        let got: Vec<(String, String, String)> = rows
            .records()
            .map(|r| {
                let r = r.unwrap();
                (
                    r[col("USER ID")].to_string(),
                    r[col("DEPARTMENT")].to_string(),
                    r[col("MANAGER USER ID")].to_string(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("ann".into(), "Sales".into(), "carol".into()),
                ("bob".into(), "Support".into(), "carol".into())
            ],
            "[{l}] the file's own value wins"
        );
    }
}

/// Subscriber templates (seed 000): a new subscriber gets its template's class of service,
/// lists and default PIN unless it says otherwise, by the API and by a CSV import; the default
/// template stays; one in use is kept; a rename is followed.
#[tokio::test]
async fn voicemail_subscribers_are_made_from_subscriber_templates() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        t.create(
            "/api/v1/systems",
            json!({"name": "unity", "kind": "voicemail"}),
        )
        .await;
        t.create(
            "/api/v1/classes-of-service",
            json!({"name": "Sales staff", "max_message_seconds": 120}),
        )
        .await;
        t.create("/api/v1/distribution-lists", json!({"name": "Sales"}))
            .await;
        let (_, all) = t.get("/api/v1/subscriber-templates").await;
        assert_eq!(all["items"][0]["name"], "DefaultSubscriber", "[{l}] {all}");
        assert_eq!(
            all["items"][0]["class_of_service"], "Default Subscriber",
            "[{l}]"
        );
        t.refused(
            t.post(
                "/api/v1/subscriber-templates",
                json!({"name": "Bad", "default_pin": "12"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "default_pin",
        );
        t.refused(
            t.post(
                "/api/v1/subscriber-templates",
                json!({"name": "Bad", "distribution_lists": ["Nope"]}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "distribution_lists[0]",
        );
        let tpl = t
            .create(
                "/api/v1/subscriber-templates",
                json!({"name": "Sales", "class_of_service": "Sales staff",
                "distribution_lists": ["Sales"], "default_pin": "80808"}),
            )
            .await;
        assert_eq!(
            (
                tpl["has_default_pin"].as_bool(),
                tpl["subscribers"].as_i64()
            ),
            (Some(true), Some(0)),
            "[{l}] {tpl}"
        );
        assert!(!tpl.to_string().contains("80808"), "[{l}]");

        // By the API: what it does not say comes from the template; what it says wins.
        let ann = t.create("/api/v1/voicemail-subscribers", json!({"alias": "ann", "last_name": "Ames", "extension": "2001", "subscriber_template": "Sales"})).await;
        assert_eq!(
            (
                ann["class_of_service"].as_str(),
                ann["distribution_lists"].clone(),
                ann["has_pin"].as_bool()
            ),
            (Some("Sales staff"), json!(["Sales"]), Some(true)),
            "[{l}] {ann}"
        );
        let bob = t
            .create(
                "/api/v1/voicemail-subscribers",
                json!({"alias": "bob", "last_name": "Berg", "extension": "2002",
            "subscriber_template": "Sales", "class_of_service": "Default Subscriber"}),
            )
            .await;
        assert_eq!(bob["class_of_service"], "Default Subscriber", "[{l}] {bob}");
        let m = t.refused(
            t.post("/api/v1/voicemail-subscribers", json!({"alias": "cat", "last_name": "C", "extension": "2003", "subscriber_template": "Nope"})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "subscriber_template",
        );
        assert!(m.contains("DefaultSubscriber, Sales"), "[{l}] {m}");

        // By a CSV import, as BAT's SUBSCRIBER TEMPLATE column.
        let (s, j) = upload(&t, "kind=voicemail-subscribers",
            "ALIAS,FIRST NAME,LAST NAME,EXTENSION,SUBSCRIBER TEMPLATE\ndan,Dan,Dale,2004,Sales\neve,Eve,Eden,2005,\n").await;
        assert_eq!(s, StatusCode::ACCEPTED, "[{l}] {j}");
        let j = t.import_finished(j["id"].as_i64().unwrap()).await;
        assert_eq!(j["failed"], 0, "[{l}] {j}");
        let (_, dan) = t.get("/api/v1/voicemail-subscribers/dan").await;
        assert_eq!(
            (dan["class_of_service"].as_str(), dan["has_pin"].as_bool()),
            (Some("Sales staff"), Some(true)),
            "[{l}] {dan}"
        );
        let (_, eve) = t.get("/api/v1/voicemail-subscribers/eve").await;
        assert_eq!(
            (
                eve["subscriber_template"].as_str(),
                eve["class_of_service"].as_str()
            ),
            (Some("DefaultSubscriber"), Some("Default Subscriber")),
            "[{l}] {eve}"
        );

        // Kept while used; the default stays; a rename is followed; the list it gives stays.
        let (s, v) = t.delete("/api/v1/subscriber-templates/Sales").await;
        assert_eq!(s, StatusCode::CONFLICT, "[{l}] {v}");
        let (s, v) = t
            .delete("/api/v1/subscriber-templates/DefaultSubscriber")
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "[{l}] {v}");
        let (_, dls) = t.get("/api/v1/distribution-lists").await;
        let (s, v) = t
            .delete(&format!(
                "/api/v1/distribution-lists/{}",
                dls["items"][0]["id"]
            ))
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "[{l}] {v}");
        let (_, tpl) = t.get("/api/v1/subscriber-templates/Sales").await;
        assert_eq!(tpl["subscribers"], 3, "[{l}] {tpl}");
        let (s, v) = t
            .patch(
                "/api/v1/subscriber-templates/Sales",
                json!({"version": tpl["version"], "name": "Field sales"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");
        let (_, ann) = t.get("/api/v1/voicemail-subscribers/ann").await;
        assert_eq!(ann["subscriber_template"], "Field sales", "[{l}] {ann}");
        t.stop().await;
    }
}

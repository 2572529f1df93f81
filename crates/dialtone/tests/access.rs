//! Roles and privileges through the API, on SQLite and PostgreSQL: what an administrator's
//! roles do not allow is refused with 403 and changes nothing.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::testing::TestDb;

async fn as_clerk(
    t: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut rb = t
        .client
        .request(method, t.url(path))
        .basic_auth("clerk", Some("clerk-password"));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let s = r.status();
    let text = r.text().await.unwrap();
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_administrator_does_what_their_roles_allow_and_nothing_else() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let (_, me) = t.get("/api/v1/whoami").await;
        assert_eq!(
            me["privileges"],
            Value::Null,
            "[{l}] the first administrator is a superadmin: {me}"
        );
        let (_, roles) = t.get("/api/v1/roles").await;
        let names: Vec<&str> = roles
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["Full Provisioning", "superadmin"], "[{l}]");
        let (_, fp) = t.get("/api/v1/roles/Full%20Provisioning").await;
        t.refused(
            t.patch(
                "/api/v1/roles/Full%20Provisioning",
                json!({"version": fp["version"], "description": "x"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        );
        t.refused(
            t.post("/api/v1/roles", json!({"name": "bad", "privileges": [{"system": "*", "resource": "chair", "action": "create"}]})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "privileges[0]",
        );
        t.create(
            "/api/v1/roles",
            json!({"name": "Desk clerk", "privileges": [
                {"system": "default", "resource": "phone", "action": "create"},
                {"system": "default", "resource": "phone", "action": "update"}]}),
        )
        .await;
        t.create(
            "/api/v1/admins",
            json!({"username": "clerk", "password": "clerk-password", "roles": ["Desk clerk"]}),
        )
        .await;

        let (s, me) = as_clerk(&t, reqwest::Method::GET, "/api/v1/whoami", None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(me["privileges"].as_array().unwrap().len(), 2, "[{l}] {me}");

        // Allowed: add and change phones on default.
        let (s, p) = as_clerk(
            &t,
            reqwest::Method::POST,
            "/api/v1/phones",
            Some(json!({"mac": "0C0000000001", "model": "7960"})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "[{l}] {p}");
        let (s, p) = as_clerk(
            &t,
            reqwest::Method::PATCH,
            "/api/v1/phones/SEP0C0000000001",
            Some(json!({"version": p["version"], "description": "Lobby"})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {p}");

        // Not allowed: delete it, add a line, add a template, make roles or administrators.
        let (s, e) = as_clerk(
            &t,
            reqwest::Method::DELETE,
            "/api/v1/phones/SEP0C0000000001",
            None,
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{l}] {e}");
        assert_eq!(e["error"]["code"], "forbidden");
        let m = e["error"]["message"].as_str().unwrap();
        assert!(
            m.contains("clerk may not delete phone on default"),
            "[{l}] {m}"
        );
        let (s, r) = as_clerk(
            &t,
            reqwest::Method::POST,
            "/api/v1/phones/batch-delete",
            Some(json!({"targets": ["SEP0C0000000001"]})),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(r["result"], "failed", "[{l}] {r}");
        let (s, _) = as_clerk(
            &t,
            reqwest::Method::POST,
            "/api/v1/lines",
            Some(json!({"pattern": "2000"})),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{l}]");
        let (s, _) = as_clerk(
            &t,
            reqwest::Method::POST,
            "/api/v1/templates",
            Some(json!({"kind": "phone", "name": "x"})),
        )
        .await;
        assert_eq!(
            s,
            StatusCode::FORBIDDEN,
            "[{l}] a template is of no system: only `*` covers it"
        );
        let (s, _) = as_clerk(&t, reqwest::Method::POST, "/api/v1/roles", Some(json!({"name": "Mine", "privileges": [{"system": "*", "resource": "*", "action": "*"}]}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{l}]");
        let (s, _) = as_clerk(
            &t,
            reqwest::Method::POST,
            "/api/v1/admins",
            Some(json!({"username": "x", "password": "password-x"})),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{l}]");

        // Nothing of it happened; the audit log says who was refused.
        let (s, _) = t.get("/api/v1/phones/SEP0C0000000001").await;
        assert_eq!(s, StatusCode::OK, "[{l}] the phone is still there");
        let (_, lines) = t.get("/api/v1/lines").await;
        assert_eq!(lines["total"], 0, "[{l}]");
        let (_, audit) = t.get("/api/v1/audit?actor=clerk&result=failed").await;
        assert!(audit["total"].as_i64().unwrap() >= 5, "[{l}] {audit}");

        // Given Full Provisioning, the clerk may delete; a superadmin removes the clerk.
        let (s, a) = t
            .patch(
                "/api/v1/admins/clerk",
                json!({"roles": ["Full Provisioning"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {a}");
        let (s, _) = as_clerk(
            &t,
            reqwest::Method::DELETE,
            "/api/v1/phones/SEP0C0000000001",
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "[{l}]");
        let (s, _) = as_clerk(
            &t,
            reqwest::Method::POST,
            "/api/v1/roles",
            Some(json!({"name": "Mine"})),
        )
        .await;
        assert_eq!(
            s,
            StatusCode::FORBIDDEN,
            "[{l}] Full Provisioning does not manage roles"
        );
        let (s, _) = t.delete("/api/v1/admins/clerk").await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = as_clerk(&t, reqwest::Method::GET, "/api/v1/whoami", None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "[{l}]");
        t.stop().await;
    }
}

/// The read privilege: an administrator sees only the systems and resources their roles name
/// (any action on them lets them see; `read` lets them do nothing more).
#[tokio::test]
async fn an_administrator_sees_only_what_their_roles_name() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        t.create(
            "/api/v1/systems",
            json!({"name": "branch", "kind": "call_control"}),
        )
        .await;
        for (u, sys) in [("hq-ann", "default"), ("br-bob", "branch")] {
            t.create(
                "/api/v1/users",
                json!({"user_id": u, "last_name": "Reader", "system": sys}),
            )
            .await;
        }
        for (mac, sys) in [("0C0000000A01", "default"), ("0C0000000A02", "branch")] {
            t.create(
                "/api/v1/phones",
                json!({"mac": mac, "model": "7960", "system": sys}),
            )
            .await;
        }
        t.create(
            "/api/v1/roles",
            json!({"name": "Branch reader", "privileges": [
                {"system": "branch", "resource": "*", "action": "read"},
                {"system": "default", "resource": "phone", "action": "update"}]}),
        )
        .await;
        t.create(
            "/api/v1/admins",
            json!({"username": "clerk", "password": "clerk-password", "roles": ["Branch reader"]}),
        )
        .await;
        let get = |p: &'static str| as_clerk(&t, reqwest::Method::GET, p, None);

        // Lists hold what they may see: users of branch, phones of both (update implies read).
        let (s, users) = get("/api/v1/users?q=").await;
        assert_eq!(s, StatusCode::OK, "[{l}] {users}");
        let ids: Vec<&str> = users["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["user_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["br-bob"], "[{l}] {users}");
        assert_eq!(users["total"], 1, "[{l}] {users}");
        let (_, phones) = get("/api/v1/phones").await;
        assert_eq!(phones["total"], 2, "[{l}] {phones}");
        let (_, people) = get("/api/v1/people?q=").await;
        assert!(
            people["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["system"] == "branch"),
            "[{l}] {people}"
        );

        // One record of another system, a system filter on it, a resource of none: refused.
        let (s, e) = get("/api/v1/users/hq-ann").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{l}] {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("may not read user on default"),
            "[{l}] {e}"
        );
        assert_eq!(get("/api/v1/users/br-bob").await.0, StatusCode::OK, "[{l}]");
        assert_eq!(
            get("/api/v1/users?system=default").await.0,
            StatusCode::FORBIDDEN,
            "[{l}]"
        );
        assert_eq!(
            get("/api/v1/phones/SEP0C0000000A01").await.0,
            StatusCode::OK,
            "[{l}]"
        );
        let (s, e) = get("/api/v1/admins").await;
        assert_eq!(
            s,
            StatusCode::FORBIDDEN,
            "[{l}] administrators are of no system: only a privilege on `*` shows them"
        );
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("(*, admin)"),
            "[{l}] {e}"
        );

        // Read is only read.
        let (s, e) = as_clerk(
            &t,
            reqwest::Method::POST,
            "/api/v1/users",
            Some(json!({"user_id": "br-new", "last_name": "New", "system": "branch"})),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{l}] {e}");

        // A role on phones of default alone: users are not theirs to see at all.
        t.create("/api/v1/roles", json!({"name": "Phones", "privileges": [{"system": "default", "resource": "phone", "action": "*"}]})).await;
        let (s, v) = t
            .patch("/api/v1/admins/clerk", json!({"roles": ["Phones"]}))
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");
        let (s, e) = get("/api/v1/users").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{l}] {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("may not read user"),
            "[{l}] {e}"
        );
        let (_, phones) = get("/api/v1/phones").await;
        assert_eq!(phones["total"], 1, "[{l}] {phones}");
        assert_eq!(
            get("/api/v1/phones/SEP0C0000000A02").await.0,
            StatusCode::FORBIDDEN,
            "[{l}]"
        );
        t.stop().await;
    }
}

/// Finding 6 of issue 16: an administrator who may create and update phones, but not read
/// their secrets, previews a phone's file with its SIP and HTTP passwords masked; the
/// `read_secrets` privilege shows them, and each such read is audited.
#[tokio::test]
async fn a_preview_shows_secrets_only_with_the_privilege_to_read_them() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        t.create(
            "/api/v1/users",
            json!({"user_id": "jsmith", "last_name": "Smith", "digest_credential": "d1gest-Secret"}),
        )
        .await;
        let p = t
            .create(
                "/api/v1/phones",
                json!({"mac": "00562B910001", "model": "8861", "owner_user_id": "jsmith", "lines": [{"pattern": "2100"}]}),
            )
            .await;
        let (s, _) = t
            .put(
                "/api/v1/phones/SEP00562B910001/http-credential",
                json!({"version": p["version"], "password": "Ph0ne-pass.7"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}]");
        let role = t
            .create(
                "/api/v1/roles",
                json!({"name": "Phone clerk", "privileges": [
                    {"system": "*", "resource": "phone", "action": "create"},
                    {"system": "*", "resource": "phone", "action": "update"}]}),
            )
            .await;
        t.create(
            "/api/v1/admins",
            json!({"username": "clerk", "password": "clerk-password", "roles": ["Phone clerk"]}),
        )
        .await;
        let path = "/api/v1/phones/SEP00562B910001/files/00562b910001.xml";
        let preview = |who: &'static str, pw: &'static str| {
            let (client, url) = (t.client.clone(), t.url(path));
            async move {
                let r = client
                    .get(url)
                    .basic_auth(who, Some(pw))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                let masked = r.headers()["x-dialtone-masked"]
                    .to_str()
                    .unwrap()
                    .to_string();
                (masked, r.text().await.unwrap())
            }
        };
        let (masked, body) = preview("clerk", "clerk-password").await;
        assert_eq!(masked, "true", "[{l}]");
        assert!(
            !body.contains("d1gest-Secret") && !body.contains("Ph0ne-pass.7"),
            "[{l}] {body}"
        );
        assert!(
            body.contains("<Password_1_ ua=\"na\">********</Password_1_>"),
            "[{l}] {body}"
        );
        assert!(body.contains("--pwd ********]"), "[{l}] {body}");
        let (_, a) = t.get("/api/v1/audit?action=read_secrets").await;
        assert_eq!(a["total"], 0, "[{l}] a masked preview reads no secret: {a}");

        // With read_secrets the clerk sees the file as the phone does, and it is audited.
        let (s, _) = t
            .patch(
                "/api/v1/roles/Phone%20clerk",
                json!({"version": role["version"], "privileges": [
                    {"system": "*", "resource": "phone", "action": "create"},
                    {"system": "*", "resource": "phone", "action": "read_secrets"}]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}]");
        let (masked, body) = preview("clerk", "clerk-password").await;
        assert_eq!(masked, "false", "[{l}]");
        assert!(
            body.contains("d1gest-Secret") && body.contains("Ph0ne-pass.7"),
            "[{l}]"
        );
        let (_, a) = t.get("/api/v1/audit?action=read_secrets").await;
        assert_eq!(a["total"], 1, "[{l}] {a}");
        let e = &a["items"][0];
        assert_eq!(
            (e["actor"].as_str(), e["target"].as_str()),
            (Some("clerk"), Some("SEP00562B910001")),
            "[{l}] {e}"
        );
        assert!(
            e["detail"].as_str().unwrap().contains("00562b910001.xml"),
            "[{l}] {e}"
        );
        // An administrator who may not see phones at all is refused.
        let (s, _) = t.patch("/api/v1/roles/Phone%20clerk", json!({"version": role["version"].as_i64().unwrap() + 1, "privileges": [{"system": "*", "resource": "user", "action": "read"}]})).await;
        assert_eq!(s, StatusCode::OK, "[{l}]");
        let r = t
            .client
            .get(t.url(path))
            .basic_auth("clerk", Some("clerk-password"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "[{l}]");
        t.stop().await;
    }
}

/// Finding 7 of issue 16: tokens are listed, revoked and expire; a password change ends the
/// administrator's other tokens and console sessions, but not the credential it came through.
#[tokio::test]
async fn tokens_are_listed_revoked_and_end_with_a_password_change() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let (s, made) = t
            .post(
                "/api/v1/tokens",
                json!({"name": "scrape", "expires_in_days": 7}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "[{l}] {made}");
        let scrape = made["token"].as_str().unwrap().to_string();
        assert!(
            made["expires_at"].as_str().unwrap() > "2026",
            "[{l}] {made}"
        );
        t.refused(
            t.post("/api/v1/tokens", json!({"name": "x", "expires_in_days": 0}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "expires_in_days",
        );
        let (s, list) = t.get("/api/v1/tokens").await;
        assert_eq!(s, StatusCode::OK);
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["tests", "scrape"], "[{l}] {list}");
        assert!(
            !list.to_string().contains(&scrape),
            "[{l}] a list never shows a token"
        );
        let with = |token: String| {
            let (c, url) = (t.client.clone(), t.url("/api/v1/whoami"));
            async move { c.get(url).bearer_auth(token).send().await.unwrap().status() }
        };
        assert_eq!(with(scrape.clone()).await, StatusCode::OK, "[{l}]");
        let (s, _) = t.delete(&format!("/api/v1/tokens/{}", made["id"])).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "[{l}]");
        assert_eq!(
            with(scrape.clone()).await,
            StatusCode::UNAUTHORIZED,
            "[{l}] revoked"
        );
        let (s, _) = t.delete(&format!("/api/v1/tokens/{}", made["id"])).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "[{l}]");

        // Another token and a console session of admin, then admin changes the password
        // through the test's token: the other two end, the test's token still works.
        let (_, other) = t.post("/api/v1/tokens", json!({"name": "other"})).await;
        let other = other["token"].as_str().unwrap().to_string();
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = browser
            .post(t.url("/login"))
            .form(&[
                ("username", "admin"),
                ("password", common::PASSWORD),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "[{l}] {}", r.status());
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let page = |c: reqwest::Client| {
            let (url, cookie) = (t.url("/phones"), cookie.clone());
            async move {
                c.get(url)
                    .header("cookie", cookie)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        assert_eq!(
            page(browser.clone()).await,
            StatusCode::OK,
            "[{l}] logged in"
        );
        let (s, v) = t
            .patch(
                "/api/v1/admins/admin",
                json!({"password": "a-new-password-2"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");
        assert_eq!(
            with(other).await,
            StatusCode::UNAUTHORIZED,
            "[{l}] the other token ended"
        );
        assert!(
            page(browser).await.is_redirection(),
            "[{l}] the console session ended"
        );
        assert_eq!(
            with(t.token.clone()).await,
            StatusCode::OK,
            "[{l}] the token used is kept"
        );
        let (_, a) = t.get("/api/v1/audit?resource=token").await;
        assert!(a["total"].as_i64().unwrap() >= 3, "[{l}] {a}");
        t.stop().await;
    }
}

/// Uploads `csv` as an import by `who`; the status and the answer.
async fn import_as(
    t: &TestApp,
    who: &str,
    password: &str,
    query: &str,
    csv: &str,
) -> (StatusCode, Value) {
    let r = t
        .client
        .post(t.url(&format!("/api/v1/imports?{query}")))
        .basic_auth(who, Some(password))
        .header("Content-Type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_import_needs_the_privilege_for_its_kind_and_a_dry_run_is_its_owners() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        t.create(
            "/api/v1/roles",
            json!({"name": "Phone clerk", "privileges": [
                {"system": "*", "resource": "phone", "action": "create"}]}),
        )
        .await;
        for who in ["clerk", "clerk2"] {
            t.create(
                "/api/v1/admins",
                json!({"username": who, "password": "clerk-password", "roles": ["Phone clerk"]}),
            )
            .await;
        }
        let (_, jobs_before) = t.get("/api/v1/imports").await;
        let users = "USER ID,LAST NAME\nmallory,Mallory\n";
        // Users, or phones in delete mode: refused before the file is read, and audited.
        for (query, csv, right) in [
            ("kind=users&source=u.csv", users, "(user, create)"),
            (
                "kind=phones&mode=delete&source=p.csv",
                "MAC ADDRESS\n00562B920001\n",
                "(phone, delete)",
            ),
            (
                "kind=app-profiles&mode=modify&source=a.csv",
                "USER ID\nada\n",
                "(user, update)",
            ),
        ] {
            let (s, e) = import_as(&t, "clerk", "clerk-password", query, csv).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "[{l}] {query}: {e}");
            let m = e["error"]["message"].as_str().unwrap();
            assert!(m.contains(right), "[{l}] {m}");
        }
        let (_, jobs) = t.get("/api/v1/imports").await;
        assert_eq!(jobs["total"], jobs_before["total"], "[{l}] no job was made");
        let (_, audit) = t
            .get("/api/v1/audit?actor=clerk&action=import&limit=10")
            .await;
        let refused: Vec<&str> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["result"] == "failed")
            .map(|e| e["target"].as_str().unwrap())
            .collect();
        assert_eq!(refused.len(), 3, "[{l}] {audit}");
        assert!(refused.contains(&"u.csv"), "[{l}] {refused:?}");

        // Phones to add: the clerk may, and their own dry run is theirs to run.
        let phones = "MAC ADDRESS,DEVICE TYPE\n00562B920001,8861\n";
        let (s, job) = import_as(
            &t,
            "clerk",
            "clerk-password",
            "kind=phones&dry_run=true&source=p.csv",
            phones,
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "[{l}] {job}");
        let id = job["id"].as_i64().unwrap();
        t.import_finished(id).await;
        // Another clerk may not run it…
        let r = t
            .client
            .post(t.url(&format!("/api/v1/imports/{id}/run")))
            .basic_auth("clerk2", Some("clerk-password"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "[{l}]");
        let e: Value = r.json().await.unwrap();
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("is clerk's dry run"),
            "[{l}] {e}"
        );
        // …its owner may.
        let r = t
            .client
            .post(t.url(&format!("/api/v1/imports/{id}/run")))
            .basic_auth("clerk", Some("clerk-password"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "[{l}]");
        let run: Value = r.json().await.unwrap();
        t.import_finished(run["id"].as_i64().unwrap()).await;
        let (s, _) = t.get("/api/v1/phones/SEP00562B920001").await;
        assert_eq!(s, StatusCode::OK, "[{l}] the checked file ran");
    }
}

#[tokio::test]
async fn resyncing_a_phone_needs_the_privilege_to_update_it() {
    for db in TestDb::all().await {
        let t = TestApp::spawn_with(&db, |c| c.sip.listen = "127.0.0.1:0".into()).await;
        let l = t.label;
        t.create(
            "/api/v1/systems",
            json!({"name": "branch", "kind": "call_control"}),
        )
        .await;
        for (mac, sys) in [("0C0000000B01", "default"), ("0C0000000B02", "branch")] {
            t.create(
                "/api/v1/phones",
                json!({"mac": mac, "model": "7960", "system": sys}),
            )
            .await;
        }
        t.create(
            "/api/v1/roles",
            json!({"name": "Branch clerk", "privileges": [
                {"system": "branch", "resource": "phone", "action": "update"},
                {"system": "default", "resource": "phone", "action": "read"}]}),
        )
        .await;
        t.create(
            "/api/v1/admins",
            json!({"username": "clerk", "password": "clerk-password", "roles": ["Branch clerk"]}),
        )
        .await;
        let resync =
            |body: Value| as_clerk(&t, reqwest::Method::POST, "/api/v1/resync", Some(body));

        // A phone of a system they only read: refused, and audited.
        let (s, e) = resync(json!({"devices": ["SEP0C0000000B01"]})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{l}] {e}");
        let m = e["error"]["message"].as_str().unwrap();
        assert!(m.contains("SEP0C0000000B01 (on default)"), "[{l}] {m}");
        let (s, e) = resync(json!({"devices": ["SEP0C0000000B02", "SEP0C0000000B01"]})).await;
        assert_eq!(
            s,
            StatusCode::FORBIDDEN,
            "[{l}] one refused refuses the request: {e}"
        );
        // Their own system's phone, and `all`, which means the phones they may update.
        let (s, v) = resync(json!({"devices": ["SEP0C0000000B02"]})).await;
        assert_eq!(s, StatusCode::ACCEPTED, "[{l}] {v}");
        let (s, v) = resync(json!({"all": true})).await;
        assert_eq!(s, StatusCode::ACCEPTED, "[{l}] {v}");
        let named = v["queued"].as_u64().unwrap() + v["skipped"].as_array().unwrap().len() as u64;
        assert_eq!(named, 1, "[{l}] only the branch's phone: {v}");
        // A model whose phones are all elsewhere: refused.
        t.create(
            "/api/v1/phones",
            json!({"mac": "0C0000000B03", "model": "8861", "system": "default"}),
        )
        .await;
        let (s, e) = resync(json!({"model": "8861"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{l}] {e}");

        let (_, audit) = t
            .get("/api/v1/audit?actor=clerk&action=resync&limit=10")
            .await;
        let results: Vec<(&str, &str)> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["result"].as_str().unwrap(), e["target"].as_str().unwrap()))
            .collect();
        assert_eq!(results.len(), 5, "[{l}] {audit}");
        assert!(
            results.contains(&("ok", "SEP0C0000000B02"))
                && results.contains(&("ok", "every phone"))
                && results.contains(&("failed", "model 8861")),
            "[{l}] {results:?}"
        );
        let every = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["target"] == "every phone")
            .unwrap();
        assert_eq!(
            every["detail"], "1 phone; 1 phone of systems they may not update left out",
            "[{l}]"
        );
        assert_eq!(
            results.iter().filter(|(r, _)| *r == "failed").count(),
            3,
            "[{l}] {results:?}"
        );
    }
}

//! Extension mobility (seed 000 "Understanding Device Profiles", seed 003 "Configuring Extension
//! Mobility"; docs/phones.md), on both backends: a user logs in on a phone with their PIN and
//! its file becomes their device profile on the phone's model; logging out (or the login's time
//! running out) loads the phone's logout profile; a second login is refused or logs the user
//! out of the first phone, as the system says; the phone's own XML service and services menu.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::testing::TestDb;

const INVALID: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
const CONFLICT: StatusCode = StatusCode::CONFLICT;

async fn file(t: &TestApp, phone: &str) -> String {
    t.file_preview(phone, &format!("{phone}.cnf.xml")).await
}

/// The patterns of a phone file's lines.
fn lines(xml: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("line"))
        .filter_map(|l| l.children().find(|c| c.has_tag_name("name")))
        .map(|n| n.text().unwrap_or_default().to_string())
        .collect()
}

async fn phone_get(t: &TestApp, path: &str) -> String {
    let url = format!("http://{}{path}", t.app.http_addr.unwrap());
    t.client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn login(t: &TestApp, phone: &str, user: &str, pin: &str) -> (StatusCode, Value) {
    t.post(
        &format!("/api/v1/phones/{phone}/login"),
        json!({"user_id": user, "pin": pin}),
    )
    .await
}

#[tokio::test]
async fn users_log_in_and_out_and_phones_run_their_profiles() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        // Profiles: Ann's and Dan's (7960, enterprise), Bob's for IP Communicator (a soft client), a logout one.
        t.create("/api/v1/services", json!({"name": "Weather", "url": "http://weather.example.com/w",
            "parameters": [{"name": "city", "display_name": "City", "default": "Paris", "required": false}]})).await;
        t.create(
            "/api/v1/device-profiles",
            json!({"name": "EM-ann", "model": "7960", "protocol": "SIP",
            "lines": [{"pattern": "7101"}, {"pattern": "7102"}],
            "speed_dials": [{"position": 1, "number": "5550100", "label": "Home"}]}),
        )
        .await;
        t.create("/api/v1/device-profiles", json!({"name": "EM-dan", "model": "7960", "protocol": "SIP",
            "lines": [{"pattern": "7301"}],
            "services": [{"service": "Weather", "label": "Weather in Oslo", "parameters": {"city": "Oslo"}}]})).await;
        t.create("/api/v1/device-profiles", json!({"name": "EM-bob", "model": "IPC", "protocol": "SIP", "lines": [{"pattern": "7401"}]})).await;
        t.create("/api/v1/device-profiles", json!({"name": "EM-logout", "model": "7960", "protocol": "SIP", "lines": [{"pattern": "7201"}]})).await;
        for (u, pin, profile) in [
            ("ann", "1234", Some("EM-ann")),
            ("bob", "2345", Some("EM-bob")),
            ("cat", "3456", None),
            ("dan", "4567", Some("EM-dan")),
        ] {
            let mut body = json!({"user_id": u, "last_name": u, "pin": pin});
            if let Some(p) = profile {
                body["device_profiles"] = json!([p]);
                body["default_device_profile"] = json!(p);
            }
            t.create("/api/v1/users", body).await;
        }
        for (mac, logout) in [
            ("00562B0F0001", true),
            ("00562B0F0002", false),
            ("00562B0F0003", false),
        ] {
            let mut body = json!({"mac": mac, "model": "7960", "protocol": "SIP", "lines": [{"pattern": format!("70{}", &mac[10..])}]});
            if logout {
                body["logout_profile"] = json!("EM-logout");
            }
            t.create("/api/v1/phones", body).await;
        }
        let (p1, p2, p3) = ("SEP00562B0F0001", "SEP00562B0F0002", "SEP00562B0F0003");
        // Nobody logged in: a phone with a logout profile runs it; the others their own lines.
        assert_eq!(lines(&file(&t, p1).await), ["7201"], "[{l}]");
        assert_eq!(lines(&file(&t, p2).await), ["7002"], "[{l}]");

        // Refusals, each with its reason.
        let m = t.refused(login(&t, p1, "ann", "9999").await, INVALID, "pin");
        assert!(m.contains("wrong user ID or PIN"), "[{l}] {m}");
        let m = t.refused(login(&t, p1, "nobody", "1234").await, INVALID, "user_id");
        assert!(m.contains("no user nobody"), "[{l}] {m}");
        let m = t.refused(login(&t, p1, "cat", "3456").await, INVALID, "user_id");
        assert!(m.contains("cat has no device profile"), "[{l}] {m}");
        let m = t.refused(login(&t, p1, "bob", "2345").await, INVALID, "profile");
        assert!(
            m.contains("EM-bob is for the IPC") && m.contains("own family"),
            "[{l}] {m}"
        );

        // Ann logs in: the phone runs EM-ann (lines, speed dial, her credential).
        let (s, st) = login(&t, p1, "ann", "1234").await;
        assert_eq!(s, StatusCode::OK, "[{l}] {st}");
        assert_eq!(
            (
                st["login"]["user_id"].as_str(),
                st["login"]["profile"].as_str()
            ),
            (Some("ann"), Some("EM-ann")),
            "[{l}] {st}"
        );
        let f = file(&t, p1).await;
        assert_eq!(lines(&f), ["7101", "7102"], "[{l}]");
        assert!(
            f.contains("5550100") && f.contains("<authName>ann</authName>"),
            "[{l}] {f}"
        );
        // What the phone fetches follows the profile: a line added to EM-ann reaches it.
        let served = phone_get(&t, &format!("/{p1}.cnf.xml")).await;
        assert_eq!(lines(&served), ["7101", "7102"], "[{l}]");
        let (_, prof) = t.get("/api/v1/device-profiles/EM-ann").await;
        let (s, v) = t
            .patch(
                "/api/v1/device-profiles/EM-ann",
                json!({"version": prof["version"], "lines": [{"pattern": "7101"}, {"pattern": "7102"}, {"pattern": "7103"}]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");
        let served = phone_get(&t, &format!("/{p1}.cnf.xml")).await;
        assert_eq!(lines(&served), ["7101", "7102", "7103"], "[{l}] {served}");
        // A change to the profile alone (a speed dial, no line) reaches it too.
        let (_, prof) = t.get("/api/v1/device-profiles/EM-ann").await;
        let (s, v) = t
            .patch(
                "/api/v1/device-profiles/EM-ann",
                json!({"version": prof["version"], "speed_dials": [{"position": 4, "number": "5550199", "label": "Office"}]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");
        let served = phone_get(&t, &format!("/{p1}.cnf.xml")).await;
        assert!(
            served.contains("5550199") && !served.contains("5550100"),
            "[{l}] {served}"
        );
        assert_eq!(
            t.get("/api/v1/users/ann/logins").await.1[0]["phone"],
            p1,
            "[{l}]"
        );
        assert_eq!(t.get("/api/v1/logins").await.1["total"], 1);
        assert_eq!(
            t.get(&format!("/api/v1/phones/{p1}/login")).await.1["login"]["user_id"],
            "ann"
        );

        // A second phone: the system refuses (its default), then logs her out of the first.
        let m = t.refused(login(&t, p2, "ann", "1234").await, CONFLICT, "user_id");
        assert!(
            m.contains(&format!("ann is logged in on {p1} already")),
            "[{l}] {m}"
        );
        let (_, sys) = t.get("/api/v1/systems/default").await;
        let mut settings = sys["settings"].clone();
        settings["extension_mobility"] =
            json!({"multiple_login": "auto_logout", "max_login_minutes": 1});
        let (s, v) = t
            .patch(
                "/api/v1/systems/default",
                json!({"version": sys["version"], "settings": settings}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");
        let (s, st) = login(&t, p2, "ann", "1234").await;
        assert_eq!(s, StatusCode::OK, "[{l}] {st}");
        assert!(st["login"]["expires_at"].is_string(), "[{l}] {st}");
        assert_eq!(
            lines(&file(&t, p1).await),
            ["7201"],
            "[{l}] back to its logout profile"
        );
        assert_eq!(
            lines(&file(&t, p2).await),
            ["7101", "7102", "7103"],
            "[{l}]"
        );
        // Someone else on an occupied phone; a profile in use.
        let m = t.refused(login(&t, p2, "dan", "4567").await, CONFLICT, "phone");
        assert!(
            m.contains(&format!("ann is logged in on {p2}")),
            "[{l}] {m}"
        );
        let m = t.refused(
            t.delete("/api/v1/device-profiles/EM-ann").await,
            CONFLICT,
            "name",
        );
        assert!(
            m.contains("in use") && m.contains("ann is logged in"),
            "[{l}] {m}"
        );

        // The login's time runs out: the phone loads its own settings again.
        let soon = store::time_after(std::time::Duration::from_secs(20));
        assert!(
            t.app
                .service
                .end_logins_expired_by(&soon)
                .await
                .unwrap()
                .is_empty(),
            "[{l}] not yet"
        );
        let later = store::time_after(std::time::Duration::from_secs(120));
        let ended = t.app.service.end_logins_expired_by(&later).await.unwrap();
        assert_eq!(ended.len(), 1, "[{l}] {ended:?}");
        assert_eq!(lines(&file(&t, p2).await), ["7002"], "[{l}]");
        let m = t.refused(
            t.post(&format!("/api/v1/phones/{p2}/logout"), json!({}))
                .await,
            CONFLICT,
            "phone",
        );
        assert!(m.contains("nobody is logged in"), "[{l}] {m}");

        // On the phone itself: the services menu, the login form, a login, the profile's
        // services with their parameters, the logout.
        let menu = phone_get(&t, &format!("/services?device={p3}")).await;
        assert!(
            menu.contains("<Name>Extension Mobility</Name>")
                && menu.contains("Corporate directory"),
            "[{l}] {menu}"
        );
        let form = phone_get(&t, &format!("/services/em?device={p3}")).await;
        assert!(
            form.contains("<CiscoIPPhoneInput>") && form.contains("<InputFlags>NP</InputFlags>"),
            "[{l}] {form}"
        );
        let wrong = phone_get(
            &t,
            &format!("/services/em/login?device={p3}&user=dan&pin=0000"),
        )
        .await;
        assert!(
            wrong.contains("Not logged in") && wrong.contains("wrong user ID or PIN"),
            "[{l}] {wrong}"
        );
        let ok = phone_get(
            &t,
            &format!("/services/em/login?device={p3}&user=dan&pin=4567"),
        )
        .await;
        assert!(ok.contains("Welcome, dan"), "[{l}] {ok}");
        assert_eq!(lines(&file(&t, p3).await), ["7301"], "[{l}]");
        let menu = phone_get(&t, &format!("/services?device={p3}")).await;
        assert!(
            menu.contains("<Name>Weather in Oslo</Name>")
                && menu.contains("http://weather.example.com/w?city=Oslo"),
            "[{l}] {menu}"
        );
        let shown = phone_get(&t, &format!("/services/em?device={p3}")).await;
        assert!(
            shown.contains("dan is logged in on this phone")
                && shown.contains("/services/em/logout"),
            "[{l}] {shown}"
        );
        let out = phone_get(&t, &format!("/services/em/logout?device={p3}")).await;
        assert!(out.contains("Logged out"), "[{l}] {out}");
        assert_eq!(lines(&file(&t, p3).await), ["7003"], "[{l}]");

        // Three wrong PINs lock the user and the phone out for a while.
        for _ in 0..3 {
            login(&t, p3, "dan", "0000").await;
        }
        let m = t.refused(login(&t, p3, "dan", "4567").await, INVALID, "pin");
        assert!(m.contains("too many wrong PINs"), "[{l}] {m}");

        // Every login and logout is audited, with who did it.
        let (_, a) = t.get("/api/v1/audit?action=logout").await;
        let a = a.to_string();
        assert!(
            a.contains("system") && a.contains(&format!("phone {p3}")),
            "[{l}] {a}"
        );
        let (_, a) = t.get("/api/v1/audit?action=login").await;
        assert!(a.to_string().contains(&format!("dan on {p3}")), "[{l}] {a}");
        t.stop().await;
    }
}

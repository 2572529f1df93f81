//! The web console in a real headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven over WebDriver, against the real server on SQLite and PostgreSQL: log in, add a phone
//! with two lines one of them shared, find it, edit it, the stale edit, a CSV upload with a bad
//! row, and an administrator whose roles do not allow a delete.
//!
//! `DIALTONE_SCREENSHOTS=1` also writes screenshots of the main pages to `docs/screenshots/`.

mod common;

use common::{TestApp, PASSWORD};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::time::Duration;
use store::testing::TestDb;

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: std::process::Child,
    port: u16,
    profile: std::path::PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

async fn driver(chromedriver: &std::path::Path) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile =
        std::env::temp_dir().join(format!("dialtone-chromium-{}-{port}", std::process::id()));
    let d = Driver {
        child,
        port,
        profile,
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on {port}");
}

async fn browser(d: &Driver, chromium: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", d.profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", d.port))
        .await
        .expect("a Chromium session")
}

/// Waits for an element and gives its text.
/// Waits for an element and gives its text (again when htmx replaced it meanwhile).
async fn text(c: &Client, css: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        let found = c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(e) => match e.text().await {
                Ok(t) => return t,
                // Swapped out between finding and reading (the job page polls, finds swap).
                Err(_) if start.elapsed() < Duration::from_secs(10) => continue,
                Err(e) => panic!("`{css}`: {e}"),
            },
            Err(e) => {
                let at = c.current_url().await.ok();
                let page = c.source().await.unwrap_or_default();
                panic!("no `{css}` on {at:?}: {e}\n{page}")
            }
        }
    }
}

async fn fill(c: &Client, id: &str, value: &str) {
    let e = c
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"));
    e.clear().await.unwrap();
    e.send_keys(value).await.unwrap();
}

/// Clicks a button that leaves the page, and waits until the next page is there.
async fn submit(c: &Client, css: &str) {
    let page = c.find(Locator::Css("html")).await.unwrap();
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
        .click()
        .await
        .unwrap();
    gone(&page).await;
}

/// Waits until `page` (the `html` element of the page we were on) is replaced.
async fn gone(page: &fantoccini::elements::Element) {
    let start = std::time::Instant::now();
    while page.tag_name().await.is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the page did not change"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn log_in(c: &Client, base: &str, user: &str, password: &str) {
    c.goto(&format!("{base}/phones")).await.unwrap();
    // Not logged in: the log-in page, which then goes on to where we were going.
    assert!(c.current_url().await.unwrap().path().starts_with("/login"));
    fill(c, "username", user).await;
    fill(c, "password", password).await;
    submit(c, "form.login button[type=submit]").await;
    assert_eq!(text(c, "h1").await, "Phones", "after logging in as {user}");
    assert_eq!(text(c, "header .who").await, user);
}

async fn screenshot(c: &Client, name: &str, label: &str) {
    if std::env::var_os("DIALTONE_SCREENSHOTS").is_none() || label != "sqlite" {
        return;
    }
    let png = c.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[tokio::test]
async fn an_administrator_works_in_the_console_in_a_real_browser() {
    let (Some(chromedriver), Some(chromium)) =
        (common::peer("chromedriver"), common::peer("chromium"))
    else {
        return;
    };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let base = t.base.clone();
        // A phone with line 5000, which the new phone will share.
        t.create(
            "/api/v1/phones",
            json!({"mac": "0A0000000001", "model": "7960", "lines": [{"pattern": "5000"}]}),
        )
        .await;
        let d = driver(&chromedriver).await;
        let c = browser(&d, &chromium).await;

        log_in(&c, &base, "admin", PASSWORD).await;
        screenshot(&c, "phones", l).await;

        // Add a phone with two lines, 5000 (shared) and 5001 (new).
        c.goto(&format!("{base}/phones/new")).await.unwrap();
        fill(&c, "mac", "0C:11:22:33:44:55").await;
        c.find(Locator::Css("#model option[value='8861']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        fill(&c, "description", "Reception").await;
        fill(&c, "line0_pattern", "5000").await;
        fill(&c, "line0_label", "Front desk").await;
        fill(&c, "line1_pattern", "5001").await;
        screenshot(&c, "phone-new", l).await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "h1").await, "Phone SEP0C1122334455", "[{l}]");
        let lines = text(&c, "#lines").await;
        assert!(
            lines.contains("5000")
                && lines.contains("Front desk")
                && lines.contains("SEP0A0000000001"),
            "[{l}] line 5000 is shared: {lines}"
        );
        assert!(lines.contains("5001"), "[{l}] {lines}");
        screenshot(&c, "phone", l).await;

        // Find it: the search box updates the list (htmx) and the URL, so Back and Refresh work.
        c.goto(&format!("{base}/phones")).await.unwrap();
        let q = c.find(Locator::Css("input[name=q]")).await.unwrap();
        q.send_keys("SEP0C11").await.unwrap();
        c.wait()
            .at_most(Duration::from_secs(10))
            .for_url(&url::Url::parse(&format!("{base}/phones?q=SEP0C11")).unwrap())
            .await
            .unwrap();
        let found = text(&c, "#results").await;
        assert!(
            found.contains("1 phones") && found.contains("SEP0C1122334455"),
            "[{l}] {found}"
        );
        c.refresh().await.unwrap();
        assert!(
            text(&c, "#results").await.contains("SEP0C1122334455"),
            "[{l}] a refresh shows the same find"
        );
        submit(&c, "#results a[href='/phones/SEP0C1122334455']").await;
        assert_eq!(text(&c, "h1").await, "Phone SEP0C1122334455");
        let page = c.find(Locator::Css("html")).await.unwrap();
        c.back().await.unwrap();
        gone(&page).await;
        assert!(
            text(&c, "#results").await.contains("SEP0C1122334455"),
            "[{l}] Back returns to the find"
        );

        // Edit it.
        c.goto(&format!("{base}/phones/SEP0C1122334455/edit"))
            .await
            .unwrap();
        fill(&c, "description", "Reception, ground floor").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(
            text(&c, "#description").await,
            "Reception, ground floor",
            "[{l}]"
        );

        // The stale edit: someone saves the phone while the form is open.
        c.goto(&format!("{base}/phones/SEP0C1122334455/edit"))
            .await
            .unwrap();
        let (_, now) = t.get("/api/v1/phones/SEP0C1122334455").await;
        let (s, _) = t
            .patch(
                "/api/v1/phones/SEP0C1122334455",
                json!({"version": now["version"], "description": "Changed by the API"}),
            )
            .await;
        assert!(s.is_success());
        fill(&c, "description", "Mine").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(
            text(&c, "h1").await,
            "SEP0C1122334455 changed while you edited it",
            "[{l}]"
        );
        let versions = text(&c, "#versions tr.conflict").await;
        assert!(
            versions.contains("Description")
                && versions.contains("Mine")
                && versions.contains("Changed by the API"),
            "[{l}] both versions side by side: {versions}"
        );
        screenshot(&c, "stale-edit", l).await;
        submit(&c, "main .bar form button[type=submit]").await;
        assert_eq!(
            text(&c, "#description").await,
            "Mine",
            "[{l}] saved over, knowingly"
        );

        // A CSV upload with a bad row: the job says which row, which column and why.
        let dir = std::env::temp_dir().join(format!("dialtone-console-{}-{l}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("lines.csv");
        std::fs::write(&csv, "DIRECTORY NUMBER,DESCRIPTION,MAXIMUM NUMBER OF CALLS\n6000,Hall,4\n6001,Lab,lots\n6002,Shop,2\n").unwrap();
        c.goto(&format!("{base}/imports/new")).await.unwrap();
        c.find(Locator::Css("#kind option[value='lines']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Id("file"))
            .await
            .unwrap()
            .send_keys(csv.to_str().unwrap())
            .await
            .unwrap();
        submit(&c, "main form button[type=submit]").await;
        c.wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::XPath("//dd[@id='state'][text()='done']"))
            .await
            .unwrap_or_else(|e| panic!("[{l}] the job did not end: {e}"));
        assert_eq!(text(&c, "#summary").await, "2 ok, 1 failed", "[{l}]");
        let errors = text(&c, "#errors").await;
        assert!(
            errors.contains("3")
                && errors.contains("MAXIMUM NUMBER OF CALLS")
                && errors.contains("`lots` is not a whole number"),
            "[{l}] {errors}"
        );
        screenshot(&c, "import-job", l).await;
        c.goto(&format!("{base}/users?conflicts=true"))
            .await
            .unwrap();
        screenshot(&c, "users-conflicts", l).await;

        // A template applied to a found set: a warning of how many, then each phone on its own.
        t.create(
            "/api/v1/users",
            json!({"user_id": "jdoe", "last_name": "Doe"}),
        )
        .await;
        t.create("/api/v1/systems", json!({"name": "branch"})).await;
        t.create(
            "/api/v1/phones",
            json!({"mac": "0C0000000009", "model": "7960", "system": "branch"}),
        )
        .await;
        t.create(
            "/api/v1/templates",
            json!({"kind": "phone", "name": "Reception set",
            "fields": {"owner_user_id": "jdoe", "description": "Reception"}}),
        )
        .await;
        c.goto(&format!("{base}/templates")).await.unwrap();
        submit(&c, "a[href='/templates/phone/Reception%20set']").await;
        c.find(Locator::Css("input[name=q]"))
            .await
            .unwrap()
            .send_keys("SEP0C")
            .await
            .unwrap();
        submit(&c, "main form.bar button[type=submit]").await;
        assert_eq!(
            text(&c, "h1").await,
            "Apply Reception set to 2 phones",
            "[{l}]"
        );
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "#outcome").await, "1 changed, 1 failed.", "[{l}]");
        let failed = text(&c, "#failed").await;
        assert!(
            failed.contains("SEP0C0000000009") && failed.contains("jdoe"),
            "[{l}] {failed}"
        );
        assert!(
            text(&c, "#succeeded").await.contains("SEP0C1122334455"),
            "[{l}]"
        );
        screenshot(&c, "template-apply", l).await;

        // A user: find, edit.
        c.goto(&format!("{base}/users?q=jd")).await.unwrap();
        submit(&c, "a[href='/users/jdoe?system=default']").await;
        assert_eq!(text(&c, "h1").await, "User jdoe on default", "[{l}]");
        submit(&c, "a.button[href^='/users/jdoe/edit']").await;
        fill(&c, "department", "Front office").await;
        fill(&c, "first_name", "Jane").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "#department").await, "Front office", "[{l}]");
        assert_eq!(text(&c, "#name").await, "Jane Doe", "[{l}]");

        // A shared line: where it appears, and its settings edited (a bad number said plainly).
        c.goto(&format!("{base}/lines?q=500")).await.unwrap();
        submit(&c, "a[href^='/lines/5000?']").await;
        assert_eq!(text(&c, "h1").await, "Line 5000 (shared)", "[{l}]");
        let on = text(&c, "#appearances").await;
        assert!(
            on.contains("SEP0A0000000001") && on.contains("SEP0C1122334455"),
            "[{l}] {on}"
        );
        submit(&c, "a.button[href^='/lines/5000/edit']").await;
        fill(&c, "forward_busy_external", "voicemail").await;
        // A number input takes no letters: what the browser sends is an empty field.
        fill(&c, "max_calls", "lots").await;
        submit(&c, "main form button[type=submit]").await;
        assert!(
            text(&c, ".notice.bad")
                .await
                .contains("Maximum number of calls: give a whole number"),
            "[{l}]"
        );
        fill(&c, "max_calls", "3").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(
            text(&c, "#forward_busy_external").await,
            "voicemail",
            "[{l}]"
        );
        assert_eq!(text(&c, "#max_calls").await, "3", "[{l}]");
        screenshot(&c, "line", l).await;

        c.goto(&format!("{base}/systems")).await.unwrap();
        let systems = text(&c, "main table").await;
        assert!(
            systems.contains("branch") && systems.contains("default"),
            "[{l}] {systems}"
        );

        // A template made, changed and removed in the console (a field users lack is refused).
        c.goto(&format!("{base}/templates")).await.unwrap();
        submit(&c, "a.button[href='/templates/new']").await;
        c.find(Locator::Css("#kind option[value='user']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        fill(&c, "name", "Sales staff").await;
        fill(&c, "fields", "department=Sales\nshoe_size=44").await;
        submit(&c, "main form button[type=submit]").await;
        assert!(text(&c, ".notice.bad").await.contains("shoe_size"), "[{l}]");
        fill(&c, "fields", "department=Sales\ngroups=[\"sales\"]").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "h1").await, "User template Sales staff", "[{l}]");
        let held = text(&c, "dl.record").await;
        assert!(
            held.contains("department") && held.contains("Sales") && held.contains("groups"),
            "[{l}] {held}"
        );
        submit(&c, "a.button[href$='/edit']").await;
        fill(&c, "description", "Everyone in sales").await;
        submit(&c, "main form button[type=submit]").await;
        assert!(
            text(&c, "dl.record").await.contains("Everyone in sales"),
            "[{l}]"
        );
        // Delete asks first (the browser's confirm), then goes.
        let page = c.find(Locator::Css("html")).await.unwrap();
        c.find(Locator::Css("main .bar form button.danger"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert!(
            c.get_alert_text()
                .await
                .unwrap()
                .contains("Delete the template Sales staff?"),
            "[{l}]"
        );
        c.accept_alert().await.unwrap();
        gone(&page).await;
        assert_eq!(text(&c, "h1").await, "Templates", "[{l}]");
        assert!(
            !text(&c, "main table").await.contains("Sales staff"),
            "[{l}] removed"
        );

        // A restricted administrator: no Delete button, and a delete sent anyway is refused.
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
        submit(&c, "header form button[type=submit]").await;
        assert!(
            c.current_url().await.unwrap().path().starts_with("/login"),
            "[{l}] logged out"
        );
        log_in(&c, &base, "clerk", "clerk-password").await;
        c.goto(&format!("{base}/phones/SEP0C1122334455"))
            .await
            .unwrap();
        assert_eq!(text(&c, "h1").await, "Phone SEP0C1122334455");
        assert!(
            c.find_all(Locator::Css("button.danger"))
                .await
                .unwrap()
                .is_empty(),
            "[{l}] no Delete for the clerk"
        );
        assert!(
            !c.find_all(Locator::LinkText("Edit"))
                .await
                .unwrap()
                .is_empty(),
            "[{l}] Edit is allowed"
        );
        let page = c.find(Locator::Css("html")).await.unwrap();
        c.execute(
            "const f = document.createElement('form'); f.method = 'post'; f.action = location.pathname + '/delete';
             const i = document.createElement('input'); i.name = 'csrf'; i.value = document.querySelector('meta[name=csrf-token]').content;
             f.appendChild(i); document.body.appendChild(f); f.submit();",
            vec![],
        )
        .await
        .unwrap();
        gone(&page).await;
        assert_eq!(text(&c, "h1").await, "Not allowed", "[{l}]");
        assert!(
            text(&c, ".notice.bad")
                .await
                .contains("clerk may not delete phone on default"),
            "[{l}]"
        );
        let (s, _) = t.get("/api/v1/phones/SEP0C1122334455").await;
        assert!(s.is_success(), "[{l}] the phone is still there");

        // The audit log, filtered in the page: the refused delete is there, in red.
        c.goto(&format!("{base}/audit")).await.unwrap();
        c.find(Locator::Css("select[name=result] option[value=failed]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Css("select[name=action] option[value=delete]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        submit(&c, "main form.bar button[type=submit]").await;
        assert!(
            c.current_url()
                .await
                .unwrap()
                .query()
                .unwrap_or("")
                .contains("result=failed"),
            "[{l}]"
        );
        let refused = text(&c, "table tr.conflict").await;
        assert!(
            refused.contains("clerk") && refused.contains("SEP0C1122334455"),
            "[{l}] {refused}"
        );
        screenshot(&c, "audit", l).await;

        // Exports download with the session (what the links on the import page do).
        let session = c.get_named_cookie("dialtone_session").await.unwrap();
        let r = t
            .client
            .get(t.url("/exports/lines.csv"))
            .header("cookie", format!("dialtone_session={}", session.value()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK, "[{l}]");
        let body = r.text().await.unwrap();
        assert!(
            body.starts_with("DIRECTORY NUMBER,") && body.contains("6002"),
            "[{l}] {body}"
        );
        let r = t
            .client
            .get(t.url("/exports/lines.csv"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.url().path(), "/login", "[{l}] no session, no export");

        // Back as the superadmin: the clerk's roles changed, the custom role removed.
        submit(&c, "header form button[type=submit]").await;
        log_in(&c, &base, "admin", PASSWORD).await;
        c.goto(&format!("{base}/admins")).await.unwrap();
        let form = "form[action='/admins/clerk']";
        c.find(Locator::Css(&format!("{form} option[value='Desk clerk']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Css(&format!(
            "{form} option[value='Full Provisioning']"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        submit(&c, &format!("{form} button[type=submit]")).await;
        let admins = text(&c, "#admins").await;
        assert!(admins.contains("clerk Full Provisioning"), "[{l}] {admins}");
        let page = c.find(Locator::Css("html")).await.unwrap();
        c.find(Locator::Css("form[action='/roles/Desk%20clerk/delete'] button, form[action='/roles/Desk clerk/delete'] button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.accept_alert().await.unwrap();
        gone(&page).await;
        assert!(
            !text(&c, "#roles-table").await.contains("Desk clerk"),
            "[{l}] the role is gone"
        );
        screenshot(&c, "admins", l).await;

        c.close().await.unwrap();
        drop(d);
        t.stop().await;
    }
}

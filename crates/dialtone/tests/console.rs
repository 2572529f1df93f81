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
            found.contains("1 phone whose") && found.contains("SEP0C1122334455"),
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
        upload(&c, &base, "lines", &csv, false).await;
        job_done(&c, l).await;
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
        delete_confirmed(&c, "Delete the template Sales staff?").await;
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
        c.goto(&format!("{base}/phones?q=SEP0C")).await.unwrap();
        assert!(
            text(&c, "#results").await.contains("SEP0C1122334455")
                && c.find_all(Locator::Id("delete-found"))
                    .await
                    .unwrap()
                    .is_empty(),
            "[{l}] no deleting of a found set for the clerk"
        );
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

        // The audit log, newest first: the top row is the refused delete, the entry the API
        // lists first.
        c.goto(&format!("{base}/audit")).await.unwrap();
        let (_, newest) = t.get("/api/v1/audit?limit=1").await;
        let newest = &newest["items"][0];
        assert_eq!(newest["result"], "failed", "[{l}] {newest}");
        let top = text(&c, "table tr:nth-child(2)").await;
        for field in ["actor", "action", "target"] {
            let want = newest[field].as_str().unwrap();
            assert!(top.contains(want), "[{l}] top row {top:?}, newest {newest}");
        }
        // Filtered in the page: the refused delete is there, in red.
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

        // Other vendors' models are offered and taken like Cisco's.
        c.goto(&format!("{base}/phones/new")).await.unwrap();
        for model in ["T46U", "VVX450", "GXP2170", "D785"] {
            assert!(
                !c.find_all(Locator::Css(&format!("#model option[value='{model}']")))
                    .await
                    .unwrap()
                    .is_empty(),
                "[{l}] {model} is offered"
            );
        }
        fill(&c, "mac", "80:5E:C0:11:22:33").await;
        choose(&c, "model", "T46U").await;
        fill(&c, "line0_pattern", "5002").await;
        fill(&c, "line0_label", "Yealink desk").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "h1").await, "Phone SEP805EC0112233", "[{l}]");
        let body = t.file_preview("SEP805EC0112233", "805ec0112233.cfg").await;
        assert!(
            body.contains("account.1.label = Yealink desk"),
            "[{l}] {body}"
        );

        c.close().await.unwrap();
        drop(d);
        t.stop().await;
    }
}

/// Uploads `csv` on the import page as records of `kind` (a dry run or not), and waits for the
/// job's page.
async fn upload(c: &Client, base: &str, kind: &str, csv: &std::path::Path, dry_run: bool) {
    c.goto(&format!("{base}/imports/new")).await.unwrap();
    choose(c, "kind", kind).await;
    if dry_run {
        c.find(Locator::Id("dry_run"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    c.find(Locator::Id("file"))
        .await
        .unwrap()
        .send_keys(csv.to_str().unwrap())
        .await
        .unwrap();
    submit(c, "main form button[type=submit]").await;
}

/// Waits until the job page says the job is done.
async fn job_done(c: &Client, label: &str) {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath("//dd[@id='state'][text()='done']"))
        .await
        .unwrap_or_else(|e| panic!("[{label}] the job did not end: {e}"));
}

/// Picks `value` in the `<select id=…>`.
async fn choose(c: &Client, id: &str, value: &str) {
    c.find(Locator::Css(&format!(
        "[id='{id}'] option[value='{value}']"
    )))
    .await
    .unwrap_or_else(|e| panic!("no option {value} in #{id}: {e}"))
    .click()
    .await
    .unwrap();
}

/// Clicks the Delete button of a record's page, accepts the browser's confirm, and waits for
/// the page after it.
async fn delete_confirmed(c: &Client, asks: &str) {
    let page = c.find(Locator::Css("html")).await.unwrap();
    c.find(Locator::Css("main .bar form button.danger"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let alert = c.get_alert_text().await.unwrap();
    assert!(alert.contains(asks), "the confirm says {alert:?}");
    c.accept_alert().await.unwrap();
    gone(&page).await;
}

/// The rest of what an administrator keeps in the console: product systems, voicemail
/// subscribers, lines and device profiles added, edited and deleted; a phone's IP phone services
/// and expansion modules; and a CSV file checked by a dry run, then run for real from its job.
#[tokio::test]
async fn systems_subscribers_lines_profiles_services_and_a_dry_run_then_run() {
    let (Some(chromedriver), Some(chromium)) =
        (common::peer("chromedriver"), common::peer("chromium"))
    else {
        return;
    };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let base = t.base.clone();
        let d = driver(&chromedriver).await;
        let c = browser(&d, &chromium).await;
        log_in(&c, &base, "admin", PASSWORD).await;

        // A call-control system with its servers; a bad server line is said with its field.
        c.goto(&format!("{base}/systems")).await.unwrap();
        submit(&c, "a.button[href='/systems/new']").await;
        fill(&c, "name", "branch").await;
        fill(&c, "description", "Branch office").await;
        fill(
            &c,
            "settings.servers",
            "cm1.example.com\ncm2.example.com sip",
        )
        .await;
        submit(&c, "main form button[type=submit]").await;
        let bad = text(&c, ".notice.bad").await;
        assert!(
            bad.contains("Call-control servers") && bad.contains("`sip` is not a port"),
            "[{l}] {bad}"
        );
        fill(
            &c,
            "settings.servers",
            "cm1.example.com\ncm2.example.com 5070",
        )
        .await;
        fill(&c, "settings.tftp_servers", "10.0.0.1, 10.0.0.2").await;
        c.find(Locator::Id("settings.auto_registration"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(
            text(&c, "h1").await,
            "Product system branch (call-control)",
            "[{l}]"
        );
        assert_eq!(
            text(&c, "#settings-servers").await,
            "cm1.example.com 5060 5061 2000\ncm2.example.com 5070 5061 2000",
            "[{l}]"
        );
        assert_eq!(
            text(&c, "#settings-auto_registration").await,
            "yes",
            "[{l}]"
        );
        let (_, v) = t.get("/api/v1/systems/branch").await;
        assert_eq!(
            v["settings"]["tftp_servers"],
            json!(["10.0.0.1", "10.0.0.2"]),
            "[{l}] {v}"
        );
        screenshot(&c, "system", l).await;
        // Edited: the settings are saved whole, what the form did not change kept.
        submit(&c, "a.button[href='/systems/branch/edit']").await;
        fill(&c, "settings.voicemail_pilot", "8000").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "#settings-voicemail_pilot").await, "8000", "[{l}]");
        assert!(
            text(&c, "#settings-servers")
                .await
                .contains("cm2.example.com 5070"),
            "[{l}]"
        );

        // A voicemail system and a subscriber on it: add, edit, delete; the PIN is write-only.
        c.goto(&format!("{base}/systems/new")).await.unwrap();
        fill(&c, "name", "unity").await;
        choose(&c, "kind", "voicemail").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(
            text(&c, "h1").await,
            "Product system unity (voicemail)",
            "[{l}]"
        );
        c.goto(&format!("{base}/voicemail-subscribers"))
            .await
            .unwrap();
        submit(&c, "a.button[href='/voicemail-subscribers/new']").await;
        fill(&c, "alias", "jsmith").await;
        choose(&c, "system", "unity").await;
        fill(&c, "first_name", "John").await;
        fill(&c, "last_name", "Smith").await;
        fill(&c, "extension", "2001").await;
        fill(&c, "pin", "8642").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(
            text(&c, "h1").await,
            "Voicemail subscriber jsmith on unity",
            "[{l}] {}",
            text(&c, "main").await
        );
        assert_eq!(text(&c, "#pin").await, "set", "[{l}]");
        assert!(
            !c.source().await.unwrap().contains("8642"),
            "[{l}] the PIN is never shown"
        );
        submit(&c, "a.button[href^='/voicemail-subscribers/jsmith/edit']").await;
        assert_eq!(
            c.find(Locator::Id("pin"))
                .await
                .unwrap()
                .prop("value")
                .await
                .unwrap()
                .as_deref(),
            Some(""),
            "[{l}] the PIN field starts empty"
        );
        fill(&c, "extension", "2000").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "#extension").await, "2000", "[{l}]");
        assert_eq!(text(&c, "#pin").await, "set", "[{l}] left empty, kept");
        delete_confirmed(&c, "Delete Voicemail subscriber jsmith on unity?").await;
        assert_eq!(text(&c, "h1").await, "Voicemail subscribers", "[{l}]");
        let (s, _) = t
            .get("/api/v1/voicemail-subscribers/jsmith?system=unity")
            .await;
        assert_eq!(s, reqwest::StatusCode::NOT_FOUND, "[{l}] deleted");

        // A system that holds records cannot be deleted; an empty one can.
        c.goto(&format!("{base}/systems/default")).await.unwrap();
        t.create(
            "/api/v1/lines",
            json!({"system": "default", "pattern": "6999"}),
        )
        .await;
        delete_confirmed(&c, "Delete Product system default").await;
        assert!(
            text(&c, ".notice.bad")
                .await
                .contains("default still holds 1 line: delete them first"),
            "[{l}] the system is in use"
        );
        c.goto(&format!("{base}/systems/unity")).await.unwrap();
        delete_confirmed(&c, "Delete Product system unity").await;
        assert!(
            !text(&c, "main table").await.contains("unity"),
            "[{l}] the empty system is gone"
        );

        // A line added on its own, then a device profile with it and one more.
        c.goto(&format!("{base}/lines")).await.unwrap();
        submit(&c, "a.button[href='/lines/new']").await;
        fill(&c, "pattern", "7000").await;
        choose(&c, "system", "default").await;
        fill(&c, "description", "Hot desk").await;
        fill(&c, "max_calls", "6").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "h1").await, "Line 7000", "[{l}]");
        assert_eq!(text(&c, "#max_calls").await, "6", "[{l}]");
        assert_eq!(text(&c, "#busy_trigger").await, "2", "[{l}] the default");

        c.goto(&format!("{base}/device-profiles")).await.unwrap();
        submit(&c, "a.button[href='/device-profiles/new']").await;
        fill(&c, "name", "EM-jsmith").await;
        assert!(
            c.find_all(Locator::Css("#model option[value='8861']"))
                .await
                .unwrap()
                .is_empty(),
            "[{l}] only models with device profiles are offered"
        );
        choose(&c, "model", "7960").await;
        choose(&c, "system", "default").await;
        fill(&c, "line0_pattern", "7000").await;
        fill(&c, "line0_label", "Desk").await;
        fill(&c, "line1_pattern", "7001").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(
            text(&c, "h1").await,
            "Device profile EM-jsmith",
            "[{l}] {}",
            text(&c, "main").await
        );
        let lines = text(&c, "#lines").await;
        assert!(
            lines.contains("7000") && lines.contains("Desk") && lines.contains("7001"),
            "[{l}] {lines}"
        );
        c.goto(&format!("{base}/lines/7000?partition=&system=default"))
            .await
            .unwrap();
        assert!(
            text(&c, "#appearances").await.contains("EM-jsmith"),
            "[{l}] the line says where it is"
        );
        submit(&c, "#appearances a").await;
        assert_eq!(text(&c, "h1").await, "Device profile EM-jsmith", "[{l}]");

        // Its stale edit, then the edit saved over it.
        submit(&c, "a.button[href='/device-profiles/EM-jsmith/edit']").await;
        let (_, now) = t.get("/api/v1/device-profiles/EM-jsmith").await;
        let (s, _) = t
            .patch(
                "/api/v1/device-profiles/EM-jsmith",
                json!({"version": now["version"], "description": "From the API"}),
            )
            .await;
        assert!(s.is_success(), "[{l}]");
        fill(&c, "description", "Mobile desk").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(
            text(&c, "h1").await,
            "EM-jsmith changed while you edited it",
            "[{l}]"
        );
        let versions = text(&c, "#versions tr.conflict").await;
        assert!(
            versions.contains("Mobile desk") && versions.contains("From the API"),
            "[{l}] {versions}"
        );
        submit(&c, "main .bar form button[type=submit]").await;
        assert_eq!(text(&c, "#description").await, "Mobile desk", "[{l}]");
        assert!(
            text(&c, "#lines").await.contains("7001"),
            "[{l}] the lines came through the stale page"
        );
        delete_confirmed(&c, "Delete Device profile EM-jsmith?").await;
        assert_eq!(text(&c, "h1").await, "Device profiles", "[{l}]");
        let (s, _) = t.get("/api/v1/device-profiles/EM-jsmith").await;
        assert_eq!(s, reqwest::StatusCode::NOT_FOUND, "[{l}]");

        // A phone's IP phone services and expansion modules; a third module is refused.
        t.create(
            "/api/v1/services",
            json!({"system": "default", "name": "Weather", "url": "http://weather.example.com/"}),
        )
        .await;
        t.create(
            "/api/v1/phones",
            json!({"system": "default", "mac": "0A00000000F1", "model": "7960"}),
        )
        .await;
        c.goto(&format!("{base}/phones/SEP0A00000000F1/edit"))
            .await
            .unwrap();
        c.find(Locator::Css("#offered input[value='Weather']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        fill(&c, "expansion_modules", "7914, 7914, 7914").await;
        submit(&c, "main form button[type=submit]").await;
        let bad = text(&c, ".notice.bad").await;
        assert!(bad.contains("expansion"), "[{l}] {bad}");
        assert!(
            c.find(Locator::Css("#offered input[value='Weather']"))
                .await
                .unwrap()
                .is_selected()
                .await
                .unwrap(),
            "[{l}] the form keeps what was ticked"
        );
        fill(&c, "expansion_modules", "7914, 7914").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "#services").await, "Weather", "[{l}]");
        assert_eq!(text(&c, "#expansion_modules").await, "7914, 7914", "[{l}]");
        let (_, p) = t.get("/api/v1/phones/SEP0A00000000F1").await;
        assert_eq!(p["services"][0]["service"], "Weather", "[{l}] {p}");

        // A found set deleted at once: how many first, then each phone on its own (one is the
        // primary phone of a soft phone, and stays).
        t.create(
            "/api/v1/users",
            json!({"system": "default", "user_id": "kdoe", "last_name": "Doe"}),
        )
        .await;
        for mac in ["0D0000000001", "0D0000000002", "0D0000000003"] {
            t.create(
                "/api/v1/phones",
                json!({"system": "default", "mac": mac, "model": "7960"}),
            )
            .await;
        }
        t.create(
            "/api/v1/phones",
            json!({"system": "default", "model": "CUPC", "owner_user_id": "kdoe", "primary_phone": "SEP0D0000000001"}),
        )
        .await;
        c.goto(&format!("{base}/phones?q=SEP0D")).await.unwrap();
        submit(&c, "#delete-found").await;
        assert_eq!(text(&c, "h1").await, "Delete 3 phones", "[{l}]");
        assert_eq!(
            text(&c, "#warning").await,
            "This deletes 3 records.",
            "[{l}]"
        );
        submit(&c, "main form button.danger").await;
        assert_eq!(text(&c, "#outcome").await, "2 deleted, 1 failed.", "[{l}]");
        let failed = text(&c, "#failed").await;
        assert!(
            failed.contains("SEP0D0000000001") && failed.contains("secondary soft phones"),
            "[{l}] {failed}"
        );
        let (_, left) = t.get("/api/v1/phones?q=SEP0D").await;
        assert_eq!(left["total"], 1, "[{l}] {left}");
        screenshot(&c, "delete-found", l).await;
        // Past 100 records the page warns that it may take a while.
        for i in 0..101 {
            t.create(
                "/api/v1/users",
                json!({"system": "default", "user_id": format!("temp{i:03}"), "last_name": "Temp"}),
            )
            .await;
        }
        c.goto(&format!("{base}/users?q=temp")).await.unwrap();
        submit(&c, "#delete-found").await;
        assert_eq!(text(&c, "h1").await, "Delete 101 users", "[{l}]");
        assert!(
            text(&c, "#warning").await.contains("it may take a while"),
            "[{l}]"
        );
        assert!(text(&c, "#targets").await.ends_with("and 51 more"), "[{l}]");

        // A dry run, then the same file run for real from the dry run's job.
        let dir = std::env::temp_dir().join(format!("dialtone-dryrun-{}-{l}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("more-lines.csv");
        std::fs::write(
            &csv,
            "DIRECTORY NUMBER,SYSTEM,DESCRIPTION,BUSY TRIGGER\n7100,default,Hall,2\n7101,default,Lab,9\n7102,default,Shop,1\n",
        )
        .unwrap();
        upload(&c, &base, "lines", &csv, true).await;
        c.wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("#run"))
            .await
            .unwrap_or_else(|e| panic!("[{l}] no Run button after the dry run: {e}"));
        assert_eq!(text(&c, "#summary").await, "2 ok, 1 failed", "[{l}]");
        let (_, lines) = t.get("/api/v1/lines?q=71").await;
        assert_eq!(lines["total"], 0, "[{l}] the dry run wrote nothing");
        let page = c.find(Locator::Css("html")).await.unwrap();
        c.find(Locator::Id("run"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert!(
            c.get_alert_text().await.unwrap().contains("more-lines.csv"),
            "[{l}]"
        );
        c.accept_alert().await.unwrap();
        gone(&page).await;
        job_done(&c, l).await;
        let h1 = text(&c, "h1").await;
        assert!(
            h1.contains("lines (add)") && !h1.contains("dry run"),
            "[{l}] {h1}"
        );
        assert_eq!(text(&c, "#summary").await, "2 ok, 1 failed", "[{l}]");
        assert!(text(&c, "#errors").await.contains("BUSY TRIGGER"), "[{l}]");
        assert!(
            c.find_all(Locator::Css("#run")).await.unwrap().is_empty(),
            "[{l}] a real run is not run again"
        );
        let (_, lines) = t.get("/api/v1/lines?q=71").await;
        assert_eq!(lines["total"], 2, "[{l}] {lines}");
        // The dry run's file ran once: it is not kept any more.
        let dry = c.current_url().await.unwrap();
        let new_id: i64 = dry.path().rsplit('/').next().unwrap().parse().unwrap();
        let (s, v) = t
            .post(&format!("/api/v1/imports/{}/run", new_id - 1), json!({}))
            .await;
        assert_eq!(s, reqwest::StatusCode::NOT_FOUND, "[{l}] {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("is not kept (it ran already"),
            "[{l}] {v}"
        );
        let _ = std::fs::remove_dir_all(&dir);

        c.close().await.unwrap();
        drop(d);
        t.stop().await;
    }
}

/// Self-provisioning in the console: universal line and device templates (speed dials one per
/// line), a user profile naming them, the system's auto-registration and self-provisioning
/// settings; an edit keeps what the form does not show (a template's IP phone services).
#[tokio::test]
async fn self_provisioning_records_in_the_console() {
    let (Some(chromedriver), Some(chromium)) =
        (common::peer("chromedriver"), common::peer("chromium"))
    else {
        return;
    };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let base = t.base.clone();
        let d = driver(&chromedriver).await;
        let c = browser(&d, &chromium).await;
        log_in(&c, &base, "admin", PASSWORD).await;

        c.goto(&format!("{base}/universal-line-templates"))
            .await
            .unwrap();
        submit(&c, "a.button[href='/universal-line-templates/new']").await;
        fill(&c, "name", "Sales lines").await;
        choose(&c, "system", "default").await;
        fill(&c, "line.partition", "Internal").await;
        fill(&c, "line.label", "#First# #LastName#").await;
        submit(&c, "main form button[type=submit]").await;
        assert!(
            text(&c, ".notice.bad")
                .await
                .contains("`#First#` is not a token"),
            "[{l}] a bad pattern is said"
        );
        fill(&c, "line.label", "#FirstName# #LastName#").await;
        fill(&c, "line.external_mask", "972813XXXX").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(
            text(&c, "h1").await,
            "Universal line template Sales lines on default",
            "[{l}]"
        );
        assert_eq!(text(&c, "#line-external_mask").await, "972813XXXX", "[{l}]");

        c.goto(&format!("{base}/universal-device-templates/new"))
            .await
            .unwrap();
        fill(&c, "name", "Sales phones").await;
        choose(&c, "system", "default").await;
        fill(&c, "device.device_pool", "Sales").await;
        fill(&c, "device.speed_dials", "1 5000 Self-provisioning\n2 911").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(
            text(&c, "h1").await,
            "Universal device template Sales phones on default",
            "[{l}]"
        );
        assert_eq!(
            text(&c, "#device-speed_dials").await,
            "1 5000 Self-provisioning\n2 911",
            "[{l}]"
        );

        c.goto(&format!("{base}/user-profiles/new")).await.unwrap();
        fill(&c, "name", "Sales").await;
        choose(&c, "system", "default").await;
        fill(&c, "device_template", "Sales phones").await;
        fill(&c, "line_template", "Sales lines").await;
        c.find(Locator::Id("allow_self_provisioning"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        fill(&c, "phone_limit", "3").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(
            text(&c, "h1").await,
            "User profile Sales on default",
            "[{l}]"
        );
        assert_eq!(text(&c, "#allow_self_provisioning").await, "yes", "[{l}]");
        c.goto(&format!("{base}/universal-device-templates"))
            .await
            .unwrap();
        assert!(
            text(&c, "main table").await.contains("user profile Sales"),
            "[{l}] used by"
        );

        // An edit in the console keeps what its form does not show.
        t.create(
            "/api/v1/services",
            json!({"name": "Directory", "url": "http://dir.example.com/"}),
        )
        .await;
        let (_, udt) = t
            .get("/api/v1/universal-device-templates/Sales%20phones")
            .await;
        let mut device = udt["device"].clone();
        device["services"] = json!([{"service": "Directory"}]);
        let (s, v) = t
            .patch(
                "/api/v1/universal-device-templates/Sales%20phones",
                json!({"version": udt["version"], "device": device}),
            )
            .await;
        assert_eq!(s, reqwest::StatusCode::OK, "[{l}] {v}");
        c.goto(&format!(
            "{base}/universal-device-templates/Sales%20phones/edit?system=default"
        ))
        .await
        .unwrap();
        fill(&c, "device.device_pool", "Sales floor").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(
            text(&c, "#device-device_pool").await,
            "Sales floor",
            "[{l}]"
        );
        let (_, udt) = t
            .get("/api/v1/universal-device-templates/Sales%20phones")
            .await;
        assert_eq!(
            udt["device"]["services"][0]["service"], "Directory",
            "[{l}] {udt}"
        );

        // The system's auto-registration and self-provisioning settings.
        c.goto(&format!("{base}/systems/default/edit"))
            .await
            .unwrap();
        fill(&c, "settings.auto_registration_start_dn", "1000").await;
        fill(&c, "settings.auto_registration_end_dn", "1099").await;
        fill(
            &c,
            "settings.auto_registration_device_template",
            "Sales phones",
        )
        .await;
        fill(
            &c,
            "settings.auto_registration_line_template",
            "Sales lines",
        )
        .await;
        choose(
            &c,
            "settings.self_provisioning.authentication",
            "end_user_or_admin_code",
        )
        .await;
        fill(&c, "settings.self_provisioning.authentication_code", "2468").await;
        fill(&c, "settings.self_provisioning.ivr_extension", "5000").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(
            text(&c, "#settings-auto_registration_end_dn").await,
            "1099",
            "[{l}]"
        );
        assert_eq!(
            text(&c, "#settings-self_provisioning-ivr_extension").await,
            "5000",
            "[{l}]"
        );
        let (_, sys) = t.get("/api/v1/systems/default").await;
        let sp = &sys["settings"]["self_provisioning"];
        assert_eq!(
            (
                sp["authentication"].as_str(),
                sp["has_authentication_code"].as_bool()
            ),
            (Some("end_user_or_admin_code"), Some(true)),
            "[{l}] {sys}"
        );
        // Saved again without touching the code: it stays.
        c.goto(&format!("{base}/systems/default/edit"))
            .await
            .unwrap();
        submit(&c, "main form button[type=submit]").await;
        let (_, sys) = t.get("/api/v1/systems/default").await;
        assert_eq!(
            sys["settings"]["self_provisioning"]["has_authentication_code"], true,
            "[{l}]"
        );
        t.stop().await;
    }
}

/// An end user on the self-care page: logs in with their password, sees their limit, claims the
/// auto-registered phone on their desk by the number it shows, and sees it theirs.
#[tokio::test]
async fn an_end_user_claims_a_phone_on_the_self_care_page() {
    let (Some(chromedriver), Some(chromium)) =
        (common::peer("chromedriver"), common::peer("chromium"))
    else {
        return;
    };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let base = t.base.clone();
        t.create(
            "/api/v1/universal-line-templates",
            json!({"name": "Auto", "line": {"partition": "Auto"}}),
        )
        .await;
        t.create(
            "/api/v1/universal-device-templates",
            json!({"name": "Desk", "device": {"device_pool": "Sales"}}),
        )
        .await;
        t.create("/api/v1/user-profiles", json!({"name": "Sales", "device_template": "Desk", "allow_self_provisioning": true, "phone_limit": 2})).await;
        t.create("/api/v1/lines", json!({"pattern": "2001"})).await;
        t.create(
            "/api/v1/users",
            json!({"user_id": "ada", "first_name": "Ada", "last_name": "Lovelace",
            "primary_extension": "2001", "user_profile": "Sales", "password": "analytical engine"}),
        )
        .await;
        let (_, sys) = t.get("/api/v1/systems/default").await;
        let mut settings = sys["settings"].clone();
        for (k, v) in [
            ("auto_registration_start_dn", "1000"),
            ("auto_registration_end_dn", "1099"),
            ("auto_registration_device_template", "Desk"),
            ("auto_registration_line_template", "Auto"),
        ] {
            settings[k] = json!(v);
        }
        settings["auto_registration"] = json!(true);
        let (s, v) = t
            .patch(
                "/api/v1/systems/default",
                json!({"version": sys["version"], "settings": settings}),
            )
            .await;
        assert_eq!(s, reqwest::StatusCode::OK, "[{l}] {v}");
        // The phone on Ada's desk boots and shows 1000.
        let phone = format!(
            "http://{}/SEP00AA000000A1.cnf.xml",
            t.app.http_addr.unwrap()
        );
        let r = t
            .client
            .get(phone)
            .header("User-Agent", "Cisco-CP7960G/8.0")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK, "[{l}]");

        let d = driver(&chromedriver).await;
        let c = browser(&d, &chromium).await;
        c.goto(&format!("{base}/self-care")).await.unwrap();
        fill(&c, "user_id", "ada").await;
        fill(&c, "password", "wrong").await;
        submit(&c, "form.login button[type=submit]").await;
        assert!(
            text(&c, ".notice.bad")
                .await
                .contains("user ID or password is wrong"),
            "[{l}]"
        );
        fill(&c, "password", "analytical engine").await;
        submit(&c, "form.login button[type=submit]").await;
        assert_eq!(text(&c, "header .who").await, "Ada Lovelace (ada)", "[{l}]");
        assert_eq!(
            text(&c, "#limit").await,
            "You have 0 phones of the 2 your profile (Sales) allows.",
            "[{l}]"
        );
        // A number no phone shows is said; the right one claims.
        fill(&c, "phone", "1099").await;
        submit(&c, "main form button[type=submit]").await;
        assert!(
            text(&c, "#notice")
                .await
                .contains("no phone has the name, MAC or auto-registered number `1099`"),
            "[{l}]"
        );
        fill(&c, "phone", "1000").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(
            text(&c, "#notice").await,
            "SEP00AA000000A1 is yours now, with extension 2001: it restarts with its new settings.",
            "[{l}]"
        );
        let phones = text(&c, "#phones").await;
        assert!(
            phones.contains("SEP00AA000000A1")
                && phones.contains("Ada Lovelace (7960)")
                && phones.contains("2001"),
            "[{l}] {phones}"
        );
        assert_eq!(
            text(&c, "#limit").await,
            "You have 1 phone of the 2 your profile (Sales) allows.",
            "[{l}]"
        );
        screenshot(&c, "self-care", l).await;
        let (_, audit) = t.get("/api/v1/audit?limit=20").await;
        assert!(
            audit["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "claim"
                    && e["result"] == "ok"
                    && e["actor"]
                        .as_str()
                        .unwrap_or("")
                        .contains("via self-care for ada")),
            "[{l}] {audit}"
        );
        // Logged out, the page asks again.
        submit(&c, "header form button[type=submit]").await;
        assert!(
            c.find(Locator::Id("password")).await.is_ok(),
            "[{l}] logged out"
        );
        t.stop().await;
    }
}

/// The directory's records in the console: an LDAP server, then a profile naming it with a bind
/// password that shows as "set" and never as itself; a profile naming a server that is not there
/// is said with its field.
#[tokio::test]
async fn ldap_servers_and_profiles_in_the_console() {
    let (Some(chromedriver), Some(chromium)) =
        (common::peer("chromedriver"), common::peer("chromium"))
    else {
        return;
    };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let base = t.base.clone();
        let d = driver(&chromedriver).await;
        let c = browser(&d, &chromium).await;
        log_in(&c, &base, "admin", PASSWORD).await;
        c.goto(&format!("{base}/ldap-servers")).await.unwrap();
        submit(&c, "a.button[href='/ldap-servers/new']").await;
        fill(&c, "name", "dc1").await;
        fill(&c, "host", "dc1.example.com").await;
        choose(&c, "security", "start_tls").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "h1").await, "LDAP server dc1", "[{l}]");
        assert_eq!(text(&c, "#port").await, "389", "[{l}] the default port");

        c.goto(&format!("{base}/ldap-profiles/new")).await.unwrap();
        fill(&c, "name", "Corp").await;
        fill(&c, "bind_dn", "cn=reader,cn=users,dc=example,dc=com").await;
        fill(&c, "password", "s3cret-bind").await;
        fill(&c, "search_context", "cn=users,dc=example,dc=com").await;
        fill(&c, "primary_server", "dc9").await;
        submit(&c, "main form button[type=submit]").await;
        let bad = text(&c, ".notice.bad").await;
        assert!(
            bad.contains("there is no LDAP server dc9: add it first"),
            "[{l}] {bad}"
        );
        fill(&c, "primary_server", "dc1").await;
        fill(&c, "password", "s3cret-bind").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "h1").await, "LDAP profile Corp", "[{l}]");
        assert_eq!(text(&c, "#password").await, "set", "[{l}]");
        assert!(
            !c.source().await.unwrap().contains("s3cret-bind"),
            "[{l}] never shown"
        );
        c.goto(&format!("{base}/ldap-servers")).await.unwrap();
        assert!(
            text(&c, "main table").await.contains("Corp"),
            "[{l}] used by"
        );

        // A sync from a real slapd: the dry run's plan, then the sync, from the profile's page.
        if let (Some(slapd_bin), Some(slapadd)) =
            (slapd::program("slapd"), slapd::program("slapadd"))
        {
            let dir = slapd::start(&slapd_bin, &slapadd, 40);
            t.create("/api/v1/ldap-servers", serde_json::json!({"name": "ldap1", "host": "127.0.0.1", "port": dir.port, "directory_type": "openldap"})).await;
            t.create("/api/v1/ldap-profiles", serde_json::json!({"name": "people", "bind_dn": format!("cn=reader,{}", slapd::SUFFIX),
                "password": "reader-pw", "search_context": format!("ou=people,{}", slapd::SUFFIX), "primary_server": "ldap1"})).await;
            t.post(
                "/api/v1/ldap-attribute-map/restore-defaults",
                serde_json::json!({"directory_type": "openldap"}),
            )
            .await;
            c.goto(&format!("{base}/ldap-profiles/people"))
                .await
                .unwrap();
            assert!(text(&c, "#last-sync").await.starts_with("never"), "[{l}]");
            submit(&c, "#last-sync a").await;
            assert_eq!(text(&c, "h1").await, "Sync LDAP profile people", "[{l}]");
            submit(&c, "#dry-run").await;
            let title = text(&c, "#report-title").await;
            assert_eq!(
                title,
                "Dry run: 40 to create, 0 to update, 0 unchanged, 0 to make inactive, 0 skipped",
                "[{l}]"
            );
            assert!(text(&c, "#report").await.contains("user0007"), "[{l}]");
            let (_, users) = t.get("/api/v1/users?limit=1").await;
            assert_eq!(users["total"], 0, "[{l}] a dry run writes nothing");
            let page = c.find(Locator::Css("html")).await.unwrap();
            c.find(Locator::Css("#sync-now"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let alert = c.get_alert_text().await.unwrap();
            assert!(alert.contains("Sync people now?"), "[{l}] {alert}");
            c.accept_alert().await.unwrap();
            gone(&page).await;
            assert_eq!(
                text(&c, "#report-title").await,
                "Sync: 40 created, 0 updated, 0 unchanged, 0 made inactive, 0 skipped, 0 failed",
                "[{l}]"
            );
            assert!(text(&c, "#last-sync").await.contains("40 created"), "[{l}]");
            let (_, users) = t.get("/api/v1/users?limit=1").await;
            assert_eq!(users["total"], 40, "[{l}]");
            screenshot(&c, "ldap-sync", l).await;
        }
        t.stop().await;
    }
}

#[tokio::test]
async fn soft_client_servers_in_the_console() {
    let (Some(chromedriver), Some(chromium)) =
        (common::peer("chromedriver"), common::peer("chromium"))
    else {
        return;
    };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let base = t.base.clone();
        let d = driver(&chromedriver).await;
        let c = browser(&d, &chromium).await;
        log_in(&c, &base, "admin", PASSWORD).await;

        // A proxy profile over UDP is refused with the seed's reason, then added over TCP.
        c.goto(&format!("{base}/proxy-profiles")).await.unwrap();
        submit(&c, "a.button[href='/proxy-profiles/new']").await;
        fill(&c, "name", "cup-proxy").await;
        choose(&c, "listener", "udp").await;
        fill(&c, "primary_proxy", "cup1.example.com:5060").await;
        submit(&c, "main form button[type=submit]").await;
        let bad = text(&c, ".notice.bad").await;
        assert!(bad.contains("large contact lists"), "[{l}] {bad}");
        choose(&c, "listener", "tcp").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "h1").await, "Proxy profile cup-proxy", "[{l}]");

        // A CTI gateway server keeps port 2748 when none is given; a profile names it.
        c.goto(&format!("{base}/cti-gateway-servers/new"))
            .await
            .unwrap();
        fill(&c, "name", "cm1").await;
        fill(&c, "host", "cm1.example.com").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "#port").await, "2748", "[{l}]");
        c.goto(&format!("{base}/cti-gateway-profiles/new"))
            .await
            .unwrap();
        fill(&c, "name", "cti-hq").await;
        fill(&c, "primary", "cm1").await;
        fill(&c, "backups", "cm9").await;
        submit(&c, "main form button[type=submit]").await;
        let bad = text(&c, ".notice.bad").await;
        assert!(
            bad.contains("there is no CTI gateway server cm9"),
            "[{l}] {bad}"
        );
        fill(&c, "backups", "").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "h1").await, "CTI gateway profile cti-hq", "[{l}]");
        c.goto(&format!("{base}/cti-gateway-servers"))
            .await
            .unwrap();
        assert!(
            text(&c, "main table").await.contains("cti-hq"),
            "[{l}] used by"
        );

        // A subcluster, then the shared settings: the primary TFTP server is required.
        c.goto(&format!("{base}/presence-subclusters/new"))
            .await
            .unwrap();
        fill(&c, "name", "sc1").await;
        fill(&c, "primary_node", "cup1.example.com").await;
        fill(&c, "secondary_node", "cup2.example.com").await;
        submit(&c, "main form button[type=submit]").await;
        assert_eq!(text(&c, "h1").await, "Presence subcluster sc1", "[{l}]");
        c.goto(&format!("{base}/soft-clients")).await.unwrap();
        fill(&c, "max_contact_list", "50").await;
        submit(&c, "#save").await;
        assert!(
            text(&c, "#error")
                .await
                .contains("primary TFTP server is required"),
            "[{l}]"
        );
        fill(&c, "max_contact_list", "50").await;
        fill(&c, "tftp_servers", "tftp1.example.com, tftp2.example.com").await;
        submit(&c, "#save").await;
        assert!(text(&c, "#done").await.starts_with("Saved"), "[{l}]");
        let (_, v) = t.get("/api/v1/soft-client-settings").await;
        assert_eq!(
            (
                v["max_contact_list"].as_u64(),
                v["tftp_servers"].clone(),
                v["instant_messaging"].as_bool()
            ),
            (
                Some(50),
                serde_json::json!(["tftp1.example.com", "tftp2.example.com"]),
                Some(true)
            ),
            "[{l}] {v}"
        );
        screenshot(&c, "soft-client-settings", l).await;

        // A user's application profiles from the user form.
        t.create(
            "/api/v1/users",
            serde_json::json!({"user_id": "jsmith", "last_name": "Smith"}),
        )
        .await;
        c.goto(&format!("{base}/users/jsmith/edit")).await.unwrap();
        fill(&c, "app_profiles.cti", "nope").await;
        submit(&c, "main form button[type=submit]").await;
        assert!(
            text(&c, ".notice.bad")
                .await
                .contains("there is no CTI gateway profile nope"),
            "[{l}]"
        );
        c.goto(&format!("{base}/users/jsmith/edit")).await.unwrap();
        fill(&c, "app_profiles.cti", "cti-hq").await;
        fill(&c, "app_profiles.proxy", "cup-proxy").await;
        fill(&c, "presence_home_node", "cup2.example.com").await;
        submit(&c, "main form button[type=submit]").await;
        let (_, u) = t.get("/api/v1/users/jsmith").await;
        assert_eq!(
            (
                u["app_profiles"]["cti"].as_str(),
                u["app_profiles"]["proxy"].as_str(),
                u["presence_home_node"].as_str()
            ),
            (Some("cti-hq"), Some("cup-proxy"), Some("cup2.example.com")),
            "[{l}] {u}"
        );
        // Rehoming from the settings page.
        c.goto(&format!("{base}/soft-clients")).await.unwrap();
        fill(&c, "from_node", "cup2.example.com").await;
        fill(&c, "to_node", "cup1.example.com").await;
        submit(&c, "#rehome").await;
        assert_eq!(
            text(&c, "#done").await,
            "1 user moved from cup2.example.com to cup1.example.com.",
            "[{l}]"
        );
        // The dial rules' tester, from the rules' list.
        t.create(
            "/api/v1/dial-rules",
            serde_json::json!({"name": "strip-area", "kind": "directory_lookup", "begins_with": "408",
                   "number_of_digits": 10, "digits_removed": 5, "priority": 1}),
        )
        .await;
        c.goto(&format!("{base}/dial-rules")).await.unwrap();
        assert!(text(&c, "main table").await.contains("strip-area"), "[{l}]");
        submit(&c, "#extra").await;
        fill(&c, "number", "(408) 902-3139").await;
        choose(&c, "kind", "directory_lookup").await;
        submit(&c, "#try").await;
        assert_eq!(text(&c, "#dialled").await, "23139", "[{l}]");
        assert_eq!(text(&c, "#rule").await, "strip-area", "[{l}]");
        t.stop().await;
    }
}

#[path = "../../ldap/tests/support/slapd.rs"]
mod slapd;

/// Licensing in the console (seed 003, "System > Licensing"): a phone refused with the numbers
/// before a licence, a licence file uploaded (a wrong one refused with its reason), the unit
/// report, the calculator, capabilities given to the users a find holds (the one past the
/// units refused), and the licensed users.
#[tokio::test]
async fn licensing_in_the_console() {
    let (Some(chromedriver), Some(chromium)) =
        (common::peer("chromedriver"), common::peer("chromium"))
    else {
        return;
    };
    let (private, public) = service::licence_key_pair().unwrap();
    for db in TestDb::all().await {
        let key = public.clone();
        let t = TestApp::spawn_with(&db, move |c| c.licensing.public_key = Some(key)).await;
        let l = t.label;
        let base = t.base.clone();
        let dir =
            std::env::temp_dir().join(format!("dialtone-lic-console-{}-{l}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for u in ["lic-ann", "lic-bob"] {
            t.create(
                "/api/v1/users",
                json!({"user_id": u, "last_name": "Licensed"}),
            )
            .await;
        }
        let d = driver(&chromedriver).await;
        let c = browser(&d, &chromium).await;
        log_in(&c, &base, "admin", PASSWORD).await;

        // No licence: a new phone is refused, saying how many units it needs.
        c.goto(&format!("{base}/phones/new")).await.unwrap();
        fill(&c, "mac", "0C:11:22:33:44:66").await;
        choose(&c, "model", "7960").await;
        submit(&c, "main form button[type=submit]").await;
        let bad = text(&c, ".notice.bad").await;
        assert!(bad.contains("needs 1 device unit, 0 remain"), "[{l}] {bad}");

        // A file without the .lic suffix, then the licence.
        let lic = model::licensing::Licence {
            id: "CONSOLE-1".into(),
            issued_to: "ACME".into(),
            issued: "2026-01-01".into(),
            expires: None,
            units: model::licensing::Units {
                device: 4,
                presence_user: 1,
                soft_client: 1,
            },
        };
        let text_of = service::sign_licence(&private, &lic).unwrap();
        std::fs::write(dir.join("acme.txt"), &text_of).unwrap();
        std::fs::write(dir.join("acme.lic"), &text_of).unwrap();
        c.goto(&format!("{base}/licensing")).await.unwrap();
        assert!(
            text(&c, "#no-licence").await.contains("No licence"),
            "[{l}]"
        );
        for (file, ok) in [("acme.txt", false), ("acme.lic", true)] {
            c.find(Locator::Id("file"))
                .await
                .unwrap()
                .send_keys(dir.join(file).to_str().unwrap())
                .await
                .unwrap();
            submit(&c, "#upload").await;
            if ok {
                assert_eq!(text(&c, "#done").await, "The licence is uploaded.", "[{l}]");
            } else {
                assert!(
                    text(&c, "#error").await.contains("must have a .lic suffix"),
                    "[{l}]"
                );
            }
        }
        assert!(text(&c, "#licences").await.contains("CONSOLE-1"), "[{l}]");
        let device = text(&c, "#units-device").await;
        assert_eq!(
            device.split_whitespace().collect::<Vec<_>>(),
            ["Device", "4", "0", "4"],
            "[{l}]"
        );

        // The calculator: 2 desk phones and a soft phone on its own need 5 device units.
        fill(&c, "desk_phones", "2").await;
        fill(&c, "soft_phones", "1").await;
        submit(&c, "#calculate").await;
        assert!(
            text(&c, "#calculation").await.contains("Device 5 -1"),
            "[{l}] {}",
            text(&c, "#calculation").await
        );
        assert!(text(&c, "#fits").await.contains("need more units"), "[{l}]");
        screenshot(&c, "licensing", l).await;

        // Capabilities for every user found: one presence unit, so one of the two is refused.
        c.goto(&format!("{base}/licensing/capabilities?q=lic-"))
            .await
            .unwrap();
        assert!(text(&c, "#users").await.contains("lic-bob"), "[{l}]");
        choose(&c, "presence", "set").await;
        submit(&c, "#assign").await;
        assert!(
            text(&c, "#outcome").await.contains("1 assigned, 1 failed"),
            "[{l}]"
        );
        assert!(
            text(&c, "#failed")
                .await
                .contains("needs 1 presence user unit, 0 remain"),
            "[{l}]"
        );
        c.goto(&format!("{base}/licensing/users")).await.unwrap();
        assert!(text(&c, "#licensed").await.contains("lic-ann"), "[{l}]");

        // One user's capabilities on their page: one soft-client unit, so the second is refused.
        for (user, ok) in [("lic-bob", true), ("lic-ann", false)] {
            c.goto(&format!("{base}/users/{user}")).await.unwrap();
            c.find(Locator::Id("soft_client"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            submit(&c, "#save-capabilities").await;
            if ok {
                assert_eq!(text(&c, "#done").await, "Capabilities saved.", "[{l}]");
                assert!(
                    text(&c, "#capabilities").await.contains("Enable CUPC: yes"),
                    "[{l}]"
                );
            } else {
                assert!(
                    text(&c, "#error")
                        .await
                        .contains("needs 1 soft-client unit, 0 remain"),
                    "[{l}]"
                );
            }
        }

        // A user's DND on their phone, and what a call on its line then meets.
        t.create("/api/v1/phones", json!({"mac": "0C1122334477", "model": "7960", "protocol": "SIP", "owner_user_id": "lic-ann", "lines": [{"pattern": "6001"}]})).await;
        c.goto(&format!("{base}/users/lic-ann")).await.unwrap();
        choose(&c, "dnd", "call_reject").await;
        submit(&c, "#set-dnd").await;
        assert!(
            text(&c, "#done")
                .await
                .contains("call reject on SEP0C1122334477"),
            "[{l}]"
        );
        c.goto(&format!("{base}/lines/6001")).await.unwrap();
        let o = text(&c, "#call-outcome").await;
        assert!(
            o.contains("DND Call Reject") && o.contains("busy tone"),
            "[{l}] {o}"
        );
        let _ = std::fs::remove_dir_all(&dir);
        t.stop().await;
    }
}

/// Extension mobility in the console: a user logged in on a phone from its page (a wrong PIN
/// said), seen on the phone, the user and the device status pages, then logged out.
#[tokio::test]
async fn extension_mobility_in_the_console() {
    let (Some(chromedriver), Some(chromium)) =
        (common::peer("chromedriver"), common::peer("chromium"))
    else {
        return;
    };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let base = t.base.clone();
        t.create("/api/v1/device-profiles", json!({"name": "EM-ann", "model": "7960", "protocol": "SIP", "lines": [{"pattern": "7101"}]})).await;
        t.create("/api/v1/users", json!({"user_id": "ann", "last_name": "Mobile", "pin": "1234", "device_profiles": ["EM-ann"], "default_device_profile": "EM-ann"})).await;
        t.create("/api/v1/phones", json!({"mac": "00562B0E0E01", "model": "7960", "protocol": "SIP", "lines": [{"pattern": "7001"}]})).await;
        let d = driver(&chromedriver).await;
        let c = browser(&d, &chromium).await;
        log_in(&c, &base, "admin", PASSWORD).await;
        c.goto(&format!("{base}/phones/SEP00562B0E0E01"))
            .await
            .unwrap();
        assert!(
            text(&c, "#em-state").await.contains("Nobody is logged in"),
            "[{l}]"
        );
        for (pin, ok) in [("9999", false), ("1234", true)] {
            fill(&c, "em-user", "ann").await;
            fill(&c, "em-pin", pin).await;
            submit(&c, "#em-login").await;
            if ok {
                assert!(
                    text(&c, "#em-state")
                        .await
                        .contains("ann is logged in with EM-ann"),
                    "[{l}]"
                );
            } else {
                assert!(
                    text(&c, "#em-error").await.contains("wrong user ID or PIN"),
                    "[{l}]"
                );
            }
        }
        assert!(
            text(&c, "#lines").await.contains("7001"),
            "[{l}] the phone's own lines are listed"
        );
        c.goto(&format!("{base}/users/ann")).await.unwrap();
        assert!(
            text(&c, "#logged-in")
                .await
                .contains("SEP00562B0E0E01 (EM-ann)"),
            "[{l}]"
        );
        c.goto(&format!("{base}/status?q=SEP00562B0E0E01"))
            .await
            .unwrap();
        assert!(
            text(&c, "main table:last-of-type").await.contains("ann"),
            "[{l}]"
        );
        // Users and voicemail subscribers together.
        c.goto(&format!("{base}/people?q=an")).await.unwrap();
        let people = text(&c, "main table").await;
        assert!(
            people.contains("ann") && people.contains("user"),
            "[{l}] {people}"
        );
        c.goto(&format!("{base}/phones/SEP00562B0E0E01"))
            .await
            .unwrap();
        submit(&c, "#em-logout").await;
        assert!(
            text(&c, "#em-state")
                .await
                .contains("Nobody is logged in: the phone runs its own settings"),
            "[{l}]"
        );
        t.stop().await;
    }
}

/// Firmware in the browser: a load uploaded through the file input, a wrongly named file
/// refused, the load chosen for a model, its phone listed as not on it, the file deleted only
/// once the load is no longer chosen.
#[tokio::test]
async fn firmware_in_the_console() {
    let (Some(chromedriver), Some(chromium)) =
        (common::peer("chromedriver"), common::peer("chromium"))
    else {
        return;
    };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let base = t.base.clone();
        let dir = common::temp_folder("console-firmware");
        let load: Vec<u8> = (0..2_200_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(dir.join("sip7960.9-4-2SR3.loads"), &load).unwrap();
        std::fs::write(dir.join("bad name.loads"), b"x").unwrap();
        t.create("/api/v1/phones", json!({"mac": "0C1122335501", "model": "7960", "protocol": "SIP", "lines": [{"pattern": "6501"}]})).await;
        let d = driver(&chromedriver).await;
        let c = browser(&d, &chromium).await;
        log_in(&c, &base, "admin", PASSWORD).await;
        c.goto(&format!("{base}/firmware")).await.unwrap();
        assert!(text(&c, "#no-loads").await.contains("no load"), "[{l}]");
        for (file, ok) in [("bad name.loads", false), ("sip7960.9-4-2SR3.loads", true)] {
            c.find(Locator::Id("file"))
                .await
                .unwrap()
                .send_keys(dir.join(file).to_str().unwrap())
                .await
                .unwrap();
            submit(&c, "#upload").await;
            if ok {
                assert_eq!(
                    text(&c, "#done").await,
                    "The file is in the firmware folder.",
                    "[{l}]"
                );
            } else {
                let e = text(&c, "#error").await;
                assert!(e.contains("is not allowed"), "[{l}] {e}");
            }
        }
        let files = text(&c, "#files").await;
        assert!(
            files.contains("sip7960.9-4-2SR3.loads") && files.contains("2.1 MB"),
            "[{l}] {files}"
        );
        choose(&c, "model", "7960").await;
        choose(&c, "scope", "system").await;
        choose(&c, "load", "sip7960.9-4-2SR3").await;
        submit(&c, "#choose-load").await;
        assert!(
            text(&c, "#done").await.contains("The load is chosen"),
            "[{l}]"
        );
        assert!(
            text(&c, "#choices").await.contains("sip7960.9-4-2SR3"),
            "[{l}]"
        );
        let off = text(&c, "#off-load").await;
        assert!(
            off.contains("SEP0C1122335501") && off.contains("not reported"),
            "[{l}] {off}"
        );
        screenshot(&c, "firmware", l).await;
        let phone_file = t
            .file_preview("SEP0C1122335501", "SEP0C1122335501.cnf.xml")
            .await;
        assert!(
            phone_file.contains("<loadInformation>sip7960.9-4-2SR3</loadInformation>"),
            "[{l}]"
        );

        // In use: its deletion is refused; once the choice is removed, it goes.
        for (form, asks, want) in [
            ("#files form button", Some("Delete sip7960"), "#error"),
            ("#choices form button", None, "#done"),
            ("#files form button", Some("Delete sip7960"), "#done"),
        ] {
            let page = c.find(Locator::Css("html")).await.unwrap();
            c.find(Locator::Css(form))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            if let Some(asks) = asks {
                let alert = c.get_alert_text().await.unwrap();
                assert!(alert.contains(asks), "[{l}] {alert}");
                c.accept_alert().await.unwrap();
            }
            gone(&page).await;
            let said = text(&c, want).await;
            assert!(!said.is_empty(), "[{l}] {want}");
            if want == "#error" {
                assert!(said.contains("is chosen for model 7960"), "[{l}] {said}");
            }
        }
        assert!(text(&c, "#no-files").await.contains("no file"), "[{l}]");
        c.close().await.unwrap();
        t.stop().await;
    }
}

/// The read privilege in the browser: an administrator who may only read branch's records sees
/// the menu entries they may read, branch's users alone in the list, a refusal on another
/// system's user, and no Add or Delete.
#[tokio::test]
async fn a_reader_sees_only_what_their_roles_name_in_the_console() {
    let (Some(chromedriver), Some(chromium)) =
        (common::peer("chromedriver"), common::peer("chromium"))
    else {
        return;
    };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let base = t.base.clone();
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
        t.create("/api/v1/roles", json!({"name": "Branch users", "privileges": [{"system": "branch", "resource": "user", "action": "read"}]})).await;
        t.create(
            "/api/v1/admins",
            json!({"username": "reader", "password": "reader-password", "roles": ["Branch users"]}),
        )
        .await;
        let d = driver(&chromedriver).await;
        let c = browser(&d, &chromium).await;
        c.goto(&format!("{base}/users")).await.unwrap();
        fill(&c, "username", "reader").await;
        fill(&c, "password", "reader-password").await;
        submit(&c, "form.login button[type=submit]").await;
        assert_eq!(text(&c, "h1").await, "Users", "[{l}]");
        let menu = text(&c, "nav").await;
        assert!(
            menu.contains("Users")
                && !menu.contains("Phones")
                && !menu.contains("Administrators")
                && !menu.contains("Firmware"),
            "[{l}] {menu}"
        );
        let list = text(&c, "main table").await;
        assert!(
            list.contains("br-bob") && !list.contains("hq-ann"),
            "[{l}] {list}"
        );
        assert!(
            c.find(Locator::LinkText("Add a user")).await.is_err(),
            "[{l}] no Add without create"
        );
        c.goto(&format!("{base}/users/br-bob?system=branch"))
            .await
            .unwrap();
        assert!(
            c.find(Locator::Css("form button.danger")).await.is_err(),
            "[{l}] no Delete without delete"
        );
        c.goto(&format!("{base}/users/hq-ann?system=default"))
            .await
            .unwrap();
        let refused = text(&c, "main").await;
        assert!(
            refused.contains("Not yours to see")
                && refused.contains("may not read user on default"),
            "[{l}] {refused}"
        );
        c.goto(&format!("{base}/phones")).await.unwrap();
        assert!(
            text(&c, "main").await.contains("may not read phone"),
            "[{l}]"
        );
        c.close().await.unwrap();
        t.stop().await;
    }
}

/// The voicemail records in the browser: a restriction table's rows edited (a wrong row said),
/// a subscriber template added with a default PIN, and a person added as user and subscriber in
/// one step from the people page, made from that template.
#[tokio::test]
async fn voicemail_records_and_a_person_in_the_console() {
    let (Some(chromedriver), Some(chromium)) =
        (common::peer("chromedriver"), common::peer("chromium"))
    else {
        return;
    };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let base = t.base.clone();
        t.create(
            "/api/v1/systems",
            json!({"name": "unity", "kind": "voicemail"}),
        )
        .await;
        let d = driver(&chromedriver).await;
        let c = browser(&d, &chromium).await;
        log_in(&c, &base, "admin", PASSWORD).await;

        // The predefined restriction tables, one edited.
        c.goto(&format!("{base}/restriction-tables")).await.unwrap();
        let list = text(&c, "main table").await;
        assert!(
            list.contains("Default Transfer") && list.contains("Default Subscriber"),
            "[{l}] {list}"
        );
        c.goto(&format!(
            "{base}/restriction-tables/Default%20Transfer/edit?system=unity"
        ))
        .await
        .unwrap();
        fill(&c, "entries", "9011* block\n91* sometimes").await;
        submit(&c, "main form button[type=submit]").await;
        let e = text(&c, ".notice.bad").await;
        assert!(
            e.contains("91* sometimes") && e.contains("allow or block"),
            "[{l}] {e}"
        );
        fill(&c, "entries", "9011* block\n91* block\n* allow").await;
        submit(&c, "main form button[type=submit]").await;
        let page = text(&c, "main").await;
        assert!(
            page.contains("91* block") && page.contains("Default Subscriber"),
            "[{l}] {page}"
        );

        // A subscriber template with a default PIN.
        c.goto(&format!("{base}/subscriber-templates/new"))
            .await
            .unwrap();
        fill(&c, "name", "Sales").await;
        fill(&c, "default_pin", "80808").await;
        submit(&c, "main form button[type=submit]").await;
        let page = text(&c, "main").await;
        assert!(
            page.contains("Subscriber template Sales on unity")
                && page.contains("Default PIN of new subscribers\nset"),
            "[{l}] {page}"
        );

        // A person, user and subscriber at once, from the people page.
        c.goto(&format!("{base}/people")).await.unwrap();
        c.find(Locator::LinkText("Add a person"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        fill(&c, "user_id", "pat").await;
        fill(&c, "first_name", "Pat").await;
        fill(&c, "last_name", "Price").await;
        c.find(Locator::Id("voicemail"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        choose(&c, "subscriber_template", "Sales").await;
        submit(&c, "#add-person").await;
        let e = text(&c, "#error").await;
        assert!(e.contains("extension"), "[{l}] no extension: {e}");
        assert_eq!(
            t.get("/api/v1/users/pat").await.0,
            reqwest::StatusCode::NOT_FOUND,
            "[{l}] nothing half-added"
        );
        fill(&c, "extension", "3101").await;
        submit(&c, "#add-person").await;
        let list = text(&c, "main table").await;
        assert!(
            list.contains("user")
                && list.contains("voicemail subscriber")
                && list.contains("Pat Price"),
            "[{l}] {list}"
        );
        let (_, sub) = t.get("/api/v1/voicemail-subscribers/pat").await;
        assert_eq!(
            (
                sub["subscriber_template"].as_str(),
                sub["has_pin"].as_bool()
            ),
            (Some("Sales"), Some(true)),
            "[{l}] the template's PIN: {sub}"
        );
        screenshot(&c, "people-new", l).await;
        c.close().await.unwrap();
        t.stop().await;
    }
}

/// Runs axe-core (vendored from npm) on the page `c` shows: the violations of serious or
/// critical impact, as "rule: what, where" lines.
async fn accessibility_violations(c: &Client) -> Vec<String> {
    const AXE: &str = include_str!("vendor/axe-core-4.14.1.min.js");
    c.execute(&format!("{AXE}\nreturn true;"), vec![])
        .await
        .expect("axe-core loads");
    let found = c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
                 .then(r => done(r.violations
                   .filter(v => v.impact === "serious" || v.impact === "critical")
                   .map(v => v.id + ": " + v.help + ", at " + v.nodes.map(n => n.target.join(" ")).join("; "))))
                 .catch(e => done(["axe failed: " + e]));"#,
            vec![],
        )
        .await
        .expect("axe-core runs");
    serde_json::from_value(found).expect("a list of violations")
}

/// The status page is a dashboard of what phones did (counts by state, by model and firmware,
/// charts of the last hour and day from this node's counters); it and the pages an
/// administrator uses most pass axe-core with no serious or critical violation.
#[tokio::test]
async fn the_status_dashboard_shows_what_phones_did_and_pages_pass_axe() {
    let (Some(chromedriver), Some(chromium)) =
        (common::peer("chromedriver"), common::peer("chromium"))
    else {
        return;
    };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        let base = t.base.clone();
        let phone = format!("http://{}", t.app.http_addr.unwrap());
        for (mac, model) in [
            ("0C1122336601", "7960"),
            ("0C1122336602", "7960"),
            ("0C1122336603", "8861"),
        ] {
            t.create(
                "/api/v1/phones",
                json!({"mac": mac, "model": model, "protocol": "SIP"}),
            )
            .await;
        }
        // Two phones fetch their files (the 8861 as an MPP phone, naming its firmware); one
        // never does.
        let http = reqwest::Client::new();
        for (path, ua) in [
            ("/SEP0C1122336601.cnf.xml", "Cisco/7960"),
            (
                "/0c1122336603.xml",
                "Cisco-CP-8861-3PCC/11.3.1 (0c1122336603)",
            ),
            (
                "/0c1122336603.xml",
                "Cisco-CP-8861-3PCC/11.3.1 (0c1122336603)",
            ),
        ] {
            let r = http
                .get(format!("{phone}{path}"))
                .header("user-agent", ua)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "[{l}] {path}: {}", r.status());
        }
        let d = driver(&chromedriver).await;
        let c = browser(&d, &chromium).await;
        log_in(&c, &base, "admin", PASSWORD).await;
        c.goto(&format!("{base}/status")).await.unwrap();
        assert!(
            text(&c, "ul.counts").await.contains("1 never seen"),
            "[{l}] {}",
            text(&c, "ul.counts").await
        );
        let firmware = text(&c, "table.by-firmware").await;
        assert!(
            firmware.contains("8861 11.3.1 1") && firmware.contains("7960 not known yet 2"),
            "[{l}] {firmware}"
        );
        // The hour's request chart says (and draws) the three requests.
        let chart = c
            .find(Locator::Css("figure.chart svg"))
            .await
            .unwrap()
            .attr("aria-label")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(
            chart.starts_with("Phone file requests, last hour") && chart.ends_with("requests 3"),
            "[{l}] {chart}"
        );
        let bars = c.find_all(Locator::Css("figure.chart rect")).await.unwrap();
        assert!(!bars.is_empty(), "[{l}] no bar drawn");
        // The phone never seen comes first; states read as words, times in the reader's zone
        // with the stored time as tooltip.
        let first = text(&c, "main table:last-of-type tr:nth-child(2)").await;
        assert!(first.starts_with("SEP0C1122336602"), "[{l}] {first}");
        let rows = text(&c, "main table:last-of-type").await;
        assert!(
            rows.contains("Never seen") && !rows.contains("never_seen"),
            "[{l}] {rows}"
        );
        let seen = c
            .find(Locator::Css("main table:last-of-type time"))
            .await
            .unwrap();
        let iso = seen.attr("title").await.unwrap().unwrap_or_default();
        assert!(
            iso.contains('T'),
            "[{l}] the stored time as tooltip: {iso:?}"
        );
        assert_ne!(seen.text().await.unwrap(), iso, "[{l}] shown as local time");
        screenshot(&c, "status", l).await;

        // Lists page with numbers and a size, sort by their columns, and count in the title.
        for i in 0..30 {
            t.create("/api/v1/lines", json!({"pattern": format!("{}", 7100 + i)}))
                .await;
        }
        c.goto(&format!("{base}/lines?limit=25")).await.unwrap();
        assert_eq!(c.title().await.unwrap(), "Lines (30) · Dialtone", "[{l}]");
        let nav = text(&c, "nav.pages").await;
        assert!(nav.contains("page 1 of 2"), "[{l}] {nav}");
        let rows = |c: &Client| {
            let c = c.clone();
            async move {
                c.find_all(Locator::Css("main table tr td:first-child"))
                    .await
                    .unwrap()
                    .len()
            }
        };
        assert_eq!(rows(&c).await, 25, "[{l}]");
        submit(&c, "nav.pages a[aria-label='Page 2']").await;
        assert_eq!(rows(&c).await, 5, "[{l}] the second page");
        assert!(c
            .current_url()
            .await
            .unwrap()
            .query()
            .unwrap_or("")
            .contains("limit=25"));
        // Sorted by directory number, then the other way round.
        let th = c.find(Locator::Css("th[aria-sort]")).await.unwrap();
        assert_eq!(
            th.attr("aria-sort").await.unwrap().as_deref(),
            Some("ascending")
        );
        submit(&c, "th[aria-sort] a").await;
        assert_eq!(
            text(&c, "main table tr:nth-child(2) td:first-child").await,
            "7129",
            "[{l}] highest first"
        );
        assert_eq!(
            c.find(Locator::Css("th[aria-sort]"))
                .await
                .unwrap()
                .attr("aria-sort")
                .await
                .unwrap()
                .as_deref(),
            Some("descending")
        );
        // With a second call-control system, the phones and device profiles lists say whose.
        let phones_headers = |c: &Client| {
            let c = c.clone();
            async move { text(&c, "main table tr:first-child").await }
        };
        c.goto(&format!("{base}/phones")).await.unwrap();
        assert!(!phones_headers(&c).await.contains("System"), "[{l}]");
        t.create(
            "/api/v1/systems",
            json!({"name": "east", "kind": "call_control"}),
        )
        .await;
        c.goto(&format!("{base}/phones")).await.unwrap();
        assert!(phones_headers(&c).await.contains("System"), "[{l}]");
        assert!(text(&c, "main table").await.contains("default"), "[{l}]");
        c.goto(&format!("{base}/device-profiles")).await.unwrap();
        assert!(phones_headers(&c).await.contains("System"), "[{l}]");

        // Help the console serves: the import page links to every kind's columns.
        c.goto(&format!("{base}/imports/new")).await.unwrap();
        submit(&c, "a[href='/help/csv']").await;
        let phones = text(&c, "h2#phones + p + table").await;
        assert!(
            phones.contains("MAC ADDRESS") && phones.contains("names the record"),
            "[{l}] {phones}"
        );
        assert!(
            phones.contains("DIRECTORY NUMBER 1 … DIRECTORY NUMBER"),
            "[{l}] {phones}"
        );
        for page in [
            "/status",
            "/phones",
            "/phones/new",
            "/phones/SEP0C1122336601",
            "/users",
            "/lines",
            "/imports/new",
            "/help/csv",
            "/audit",
            "/",
        ] {
            c.goto(&format!("{base}{page}")).await.unwrap();
            assert_ne!(text(&c, "h1").await, "", "[{l}] {page} is a page");
            let v = accessibility_violations(&c).await;
            assert!(v.is_empty(), "[{l}] {page}:\n{}", v.join("\n"));
        }
        c.close().await.unwrap();
    }
}

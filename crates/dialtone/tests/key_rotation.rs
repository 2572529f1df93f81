//! `dialtone rotate-key` (issue 16): every kind of sealed secret is sealed again under a new
//! key, the phones get the very same files after it, a server on the old key is refused, a
//! rotation is refused while a server runs, and a rotation a crash interrupted at either step
//! is settled by the next start. On SQLite and PostgreSQL, with the real binary.

mod common;

use common::{TestApp, PASSWORD, SECRET_KEY};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use store::testing::TestDb;

/// `dialtone rotate-key` on `db` with the key file `key`.
fn rotate(db: &TestDb, key: &Path) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_dialtone"));
    c.arg("--db")
        .arg(&db.url)
        .arg("rotate-key")
        .env("DIALTONE_ADMIN_PASSWORD", PASSWORD)
        .env("DIALTONE_SECRET_KEY_FILE", key)
        .env_remove("DIALTONE_SECRET_KEY")
        .env_remove("DIALTONE_CONFIG");
    c.output().expect("run dialtone")
}

async fn serve(db: &TestDb, key: &Path) -> TestApp {
    let key = key.display().to_string();
    TestApp::spawn_with(db, move |c| {
        c.secret_key = None;
        c.secret_key_file = Some(key);
    })
    .await
}

/// What the phones and the API give of the sealed secrets, to compare before and after (the
/// server's own address, which changes with each start, as `SERVER`).
async fn served(t: &TestApp) -> (String, Value) {
    let addr = t.app.http_addr.unwrap().to_string();
    let file = reqwest::get(format!("http://{addr}/00562b043616.xml"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .replace(&addr, "SERVER");
    let (_, phone) = t.get("/api/v1/phones/SEP00562B043616").await;
    (file, phone)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_key_keeps_every_secret_and_survives_a_crash_at_each_step() {
    for db in TestDb::all().await {
        let l = db.label;
        let dir = common::temp_folder("rotation");
        let key = dir.join("dialtone.key");
        std::fs::write(&key, format!("{SECRET_KEY}\n")).unwrap();

        // One secret of every sealed kind.
        let t = serve(&db, &key).await;
        t.create("/api/v1/users", json!({"user_id": "jsmith", "last_name": "Smith", "digest_credential": "d1gest-Secret"})).await;
        let phone = t
            .create("/api/v1/phones", json!({"mac": "00562B043616", "model": "8861", "owner_user_id": "jsmith", "lines": [{"pattern": "2000"}]}))
            .await;
        let (s, phone) = t
            .put(
                "/api/v1/phones/SEP00562B043616/http-credential",
                json!({"version": phone["version"], "password": "Ph0ne-pass.1"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {phone}");
        let (s, phone) = t
            .put(
                "/api/v1/phones/SEP00562B043616/profile-key",
                json!({"version": phone["version"], "key": "Own-key.67890"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {phone}");
        let (_, sys) = t.get("/api/v1/systems/default").await;
        let (s, sys) = t
            .put(
                "/api/v1/systems/default/profile-key",
                json!({"version": sys["version"], "key": "Sys-key.12345"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {sys}");
        let mut settings = sys["settings"].clone();
        settings["profile_encryption"] = json!("on");
        let (s, sys) = t
            .patch(
                "/api/v1/systems/default",
                json!({"version": sys["version"], "settings": settings}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {sys}");
        t.create(
            "/api/v1/ldap-servers",
            json!({"name": "dc1", "host": "dc1.example.com"}),
        )
        .await;
        t.create("/api/v1/ldap-profiles", json!({"name": "Corp", "bind_dn": "cn=reader,dc=example,dc=com", "password": "s3cret-bind", "primary_server": "dc1"})).await;
        let r = t
            .client
            .post(t.url("/api/v1/imports?kind=users&dry_run=true&source=u.csv"))
            .bearer_auth(&t.token)
            .header("content-type", "text/csv")
            .body("USER ID,LAST NAME,PASSWORD\nada,Lovelace,Ada-pass.123\n")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "[{l}]");
        let dry: Value = r.json().await.unwrap();
        let dry_id = dry["id"].as_i64().unwrap();
        t.import_finished(dry_id).await;
        let before = served(&t).await;
        let text = &before.0;
        assert!(
            text.contains("d1gest-Secret") && text.contains("[--key Own-key.67890"),
            "[{l}] {text}"
        );

        // Refused while a server runs, and nothing changes.
        let o = rotate(&db, &key);
        assert!(!o.status.success(), "[{l}] rotated under a running server");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("a Dialtone server is running on this database"),
            "[{l}] {err}"
        );
        assert_eq!(std::fs::read_to_string(&key).unwrap().trim(), SECRET_KEY);
        t.stop().await;

        // Rotated: a new key file, the old key kept beside it, each kind sealed again.
        let o = rotate(&db, &key);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            o.status.success(),
            "[{l}] {out} {}",
            String::from_utf8_lossy(&o.stderr)
        );
        for col in [
            "users.digest_credential_enc 1",
            "devices.http_password_enc 1",
            "devices.profile_key_enc 1",
            "systems.profile_key_enc 1",
            "ldap_profiles.password_enc 1",
            "import_files.sealed 1",
        ] {
            assert!(out.contains(col), "[{l}] {col} in {out}");
        }
        let new_key = std::fs::read_to_string(&key).unwrap().trim().to_string();
        assert_ne!(new_key, SECRET_KEY);
        let old = dir.join("dialtone.key.old");
        assert_eq!(std::fs::read_to_string(&old).unwrap().trim(), SECRET_KEY);
        assert!(!dir.join("dialtone.key.new").exists());
        for f in [&key, &old] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "[{l}] {}", f.display());
        }
        // No secret in what the command printed.
        for secret in [
            "d1gest-Secret",
            "Ph0ne-pass.1",
            "Own-key",
            "Sys-key",
            "s3cret-bind",
            "Ada-pass",
            SECRET_KEY,
            new_key.as_str(),
        ] {
            assert!(
                !out.contains(secret) && !String::from_utf8_lossy(&o.stderr).contains(secret),
                "[{l}] {secret}"
            );
        }

        // The old key no longer opens the database.
        let mut cfg = dialtone::Config::default();
        cfg.database.url = db.url.clone();
        cfg.secret_key = Some(SECRET_KEY.into());
        let Err(refused) = dialtone::open_service(&cfg).await else {
            panic!("[{l}] the old key opened the database");
        };
        assert!(
            format!("{refused:#}").contains("not the one this database was written with"),
            "[{l}] {refused:#}"
        );

        // The new one serves the same bytes, and the kept dry run runs.
        let t = serve(&db, &key).await;
        let after = served(&t).await;
        assert_eq!(
            after.0, before.0,
            "[{l}] the phone's file after the rotation"
        );
        assert_eq!(after.1["has_http_password"], json!(true));
        let r = t
            .client
            .post(t.url(&format!("/api/v1/imports/{dry_id}/run")))
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "[{l}]");
        let job: Value = r.json().await.unwrap();
        let job = t.import_finished(job["id"].as_i64().unwrap()).await;
        assert_eq!(job["state"], json!("done"), "[{l}] {job}");
        let (s, ada) = t.get("/api/v1/users/ada").await;
        assert_eq!(
            s,
            StatusCode::OK,
            "[{l}] the kept file opened and ran: {job}"
        );
        assert_eq!(ada["has_password"], json!(true));
        let (_, audit) = t.get("/api/v1/audit?limit=50").await;
        assert!(
            audit.to_string().contains("rotate secret key"),
            "[{l}] {audit}"
        );
        t.stop().await;

        // A crash after the commit, before the rename: the next start finishes the rename.
        let o = rotate(&db, &key);
        assert!(
            o.status.success(),
            "[{l}] a second rotation opens everything the first sealed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let newest = std::fs::read_to_string(&key).unwrap();
        std::fs::write(dir.join("dialtone.key.new"), &newest).unwrap();
        std::fs::write(&key, std::fs::read_to_string(&old).unwrap()).unwrap();
        let t = serve(&db, &key).await;
        assert_eq!(served(&t).await.0, before.0, "[{l}]");
        t.stop().await;
        assert_eq!(
            std::fs::read_to_string(&key).unwrap(),
            newest,
            "[{l}] the rename finished"
        );
        assert!(!dir.join("dialtone.key.new").exists());

        // A crash before the commit: the new key is thrown away, the database keeps its own.
        std::fs::write(dir.join("dialtone.key.new"), format!("{SECRET_KEY}\n")).unwrap();
        let t = serve(&db, &key).await;
        assert_eq!(served(&t).await.0, before.0, "[{l}]");
        t.stop().await;
        assert_eq!(std::fs::read_to_string(&key).unwrap(), newest);
        assert!(!dir.join("dialtone.key.new").exists());

        // A key given as a value cannot be rotated in place: the command says what to do.
        let o = common::dialtone(&db, &["rotate-key"]);
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr)
                .contains("move it to a file named by secret_key_file"),
            "[{l}]"
        );
    }
}

//! The CLI as a script uses it: the real binary, on SQLite and PostgreSQL.

mod common;

use common::dialtone;
use serde_json::Value;
use store::testing::TestDb;

fn ok(db: &TestDb, args: &[&str]) -> String {
    let o = dialtone(db, args);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "[{}] dialtone {args:?} failed: {}{}",
        db.label,
        out,
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn fails(db: &TestDb, args: &[&str]) -> String {
    let o = dialtone(db, args);
    assert!(
        !o.status.success(),
        "[{}] dialtone {args:?} should fail",
        db.label
    );
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[tokio::test]
async fn scripts_find_add_and_remove_users_phones_and_lines() {
    for db in TestDb::all().await {
        assert!(ok(&db, &["migrate"]).contains("up to date"));
        ok(&db, &["line", "add", "1000", "--description", "Reception"]);
        let e = fails(
            &db,
            &[
                "line",
                "add",
                "1001",
                "--max-calls",
                "2",
                "--busy-trigger",
                "3",
            ],
        );
        assert!(e.contains("busy_trigger"), "{e}");
        ok(
            &db,
            &[
                "user",
                "add",
                "--user-id",
                "jdoe",
                "--first-name",
                "Jane",
                "--last-name",
                "Doe",
                "--primary-extension",
                "1000",
            ],
        );
        let out = ok(
            &db,
            &[
                "phone",
                "add",
                "--mac",
                "00-56-2B-04-36-15",
                "--model",
                "7960",
                "--owner",
                "jdoe",
                "--line",
                "1000",
                "--line",
                "1002",
            ],
        );
        assert!(
            out.contains("SEP00562B043615") && out.contains("2 lines"),
            "{out}"
        );
        let e = fails(
            &db,
            &["phone", "add", "--mac", "00562B04361", "--model", "7960"],
        );
        assert!(e.contains("mac") && e.contains("12 hex digits"), "{e}");

        let out = ok(&db, &["user", "find", "jd", "--json"]);
        let u: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(u["user_id"], "jdoe");
        assert_eq!(u["primary_extension"], "1000");
        let table = ok(&db, &["phone", "find", "SEP"]);
        assert!(table.starts_with("name\tmodel"), "{table}");
        assert!(
            table.contains("SEP00562B043615\t7960\tdefault\tjdoe"),
            "{table}"
        );
        let lines = ok(&db, &["line", "find"]);
        assert_eq!(lines.lines().count(), 3, "header, 1000 and 1002: {lines}");

        let e = fails(&db, &["line", "remove", "1000"]);
        assert!(
            e.contains("SEP00562B043615"),
            "a line on a phone is not removed: {e}"
        );
        ok(&db, &["phone", "remove", "SEP00562B043615"]);
        ok(&db, &["line", "remove", "1000"]);
        ok(&db, &["user", "remove", "jdoe"]);
        assert_eq!(
            ok(&db, &["user", "find"]).lines().count(),
            1,
            "only the header is left"
        );
    }
}

// The binary is run with a blocking call: the server needs a runtime thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_tells_a_running_server_from_none() {
    let db = TestDb::sqlite();
    let t = common::TestApp::spawn(&db).await;
    let addr = t.app.admin_addr.to_string();
    let out = ok(&db, &["healthcheck", "--admin", &addr]);
    assert!(out.contains("healthy"));
    t.stop().await;
    let e = fails(&db, &["healthcheck", "--admin", &addr]);
    assert!(e.contains("error"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_copies_a_sqlite_database_in_use_and_refuses_postgresql() {
    let db = TestDb::sqlite();
    let t = common::TestApp::spawn(&db).await;
    // Writes go on while the copy is made.
    let writing = {
        let (client, url) = (t.client.clone(), t.url("/api/v1/users"));
        tokio::spawn(async move {
            for i in 0..200 {
                let r = client
                    .post(&url)
                    .basic_auth("admin", Some(common::PASSWORD))
                    .json(
                        &serde_json::json!({"user_id": format!("bk{i:03}"), "last_name": "Backup"}),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let dir = common::temp_folder("backup");
    let file = dir.join("copy.db");
    let out = ok(&db, &["backup", file.to_str().unwrap()]);
    assert!(out.contains("keep the secret key file"), "{out}");
    writing.await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the copy is its owner's alone");
    }
    // The copy opens as a database of its own (with the same key), holding the users written
    // before it, whole.
    let copy = format!("sqlite:{}", file.display());
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dialtone"))
        .args([
            "--db", &copy, "user", "find", "bk", "--json", "--limit", "500",
        ])
        .env("DIALTONE_SECRET_KEY", common::SECRET_KEY)
        .env_remove("DIALTONE_CONFIG")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let n = String::from_utf8_lossy(&o.stdout).lines().count();
    assert!(n > 0 && n <= 200, "{n} users in the copy");
    // A second copy into the same file is refused; nothing is overwritten.
    let e = fails(&db, &["backup", file.to_str().unwrap()]);
    assert!(e.contains("exists"), "{e}");
    t.stop().await;
    if let Some(pg) = TestDb::postgres().await {
        let e = fails(&pg, &["backup", dir.join("pg.db").to_str().unwrap()]);
        assert!(e.contains("pg_dump"), "{e}");
    }
}

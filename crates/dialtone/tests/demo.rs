//! The demo data goes through every rule; this keeps it valid as the rules grow.

use store::testing::TestDb;

#[tokio::test]
async fn the_demo_fills_both_backends_and_shows_conflicts() {
    for db in TestDb::all().await {
        let mut cfg = dialtone::Config::default();
        cfg.admin.https_listen.clear();
        cfg.database.url = db.url.clone();
        cfg.admin_password = Some("demo-test-password".into());
        cfg.secret_key = Some(service::SecretKey::generate().to_base64());
        let folder = std::env::temp_dir().join(format!(
            "dialtone-demo-fw-{}-{}",
            std::process::id(),
            db.label
        ));
        cfg.firmware.folder = Some(folder.display().to_string());
        let (svc, _) = dialtone::open_service(&cfg).await.unwrap();
        let sum = dialtone::demo::fill(&svc, 40).await.unwrap();
        assert_eq!(
            sum.users, 42,
            "[{}] 40 + the two conflicting ones",
            db.label
        );
        assert!(
            sum.phones > 40 && sum.device_profiles >= 3 && sum.voicemail_subscribers > 30,
            "[{}] {sum:?}",
            db.label
        );
        let f = model::Find {
            limit: 50,
            filters: vec![("conflicts".into(), "true".into())],
            ..Default::default()
        };
        let conflicted = svc.find_users(&f).await.unwrap();
        assert_eq!(
            conflicted.total, 3,
            "[{}] one user on two clusters, one with two names",
            db.label
        );
        let shared = svc
            .find_lines(&model::Find {
                limit: 50,
                filters: vec![("shared".into(), "true".into())],
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            shared.total > 5,
            "[{}] managers' lines are shared: {}",
            db.label,
            shared.total
        );
        // What `demo` prints for extension mobility works: jsmith logs in on SEP00562B04000A.
        let req = model::extension_mobility::LoginRequest {
            user_id: "jsmith".into(),
            pin: model::Secret::new("13579".to_string()),
        };
        let st = svc
            .login(&service::Actor::new("test"), "SEP00562B04000A", &req)
            .await
            .unwrap_or_else(|e| panic!("[{}] {e}", db.label));
        assert_eq!(st.login.unwrap().profile, "EM-jsmith", "[{}]", db.label);
        // The 8861s have a load chosen, and none runs it yet (README's firmware example).
        let off = svc.phones_off_load().await.unwrap();
        assert!(
            !off.is_empty()
                && off
                    .iter()
                    .all(|p| p.model == "8861" && p.chosen == dialtone::demo::DEMO_LOAD),
            "[{}] {off:?}",
            db.label
        );
        svc.close().await;
        let _ = std::fs::remove_dir_all(&folder);
    }
}

#[test]
fn the_demo_passes_over_a_busy_default_port_and_refuses_a_busy_given_one() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = busy.local_addr().unwrap().to_string();
    let what = "The console and REST API";
    let (addr, note) = dialtone::demo::listen_address(None, &taken, "--admin", what).unwrap();
    assert_ne!(addr, taken);
    let note = note.expect("a line saying the port moved");
    assert!(
        note.contains(&taken) && note.contains(&addr) && note.contains("--admin"),
        "{note}"
    );
    std::net::TcpListener::bind(&addr).expect("the address chosen is free");
    let e = dialtone::demo::listen_address(Some(&taken), "127.0.0.1:8080", "--admin", what)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&taken) && e.contains("--admin"), "{e}");

    // The binary refuses before it fills anything: no database file, the flag named.
    let dir = std::env::temp_dir().join(format!("dialtone-demo-port-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("demo.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dialtone"))
        .arg("--db")
        .arg(format!("sqlite:{}", db.display()))
        .args([
            "demo",
            "--users",
            "5",
            "--admin",
            &taken,
            "--http",
            "127.0.0.1:0",
        ])
        .env_remove("DIALTONE_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--admin") && stderr.contains(&taken),
        "{stderr}"
    );
    assert!(!db.exists(), "nothing is filled when a port is taken");
    drop(busy);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `dialtone demo --no-serve` on the real binary: a configured SQLite file is never the demo's
/// (the demo deletes its file first); a configured PostgreSQL database is filled when empty and
/// left as it is once it holds a directory (the compose file's seed runs at every `up`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_leaves_a_configured_sqlite_file_and_fills_postgresql_once() {
    let run = |url: &str, dir: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dialtone"))
            .args(["demo", "--no-serve", "--users", "5"])
            .current_dir(dir)
            .env("DIALTONE_DATABASE__URL", url)
            .env("DIALTONE_ADMIN_PASSWORD", "demo-test-password")
            .env(
                "DIALTONE_SECRET_KEY",
                "ZGlhbHRvbmUgdGVzdCBzZWNyZXQga2V5IDMyIGJ5dGU=",
            )
            .env("DIALTONE_ADMIN__HTTPS_LISTEN", "")
            .env_remove("DIALTONE_CONFIG")
            .output()
            .unwrap()
    };
    let dir = std::env::temp_dir().join(format!("dialtone-demo-cfg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mine = TestDb::sqlite();
    std::fs::write(mine.url.trim_start_matches("sqlite:"), b"").unwrap();
    let o = run(&mine.url, &dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("sqlite:dialtone-demo.db"), "{out}");
    assert!(dir.join("dialtone-demo.db").exists());
    assert_eq!(
        std::fs::metadata(mine.url.trim_start_matches("sqlite:"))
            .unwrap()
            .len(),
        0,
        "the configured file is untouched"
    );
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(pg) = TestDb::postgres().await {
        std::fs::create_dir_all(&dir).unwrap();
        let o = run(&pg.url, &dir);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(o.status.success() && out.contains("7 users"), "{out}");
        assert!(
            !out.contains("postgres:postgres@"),
            "no password printed: {out}"
        );
        let o = run(&pg.url, &dir);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            o.status.success() && out.contains("leaves it as it is"),
            "{out}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! The demo data goes through every rule; this keeps it valid as the rules grow.

use store::testing::TestDb;

#[tokio::test]
async fn the_demo_fills_both_backends_and_shows_conflicts() {
    for db in TestDb::all().await {
        let mut cfg = dialtone::Config::default();
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

//! The store's own tests, each run on SQLite and on PostgreSQL.

use dialtone_store as store;
use model::rules::DeviceClass;
use model::{DndMode, SecurityMode, SystemKind};
use std::time::Duration;
use store::devices::{AppearanceRow, DeviceRow};
use store::lines::LineRow;
use store::testing::TestDb;
use store::users::UserRow;
use store::{Error, Find, Store};

fn device(name: &str, system_id: i64) -> DeviceRow {
    DeviceRow {
        class: DeviceClass::Phone,
        name: name.into(),
        mac: Some(name[3..].into()),
        model: "7960".into(),
        protocol: "SIP".into(),
        system_id,
        description: "desk".into(),
        device_pool: "Default".into(),
        button_template: String::new(),
        softkey_template: String::new(),
        calling_search_space: String::new(),
        location: String::new(),
        security_mode: Some(SecurityMode::Encrypted),
        security_profile: String::new(),
        allow_cti_control: true,
        owner_id: None,
        dnd: DndMode::RingerOff,
        expansion_modules: vec!["7914".into()],
        logout_profile_id: None,
        primary_phone_id: None,
        speed_dials: vec![],
        parameters: Default::default(),
        mlpp_domain: String::new(),
        mlpp_indication: false,
        mlpp_preemption: false,
        sip_contact: None,
        auto_registered: false,
    }
}

#[tokio::test]
async fn records_round_trip_on_every_backend() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let label = db.label;
        let mut tx = store.write().await.unwrap();
        let sys = store::systems::insert(
            tx.conn(),
            "cucm1",
            SystemKind::CallControl,
            "HQ",
            &Default::default(),
        )
        .await
        .unwrap();
        let line = store::lines::insert(
            tx.conn(),
            &LineRow {
                system_id: sys,
                pattern: "1000".into(),
                max_calls: 4,
                busy_trigger: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let u = store::users::insert(
            tx.conn(),
            &UserRow {
                system_id: sys,
                user_id: "jsmith".into(),
                first_name: "John".into(),
                last_name: "Smith".into(),
                primary_line_id: Some(line),
                groups: vec!["Standard CCM End Users".into()],
                must_change_password: true,
                password_hash: Some("$argon2id$x".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let d = store::devices::insert(tx.conn(), &device("SEP00562B043615", sys))
            .await
            .unwrap();
        store::devices::set_appearances(
            tx.conn(),
            d,
            &[AppearanceRow {
                line_id: line,
                button: 1,
                label: "John".into(),
                display: "John Smith".into(),
                external_mask: String::new(),
            }],
        )
        .await
        .unwrap();
        store::users::set_devices(tx.conn(), u, &[d], None)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let mut c = store.read().await.unwrap();
        let got = store::users::by_id(&mut c, u).await.unwrap();
        assert_eq!(
            got.user.primary_extension.as_deref(),
            Some("1000"),
            "{label}"
        );
        assert!(got.user.must_change_password, "{label}");
        assert!(got.user.has_password && !got.user.has_pin, "{label}");
        assert_eq!(got.user.devices, vec!["SEP00562B043615"], "{label}");
        assert_eq!(got.user.groups, vec!["Standard CCM End Users"], "{label}");

        let dev = store::devices::by_id(&mut c, d).await.unwrap().to_phone();
        assert_eq!(dev.lines.len(), 1, "{label}");
        assert_eq!(dev.security_mode, Some(SecurityMode::Encrypted), "{label}");
        assert_eq!(dev.dnd, DndMode::RingerOff, "{label}");
        assert_eq!(dev.expansion_modules, vec!["7914"], "{label}");
        assert_eq!(dev.users, vec!["jsmith"], "{label}");

        // Prefix find, any case, on each name.
        for q in ["SMI", "jo", "jsm"] {
            let f = Find {
                q: Some(q.into()),
                limit: 10,
                ..Default::default()
            };
            let page = store::users::find(&mut c, &f).await.unwrap();
            assert_eq!(page.total, 1, "{label} q={q}");
        }
        let f = Find {
            q: Some("x".into()),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(
            store::users::find(&mut c, &f).await.unwrap().total,
            0,
            "{label}"
        );
        drop(c);

        // A stale version is refused; the right one is taken.
        let mut tx = store.write().await.unwrap();
        let row = store::users::by_id(tx.conn(), u).await.unwrap().row;
        assert!(
            matches!(
                store::users::update(tx.conn(), u, 99, &row).await,
                Err(Error::Stale)
            ),
            "{label}"
        );
        store::users::update(tx.conn(), u, 1, &row).await.unwrap();
        // Unique violations come back as such.
        let dup = store::lines::insert(
            tx.conn(),
            &LineRow {
                system_id: sys,
                pattern: "1000".into(),
                max_calls: 4,
                busy_trigger: 2,
                ..Default::default()
            },
        )
        .await;
        assert!(matches!(dup, Err(Error::Unique(_))), "{label}: {dup:?}");
    }
}

#[tokio::test]
async fn migrations_are_idempotent_and_make_the_same_columns() {
    let mut columns = Vec::new();
    for db in TestDb::all().await {
        let store = db.open().await;
        assert_eq!(
            store.migrate().await.unwrap(),
            0,
            "{}: second run applies nothing",
            db.label
        );
        let sql = match store.backend() {
            store::Backend::Sqlite => {
                "SELECT m.name || '.' || p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1"
            }
            store::Backend::Postgres => {
                "SELECT table_name || '.' || column_name FROM information_schema.columns \
                 WHERE table_schema = 'public' ORDER BY 1"
            }
        };
        let mut cols: Vec<String> = sqlx::query_scalar(sql)
            .fetch_all(store.pool())
            .await
            .unwrap();
        cols.sort();
        columns.push((db.label, cols));
    }
    if let [(a, ca), (b, cb)] = &columns[..] {
        assert_eq!(ca, cb, "{a} and {b} have different tables or columns");
    }
}

/// Two stores on one SQLite file stand for two processes (the server and the CLI): their
/// read-then-write transactions take turns instead of failing with "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_on_one_sqlite_file_take_turns() {
    let db = TestDb::sqlite();
    let a = db.open().await;
    let b = store::Store::open(&db.url).await.unwrap();
    let sys = {
        let mut tx = a.write().await.unwrap();
        let id = store::systems::insert(
            tx.conn(),
            "s",
            SystemKind::CallControl,
            "",
            &Default::default(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    };
    let writer = |s: store::Store, base: i64| async move {
        for i in 0..100 {
            let mut tx = s.write().await.unwrap();
            // Read first, then write: the pattern of every use case.
            let page = store::lines::find(
                tx.conn(),
                &Find {
                    limit: 1,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let row = LineRow {
                system_id: sys,
                pattern: format!("{}", base + i),
                max_calls: 4,
                busy_trigger: 2,
                ..Default::default()
            };
            store::lines::insert(tx.conn(), &row).await.unwrap();
            tx.commit().await.unwrap();
            let _ = page.total;
        }
    };
    let (ra, rb) = tokio::join!(
        tokio::spawn(writer(a.clone(), 1000)),
        tokio::spawn(writer(b.clone(), 5000))
    );
    ra.unwrap();
    rb.unwrap();
    let mut c = a.read().await.unwrap();
    assert_eq!(
        store::lines::find(
            &mut c,
            &Find {
                limit: 1,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .total,
        200
    );
}

/// A batched store: writes share one transaction, each in its own savepoint; a write dropped
/// without commit (or failed, even at the database) is undone alone; nothing is visible to other
/// connections before `commit_batch`, and everything the batch wrote is visible to its own reads.
#[tokio::test]
async fn a_batch_undoes_a_failed_write_alone_and_commits_the_rest_at_once() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let label = db.label;
        let mut tx = store.write().await.unwrap();
        let sys = store::systems::insert(
            tx.conn(),
            "cucm1",
            SystemKind::CallControl,
            "",
            &Default::default(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let line = |pattern: &str| LineRow {
            system_id: sys,
            pattern: pattern.into(),
            partition: String::new(),
            description: String::new(),
            alerting_name: String::new(),
            forward_all: String::new(),
            forward_busy_internal: String::new(),
            forward_busy_external: String::new(),
            forward_no_answer_internal: String::new(),
            forward_no_answer_external: String::new(),
            pickup_group: String::new(),
            voicemail_profile: String::new(),
            max_calls: 2,
            busy_trigger: 1,
        };
        let count = |s: store::Store| async move {
            let mut c = s.read().await.unwrap();
            store::query_text(&mut c, "SELECT CAST(COUNT(*) AS TEXT) FROM lines")
                .await
                .unwrap()
        };
        let generation = store.generation().await.unwrap();

        let batch = store.batched();
        // 1000: kept.
        let mut tx = batch.write().await.unwrap();
        store::lines::insert(tx.conn(), &line("1000"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // 1001 then a duplicate of 1000: the database refuses the second insert; the write is
        // dropped, and 1001 goes with it.
        let mut tx = batch.write().await.unwrap();
        store::lines::insert(tx.conn(), &line("1001"))
            .await
            .unwrap();
        let dup = store::lines::insert(tx.conn(), &line("1000")).await;
        assert!(matches!(dup, Err(Error::Unique(_))), "[{label}] {dup:?}");
        drop(tx);
        // 1002: kept, after the failure (on PostgreSQL the transaction is usable again).
        let mut tx = batch.write().await.unwrap();
        store::lines::insert(tx.conn(), &line("1002"))
            .await
            .unwrap();
        tx.commit().await.unwrap();

        assert_eq!(
            count(batch.clone()).await,
            "2",
            "[{label}] the batch sees its own writes"
        );
        assert_eq!(
            count(store.clone()).await,
            "0",
            "[{label}] nothing is visible before the commit"
        );
        batch.commit_batch().await.unwrap();
        assert_eq!(count(store.clone()).await, "2", "[{label}]");
        let mut c = store.read().await.unwrap();
        for (pattern, there) in [("1000", true), ("1001", false), ("1002", true)] {
            let id = store::lines::id_by_key(&mut c, sys, pattern, "")
                .await
                .unwrap();
            assert_eq!(id.is_some(), there, "[{label}] {pattern}");
        }
        drop(c);
        assert!(
            store.generation().await.unwrap() > generation,
            "[{label}] the commit bumps the generation"
        );

        // A batch rolled back leaves nothing.
        let mut tx = batch.write().await.unwrap();
        store::lines::insert(tx.conn(), &line("1003"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        batch.rollback_batch().await;
        batch.commit_batch().await.unwrap();
        assert_eq!(count(store.clone()).await, "2", "[{label}]");
    }
}

/// Users found by prefix agree with the same find worked out by hand over every user, in match
/// order (no sort), in each sort, both ways, page after page, and the count says when it was
/// capped: on each backend.
#[tokio::test]
async fn user_prefix_finds_agree_with_a_scan_of_every_user() {
    // (user ID, first name, last name): names that share prefixes across the three fields, a
    // user matching twice, and ties that only the id breaks.
    let mut people: Vec<(String, String, String)> = vec![
        ("smithj".into(), "John".into(), "Smith".into()),
        ("jsmith".into(), "Smitty".into(), "Jones".into()),
        ("smo".into(), "Smo".into(), "Smo".into()),
        ("abc".into(), "Sm".into(), "Zed".into()),
        ("sm1".into(), "Ann".into(), "Smith".into()),
        ("sm2".into(), "Ann".into(), "Smith".into()),
    ];
    let syl = ["sa", "sm", "ta", "to", "ab", "sk"];
    for i in 0..60usize {
        let first = format!("{}{}", syl[i % 6], syl[(i / 6) % 6]);
        let last = format!("{}{}", syl[(i * 7 + 1) % 6], syl[(i / 3) % 6]);
        people.push((format!("{}_{i}", &first[..2]), first, last));
    }
    for db in TestDb::all().await {
        let store = db.open().await;
        let label = db.label;
        let mut tx = store.write().await.unwrap();
        let sys = store::systems::insert(
            tx.conn(),
            "cucm1",
            SystemKind::CallControl,
            "HQ",
            &Default::default(),
        )
        .await
        .unwrap();
        let mut rows = Vec::new();
        for (uid, first, last) in &people {
            let row = UserRow {
                system_id: sys,
                user_id: uid.clone(),
                first_name: first.clone(),
                last_name: last.clone(),
                ..Default::default()
            };
            let id = store::users::insert(tx.conn(), &row).await.unwrap();
            rows.push((
                id,
                uid.to_lowercase(),
                first.to_lowercase(),
                last.to_lowercase(),
            ));
        }
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        for q in ["s", "sm", "SMI", "smo", "a", "t", "zz", "sk"] {
            let ql = q.to_lowercase();
            let hit = |s: &str| s.starts_with(&ql);
            let matches: Vec<_> = rows
                .iter()
                .filter(|(_, u, f, l)| hit(u) || hit(f) || hit(l))
                .cloned()
                .collect();
            for sort in [None, Some("last_name"), Some("first_name"), Some("user_id")] {
                for descending in [false, true] {
                    // The expected order, worked out from every user.
                    let mut want: Vec<(Vec<String>, i64)> = matches
                        .iter()
                        .map(|(id, u, f, l)| {
                            let key = match sort {
                                // The first of the names that matched, each followed by the
                                // columns its index orders by.
                                None => [
                                    hit(l).then(|| vec![l.clone(), f.clone(), String::new()]),
                                    hit(f).then(|| vec![f.clone(), l.clone(), String::new()]),
                                    hit(u).then(|| vec![u.clone(), l.clone(), f.clone()]),
                                ]
                                .into_iter()
                                .flatten()
                                .reduce(|a, b| {
                                    if (b < a) != descending && a != b {
                                        b
                                    } else {
                                        a
                                    }
                                })
                                .unwrap(),
                                Some("last_name") => vec![l.clone(), f.clone()],
                                Some("first_name") => vec![f.clone(), l.clone()],
                                _ => vec![u.clone()],
                            };
                            (key, *id)
                        })
                        .collect();
                    want.sort();
                    if descending {
                        want.reverse();
                    }
                    let want: Vec<i64> = want.into_iter().map(|(_, id)| id).collect();
                    for (limit, cap) in [(7, None), (4, Some(5)), (100, Some(1000))] {
                        let mut got = Vec::new();
                        let mut offset = 0;
                        loop {
                            let f = Find {
                                q: Some(q.into()),
                                sort: sort.map(str::to_string),
                                descending,
                                limit,
                                offset,
                                count_up_to: cap,
                                ..Default::default()
                            };
                            let page = store::users::find(&mut c, &f).await.unwrap();
                            let what = format!("{label} q={q} sort={sort:?} desc={descending} limit={limit} cap={cap:?} offset={offset}");
                            // Past the cap the count stops there, unless the page already
                            // read every match.
                            match cap {
                                Some(cap) if want.len() as i64 > cap && !page.total_exact => {
                                    assert_eq!(page.total, cap, "{what}");
                                }
                                _ => {
                                    assert!(page.total_exact, "{what}");
                                    assert_eq!(page.total, want.len() as i64, "{what}");
                                }
                            }
                            if offset == 0 && cap.is_some_and(|cap| want.len() as i64 > cap + limit)
                            {
                                assert!(
                                    !page.total_exact,
                                    "{what}: the first page counts to the cap"
                                );
                            }
                            let n = page.items.len() as i64;
                            let more = page.has_next();
                            got.extend(page.items.iter().map(|u| {
                                rows.iter()
                                    .find(|r| r.1 == u.user_id.to_lowercase())
                                    .unwrap()
                                    .0
                            }));
                            offset += n;
                            if !more {
                                break;
                            }
                            assert_eq!(n, limit, "{what}: a page before the last is full");
                        }
                        assert_eq!(
                            got, want,
                            "{label} q={q} sort={sort:?} desc={descending} limit={limit}"
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn file_digests_move_compare_and_set_in_one_batch() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let label = db.label;
        let mut tx = store.write().await.unwrap();
        let sys = store::systems::insert(
            tx.conn(),
            "cucm1",
            SystemKind::CallControl,
            "",
            &Default::default(),
        )
        .await
        .unwrap();
        let mut ids = Vec::new();
        for name in ["SEP000000000001", "SEP000000000002", "SEP000000000003"] {
            ids.push(
                store::devices::insert(tx.conn(), &device(name, sys))
                    .await
                    .unwrap(),
            );
        }
        let (a, b, c) = (ids[0], ids[1], ids[2]);
        let m = |id: i64, old: &str, new: &str| (id, old.to_string(), new.to_string());
        // First digests are baselines, a device that does not exist gets none.
        let moved = store::status::move_file_digests(
            tx.conn(),
            &[m(a, "", "a1"), m(b, "", "b1"), m(c + 100, "", "x")],
            "2026-01-01T00:00:00Z",
            "",
        )
        .await
        .unwrap();
        assert!(moved.is_empty(), "{label}: {moved:?}");
        // a from its digest; b from a digest it no longer has; c's baseline alongside; a
        // second baseline for a device that has a digest moves nothing.
        let mut moved = store::status::move_file_digests(
            tx.conn(),
            &[
                m(a, "a1", "a2"),
                m(b, "b0", "b2"),
                m(c, "", "c1"),
                m(b, "", "b3"),
            ],
            "2026-01-02T00:00:00Z",
            "node1#dead",
        )
        .await
        .unwrap();
        moved.sort();
        assert_eq!(moved, vec![a], "{label}");
        // The move owes a its NOTIFY. node1#dead is no node alive: node2 takes it over once,
        // and a NOTIFY recorded settles it.
        let live = store::cluster::NodeRow {
            name: "node2".into(),
            run: "node2#live".into(),
            version: "0".into(),
            addresses: "{}".into(),
            tftp_host: String::new(),
            started_at: "2026-01-02T00:00:00Z".into(),
            heartbeat_ms: 10_000,
            stopped: false,
            doing: String::new(),
        };
        store::cluster::register(tx.conn(), &live).await.unwrap();
        let owed = store::status::claim_owed_notifies(tx.conn(), "node2#live", 5_000)
            .await
            .unwrap();
        assert_eq!(owed, vec![a], "{label}");
        // Owed by a live run now: nobody else takes it.
        let again = store::status::claim_owed_notifies(tx.conn(), "node3#live", 5_000)
            .await
            .unwrap();
        assert!(again.is_empty(), "{label}: {again:?}");
        store::status::record_notify(tx.conn(), a, "2026-01-02T00:00:01Z", "accepted (200)")
            .await
            .unwrap();
        // Once node2 is heard from no more (its heartbeat before the time asked), nothing is
        // owed any more anyway.
        let none = store::status::claim_owed_notifies(tx.conn(), "node3#live", 20_000)
            .await
            .unwrap();
        assert!(none.is_empty(), "{label}: {none:?}");
        let digests = store::status::file_digests(tx.conn()).await.unwrap();
        let want: std::collections::HashMap<i64, String> = [(a, "a2"), (b, "b1"), (c, "c1")]
            .map(|(i, d)| (i, d.to_string()))
            .into();
        assert_eq!(digests, want, "{label}");
        for (id, want) in [(a, Some("2026-01-02T00:00:00Z")), (b, None), (c, None)] {
            let at = store::status::of_device(tx.conn(), id)
                .await
                .unwrap()
                .and_then(|r| r.resync)
                .and_then(|r| r.file_changed_at);
            assert_eq!(at.as_deref(), want, "{label}: device {id}");
        }
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn the_audit_log_reads_newest_first_when_descending_and_oldest_first_when_not() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let label = db.label;
        let mut tx = store.write().await.unwrap();
        for target in ["first", "second", "third"] {
            store::audit::append(
                tx.conn(),
                &store::audit::NewEntry {
                    actor: "admin",
                    action: "create",
                    resource: "user",
                    target,
                    system: "",
                    result: model::Outcome::Ok,
                    detail: "",
                },
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        for (descending, want) in [
            (true, ["third", "second", "first"]),
            (false, ["first", "second", "third"]),
        ] {
            let f = Find {
                descending,
                limit: 10,
                ..Default::default()
            };
            let page = store::audit::find(&mut c, &f).await.unwrap();
            let got: Vec<&str> = page.items.iter().map(|e| e.target.as_str()).collect();
            assert_eq!(got, want, "{label}: descending {descending}");
        }
    }
}

/// An API token past its expiry is not found; one without (made before expiry existed) and one
/// not yet expired are. Revoking deletes only the owner's own.
#[tokio::test]
async fn tokens_expire_and_are_revoked_by_their_owner() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let mut tx = store.write().await.unwrap();
        let admin = store::admins::insert(tx.conn(), "tok-admin", "x")
            .await
            .unwrap();
        let past = store::time_ago(std::time::Duration::from_secs(60));
        let future = store::time_after(std::time::Duration::from_secs(3600));
        store::admins::insert_token(tx.conn(), admin, "old", "h-old", &past)
            .await
            .unwrap();
        let live = store::admins::insert_token(tx.conn(), admin, "live", "h-live", &future)
            .await
            .unwrap();
        store::admins::insert_token(tx.conn(), admin, "never", "h-never", "")
            .await
            .unwrap();
        assert!(
            store::admins::by_token(tx.conn(), "h-old")
                .await
                .unwrap()
                .is_none(),
            "[{}]",
            db.label
        );
        let (a, _, exp) = store::admins::by_token(tx.conn(), "h-live")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (a.username.as_str(), exp.as_str()),
            ("tok-admin", future.as_str())
        );
        assert!(store::admins::by_token(tx.conn(), "h-never")
            .await
            .unwrap()
            .is_some());
        assert!(
            !store::admins::delete_token(tx.conn(), admin + 1, live)
                .await
                .unwrap(),
            "another's"
        );
        assert!(store::admins::delete_token(tx.conn(), admin, live)
            .await
            .unwrap());
        assert!(store::admins::by_token(tx.conn(), "h-live")
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            store::admins::tokens(tx.conn(), admin).await.unwrap().len(),
            2
        );
        tx.commit().await.unwrap();
    }
}

/// An import job of a line, running, as recorded at its start.
fn import_job() -> model::ImportJob {
    model::ImportJob {
        id: 0,
        kind: "lines".into(),
        mode: "add".into(),
        dry_run: false,
        stop_on_error: false,
        template: String::new(),
        source: "x.csv".into(),
        actor: "admin".into(),
        state: model::JobState::Running,
        rows_total: Some(1),
        rows_done: 0,
        ok: 0,
        unchanged: 0,
        failed: 0,
        message: String::new(),
        created_at: String::new(),
        updated_at: String::new(),
        finished_at: None,
    }
}

#[tokio::test]
async fn kept_dry_run_files_are_bounded_in_count_and_bytes() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let mut tx = store.write().await.unwrap();
        let job = model::ImportJob {
            kind: "users".into(),
            dry_run: true,
            source: "u.csv".into(),
            state: model::JobState::Done,
            rows_total: None,
            ..import_job()
        };
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(
                store::templates::insert_job(tx.conn(), &job, "")
                    .await
                    .unwrap(),
            );
        }
        // 100 bytes each, at most 3 files and 250 bytes: the newest two.
        for &id in &ids[..3] {
            store::templates::keep_file(tx.conn(), id, &"s".repeat(100), 3, 250)
                .await
                .unwrap();
        }
        assert_eq!(kept(&mut tx, &ids).await, ids[1..3], "[{}]", db.label);
        // One larger than the bound is kept alone, being the newest.
        store::templates::keep_file(tx.conn(), ids[3], &"s".repeat(400), 3, 250)
            .await
            .unwrap();
        assert_eq!(kept(&mut tx, &ids).await, ids[3..4], "[{}]", db.label);
        // Then a small one beside nothing older: the large one goes.
        store::templates::keep_file(tx.conn(), ids[4], &"s".repeat(100), 3, 250)
            .await
            .unwrap();
        assert_eq!(kept(&mut tx, &ids).await, ids[4..5], "[{}]", db.label);
        drop(tx);
    }
}

async fn kept(tx: &mut store::WriteTx, ids: &[i64]) -> Vec<i64> {
    let mut k = Vec::new();
    for &id in ids {
        if store::templates::file_kept(tx.conn(), id).await.unwrap() {
            k.push(id);
        }
    }
    k
}

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("dialtone-private-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let with = |p: &std::path::Path, ext: &str| {
        let mut s = p.as_os_str().to_owned();
        s.push(ext);
        std::path::PathBuf::from(s)
    };
    // A new database: the file, its log and its shared memory.
    let new = dir.join("new.db");
    let store = store::Store::open(&format!("sqlite:{}", new.display()))
        .await
        .unwrap();
    let mut tx = store.write().await.unwrap();
    store::admins::insert(tx.conn(), "someone", "x")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for f in [new.clone(), with(&new, "-wal"), with(&new, "-shm")] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    drop(store);
    // One made readable by others (0644) is made private again at the next start.
    let old = dir.join("old.db");
    std::fs::write(&old, b"").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = store::Store::open(&format!("sqlite:{}", old.display()))
        .await
        .unwrap();
    assert_eq!(mode(&old), 0o600);
    assert_eq!(mode(&with(&old, "-wal")), 0o600);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn leases_go_to_one_run_until_they_run_out_and_dead_runs_jobs_are_claimed_once() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let label = db.label;
        let mut tx = store.write_unversioned().await.unwrap();
        use store::cluster::{claim_job, lease, orphaned_jobs, register, NodeRow};
        // A lease is one run's until it runs out; its holder renews it.
        assert!(lease(tx.conn(), "scheduler", "a#1", 1_000, 10_000)
            .await
            .unwrap());
        assert!(!lease(tx.conn(), "scheduler", "b#1", 5_000, 10_000)
            .await
            .unwrap());
        assert!(lease(tx.conn(), "scheduler", "a#1", 9_000, 10_000)
            .await
            .unwrap());
        assert!(!lease(tx.conn(), "scheduler", "b#1", 18_000, 10_000)
            .await
            .unwrap());
        assert!(lease(tx.conn(), "scheduler", "b#1", 19_001, 10_000)
            .await
            .unwrap());
        assert!(!lease(tx.conn(), "scheduler", "a#1", 20_000, 10_000)
            .await
            .unwrap());
        // A background job of a run that is not alive is claimed by the first who asks.
        let job = import_job();
        let bg = store::templates::insert_job(tx.conn(), &job, "a#1")
            .await
            .unwrap();
        let fg = store::templates::insert_job(tx.conn(), &job, "")
            .await
            .unwrap();
        let node = |name: &str, run: &str, beat: i64| NodeRow {
            name: name.into(),
            run: run.into(),
            version: "0".into(),
            addresses: "{}".into(),
            tftp_host: format!("10.0.0.{}", name.len()),
            started_at: "2026-01-01T00:00:00Z".into(),
            heartbeat_ms: beat,
            stopped: false,
            doing: String::new(),
        };
        register(tx.conn(), &node("a", "a#1", 50_000))
            .await
            .unwrap();
        assert!(
            orphaned_jobs(tx.conn(), 40_000).await.unwrap().is_empty(),
            "{label}"
        );
        let orphans = orphaned_jobs(tx.conn(), 60_000).await.unwrap();
        assert_eq!(
            orphans,
            vec![(bg, "a#1".to_string())],
            "{label}: {fg} is foreground"
        );
        assert!(claim_job(tx.conn(), bg, "a#1", "b#1").await.unwrap());
        assert!(
            !claim_job(tx.conn(), bg, "a#1", "c#1").await.unwrap(),
            "{label}"
        );
        // Its progress is written only by the run that holds it.
        let p = |run| store::templates::Progress {
            rows_done: 1,
            ok: 1,
            unchanged: 0,
            failed: 0,
            new_errors: &[],
            end: None,
            run,
        };
        assert!(matches!(
            store::templates::progress(tx.conn(), bg, &p(Some("a#1"))).await,
            Err(store::Error::Stale)
        ));
        store::templates::progress(tx.conn(), bg, &p(Some("b#1")))
            .await
            .unwrap();
        // A node that restarts under its name replaces its run.
        let before = register(tx.conn(), &node("a", "a#2", 70_000))
            .await
            .unwrap();
        assert_eq!(before.map(|b| b.run).as_deref(), Some("a#1"), "{label}");
        assert!(
            store::cluster::heartbeat(tx.conn(), "a", "a#2", 71_000, "{}")
                .await
                .unwrap()
        );
        assert!(
            !store::cluster::heartbeat(tx.conn(), "a", "a#1", 71_000, "{}")
                .await
                .unwrap(),
            "{label}: the old run's heartbeat is refused"
        );
        tx.commit().await.unwrap();
    }
}

/// On PostgreSQL a commit of one process is announced to the others (LISTEN/NOTIFY): a store
/// that follows commits knows the new generation at once, where the poll alone would have it
/// up to 250 ms later. A listening connection that is cut is opened again; meanwhile the poll
/// stands in, and afterwards announcements are heard again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_are_heard_by_other_nodes_and_a_cut_listener_comes_back() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let writer = db.open().await;
    let follower = Store::open(&db.url).await.unwrap();
    let listening = follower
        .follow_commits()
        .expect("PostgreSQL follows commits");
    let write = async || {
        let mut tx = writer.write().await.unwrap();
        store::admins::set_setting(tx.conn(), "probe", &store::now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        writer.generation().await.unwrap()
    };
    // Heard: after a first read (which asks the database), a commit elsewhere is known well
    // within the poll's 250 ms.
    let heard = async |what: &str| {
        follower.generation().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = follower.generation().await.unwrap();
        let n = write().await;
        assert!(n > before);
        let start = std::time::Instant::now();
        while follower.generation().await.unwrap() < n {
            assert!(
                start.elapsed() < Duration::from_millis(150),
                "{what}: commit {n} not heard within 150 ms"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    // Let the listener connect.
    tokio::time::sleep(Duration::from_millis(500)).await;
    heard("listening").await;
    // Cut the listening connection from the server's side.
    let mut c = writer.read().await.unwrap();
    let cut: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_one(&mut *c)
    .await
    .unwrap();
    drop(c);
    assert_eq!(cut, 1, "one listening connection");
    // Meanwhile a commit is still seen (the poll), and once the listener is back, heard again.
    let n = write().await;
    let start = std::time::Instant::now();
    while follower.generation().await.unwrap() < n {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the poll stands in"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    heard("listening again").await;
    listening.abort();
}

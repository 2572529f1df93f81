//! Chaos (issue 16, "Crashes and overload"): an import, API writes and a phone storm run
//! together while the real server is killed with SIGKILL at a different moment each round.
//! After each restart every write the server acknowledged is there, nothing is half-written (a
//! phone created with two lines has both; each imported line is its whole row; the killed
//! import is carried on by the restarted server to its end, each row once), and in the end
//! every phone gets its whole file. On
//! SQLite and PostgreSQL; on PostgreSQL the database itself is restarted once under load, and
//! the server carries on without a restart of its own.

mod common;

use common::{Served, PASSWORD};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::testing::TestDb;

const ROUNDS: usize = 4;
const PHONES: usize = 60;
const IMPORT_ROWS: usize = 20_000;

fn serve(db: &TestDb) -> Served {
    Served::start(common::command(
        db,
        &["serve", "--admin", "127.0.0.1:0", "--http", "127.0.0.1:0"],
    ))
}

/// A number from the clock, for kill moments that differ from run to run (printed, so a
/// failing run can be told apart).
fn jitter(range_ms: u64) -> u64 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    n % range_ms
}

/// What the server acknowledged in one round.
#[derive(Default)]
struct Acked {
    users: Vec<String>,
    /// Phones created with two lines in one request: (name, the two numbers).
    phones: Vec<(String, [String; 2])>,
    import: Option<i64>,
    /// PostgreSQL was restarted during the round.
    database_restarted: bool,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Writes one record after another until the server stops answering; records each 201.
async fn writer(admin: String, round: usize, acked: Arc<Mutex<Acked>>) {
    let c = client();
    for i in 0.. {
        let user = format!("chaos{round}u{i}");
        let r = c
            .post(format!("{admin}/api/v1/users"))
            .basic_auth("admin", Some(PASSWORD))
            .json(&json!({"user_id": user, "last_name": "Chaos", "digest_credential": format!("Dg-{user}")}))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 201 => acked.lock().unwrap().users.push(user),
            _ => return,
        }
        let mac = format!("00562BC{round}{i:04X}");
        let lines = [format!("7{round}{i:04}"), format!("8{round}{i:04}")];
        let r = c
            .post(format!("{admin}/api/v1/phones"))
            .basic_auth("admin", Some(PASSWORD))
            .json(&json!({"mac": mac, "model": "8861",
                "lines": [{"pattern": lines[0]}, {"pattern": lines[1]}]}))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 201 => {
                let v: Value = r.json().await.unwrap_or_default();
                let name = v["name"].as_str().unwrap_or_default().to_string();
                acked.lock().unwrap().phones.push((name, lines));
            }
            _ => return,
        }
    }
}

/// Fetches the seeded phones' files over and over until the server stops answering; every
/// file answered must be whole.
async fn storm(http: String, stop: Arc<std::sync::atomic::AtomicBool>) -> usize {
    let c = client();
    let mut served = 0;
    'outer: while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        for i in 0..PHONES {
            let Ok(r) = c.get(format!("{http}/00562bd0{i:04x}.xml")).send().await else {
                break 'outer;
            };
            let status = r.status();
            let Ok(body) = r.text().await else {
                break 'outer;
            };
            if status == 200 {
                assert!(body.ends_with("</flat-profile>\n"), "a cut file: {body}");
                served += 1;
            }
        }
    }
    served
}

async fn get(c: &reqwest::Client, admin: &str, path: &str) -> (u16, Value) {
    let r = c
        .get(format!("{admin}{path}"))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

/// Everything `acked` says the server took is there, and whole.
async fn check(db: &TestDb, s: &Served, label: &str, round: usize, acked: &Acked) {
    let c = client();
    for u in &acked.users {
        let (st, v) = get(&c, &s.admin, &format!("/api/v1/users/{u}")).await;
        assert_eq!(
            st, 200,
            "[{label}] round {round}: acknowledged user {u} is gone: {v}"
        );
        assert_eq!(v["has_digest_credential"], json!(true), "[{label}] {v}");
    }
    for (name, lines) in &acked.phones {
        let (st, v) = get(&c, &s.admin, &format!("/api/v1/phones/{name}")).await;
        assert_eq!(
            st, 200,
            "[{label}] round {round}: acknowledged phone {name} is gone"
        );
        let got: Vec<&str> = v["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["pattern"].as_str())
            .collect();
        assert_eq!(got, [lines[0].as_str(), lines[1].as_str()], "[{label}] {v}");
    }
    // A phone created but not acknowledged (killed between its commit and its answer) may be
    // there; if it is, it is whole too.
    let (_, all) = get(&c, &s.admin, "/api/v1/phones?q=00562BC&limit=1000").await;
    for p in all["items"].as_array().into_iter().flatten() {
        let n = p["lines"].as_array().map_or(0, Vec::len);
        assert!(n == 2, "[{label}] a half-written phone: {p}");
    }
    if let Some(id) = acked.import {
        let (st, job) = get(&c, &s.admin, &format!("/api/v1/imports/{id}")).await;
        assert_eq!(st, 200, "[{label}] the import job is there");
        // The restarted server carries the killed job on after its last committed chunk (its
        // run died with the process: docs/scale-out.md), and a database restart only makes it
        // wait: it ends done, each row done once (a row done twice would count as unchanged).
        let started = Instant::now();
        let mut job = job;
        while job["state"] == json!("running") && started.elapsed() < Duration::from_secs(120) {
            tokio::time::sleep(Duration::from_millis(250)).await;
            job = get(&c, &s.admin, &format!("/api/v1/imports/{id}")).await.1;
        }
        let state = job["state"].as_str().unwrap_or_default().to_string();
        let errors = get(&c, &s.admin, &format!("/api/v1/imports/{id}/errors"))
            .await
            .1;
        assert_eq!(
            state, "done",
            "[{label}] round {round}: the killed import: {job} {errors}"
        );
        assert_eq!(
            (
                &job["ok"],
                &job["unchanged"],
                &job["failed"],
                &job["rows_done"]
            ),
            (
                &json!(IMPORT_ROWS),
                &json!(0),
                &json!(0),
                &json!(IMPORT_ROWS)
            ),
            "[{label}] round {round}: every row once: {job} {errors}"
        );
        // Each line it stored is its whole row (read from the export: every line at once).
        let o = common::dialtone(db, &["export", "--kind", "lines"]);
        assert!(
            o.status.success(),
            "[{label}] {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let csv = String::from_utf8_lossy(&o.stdout).to_string();
        let base = 2_000_000 + round * 100_000;
        let mut stored = 0;
        for l in csv.lines().skip(1) {
            let f: Vec<&str> = l.split(',').collect();
            let Some(i) = f[0]
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(base))
                .filter(|i| *i < IMPORT_ROWS)
            else {
                continue;
            };
            stored += 1;
            assert_eq!(
                (f[3], f[4]),
                (
                    format!("Chaos line {i}").as_str(),
                    format!("Alert {i}").as_str()
                ),
                "[{label}] a half-written line: {l}"
            );
        }
        // What the job reported done is in (it reports after each chunk commits).
        let reported = job["ok"].as_i64().unwrap_or(0) as usize;
        assert!(
            stored >= reported,
            "[{label}] round {round}: the job reported {reported} rows in, {stored} are: {job}"
        );
        assert_eq!(stored, IMPORT_ROWS, "[{label}] round {round}: {job}");
        eprintln!(
            "[{label}] round {round}: the import carried on to its end in {} ms after the restart",
            started.elapsed().as_millis()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_again_and_again_the_server_loses_nothing_it_acknowledged() {
    for db in TestDb::all().await {
        let label = db.label;
        // The phones the storm asks for, imported before the first round.
        let dir = common::temp_folder("chaos");
        let mut phones = String::from("MAC ADDRESS,DEVICE TYPE,DIRECTORY NUMBER 1\n");
        for i in 0..PHONES {
            phones.push_str(&format!("00562BD0{i:04X},8861,6{i:04}\n"));
        }
        let path = dir.join("phones.csv");
        std::fs::write(&path, phones).unwrap();
        let o = common::dialtone(
            &db,
            &[
                "import",
                "--kind",
                "phones",
                "--yes",
                path.to_str().unwrap(),
            ],
        );
        assert!(
            o.status.success(),
            "[{label}] {}",
            String::from_utf8_lossy(&o.stderr)
        );

        let restart_pg = label == "postgres" && common::peer("pg_ctlcluster").is_some();
        let mut s = serve(&db);
        for round in 0..ROUNDS {
            let acked = Arc::new(Mutex::new(Acked::default()));
            // The import: a lines file, sent as the round starts.
            let base = 2_000_000 + round * 100_000;
            let mut csv = String::from("DIRECTORY NUMBER,DESCRIPTION,ALERTING NAME\n");
            for i in 0..IMPORT_ROWS {
                csv.push_str(&format!("{},Chaos line {i},Alert {i}\n", base + i));
            }
            let r = client()
                .post(format!(
                    "{}/api/v1/imports?kind=lines&source=chaos.csv",
                    s.admin
                ))
                .basic_auth("admin", Some(PASSWORD))
                .header("content-type", "text/csv")
                .body(csv)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202, "[{label}]");
            let job: Value = r.json().await.unwrap();
            acked.lock().unwrap().import = job["id"].as_i64();
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let w = tokio::spawn(writer(s.admin.clone(), round, acked.clone()));
            let st = tokio::spawn(storm(format!("http://{}", s.http), stop.clone()));

            let wait = 300 + jitter(1200);
            if restart_pg && round == 1 {
                // PostgreSQL goes away under load and comes back; the server carries on.
                tokio::time::sleep(Duration::from_millis(wait)).await;
                let o = std::process::Command::new("pg_ctlcluster")
                    .args(["15", "main", "restart", "-m", "fast"])
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                eprintln!("[{label}] round {round}: PostgreSQL restarted after {wait} ms");
                acked.lock().unwrap().database_restarted = true;
                // The server's pool finds its connections gone and makes new ones: a write
                // goes through again within seconds, without restarting the server.
                let start = Instant::now();
                let user = format!("chaos{round}after");
                loop {
                    let r = client()
                        .post(format!("{}/api/v1/users", s.admin))
                        .basic_auth("admin", Some(PASSWORD))
                        .json(&json!({"user_id": user, "last_name": "After", "digest_credential": "Dg-after"}))
                        .send()
                        .await;
                    if matches!(&r, Ok(r) if r.status() == 201) {
                        acked.lock().unwrap().users.push(user);
                        break;
                    }
                    assert!(
                        start.elapsed() < Duration::from_secs(20),
                        "[{label}] no write went through after PostgreSQL came back: {r:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                eprintln!(
                    "[{label}] round {round}: writing again {} ms after the restart",
                    start.elapsed().as_millis()
                );
            }
            tokio::time::sleep(Duration::from_millis(wait)).await;
            eprintln!("[{label}] round {round}: SIGKILL after {wait} ms");
            drop(s); // Child::kill: SIGKILL, then wait.
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = w.await;
            let served = st.await.unwrap();
            let acked = std::mem::take(&mut *acked.lock().unwrap());
            eprintln!(
                "[{label}] round {round}: {} users and {} phones acknowledged, {served} files served",
                acked.users.len(),
                acked.phones.len()
            );
            assert!(served > 0, "[{label}] round {round}: the storm got no file");
            s = serve(&db);
            check(&db, &s, label, round, &acked).await;
        }

        // In the end, every phone gets its whole file, with its line.
        let c = client();
        for i in 0..PHONES {
            let r = c
                .get(format!("http://{}/00562bd0{i:04x}.xml", s.http))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "[{label}] phone {i}");
            let body = r.text().await.unwrap();
            assert!(
                body.contains(&format!("6{i:04}")),
                "[{label}] phone {i}: {body}"
            );
        }
        drop(s);
    }
}

//! CSV import and export with the real binary, on SQLite and PostgreSQL: each bad row is
//! reported with its line, column and reason while the good rows go in; a dry run writes
//! nothing; the job is audited; what is exported imports again to the same records.

mod common;

use common::dialtone;
use std::path::{Path, PathBuf};
use store::testing::TestDb;

struct Run {
    ok: bool,
    out: String,
    err: String,
}

fn run(db: &TestDb, args: &[&str]) -> Run {
    let o = dialtone(db, args);
    Run {
        ok: o.status.success(),
        out: String::from_utf8_lossy(&o.stdout).to_string(),
        err: String::from_utf8_lossy(&o.stderr).to_string(),
    }
}

fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn export(db: &TestDb, kind: &str) -> String {
    let r = run(db, &["export", "--kind", kind]);
    assert!(r.ok, "[{}] export {kind}: {}", db.label, r.err);
    r.out
}

const LINES: &str = "\u{feff}Directory Number,Description,Maximum Number of Calls,Busy Trigger,Forward Busy External\r\n\
2000,Reception,4,2,8000\r\n\
2001,Lobby,four,2,\r\n\
2002,Bad trigger,2,3,\r\n\
\r\n\
2003,Kitchen,,,\r\n";

#[tokio::test]
async fn rows_fail_alone_dry_runs_write_nothing_and_exports_import_again() {
    for db in TestDb::all().await {
        let dir = std::env::temp_dir().join(format!(
            "dialtone-import-{}-{}",
            std::process::id(),
            db.label
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let lines = file(&dir, "lines.csv", LINES);
        let path = lines.to_str().unwrap();
        assert!(run(&db, &["migrate"]).ok);

        // Dry run: every row checked, every error said, nothing written.
        let r = run(&db, &["import", "--kind", "lines", "--dry-run", path]);
        assert!(!r.ok, "a failed row makes the exit status non-zero");
        assert!(
            r.out
                .contains("4 rows: 2 ok, 2 failed (dry run: nothing written)"),
            "{}",
            r.out
        );
        assert!(
            r.err
                .contains("line 3, column MAXIMUM NUMBER OF CALLS: `four` is not a whole number"),
            "{}",
            r.err
        );
        assert!(r.err.contains("line 4, column BUSY TRIGGER: "), "{}", r.err);
        assert_eq!(
            export(&db, "lines").lines().count(),
            1,
            "the dry run wrote lines"
        );

        // For real: the good rows go in, the bad ones are reported, the job is audited.
        let r = run(&db, &["import", "--kind", "lines", path]);
        assert!(!r.ok);
        assert!(r.out.contains("4 rows: 2 ok, 2 failed"), "{}", r.out);
        let csv = export(&db, "lines");
        assert!(
            csv.starts_with("DIRECTORY NUMBER,ROUTE PARTITION,SYSTEM,DESCRIPTION"),
            "{csv}"
        );
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert_eq!(rows.len(), 2, "{csv}");
        assert!(
            rows[0].starts_with("2000,,default,Reception,") && rows[0].contains(",8000,"),
            "{csv}"
        );
        assert!(rows[1].starts_with("2003,,default,Kitchen,"), "{csv}");

        // Adding a line that exists with other values: a duplicate, said as such.
        let again = file(
            &dir,
            "again.csv",
            "DIRECTORY NUMBER,DESCRIPTION\n2000,Somewhere else\n2004,New\n",
        );
        let r = run(&db, &["import", "--kind", "lines", again.to_str().unwrap()]);
        assert!(r.out.contains("2 rows: 1 ok, 1 failed"), "{}", r.out);
        assert!(
            r.err
                .contains("again.csv: line 2, column DIRECTORY NUMBER: "),
            "{}",
            r.err
        );

        // Modify: only the columns the file has change.
        let modify = file(
            &dir,
            "modify.csv",
            "directory number,alerting name\n2000,Front desk\n2999,Nobody\n",
        );
        let r = run(
            &db,
            &[
                "import",
                "--kind",
                "lines",
                "--mode",
                "modify",
                modify.to_str().unwrap(),
            ],
        );
        assert!(r.out.contains("2 rows: 1 ok, 1 failed"), "{}", r.out);
        assert!(r.err.contains("line 3"), "{}", r.err);
        let csv = export(&db, "lines");
        assert!(csv.contains("2000,,default,Reception,Front desk,"), "{csv}");

        // Round trip: the export, deleted by itself and imported again, exports the same.
        let exported = file(&dir, "exported.csv", &csv);
        let p = exported.to_str().unwrap();
        let r = run(&db, &["import", "--kind", "lines", "--mode", "delete", p]);
        assert!(
            r.ok && r.out.contains("3 rows: 3 ok, 0 failed"),
            "{}{}",
            r.out,
            r.err
        );
        assert_eq!(export(&db, "lines").lines().count(), 1);
        let r = run(&db, &["import", "--kind", "lines", p]);
        assert!(r.ok, "{}{}", r.out, r.err);
        assert_eq!(export(&db, "lines"), csv);

        // Users, with secrets read and never exported; a header error stops before any row.
        let users = file(
            &dir,
            "users.csv",
            "USER ID,FIRST NAME,LAST NAME,PASSWORD,PIN,PRIMARY EXTENSION,ENABLE CUP,USER GROUP 1\n\
             jsmith,John,Smith,secret-pass-1,12345,2000,t,Standard CCM End Users\n\
             bdoe,Bea,,secret-pass-2,12,,f,\n",
        );
        let r = run(&db, &["import", "--kind", "users", users.to_str().unwrap()]);
        assert!(
            r.out.contains("2 rows: 1 ok, 1 failed"),
            "{}{}",
            r.out,
            r.err
        );
        assert!(r.err.contains("line 3, column "), "{}", r.err);
        let csv = export(&db, "users");
        assert!(csv.contains("jsmith,default,John,Smith,"), "{csv}");
        assert!(
            !csv.contains("secret-pass") && !csv.contains("12345"),
            "{csv}"
        );
        // Modify one capability: the other stays.
        let caps = file(&dir, "caps.csv", "USER ID,ENABLE CUPC\njsmith,yes\n");
        let r = run(
            &db,
            &[
                "import",
                "--kind",
                "users",
                "--mode",
                "modify",
                caps.to_str().unwrap(),
            ],
        );
        assert!(r.ok, "{}{}", r.out, r.err);
        let csv = export(&db, "users");
        assert!(csv.contains(",t,t,Standard CCM End Users"), "{csv}");
        let bad = file(&dir, "bad.csv", "USER ID,SHOE SIZE\njsmith,42\n");
        let r = run(&db, &["import", "--kind", "users", bad.to_str().unwrap()]);
        assert!(
            !r.ok
                && r.err
                    .contains("`SHOE SIZE` is not a column of a users file"),
            "{}",
            r.err
        );
        let r = run(&db, &["import", "--kind", "shoes", bad.to_str().unwrap()]);
        assert!(
            !r.ok && r.err.contains("say one of users, phones"),
            "{}",
            r.err
        );

        // The audit log has each job (not the dry run), partial or whole.
        let t = common::TestApp::spawn(&db).await;
        let (_, v) = t.get("/api/v1/audit?limit=500").await;
        let jobs: Vec<_> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "import")
            .collect();
        assert_eq!(jobs.len(), 7, "{v:#}");
        assert!(jobs.iter().any(|e| e["result"] == "partial"
            && e["detail"]
                .as_str()
                .unwrap()
                .contains("line 3, column MAXIMUM NUMBER OF CALLS")));
        t.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Killed in the middle, an import loses nothing it committed and leaves no half-written
/// record; the same file imported again finishes the job, the rows already in counted as such.
#[tokio::test]
async fn a_killed_import_run_again_finishes_the_job() {
    const ROWS: usize = 20000;
    for db in TestDb::all().await {
        let dir =
            std::env::temp_dir().join(format!("dialtone-kill-{}-{}", std::process::id(), db.label));
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = String::from(
            "DIRECTORY NUMBER,DESCRIPTION,ALERTING NAME,MAXIMUM NUMBER OF CALLS,BUSY TRIGGER\n",
        );
        for i in 0..ROWS {
            text.push_str(&format!(
                "{},Line {i},Name {i},{},{}\n",
                30000 + i,
                2 + i % 3,
                1 + i % 2
            ));
        }
        let path = file(&dir, "big.csv", &text);
        let path = path.to_str().unwrap();
        assert!(run(&db, &["migrate"]).ok);

        let mut child = common::command(&db, &["import", "--kind", "lines", "--yes", path])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Kill it (SIGKILL) once some chunks of rows are in.
        let start = std::time::Instant::now();
        let store = store::Store::connect(&db.url).await.unwrap();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(5));
            let mut c = store.read().await.unwrap();
            let n: usize = store::query_text(&mut c, "SELECT CAST(COUNT(*) AS TEXT) FROM lines")
                .await
                .unwrap()
                .parse()
                .unwrap();
            if n >= 1000 {
                break;
            }
            assert!(
                start.elapsed().as_secs() < 60,
                "[{}] no row went in",
                db.label
            );
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let csv = export(&db, "lines");
        let done = csv.lines().count() - 1;
        assert!(
            done < ROWS,
            "[{}] the import ended before the kill: make the file longer",
            db.label
        );
        // Every stored line is whole: exactly the row of the file.
        let want: std::collections::HashMap<&str, &str> = text
            .lines()
            .skip(1)
            .map(|l| (l.split(',').next().unwrap(), l))
            .collect();
        for l in csv.lines().skip(1) {
            let f: Vec<&str> = l.split(',').collect();
            let row = want[f[0]];
            let g: Vec<&str> = row.split(',').collect();
            assert_eq!(
                (f[3], f[4], f[12], f[13]),
                (g[1], g[2], g[3], g[4]),
                "[{}] {l}",
                db.label
            );
        }

        let r = run(&db, &["import", "--kind", "lines", "--yes", path]);
        assert!(r.ok, "[{}] {}{}", db.label, r.out, r.err);
        let summary =
            format!("{ROWS} rows: {ROWS} ok, 0 failed; {done} of the ok were there already");
        assert!(r.out.contains(&summary), "[{}] {}", db.label, r.out);
        assert_eq!(export(&db, "lines").lines().count() - 1, ROWS);

        // A row that differs from what is stored is still a duplicate.
        let other = file(
            &dir,
            "other.csv",
            "DIRECTORY NUMBER,DESCRIPTION\n30000,Something else\n30001,Line 1\n",
        );
        let r = run(&db, &["import", "--kind", "lines", other.to_str().unwrap()]);
        assert!(
            r.out
                .contains("2 rows: 1 ok, 1 failed; 1 of the ok were there already"),
            "{}",
            r.out
        );
        assert!(
            r.err.contains("line 2, column DIRECTORY NUMBER: ") && r.err.contains("already exists"),
            "{}",
            r.err
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A phone file's line columns (`FORWARD BUSY EXTERNAL 1`, …) are the settings of the line on
/// that button: a new line gets them, a shared one changes for every phone, a bad one fails its
/// row naming its column, and the export carries them back.
#[tokio::test]
async fn a_phone_file_sets_the_lines_on_its_buttons() {
    for db in TestDb::all().await {
        let l = db.label;
        let dir = std::env::temp_dir().join(format!("dialtone-plines-{}-{l}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let phones = file(
            &dir,
            "phones.csv",
            "MAC ADDRESS,DEVICE TYPE,DIRECTORY NUMBER 1,FORWARD BUSY EXTERNAL 1,MAXIMUM NUMBER OF CALLS 1,DIRECTORY NUMBER 2,FORWARD ALL 2\n\
             0C0000000001,7960,3000,voicemail,6,3001,\n\
             0C0000000002,7960,3001,,,,\n\
             0C0000000003,7960,3002,not-a-number,,,\n\
             0C0000000004,7960,3000,,,3001,4000\n",
        );
        assert!(run(&db, &["migrate"]).ok);
        let r = run(
            &db,
            &["import", "--kind", "phones", phones.to_str().unwrap()],
        );
        assert!(!r.ok, "[{l}] one row is bad");
        assert!(
            r.err.contains("line 4, column FORWARD BUSY EXTERNAL 1:"),
            "[{l}] {}",
            r.err
        );
        assert!(r.out.contains("4 rows: 3 ok, 1 failed"), "[{l}] {}", r.out);

        let lines = export(&db, "lines");
        let mut rows = csv::Reader::from_reader(lines.as_bytes());
        let h = rows.headers().unwrap().clone();
        let col = |name: &str| h.iter().position(|c| c == name).unwrap();
        let got: Vec<String> = rows
            .records()
            .map(|r| {
                let r = r.unwrap();
                format!(
                    "{} {} {} {}",
                    &r[col("DIRECTORY NUMBER")],
                    &r[col("FORWARD BUSY EXTERNAL")],
                    &r[col("FORWARD ALL")],
                    &r[col("MAXIMUM NUMBER OF CALLS")]
                )
            })
            .collect();
        // 3000: new, with its settings; 3001: new on phone 1, then its FORWARD ALL set from
        // phone 4's button 2 (a shared line changes for every phone); 3002 never went in.
        assert_eq!(
            got,
            vec!["3000 voicemail  6".to_string(), "3001  4000 4".to_string()],
            "[{l}]"
        );

        // The phones' export carries each button's line settings; it imports again as it is.
        let out = export(&db, "phones");
        assert!(
            out.lines().next().unwrap().contains("FORWARD ALL 2"),
            "[{l}] {out}"
        );
        let again = file(&dir, "again.csv", &out);
        let r = run(
            &db,
            &[
                "import",
                "--kind",
                "phones",
                "--mode",
                "modify",
                again.to_str().unwrap(),
            ],
        );
        assert!(r.ok, "[{l}] {}{}", r.out, r.err);
        assert_eq!(
            export(&db, "phones"),
            out,
            "[{l}] the round trip changes nothing"
        );
        assert_eq!(export(&db, "lines"), lines, "[{l}]");
    }
}

/// A clean chunk runs without a savepoint per row; a row that fails after it wrote something
/// sends its chunk back to run again with them. Whichever way a row went in, it went in once:
/// the good rows all stored and audited once, the bad ones failed with the words of the checks
/// (not of the unique key that caught them), nothing of theirs left behind.
#[tokio::test]
async fn rows_that_fail_mid_chunk_fail_alone_and_the_others_go_in_once() {
    const ROWS: usize = 1200;
    for db in TestDb::all().await {
        let l = db.label;
        let dir = std::env::temp_dir().join(format!("dialtone-replay-{}-{l}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = String::from("MAC ADDRESS,DEVICE TYPE,OWNER USER ID,DIRECTORY NUMBER 1\n");
        for i in 0..ROWS {
            match i {
                // Line 702: the MAC of line 3, written another way.
                700 => text.push_str("0c:00:00:00:00:01,7960,,59999\n"),
                // Line 703: an owner that does not exist (found after the row's line was made).
                701 => text.push_str(&format!("0C{i:010X},7960,nobody,{}\n", 50000 + i)),
                _ => text.push_str(&format!("0C{i:010X},7960,,{}\n", 50000 + i)),
            }
        }
        let path = file(&dir, "phones.csv", &text);
        assert!(run(&db, &["migrate"]).ok);
        let r = run(
            &db,
            &[
                "import",
                "--kind",
                "phones",
                "--yes",
                path.to_str().unwrap(),
            ],
        );
        assert!(!r.ok, "[{l}] two rows are bad");
        let summary = format!("{ROWS} rows: {} ok, 2 failed", ROWS - 2);
        assert!(r.out.contains(&summary), "[{l}] {}", r.out);
        assert!(
            r.err.contains("line 702, column MAC ADDRESS: ")
                && r.err.contains("belongs to SEP0C0000000001 already"),
            "[{l}] {}",
            r.err
        );
        assert!(
            r.err.contains("line 703, column OWNER USER ID: ")
                && r.err.contains("there is no user nobody on default"),
            "[{l}] {}",
            r.err
        );
        assert_eq!(export(&db, "phones").lines().count() - 1, ROWS - 2, "[{l}]");
        let lines = export(&db, "lines");
        assert_eq!(lines.lines().count() - 1, ROWS - 2, "[{l}]");
        assert!(
            !lines.contains("59999") && !lines.contains("50701"),
            "[{l}] a failed row's line was left behind"
        );

        let t = common::TestApp::spawn(&db).await;
        let total = |q: &'static str| {
            let t = &t;
            async move {
                let (_, v) = t
                    .get(&format!("/api/v1/audit?resource=phone&count=exact&{q}"))
                    .await;
                v["total"].as_i64().unwrap()
            }
        };
        assert_eq!(
            total("action=create&result=ok").await,
            (ROWS - 2) as i64,
            "[{l}]"
        );
        assert_eq!(total("action=create&result=failed").await, 2, "[{l}]");
        t.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Self-provisioning's records move as CSV too: line and device templates, user profiles, and
/// users naming them with their self-provisioning IDs; a modify leaves the template's other
/// settings alone; an export imports again to the same records; a row naming a template that
/// is not there fails alone, said with its line.
#[tokio::test]
async fn self_provisioning_records_import_export_and_modify() {
    for db in TestDb::all().await {
        let dir = std::env::temp_dir().join(format!(
            "dialtone-import-sp-{}-{}",
            std::process::id(),
            db.label
        ));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(run(&db, &["migrate"]).ok);
        let ult = file(
            &dir,
            "ult.csv",
            "NAME,ROUTE PARTITION,LINE TEXT LABEL,EXTERNAL PHONE NUMBER MASK,MAXIMUM NUMBER OF CALLS,BUSY TRIGGER\n\
             Sales lines,Internal,#FirstName# #LastName#,972813XXXX,6,3\n\
             Bad lines,,#First#,,,\n",
        );
        let r = run(
            &db,
            &[
                "import",
                "--kind",
                "universal-line-templates",
                ult.to_str().unwrap(),
            ],
        );
        assert!(
            r.out.contains("2 rows: 1 ok, 1 failed"),
            "[{}] {}{}",
            db.label,
            r.out,
            r.err
        );
        assert!(
            r.err.contains("line 3") && r.err.contains("`#First#` is not a token"),
            "{}",
            r.err
        );
        let udt = file(
            &dir,
            "udt.csv",
            "NAME,DEVICE POOL,DO NOT DISTURB,SPEED DIAL NUMBER 1,SPEED DIAL LABEL 1,SPEED DIAL NUMBER 3\n\
             Sales phones,Sales,ringer_off,5000,Self-provisioning,911\n",
        );
        let r = run(
            &db,
            &[
                "import",
                "--kind",
                "universal-device-templates",
                udt.to_str().unwrap(),
            ],
        );
        assert!(r.ok, "[{}] {}{}", db.label, r.out, r.err);
        let profiles = file(
            &dir,
            "profiles.csv",
            "NAME,UNIVERSAL DEVICE TEMPLATE,UNIVERSAL LINE TEMPLATE,ALLOW END USER TO PROVISION THEIR OWN PHONES,LIMIT PROVISIONING ONCE END USER HAS THIS MANY PHONES\n\
             Sales,Sales phones,Sales lines,t,3\n\
             Nowhere,No such template,,t,\n",
        );
        let r = run(
            &db,
            &[
                "import",
                "--kind",
                "user-profiles",
                profiles.to_str().unwrap(),
            ],
        );
        assert!(
            r.out.contains("2 rows: 1 ok, 1 failed"),
            "[{}] {}{}",
            db.label,
            r.out,
            r.err
        );
        assert!(
            r.err.contains("line 3")
                && r.err
                    .contains("no universal device template No such template"),
            "{}",
            r.err
        );
        let users = file(
            &dir,
            "users.csv",
            "USER ID,LAST NAME,USER PROFILE,SELF-PROVISIONING ID\nada,Lovelace,Sales,4242\n",
        );
        let r = run(&db, &["import", "--kind", "users", users.to_str().unwrap()]);
        assert!(r.ok, "[{}] {}{}", db.label, r.out, r.err);
        assert!(
            export(&db, "users").contains(",Sales,4242,"),
            "[{}]",
            db.label
        );

        // Modify one setting: the others stay.
        let m = file(
            &dir,
            "m.csv",
            "NAME,DEVICE POOL\nSales phones,Sales floor\n",
        );
        let r = run(
            &db,
            &[
                "import",
                "--kind",
                "universal-device-templates",
                "--mode",
                "modify",
                m.to_str().unwrap(),
            ],
        );
        assert!(r.ok, "[{}] {}{}", db.label, r.out, r.err);
        let csv = export(&db, "universal-device-templates");
        assert!(
            csv.contains("Sales floor")
                && csv.contains("ringer_off")
                && csv.contains("5000,Self-provisioning")
                && csv.contains("911"),
            "[{}] {csv}",
            db.label
        );

        // What is exported imports again to the same records.
        for kind in [
            "universal-line-templates",
            "universal-device-templates",
            "user-profiles",
        ] {
            let before = export(&db, kind);
            let again = file(&dir, "again.csv", &before);
            let r = run(
                &db,
                &[
                    "import",
                    "--kind",
                    kind,
                    "--mode",
                    "modify",
                    again.to_str().unwrap(),
                ],
            );
            assert!(r.ok, "[{}] {kind}: {}{}", db.label, r.out, r.err);
            assert_eq!(export(&db, kind), before, "[{}] {kind}", db.label);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Seed 003's bulk change of application profiles: export, edit, update; a row naming a
/// profile that does not exist fails with why, the others go in.
#[tokio::test]
async fn application_profiles_are_exported_edited_and_updated_in_bulk() {
    use serde_json::json;
    for db in TestDb::all().await {
        let l = db.label;
        let t = common::TestApp::spawn(&db).await;
        t.create(
            "/api/v1/cti-gateway-servers",
            json!({"name": "cm1", "host": "cm1.example.com"}),
        )
        .await;
        t.create(
            "/api/v1/cti-gateway-profiles",
            json!({"name": "cti-a", "primary": "cm1", "default_profile": true}),
        )
        .await;
        t.create(
            "/api/v1/cti-gateway-profiles",
            json!({"name": "cti-b", "primary": "cm1"}),
        )
        .await;
        t.create(
            "/api/v1/proxy-profiles",
            json!({"name": "cup-proxy", "primary_proxy": "cup1.example.com"}),
        )
        .await;
        for u in ["amy", "bob", "cyd"] {
            t.create("/api/v1/users", json!({"user_id": u, "last_name": u}))
                .await;
        }
        let csv = export(&db, "app-profiles");
        let mut lines = csv.lines();
        let header = lines.next().unwrap();
        assert!(
            header.contains("CTI PROFILE") && header.contains("PROXY PROFILE"),
            "[{l}] {header}"
        );
        assert_eq!(
            csv.matches("cti-a").count(),
            3,
            "[{l}] new users got the default: {csv}"
        );
        let dir =
            std::env::temp_dir().join(format!("dialtone-import-ap-{}-{l}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Everyone to cti-b with the proxy, but cyd to a profile that does not exist.
        let cols: Vec<&str> = header.split(',').collect();
        let cti = cols.iter().position(|c| *c == "CTI PROFILE").unwrap();
        let proxy = cols.iter().position(|c| *c == "PROXY PROFILE").unwrap();
        let mut edited = format!("{header}\n");
        for row in lines {
            let mut cells: Vec<String> = row.split(',').map(str::to_string).collect();
            cells[cti] = if row.starts_with("cyd") {
                "nope".into()
            } else {
                "cti-b".into()
            };
            cells[proxy] = "cup-proxy".into();
            edited.push_str(&cells.join(","));
            edited.push('\n');
        }
        let f = file(&dir, "app-profiles.csv", &edited);
        let r = run(
            &db,
            &[
                "import",
                "--kind",
                "app-profiles",
                "--mode",
                "modify",
                f.to_str().unwrap(),
            ],
        );
        assert!(
            r.out.contains("3 rows: 2 ok, 1 failed"),
            "[{l}] {}{}",
            r.out,
            r.err
        );
        assert!(
            r.err.contains("there is no CTI gateway profile nope"),
            "[{l}] {}",
            r.err
        );
        for (u, cti) in [("amy", "cti-b"), ("bob", "cti-b"), ("cyd", "cti-a")] {
            let (_, v) = t.get(&format!("/api/v1/users/{u}")).await;
            assert_eq!(v["app_profiles"]["cti"], cti, "[{l}] {v}");
            let proxy = if u == "cyd" {
                json!(null)
            } else {
                json!("cup-proxy")
            };
            assert_eq!(v["app_profiles"]["proxy"], proxy, "[{l}] {v}");
        }
        t.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A dry run reports exactly what the run will (issue: "a dry run that tells the truth"): rows
/// see the rows before them in the same file, in files of several chunks. Users repeated within
/// the file (the same values: done once, then unchanged; other values: refused), phones sharing
/// a line an earlier row of the file added, a MAC repeated; the two reports compared line by line.
#[tokio::test]
async fn a_dry_run_reports_what_the_run_does_line_by_line() {
    for db in TestDb::all().await {
        let l = db.label;
        let dir = std::env::temp_dir().join(format!("dialtone-dry-{}-{l}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(run(&db, &["migrate"]).ok);
        // 1,210 users (three chunks), repeats far apart.
        let mut users = String::from("USER ID,FIRST NAME,LAST NAME,DEPARTMENT\n");
        for i in 0..1200 {
            users.push_str(&format!("user{i:05},U,Number {i},Sales\n"));
        }
        users.push_str(",No,Id,Sales\n"); // line 1202: no user ID
        users.push_str("user00001,U,Number 1,Sales\n"); // line 1203: the same again: unchanged
        users.push_str("user00002,Someone,Else,Sales\n"); // line 1204: another person
        for i in 0..7 {
            users.push_str(&format!("late{i},L,Late,Support\n"));
        }
        let users = file(&dir, "users.csv", &users);
        // Phones: the second shares the line the first adds; the third repeats the first's MAC.
        let phones = file(
            &dir,
            "phones.csv",
            "MAC ADDRESS,DEVICE TYPE,DIRECTORY NUMBER 1,DESCRIPTION\n\
             00562B0D1001,7960,7001,first\n\
             00562B0D1002,7960,7001,shares the first's line\n\
             00562B0D1001,7960,7002,the first's MAC again\n",
        );
        for (kind, path) in [("users", &users), ("phones", &phones)] {
            let p = path.to_str().unwrap();
            let dry = run(&db, &["import", "--kind", kind, "--dry-run", p]);
            let real = run(&db, &["import", "--kind", kind, "--yes", p]);
            // `FILE: line N, column C: reason`, as the CLI says them.
            let lines = |t: &str| {
                t.lines()
                    .filter_map(|x| x.split_once(": line ").map(|(_, e)| format!("line {e}")))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                lines(&dry.err),
                lines(&real.err),
                "[{l}] {kind}: the dry run's errors are the run's"
            );
            let counts = |t: &str| {
                t.lines().find(|x| x.contains(" rows: ")).map(|x| {
                    x.split(" (dry run")
                        .next()
                        .unwrap_or(x)
                        .split(" in ")
                        .next()
                        .unwrap_or(x)
                        .to_string()
                })
            };
            assert!(
                counts(&real.out).is_some(),
                "[{l}] {kind}: {} {}",
                real.out,
                real.err
            );
            assert_eq!(
                counts(&dry.out),
                counts(&real.out),
                "[{l}] {kind}: {} / {}",
                dry.out,
                real.out
            );
            match kind {
                "users" => {
                    let e = lines(&real.err);
                    assert_eq!(e.len(), 2, "[{l}] {e:?}");
                    assert!(e[0].starts_with("line 1202"), "[{l}] {e:?}");
                    assert!(
                        e[1].starts_with("line 1204") && e[1].contains("already exists"),
                        "[{l}] {e:?}"
                    );
                    assert!(
                        real.out.contains(
                            "1210 rows: 1208 ok, 2 failed; 1 of the ok were there already"
                        ),
                        "[{l}] {}",
                        real.out
                    );
                }
                _ => {
                    let e = lines(&real.err);
                    assert_eq!(e.len(), 1, "[{l}] {e:?}");
                    assert!(e[0].starts_with("line 4"), "[{l}] {e:?}");
                }
            }
        }
        let csv = export(&db, "lines");
        assert!(csv.contains("\n7001,"), "[{l}] {csv}");
    }
}

/// BAT's "phones with users": user columns on a phones file add or change the phone's user with
/// the phone, all or nothing; and a whole directory, exported kind by kind, goes into an empty
/// one in one pass per kind (docs/csv.md "Order of files") and exports the same again.
#[tokio::test]
async fn phones_with_users_and_a_whole_directory_in_one_pass_per_kind() {
    for db in TestDb::all().await {
        let l = db.label;
        let dir = std::env::temp_dir().join(format!("dialtone-pwu-{}-{l}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(run(&db, &["migrate"]).ok);
        let lines = file(
            &dir,
            "l.csv",
            "DIRECTORY NUMBER,DESCRIPTION\n3100,Hunt\n3200,Desk\n",
        );
        let profiles = file(
            &dir,
            "dp.csv",
            "DEVICE PROFILE NAME,DEVICE TYPE,DIRECTORY NUMBER 1\nUDP-alee,7960,3200\n",
        );
        // Line 2: a new user whose primary extension is the line the row's phone brings.
        // Line 3: the same user's second phone, the user by ID alone.
        // Line 4: a new user without LAST NAME: the row fails whole (no phone, no line, no user).
        // Line 5: a phone that names its user and another owner.
        // Line 6: user columns without USER ID.
        // Line 7: alee's soft phone, secondary to the phone line 2 added in the same chunk (on
        // PostgreSQL that phone's row is still held back: the chunk is replayed to see it).
        let phones = file(
            &dir,
            "p.csv",
            "MAC ADDRESS,DEVICE TYPE,DIRECTORY NUMBER 1,USER ID,FIRST NAME,LAST NAME,PASSWORD,PIN,PRIMARY EXTENSION,DEPARTMENT,OWNER USER ID,DEVICE NAME,PRIMARY PHONE\n\
             00562B0E0001,8861,3001,alee,Ann,Lee,Change-me-2,24680,3001,Sales,,,\n\
             00562B0E0002,7960,3100,alee,,,,,,,,,\n\
             00562B0E0003,8861,3003,bnew,Bob,,,,,Sales,,,\n\
             00562B0E0004,8861,3004,cfox,Cy,Fox,,,,Support,alee,,\n\
             00562B0E0005,8861,3005,,Dee,Fay,,,,,,,\n\
             ,CUPC,3001,,,,,,,,alee,UPCALEE,SEP00562B0E0001\n",
        );
        for (kind, f) in [("lines", &lines), ("device-profiles", &profiles)] {
            let r = run(
                &db,
                &["import", "--kind", kind, "--yes", f.to_str().unwrap()],
            );
            assert!(r.ok, "[{l}] {kind}: {} {}", r.out, r.err);
        }
        let p = phones.to_str().unwrap();
        let dry = run(&db, &["import", "--kind", "phones", "--dry-run", p]);
        let r = run(&db, &["import", "--kind", "phones", "--yes", p]);
        assert!(r.out.contains("6 rows: 4 ok, 2 failed"), "[{l}] {}", r.out);
        let errors = |t: &str| {
            t.lines()
                .filter(|x| x.contains(": line "))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            errors(&dry.err),
            errors(&r.err),
            "[{l}] the dry run's errors are the run's"
        );
        assert!(
            r.err.contains("line 4, column LAST NAME: "),
            "[{l}] {}",
            r.err
        );
        assert!(
            r.err
                .contains("line 6, column USER ID: user.user_id: is empty"),
            "[{l}] {}",
            r.err
        );
        let users = export(&db, "users");
        assert!(
            !users.contains("bnew"),
            "[{l}] a failed row added its user: {users}"
        );
        let csv = export(&db, "phones");
        assert!(!csv.contains("00562B0E0003"), "[{l}] {csv}");
        assert!(
            !export(&db, "lines").contains("\n3003,"),
            "[{l}] the failed row's line"
        );
        // alee: added with the phone, owning and controlling both phones, primary extension the
        // line the first phone brought, the PIN and password hashed by the import.
        let who = run(&db, &["user", "find", "alee", "--json"]);
        let alee: serde_json::Value =
            serde_json::from_str(who.out.lines().next().unwrap()).unwrap();
        assert_eq!(alee["primary_extension"], "3001", "[{l}] {alee}");
        assert_eq!(alee["department"], "Sales", "[{l}] {alee}");
        assert_eq!(alee["has_pin"], true, "[{l}] {alee}");
        assert_eq!(alee["has_password"], true, "[{l}] {alee}");
        let mut devices: Vec<String> = serde_json::from_value(alee["devices"].clone()).unwrap();
        devices.sort();
        assert_eq!(devices, ["SEP00562B0E0001", "SEP00562B0E0002"], "[{l}]");
        // cfox controls the phone alee owns.
        let cfox = run(&db, &["user", "find", "cfox", "--json"]);
        assert!(cfox.out.contains("SEP00562B0E0004"), "[{l}] {}", cfox.out);
        assert!(
            csv.lines()
                .any(|r| r.contains("00562B0E0004") && r.contains(",alee,")),
            "[{l}] {csv}"
        );
        // A user who owns nothing and controls a phone, and a user with no phone at all.
        let more = file(
            &dir,
            "u.csv",
            "USER ID,FIRST NAME,LAST NAME,CONTROLLED DEVICE 1,CONTROLLED DEVICE 2,CONTROLLED PROFILE 1,DEFAULT PROFILE\n\
             gray,Gil,Gray,SEP00562B0E0002,,,\n\
             hope,Hal,Hope,,,,\n\
             alee,Ann,Lee,SEP00562B0E0001,SEP00562B0E0002,UDP-alee,UDP-alee\n\
             cfox,Cy,Other,,,,\n",
        );
        // alee, brought by the phones file, gets her profile (her associations); cfox's row
        // differs in a name: an add never overwrites that.
        let r = run(
            &db,
            &["import", "--kind", "users", "--yes", more.to_str().unwrap()],
        );
        assert!(
            r.out.contains("4 rows: 3 ok, 1 failed"),
            "[{l}] {} {}",
            r.out,
            r.err
        );
        assert!(
            r.err.contains("line 5, column USER ID: ") && r.err.contains("already exists"),
            "[{l}] {}",
            r.err
        );
        let who = run(&db, &["user", "find", "alee", "--json"]);
        assert!(
            who.out.contains("\"default_device_profile\":\"UDP-alee\""),
            "[{l}] {}",
            who.out
        );
        // Changing a user through a phones row in modify mode.
        let modify = file(
            &dir,
            "pm.csv",
            "MAC ADDRESS,USER ID,DEPARTMENT\n00562B0E0002,alee,Support\n",
        );
        let r = run(
            &db,
            &[
                "import",
                "--kind",
                "phones",
                "--mode",
                "modify",
                "--yes",
                modify.to_str().unwrap(),
            ],
        );
        assert!(r.ok, "[{l}] {} {}", r.out, r.err);
        let who = run(&db, &["user", "find", "alee", "--json"]);
        assert!(
            who.out.contains("\"department\":\"Support\""),
            "[{l}] {}",
            who.out
        );

        // The whole directory into an empty one, one pass per kind, in the documented order.
        let kinds = [
            "universal-line-templates",
            "universal-device-templates",
            "user-profiles",
            "lines",
            "device-profiles",
            "phones",
            "users",
            "voicemail-subscribers",
            "app-profiles",
            "dial-rules",
        ];
        let before: Vec<String> = kinds.iter().map(|k| export(&db, k)).collect();
        assert!(
            before[5]
                .lines()
                .next()
                .unwrap()
                .contains("USER ID,FIRST NAME"),
            "[{l}] the phones export has the user columns: {}",
            before[5]
        );
        let empty = match l {
            "sqlite" => TestDb::sqlite(),
            _ => TestDb::postgres()
                .await
                .expect("a second PostgreSQL database"),
        };
        assert!(run(&empty, &["migrate"]).ok);
        for (kind, text) in kinds.iter().zip(&before) {
            let f = file(&dir, &format!("all-{kind}.csv"), text);
            let r = run(
                &empty,
                &["import", "--kind", kind, "--yes", f.to_str().unwrap()],
            );
            assert!(
                r.ok,
                "[{l}] {kind} into the empty directory: {} {}",
                r.out, r.err
            );
            assert!(
                r.out.contains(" 0 failed") || !r.out.contains("failed"),
                "[{l}] {}",
                r.out
            );
        }
        for (kind, text) in kinds.iter().zip(&before) {
            assert_eq!(
                &export(&empty, kind),
                text,
                "[{l}] {kind} after the round trip"
            );
        }
    }
}

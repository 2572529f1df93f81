//! A cluster of three nodes on one PostgreSQL database (issue 17, docs/scale-out.md): three
//! `dialtone serve` processes on 127.0.0.1, .2 and .3, and a fleet of phones given all three
//! (each starting on its own node, failing over to the next as a phone does). A line changed on
//! one node reaches the phones that share it, each told once by whichever node saw the change
//! first. Then, while an import runs on node 2 and every phone is being told of a second change
//! (a storm of NOTIFYs and fetches), node 2 is killed with SIGKILL: its phones fail over, the
//! NOTIFYs it owed are sent by the others, its import is carried on by another node after its
//! last committed chunk and ends with every row done once, and every phone ends with the bytes
//! the server holds for it.

use serde_json::{json, Value};
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::testing::TestDb;

const PASSWORD: &str = "cluster-test-admin";
const KEY: &str = "ZGlhbHRvbmUgdGVzdCBzZWNyZXQga2V5IDMyIGJ5dGU=";
const PHONES: usize = 120;
/// Phones 0..SHARED share line 5000.
const SHARED: usize = 40;
const IMPORT_ROWS: usize = 20_000;

/// A node: the real binary serving, killed when dropped.
struct Node {
    child: std::process::Child,
    admin: String,
    http: String,
    tftp: String,
    syslog: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server binary, built beside `fleet` by the workspace's test command.
fn dialtone_binary() -> std::path::PathBuf {
    let fleet = std::path::Path::new(env!("CARGO_BIN_EXE_fleet"));
    let d = fleet.with_file_name("dialtone");
    assert!(
        d.exists(),
        "{} is not built: run the workspace's tests (cargo test --workspace), or cargo build -p dialtone first",
        d.display()
    );
    d
}

fn start(db: &TestDb, i: u8, phone_sip_port: u16) -> Node {
    let ip = format!("127.0.0.{i}");
    let at = |what: &str| (what.to_string(), format!("{ip}:0"));
    let mut cmd = std::process::Command::new(dialtone_binary());
    cmd.arg("--db").arg(&db.url).arg("serve");
    for (flag, addr) in [
        at("--admin"),
        at("--http"),
        at("--tftp"),
        at("--sip"),
        at("--syslog"),
    ] {
        cmd.arg(flag).arg(addr);
    }
    let mut child = cmd
        .env("DIALTONE_ADMIN_PASSWORD", PASSWORD)
        .env("DIALTONE_SECRET_KEY", KEY)
        .env("DIALTONE_ADMIN__HTTPS_LISTEN", "")
        .env("DIALTONE_CLUSTER__NODE", format!("node{i}"))
        .env("DIALTONE_SIP__PHONE_PORT", phone_sip_port.to_string())
        .env("DIALTONE_SIP__DEBOUNCE_MS", "200")
        .env("DIALTONE_SIP__T1_MS", "250")
        .env("DIALTONE_SIP__RATE", "500")
        .env("DIALTONE_LOG__FORMAT", "json")
        .env_remove("DIALTONE_CONFIG")
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dialtone");
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let log = Arc::new(Mutex::new(Vec::new()));
    let all = log.clone();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            all.lock().unwrap().push(l.clone());
            if let Ok(v) = serde_json::from_str(&l) {
                let _ = tx.send(v);
            }
        }
    });
    let (mut admin, mut http, mut syslog, mut tftp) = (None, None, None, None);
    while admin.is_none() || http.is_none() || syslog.is_none() || tftp.is_none() {
        let v = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("node{i} starts: {:#?}", log.lock().unwrap()));
        let f = &v["fields"];
        let addr = f["addr"].as_str().map(String::from);
        match f["message"].as_str() {
            Some("admin API listening") => admin = f["admin_addr"].as_str().map(String::from),
            Some("phone HTTP listener") => http = addr,
            Some("syslog receiver") => syslog = addr,
            Some("TFTP listener") => tftp = addr,
            _ => {}
        }
    }
    Node {
        child,
        admin: format!("http://{}", admin.unwrap()),
        http: format!("http://{}", http.unwrap()),
        tftp: tftp.unwrap(),
        syslog: syslog.unwrap().parse().unwrap(),
        log,
    }
}

struct Api(reqwest::Client);

impl Api {
    async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let r = rb.basic_auth("admin", Some(PASSWORD)).send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, url: String) -> Value {
        self.send(self.0.get(url)).await.1
    }
}

/// Every phone's status, as node `admin` reads it.
async fn statuses(api: &Api, admin: &str) -> Vec<Value> {
    let v = api
        .get(format!("{admin}/api/v1/status?q=SEP00562B&limit=1000"))
        .await;
    v["items"].as_array().cloned().unwrap_or_default()
}

async fn until(what: &str, secs: u64, mut ok: impl AsyncFnMut() -> Option<String>) {
    let start = Instant::now();
    loop {
        let Some(why) = ok().await else { return };
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s waiting for {what}: {why}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn name(i: usize) -> String {
    format!("SEP00562B{:06X}", i + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_serve_one_fleet_and_lose_one_without_losing_anything() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("SKIPPED: the cluster runs on PostgreSQL only");
        return;
    };
    let sip_port = std::net::UdpSocket::bind("127.1.1.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // One after the other: the first makes the schema.
    let mut nodes: Vec<Option<Node>> = Vec::new();
    for i in 1..=3 {
        nodes.push(Some(start(&db, i, sip_port)));
    }
    let n = |k: usize, nodes: &[Option<Node>]| -> String {
        nodes[k].as_ref().expect("a node alive").admin.clone()
    };
    let api = Api(reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap());
    let admin1 = n(0, &nodes);
    let admin2 = n(1, &nodes);
    let [tftp1, tftp2, tftp3] = [0, 1, 2].map(|k| nodes[k].as_ref().unwrap().tftp.clone());

    // Every node is up and sees the others.
    until("three nodes up", 15, async || {
        let c = api.get(format!("{admin1}/api/v1/cluster")).await;
        let up = c["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["state"] == "up")
            .count();
        (up != 3).then(|| c.to_string())
    })
    .await;

    // The directory, written on node 1: a user, and phones 0..SHARED sharing 5000.
    let (s, v) = api
        .send(api.0.post(format!("{admin1}/api/v1/users")).json(
            &json!({"user_id": "jsmith", "last_name": "Smith", "digest_credential": "d1gest"}),
        ))
        .await;
    assert_eq!(s, 201, "{v}");
    for i in 0..PHONES {
        let mut lines = vec![json!({"pattern": format!("{}", 6000 + i)})];
        if i < SHARED {
            lines.insert(0, json!({"pattern": "5000"}));
        }
        let (s, v) = api
            .send(api.0.post(format!("{admin1}/api/v1/phones")).json(&json!({
                "mac": format!("00562B{:06X}", i + 1), "model": "8861",
                "owner_user_id": "jsmith", "lines": lines})))
            .await;
        assert_eq!(s, 201, "{v}");
    }

    // The fleet, given the three nodes.
    let https: Vec<String> = nodes.iter().flatten().map(|x| x.http.clone()).collect();
    let per_phone = std::env::temp_dir().join(format!("cluster-{}.jsonl", std::process::id()));
    let fleet = tokio::process::Command::new(env!("CARGO_BIN_EXE_fleet"))
        .args(["--phones", &PHONES.to_string(), "--model", "8861"])
        .args(["--http", &https.join(","), "--admin", &admin1])
        .args(["--syslog", &nodes[0].as_ref().unwrap().syslog.to_string()])
        .args(["--sip-port", &sip_port.to_string()])
        .args(["--time-scale", "60", "--duration", "50"])
        .arg("--per-phone")
        .arg(&per_phone)
        .env("FLEET_ADMIN_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run fleet");

    until("every phone to boot", 45, async || {
        let s = statuses(&api, &admin1).await;
        let booted = s
            .iter()
            .filter(|x| x["resync_succeeded_at"].is_string())
            .count();
        (booted < PHONES).then(|| format!("{booted} of {PHONES}"))
    })
    .await;
    // Each node served some of them (the heartbeat says so every 2 s).
    until("every node to have served phones", 10, async || {
        let c = api.get(format!("{admin1}/api/v1/cluster")).await;
        let served: Vec<u64> = c["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| x["doing"]["phone_requests"].as_u64().unwrap_or(0))
            .collect();
        (served.len() != 3 || served.contains(&0)).then(|| format!("{served:?}"))
    })
    .await;
    let notifies = async || -> u64 {
        let c = api.get(format!("{admin1}/api/v1/cluster")).await;
        c["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| x["doing"]["notifies"].as_u64().unwrap_or(0))
            .sum()
    };
    assert_eq!(notifies().await, 0, "booting phones need no NOTIFY");

    // A line changed on node 2: the phones sharing it are told once each, in all.
    let changed_at = store::now();
    let line = api.get(format!("{admin2}/api/v1/lines/5000")).await;
    let (s, v) = api
        .send(
            api.0
                .patch(format!("{admin2}/api/v1/lines/5000"))
                .json(&json!({"version": line["version"], "alerting_name": "Front desk"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    until("the phones sharing 5000 to resync", 40, async || {
        let s = statuses(&api, &admin1).await;
        let done = s
            .iter()
            .filter(|x| x["device"].as_str() < Some(name(SHARED).as_str()))
            .filter(|x| {
                x["notify_outcome"] == "accepted (200)"
                    && x["resync_succeeded_at"].as_str() > Some(changed_at.as_str())
            })
            .count();
        (done < SHARED).then(|| format!("{done} of {SHARED}"))
    })
    .await;
    // Counted by the nodes that sent them (heard at their next heartbeat).
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        notifies().await,
        SHARED as u64,
        "each phone sharing the line told once, by one node"
    );

    // An import on node 2, and every phone told of a second change; node 2 killed mid-way.
    let mut csv = String::from("DIRECTORY NUMBER,DESCRIPTION,ALERTING NAME\n");
    for i in 0..IMPORT_ROWS {
        csv.push_str(&format!("{},Cluster line {i},Alert {i}\n", 3_000_000 + i));
    }
    let (s, job) = api
        .send(
            api.0
                .post(format!(
                    "{admin2}/api/v1/imports?kind=lines&source=cluster.csv"
                ))
                .header("content-type", "text/csv")
                .body(csv),
        )
        .await;
    assert_eq!(s, 202, "{job}");
    let job_id = job["id"].as_i64().unwrap();
    let sys = api.get(format!("{admin1}/api/v1/systems/default")).await;
    let mut settings = sys["settings"].clone();
    settings["servers"] = json!([{"host": "cucm2.example.com"}]);
    let storm_at = store::now();
    let (s, v) = api
        .send(
            api.0
                .patch(format!("{admin1}/api/v1/systems/default"))
                .json(&json!({"version": sys["version"], "settings": settings})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let progress = api.get(format!("{admin1}/api/v1/imports/{job_id}")).await;
    let killed_at = Instant::now();
    let two = nodes[1].take().unwrap();
    let two_log = two.log.clone();
    drop(two); // SIGKILL
    eprintln!("node2 killed; its import was at {}", progress["rows_done"]);

    // The import is carried on by another node, each row once.
    let mut last = Value::Null;
    until("the import to end", 90, async || {
        last = api.get(format!("{admin1}/api/v1/imports/{job_id}")).await;
        (last["state"] == "running").then(|| last.to_string())
    })
    .await;
    eprintln!(
        "the import ended {} ms after node2 died: {last}",
        killed_at.elapsed().as_millis()
    );
    assert_eq!(last["state"], "done", "{last}");
    assert_eq!(
        (
            &last["ok"],
            &last["unchanged"],
            &last["failed"],
            &last["rows_done"]
        ),
        (
            &json!(IMPORT_ROWS),
            &json!(0),
            &json!(0),
            &json!(IMPORT_ROWS)
        ),
        "every row once: {last}"
    );
    let lines = api
        .get(format!("{admin1}/api/v1/lines?q=30&limit=1&count=exact"))
        .await;
    assert!(
        lines["total"].as_i64().unwrap_or(0) >= IMPORT_ROWS as i64,
        "{lines}"
    );

    // Every phone is told of the second change and resyncs, node 2's owed ones too.
    until(
        "every phone to resync after the second change",
        60,
        async || {
            let s = statuses(&api, &admin1).await;
            let done = s
                .iter()
                .filter(|x| x["resync_succeeded_at"].as_str() > Some(storm_at.as_str()))
                .count();
            (done < PHONES).then(|| format!("{done} of {PHONES}"))
        },
    )
    .await;
    let c = api.get(format!("{admin1}/api/v1/cluster")).await;
    let two = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "node2")
        .cloned()
        .unwrap();
    assert_eq!(two["state"], "down", "{c}");

    // The fleet ends with every phone holding what the server holds (by node 1's preview of
    // the file as the node the phone used serves it).
    let out = fleet.wait_with_output().await.unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "fleet printed no report: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(out.status.success(), "{report}");
    assert_eq!(report["provisioned"], PHONES, "{report}");
    let per = std::fs::read_to_string(&per_phone).unwrap();
    let _ = std::fs::remove_file(&per_phone);
    for l in per.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        let shared = v["name"].as_str() < Some(name(SHARED).as_str());
        let want = if shared { 2 } else { 1 };
        let got = v["notifies"].as_u64().unwrap();
        // One NOTIFY a change; node 2 may have sent one it had not recorded when it died,
        // which another node then sent again.
        assert!(
            got == want || got == want + 1,
            "{v}: {got} NOTIFYs for {want} changes\nnode2's log: {:?}",
            two_log.lock().unwrap().len()
        );
    }

    // A token made on node 1 works on node 3, and once revoked on node 1, no longer there.
    let (s, t) = api
        .send(
            api.0
                .post(format!("{admin1}/api/v1/tokens"))
                .json(&json!({"name": "cluster"})),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let admin3 = n(2, &nodes);
    let with_token = async || {
        api.0
            .get(format!("{admin3}/api/v1/whoami"))
            .bearer_auth(t["token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(with_token().await, 200);
    let (s, v) = api
        .send(api.0.delete(format!("{admin1}/api/v1/tokens/{}", t["id"])))
        .await;
    assert_eq!(s, 204, "{v}");
    until("the revoked token refused on node 3", 2, async || {
        let got = with_token().await;
        (got != 401).then(|| got.to_string())
    })
    .await;

    // Soft clients of a system that names no TFTP servers are given the nodes, by name.
    let tftps: Vec<String> = [&tftp1, &tftp2, &tftp3].map(|t| t.to_string()).into();
    let (s, v) = api
        .send(
            api.0
                .post(format!("{admin1}/api/v1/phones"))
                .json(&json!({"model": "CUPC", "owner_user_id": "jsmith"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let http3 = nodes[2].as_ref().unwrap().http.clone();
    let soft_tftp = async || -> Vec<String> {
        let xml = api
            .0
            .get(format!("{http3}/UPCJSMITH.cnf.xml"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
        doc.descendants()
            .filter(|n| n.has_tag_name("tftpServers"))
            .flat_map(|n| n.children().filter(|c| c.has_tag_name("server")))
            .map(|n| n.text().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(soft_tftp().await, tftps);

    // A node that is up is not forgotten; one that is down is, and leaves the lists.
    let forget = async |name: &str| {
        api.send(
            api.0
                .delete(format!("{admin1}/api/v1/cluster/nodes/{name}")),
        )
        .await
    };
    let (s, v) = forget("node1").await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(forget("node9").await.0, 404);
    let (s, v) = forget("node2").await;
    assert_eq!(s, 204, "{v}");
    let c = api.get(format!("{admin1}/api/v1/cluster")).await;
    let names: Vec<&str> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert_eq!(names, ["node1", "node3"], "{c}");
    let audit = api
        .get(format!("{admin1}/api/v1/audit?action=delete"))
        .await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["resource"] == "node" && e["target"] == "node2"),
        "{audit}"
    );
    // Node 3 hears of it (its cache drops the file) within a second.
    let want = vec![tftps[0].clone(), tftps[2].clone()];
    until("the soft client's TFTP list without node2", 5, async || {
        let got = soft_tftp().await;
        (got != want).then(|| format!("{got:?}"))
    })
    .await;
    drop(nodes);
}

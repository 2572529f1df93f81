//! One host must not stop the server (issue 16, findings 1 and 2): connections and TFTP
//! transfers are capped per source and in all, silent and slow ones are timed out, and the admin
//! listener keeps answering while the phone listeners are flooded. Floods come from other
//! loopback addresses (127.0.0.2, …) so the checks from 127.0.0.1 stand for the rest of the
//! network. Bounded: a few hundred connections, a few seconds each.

mod common;

use common::{peer, TestApp};
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use store::testing::TestDb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A connection to `to` from the loopback address `from`.
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::new(IpAddr::from(from), 0)).unwrap();
    s.connect(to).await.unwrap()
}

/// Everything the server sends until it closes the connection (or `limit` passes: `None`).
async fn until_closed(s: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    let end = Instant::now() + limit;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

async fn phone_file_status(t: &TestApp, name: &str) -> reqwest::StatusCode {
    let http = t.app.http_addr.unwrap();
    t.client
        .get(format!("http://{http}/{name}"))
        .send()
        .await
        .unwrap()
        .status()
}

async fn healthz(t: &TestApp) -> reqwest::StatusCode {
    t.client
        .get(t.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap()
        .status()
}

fn refused_count(metrics: &str, listener: &str, cap: &str) -> u64 {
    let key =
        format!("dialtone_connections_refused_total{{listener=\"{listener}\",cap=\"{cap}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap_or_else(|| panic!("no {key} in the metrics"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_host_cannot_hold_the_phone_listener() {
    let db = TestDb::sqlite();
    let t = TestApp::spawn_with(&db, |c| {
        c.http.max_connections = 120;
        c.http.max_connections_per_source = 40;
        c.http.header_timeout_secs = 1;
        c.http.io_timeout_secs = 1;
    })
    .await;
    t.create(
        "/api/v1/phones",
        json!({"mac": "00562B800001", "model": "7960", "protocol": "SIP", "lines": [{"pattern": "8001"}]}),
    )
    .await;
    let http = t.app.http_addr.unwrap();
    let file = "SEP00562B800001.cnf.xml";

    // 100 silent connections from one host: 40 are held, 60 told 503 and closed at once.
    let mut flood = Vec::new();
    for _ in 0..100 {
        flood.push(connect_from([127, 0, 0, 2], http).await);
    }
    // The rest of the network is served meanwhile, and so is the administrator.
    assert_eq!(phone_file_status(&t, file).await, 200);
    assert_eq!(healthz(&t).await, 200);
    let started = Instant::now();
    let answers: Vec<_> = flood
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move { until_closed(&mut s, Duration::from_secs(10)).await })
        })
        .collect();
    let (mut busy, mut silent) = (0, 0);
    for a in answers {
        let a = a
            .await
            .unwrap()
            .expect("every connection is closed within the header timeout");
        let text = String::from_utf8_lossy(&a);
        if text.starts_with("HTTP/1.1 503") {
            assert!(text.contains("Retry-After: "), "{text}");
            busy += 1;
        } else {
            assert!(
                a.is_empty(),
                "a silent connection is closed unanswered: {text}"
            );
            silent += 1;
        }
    }
    assert_eq!((busy, silent), (60, 40));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the held ones were closed after the 1 s header timeout ({:?})",
        started.elapsed()
    );

    // Half a request head, then nothing: closed unanswered.
    let mut slow = connect_from([127, 0, 0, 2], http).await;
    slow.write_all(format!("GET /{file} HTTP/1.1\r\nHost: x\r\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(
        until_closed(&mut slow, Duration::from_secs(5)).await,
        Some(Vec::new())
    );
    // A keep-alive connection left idle after its answer is closed too.
    let mut idle = connect_from([127, 0, 0, 2], http).await;
    idle.write_all(format!("GET /{file} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let answered = until_closed(&mut idle, Duration::from_secs(5))
        .await
        .expect("closed once idle");
    assert!(String::from_utf8_lossy(&answered).starts_with("HTTP/1.1 200"));

    // Many hosts together reach the listener's cap; past it a new one is told 503.
    let mut held = Vec::new();
    for host in 3..6 {
        for _ in 0..40 {
            held.push(connect_from([127, 0, 0, host], http).await);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut late = connect_from([127, 0, 0, 6], http).await;
    let told = until_closed(&mut late, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&told).starts_with("HTTP/1.1 503"));
    assert_eq!(healthz(&t).await, 200, "the admin listener is apart");
    drop(held);

    let (_, metrics) = t.get("/metrics").await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert_eq!(refused_count(&metrics, "phone_http", "per_source"), 60);
    assert!(refused_count(&metrics, "phone_http", "total") >= 1);
    assert_eq!(refused_count(&metrics, "admin", "total"), 0);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_that_stops_reading_is_let_go() {
    let db = TestDb::sqlite();
    let t = TestApp::spawn_with(&db, |c| {
        c.http.io_timeout_secs = 1;
    })
    .await;
    // A 24 MB firmware file: far more than the socket buffers hold.
    let size = 24 << 20;
    let r = t
        .client
        .put(t.url("/api/v1/firmware/files/big.loads"))
        .bearer_auth(&t.token)
        .body(vec![7u8; size])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let http = t.app.http_addr.unwrap();
    let mut s = connect_from([127, 0, 0, 2], http).await;
    s.write_all(b"GET /big.loads HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Not reading: the server's writes stall, and after the 1 s send timeout it gives up.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let got = until_closed(&mut s, Duration::from_secs(10))
        .await
        .expect("the server closed the connection");
    assert!(
        String::from_utf8_lossy(&got[..12]).starts_with("HTTP/1.1 200"),
        "the answer had begun"
    );
    assert!(
        got.len() < size,
        "the server let go before sending all of it ({} bytes came)",
        got.len()
    );
    t.stop().await;
}

/// A read request for `file` from `sock`, with options; answers the opcode of the reply.
fn rrq(sock: &std::net::UdpSocket, to: SocketAddr, file: &str, options: &[&str]) -> (u8, Vec<u8>) {
    let mut req = vec![0, 1];
    for f in [file, "octet"].iter().chain(options) {
        req.extend_from_slice(f.as_bytes());
        req.push(0);
    }
    sock.send_to(&req, to).unwrap();
    let mut buf = vec![0u8; 2048];
    let n = sock.recv(&mut buf).expect("an answer");
    (buf[1], buf[..n].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_host_cannot_hold_the_tftp_listener() {
    let Some(atftp) = peer("atftp") else { return };
    let db = TestDb::sqlite();
    let t = TestApp::spawn_with(&db, |c| {
        c.tftp.max_transfers = 8;
        c.tftp.max_transfers_per_source = 4;
        c.tftp.give_up_secs = 2;
    })
    .await;
    t.create(
        "/api/v1/phones",
        json!({"mac": "00562B800002", "model": "7960", "protocol": "SIP", "lines": [{"pattern": "8002"}]}),
    )
    .await;
    let tftp = t.app.tftp_addr.unwrap();
    let file = "SEP00562B800002.cnf.xml";
    let socket = |host: u8| {
        let s = std::net::UdpSocket::bind(SocketAddr::new([127, 0, 0, host].into(), 0)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    };
    // Ten transfers from one host never acknowledged: four start, six are told the server is
    // busy. The client asks for the longest timeout; it is not granted.
    let started = Instant::now();
    let mut first = Vec::new();
    let (mut started_n, mut busy) = (0, 0);
    for _ in 0..10 {
        let s = socket(2);
        let (op, pkt) = rrq(&s, tftp, file, &["timeout", "255", "tsize", "0"]);
        match op {
            6 => {
                let oack = String::from_utf8_lossy(&pkt[2..]).to_string();
                assert!(!oack.contains("timeout"), "{oack:?}");
                started_n += 1;
            }
            5 => {
                assert!(String::from_utf8_lossy(&pkt).contains("busy"));
                busy += 1;
            }
            _ => panic!("opcode {op}"),
        }
        first.push(s);
    }
    assert_eq!((started_n, busy), (4, 6));
    // Another host fills the rest; then even a third is refused (the cap in all).
    for _ in 0..4 {
        let s = socket(3);
        assert_eq!(rrq(&s, tftp, file, &["tsize", "0"]).0, 6);
        first.push(s);
    }
    assert_eq!(rrq(&socket(4), tftp, file, &[]).0, 5, "the cap in all");
    let (_, metrics) = t.get("/metrics").await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert_eq!(refused_count(&metrics, "tftp", "per_source"), 6);
    assert_eq!(refused_count(&metrics, "tftp", "total"), 1);

    // The held transfers are given up after 2 s without progress (their 255 s timeout was not
    // granted), and a real client is served again.
    let dir = common::temp_folder("tftp-flood");
    let out = dir.join("got.xml");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ok = std::process::Command::new(&atftp)
            .args(["-g", "-r", file, "-l"])
            .arg(&out)
            .args(["127.0.0.1", &tftp.port().to_string()])
            .output()
            .unwrap()
            .status
            .success();
        if ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the held transfers were never given up"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(2), "{waited:?}");
    assert!(std::fs::read_to_string(&out).unwrap().contains("8002"));
    t.stop().await;
}

/// The outage as found: the server under a descriptor limit of 1024 and 1,500 idle connections
/// from eight hosts. Before the caps the accept loop ran out of descriptors and `/healthz`, the
/// admin API and the phone listener all stopped answering; now the caps are fitted under the
/// limit at start and the admin listener answers throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_under_a_low_descriptor_limit_stops_nothing() {
    let db = TestDb::sqlite();
    let server = common::command(&db, &[]);
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg("ulimit -n 1024 && exec \"$0\" \"$@\"")
        .arg(server.get_program())
        .args(server.get_args())
        .args(["serve", "--admin", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
    for (k, v) in server.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    sh.env("DIALTONE_HTTP__HEADER_TIMEOUT_SECS", "3");
    let served = common::Served::start(sh);
    let lowered = served.started.iter().any(|v| {
        v["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("descriptor limit"))
    });
    assert!(
        lowered,
        "the start says the caps were lowered to fit 1024 descriptors"
    );
    let (admin, http) = (served.admin.clone(), served.http);
    let client = reqwest::Client::new();
    let health = || async {
        client
            .get(format!("{admin}/healthz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map(|r| r.status().as_u16())
    };
    assert_eq!(health().await.unwrap(), 200);
    let mut flood = Vec::new();
    for host in 2..10 {
        for _ in 0..190 {
            flood.push(connect_from([127, 0, 0, host], http).await);
        }
    }
    assert_eq!(flood.len(), 1520);
    for _ in 0..5 {
        assert_eq!(
            health()
                .await
                .expect("the admin listener answers during the flood"),
            200
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(flood);
    // The phone listener serves again once the flood lets go.
    let r = client
        .get(format!("http://{http}/SEP000000000001.cnf.xml"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("the phone listener answers after the flood");
    assert_eq!(r.status(), 404);
}

/// The pipe the server logs to closes (the program reading it stopped): the server goes on
/// serving, its log lines dropped. It once stopped at its next line, tracing-subscriber
/// reporting the failed write with a print that panics on the same closed pipe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_log_pipe_does_not_stop_the_server() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let db = TestDb::sqlite();
    let reading = std::sync::Arc::new(AtomicBool::new(true));
    let served = common::Served::start_reading(
        common::command(
            &db,
            &["serve", "--admin", "127.0.0.1:0", "--http", "127.0.0.1:0"],
        ),
        reading.clone(),
    );
    reading.store(false, Ordering::Relaxed);
    let client = reqwest::Client::new();
    // Each wrong log-in is logged: the first closes the pipe, the next are written to it.
    for i in 0..5 {
        let r = client
            .get(format!("{}/api/v1/tokens", served.admin))
            .basic_auth(format!("nobody{i}"), Some("wrong"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap_or_else(|e| panic!("log-in {i} after the log pipe closed: {e}"));
        assert_eq!(r.status(), 401);
    }
    let r = client
        .get(format!("{}/healthz", served.admin))
        .send()
        .await
        .expect("the server still answers");
    assert_eq!(r.status(), 200);
}

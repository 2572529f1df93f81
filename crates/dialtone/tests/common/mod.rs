//! `TestApp`: the real server on 127.0.0.1 port 0, on a throw-away database, with a client.

#![allow(dead_code)]

use dialtone::{App, Config};
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use store::testing::TestDb;

pub const PASSWORD: &str = "test-admin-password";
/// The secret key every test server gets (so no key file is written beside the tests).
pub const SECRET_KEY: &str = "ZGlhbHRvbmUgdGVzdCBzZWNyZXQga2V5IDMyIGJ5dGU=";

pub struct TestApp {
    pub app: App,
    pub base: String,
    pub client: reqwest::Client,
    pub token: String,
    pub label: &'static str,
}

impl TestApp {
    /// Polls import job `id` until it is no longer running; the job.
    pub async fn import_finished(&self, id: i64) -> Value {
        let start = std::time::Instant::now();
        loop {
            let (s, j) = self.get(&format!("/api/v1/imports/{id}")).await;
            assert_eq!(s, StatusCode::OK, "{j}");
            if j["state"] != "running" {
                return j;
            }
            assert!(
                start.elapsed().as_secs() < 60,
                "[{}] job {id} still running: {j}",
                self.label
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub async fn spawn(db: &TestDb) -> TestApp {
        Self::spawn_with(db, |_| {}).await
    }

    /// The server with some settings changed first.
    pub async fn spawn_with(db: &TestDb, change: impl FnOnce(&mut Config)) -> TestApp {
        let mut cfg = Config::default();
        cfg.admin.https_listen.clear();
        cfg.database.url = db.url.clone();
        cfg.admin.listen = "127.0.0.1:0".into();
        cfg.http.listen = "127.0.0.1:0".into();
        cfg.tftp.listen = "127.0.0.1:0".into();
        cfg.admin_password = Some(PASSWORD.into());
        cfg.secret_key = Some(SECRET_KEY.into());
        cfg.firmware.folder = Some(temp_folder("firmware").display().to_string());
        change(&mut cfg);
        let app = App::build(&cfg).await.expect("the server starts");
        let base = format!("http://{}", app.admin_addr);
        let client = reqwest::Client::new();
        let token = new_token(&client, &base, "admin", PASSWORD).await;
        TestApp {
            app,
            base,
            client,
            token,
            label: db.label,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let r = rb.bearer_auth(&self.token).send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.get(self.url(path))).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.post(self.url(path)).json(&body))
            .await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.put(self.url(path)).json(&body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.patch(self.url(path)).json(&body))
            .await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.delete(self.url(path))).await
    }

    /// POST that must succeed with 201; returns the record.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.post(path, body.clone()).await;
        assert_eq!(
            s,
            StatusCode::CREATED,
            "[{}] POST {path} {body}: {v}",
            self.label
        );
        v
    }

    /// A phone's file as the administrators' preview shows it (`/api/v1/phones/{phone}/files/{file}`).
    pub async fn file_preview(&self, phone: &str, file: &str) -> String {
        let r = self
            .client
            .get(self.url(&format!("/api/v1/phones/{phone}/files/{file}")))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "[{}] {phone}/{file}",
            self.label
        );
        r.text().await.unwrap()
    }

    /// A request that must fail with `status`, naming `field`; returns the error message.
    pub fn refused(&self, got: (StatusCode, Value), status: StatusCode, field: &str) -> String {
        let (s, v) = got;
        assert_eq!(
            s, status,
            "[{}] expected {status} on {field}, got {v}",
            self.label
        );
        assert_eq!(
            v["error"]["field"].as_str(),
            Some(field),
            "[{}] field of {v}",
            self.label
        );
        let m = v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(!m.is_empty());
        m
    }

    /// The status of a phone, read once: it shows the requests not written yet (statuses are
    /// written in batches, and a status read writes what is waiting first).
    pub async fn status_now(&self, name: &str) -> Value {
        self.get(&format!("/api/v1/phones/{name}/status")).await.1
    }

    pub async fn stop(mut self) {
        self.app.stop().await.unwrap();
    }
}

/// Runs a real peer program, or says it is missing: `None` skips (with a message) unless
/// `DIALTONE_REQUIRE_PEERS=1`, which fails instead.
pub fn peer(program: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if store::testing::require_peers() {
            panic!("DIALTONE_REQUIRE_PEERS=1 but `{program}` is not installed");
        }
        eprintln!("SKIPPED: `{program}` is not installed");
    }
    found
}

/// `curl` as a phone would call it: answers the status and the body.
pub fn curl(curl: &std::path::Path, args: &[&str]) -> (u16, String) {
    let out = std::process::Command::new(curl)
        .args(["-s", "--path-as-is", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// The real binary on `db`, with the test admin password and secret key, to run or spawn.
pub fn command(db: &TestDb, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_dialtone"));
    c.arg("--db")
        .arg(&db.url)
        .args(args)
        .env("DIALTONE_ADMIN_PASSWORD", PASSWORD)
        .env("DIALTONE_SECRET_KEY", SECRET_KEY)
        // HTTPS off unless the test asks for it (`--https`): on PostgreSQL its self-signed
        // certificate would be made in the working folder, by every server at once.
        .env("DIALTONE_ADMIN__HTTPS_LISTEN", "")
        .env_remove("DIALTONE_CONFIG");
    c
}

/// The real binary on `db`, run to its end.
pub fn dialtone(db: &TestDb, args: &[&str]) -> std::process::Output {
    command(db, args).output().expect("run dialtone")
}

/// A new API token of the administrator `user`, made with their password.
pub async fn new_token(client: &reqwest::Client, base: &str, user: &str, password: &str) -> String {
    let r = client
        .post(format!("{base}/api/v1/tokens"))
        .basic_auth(user, Some(password))
        .json(&serde_json::json!({"name": "tests"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A new, empty folder of this test process (under the system's temporary folder).
pub fn temp_folder(what: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("dialtone-test-{what}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).expect("a temporary folder");
    p
}

/// The real binary serving, as a process of its own (so its memory and descriptors are its
/// own): killed when dropped.
pub struct Served {
    child: std::process::Child,
    pub pid: u32,
    /// `http://` and the admin listener's address.
    pub admin: String,
    pub http: std::net::SocketAddr,
    /// The admin listener over HTTPS, when on: `https://` and its address.
    pub https: Option<String>,
    /// The log lines (JSON) written before both listeners were up.
    pub started: Vec<Value>,
    /// Every line the server wrote to standard error so far.
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Runs `cmd` (the binary's `serve` with `--admin` and `--http` on port 0, perhaps behind
    /// a shell) with JSON logs, and waits until both listeners are up.
    pub fn start(cmd: std::process::Command) -> Served {
        Self::start_reading(cmd, Arc::new(AtomicBool::new(true)))
    }

    /// [`Served::start`], reading the server's log while `reading` holds: once it is false,
    /// the pipe is closed at the next line.
    pub fn start_reading(mut cmd: std::process::Command, reading: Arc<AtomicBool>) -> Served {
        use std::io::BufRead;
        // HTTPS off unless the test asks for it (`--https`): its default port, 8443, would be
        // shared by every test, and on PostgreSQL its self-signed certificate would be made in
        // the working folder.
        if !cmd
            .get_envs()
            .any(|(k, _)| k == "DIALTONE_ADMIN__HTTPS_LISTEN")
        {
            cmd.env("DIALTONE_ADMIN__HTTPS_LISTEN", "");
        }
        let mut child = cmd
            .env("DIALTONE_LOG__FORMAT", "json")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run dialtone");
        let (tx, lines) = std::sync::mpsc::channel::<Value>();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let all = log.clone();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                // Read to the end (a server writing to a closed pipe is not what is tested);
                // shown when DIALTONE_TEST_SERVER_LOG is set.
                if std::env::var_os("DIALTONE_TEST_SERVER_LOG").is_some() {
                    eprintln!("server: {l}");
                }
                all.lock().unwrap().push(l.clone());
                if let Ok(v) = serde_json::from_str(&l) {
                    let _ = tx.send(v);
                }
                if !reading.load(Ordering::Relaxed) {
                    return;
                }
            }
        });
        let (mut admin, mut http, mut https, mut started) = (None, None, None, Vec::new());
        while admin.is_none() || http.is_none() {
            let v = lines
                .recv_timeout(std::time::Duration::from_secs(30))
                .expect("the server starts");
            let f = &v["fields"];
            match f["message"].as_str() {
                Some("admin API listening") => admin = f["admin_addr"].as_str().map(String::from),
                Some("phone HTTP listener") => http = f["addr"].as_str().map(String::from),
                Some("admin API listening over HTTPS") => {
                    https = f["https_addr"].as_str().map(|a| format!("https://{a}"))
                }
                _ => {}
            }
            started.push(v);
        }
        Served {
            pid: child.id(),
            child,
            admin: format!("http://{}", admin.unwrap()),
            http: http.unwrap().parse().unwrap(),
            https,
            started,
            log,
        }
    }

    /// Every line the server has written to standard error so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// A line of `/proc/PID/status` in kB: `VmRSS` (memory now) or `VmHWM` (the most so far).
    pub fn memory_kb(&self, what: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(what)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {what} in /proc/{}/status", self.pid))
    }
}

/// A TFTP read request from `host`; the first packet's opcode and text.
pub fn tftp_rrq(host: u8, to: std::net::SocketAddr, file: &str) -> (u8, String) {
    let s =
        std::net::UdpSocket::bind(std::net::SocketAddr::new([127, 0, 0, host].into(), 0)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut req = vec![0, 1];
    for f in [file, "octet"] {
        req.extend_from_slice(f.as_bytes());
        req.push(0);
    }
    s.send_to(&req, to).unwrap();
    let mut buf = vec![0u8; 2048];
    let (n, from) = s.recv_from(&mut buf).unwrap();
    if buf[1] == 3 && n < 516 {
        // A one-block file: acknowledge it so the transfer ends cleanly.
        let _ = s.send_to(&[0, 4, buf[2], buf[3]], from);
    }
    (buf[1], String::from_utf8_lossy(&buf[4..n]).to_string())
}

/// A phone's SIP side: answers every request 200 and keeps what it got.
pub fn answer_notifies(sock: tokio::net::UdpSocket) -> Arc<std::sync::Mutex<Vec<String>>> {
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            let copy = |name: &str| {
                text.lines()
                    .find(|l| {
                        l.to_ascii_lowercase()
                            .starts_with(&format!("{}:", name.to_ascii_lowercase()))
                    })
                    .unwrap_or_default()
                    .to_string()
            };
            let answer = format!(
                "SIP/2.0 200 OK\r\n{}\r\n{}\r\n{};tag=phone\r\n{}\r\n{}\r\nContent-Length: 0\r\n\r\n",
                copy("Via"),
                copy("From"),
                copy("To"),
                copy("Call-ID"),
                copy("CSeq")
            );
            keep.lock().unwrap().push(text);
            let _ = sock.send_to(answer.as_bytes(), from).await;
        }
    });
    got
}

pub async fn fetch_from(ip: std::net::IpAddr, url: &str) -> (StatusCode, String) {
    let c = reqwest::Client::builder()
        .local_address(ip)
        .build()
        .unwrap();
    let r = c.get(url).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

pub async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

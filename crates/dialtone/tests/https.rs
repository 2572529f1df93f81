//! HTTPS on the admin and phone listeners (issue 16): a self-signed certificate made at first
//! start, kept, and named by its fingerprint in the log; the operator's certificate when
//! configured. Checked with the real `curl` (verifying the certificate, not `-k`) and `openssl`.

mod common;

use common::{Served, PASSWORD};
use store::testing::TestDb;

fn db_path(db: &TestDb) -> String {
    db.url.trim_start_matches("sqlite:").to_string()
}

/// The fingerprint a log line of this start gave for the certificate, and that line's message.
fn logged_fingerprint(s: &Served) -> (String, String) {
    s.started
        .iter()
        .find_map(|v| {
            let f = &v["fields"];
            Some((
                f["fingerprint"].as_str()?.to_string(),
                f["message"].as_str()?.to_string(),
            ))
        })
        .expect("a log line with the certificate's fingerprint")
}

/// What `openssl` says the SHA-256 fingerprint of a PEM certificate is.
fn openssl_fingerprint(openssl: &std::path::Path, pem: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(openssl)
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(pem).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim().rsplit('=').next().unwrap().to_string()
}

/// The certificate a TLS server at `addr` presents, PEM, as `openssl s_client` receives it.
fn served_certificate(openssl: &std::path::Path, addr: &str) -> Vec<u8> {
    let out = std::process::Command::new(openssl)
        .args(["s_client", "-connect", addr, "-servername", "localhost"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text
        .find("-----BEGIN CERTIFICATE-----")
        .expect("a certificate");
    let end = text.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----".len();
    format!("{}\n", &text[start..end]).into_bytes()
}

#[test]
fn a_self_signed_certificate_is_made_once_kept_and_verified_by_curl() {
    let (Some(curl), Some(openssl)) = (common::peer("curl"), common::peer("openssl")) else {
        return;
    };
    let db = TestDb::sqlite();
    let cert = format!("{}.tls.crt", db_path(&db));
    let key = format!("{}.tls.key", db_path(&db));
    let start = || {
        Served::start(common::command(
            &db,
            &[
                "serve",
                "--admin",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
                "--https",
                "127.0.0.1:0",
                "--phone-https",
                "127.0.0.1:0",
            ],
        ))
    };
    let s = start();
    let (fp, message) = logged_fingerprint(&s);
    assert!(
        message.starts_with("made a self-signed HTTPS certificate"),
        "{message}"
    );
    let pem = std::fs::read(&cert).unwrap();
    assert_eq!(
        openssl_fingerprint(&openssl, &pem),
        fp,
        "the log names the file's certificate"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the private key is its owner's alone");

    // curl checks the certificate against the file (its names include 127.0.0.1).
    let https = s.https.clone().expect("the admin HTTPS listener");
    let (code, body) = common::curl(&curl, &["--cacert", &cert, &format!("{https}/healthz")]);
    assert_eq!(code, 200, "{body}");
    let (code, _) = common::curl(
        &curl,
        &[
            "--cacert",
            &cert,
            "-u",
            &format!("admin:{PASSWORD}"),
            &format!("{https}/api/v1/users?limit=1"),
        ],
    );
    assert_eq!(code, 200);
    // Without trusting it, curl refuses the server (a certificate problem, not an answer).
    let (code, _) = common::curl(&curl, &[&format!("{https}/healthz")]);
    assert_eq!(code, 0, "an unknown self-signed certificate is not trusted");
    // The phone HTTPS listener presents the same certificate; a file not there is a 404.
    let phone_https = s
        .started
        .iter()
        .find(|v| v["fields"]["message"] == "phone HTTPS listener")
        .and_then(|v| v["fields"]["addr"].as_str())
        .expect("the phone HTTPS listener")
        .to_string();
    let (code, _) = common::curl(
        &curl,
        &[
            "--cacert",
            &cert,
            &format!("https://{phone_https}/SEP000000000001.cnf.xml"),
        ],
    );
    assert_eq!(code, 404);
    assert_eq!(
        openssl_fingerprint(&openssl, &served_certificate(&openssl, &phone_https)),
        fp
    );
    // Plain HTTP sent to the HTTPS port gets no answer, and the listener still serves.
    let (code, _) = common::curl(&curl, &[&format!("http://{}/healthz", &https[8..])]);
    assert_ne!(code, 200);
    let (code, _) = common::curl(&curl, &["--cacert", &cert, &format!("{https}/healthz")]);
    assert_eq!(code, 200);
    drop(s);

    // The next start keeps the certificate.
    let s = start();
    let (again, message) = logged_fingerprint(&s);
    assert_eq!(again, fp, "the certificate is kept across starts");
    assert_eq!(message, "HTTPS certificate");
}

#[test]
fn the_operators_certificate_is_served_and_a_broken_pair_stops_the_start() {
    let (Some(curl), Some(openssl)) = (common::peer("curl"), common::peer("openssl")) else {
        return;
    };
    let dir = common::temp_folder("https");
    let (cert, key) = (dir.join("prov.crt"), dir.join("prov.key"));
    let ok = std::process::Command::new(&openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=prov.test"])
        .args(["-addext", "subjectAltName=DNS:prov.test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let db = TestDb::sqlite();
    let mut cmd = common::command(
        &db,
        &[
            "serve",
            "--admin",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--https",
            "127.0.0.1:0",
        ],
    );
    cmd.env("DIALTONE_TLS__CERTIFICATE_FILE", &cert)
        .env("DIALTONE_TLS__PRIVATE_KEY_FILE", &key);
    let s = Served::start(cmd);
    let https = s.https.clone().unwrap();
    let port = https.rsplit(':').next().unwrap();
    let (code, body) = common::curl(
        &curl,
        &[
            "--cacert",
            cert.to_str().unwrap(),
            "--resolve",
            &format!("prov.test:{port}:127.0.0.1"),
            &format!("https://prov.test:{port}/healthz"),
        ],
    );
    assert_eq!(code, 200, "{body}");
    // A console log-in over HTTPS to a named host gets a Secure cookie.
    let (code, head) = common::curl(
        &curl,
        &[
            "--cacert",
            cert.to_str().unwrap(),
            "--resolve",
            &format!("prov.test:{port}:127.0.0.1"),
            "-D",
            "-",
            "-o",
            "/dev/null",
            "--data-urlencode",
            "username=admin",
            "--data-urlencode",
            &format!("password={PASSWORD}"),
            &format!("https://prov.test:{port}/login"),
        ],
    );
    assert_eq!(code, 303, "{head}");
    let cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a session cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
    let (fp, _) = logged_fingerprint(&s);
    assert_eq!(
        fp,
        openssl_fingerprint(&openssl, &std::fs::read(&cert).unwrap())
    );
    assert!(
        !std::path::Path::new(&format!("{}.tls.crt", db_path(&db))).exists(),
        "no self-signed certificate is made beside the operator's"
    );
    drop(s);

    // A key that is not the certificate's: the start stops and says why.
    let other = dir.join("other.key");
    let ok = std::process::Command::new(&openssl)
        .args([
            "genpkey",
            "-algorithm",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-out",
        ])
        .arg(&other)
        .output()
        .unwrap();
    assert!(ok.status.success());
    let out = common::command(
        &db,
        &["serve", "--admin", "127.0.0.1:0", "--http", "127.0.0.1:0"],
    )
    .env("DIALTONE_ADMIN__HTTPS_LISTEN", "127.0.0.1:0")
    .env("DIALTONE_TLS__CERTIFICATE_FILE", &cert)
    .env("DIALTONE_TLS__PRIVATE_KEY_FILE", &other)
    .output()
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("do not go together"), "{err}");
    // Only one of the two files configured is refused too.
    let out = common::command(
        &db,
        &["serve", "--admin", "127.0.0.1:0", "--http", "127.0.0.1:0"],
    )
    .env("DIALTONE_ADMIN__HTTPS_LISTEN", "127.0.0.1:0")
    .env("DIALTONE_TLS__CERTIFICATE_FILE", &cert)
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("both certificate_file and private_key_file")
    );
}

//! MPP encrypted profiles (issue 16): a phone with a key (its own, else its system's) is sent to
//! `<mac>.cfg`, its file encrypted as `openssl enc -aes-256-cbc -k KEY` does, which the real
//! `openssl enc -d` must decrypt to the very bytes of the clear file; with `required` the clear
//! file goes over HTTPS only. On SQLite and PostgreSQL, over HTTP, HTTPS and TFTP.

mod common;

use common::{peer, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use std::path::Path;
use std::process::Command;
use store::testing::TestDb;

/// The status and the raw bytes curl got for `url` (`extra` arguments first).
fn fetch(curl: &Path, extra: &[&str], url: &str) -> (u16, Vec<u8>) {
    let dir = common::temp_folder("fetched");
    let out = dir.join("body");
    let o = Command::new(curl)
        .args(["-s", "-o"])
        .arg(&out)
        .args(["-w", "%{http_code}"])
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    let code = String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (code, std::fs::read(&out).unwrap_or_default())
}

/// What `openssl enc -d` makes of `encrypted` with `key`, or `None` when it fails (a wrong key).
fn decrypt(openssl: &Path, encrypted: &[u8], key: &str) -> Option<Vec<u8>> {
    let dir = common::temp_folder("decrypt");
    let input = dir.join("profile.cfg");
    std::fs::write(&input, encrypted).unwrap();
    let o = Command::new(openssl)
        .args(["enc", "-d", "-aes-256-cbc", "-md", "md5", "-k", key, "-in"])
        .arg(&input)
        .output()
        .unwrap();
    o.status.success().then_some(o.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_profiles_decrypt_with_openssl_and_clear_ones_keep_to_https() {
    let (Some(curl), Some(openssl)) = (peer("curl"), peer("openssl")) else {
        return;
    };
    for db in TestDb::all().await {
        let dir = common::temp_folder("tls");
        let pem = web::tls::self_signed(&["127.0.0.1".into()]).unwrap();
        let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
        std::fs::write(&cert, &pem.certificate).unwrap();
        std::fs::write(&key, &pem.private_key).unwrap();
        let t = TestApp::spawn_with(&db, |c| {
            c.http.https_listen = "127.0.0.1:0".into();
            c.tls.certificate_file = Some(cert.display().to_string());
            c.tls.private_key_file = Some(key.display().to_string());
        })
        .await;
        let label = t.label;
        let http = format!("http://{}", t.app.http_addr.unwrap());
        let https = format!(
            "https://{}",
            t.app.https_addr.expect("phone HTTPS listener")
        );
        let tftp = format!("tftp://{}", t.app.tftp_addr.unwrap());
        let cacert = ["--cacert", cert.to_str().unwrap()];
        t.create(
            "/api/v1/users",
            json!({"user_id": "jsmith", "last_name": "Smith", "digest_credential": "d1gest-Secret"}),
        )
        .await;
        let phone = t
            .create(
                "/api/v1/phones",
                json!({"mac": "00562B043616", "model": "8861", "owner_user_id": "jsmith", "lines": [{"pattern": "2000"}]}),
            )
            .await;
        let set_encryption = async |mode: &str| {
            let (_, sys) = t.get("/api/v1/systems/default").await;
            let mut settings = sys["settings"].clone();
            settings["profile_encryption"] = json!(mode);
            let (s, sys) = t
                .patch(
                    "/api/v1/systems/default",
                    json!({"version": sys["version"], "settings": settings}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{sys}");
        };
        let xml = format!("{http}/00562b043616.xml");
        let cfg = format!("{http}/00562b043616.cfg");

        // Off: no encrypted file.
        assert_eq!(fetch(&curl, &[], &cfg).0, 404, "[{label}]");

        // On, no key yet: still no encrypted file, and the phone stays on its clear one.
        set_encryption("on").await;
        assert_eq!(fetch(&curl, &[], &cfg).0, 404, "[{label}]");
        let (_, body) = fetch(&curl, &[], &xml);
        assert!(String::from_utf8_lossy(&body).contains("/$MA.xml</Profile_Rule>"));

        // The system's key: checked, versioned, sealed, never shown, audited.
        let path = "/api/v1/systems/default/profile-key";
        let (_, sys) = t.get("/api/v1/systems/default").await;
        let got = t
            .put(path, json!({"version": sys["version"], "key": "has space"}))
            .await;
        t.refused(got, StatusCode::UNPROCESSABLE_ENTITY, "key");
        let (s, _) = t
            .put(path, json!({"version": 999, "key": "Sys-key.12345"}))
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (s, sys) = t
            .put(
                path,
                json!({"version": sys["version"], "key": "Sys-key.12345"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{sys}");
        assert_eq!(sys["has_profile_key"], json!(true));
        assert!(!sys.to_string().contains("Sys-key"));

        // The clear file now sends the phone to its encrypted one, key in front…
        let (code, clear) = fetch(&curl, &[], &xml);
        assert_eq!(code, 200);
        let text = String::from_utf8_lossy(&clear).to_string();
        assert!(
            text.contains(&format!(
                "<Profile_Rule ua=\"na\">[--key Sys-key.12345]{http}/$MA.cfg</Profile_Rule>"
            )),
            "[{label}] {text}"
        );
        assert!(
            text.contains("d1gest-Secret"),
            "the clear file has the SIP password"
        );
        // …which is that file, encrypted: the real openssl gives back the same bytes.
        let (code, sealed) = fetch(&curl, &[], &cfg);
        assert_eq!(code, 200);
        assert!(sealed.starts_with(b"Salted__"));
        assert!(!String::from_utf8_lossy(&sealed).contains("d1gest-Secret"));
        assert_eq!(
            decrypt(&openssl, &sealed, "Sys-key.12345").as_ref(),
            Some(&clear),
            "[{label}]"
        );
        assert_eq!(decrypt(&openssl, &sealed, "Wrong-key.123"), None);
        // Each answer has its own salt.
        let (_, again) = fetch(&curl, &[], &cfg);
        assert_ne!(again[8..16], sealed[8..16]);
        // Over TFTP too.
        let (_, over_tftp) = fetch(&curl, &[], &format!("{tftp}/00562b043616.cfg"));
        assert!(over_tftp.starts_with(b"Salted__"), "[{label}]");
        let plain = decrypt(&openssl, &over_tftp, "Sys-key.12345").expect("decrypts");
        assert!(String::from_utf8_lossy(&plain).contains("tftp://"));

        // The phone's own key wins over its system's.
        let (s, p) = t
            .put(
                "/api/v1/phones/SEP00562B043616/profile-key",
                json!({"version": phone["version"], "key": "Own-key.67890"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(p["has_profile_key"], json!(true));
        assert!(!p.to_string().contains("Own-key"));
        let (_, sealed) = fetch(&curl, &[], &cfg);
        assert!(decrypt(&openssl, &sealed, "Sys-key.12345").is_none());
        let plain = decrypt(&openssl, &sealed, "Own-key.67890").expect("the phone's key opens it");
        assert!(String::from_utf8_lossy(&plain).contains("[--key Own-key.67890]"));

        // Required: the clear file only over HTTPS (where it names HTTPS), never HTTP or TFTP.
        set_encryption("required").await;
        let (code, body) = fetch(&curl, &[], &xml);
        assert_eq!(code, 403, "[{label}] {}", String::from_utf8_lossy(&body));
        let o = Command::new(&curl)
            .args(["-s", "-o", "/dev/null"])
            .arg(format!("{tftp}/00562b043616.xml"))
            .status()
            .unwrap();
        assert!(!o.success(), "TFTP refuses the clear file");
        let (code, clear) = fetch(&curl, &cacert, &format!("{https}/00562b043616.xml"));
        assert_eq!(code, 200, "[{label}]");
        assert!(String::from_utf8_lossy(&clear)
            .contains(&format!("[--key Own-key.67890]{https}/$MA.cfg")));
        assert_eq!(
            fetch(&curl, &[], &cfg).0,
            200,
            "the encrypted file over plain HTTP"
        );

        // The preview masks the key for an administrator without read_secrets (and shows it
        // to one with it); the audit log names the changes and never the keys.
        let preview = t.file_preview("SEP00562B043616", "00562b043616.xml").await;
        assert!(preview.contains("Own-key.67890"));
        let (_, audit) = t.get("/api/v1/audit?limit=20").await;
        let audit = audit.to_string();
        assert!(audit.contains("set profile key"), "{audit}");
        assert!(!audit.contains("Own-key") && !audit.contains("Sys-key"));

        // Removing the phone's key: its system's serves again. Off: no encrypted file at all.
        let (_, p) = t.get("/api/v1/phones/SEP00562B043616").await;
        let (s, _) = t
            .delete(&format!(
                "/api/v1/phones/SEP00562B043616/profile-key?version={}",
                p["version"]
            ))
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, sealed) = fetch(&curl, &[], &cfg);
        assert!(
            decrypt(&openssl, &sealed, "Sys-key.12345").is_some(),
            "[{label}]"
        );
        set_encryption("off").await;
        assert_eq!(fetch(&curl, &[], &cfg).0, 404);
        let (code, body) = fetch(&curl, &[], &xml);
        assert_eq!(code, 200);
        assert!(!String::from_utf8_lossy(&body).contains("--key"));
        t.stop().await;
    }
}

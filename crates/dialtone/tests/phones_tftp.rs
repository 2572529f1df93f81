//! Phones fetching their files over TFTP with real clients (atftp, curl) and a raw one for the
//! cases the clients cannot make, on SQLite and PostgreSQL.

mod common;

use common::{curl, peer, TestApp};
use serde_json::{json, Value};
use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;
use store::testing::TestDb;

/// A raw read request: answers the first packet the server sends back, and the whole file when
/// the transfer goes on (acking each block, as a window-1 client does).
fn raw_rrq(server: std::net::SocketAddr, fields: &[&str], opcode: u8) -> (Vec<u8>, Vec<u8>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = vec![0, opcode];
    for f in fields {
        req.extend_from_slice(f.as_bytes());
        req.push(0);
    }
    sock.send_to(&req, server).unwrap();
    let mut buf = vec![0u8; 70000];
    let (n, from) = sock.recv_from(&mut buf).unwrap();
    let first = buf[..n].to_vec();
    let mut file = Vec::new();
    let mut pkt = first.clone();
    while pkt.len() >= 4 && pkt[1] == 3 {
        file.extend_from_slice(&pkt[4..]);
        sock.send_to(&[0, 4, pkt[2], pkt[3]], from).unwrap();
        if pkt.len() - 4 < 512 {
            break;
        }
        let (n, _) = sock.recv_from(&mut buf).unwrap();
        pkt = buf[..n].to_vec();
    }
    (first, file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_get_their_files_over_tftp() {
    let Some(atftp) = peer("atftp") else { return };
    let Some(curl_bin) = peer("curl") else { return };
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let tftp = t.app.tftp_addr.expect("the TFTP listener is on");
        // A big file: a 7960 with two expansion modules and 34 lines.
        let lines: Vec<Value> = (0..34).map(|i| json!({"pattern": format!("{}", 3000 + i), "label": format!("Line {i} with a long label"), "display": "Reception desk"})).collect();
        t.create("/api/v1/phones", json!({"mac": "00562B500001", "model": "7960", "protocol": "SIP", "expansion_modules": ["7914", "7914"], "lines": lines})).await;
        let expected = t
            .client
            .get(t.url("/api/v1/phones/SEP00562B500001/files/SEP00562B500001.cnf.xml"))
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec();
        assert!(expected.len() > 8000, "{} bytes", expected.len());

        let dir =
            std::env::temp_dir().join(format!("dialtone-tftp-{}-{}", std::process::id(), t.label));
        std::fs::create_dir_all(&dir).unwrap();
        let port = tftp.port().to_string();
        // atftp with blksize and windowsize (RFC 7440), and tsize.
        for opts in [
            vec![],
            vec!["blksize 1428"],
            vec!["blksize 1428", "windowsize 16", "tsize 0"],
            vec!["blksize 512", "windowsize 4"],
        ] {
            let out = dir.join("atftp.xml");
            let _ = std::fs::remove_file(&out);
            let mut cmd = Command::new(&atftp);
            cmd.args(["-g", "-r", "SEP00562B500001.cnf.xml", "-l"])
                .arg(&out);
            for o in &opts {
                cmd.args(["--option", o]);
            }
            let status = cmd.args(["127.0.0.1", &port]).output().unwrap();
            assert!(
                status.status.success(),
                "[{}] atftp {opts:?}: {}",
                t.label,
                String::from_utf8_lossy(&status.stderr)
            );
            assert_eq!(
                std::fs::read(&out).unwrap(),
                expected,
                "[{}] atftp {opts:?}",
                t.label
            );
        }
        // curl with --tftp-blksize.
        let (_, body) = curl(
            &curl_bin,
            &[
                "--tftp-blksize",
                "1428",
                &format!("tftp://127.0.0.1:{port}/SEP00562B500001.cnf.xml"),
            ],
        );
        assert_eq!(body.as_bytes(), &expected[..], "curl tftp");

        // An MPP phone that came by TFTP is sent on to its own file by TFTP (a TFTP request
        // for spa$PSN.cfg could not say which phone asks), and the preview `?via=tftp` shows
        // exactly those bytes.
        t.create(
            "/api/v1/phones",
            json!({"mac": "00562B500002", "model": "8861", "lines": [{"pattern": "3100"}]}),
        )
        .await;
        let (_, mpp) = curl(
            &curl_bin,
            &[&format!("tftp://127.0.0.1:{port}/00562b500002.xml")],
        );
        let rule =
            format!("<Profile_Rule ua=\"na\">tftp://127.0.0.1:{port}/$MA.xml</Profile_Rule>");
        assert!(mpp.contains(&rule), "{mpp}");
        let preview = |via: &str| {
            t.client
                .get(t.url(&format!(
                    "/api/v1/phones/SEP00562B500002/files/00562b500002.xml?via={via}"
                )))
                .bearer_auth(&t.token)
                .send()
        };
        let r = preview("tftp").await.unwrap();
        assert_eq!(
            r.text().await.unwrap(),
            mpp,
            "[{}] preview via tftp",
            t.label
        );
        let http = preview("http").await.unwrap().text().await.unwrap();
        assert!(http.contains("<Profile_Rule ua=\"na\">http://"), "{http}");
        let r = preview("ftp").await.unwrap();
        assert_eq!(r.status(), 400);

        let st = t.status_now("SEP00562B500001").await;
        assert_eq!(
            (st["protocol"].as_str(), st["file"].as_str()),
            (Some("tftp"), Some("SEP00562B500001.cnf.xml")),
            "{st}"
        );

        // Missing files, security files and escapes: errors at once.
        for (name, code) in [
            ("SEP0000000000AA.cnf.xml", 1),
            ("CTLSEP00562B500001.tlv", 1),
            ("ITLSEP00562B500001.tlv", 1),
            ("../etc/passwd", 2),
            ("a\\b", 2),
            ("//etc/passwd", 2),
        ] {
            let (first, _) = raw_rrq(tftp, &[name, "octet"], 1);
            assert_eq!(
                (first[1], first[3]),
                (5, code),
                "[{}] {name}: {first:?}",
                t.label
            );
        }
        // Writes are refused; unknown modes too.
        let (first, _) = raw_rrq(tftp, &["x.cfg", "octet"], 2);
        assert_eq!((first[1], first[3]), (5, 2));
        let (first, _) = raw_rrq(tftp, &["x.cfg", "mail"], 1);
        assert_eq!((first[1], first[3]), (5, 4));
        // Netascii: line ends become CR LF.
        let (_, file) = raw_rrq(tftp, &["SEP00562B500001.cnf.xml", "netascii"], 1);
        let crlf = String::from_utf8(expected.clone())
            .unwrap()
            .replace('\n', "\r\n");
        assert_eq!(String::from_utf8(file).unwrap(), crlf);
        std::fs::remove_dir_all(&dir).unwrap();
        t.stop().await;
    }
}

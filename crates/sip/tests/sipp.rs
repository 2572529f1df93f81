//! The NOTIFY against a real SIP peer: sipp (Debian `sip-tester`) plays a phone that checks the
//! request line, Event, Via branch and CSeq, challenges with 401, and verifies the digest answer.

use dialtone_sip::{Notifier, Outcome, ResyncEvent, Target, Timers};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

fn sipp() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("sipp"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("DIALTONE_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("sipp is required (DIALTONE_REQUIRE_PEERS=1): apt-get install sip-tester");
        }
        eprintln!("SKIPPED: sipp is not installed (apt-get install sip-tester)");
    }
    found
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn run(password: &str) -> (Outcome, bool) {
    let bin = sipp().unwrap();
    let port = free_udp_port();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/phone-with-auth.xml");
    let child = Command::new(bin)
        .args(["-sf", scenario, "-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-m", "1", "-timeout", "20s", "-nostdin"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sipp");
    // sipp needs a moment to bind.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let n = Notifier::bind("127.0.0.1:0".parse().unwrap(), Timers::default())
        .await
        .unwrap();
    let target = Target {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        user: Some("2000".into()),
        event: ResyncEvent::Resync,
        credential: Some(("jsmith".into(), model::Secret::new(password))),
    };
    let outcome = n.notify(&target).await;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    if !out.status.success() {
        eprintln!("sipp: {}", String::from_utf8_lossy(&out.stderr));
    }
    (outcome, out.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_accepts_the_notify_and_the_digest_answer() {
    if sipp().is_none() {
        return;
    }
    let (outcome, sipp_ok) = run("d1gest").await;
    assert_eq!(outcome, Outcome::Accepted { code: 200 });
    assert!(sipp_ok, "sipp saw something it did not expect");
    // A wrong password: sipp's check refuses it.
    let (outcome, _) = run("wrong").await;
    assert_eq!(
        outcome,
        Outcome::Refused {
            code: 403,
            reason: "Forbidden".into()
        }
    );
}

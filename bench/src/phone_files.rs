//! Serves N phones' files for a side-by-side run: seeds a fresh database with N phones (two lines
//! each, models 7960 and 8861 alternately), starts the real server, fetches every phone's file
//! once over HTTP and writes the same bytes into a directory (for nginx), writes the list of
//! paths, prints `READY http://ADDR`, and serves for the given number of seconds.
//! With `--base URL` the exported files are those phones get through that URL (e.g. the
//! address a server will serve them from later), rendered directly; `--export-tftp DIR
//! --tftp-base tftp://ADDR` also exports the files as they are served over TFTP.
//! Usage: phone-files --db URL --phones N --export DIR --seconds S [--base URL]
//! [--export-tftp DIR --tftp-base URL]

use anyhow::Context;
use model::{AppearanceInput, NewPhone};
use service::Actor;
use std::time::Duration;

fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let db = arg(&args, "--db").context("--db URL")?;
    let phones: usize = arg(&args, "--phones")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let export = std::path::PathBuf::from(arg(&args, "--export").context("--export DIR")?);
    let seconds: u64 = arg(&args, "--seconds")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(60);
    let mut cfg = dialtone::Config::default();
    cfg.admin.https_listen.clear();
    cfg.database.url = db;
    cfg.admin.listen = "127.0.0.1:0".into();
    cfg.http.listen = "127.0.0.1:0".into();
    cfg.admin_password = Some("bench-password".into());
    // The same key as the server that serves this database later, when one is given.
    cfg.secret_key = Some(
        std::env::var("DIALTONE_SECRET_KEY")
            .unwrap_or_else(|_| service::SecretKey::generate().to_base64()),
    );
    let app = dialtone::App::build(&cfg).await?;
    let svc = app.service.clone();
    let a = Actor::new("bench");
    let t0 = std::time::Instant::now();
    let mut paths = Vec::with_capacity(phones);
    for i in 0..phones {
        let mac = format!("0A{:010X}", i);
        let mpp = i % 2 == 1;
        let lines = vec![
            AppearanceInput {
                pattern: format!("{}", 100_000 + i),
                label: format!("Line of phone {i}"),
                display: format!("Phone {i}"),
                ..Default::default()
            },
            AppearanceInput {
                pattern: format!("{}", 100_000 + (i ^ 1)),
                label: "Shared".into(),
                ..Default::default()
            },
        ];
        svc.create_phone(
            &a,
            NewPhone {
                mac: Some(mac.clone()),
                model: if mpp { "8861".into() } else { "7960".into() },
                protocol: Some("SIP".into()),
                description: format!("Bench phone {i}"),
                lines,
                ..Default::default()
            },
        )
        .await?;
        paths.push(if mpp {
            format!("/{}.xml", mac.to_lowercase())
        } else {
            format!("/SEP{mac}.cnf.xml")
        });
    }
    eprintln!(
        "seeded {phones} phones in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let http = app.http_addr.context("http listener")?;
    std::fs::create_dir_all(&export)?;
    let client = reqwest::Client::new();
    let mut total = 0usize;
    let provisioner =
        provision::Provisioner::new(svc.clone(), std::sync::Arc::new(dialtone::renderer(&cfg)));
    let rendered = |p: String, base: String| {
        let provisioner = provisioner.clone();
        async move {
            provisioner
                .fetch(&p, None, &base)
                .await?
                .file_bytes()
                .map_err(anyhow::Error::msg)
        }
    };
    let base = arg(&args, "--base");
    for p in &paths {
        let bytes = match &base {
            Some(b) => rendered(p.clone(), b.clone()).await?,
            None => {
                client
                    .get(format!("http://{http}{p}"))
                    .send()
                    .await?
                    .error_for_status()?
                    .bytes()
                    .await?
            }
        };
        total += bytes.len();
        std::fs::write(export.join(p.trim_start_matches('/')), &bytes)?;
    }
    if let Some(dir) = arg(&args, "--export-tftp") {
        let dir = std::path::PathBuf::from(dir);
        let base = arg(&args, "--tftp-base").context("--tftp-base tftp://ADDR")?;
        std::fs::create_dir_all(&dir)?;
        for p in &paths {
            let bytes = rendered(p.clone(), base.clone()).await?;
            std::fs::write(dir.join(p.trim_start_matches('/')), &bytes)?;
        }
    }
    std::fs::write(export.join("paths.txt"), paths.join("\n") + "\n")?;
    eprintln!(
        "exported {} files, {} bytes on average",
        paths.len(),
        total / paths.len().max(1)
    );
    println!("READY http://{http}");
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let mut app = app;
    app.stop().await?;
    Ok(())
}

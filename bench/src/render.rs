//! Phone files rendered from the store with a cold render cache, per core: the whole process
//! (its runtime and the database driver's worker) is kept to one CPU, so files/s here is files
//! per second of one core. For each device family (Cisco enterprise 7960, MPP 8861, soft
//! client CUPC) it times:
//! - one request at a time (a phone alone asking for a file nobody asked for yet);
//! - 256 requests at once (a boot storm: misses gathered into batches);
//!
//! and then a full scan (the resync engine rendering every phone's every file). Each measurement starts from a fresh provisioner, so nothing is in its cache; the database's
//! own pages are warm, as on a running server. Prints one JSON object per measurement.
//!
//! Usage: render --db URL [--per-family N] [--soft N] [--vendor N] (CACHE_MB sets the render
//! cache's size, SQLITE_CACHE_MB and SQLITE_MMAP_MB SQLite's memory). `--vendor N` adds N
//! phones of each other vendor, as an installation has them: two lines, a speed dial and a
//! BLF key, an owner with a SIP credential and an LDAP profile (its bind password in the file),
//! and an HTTP credential of their own, every secret sealed at rest and opened for the file.

use anyhow::Context;
use model::NewPhone;
use service::{Actor, Service};
use std::sync::Arc;
use std::time::Instant;

fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> anyhow::Result<()> {
    service::keep_to_one_cpu();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

/// Adds `n` soft clients (each with its user), unless the database has them already.
async fn seed_soft_clients(svc: &Service, n: usize) -> anyhow::Result<()> {
    let a = Actor::new("bench");
    for i in 0..n {
        let user = format!("soft{i:06}");
        if svc
            .phone(&format!("UPC{}", user.to_uppercase()))
            .await
            .is_ok()
        {
            continue;
        }
        let u = serde_json::json!({
            "user_id": user, "last_name": "Soft", "first_name": format!("Client {i}"),
            "digest_credential": format!("d1gest-{i}")
        });
        svc.create_user(&a, serde_json::from_value(u)?).await?;
        svc.create_phone(
            &a,
            NewPhone {
                model: "CUPC".into(),
                owner_user_id: Some(user),
                lines: vec![model::AppearanceInput {
                    pattern: format!("{}", 900_000 + i),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(())
}

/// The other vendors' models the bench seeds, and the family each is timed under.
const VENDORS: [(&str, &str); 4] = [
    ("T46U", "yealink"),
    ("VVX450", "polycom"),
    ("GXP2170", "grandstream"),
    ("D785", "snom"),
];

/// Adds `n` phones of each other vendor (and their owners, an LDAP profile), unless the
/// database has them already.
async fn seed_vendor_phones(svc: &Service, n: usize) -> anyhow::Result<()> {
    let a = Actor::new("bench");
    if n == 0 || svc.ldap_profile("bench-corp").await.is_ok() {
        return Ok(());
    }
    svc.create_ldap_server(
        &a,
        serde_json::from_value(
            serde_json::json!({"name": "bench-dc", "host": "dc1.example.com", "security": "ldaps"}),
        )?,
    )
    .await?;
    svc.create_ldap_profile(
        &a,
        serde_json::from_value(serde_json::json!({
            "name": "bench-corp", "primary_server": "bench-dc", "bind_dn": "cn=phones,dc=example,dc=com",
            "password": "B1nd-pass&word", "search_context": "ou=people,dc=example,dc=com"
        }))?,
    )
    .await?;
    for u in 0..100 {
        let user = serde_json::json!({
            "user_id": format!("vendor{u:03}"), "last_name": "Vendor", "first_name": format!("Owner {u}"),
            "digest_credential": format!("d1gest-{u}&<x>"), "app_profiles": {"ldap": "bench-corp"}
        });
        svc.create_user(&a, serde_json::from_value(user)?).await?;
    }
    for (k, (model, _)) in VENDORS.iter().enumerate() {
        for i in 0..n {
            let phone = serde_json::json!({
                "mac": format!("0E{k:02X}00{i:06X}"), "model": model,
                "owner_user_id": format!("vendor{:03}", i % 100),
                // Its own line, and its neighbour's (shared by the two, as `phone-files` pairs
                // phones).
                "lines": [{"pattern": format!("{}", 700_000 + k * 100_000 + i), "label": "Desk"},
                          {"pattern": format!("{}", 700_000 + k * 100_000 + (i ^ 1)), "label": "Neighbour"}],
                "speed_dials": [{"position": 3, "number": "5550100", "label": "Home"},
                                {"position": 4, "number": format!("{}", 700_000 + k * 100_000 + (i ^ 1)), "label": "Neighbour", "blf": true}]
            });
            let made = svc.create_phone(&a, serde_json::from_value(phone)?).await?;
            svc.set_phone_http_password(
                &a,
                &made.name,
                serde_json::from_value(serde_json::json!({"version": made.version, "password": format!("Ph0ne-{i}.pass")}))?,
            )
            .await?;
        }
    }
    Ok(())
}

async fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mut cfg = dialtone::Config::default();
    cfg.admin.https_listen.clear();
    cfg.database.url = arg(&args, "--db").context("--db URL")?;
    cfg.admin_password = Some("bench-password".into());
    cfg.secret_key = Some(std::env::var("DIALTONE_SECRET_KEY").context("DIALTONE_SECRET_KEY")?);
    let per_family: usize = arg(&args, "--per-family")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5_000);
    let soft: usize = arg(&args, "--soft")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2_000);
    // SQLITE_CACHE_MB and SQLITE_MMAP_MB: the server's `database.sqlite_cache_mb` and
    // `database.sqlite_mmap_mb`.
    let env_mb = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    if let Some(mb) = env_mb("SQLITE_CACHE_MB") {
        cfg.database.sqlite_cache_mb = mb;
    }
    if let Some(mb) = env_mb("SQLITE_MMAP_MB") {
        cfg.database.sqlite_mmap_mb = mb;
    }
    let vendor: usize = arg(&args, "--vendor")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2_000);
    let (svc, _) = dialtone::open_service(&cfg).await?;
    seed_soft_clients(&svc, soft).await?;
    seed_vendor_phones(&svc, vendor).await?;
    let renderer = Arc::new(dialtone::renderer(&cfg));
    let cache_bytes = std::env::var("CACHE_MB")
        .ok()
        .and_then(|m| m.parse::<u64>().ok())
        .map_or(provision::DEFAULT_CACHE_BYTES, |m| m << 20);
    let fresh = || provision::Provisioner::with_cache(svc.clone(), renderer.clone(), cache_bytes);
    let base = "http://127.0.0.1:6970";

    // Every phone's own file, by family.
    let ids = svc.phone_ids().await?;
    let mut by_family: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for (c, v) in fresh().phone_views(&ids, base).await? {
        let family = match c.model.as_str() {
            "7960" => "enterprise",
            "8861" => "mpp",
            "CUPC" => "soft_client",
            m => match VENDORS.iter().find(|(model, _)| *model == m) {
                Some((_, f)) => *f,
                None => continue,
            },
        };
        let files = by_family.entry(family).or_default();
        if files.len() < per_family {
            if VENDORS.iter().any(|(_, f)| *f == family) {
                // Each of its own files (its vendor's common files are the same for all).
                files.extend(v.files().into_iter().filter(|f| {
                    matches!(
                        render::family::identify(f),
                        Some((_, render::Asked::Device(_)))
                    )
                }));
            } else if let Some(f) = v.files().last() {
                // The device's own file (an MPP phone's first-contact file is the same for all).
                files.push(f.clone());
            }
        }
    }
    for (family, files) in &by_family {
        // One at a time.
        let p = fresh();
        let t = Instant::now();
        let mut bytes = 0;
        for f in files {
            bytes += p
                .fetch(f, None, base)
                .await?
                .file_bytes()
                .map_err(anyhow::Error::msg)?
                .len();
        }
        report(family, "one at a time", files.len(), bytes, t);
        // 256 at once.
        let p = fresh();
        let t = Instant::now();
        let mut bytes = 0;
        for chunk in files.chunks(256) {
            let mut set = tokio::task::JoinSet::new();
            for f in chunk {
                let (p, f) = (p.clone(), f.clone());
                set.spawn(async move { p.fetch(&f, None, base).await });
            }
            while let Some(r) = set.join_next().await {
                bytes += r??.file_bytes().map_err(anyhow::Error::msg)?.len();
            }
        }
        report(family, "256 at once", files.len(), bytes, t);
    }
    // Where a full scan's time goes: reading, then rendering what was read.
    let t = Instant::now();
    let mut read = Vec::new();
    for part in ids.chunks(500) {
        read.extend(fresh().phone_views(part, base).await?);
    }
    report("read only", "full scan", read.len(), 0, t);
    let t = Instant::now();
    let mut files = 0;
    let mut bytes = 0;
    for (_, v) in &read {
        for f in v.files() {
            if let Some(r) = renderer.render(v, &f) {
                bytes += r?.bytes.len();
                files += 1;
            }
        }
    }
    report("render only", "full scan", files, bytes, t);
    // Every phone's every file, as the resync engine renders them.
    let p = fresh();
    let t = Instant::now();
    let mut files = 0;
    let mut bytes = 0;
    // In parts of 2,000 phones, as the resync engine scans them.
    for part in ids.chunks(2_000) {
        for (_, _, f) in p.render_phones(part, base).await? {
            files += f.len();
            bytes += f.iter().map(|(_, b)| b.len()).sum::<usize>();
        }
    }
    report(
        &format!("all {} phones", ids.len()),
        "full scan",
        files,
        bytes,
        t,
    );
    svc.close().await;
    Ok(())
}

fn report(what: &str, how: &str, files: usize, bytes: usize, t: Instant) {
    let s = t.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "files": what,
            "requests": how,
            "count": files,
            "seconds": (s * 1000.0).round() / 1000.0,
            "files_per_second_per_core": (files as f64 / s).round(),
            "microseconds_per_file": ((s * 1e6 / files.max(1) as f64) * 10.0).round() / 10.0,
            "average_bytes": bytes / files.max(1),
        })
    );
}

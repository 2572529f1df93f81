//! Finding users by name prefix among N users through the REST API.
//!
//! Seeds a fresh database (SQLite file or PostgreSQL database) with N users straight through
//! the store in large transactions, starts the real server on 127.0.0.1 port 0, then sends
//! `GET /api/v1/users?q=PREFIX` with prefixes of 1 to 4 letters taken from the seeded names:
//! first one client after the other (latency), then C clients at once (throughput); once in
//! the default order (by the name that matched) and once sorted by last name.
//! Usage: user-prefix --db URL [--users N] [--requests R] [--clients C] [--reuse]
//!        [--sqlite-cache-mb N] [--sqlite-mmap-mb N]

use anyhow::{bail, Context};
use std::time::{Duration, Instant};
use store::users::UserRow;

const SYL: &[&str] = &[
    "an", "ber", "cal", "dor", "el", "fen", "gar", "hol", "is", "jen", "kar", "lin", "mor", "nel",
    "ost", "per", "quin", "ros", "sal", "tor", "ul", "ver", "wil", "yor", "zan", "smi", "th",
    "son", "ley", "ton",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

fn name(r: &mut Rng, parts: usize) -> String {
    let mut s: String = (0..parts).map(|_| r.pick(SYL)).collect();
    s[..1].make_ascii_uppercase();
    s
}

async fn sqlx_exec(store: &store::Store, sql: &str) -> anyhow::Result<()> {
    let mut c = store.read().await?;
    store::exec(&mut c, sql).await?;
    Ok(())
}

fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let db = arg(&args, "--db").context("--db URL is required")?;
    let users: usize = arg(&args, "--users")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let requests: usize = arg(&args, "--requests")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2_000);
    let clients: usize = arg(&args, "--clients")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(8);

    let store = store::Store::open(&db).await?;
    let held = {
        let mut c = store.read().await?;
        let n: i64 = store::users::find(
            &mut c,
            &store::Find {
                limit: 1,
                ..Default::default()
            },
        )
        .await?
        .total;
        n
    };
    // `--reuse`: a database this program seeded before with as many users is measured again
    // (the names are generated again, the same), which saves minutes at a million users.
    let reuse = args.iter().any(|a| a == "--reuse") && held == users as i64;
    if held > 0 && !reuse {
        bail!("{db} already holds {held} users: give a fresh database (or --reuse one this program seeded with --users {held})");
    }
    // The system the first start makes; then N users, 5,000 per transaction.
    let mut cfg = dialtone::Config::default();
    cfg.admin.https_listen.clear();
    cfg.database.url = db.clone();
    cfg.admin.listen = "127.0.0.1:0".into();
    // --sqlite-cache-mb / --sqlite-mmap-mb: the server's SQLite memory (configuration
    // database.sqlite_cache_mb and database.sqlite_mmap_mb).
    if let Some(mb) = arg(&args, "--sqlite-cache-mb") {
        cfg.database.sqlite_cache_mb = mb.parse()?;
    }
    if let Some(mb) = arg(&args, "--sqlite-mmap-mb") {
        cfg.database.sqlite_mmap_mb = mb.parse()?;
    }
    cfg.admin_password = Some("bench-password".into());
    // A fixed key, so a reused database opens again (nothing secret is stored here).
    cfg.secret_key = Some("YmVuY2gtb25seS1rZXktbm90LWEtc2VjcmV0LTEyMzQ=".into());
    let (svc, _) = dialtone::open_service(&cfg).await?;
    let system_id = svc.systems().await?[0].id;
    let mut rng = Rng(0x2545F4914F6CDD1D);
    let mut names = Vec::with_capacity(users);
    let t0 = Instant::now();
    let mut i = 0;
    // A reused database: the same names generated again, nothing written.
    while reuse && i < users {
        let _first = name(&mut rng, 2);
        let parts = 2 + (rng.next() % 2) as usize;
        names.push(name(&mut rng, parts));
        i += 1;
    }
    while i < users {
        let mut tx = store.write().await?;
        for _ in 0..5_000.min(users - i) {
            let first = name(&mut rng, 2);
            let parts = 2 + (rng.next() % 2) as usize;
            let last = name(&mut rng, parts);
            let row = UserRow {
                system_id,
                user_id: format!("{}{}{i}", first[..1].to_lowercase(), last.to_lowercase()),
                first_name: first.clone(),
                last_name: last.clone(),
                ..Default::default()
            };
            store::users::insert(tx.conn(), &row).await?;
            names.push(last);
            i += 1;
        }
        tx.commit().await?;
    }
    if !reuse {
        eprintln!(
            "seeded {users} users in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
    }
    // Measure the steady state: statistics gathered and, on PostgreSQL, the visibility map set
    // (what autovacuum does after a bulk load), so index-only scans are possible.
    match store.backend() {
        store::Backend::Postgres => sqlx_exec(&store, "VACUUM ANALYZE users").await?,
        store::Backend::Sqlite => sqlx_exec(&store, "ANALYZE").await?,
    }
    svc.close().await;

    let app = dialtone::App::build(&cfg).await?;
    let base = format!("http://{}/api/v1", app.admin_addr);
    let client = reqwest::Client::new();
    let token: serde_json::Value = client
        .post(format!("{base}/tokens"))
        .basic_auth("admin", Some("bench-password"))
        .json(&serde_json::json!({"name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    let token = token["token"].as_str().context("token")?.to_string();
    let prefixes: Vec<String> = (0..requests)
        .map(|k| {
            let n = &names[(rng.next() % names.len() as u64) as usize];
            n[..1 + k % 4.min(n.len())].to_lowercase()
        })
        .collect();

    // Warm up, then for each order: one client after the other, then C clients at once.
    for p in prefixes.iter().take(50) {
        client
            .get(format!("{base}/users?q={p}"))
            .bearer_auth(&token)
            .send()
            .await?
            .bytes()
            .await?;
    }
    // Sorting orders every match, hundreds of milliseconds for a broad prefix among a million
    // users: a tenth of the requests there.
    for (order, extra, requests) in [
        ("match", "", requests),
        ("last_name", "&sort=last_name", requests.div_ceil(10)),
    ] {
        let prefixes = &prefixes[..requests];
        let mut lat = Vec::with_capacity(requests);
        let (mut shown, mut capped) = (0u64, 0u64);
        for p in prefixes {
            let t = Instant::now();
            let r = client
                .get(format!("{base}/users?q={p}{extra}"))
                .bearer_auth(&token)
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("GET users?q={p}{extra}: {}", r.status());
            }
            let v: serde_json::Value = r.json().await?;
            lat.push(t.elapsed());
            shown += v["items"].as_array().map_or(0, |a| a.len() as u64);
            capped += u64::from(v["total_exact"] == serde_json::Value::Bool(false));
        }
        lat.sort();

        // C clients at once, bounded by count.
        let t = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            let mine: Vec<String> = prefixes.iter().skip(c).step_by(clients).cloned().collect();
            tasks.push(tokio::spawn(async move {
                for p in mine {
                    client
                        .get(format!("{base}/users?q={p}{extra}"))
                        .bearer_auth(&token)
                        .send()
                        .await?
                        .bytes()
                        .await?;
                }
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let rps = requests as f64 / t.elapsed().as_secs_f64();

        println!(
            "{{\"backend\": \"{}\", \"users\": {users}, \"order\": \"{order}\", \"requests\": {requests}, \"mean_items\": {:.1}, \"counted_past_1000\": {capped}, \"p50_ms\": {:.2}, \"p99_ms\": {:.2}, \"max_ms\": {:.2}, \"clients\": {clients}, \"requests_per_s\": {:.0}}}",
            if db.starts_with("sqlite") { "sqlite" } else { "postgres" },
            shown as f64 / requests as f64,
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            pct(&lat, 1.0),
            rps
        );
    }
    let mut app = app;
    app.stop().await?;
    Ok(())
}

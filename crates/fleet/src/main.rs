//! `fleet`: plays N IP phones against a provisioning server, over the wire protocols only (HTTP,
//! TFTP, SIP, syslog), each phone from its own loopback address (127.a.b.c) as a phone on its
//! own IP would. It can point at any server: Dialtone, or nginx / tftpd-hpa serving static
//! files for a side-by-side run.
//!
//! It ends by printing one JSON object: `phones`, `provisioned` (phones whose file is the one the
//! server holds, by the administrators' preview when `--admin` is given, else phones that got
//! their own file), `requests`, `errors`, `p50_ms`, `p99_ms`, `elapsed_s`,
//! `last_provisioned_s`, `notifies`, `em_logins`, `em_logouts`; and exits non-zero when not
//! every phone was provisioned.
#![forbid(unsafe_code)]

mod phone;
mod sip;
mod tftp;
mod vendor;

use anyhow::{bail, Context};
use clap::Parser;
use model::profile_rule::ProfileRule;
use phone::{Family, Fleet, Phone};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "fleet",
    about = "Plays a fleet of IP phones against a provisioning server"
)]
struct Args {
    /// How many phones.
    #[arg(long, default_value_t = 10)]
    phones: usize,
    /// Their model, or models in turn (`8861,7960`): MPP models follow profile rules, others
    /// fetch SEP<MAC>.cnf.xml.
    #[arg(long, default_value = "8861")]
    model: String,
    /// MACs are this prefix (hex) followed by a counter, 12 hex digits in all.
    #[arg(long, default_value = "00562B")]
    mac_prefix: String,
    /// The counter's first value, in hex like the MAC (`040000`).
    #[arg(long, default_value = "1", value_parser = hex_counter)]
    mac_start: usize,
    /// Fetch over HTTP from this base URL (`http://127.0.0.1:6970`); several, comma-separated,
    /// are the nodes of a cluster: phone i starts on node i mod n (as round-robin DNS spreads
    /// them) and fails over to the next nodes in turn when its node does not answer.
    #[arg(long, value_delimiter = ',')]
    http: Vec<String>,
    /// Fetch over TFTP from this server (and take it as the DHCP option 66 server); several,
    /// comma-separated, are a cluster's nodes, as DHCP option 150 lists them.
    #[arg(long, value_delimiter = ',')]
    tftp: Vec<SocketAddr>,
    /// The Profile Rule MPP phones start with, as DHCP option 160 hands it out
    /// (`tftp://10.0.0.5/$MA.xml`); by default `$PSN.xml` on the --http or --tftp server. Over
    /// TFTP a phone asking for `$PSN.xml` cannot say who it is (no User-Agent): the server
    /// answers it only with auto-registration on.
    #[arg(long)]
    profile_rule: Option<String>,
    /// TFTP block size the phones ask for.
    #[arg(long, default_value_t = 1428)]
    blksize: u16,
    /// TFTP window the phones ask for (RFC 7440): blocks sent per acknowledgement; 1 is the
    /// lockstep of RFC 1350.
    #[arg(long, default_value_t = 1)]
    windowsize: u16,
    /// The admin API, to compare what each phone got with what the server holds.
    #[arg(long)]
    admin: Option<String>,
    #[arg(long, default_value = "admin")]
    admin_user: String,
    #[arg(long, env = "FLEET_ADMIN_PASSWORD", default_value = "")]
    admin_password: String,
    /// Send the phones' resync log messages here.
    #[arg(long)]
    syslog: Option<SocketAddr>,
    /// The port each phone listens on for SIP NOTIFY, on its own address; 0 turns SIP off.
    #[arg(long, default_value_t = 5060)]
    sip_port: u16,
    /// Challenge each NOTIFY with a 401 before accepting it.
    #[arg(long)]
    challenge: bool,
    /// Phone time runs this many times faster than real time (random delays, periodic
    /// resyncs, retries).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Resync Random Delay the phones boot with, in units of 20 s (phone time).
    #[arg(long, default_value_t = 0)]
    boot_random_delay: u64,
    /// Run this many seconds (real time); without it, stop once every phone has its file.
    #[arg(long)]
    duration: Option<f64>,
    /// Without --duration: give up after this many seconds (real time) when some phones still
    /// have no file (the report says how many).
    #[arg(long, default_value_t = 600.0)]
    give_up: f64,
    /// Requests open at once at most.
    #[arg(long, default_value_t = 512)]
    concurrency: usize,
    /// Extension mobility: once it has its file, each phone logs in from its services menu as
    /// this user, `{i}` replaced by the phone's index from 0 (`emuser{i}`); enterprise phones.
    #[arg(long)]
    em_user: Option<String>,
    /// The PIN those users log in with.
    #[arg(long, default_value = "")]
    em_pin: String,
    /// Phone-time seconds after logging in that each phone logs out again.
    #[arg(long)]
    em_logout_after: Option<f64>,
    /// Phone-time seconds after a phone got its file that its user logs in.
    #[arg(long, default_value_t = 60.0)]
    em_login_after: f64,
    /// Write each phone's outcome (name, provisioned, notifies) here, one JSON object a line.
    #[arg(long)]
    per_phone: Option<std::path::PathBuf>,
}

/// The phone's own address: 127.a.b.c from 127.1.1.1 on, leaving 127.0.0.0/16 to servers.
fn address(i: usize) -> IpAddr {
    let c = (i % 254) + 1;
    let b = (i / 254) % 254 + 1;
    let a = i / (254 * 254) + 1;
    IpAddr::V4(Ipv4Addr::new(127, a as u8, b as u8, c as u8))
}

fn hex_counter(s: &str) -> Result<usize, String> {
    usize::from_str_radix(s, 16).map_err(|_| format!("{s:?} is not a hex number"))
}

fn mac(prefix: &str, n: usize) -> anyhow::Result<String> {
    let p = prefix.to_ascii_uppercase();
    if p.len() > 11 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("--mac-prefix is 0 to 11 hex digits");
    }
    let width = 12 - p.len();
    let counter = format!("{n:0width$X}");
    if counter.len() > width {
        bail!("the counter {n} does not fit after the MAC prefix {prefix}");
    }
    Ok(format!("{p}{counter}"))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("fleet: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    if args.http.is_empty() && args.tftp.is_empty() {
        bail!("say where the phones fetch from: --http URL or --tftp HOST:PORT");
    }
    if let Some(rule) = &args.profile_rule {
        if let Err(e) = ProfileRule::parse("--profile-rule", rule) {
            bail!("{e}");
        }
    }
    if args.time_scale <= 0.0 {
        bail!("--time-scale is more than 0");
    }
    let models: Vec<String> = args
        .model
        .split(',')
        .map(|m| m.trim().to_string())
        .collect();
    let now = time::OffsetDateTime::now_utc();
    let fleet = Arc::new(Fleet {
        http: args
            .http
            .iter()
            .map(|h| h.trim_end_matches('/').to_string())
            .collect(),
        tftp: args.tftp.clone(),
        syslog: args.syslog,
        scale: args.time_scale,
        blksize: args.blksize,
        windowsize: args.windowsize.max(1),
        boot_random_delay: args.boot_random_delay,
        profile_rule: args.profile_rule.clone(),
        start: Instant::now(),
        sim_start_of_day: f64::from(now.hour()) * 3600.0
            + f64::from(now.minute()) * 60.0
            + f64::from(now.second()),
        requests: Default::default(),
        errors: Default::default(),
        latencies_us: Default::default(),
        open: tokio::sync::Semaphore::new(args.concurrency.max(1)),
        provisioned: Default::default(),
        em_user: args.em_user.clone(),
        em_pin: args.em_pin.clone(),
        em_logout_after: args.em_logout_after,
        em_login_after: args.em_login_after,
        em_logins: Default::default(),
        em_logouts: Default::default(),
        upgrades: Default::default(),
        upgrade_bytes: Default::default(),
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut running = tokio::task::JoinSet::new();
    let mut sip_tasks = tokio::task::JoinSet::new();
    for i in 0..args.phones {
        let model = models[i % models.len()].clone();
        let ip = address(i);
        let side = Arc::new(sip::SipSide {
            credential: Default::default(),
            event: Family::of_model(&model).event(),
            challenge: args.challenge,
            resync: Default::default(),
            notifies: Default::default(),
        });
        if args.sip_port != 0 {
            let sock = tokio::net::UdpSocket::bind(SocketAddr::new(ip, args.sip_port))
                .await
                .with_context(|| format!("listening for SIP on {ip}:{}", args.sip_port))?;
            sip_tasks.spawn(sip::serve(sock, side.clone()));
        }
        let mut p = Phone::new(
            mac(&args.mac_prefix, args.mac_start + i)?,
            model.clone(),
            Family::of_model(&model),
            ip,
            side,
        );
        p.index = i;
        p.node = i;
        running.spawn(p.run(fleet.clone(), stop_rx.clone()));
    }
    match args.duration {
        Some(d) => tokio::time::sleep(Duration::from_secs_f64(d)).await,
        None => {
            let give_up = Duration::from_secs_f64(args.give_up.max(0.0));
            while fleet.provisioned.load(Ordering::Acquire) < args.phones as u64
                && fleet.start.elapsed() < give_up
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let elapsed = fleet.start.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let mut outcomes = Vec::with_capacity(args.phones);
    while let Some(o) = running.join_next().await {
        outcomes.push(o.context("a phone task")?);
    }
    sip_tasks.abort_all();

    // What the server holds, by its preview, when asked to compare (64 questions at once).
    let admin = args
        .admin
        .as_ref()
        .map(|a| a.trim_end_matches('/').to_string());
    let client = reqwest::Client::new();
    let asking = Arc::new(tokio::sync::Semaphore::new(64));
    let mut checks = tokio::task::JoinSet::new();
    for (i, o) in outcomes.iter().enumerate() {
        let (Some(a), Some(got)) = (admin.clone(), o.bytes.clone()) else {
            continue;
        };
        let (client, asking) = (client.clone(), asking.clone());
        // The file as the phone got it: through the node (and address) it reached.
        let mut url =
            reqwest::Url::parse(&format!("{a}/api/v1/phones/{}/files/{}", o.name, o.file))
                .context("--admin is not a URL")?;
        url.query_pairs_mut().append_pair("via", o.via);
        if !o.base.is_empty() {
            url.query_pairs_mut().append_pair("base", &o.base);
        }
        let url = url.to_string();
        let (user, password) = (args.admin_user.clone(), args.admin_password.clone());
        checks.spawn(async move {
            let _p = asking.acquire().await?;
            let r = client
                .get(&url)
                .basic_auth(user, Some(password))
                .send()
                .await
                .context("asking the admin API for a phone's file")?;
            if !r.status().is_success() {
                bail!("the admin API answered {} for {url}", r.status());
            }
            anyhow::Ok((i, r.bytes().await?.as_ref() == got.as_slice()))
        });
    }
    let mut matches = vec![admin.is_none(); outcomes.len()];
    while let Some(done) = checks.join_next().await {
        let (i, same) = done.context("a comparison task")??;
        matches[i] = same;
    }
    let mut provisioned = 0u64;
    let mut last = 0f64;
    let mut per_phone = Vec::new();
    for (o, same) in outcomes.iter().zip(&matches) {
        let ok = o.bytes.is_some() && *same;
        if ok {
            provisioned += 1;
            last = last.max(o.got_at.map(|d| d.as_secs_f64()).unwrap_or(0.0));
        }
        per_phone
            .push(serde_json::json!({"name": o.name, "provisioned": ok, "notifies": o.notifies}));
    }
    if let Some(path) = &args.per_phone {
        let text: String = per_phone.iter().map(|v| format!("{v}\n")).collect();
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut lat = std::mem::take(&mut *fleet.latencies_us.lock().expect("latencies"));
    lat.sort_unstable();
    let report = serde_json::json!({
        "phones": args.phones,
        "provisioned": provisioned,
        "requests": fleet.requests.load(Ordering::Relaxed),
        "errors": fleet.errors.load(Ordering::Relaxed),
        "p50_ms": percentile(&lat, 0.50),
        "p99_ms": percentile(&lat, 0.99),
        "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
        "last_provisioned_s": (last * 1000.0).round() / 1000.0,
        "notifies": outcomes.iter().map(|o| o.notifies).sum::<u64>(),
        "em_logins": fleet.em_logins.load(Ordering::Relaxed),
        "em_logouts": fleet.em_logouts.load(Ordering::Relaxed),
        "firmware_upgrades": fleet.upgrades.load(Ordering::Relaxed),
        "firmware_bytes": fleet.upgrade_bytes.load(Ordering::Relaxed),
    });
    println!("{report}");
    Ok(provisioned == args.phones as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_the_prefix_and_a_hex_counter() {
        assert_eq!(mac("00562B", 1).unwrap(), "00562B000001");
        let start = hex_counter("040000").unwrap();
        assert_eq!(mac("00562b", start + 0x1F).unwrap(), "00562B04001F");
        assert_eq!(mac("0A", 0).unwrap(), "0A0000000000");
        assert!(
            mac("00562B", 0x1000000).is_err(),
            "the counter overflows six digits"
        );
        assert!(mac("00562G", 1).is_err());
        assert!(hex_counter("xyz").is_err());
    }
}

//! `dialtone`: the one binary.

use anyhow::{bail, Context};
use clap::Parser;
use dialtone::cli::{
    self, Cli, Command, DialRuleCmd, LdapCmd, LicenceCmd, LineCmd, PhoneCmd, ResyncArgs,
    SelfProvisioningCmd, StatusArgs, UserCmd,
};
use dialtone::{App, Config};
use model::licensing::UnitKind;
use model::*;
use service::{Actor, Service};
use std::io::{IsTerminal, Read, Write};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Import(_)) {
        // Before the runtime starts: every thread of the import inherits it.
        service::keep_to_one_cpu();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Standard error for the log, whose lines are dropped once it cannot be written (the pipe
/// it went to closed). With `std::io::stderr` itself, tracing-subscriber reports the failed
/// write with `eprintln!`, which panics on the same closed pipe: the server stopped at its
/// next log line, from whichever thread wrote it.
struct LogOut;

impl std::io::Write for LogOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

fn init_logging(level: &str, format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogOut);
    let _ = if format == "json" {
        // The spans a line is in (a phone's request, with its id) go with it.
        log.json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        log.try_init()
    };
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let (mut cfg, warnings) = Config::load(cli.config.as_deref())?;
    if let Some(db) = &cli.db {
        cfg.database.url = db.clone();
    }
    let quiet = matches!(
        cli.command,
        Command::User(_)
            | Command::Phone(_)
            | Command::Line(_)
            | Command::Openapi
            | Command::Healthcheck { .. }
            | Command::Status(_)
            | Command::Cluster { .. }
            | Command::Backup { .. }
            | Command::Import(_)
            | Command::Export(_)
            | Command::Template(_)
            | Command::SelfProvisioning(_)
            | Command::Ldap(_)
            | Command::Licence(_)
            | Command::DialRule(_)
    );
    if !matches!(cfg.log.format.as_str(), "text" | "json") {
        bail!(
            "log.format `{}`: say text or json (DIALTONE_LOG__FORMAT)",
            cfg.log.format
        );
    }
    init_logging(if quiet { "warn" } else { &cfg.log.level }, &cfg.log.format);
    for w in warnings {
        tracing::warn!("{w}");
    }
    let cli_actor = Actor::new(format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    ));
    match cli.command {
        Command::Serve(args) => {
            if let Some(a) = args.admin {
                cfg.admin.listen = a;
            }
            if let Some(a) = args.https {
                cfg.admin.https_listen = a;
            }
            if let Some(a) = args.phone_https {
                cfg.http.https_listen = a;
            }
            if let Some(h) = args.http {
                cfg.http.listen = h;
            }
            if let Some(t) = args.templates {
                cfg.templates = Some(t);
            }
            if let Some(t) = args.tftp {
                cfg.tftp.listen = t;
            }
            if let Some(a) = args.sip {
                cfg.sip.listen = a;
            }
            if let Some(a) = args.syslog {
                cfg.syslog.listen = a;
            }
            let app = App::build(&cfg).await?;
            announce(&app, &cfg);
            app.run_until_signal().await
        }
        Command::Demo(args) => {
            // The ports are checked before the database is filled: a busy one is refused (when
            // given) or passed over for the next free one (the default), saying so.
            let mut moved = Vec::new();
            if !args.no_serve {
                let (a, note) = dialtone::demo::listen_address(
                    args.admin.as_deref(),
                    &cfg.admin.listen,
                    "--admin",
                    "The console and REST API",
                )?;
                cfg.admin.listen = a;
                moved.extend(note);
                if args.https.as_deref() == Some("") {
                    cfg.admin.https_listen.clear();
                } else if args.https.is_some() || !cfg.admin.https_listen.is_empty() {
                    let (a, note) = dialtone::demo::listen_address(
                        args.https.as_deref(),
                        &cfg.admin.https_listen,
                        "--https",
                        "The console and REST API over HTTPS",
                    )?;
                    cfg.admin.https_listen = a;
                    moved.extend(note);
                }
                if args.http.is_some() || !cfg.http.listen.is_empty() {
                    let (h, note) = dialtone::demo::listen_address(
                        args.http.as_deref(),
                        &cfg.http.listen,
                        "--http",
                        "Phone files over HTTP",
                    )?;
                    cfg.http.listen = h;
                    moved.extend(note);
                }
            } else {
                if let Some(a) = args.admin {
                    cfg.admin.listen = a;
                }
                if let Some(a) = args.https {
                    cfg.admin.https_listen = a;
                }
                if let Some(h) = args.http {
                    cfg.http.listen = h;
                }
            }
            for m in &moved {
                println!("{m}");
            }
            // The demo's own SQLite file, unless --db names one, or a PostgreSQL database is
            // configured (filled only when empty). A SQLite file of the configuration is never
            // the demo's: the demo starts by deleting its file.
            if cli.db.is_none() && !cfg.database.url.starts_with("postgres") {
                cfg.database.url = "sqlite:dialtone-demo.db".into();
            }
            let postgres = cfg.database.url.starts_with("postgres");
            if postgres {
                // A cluster's first start (docs/scale-out.md, the compose file): the sample
                // goes into an empty database; one that holds a directory is left as it is.
            } else if let Some(path) = cfg.database.url.strip_prefix("sqlite:") {
                let path = path.split('?').next().unwrap_or(path);
                for suffix in ["", "-wal", "-shm"] {
                    let f = format!("{path}{suffix}");
                    if std::path::Path::new(&f).exists() {
                        std::fs::remove_file(&f)
                            .with_context(|| format!("removing the previous demo database {f}"))?;
                    }
                }
            } else {
                bail!(
                    "the demo fills a fresh SQLite file or an empty PostgreSQL database; give --db sqlite:PATH or postgres://… (or leave --db out)"
                );
            }
            if cfg.admin_password()?.is_none() {
                cfg.admin_password = Some("dialtone-demo".into());
            }
            // Licence units enforced with a key made for this demo (docs/licensing.md), and a
            // licence with room to spare uploaded before anything uses units.
            // (Not on PostgreSQL: every node would need the demo's public key.)
            let demo_licence = match cfg.licensing.public_key {
                Some(_) => None,
                None if postgres => None,
                None => {
                    let (private, public) = service::licence_key_pair()?;
                    cfg.licensing.public_key = Some(public);
                    Some(dialtone::demo::licence(&private, args.users)?)
                }
            };
            let (svc, _) = dialtone::open_service(&cfg).await?;
            if postgres {
                let f = model::Find {
                    limit: 1,
                    ..model::Find::all()
                };
                if svc.find_users(&f).await?.total > 0 {
                    println!(
                        "The database {} already holds a directory: the demo leaves it as it is.",
                        store::redact_url(&cfg.database.url)
                    );
                    svc.close().await;
                    if args.no_serve {
                        return Ok(());
                    }
                    let app = App::build(&cfg).await?;
                    return app.run_until_signal().await;
                }
            }
            if let Some(text) = demo_licence {
                svc.upload_licence(&Actor::new("demo"), "demo.lic", text.as_bytes())
                    .await?;
            }
            let started = std::time::Instant::now();
            let sum = dialtone::demo::fill(&svc, args.users).await?;
            svc.close().await;
            println!(
                "Demo database {}: {} users, {} phones, {} lines, {} device profiles, {} voicemail subscribers (filled in {:.1} s).",
                store::redact_url(&cfg.database.url),
                sum.users,
                sum.phones,
                sum.lines,
                sum.device_profiles,
                sum.voicemail_subscribers,
                started.elapsed().as_secs_f64()
            );
            if args.no_serve {
                return Ok(());
            }
            let app = App::build(&cfg).await?;
            let base = format!("http://{}", app.admin_addr);
            println!(
                "\nDialtone is running. Administrator: admin / {}",
                cfg.admin_password()?.unwrap_or_default()
            );
            println!("Web console: {base}/ (log in as admin)\nREST API:");
            println!(
                "  curl -u admin:{} '{base}/api/v1/users?q=smi'",
                cfg.admin_password()?.unwrap_or_default()
            );
            println!(
                "  curl -u admin:{} {base}/api/v1/phones/SEP00562B040000",
                cfg.admin_password()?.unwrap_or_default()
            );
            println!(
                "  curl -u admin:{} '{base}/api/v1/users?conflicts=true'",
                cfg.admin_password()?.unwrap_or_default()
            );
            println!(
                "Extension mobility: jsmith (PIN 13579) logs in on a 7960:\n  curl -u admin:{} -H 'content-type: application/json' -d '{{\"user_id\":\"jsmith\",\"pin\":\"13579\"}}' {base}/api/v1/phones/SEP00562B04000A/login",
                cfg.admin_password()?.unwrap_or_default()
            );
            if let Some(h) = app.http_addr {
                println!("Phones fetch their files from http://{h}/, e.g.:\n  curl http://{h}/SEP00562B040000.cnf.xml");
            }
            println!("  OpenAPI: {base}/api/v1/openapi.json\nStop with Ctrl-C.");
            app.run_until_signal().await
        }
        Command::Migrate => {
            let store =
                store::Store::connect_with(&cfg.database.url, cfg.database.sqlite_memory()).await?;
            let n = store.migrate().await?;
            println!("{n} migrations applied; the schema is up to date");
            Ok(())
        }
        Command::Healthcheck { admin } => healthcheck(&admin).await,
        Command::Backup { file } => {
            let store =
                store::Store::connect_with(&cfg.database.url, cfg.database.sqlite_memory()).await?;
            let started = std::time::Instant::now();
            store.backup_to(&file).await?;
            let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            println!(
                "backed up {} into {} ({:.1} MB in {:.1} s); keep the secret key file ({}) with it",
                store::redact_url(&cfg.database.url),
                file.display(),
                size as f64 / 1e6,
                started.elapsed().as_secs_f64(),
                cfg.key_file()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "given in the configuration".into())
            );
            Ok(())
        }
        Command::RotateKey => {
            let (rotation, file) = dialtone::key_rotation::rotate(&cfg, &cli_actor.name).await?;
            let old = dialtone::key_rotation::previous_file(&file);
            println!("sealed again under a new secret key: {rotation}");
            println!("the new key is in {}", file.display());
            println!(
                "the previous key is in {}: keep it while a backup made before now may be restored, then delete it",
                old.display()
            );
            println!("give every other node the new key file before starting it");
            Ok(())
        }
        Command::Openapi => {
            println!("{}", web::openapi());
            Ok(())
        }
        Command::AdminPassword { username } => {
            let pw = match std::env::var("DIALTONE_NEW_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    if std::io::stdin().is_terminal() {
                        eprint!("new password for {username}: ");
                        std::io::stderr().flush()?;
                    }
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    s.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let (svc, _) = dialtone::open_service(&cfg).await?;
            svc.set_admin(&cli_actor, &username, &pw).await?;
            println!("password of {username} set");
            Ok(())
        }
        Command::User(cmd) => {
            let (svc, _) = dialtone::open_service(&cfg).await?;
            user_cmd(&svc, &cli_actor, cmd).await
        }
        Command::Resync(args) => resync_cmd(&cfg, &cli_actor, args).await,
        Command::Status(args) => {
            let (svc, _) = dialtone::open_service(&cfg).await?;
            status_cmd(&svc, args).await
        }
        Command::Cluster { json } => {
            let (svc, _) = dialtone::open_service(&cfg).await?;
            dialtone::cluster::print(&svc, json).await
        }
        Command::Import(args) => {
            let (svc, _) = dialtone::open_service(&cfg).await?;
            import_cmd(&svc, &cli_actor, args).await
        }
        Command::Export(args) => {
            let (svc, _) = dialtone::open_service(&cfg).await?;
            export_cmd(&svc, args).await
        }
        Command::Template(cmd) => {
            let (svc, _) = dialtone::open_service(&cfg).await?;
            template_cmd(&svc, &cli_actor, cmd).await
        }
        Command::Phone(cmd) => {
            let (svc, _) = dialtone::open_service(&cfg).await?;
            phone_cmd(&svc, &cli_actor, cmd).await
        }
        Command::Line(cmd) => {
            let (svc, _) = dialtone::open_service(&cfg).await?;
            line_cmd(&svc, &cli_actor, cmd).await
        }
        Command::SelfProvisioning(cmd) => {
            let (svc, _) = dialtone::open_service(&cfg).await?;
            self_provisioning_cmd(&svc, &cli_actor, cmd).await
        }
        Command::Ldap(LdapCmd::Sync {
            profile,
            dry_run,
            system,
            json,
        }) => {
            let (svc, _) = dialtone::open_service(&cfg).await?;
            let r = svc
                .sync_ldap_profile(&cli_actor, &profile, LdapSyncRequest { dry_run, system })
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", sync_text(&r));
            }
            if r.failed_users > 0 {
                bail!(
                    "{} could not be written",
                    counted(r.failed_users, "user", "users")
                );
            }
            Ok(())
        }
        Command::Licence(cmd) => licence_cmd(&cfg, &cli_actor, cmd).await,
        Command::DialRule(cmd) => {
            let (svc, _) = dialtone::open_service(&cfg).await?;
            dial_rule_cmd(&svc, &cli_actor, cmd).await
        }
    }
}

fn dial_kind(kind: &str) -> anyhow::Result<model::dial_rules::DialRuleKind> {
    use model::dial_rules::DialRuleKind;
    match kind {
        "application" => Ok(DialRuleKind::Application),
        "directory_lookup" | "directory-lookup" => Ok(DialRuleKind::DirectoryLookup),
        other => bail!("--kind {other}: say application or directory_lookup"),
    }
}

async fn dial_rule_cmd(svc: &Service, actor: &Actor, cmd: DialRuleCmd) -> anyhow::Result<()> {
    use model::soft_client::ClientKind;
    match cmd {
        DialRuleCmd::List => {
            let f = model::Find {
                limit: 1000,
                ..Default::default()
            };
            let mut rules: Vec<serde_json::Value> = svc
                .find_client_records(ClientKind::DialRule, &f)
                .await?
                .items;
            rules.sort_by_key(|r| {
                (
                    r["kind"].as_str().unwrap_or("") != "application",
                    r["priority"].as_u64().unwrap_or(0),
                )
            });
            println!(
                "{:<20} {:<17} {:>8} {:<12} {:>6} {:>6} {:<10}",
                "NAME", "KIND", "PRIORITY", "BEGINS WITH", "DIGITS", "REMOVE", "PREFIX"
            );
            for r in &rules {
                println!(
                    "{:<20} {:<17} {:>8} {:<12} {:>6} {:>6} {:<10}",
                    r["name"].as_str().unwrap_or(""),
                    r["kind"].as_str().unwrap_or(""),
                    r["priority"].as_u64().unwrap_or(0),
                    r["begins_with"].as_str().unwrap_or(""),
                    r["number_of_digits"].as_u64().unwrap_or(0),
                    r["digits_removed"].as_u64().unwrap_or(0),
                    r["prefix"].as_str().unwrap_or("")
                );
            }
            Ok(())
        }
        DialRuleCmd::Add {
            name,
            kind,
            begins_with,
            digits,
            remove,
            prefix,
            priority,
            description,
        } => {
            let spec = model::dial_rules::DialRuleSpec {
                name,
                description,
                kind: dial_kind(&kind)?,
                begins_with,
                number_of_digits: digits,
                digits_removed: remove,
                prefix,
                priority,
            };
            let r = svc
                .create_client_record(actor, ClientKind::DialRule, serde_json::to_value(&spec)?)
                .await?;
            println!("Dial rule {} added.", r["name"].as_str().unwrap_or(""));
            Ok(())
        }
        DialRuleCmd::Remove { name } => {
            svc.delete_client_record(actor, ClientKind::DialRule, &name)
                .await?;
            println!("Dial rule {name} removed.");
            Ok(())
        }
        DialRuleCmd::Test {
            number,
            kind,
            locale,
        } => {
            let r = svc
                .test_dial_rules(&model::dial_rules::DialTest {
                    number,
                    kind: dial_kind(&kind)?,
                    locale,
                })
                .await?;
            println!("Made plain: {}", r.plain);
            println!("Result:     {}", r.result);
            match &r.rule {
                Some(rule) => println!("Rule:       {rule}"),
                None => println!("Rule:       none matched: the number stays as it is"),
            }
            Ok(())
        }
    }
}

async fn licence_cmd(cfg: &Config, actor: &Actor, cmd: LicenceCmd) -> anyhow::Result<()> {
    match cmd {
        LicenceCmd::Keygen { out } => {
            let (private, public) = service::licence_key_pair()?;
            write_private(&out, &format!("{private}\n"))?;
            println!(
                "Private key written to {} (keep it secret: it signs licences).",
                out.display()
            );
            println!("Public key, for the servers' configuration:\n\n[licensing]\npublic_key = \"{public}\"");
            Ok(())
        }
        LicenceCmd::Make {
            key,
            id,
            issued_to,
            issued,
            expires,
            device_units,
            presence_user_units,
            soft_client_units,
            out,
        } => {
            let private = std::fs::read_to_string(&key)
                .with_context(|| format!("reading the private key {}", key.display()))?;
            let l = model::licensing::Licence {
                id,
                issued_to,
                issued: issued.unwrap_or_else(|| service::now()[..10].to_string()),
                expires,
                units: model::licensing::Units {
                    device: device_units,
                    presence_user: presence_user_units,
                    soft_client: soft_client_units,
                },
            };
            let text = service::sign_licence(&private, &l)?;
            match out {
                Some(p) => {
                    if !p
                        .to_string_lossy()
                        .to_ascii_lowercase()
                        .ends_with(model::licensing::SUFFIX)
                    {
                        bail!("{}: licence files must have a .lic suffix", p.display());
                    }
                    std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
                    println!("Licence {} written to {}.", l.id, p.display());
                }
                None => print!("{text}"),
            }
            Ok(())
        }
        LicenceCmd::Upload { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let (svc, _) = dialtone::open_service(cfg).await?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let l = svc.upload_licence(actor, &name, &bytes).await?;
            println!(
                "Licence {} for {} uploaded: {}, {}, {}.",
                l.id,
                l.issued_to,
                UnitKind::Device.units(l.units.device),
                UnitKind::PresenceUser.units(l.units.presence_user),
                UnitKind::SoftClient.units(l.units.soft_client)
            );
            Ok(())
        }
        LicenceCmd::Remove { id } => {
            let (svc, _) = dialtone::open_service(cfg).await?;
            svc.delete_licence(actor, &id).await?;
            println!("Licence {id} removed.");
            Ok(())
        }
        LicenceCmd::Report { json } => {
            let (svc, _) = dialtone::open_service(cfg).await?;
            let r = svc.licence_report().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", licence_report_text(&r));
            }
            Ok(())
        }
    }
}

/// A private key file only its owner reads.
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path).with_context(|| {
        format!(
            "creating {} (an existing key is never overwritten)",
            path.display()
        )
    })?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// The licence unit report as a person reads it.
fn licence_report_text(r: &model::licensing::LicenceReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    if !r.enforced {
        let _ = writeln!(
            o,
            "Units are not enforced: no licence public key is configured ([licensing] public_key)."
        );
    }
    let _ = writeln!(
        o,
        "{:<16} {:>11} {:>8} {:>10}",
        "Units", "Authorised", "Used", "Remaining"
    );
    for l in &r.units {
        let _ = writeln!(
            o,
            "{:<16} {:>11} {:>8} {:>10}",
            l.kind.as_str(),
            l.authorised,
            l.used,
            l.remaining
        );
    }
    let u = &r.used_by;
    let _ = writeln!(
        o,
        "Used by {} desk phones, {} soft phones, {} adjunct soft phones, {} users with Enable CUP, {} with Enable CUPC.",
        u.desk_phones, u.soft_phones, u.adjunct_soft_phones, u.presence_users, u.soft_client_users
    );
    if r.licences.is_empty() {
        let _ = writeln!(o, "No licence is uploaded.");
    }
    for l in &r.licences {
        let _ =
            writeln!(
            o,
            "Licence {} for {}, issued {}{}: {} device, {} presence user, {} soft-client units{}",
            l.licence.id,
            l.licence.issued_to,
            l.licence.issued,
            l.licence.expires.as_deref().map(|e| format!(", expires {e}")).unwrap_or_default(),
            l.licence.units.device,
            l.licence.units.presence_user,
            l.licence.units.soft_client,
            if l.expired { " (expired: counts for nothing)" } else { "" }
        );
    }
    o
}

/// A sync's report as a person reads it.
fn sync_text(r: &LdapSyncReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} sync of LDAP profile {} into {}: {} read from {} in {} ms",
        if r.dry_run { "Dry run of the" } else { "The" },
        r.profile,
        r.system,
        counted(r.entries, "entry", "entries"),
        r.server,
        r.took_ms
    );
    for u in &r.unreachable {
        let _ = writeln!(o, "  not answering: {u}");
    }
    let _ = writeln!(o, "{}", r.summary());
    let more = |o: &mut String, shown: usize, all: usize| {
        if all > shown {
            let _ = writeln!(o, "  … and {} more", all - shown);
        }
    };
    for c in &r.create {
        let _ = writeln!(
            o,
            "  + {} ({} {}) {}",
            c.user_id, c.fields.first_name, c.fields.last_name, c.dn
        );
    }
    more(&mut o, r.create.len(), r.to_create);
    for u in &r.update {
        let mut what: Vec<String> = u
            .changes
            .iter()
            .map(|c| format!("{}: {:?} → {:?}", c.field, c.stored, c.directory))
            .collect();
        if u.becomes_synced {
            what.push("becomes synced".into());
        }
        if u.reactivated {
            what.push("back in the directory: active again".into());
        }
        let _ = writeln!(o, "  ~ {}: {}", u.user_id, what.join(", "));
    }
    more(&mut o, r.update.len(), r.to_update);
    for d in &r.deactivate {
        let _ = writeln!(o, "  - {d}: gone from the directory, made inactive");
    }
    more(&mut o, r.deactivate.len(), r.to_deactivate);
    for s in &r.skipped {
        let _ = writeln!(o, "  skipped {}: {}", s.key, s.reason);
    }
    more(&mut o, r.skipped.len(), r.skipped_entries);
    for f in &r.failed {
        let _ = writeln!(o, "  FAILED {}: {}", f.key, f.reason);
    }
    more(&mut o, r.failed.len(), r.failed_users);
    o
}

async fn self_provisioning_cmd(
    svc: &Service,
    actor: &Actor,
    cmd: SelfProvisioningCmd,
) -> anyhow::Result<()> {
    match cmd {
        SelfProvisioningCmd::Status { system, json } => {
            let st = svc.auto_registration_status(system.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string(&st)?);
                return Ok(());
            }
            match (&st.start_dn, &st.end_dn, st.on) {
                (Some(a), Some(b), true) => println!(
                    "auto-registration on {}: {a} to {b}, {} number{} taken, {} free; {} phone{} not claimed yet",
                    st.system,
                    st.numbers_taken,
                    if st.numbers_taken == 1 { "" } else { "s" },
                    st.numbers_free,
                    st.phones,
                    if st.phones == 1 { "" } else { "s" }
                ),
                (_, _, true) => println!(
                    "auto-registration on {}: on without a range (unknown phones get XMLDefault.cnf.xml only)",
                    st.system
                ),
                _ => println!("auto-registration on {}: off", st.system),
            }
            Ok(())
        }
        SelfProvisioningCmd::Claim {
            phone,
            user,
            system,
        } => {
            let secret = match std::env::var("DIALTONE_CLAIM_SECRET") {
                Ok(s) => s,
                Err(_) if std::io::stdin().is_terminal() => {
                    eprint!("PIN or password of {user} (empty when the system asks none): ");
                    std::io::stderr().flush()?;
                    let mut s = String::new();
                    std::io::stdin().read_line(&mut s)?;
                    s.trim_end_matches(['\r', '\n']).to_string()
                }
                Err(_) => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    s.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let c = service::Claim {
                phone,
                user,
                secret: (!secret.is_empty()).then(|| model::Secret::new(secret)),
                via: "cli",
                system,
                authenticated: false,
            };
            match svc.claim(actor, &c).await {
                Ok(done) => {
                    println!(
                        "{} is {}'s now, with extension {}{}",
                        done.phone,
                        done.user_id,
                        done.extension,
                        done.freed_number
                            .map(|n| format!(" ({n} is free again)"))
                            .unwrap_or_default()
                    );
                    Ok(())
                }
                Err(e) => anyhow::bail!("{e}"),
            }
        }
    }
}

fn announce(app: &App, cfg: &Config) {
    let scheme = if cfg.admin.listen.trim().is_empty() {
        "https"
    } else {
        "http"
    };
    println!(
        "Dialtone is serving the REST API on {scheme}://{}/api/v1/ (database {})",
        app.admin_addr,
        store::redact_url(&cfg.database.url)
    );
    if let (Some(a), "http") = (app.admin_https_addr, scheme) {
        println!("and over HTTPS on https://{a}/api/v1/");
    }
    if let Some(p) = &app.generated_admin_password {
        println!("First start: created administrator `admin` with password {p}\n(shown once; change it with `dialtone admin-password admin`)");
    }
}

async fn healthcheck(addr: &str) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        s.write_all(
            format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        let text = String::from_utf8_lossy(&buf);
        let status = text.lines().next().unwrap_or_default().to_string();
        if status.split_whitespace().nth(1) == Some("200") {
            println!("healthy");
            Ok(())
        } else {
            bail!("unhealthy: {status}")
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), fut)
        .await
        .context("no answer within 10 s")?
}

fn print_rows(json: bool, items: &[serde_json::Value], cols: &[&str]) {
    if json {
        for i in items {
            println!("{i}");
        }
        return;
    }
    println!("{}", cols.join("\t"));
    for i in items {
        let row: Vec<String> = cols
            .iter()
            .map(|c| match &i[*c] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                v => v.to_string(),
            })
            .collect();
        println!("{}", row.join("\t"));
    }
}

fn values<T: serde::Serialize>(items: &[T]) -> Vec<serde_json::Value> {
    items
        .iter()
        .map(|i| serde_json::to_value(i).unwrap_or_default())
        .collect()
}

async fn user_cmd(svc: &Service, actor: &Actor, cmd: UserCmd) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Find(f) => {
            let page = svc.find_users(&f.find()).await?;
            print_rows(
                f.json,
                &values(&page.items),
                &[
                    "user_id",
                    "first_name",
                    "last_name",
                    "system",
                    "primary_extension",
                    "devices",
                ],
            );
            Ok(())
        }
        UserCmd::Add {
            user_id,
            first_name,
            last_name,
            system,
            primary_extension,
            mail,
            password_from_env,
        } => {
            let password = if password_from_env {
                Some(Secret::new(
                    std::env::var("DIALTONE_USER_PASSWORD")
                        .context("--password-from-env: DIALTONE_USER_PASSWORD is not set")?,
                ))
            } else {
                None
            };
            let u = svc
                .create_user(
                    actor,
                    NewUser {
                        user_id,
                        first_name,
                        last_name,
                        system,
                        primary_extension,
                        mail,
                        password,
                        ..Default::default()
                    },
                )
                .await?;
            println!("added user {} on {} (id {})", u.user_id, u.system, u.id);
            Ok(())
        }
        UserCmd::Remove { user_id, system } => {
            svc.delete_user(actor, &user_id, system.as_deref()).await?;
            println!("removed user {user_id}");
            Ok(())
        }
    }
}

async fn phone_cmd(svc: &Service, actor: &Actor, cmd: PhoneCmd) -> anyhow::Result<()> {
    match cmd {
        PhoneCmd::Find(f) => {
            let page = svc.find_phones(&f.find()).await?;
            print_rows(
                f.json,
                &values(&page.items),
                &["name", "model", "system", "owner_user_id", "description"],
            );
            Ok(())
        }
        PhoneCmd::Add {
            mac,
            name,
            model,
            system,
            description,
            owner,
            lines,
        } => {
            let lines = lines
                .iter()
                .map(|l| {
                    let (pattern, partition) = l.split_once('@').unwrap_or((l, ""));
                    AppearanceInput {
                        pattern: pattern.into(),
                        partition: partition.into(),
                        ..Default::default()
                    }
                })
                .collect();
            let p = svc
                .create_phone(
                    actor,
                    NewPhone {
                        mac,
                        name,
                        model,
                        system,
                        description,
                        owner_user_id: owner,
                        lines,
                        ..Default::default()
                    },
                )
                .await?;
            println!(
                "added phone {} ({}) on {} with {}",
                p.name,
                p.model,
                p.system,
                counted(p.lines.len(), "line", "lines")
            );
            Ok(())
        }
        PhoneCmd::Remove { name } => {
            svc.delete_phone(actor, &name).await?;
            println!("removed phone {name}");
            Ok(())
        }
    }
}

async fn line_cmd(svc: &Service, actor: &Actor, cmd: LineCmd) -> anyhow::Result<()> {
    match cmd {
        LineCmd::Find(f) => {
            let page = svc.find_lines(&f.find()).await?;
            print_rows(
                f.json,
                &values(&page.items),
                &["pattern", "partition", "system", "description", "shared"],
            );
            Ok(())
        }
        LineCmd::Add {
            pattern,
            partition,
            system,
            description,
            max_calls,
            busy_trigger,
        } => {
            let l = svc
                .create_line(
                    actor,
                    NewLine {
                        pattern,
                        partition,
                        system,
                        description,
                        max_calls,
                        busy_trigger,
                        ..Default::default()
                    },
                )
                .await?;
            println!("added line {} on {}", l.pattern, l.system);
            Ok(())
        }
        LineCmd::Remove {
            pattern,
            partition,
            system,
        } => {
            svc.delete_line(actor, &pattern, partition.as_deref(), system.as_deref())
                .await?;
            println!("removed line {pattern}");
            Ok(())
        }
    }
}

async fn resync_cmd(cfg: &Config, actor: &Actor, args: ResyncArgs) -> anyhow::Result<()> {
    let (svc, _) = dialtone::open_service(cfg).await?;
    let phones = svc
        .select_phones(
            actor,
            &ResyncRequest {
                devices: args.devices,
                device_pool: args.pool,
                model: args.model,
                all: args.all,
            },
        )
        .await?;
    let from = args
        .from
        .or_else(|| Some(cfg.sip.listen.clone()).filter(|l| !l.trim().is_empty()))
        .unwrap_or_else(|| "0.0.0.0:0".into());
    let from: std::net::SocketAddr = tokio::net::lookup_host(from.trim())
        .await
        .ok()
        .and_then(|mut a| a.next())
        .with_context(|| format!("`{from}` is not host:port"))?;
    let timers = sip::Timers {
        t1: std::time::Duration::from_millis(cfg.sip.t1_ms.max(1)),
        t2: std::time::Duration::from_millis(cfg.sip.t2_ms.max(cfg.sip.t1_ms).max(1)),
    };
    let notifier = std::sync::Arc::new(
        sip::Notifier::bind(from, timers)
            .await
            .with_context(|| format!("binding {from} to send from"))?,
    );
    let rate = args.rate.unwrap_or(cfg.sip.rate).max(1);
    let n = phones.len();
    if n > 100 && std::io::stderr().is_terminal() {
        eprintln!(
            "{n} phones at {rate} NOTIFYs per second: about {} s",
            n as u64 / u64::from(rate)
        );
    }
    let provisioner =
        provision::Provisioner::new(svc.clone(), std::sync::Arc::new(dialtone::renderer(cfg)));
    let ids: Vec<i64> = phones.iter().map(|(id, _)| *id).collect();
    let report =
        provision::resync::run_once(&provisioner, notifier, &ids, cfg.sip.phone_port, rate).await?;
    let (mut ok, mut failed, mut skipped) = (0, 0, 0);
    for (id, name) in &phones {
        match report.get(id) {
            Some(Ok(o)) if o.is_accepted() => {
                ok += 1;
                println!("{name}\t{}", o.describe());
            }
            Some(Ok(o)) => {
                failed += 1;
                println!("{name}\t{}", o.describe());
            }
            Some(Err(why)) => {
                skipped += 1;
                println!("{name}\tskipped: {why}");
            }
            None => {}
        }
    }
    println!(
        "{}: {ok} accepted, {failed} not accepted, {skipped} skipped",
        counted(n, "phone", "phones")
    );
    svc.close().await;
    if failed > 0 {
        bail!(
            "{} did not accept the NOTIFY",
            counted(failed, "phone", "phones")
        );
    }
    Ok(())
}

async fn status_cmd(svc: &Service, args: StatusArgs) -> anyhow::Result<()> {
    let state = if args.never_seen {
        Some("never_seen")
    } else if args.failing {
        Some("failing")
    } else if args.not_resynced {
        Some("not_resynced")
    } else {
        None
    };
    let page = svc
        .device_statuses(
            state,
            args.q.as_deref().unwrap_or(""),
            args.limit,
            args.offset,
        )
        .await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for s in &page.items {
            writeln!(out, "{}", serde_json::to_string(s)?)?;
        }
    } else {
        writeln!(
            out,
            "{:<16} {:<13} {:<24} {:<15} LAST RESYNC / NOTIFY",
            "DEVICE", "STATE", "LAST SEEN", "IP"
        )?;
        for s in &page.items {
            let last = match (&s.resync_error, &s.resync_succeeded_at, &s.notify_outcome) {
                (Some(e), _, _) if s.state == "failing" => format!("failed: {e}"),
                (_, Some(at), _) => format!("ok {at}"),
                (_, _, Some(o)) => format!("notify {o}"),
                _ => String::new(),
            };
            writeln!(
                out,
                "{:<16} {:<13} {:<24} {:<15} {}",
                s.device,
                s.state,
                s.last_seen.as_deref().unwrap_or("-"),
                s.ip.as_deref().unwrap_or("-"),
                last
            )?;
        }
        writeln!(
            out,
            "{} of {}",
            page.items.len(),
            counted(page.total, "phone", "phones")
        )?;
    }
    Ok(())
}

fn bulk_kind(kind: &str) -> anyhow::Result<bulk::Kind> {
    bulk::Kind::parse(kind).ok_or_else(|| {
        let all: Vec<&str> = bulk::Kind::ALL.iter().map(|k| k.name()).collect();
        anyhow::anyhow!("--kind {kind}: say one of {}", all.join(", "))
    })
}

/// Rows past which `import` asks before it writes (the seed's warning before long operations).
const MANY_ROWS: usize = 1000;

async fn import_cmd(
    svc: &service::Service,
    actor: &Actor,
    args: cli::ImportArgs,
) -> anyhow::Result<()> {
    let kind = bulk_kind(&args.kind)?;
    let mode = service::ImportMode::parse(&args.mode)
        .ok_or_else(|| anyhow::anyhow!("--mode {}: say add, modify or delete", args.mode))?;
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let rows = bytes
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        .saturating_sub(1);
    if rows > MANY_ROWS && !args.dry_run && !args.yes {
        let what = format!(
            "{} about {rows} {} records ({} mode)",
            if mode == service::ImportMode::Delete {
                "This deletes"
            } else {
                "This writes"
            },
            kind.name(),
            mode.name()
        );
        confirm(&format!("{what} (--dry-run checks the file first)"))?;
    }
    let reader = bulk::reader(kind, &bytes[..])
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let opts = service::ImportOptions {
        kind,
        mode,
        dry_run: args.dry_run,
        stop_on_error: args.stop_on_error,
        template: args.template.clone(),
        source: args.file.display().to_string(),
    };
    let bar = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let mut printed = 0;
    let report = svc
        .import(actor, &opts, reader, |r| {
            // Each failed row as soon as it is known; a progress line on a terminal.
            for e in &r.errors[printed..] {
                if bar {
                    eprint!("\r\x1b[K");
                }
                eprintln!("{}: {e}", args.file.display());
            }
            printed = r.errors.len();
            if bar {
                draw_bar(r.rows, rows as u64, &format!("rows, {} failed", r.failed));
            }
        })
        .await?;
    if bar {
        eprint!("\r\x1b[K");
    }
    println!(
        "{} in {:.1} s (import job {})",
        report.summary(),
        started.elapsed().as_secs_f64(),
        report.job
    );
    // The passwords and PINs the rows brought went in sealed; they get their argon2 hash now,
    // on every CPU (a server on the same database does the same in the background).
    if !args.dry_run {
        let waiting = svc.sealed_secrets().await?;
        if waiting > 0 {
            let started = std::time::Instant::now();
            let cpus = service::hashing_cpus();
            eprintln!("hashing {waiting} passwords and PINs on {cpus} CPUs (they work meanwhile)…");
            let n = svc.hash_every_sealed_secret().await?;
            println!(
                "{n} passwords and PINs hashed in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    if report.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

async fn template_cmd(svc: &Service, actor: &Actor, cmd: cli::TemplateCmd) -> anyhow::Result<()> {
    use cli::TemplateCmd as T;
    match cmd {
        T::List { kind, json } => {
            let kind = kind.as_deref().map(TemplateKind::parse).transpose()?;
            let all = svc.templates(kind, "").await?;
            print_rows(json, &values(&all), &["kind", "name", "description"]);
        }
        T::Show { kind, name } => {
            let t = svc.template(TemplateKind::parse(&kind)?, &name).await?;
            println!("{}", serde_json::to_string_pretty(&t)?);
        }
        T::Add {
            kind,
            name,
            description,
            fields,
        } => {
            let mut map = serde_json::Map::new();
            for f in &fields {
                let (k, v) = f
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("`{f}`: write FIELD=VALUE"))?;
                let v = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::from(v));
                map.insert(k.trim().to_string(), v);
            }
            let t = svc
                .create_template(
                    actor,
                    NewTemplate {
                        kind: TemplateKind::parse(&kind)?,
                        name,
                        description,
                        fields: map,
                    },
                )
                .await?;
            println!(
                "added {} template {} holding: {}",
                t.kind.as_str(),
                t.name,
                t.fields.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        T::Apply {
            kind,
            name,
            mut targets,
            q,
            system,
            yes,
        } => {
            let kind = TemplateKind::parse(&kind)?;
            if let Some(q) = q {
                let f = model::Find {
                    q: Some(q),
                    system: system.clone(),
                    ..Default::default()
                };
                targets.extend(svc.found_keys(kind, f).await?);
            }
            if targets.len() > MANY_ROWS && !yes {
                confirm(&format!(
                    "This changes {} {} records",
                    targets.len(),
                    kind.as_str()
                ))?;
            }
            let r = svc
                .apply_template(actor, kind, &name, &targets, system.as_deref())
                .await?;
            for f in &r.failed {
                eprintln!("{}: {}", f.target, f.message);
            }
            println!(
                "{}: {} changed, {} failed",
                counted(targets.len(), "record", "records"),
                r.succeeded.len(),
                r.failed.len()
            );
            if !r.failed.is_empty() {
                std::process::exit(1);
            }
        }
        T::Remove { kind, name } => {
            let kind = TemplateKind::parse(&kind)?;
            svc.delete_template(actor, kind, &name).await?;
            println!("removed {} template {name}", kind.as_str());
        }
    }
    Ok(())
}

/// Asks on a terminal whether to go on with `what`; refuses when there is no terminal.
fn confirm(what: &str) -> anyhow::Result<()> {
    use std::io::BufRead;
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{what}: add --yes to go on");
    }
    eprint!("{what}. Go on? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        anyhow::bail!("nothing changed");
    }
    Ok(())
}

async fn export_cmd(svc: &service::Service, args: cli::ExportArgs) -> anyhow::Result<()> {
    let kind = bulk_kind(&args.kind)?;
    let bar = args.file.is_some() && std::io::stderr().is_terminal();
    let records = svc
        .export_with(kind, |done, total| {
            if bar {
                draw_bar(done, total, "records read");
            }
        })
        .await?;
    if bar {
        eprint!("\r\x1b[K");
    }
    match &args.file {
        Some(path) => {
            let f = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            bulk::write(kind, &records, std::io::BufWriter::new(f))?;
            eprintln!(
                "{} {} written to {}",
                records.len(),
                if records.len() == 1 {
                    "record"
                } else {
                    "records"
                },
                path.display()
            );
        }
        None => bulk::write(kind, &records, std::io::stdout().lock())?,
    }
    Ok(())
}

/// A progress bar on standard error (a terminal): `[####    ] done/total what`.
fn draw_bar(done: u64, total: u64, what: &str) {
    let pct = (done * 100).checked_div(total).unwrap_or(100);
    eprint!(
        "\r\x1b[K[{:<40}] {done}/{total} {what}",
        "#".repeat((pct.min(100) * 40 / 100) as usize),
    );
}

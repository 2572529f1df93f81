//! The `dialtone` binary's library half: layered configuration and the wiring that turns it into
//! running listeners (`App::build`), so tests start the real server the way `serve` does.
#![forbid(unsafe_code)]

pub mod cli;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod descriptors;
pub mod key_rotation;

use anyhow::Context;
pub use config::Config;
use service::Service;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// mimalloc instead of the system's malloc, for every program linking this crate (the server,
/// the benchmarks, the tests): the render path makes many small, short-lived strings, and
/// glibc's malloc spent a third of a full scan's time in its own bookkeeping
/// (`malloc_consolidate`, `_int_malloc`, `unlink_chunk`; BENCHMARKS.md). Built without
/// transparent huge pages (the workspace's `no_thp` feature): faulting in and zeroing 2 MB pages
/// took a fifth of a full scan as the render cache grew ("Phone files from the store").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Opens the store named by the configuration, brings its schema up to date and does the
/// first-start set-up (a call-control system, the `admin` administrator).
/// Returns the service and, when `admin` was just created with a generated password, that
/// password (to print once).
pub async fn open_service(cfg: &Config) -> anyhow::Result<(Service, Option<String>)> {
    let store = store::Store::open_with(&cfg.database.url, cfg.database.sqlite_memory())
        .await
        .context("opening the database")?;
    // Shared with every other server and command on this database; a key rotation waits for
    // none of them and is refused while any runs.
    let lock = store.key_lock(false).await?;
    let key = key_rotation::settle(cfg, &store).await?;
    let mut service = Service::new(store, key)
        .with_key_lock(lock)
        .with_firmware_folder(cfg.firmware_folder())
        .with_kept_dry_runs(cfg.import.keep_dry_runs_mb << 20);
    if let Some(key) = &cfg.licensing.public_key {
        service = service.with_licence_key(
            service::LicenceKey::parse(key)
                .map_err(|e| anyhow::anyhow!("[licensing] public_key: {e}"))?,
        );
    }
    service.bootstrap().await.context("first-start set-up")?;
    let password = cfg.admin_password()?;
    let generated = service
        .ensure_admin(password.as_deref())
        .await
        .context("creating the first administrator")?;
    Ok((service, generated))
}

/// A running Dialtone: its listeners' addresses and a handle to stop it.
pub struct App {
    /// The admin listener: plain HTTP when on, else HTTPS.
    pub admin_addr: SocketAddr,
    /// The admin HTTPS listener, when on.
    pub admin_https_addr: Option<SocketAddr>,
    /// The phone HTTP listener, when on.
    pub http_addr: Option<SocketAddr>,
    /// The phone HTTPS listener, when on.
    pub https_addr: Option<SocketAddr>,
    /// The TFTP listener, when on.
    pub tftp_addr: Option<SocketAddr>,
    /// The socket resync NOTIFYs are sent from, when on.
    pub sip_addr: Option<SocketAddr>,
    /// The syslog receiver, when on.
    pub syslog_addr: Option<SocketAddr>,
    /// The resync engine, when SIP is on.
    pub resync: Option<std::sync::Arc<provision::resync::Resync>>,
    /// What the syslog receiver got.
    pub reports: std::sync::Arc<provision::reports::Reports>,
    pub service: Service,
    /// The password generated for `admin` at first start, if this start generated one.
    pub generated_admin_password: Option<String>,
    stop: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

/// Binds `addr` for `what`, or nothing when it is empty; `choose` says where another is set.
async fn bind(addr: &str, what: &str, choose: &str) -> anyhow::Result<Option<TcpListener>> {
    if addr.trim().is_empty() {
        return Ok(None);
    }
    let l = TcpListener::bind(addr.trim())
        .await
        .with_context(|| format!("binding {what} on {addr} ({choose} chooses another)"))?;
    Ok(Some(l))
}

/// Serves `router` on `listener` within `limits` (`web::listener`), over HTTPS with `tls`, until
/// stopped.
fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: web::listener::Limits,
    tls: Option<std::sync::Arc<web::tls::ServerConfig>>,
    name: &'static str,
    metrics: std::sync::Arc<provision::metrics::Metrics>,
) -> (oneshot::Sender<()>, JoinHandle<std::io::Result<()>>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(web::listener::serve(
        listener,
        router,
        limits,
        tls,
        name,
        metrics,
        async {
            let _ = stopped.await;
        },
    ));
    (stop, task)
}

/// Counts TFTP requests refused at a cap, and logs them at most once every ten seconds.
fn tftp_refusals(
    metrics: std::sync::Arc<provision::metrics::Metrics>,
) -> std::sync::Arc<dyn Fn(std::net::IpAddr, &'static str) + Send + Sync> {
    let last = std::sync::Mutex::new((None::<std::time::Instant>, 0u64));
    std::sync::Arc::new(move |ip, cap| {
        metrics.refused("tftp", cap);
        let mut l = last.lock().expect("tftp refusals");
        l.1 += 1;
        if l.0
            .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(10))
        {
            return;
        }
        let what = if cap == "total" {
            "transfers under way in all"
        } else {
            "transfers under way to one address"
        };
        tracing::warn!(source = %ip, refused = l.1, "refusing TFTP requests: too many {what} (the last from {ip}); {} refused since the last such line", l.1);
        *l = (Some(std::time::Instant::now()), 0);
    })
}

/// Phone files for the TFTP server, from the provisioner.
struct TftpSource {
    provisioner: std::sync::Arc<provision::Provisioner>,
    base_url: String,
}

impl tftp::FileSource for TftpSource {
    async fn read(&self, name: &str, peer: SocketAddr) -> Result<bytes::Bytes, tftp::ReadError> {
        use provision::metrics::{Outcome, Protocol};
        use tracing::Instrument;
        let id = provision::new_request_id();
        let span = tracing::info_span!("phone_request", request_id = %id, protocol = "tftp");
        let r = provision::REQUEST_ID
            .scope(id, self.answer(name, peer).instrument(span))
            .await;
        let outcome = match &r {
            Ok(_) => Outcome::Ok,
            Err(tftp::ReadError::Denied(_)) => Outcome::Unauthorized,
            Err(tftp::ReadError::NotFound) => Outcome::NotFound,
            Err(tftp::ReadError::Throttled(_)) => Outcome::Throttled,
            Err(tftp::ReadError::Busy(_)) => Outcome::Shed,
            Err(_) => Outcome::Error,
        };
        self.provisioner.metrics().request(Protocol::Tftp, outcome);
        r
    }
}

impl TftpSource {
    /// A phone's request for `name` over TFTP.
    async fn answer(&self, name: &str, peer: SocketAddr) -> Result<bytes::Bytes, tftp::ReadError> {
        match self
            .provisioner
            .fetch_from(name, None, &self.base_url, peer.ip())
            .await
        {
            Ok(provision::Answer::File {
                bytes,
                device_id,
                access,
                device,
                sealing,
                ..
            }) => {
                if matches!(sealing, provision::Sealing::Required(_)) {
                    tracing::warn!(
                        name,
                        %peer,
                        device = device.as_deref().unwrap_or("-"),
                        "tftp: refused, this phone's profile is encrypted (profile_encryption required): its clear file is served over HTTPS only"
                    );
                    return Err(tftp::ReadError::Denied(
                        "this phone's profile is encrypted: fetch <mac>.cfg".into(),
                    ));
                }
                if !matches!(access, provision::Access::Anyone) {
                    tracing::warn!(
                        name,
                        %peer,
                        device = device.as_deref().unwrap_or("-"),
                        "tftp: refused, the file needs the phone's HTTP credentials"
                    );
                    return Err(tftp::ReadError::Denied(
                        "this file needs the phone's credentials: fetch it over HTTP".into(),
                    ));
                }
                if let Some(id) = device_id {
                    self.provisioner.guard().served(name, peer.ip());
                    self.provisioner
                        .seen(id, &peer.ip().to_string(), "", name, "tftp");
                }
                Ok(bytes)
            }
            Ok(provision::Answer::Firmware { path, name }) => {
                let bytes = self.provisioner.firmware_bytes(&path).await.map_err(|e| {
                    tracing::error!(name, error = %e, "tftp: could not read a firmware file");
                    tftp::ReadError::Internal(format!("reading {name}: {e}"))
                })?;
                self.provisioner
                    .firmware_fetched(&name, &peer.ip().to_string());
                Ok(bytes)
            }
            Ok(provision::Answer::Throttled(w)) => {
                tracing::debug!(name, %peer, "tftp: refused, waiting after too many unknown devices");
                Err(tftp::ReadError::Throttled(format!(
                    "too many requests for devices not in the directory from your address: try again in {} s",
                    service::throttle::secs(w)
                )))
            }
            Ok(provision::Answer::Busy(w)) => {
                tracing::debug!(name, %peer, "tftp: turned away, files wait too long to be rendered");
                Err(tftp::ReadError::Busy(format!(
                    "the server is busy: try again in {} s",
                    service::throttle::secs(w)
                )))
            }
            Ok(provision::Answer::NotFound(why)) => {
                tracing::debug!(name, %why, "tftp: not found");
                Err(tftp::ReadError::NotFound)
            }
            Err(e) => Err(tftp::ReadError::Internal(e.to_string())),
        }
    }
}

/// The renderer: the built-in templates, with the operator's over them when configured.
pub fn renderer(cfg: &Config) -> render::Renderer {
    match &cfg.templates {
        None => render::Renderer::builtin(),
        Some(dir) => {
            let (r, problems) = render::Renderer::with_overrides(std::path::Path::new(dir));
            for p in problems {
                tracing::error!(%p, "operator template refused; the built-in one serves");
            }
            for t in r.overridden() {
                tracing::info!(template = t, "operator template in use");
            }
            r
        }
    }
}

impl App {
    /// Opens the store and binds every listener (port 0 is fine: the bound address is reported).
    pub async fn build(cfg: &Config) -> anyhow::Result<App> {
        let mut fitted = cfg.clone();
        if let Some(limit) = descriptors::raise_limit() {
            if descriptors::fit(&mut fitted, limit) {
                tracing::warn!(
                    limit,
                    http = fitted.http.max_connections,
                    admin = fitted.admin.max_connections,
                    tftp = fitted.tftp.max_transfers,
                    "the descriptor limit (ulimit -n) is low: connection caps lowered to fit it"
                );
            }
        }
        let cfg = &fitted;
        let (service, generated) = open_service(cfg).await?;
        let service = service.with_node(&cfg.node_name());
        // On PostgreSQL, other nodes' commits are heard as they happen.
        let follow = service.follow_commits();
        let tls = if cfg.wants_tls() {
            Some(cfg.tls().context("the HTTPS certificate ([tls])")?)
        } else {
            None
        };
        let admin_plain = bind(
            &cfg.admin.listen,
            "the admin listener",
            "--admin or [admin] listen",
        )
        .await?;
        let admin_tls = bind(
            &cfg.admin.https_listen,
            "the admin HTTPS listener",
            "--https or [admin] https_listen",
        )
        .await?;
        let admin_addr = match (&admin_plain, &admin_tls) {
            (Some(l), _) | (None, Some(l)) => l.local_addr()?,
            (None, None) => anyhow::bail!(
                "the admin listener is off over both HTTP and HTTPS: set [admin] listen or https_listen"
            ),
        };
        let admin_https_addr = admin_tls.as_ref().map(|l| l.local_addr()).transpose()?;
        let provisioner = std::sync::Arc::new(provision::Provisioner::with_cache(
            service.clone(),
            std::sync::Arc::new(renderer(cfg)),
            cfg.http.cache_mb.max(1) << 20,
        ));
        provisioner.set_shed_after(std::time::Duration::from_millis(cfg.http.shed_after_ms));
        let mut stops = Vec::new();
        let mut tasks = Vec::new();
        let mut http_addr = None;
        // Bound now, served once the resync engine exists (the phone's self-provisioning
        // service asks it for a NOTIFY).
        let phone_listener = bind(
            &cfg.http.listen,
            "the phone HTTP listener",
            "--http or [http] listen",
        )
        .await?;
        if let Some(l) = &phone_listener {
            let addr = l.local_addr()?;
            http_addr = Some(addr);
            provisioner.set_http_port(addr.port());
        }
        let phone_tls = bind(
            &cfg.http.https_listen,
            "the phone HTTPS listener",
            "--phone-https or [http] https_listen",
        )
        .await?;
        let https_addr = phone_tls.as_ref().map(|l| l.local_addr()).transpose()?;
        let mut tftp_addr = None;
        if !cfg.tftp.listen.trim().is_empty() {
            let unbound = std::sync::Arc::new(TftpSource {
                provisioner: provisioner.clone(),
                base_url: String::new(),
            });
            let mut tftp_config = cfg.tftp.server_config();
            tftp_config.on_refused = Some(tftp_refusals(provisioner.metrics().clone()));
            let server = tftp::TftpServer::bind(&cfg.tftp.listen, unbound, tftp_config)
                .await
                .with_context(|| {
                    format!(
                        "binding the TFTP listener on {} (--tftp or [tftp] listen chooses another)",
                        cfg.tftp.listen
                    )
                })?;
            let addr = server.local_addr()?;
            tftp_addr = Some(addr);
            // MPP phones that first reach us by TFTP are sent on to their own file by TFTP.
            let source = std::sync::Arc::new(TftpSource {
                provisioner: provisioner.clone(),
                base_url: format!("tftp://{addr}"),
            });
            let server = server.with_source(source);
            let (stop, stopped) = oneshot::channel::<()>();
            tasks.push(tokio::spawn(async move {
                server
                    .serve(async {
                        let _ = stopped.await;
                    })
                    .await;
                Ok(())
            }));
            stops.push(stop);
            tracing::info!(%addr, "TFTP listener");
        }
        let reports = std::sync::Arc::new(provision::reports::Reports::new(
            service.clone(),
            provisioner.metrics().clone(),
        ));
        let mut syslog_addr = None;
        if !cfg.syslog.listen.trim().is_empty() {
            let sock = tokio::net::UdpSocket::bind(&cfg.syslog.listen)
                .await
                .with_context(|| format!("binding the syslog receiver on {} (--syslog or [syslog] listen chooses another)", cfg.syslog.listen))?;
            let addr = sock.local_addr()?;
            syslog_addr = Some(addr);
            // The socket is drained by a loop that only copies datagrams into a queue, so a burst
            // (thousands of phones logging at once after a power cut) does not overflow the
            // kernel's buffer while datagrams are matched and attributed.
            let (queue, mut queued) =
                tokio::sync::mpsc::channel::<(Vec<u8>, std::net::IpAddr)>(65_536);
            let r = reports.clone();
            tasks.push(tokio::spawn(async move {
                while let Some((d, from)) = queued.recv().await {
                    if let Err(e) = r.handle(&d, from).await {
                        tracing::warn!(error = %e, "syslog: could not handle a datagram");
                    }
                }
                Ok(())
            }));
            let r = reports.clone();
            let (stop, mut stopped) = oneshot::channel::<()>();
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 9000];
                loop {
                    let (n, from) = tokio::select! {
                        got = sock.recv_from(&mut buf) => match got {
                            Ok(x) => x,
                            Err(e) => {
                                tracing::debug!(error = %e, "syslog: receive error");
                                continue;
                            }
                        },
                        _ = &mut stopped => return Ok(()),
                    };
                    if queue.try_send((buf[..n].to_vec(), from.ip())).is_err() {
                        r.dropped();
                    }
                }
            }));
            stops.push(stop);
            tracing::info!(%addr, "syslog receiver");
        }
        let phone_base_url = http_addr.map(|a| format!("http://{a}")).unwrap_or_default();
        let mut sip_addr = None;
        let mut resync = None;
        if !cfg.sip.listen.trim().is_empty() {
            let listen: SocketAddr = tokio::net::lookup_host(cfg.sip.listen.trim())
                .await
                .ok()
                .and_then(|mut a| a.next())
                .with_context(|| {
                    format!("the SIP address `{}` is not host:port", cfg.sip.listen)
                })?;
            let timers = sip::Timers {
                t1: std::time::Duration::from_millis(cfg.sip.t1_ms.max(1)),
                t2: std::time::Duration::from_millis(cfg.sip.t2_ms.max(cfg.sip.t1_ms).max(1)),
            };
            let notifier = std::sync::Arc::new(
                sip::Notifier::bind(listen, timers)
                    .await
                    .with_context(|| format!("binding the SIP socket on {listen} (--sip or [sip] listen chooses another)"))?,
            );
            sip_addr = Some(notifier.local_addr());
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let (engine, handles) = provision::resync::Resync::start(
                provisioner.clone(),
                notifier.clone(),
                provision::resync::Settings {
                    phone_port: cfg.sip.phone_port,
                    rate: cfg.sip.rate.max(1),
                    debounce: std::time::Duration::from_millis(cfg.sip.debounce_ms),
                    base_url: phone_base_url.clone(),
                },
                stop_rx,
            );
            // The self-provisioning IVR answers calls on the same socket; a phone a call
            // claimed is told to resync at once.
            let told = engine.clone();
            let ivr = ivr::start(
                notifier.clone(),
                service.clone(),
                std::sync::Arc::new(move |id| {
                    let r = told.clone();
                    tokio::spawn(async move {
                        if let Err(e) = r.request(&[id]).await {
                            tracing::warn!(error = %e, "the NOTIFY after an IVR claim");
                        }
                    });
                }),
                ivr::Settings::default(),
            );
            let (stop, stopped) = oneshot::channel::<()>();
            tasks.push(tokio::spawn(async move {
                let _ = stopped.await;
                let _ = stop_tx.send(true);
                ivr.abort();
                for h in handles {
                    let _ = h.await;
                }
                Ok(())
            }));
            stops.push(stop);
            tracing::info!(addr = ?sip_addr, rate = cfg.sip.rate, "resync by SIP NOTIFY");
            resync = Some(engine);
        }
        let phone_router = web::phone_router(provisioner.clone(), resync.clone());
        for (l, secure) in [(phone_listener, None), (phone_tls, tls.as_ref())] {
            let Some(l) = l else { continue };
            let addr = l.local_addr()?;
            let (s, t) = serve(
                l,
                phone_router.clone(),
                cfg.http.limits(),
                secure.map(|t| t.config.clone()),
                if secure.is_some() {
                    "phone_https"
                } else {
                    "phone_http"
                },
                provisioner.metrics().clone(),
            );
            stops.push(s);
            tasks.push(t);
            if secure.is_some() {
                tracing::info!(%addr, "phone HTTPS listener");
            } else {
                tracing::info!(%addr, "phone HTTP listener");
            }
        }
        {
            // Device status goes to the store in batches, twice a second, and once more at stop.
            let p = provisioner.clone();
            let r = reports.clone();
            let (stop, mut stopped) = oneshot::channel::<()>();
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
                let mut ticks: u64 = 0;
                loop {
                    let last = tokio::select! {
                        _ = tick.tick() => false,
                        _ = &mut stopped => true,
                    };
                    if let Err(e) = p.flush_status().await {
                        tracing::warn!(error = %e, "could not record device status");
                    }
                    if let Err(e) = r.flush().await {
                        tracing::warn!(error = %e, "could not record resync reports");
                    }
                    // Every ten minutes, the change journal loses what is over an hour old: a
                    // node further behind than that looks at every phone instead.
                    ticks += 1;
                    if ticks == 600 || ticks == 1_200 {
                        let (files, bytes) = p.cached();
                        tracing::debug!(files, mb = bytes >> 20, "render cache");
                    }
                    if ticks == 1_200 && p.service().is_scheduler() {
                        match p
                            .service()
                            .prune_changes(std::time::Duration::from_secs(3_600))
                            .await
                        {
                            Ok(n) if n > 0 => tracing::debug!(n, "change journal pruned"),
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "could not prune the change journal")
                            }
                        }
                    }
                    if ticks == 1_200 {
                        ticks = 0;
                    }
                    if last {
                        return Ok(());
                    }
                }
            }));
            stops.push(stop);
        }
        {
            // Scheduled LDAP syncs: each profile with an interval, checked once a minute.
            let svc = service.clone();
            let (stop, mut stopped) = oneshot::channel::<()>();
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
                let actor = service::Actor::new("scheduled LDAP sync");
                tokio::select! {
                    _ = svc.until_heard() => {}
                    _ = &mut stopped => return Ok(()),
                }
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = &mut stopped => return Ok(()),
                    }
                    if !svc.is_scheduler() {
                        continue;
                    }
                    if let Err(e) = svc.run_due_ldap_syncs(&actor).await {
                        tracing::warn!(error = %e, "could not run the scheduled LDAP syncs");
                    }
                }
            }));
            stops.push(stop);
        }
        {
            // Passwords and PINs an import left sealed get their argon2 hash, on every CPU
            // (docs/csv.md): looked for every 2 s, hashed batch after batch while any wait.
            let svc = service.clone();
            let (stop, mut stopped) = oneshot::channel::<()>();
            tasks.push(tokio::spawn(async move {
                let mut hashed = 0usize;
                let mut started = std::time::Instant::now();
                loop {
                    match svc.hash_sealed_secrets(service::HASH_BATCH).await {
                        Ok(0) => {
                            if hashed > 0 {
                                tracing::info!(
                                    hashed,
                                    seconds = started.elapsed().as_secs_f64(),
                                    "every sealed secret is hashed"
                                );
                                hashed = 0;
                            }
                            tokio::select! {
                                _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
                                _ = &mut stopped => return Ok(()),
                            }
                            started = std::time::Instant::now();
                        }
                        Ok(n) => hashed += n,
                        Err(e) => {
                            tracing::warn!(error = %e, "could not hash the sealed secrets");
                            tokio::select! {
                                _ = tokio::time::sleep(std::time::Duration::from_secs(10)) => {}
                                _ = &mut stopped => return Ok(()),
                            }
                        }
                    }
                    if matches!(
                        stopped.try_recv(),
                        Ok(()) | Err(oneshot::error::TryRecvError::Closed)
                    ) {
                        return Ok(());
                    }
                }
            }));
            stops.push(stop);
        }
        {
            // Extension mobility: logins past the system's maximum login time end (the
            // phone loads its logout profile and is told to resync), checked every 15 s.
            let svc = service.clone();
            let (stop, mut stopped) = oneshot::channel::<()>();
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
                tokio::select! {
                    _ = svc.until_heard() => {}
                    _ = &mut stopped => return Ok(()),
                }
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = &mut stopped => return Ok(()),
                    }
                    if !svc.is_scheduler() {
                        continue;
                    }
                    match svc.end_expired_logins().await {
                        Ok(ended) => {
                            for l in ended {
                                tracing::info!(phone = %l.phone, user = %l.user_id, "login time ran out: logged out");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "could not end the expired logins"),
                    }
                }
            }));
            stops.push(stop);
        }
        {
            let addresses = model::cluster::NodeAddresses {
                admin: admin_plain
                    .as_ref()
                    .and_then(|l| l.local_addr().ok())
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                admin_https: admin_https_addr.map(|a| a.to_string()).unwrap_or_default(),
                http: http_addr.map(|a| a.to_string()).unwrap_or_default(),
                https: https_addr.map(|a| a.to_string()).unwrap_or_default(),
                tftp: tftp_addr.map(|a| a.to_string()).unwrap_or_default(),
                sip: sip_addr.map(|a| a.to_string()).unwrap_or_default(),
                syslog: syslog_addr.map(|a| a.to_string()).unwrap_or_default(),
            };
            let host = cluster::tftp_host(&cfg.cluster.tftp_host, tftp_addr);
            let (stop, task) = cluster::start(
                &service,
                provisioner.clone(),
                resync.clone(),
                &addresses,
                &host,
            )
            .await?;
            stops.push(stop);
            tasks.push(task);
        }
        if let Some(f) = follow {
            let (stop, stopped) = oneshot::channel::<()>();
            tasks.push(tokio::spawn(async move {
                let _ = stopped.await;
                f.abort();
                Ok(())
            }));
            stops.push(stop);
        }
        let metrics = provisioner.metrics().clone();
        let router = web::router(web::AppState {
            service: service.clone(),
            provisioner,
            phone_base_url,
            tftp_base_url: tftp_addr.map(|a| format!("tftp://{a}")),
            resync: resync.clone(),
            reports: reports.clone(),
        });
        if let Some(l) = admin_tls {
            let (s, t) = serve(
                l,
                router.clone(),
                cfg.admin.limits(),
                tls.as_ref().map(|t| t.config.clone()),
                "admin_https",
                metrics.clone(),
            );
            stops.push(s);
            tasks.push(t);
            tracing::info!(https_addr = %admin_https_addr.expect("bound"), "admin API listening over HTTPS");
        }
        if let Some(l) = admin_plain {
            let (s, t) = serve(l, router, cfg.admin.limits(), None, "admin", metrics);
            stops.push(s);
            tasks.push(t);
            tracing::info!(%admin_addr, "admin API listening");
        }
        Ok(App {
            admin_addr,
            admin_https_addr,
            http_addr,
            https_addr,
            tftp_addr,
            sip_addr,
            syslog_addr,
            resync,
            reports,
            service,
            generated_admin_password: generated,
            stop: stops,
            tasks,
        })
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes the requests under way.
    pub async fn run_until_signal(mut self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await
    }

    pub async fn stop(&mut self) -> anyhow::Result<()> {
        for s in self.stop.drain(..) {
            let _ = s.send(());
        }
        for t in self.tasks.drain(..) {
            t.await.context("server task")?.context("server")?;
        }
        self.service.close().await;
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

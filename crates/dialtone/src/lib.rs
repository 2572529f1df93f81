//! The `dialtone` binary's library half: layered configuration and the wiring that turns it into
//! running listeners (`App::build`), so tests start the real server the way `serve` does.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod demo;

use anyhow::Context;
pub use config::Config;
use service::Service;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Opens the store named by the configuration, brings its schema up to date and does the
/// first-start set-up (a call-control system, the `admin` administrator).
/// Returns the service and, when `admin` was just created with a generated password, that
/// password (to print once).
pub async fn open_service(cfg: &Config) -> anyhow::Result<(Service, Option<String>)> {
    let store = store::Store::open(&cfg.database.url)
        .await
        .context("opening the database")?;
    let service = Service::new(store, cfg.secret_key()?);
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
    pub admin_addr: SocketAddr,
    /// The phone HTTP listener, when on.
    pub http_addr: Option<SocketAddr>,
    /// The TFTP listener, when on.
    pub tftp_addr: Option<SocketAddr>,
    pub service: Service,
    /// The password generated for `admin` at first start, if this start generated one.
    pub generated_admin_password: Option<String>,
    stop: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

fn serve(
    listener: TcpListener,
    router: axum::Router,
) -> (oneshot::Sender<()>, JoinHandle<std::io::Result<()>>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .await
    });
    (stop, task)
}

/// Phone files for the TFTP server, from the provisioner.
struct TftpSource {
    provisioner: std::sync::Arc<provision::Provisioner>,
    base_url: String,
}

impl tftp::FileSource for TftpSource {
    async fn read(&self, name: &str, peer: SocketAddr) -> Result<bytes::Bytes, tftp::ReadError> {
        match self.provisioner.fetch(name, None, &self.base_url).await {
            Ok(provision::Answer::File {
                bytes,
                device_id,
                access,
                device,
                ..
            }) => {
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
                    self.provisioner
                        .seen(id, &peer.ip().to_string(), "", name, "tftp");
                }
                Ok(bytes)
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
        let (service, generated) = open_service(cfg).await?;
        let listener = TcpListener::bind(&cfg.admin.listen)
            .await
            .with_context(|| format!("binding the admin listener on {}", cfg.admin.listen))?;
        let admin_addr = listener.local_addr()?;
        let provisioner = std::sync::Arc::new(provision::Provisioner::new(
            service.clone(),
            std::sync::Arc::new(renderer(cfg)),
        ));
        let mut stops = Vec::new();
        let mut tasks = Vec::new();
        let mut http_addr = None;
        if !cfg.http.listen.trim().is_empty() {
            let l = TcpListener::bind(&cfg.http.listen).await.with_context(|| {
                format!("binding the phone HTTP listener on {}", cfg.http.listen)
            })?;
            let addr = l.local_addr()?;
            http_addr = Some(addr);
            let (s, t) = serve(l, web::phone_router(provisioner.clone()));
            stops.push(s);
            tasks.push(t);
            tracing::info!(%addr, "phone HTTP listener");
        }
        let mut tftp_addr = None;
        if !cfg.tftp.listen.trim().is_empty() {
            let unbound = std::sync::Arc::new(TftpSource {
                provisioner: provisioner.clone(),
                base_url: String::new(),
            });
            let server = tftp::TftpServer::bind(&cfg.tftp.listen, unbound, tftp::Config::default())
                .await
                .with_context(|| format!("binding the TFTP listener on {}", cfg.tftp.listen))?;
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
        {
            // Device status goes to the store in batches, twice a second, and once more at stop.
            let p = provisioner.clone();
            let (stop, mut stopped) = oneshot::channel::<()>();
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
                loop {
                    let last = tokio::select! {
                        _ = tick.tick() => false,
                        _ = &mut stopped => true,
                    };
                    if let Err(e) = p.flush_status().await {
                        tracing::warn!(error = %e, "could not record device status");
                    }
                    if last {
                        return Ok(());
                    }
                }
            }));
            stops.push(stop);
        }
        let phone_base_url = http_addr.map(|a| format!("http://{a}")).unwrap_or_default();
        let router = web::router(web::AppState {
            service: service.clone(),
            provisioner,
            phone_base_url,
        });
        let (s, t) = serve(listener, router);
        stops.push(s);
        tasks.push(t);
        tracing::info!(%admin_addr, "admin API listening");
        Ok(App {
            admin_addr,
            http_addr,
            tftp_addr,
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
        self.service.store().close().await;
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
